using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;
using VirtualNetworks.Backends;

namespace VirtualNetworks.Linux.Vm
{
    /// <summary>What one command on the guest channel answered.</summary>
    public sealed class GuestCommandResult
    {
        public GuestCommandResult(string command, int exitCode, IReadOnlyList<string> lines)
        {
            Command = command;
            ExitCode = exitCode;
            Lines = lines;
        }

        public string Command { get; }
        /// <summary>0 success; 2 bad arguments; 124 timed out in the guest; 127 unknown command; others per command.</summary>
        public int ExitCode { get; }
        /// <summary>The output lines between BEGIN and END.</summary>
        public IReadOnlyList<string> Lines { get; }
        public bool Succeeded => ExitCode == 0;
        public string Output => string.Join("\n", Lines);
    }

    /// <summary>The guest's answer to "ready".</summary>
    public sealed class GuestReadyInfo
    {
        public string Name { get; set; } = "";
        /// <summary>"ok", "error" (some step failed), "none" (no configuration handed over).</summary>
        public string ConfigState { get; set; } = "";
        public long UptimeMilliseconds { get; set; }
        /// <summary>The guest contract version it implements (<c>contract &lt;n&gt;</c>; images without that line are contract 1).</summary>
        public int Contract { get; set; } = 1;
    }

    /// <summary>
    /// Client for the router image's command channel (docs/guest-contract.md): a virtio-serial port named "vn.cmd",
    /// reached on the host through the QEMU chardev Unix socket <c>run/&lt;name&gt;.chan</c>.
    /// </summary>
    /// <remarks>
    /// <para>Framing: the host sends one line <c>&lt;id&gt; &lt;command&gt; [args...]</c> (for "config" followed by the text
    /// and a line "."); the guest answers <c>&lt;id&gt; BEGIN</c>, the output lines, <c>&lt;id&gt; END &lt;rc&gt;</c>. Lines before
    /// our BEGIN (answers to an earlier client that gave up) are skipped. The guest runs one command at a time and
    /// bounds each one itself.</para>
    /// <para>A QEMU socket chardev serves one client at a time. The guest answers a connected client at once; a new one is
    /// noticed within ~30 ms by current images (the agent sleeps in vn-portwait until the port signals a connection) but
    /// only every 0.1-0.5 s by older ones, which poll. So this process keeps one connection per router open between commands
    /// and closes it after <see cref="IdleClose"/> without use, giving other processes their turn (they wait in the
    /// listen backlog meanwhile). Calls on the same socket from this process are serialised by a lock. A kept connection
    /// that turns out dead (the router was restarted) is replaced and the request sent again; one that times out or
    /// breaks mid-answer is dropped, never reused.</para>
    /// Guest words are split on blanks, so arguments are checked to be single words.</para>
    /// </remarks>
    public sealed class GuestChannel
    {
        private static readonly ConcurrentDictionary<string, Slot> Slots = new ConcurrentDictionary<string, Slot>(StringComparer.Ordinal);

        /// <summary>How long an unused connection is kept open (default 2 s); zero closes it after every command.</summary>
        public static TimeSpan IdleClose { get; set; } = TimeSpan.FromSeconds(2);
        private static readonly Regex CommandWord = new Regex("^[a-z][a-z0-9-]{0,31}$", RegexOptions.CultureInvariant);
        private static readonly Regex EndLine = new Regex(@"^(?<id>\S+) END (?<rc>-?[0-9]+)$", RegexOptions.CultureInvariant);
        private static readonly Regex Received = new Regex(@"(?<tx>\d+) packets transmitted, (?<rx>\d+) (packets )?received", RegexOptions.CultureInvariant);
        private static readonly Regex RoundTrip = new Regex(@"min/avg/max = (?<min>[0-9.]+)/(?<avg>[0-9.]+)/(?<max>[0-9.]+)", RegexOptions.CultureInvariant);
        private static int _sequence;

        /// <summary>How long to wait for the guest's BEGIN beyond a command's own bound (the guest is busy with another client's command).</summary>
        public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(20);

        public GuestChannel(string socketPath, string routerName)
        {
            SocketPath = socketPath ?? throw new ArgumentNullException(nameof(socketPath));
            RouterName = routerName ?? throw new ArgumentNullException(nameof(routerName));
            _ = new UnixSocketEndPoint(socketPath); // validates the path length now
        }

