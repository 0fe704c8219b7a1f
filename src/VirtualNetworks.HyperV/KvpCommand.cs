using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using VirtualNetworks.Backends;

namespace VirtualNetworks.HyperV
{
    /// <summary>
    /// Guest commands over KVP (docs/hyperv-backend.md §4, "Commands"): the host adds <c>vn.probe.&lt;id&gt;</c> =
    /// <c>&lt;command&gt; [args...]</c> to pool 0; the guest agent runs it exactly as its command channel would
    /// (images/router/init <c>dispatch</c>: same validation, same time limit) and answers in pool 1 under the same key:
    /// <c>code &lt;exit code&gt;</c>, a line break and the command's output, or, when that does not fit in one value,
    /// <c>code &lt;exit code&gt; parts &lt;n&gt;</c> and the output in <c>vn.probe.&lt;id&gt;-0</c> .. <c>-&lt;n-1&gt;</c>
    /// (at most <see cref="ValueBudget"/> characters each). Commands: <c>probe</c>, <c>routes</c>, <c>routing</c>
    /// (guest contract §3); <c>ping</c> keeps its own one-line answer (<see cref="KvpConfig.ParseProbeAnswer"/>).
    /// </summary>
    public static class KvpCommand
    {
        /// <summary>
        /// Characters of one KVP value we use at most, in either direction: <c>Msvm_KvpExchangeDataItem.Data</c> has MAXLEN
        /// 1024 (fact sheet pitfall 16), and a guest value crosses the VMBus as UTF-16 in a 2048-byte field with its NUL
        /// (hv_kvp: at most 1022 units), so 1000 leaves a margin, as the configuration chunks do.
        /// </summary>
        public const int ValueBudget = 1000;
        /// <summary>Addresses per <c>probe</c> request at most (guest contract: 1-64).</summary>
        public const int MaxProbeAddresses = 64;
        /// <summary>Pings the guest runs at once for one <c>probe</c> request (guest contract: 16).</summary>
        public const int GuestProbeParallel = 16;
        /// <summary>Echo requests per address and the deadline (s) of a batched probe: the same as a single probe's ping.</summary>
        public const int ProbeCount = 1;
        public const int ProbeDeadlineSeconds = 2;
        /// <summary>Characters of the longest round-trip time a guest prints within the deadline ("29999.999").</summary>
        private const int RttWidth = 9;
        /// <summary>Parts of a multi-part answer at most (64 kB: a routing table of hundreds of routes).</summary>
        public const int MaxParts = 64;

        /// <summary>
        /// Splits <paramref name="addresses"/> (in order) into <c>probe</c> requests that fit: the request and the longest
        /// answer it can get (<c>code 1</c> and one <c>&lt;addr&gt; ok &lt;ms&gt;</c> line per address) each within
        /// <see cref="ValueBudget"/> characters, and at most <see cref="MaxProbeAddresses"/> addresses. Returns the request
        /// texts with the index of their first address and their address count.
        /// </summary>
        public static List<(string Request, int First, int Count)> ProbeRequests(IReadOnlyList<string> addresses, int count = ProbeCount, int deadlineSeconds = ProbeDeadlineSeconds)
        {
            var head = string.Format(CultureInfo.InvariantCulture, "probe {0} {1}", count, deadlineSeconds);
            var result = new List<(string, int, int)>();
            int i = 0;
            while (i < addresses.Count)
            {
                var sb = new StringBuilder(head);
                int answer = "code 1\n".Length, first = i, n = 0;
                while (i < addresses.Count && n < MaxProbeAddresses)
                {
                    var a = addresses[i];
                    int line = a.Length + " ok ".Length + RttWidth + 1;
                    if (n > 0 && (sb.Length + 1 + a.Length > ValueBudget || answer + line > ValueBudget)) break;
                    sb.Append(' ').Append(a);
                    answer += line;
                    n++;
                    i++;
                }
                result.Add((sb.ToString(), first, n));
            }
            return result;
        }

        /// <summary>The upper bound the guest puts on a <c>probe</c> of <paramref name="addresses"/> (guest contract §3).</summary>
        public static TimeSpan ProbeGuestBound(int addresses, int deadlineSeconds = ProbeDeadlineSeconds) =>
            TimeSpan.FromSeconds((addresses + GuestProbeParallel - 1) / GuestProbeParallel * (deadlineSeconds + 1) + 5);

        /// <summary>What a guest answered to one request.</summary>
        public sealed class Answer
        {
            public int Code;
            public string Output = "";
            /// <summary>The first line when it had more than <c>code &lt;n&gt;</c> (an agent older than KVP commands), else null.</summary>
            public string? Legacy;
            /// <summary>The lines of <see cref="Output"/> (CR stripped, no empty last line).</summary>
            public IReadOnlyList<string> Lines => Output.Replace("\r", "").Split('\n').ToList().TrimEnd();
        }