        public string SocketPath { get; }
        public string RouterName { get; }

        /// <summary>
        /// Waits until the guest answers "ready" on the channel (the request is queued in the socket until the guest
        /// opens its port, so this also waits for the boot). Retries while the socket does not exist yet or refuses.
        /// </summary>
        public GuestReadyInfo WaitReady(TimeSpan timeout, CancellationToken cancellationToken = default)
        {
            var deadline = Deadline.After(timeout);
            while (true)
            {
                try
                {
                    var r = Exchange("ready", Array.Empty<string>(), null, deadline, retryUnavailable: true, cancellationToken);
                    return ParseReady(r.Lines);
                }
                catch (VirtualNetworksException ex) when (ex.Kind == ErrorKind.ConnectionError && !deadline.Expired)
                {
                    // The connection broke (QEMU restarting the chardev, the guest agent restarting): try again.
                    if (cancellationToken.WaitHandle.WaitOne(100)) cancellationToken.ThrowIfCancellationRequested();
                }
            }
        }

        /// <summary>The lines of a <c>ready</c> answer: name, config state, uptime, contract (1 when the line is missing).</summary>
        internal static GuestReadyInfo ParseReady(IEnumerable<string> lines)
        {
            var info = new GuestReadyInfo();
            foreach (var l in lines)
            {
                if (l.StartsWith("name ", StringComparison.Ordinal)) info.Name = l.Substring(5).Trim();
                else if (l.StartsWith("config ", StringComparison.Ordinal)) info.ConfigState = l.Substring(7).Trim();
                else if (l.StartsWith("uptime_ms ", StringComparison.Ordinal) &&
                         long.TryParse(l.Substring(10).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out long up)) info.UptimeMilliseconds = up;
                else if (l.StartsWith("contract ", StringComparison.Ordinal) &&
                         int.TryParse(l.Substring(9).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int contract) && contract >= 1) info.Contract = contract;
            }
            return info;
        }