        /// <summary>
        /// The answer to <paramref name="key"/> among the guest items, when it is complete: <c>null</c> while it (or one of its
        /// parts) is missing. Throws <see cref="FormatException"/> when the answer is not of the documented shape.
        /// </summary>
        public static Answer? TryAnswer(IReadOnlyDictionary<string, string> guestItems, string key)
        {
            if (!guestItems.TryGetValue(key, out var data)) return null;
            data ??= "";
            int nl = data.IndexOf('\n');
            string first = (nl < 0 ? data : data.Substring(0, nl)).TrimEnd('\r');
            var w = first.Split(new[] { ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries);
            if (w.Length < 2 || w[0] != "code" || !int.TryParse(w[1], NumberStyles.None, CultureInfo.InvariantCulture, out int code) || code > 255)
                throw new FormatException($"the answer does not start with 'code <exit code>': '{Shorten(first)}'");
            if (w.Length == 4 && w[2] == "parts")
            {
                if (nl >= 0 && data.Substring(nl + 1).Trim().Length > 0) throw new FormatException("a multi-part answer has text after its first line");
                if (!int.TryParse(w[3], NumberStyles.None, CultureInfo.InvariantCulture, out int parts) || parts < 1 || parts > MaxParts)
                    throw new FormatException($"'{Shorten(first)}': the number of parts is not 1..{MaxParts}");
                var sb = new StringBuilder();
                for (int p = 0; p < parts; p++)
                {
                    if (!guestItems.TryGetValue(key + "-" + p.ToString(CultureInfo.InvariantCulture), out var part)) return null;
                    sb.Append(part);
                }
                return new Answer { Code = code, Output = sb.ToString() };
            }
            if (w.Length != 2)
                return new Answer { Code = code, Output = data.Substring(first.Length).TrimStart('\r', '\n'), Legacy = first };
            return new Answer { Code = code, Output = nl < 0 ? "" : data.Substring(nl + 1) };
        }

        /// <summary>
        /// True when the answer says the guest does not know the command: code 127 (the agent's dispatch), or the reply of an
        /// agent older than batched probes, which answered every request but <c>ping</c> with <c>code 2 error bad probe request</c>.
        /// </summary>
        public static bool IsUnknownCommand(Answer a) =>
            a.Code == 127 || (a.Code == 2 && a.Legacy != null && a.Legacy.StartsWith("code 2 error bad probe request", StringComparison.Ordinal));

        /// <summary>
        /// Parses the output of a <c>probe</c> request for <paramref name="addresses"/>: exactly one line per address, in
        /// order, <c>&lt;addr&gt; ok &lt;ms&gt;</c> or <c>&lt;addr&gt; lost</c>. Throws <see cref="FormatException"/> otherwise.
        /// </summary>
        public static List<ProbeResult> ParseProbeLines(IReadOnlyList<string> addresses, string output, int count = ProbeCount, int deadlineSeconds = ProbeDeadlineSeconds)
        {
            var lines = output.Replace("\r", "").Split('\n').Where(l => l.Trim().Length > 0).ToList();
            if (lines.Count != addresses.Count)
                throw new FormatException($"{lines.Count} answer line(s) for {addresses.Count} address(es)");
            var results = new List<ProbeResult>(lines.Count);
            for (int i = 0; i < lines.Count; i++)
            {
                var w = lines[i].Split(new[] { ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries);
                if (w.Length < 2 || !string.Equals(w[0], addresses[i], StringComparison.OrdinalIgnoreCase))
                    throw new FormatException($"line {i + 1} '{Shorten(lines[i])}' does not answer for {addresses[i]}");
                if (w.Length == 2 && w[1] == "lost")
                    results.Add(new ProbeResult
                    {
                        Reachable = false,
                        Detail = string.Format(CultureInfo.InvariantCulture, "no reply to {0} echo request(s) within {1} s", count, deadlineSeconds),
                    });
                else if (w.Length == 3 && w[1] == "ok" && double.TryParse(w[2], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var rtt))
                    results.Add(new ProbeResult { Reachable = true, RoundTripMilliseconds = rtt, Detail = lines[i].Trim() });
                else
                    throw new FormatException($"line {i + 1} '{Shorten(lines[i])}' is neither '<addr> ok <ms>' nor '<addr> lost'");
            }
            return results;
        }

        internal static string Shorten(string s) => s.Length <= 80 ? s : s.Substring(0, 77) + "...";
    }

    internal static class KvpCommandExtensions
    {
        public static List<string> TrimEnd(this List<string> lines)
        {
            while (lines.Count > 0 && lines[lines.Count - 1].Length == 0) lines.RemoveAt(lines.Count - 1);
            return lines;
        }
    }
}