        /// <summary>
        /// Runs <paramref name="command"/> with <paramref name="arguments"/> in the guest and returns its exit code and
        /// output. <paramref name="timeout"/> covers connecting, waiting for the guest and the command itself.
        /// </summary>
        public GuestCommandResult Run(string command, IEnumerable<string>? arguments = null, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
            Exchange(command, arguments ?? Array.Empty<string>(), null, Deadline.After(timeout ?? DefaultTimeout), retryUnavailable: false, cancellationToken);

        /// <summary>Router state as text: name, links, addresses, routes, forwarding, configuration ("show").</summary>
        public string Show(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
        {
            var r = Run("show", null, timeout ?? DefaultTimeout, cancellationToken);
            if (!r.Succeeded) throw Fail(ErrorKind.InvalidResult, "'show' failed with exit code " + r.ExitCode + ": " + Shorten(r.Output));
            return r.Output;
        }

        /// <summary>
        /// Pings <paramref name="address"/> from inside the guest: <paramref name="count"/> echo requests, giving up after
        /// <paramref name="timeout"/> (whole seconds, 1..600). Reachable when at least one reply came back.
        /// </summary>
        public ProbeResult Ping(string address, int count = 3, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
        {
            if (!IPAddress.TryParse(address ?? "", out var ip) || address!.IndexOf('/') >= 0 || address.IndexOf('%') >= 0)
                throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.InvalidArgument, RouterName,
                    "Cannot ping from router '" + RouterName + "': '" + address + "' is not an IP address.");
            if (count < 1 || count > 1000) throw new ArgumentOutOfRangeException(nameof(count), "1..1000");
            int deadlineSeconds = (int)Math.Ceiling((timeout ?? TimeSpan.FromSeconds(5)).TotalSeconds);
            deadlineSeconds = Math.Max(1, Math.Min(600, deadlineSeconds));
            // The guest bounds ping at deadline + 5 s; leave room for queueing behind another command.
            var r = Run("ping", new[] { ip.ToString(), count.ToString(CultureInfo.InvariantCulture), deadlineSeconds.ToString(CultureInfo.InvariantCulture), "0.2" },
                TimeSpan.FromSeconds(deadlineSeconds + 15), cancellationToken);
            return ParsePing(r);
        }

        internal static ProbeResult ParsePing(GuestCommandResult r)
        {
            int rx = 0;
            double? avg = null;
            foreach (var l in r.Lines)
            {
                var m = Received.Match(l);
                if (m.Success) rx = int.Parse(m.Groups["rx"].Value, CultureInfo.InvariantCulture);
                var t = RoundTrip.Match(l);
                if (t.Success) avg = double.Parse(t.Groups["avg"].Value, CultureInfo.InvariantCulture);
            }
            // Exit code 0 only when every reply came back, 1 otherwise: "reachable" means at least one reply.
            bool reachable = (r.ExitCode == 0 || r.ExitCode == 1) && rx > 0;
            string detail = r.ExitCode == 2 ? "bad ping arguments: " + string.Join(" ", r.Lines)
                : r.ExitCode == 124 ? "ping timed out in the guest"
                : LastNonEmpty(r.Lines);
            return new ProbeResult { Reachable = reachable, RoundTripMilliseconds = reachable ? avg : null, Detail = detail };
        }

        /// <summary>The most addresses one <c>probe</c> request carries (the guest's limit; longer lists are split).</summary>
        public const int MaxProbeAddresses = 64;

        /// <summary>How many pings the guest runs at once for one <c>probe</c> request (its bound: waves of this many).</summary>
        public const int GuestProbeParallel = 16;

        private static readonly Regex ProbeLine = new Regex(@"^(?<addr>[0-9A-Fa-f:.]{2,45}) (?:ok (?<ms>[0-9]{1,9}(?:\.[0-9]{1,6})?)|(?<lost>lost))$", RegexOptions.CultureInvariant);

        /// <summary>
        /// Probes many addresses in as few round trips as the guest allows (<c>probe</c>, docs/guest-contract.md §3): up to
        /// <see cref="MaxProbeAddresses"/> per request, <paramref name="count"/> echo requests 0.2 s apart each, within
        /// <paramref name="deadlineSeconds"/>. One result per address, in order. Returns null when the guest has no
        /// <c>probe</c> command (an older image answers 127): the caller falls back to <see cref="Ping"/>.
        /// <paramref name="perRequest"/> (1 to <see cref="MaxProbeAddresses"/>, default the maximum) makes the requests
        /// smaller: a burst of fewer echo requests queues less in the guests it crosses.
        /// </summary>
        public IReadOnlyList<ProbeResult>? ProbeMany(IReadOnlyList<string> addresses, int count, int deadlineSeconds, CancellationToken cancellationToken = default,
            int perRequest = MaxProbeAddresses)
        {
            if (addresses == null) throw new ArgumentNullException(nameof(addresses));
            if (count < 1 || count > 10) throw new ArgumentOutOfRangeException(nameof(count), "1..10");
            if (deadlineSeconds < 1 || deadlineSeconds > 30) throw new ArgumentOutOfRangeException(nameof(deadlineSeconds), "1..30");
            if (perRequest < 1 || perRequest > MaxProbeAddresses) throw new ArgumentOutOfRangeException(nameof(perRequest), "1.." + MaxProbeAddresses.ToString(CultureInfo.InvariantCulture));
            var normalized = new string[addresses.Count];
            for (int i = 0; i < addresses.Count; i++)
            {
                var a = addresses[i];
                if (!IPAddress.TryParse(a ?? "", out var ip) || a!.IndexOf('/') >= 0 || a.IndexOf('%') >= 0 ||
                    (ip.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork && ip.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6))
                    throw new VirtualNetworksException(ErrorIds.InvalidAddress, ErrorKind.InvalidArgument, a,
                        "Cannot probe from router '" + RouterName + "': '" + a + "' is not an IP address.");
                normalized[i] = ip.ToString();
            }
            var results = new List<ProbeResult>(addresses.Count);
            for (int start = 0; start < normalized.Length; start += perRequest)
            {
                var chunk = new string[Math.Min(perRequest, normalized.Length - start)];
                Array.Copy(normalized, start, chunk, 0, chunk.Length);
                var words = new List<string>(chunk.Length + 2)
                {
                    count.ToString(CultureInfo.InvariantCulture), deadlineSeconds.ToString(CultureInfo.InvariantCulture),
                };
                words.AddRange(chunk);
                // The guest's own bound, plus room for queueing behind another command.
                int bound = (chunk.Length + GuestProbeParallel - 1) / GuestProbeParallel * (deadlineSeconds + 1) + 5;
                var r = Run("probe", words, TimeSpan.FromSeconds(bound + 15), cancellationToken);
                if (r.ExitCode == 127) return null;
                if (r.ExitCode == 2)
                    throw Fail(ErrorKind.InvalidResult, "the guest refused the probe request (exit code 2): " + Shorten(string.Join(" | ", r.Lines)));
                results.AddRange(ParseProbe(chunk, r, count, deadlineSeconds));
            }
            return results;
        }

        /// <summary>
        /// The answer to one <c>probe</c> request: the lines <c>&lt;addr&gt; ok &lt;ms&gt;</c> / <c>&lt;addr&gt; lost</c> in the order
        /// asked; other lines (a time-out message) are skipped. An address without its line (the guest timed out) is
        /// unreachable with the exit code in its Detail.
        /// </summary>
        internal static IReadOnlyList<ProbeResult> ParseProbe(IReadOnlyList<string> asked, GuestCommandResult r, int count, int deadlineSeconds)
        {
            var results = new ProbeResult?[asked.Count];
            int next = 0;
            foreach (var line in r.Lines)
            {
                if (next >= asked.Count) break;
                var m = ProbeLine.Match(line.Trim());
                if (!m.Success || !string.Equals(m.Groups["addr"].Value, asked[next], StringComparison.OrdinalIgnoreCase)) continue;
                if (m.Groups["lost"].Success)
                {
                    results[next] = new ProbeResult
                    {
                        Reachable = false,
                        Detail = string.Format(CultureInfo.InvariantCulture, "no reply to {0} echo request(s) within {1} s", count, deadlineSeconds),
                    };
                }
                else
                {
                    double ms = double.Parse(m.Groups["ms"].Value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture);
                    results[next] = new ProbeResult { Reachable = true, RoundTripMilliseconds = ms };
                }
                next++;
            }
            var missing = r.ExitCode == 124 ? "the probe timed out in the guest before this address was answered"
                : "the guest's probe answer has no line for this address (exit code " + r.ExitCode.ToString(CultureInfo.InvariantCulture) + ")";
            var list = new List<ProbeResult>(asked.Count);
            foreach (var x in results) list.Add(x ?? new ProbeResult { Reachable = false, Detail = missing });
            return list;
        }

        /// <summary>
        /// Pushes a new configuration (the guest validates all of it first and changes nothing when it is invalid).
        /// Throws (BackendOperationFailed) with the guest's messages when it is rejected (2) or partly failed (1).
        /// </summary>
        public GuestCommandResult PushConfig(string text, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
        {
            if (text == null) throw new ArgumentNullException(nameof(text));
            var lines = text.Replace("\r\n", "\n").Split('\n');
            var body = new StringBuilder();
            int count = 0;
            foreach (var l in lines)
            {
                if (l.Length == 0 && count == lines.Length - 1) break;
                count++;
                if (l == ".") throw new ArgumentException("A configuration line must not be a single '.', which ends the text on the channel.", nameof(text));
                foreach (char c in l)
                    if ((c < ' ' && c != '\t') || c == '\x7f') throw new ArgumentException("The configuration text contains a control character.", nameof(text));
                body.Append(l).Append('\n');
            }
            if (count > 4096) throw new ArgumentException("The configuration text has more than 4096 lines.", nameof(text));
            body.Append(".\n");
            var r = Exchange("config", Array.Empty<string>(), body.ToString(), Deadline.After(timeout ?? TimeSpan.FromSeconds(90)), false, cancellationToken);
            if (!r.Succeeded)
                throw Fail(ErrorKind.InvalidResult, (r.ExitCode == 2 ? "the guest rejected the configuration (nothing changed): " : "applying the configuration failed (exit code " + r.ExitCode + "): ") +
                                                    Shorten(string.Join(" | ", r.Lines)));
            return r;
        }

        /// <summary>Asks the guest to power off (it answers first, then powers off).</summary>
        public void PowerOff(CancellationToken cancellationToken = default)
        {
            var r = Run("poweroff", null, DefaultTimeout, cancellationToken);
            if (!r.Succeeded) throw Fail(ErrorKind.InvalidResult, "'poweroff' failed with exit code " + r.ExitCode);
        }

        // ------------------------------------------------------------------------------------------------ exchange

        private GuestCommandResult Exchange(string command, IEnumerable<string> arguments, string? body, Deadline deadline, bool retryUnavailable, CancellationToken cancellationToken)
        {
            if (command == null || !CommandWord.IsMatch(command)) throw new ArgumentException("'" + command + "' is not a command word (a-z, 0-9, '-').", nameof(command));
            var words = new List<string>();
            foreach (var a in arguments)
            {
                if (string.IsNullOrEmpty(a)) throw new ArgumentException("An argument is empty.", nameof(arguments));
                foreach (char c in a)
                    if (c <= ' ' || c == '\x7f') throw new ArgumentException("Argument '" + a + "' contains a blank or control character; guest arguments are single words.", nameof(arguments));
                words.Add(a);
            }
            string id = "vn" + System.Diagnostics.Process.GetCurrentProcess().Id.ToString("x", CultureInfo.InvariantCulture) + "-" +
                        Interlocked.Increment(ref _sequence).ToString(CultureInfo.InvariantCulture);
            var request = new StringBuilder(id).Append(' ').Append(command);
            foreach (var w in words) request.Append(' ').Append(w);
            request.Append('\n');
            if (body != null) request.Append(body);

            GuestTraffic.ChannelExchange();
            var slot = Slots.GetOrAdd(SocketPath, _ => new Slot());
            if (!slot.Gate.Wait(deadline.Remaining, cancellationToken))
                throw Fail(ErrorKind.OperationTimeout, "the command channel stayed busy with another command of this process");
            try
            {
                bool reused = slot.Connection != null;
                while (true)
                {
                    var conn = slot.Connection ?? Connect(deadline, retryUnavailable, cancellationToken);
                    slot.Connection = conn;
                    try
                    {
                        var result = Converse(conn, id, command, request.ToString(), deadline, cancellationToken);
                        slot.Touch();
                        return result;
                    }
                    catch (BrokenBeforeBeginException ex)
                    {
                        slot.Drop();
                        // A kept connection may have died with an earlier QEMU (router restarted): the request never
                        // reached a guest, so sending it once more on a fresh connection is safe.
                        if (reused && !deadline.Expired)
                        {
                            reused = false;
                            continue;
                        }
                        throw Fail(ErrorKind.ConnectionError, ex.Message, ex.InnerException);
                    }
                    catch
                    {
                        // Timed out or broke mid-answer: never reuse this connection (the rest of the answer goes to
                        // whoever connects next, who skips it).
                        slot.Drop();
                        throw;
                    }
                }
            }
            finally
            {
                slot.Gate.Release();
            }
        }

        private UnixLineConnection Connect(Deadline deadline, bool retryUnavailable, CancellationToken cancellationToken)
        {
            var conn = UnixLineConnection.TryConnect(SocketPath, deadline, retryUnavailable, cancellationToken, out var failure, out var detail);
            if (conn != null) return conn;
            if (deadline.Expired && retryUnavailable)
                throw Fail(ErrorKind.OperationTimeout, "the command channel " + SocketPath + " did not accept a connection in time (" + detail + ")");
            throw Fail(ErrorKind.ConnectionError, failure == ConnectFailure.Missing
                ? "its command channel socket " + SocketPath + " does not exist (the router is not running)"
                : "cannot connect to its command channel " + SocketPath + " (" + detail + ")");
        }

        private GuestCommandResult Converse(UnixLineConnection conn, string id, string command, string request, Deadline deadline, CancellationToken cancellationToken)
        {
            try
            {
                conn.Write(request, deadline);
            }
            catch (TimeoutException)
            {
                throw Fail(ErrorKind.OperationTimeout, "the guest did not read '" + command + "' in time (is the router paused?)");
            }
            catch (Exception ex) when (ex is System.Net.Sockets.SocketException || ex is ObjectDisposedException)
            {
                throw new BrokenBeforeBeginException("sending '" + command + "' failed: " + ex.Message, ex);
            }
            bool begun = false;
            var lines = new List<string>();
            while (true)
            {
                string? line;
                try
                {
                    line = conn.ReadLine(deadline, cancellationToken);
                }
                catch (TimeoutException)
                {
                    throw Fail(ErrorKind.OperationTimeout, "no answer to '" + command + "' on the command channel in time" +
                                                           (begun ? " (the command started but did not finish)" : " (is the router booted and not paused?)"));
                }
                catch (Exception ex) when (ex is System.IO.IOException || ex is System.Net.Sockets.SocketException)
                {
                    if (!begun) throw new BrokenBeforeBeginException("the command channel broke before '" + command + "' started: " + ex.Message, ex);
                    throw Fail(ErrorKind.ConnectionError, "the command channel broke during '" + command + "': " + ex.Message, ex);
                }
                if (line == null)
                {
                    if (!begun) throw new BrokenBeforeBeginException("the command channel closed before '" + command + "' started (is the router running?)", null);
                    throw Fail(ErrorKind.ConnectionError, "the command channel closed during '" + command + "'");
                }
                if (!begun)
                {
                    if (line == id + " BEGIN") begun = true;
                    else if (line == "- BEGIN") throw Fail(ErrorKind.InvalidArgument, "the guest rejected the request id '" + id + "'");
                    continue;
                }
                var m = EndLine.Match(line);
                if (m.Success && m.Groups["id"].Value == id)
                    return new GuestCommandResult(command, int.Parse(m.Groups["rc"].Value, CultureInfo.InvariantCulture), lines);
                lines.Add(line);
            }
        }

        /// <summary>Closes this process's kept connection to the router's channel (e.g. before the router is removed).</summary>
        public void Disconnect()
        {
            if (!Slots.TryGetValue(SocketPath, out var slot)) return;
            slot.Gate.Wait();
            try
            {
                slot.Drop();
            }
            finally
            {
                slot.Gate.Release();
            }
        }

        private sealed class BrokenBeforeBeginException : Exception
        {
            public BrokenBeforeBeginException(string message, Exception? inner) : base(message, inner)
            {
            }
        }

        /// <summary>
        /// This process's connection to one router's channel. Kept open between commands (the guest answers a kept
        /// connection at once; a new client costs a wake-up, or up to 0.5 s with images that poll), and closed after <see cref="IdleClose"/>
        /// without use so that other processes get their turn (QEMU serves one client at a time).
        /// </summary>
        private sealed class Slot
        {
            public readonly SemaphoreSlim Gate = new SemaphoreSlim(1, 1);
            public UnixLineConnection? Connection;
            private readonly Timer _timer;
            private long _lastUsed;

            public Slot()
            {
                _timer = new Timer(_ => CloseIfIdle(), null, Timeout.Infinite, Timeout.Infinite);
            }

            public void Touch()
            {
                Interlocked.Exchange(ref _lastUsed, System.Diagnostics.Stopwatch.GetTimestamp());
                var idle = IdleClose;
                _timer.Change(idle <= TimeSpan.Zero ? TimeSpan.Zero : idle, Timeout.InfiniteTimeSpan);
            }

            public void Drop()
            {
                var c = Connection;
                Connection = null;
                c?.Dispose();
            }

            private void CloseIfIdle()
            {
                if (!Gate.Wait(0)) return; // in use: the user re-arms the timer when done
                try
                {
                    long elapsed = System.Diagnostics.Stopwatch.GetTimestamp() - Interlocked.Read(ref _lastUsed);
                    if (elapsed * 1000.0 / System.Diagnostics.Stopwatch.Frequency >= IdleClose.TotalMilliseconds - 5) Drop();
                    else _timer.Change(IdleClose, Timeout.InfiniteTimeSpan);
                }
                finally
                {
                    Gate.Release();
                }
            }
        }

        private VirtualNetworksException Fail(ErrorKind kind, string what, Exception? inner = null) =>
            new VirtualNetworksException(ErrorIds.BackendOperationFailed, kind, RouterName, "Router '" + RouterName + "': " + what + ".", inner);

        private static string LastNonEmpty(IReadOnlyList<string> lines)
        {
            for (int i = lines.Count - 1; i >= 0; i--)
                if (lines[i].Trim().Length > 0) return lines[i].Trim();
            return "";
        }

        private static string Shorten(string s) => s.Length <= 1000 ? s : s.Substring(0, 1000) + "...";
    }
}
