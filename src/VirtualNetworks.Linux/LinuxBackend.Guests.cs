using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Text.RegularExpressions;
using System.Threading;
using VirtualNetworks.Backends;
using VirtualNetworks.Linux.State;
using VirtualNetworks.Linux.Vm;

namespace VirtualNetworks.Linux
{
    /// <summary>
    /// What the Linux backend learns from inside running guests through their command channel (docs/guest-contract.md §3)
    /// for the public cmdlets: readiness (<see cref="IRouterReadiness"/>: "ready" answers with configuration state ok) and
    /// probe streams (<see cref="IProbeStream"/>: the guest's busybox ping). Neither takes the state lock: they read
    /// records and /proc only and talk to the guest, so they run alongside a change (a live migration) that holds it.
    /// </summary>
    public sealed partial class LinuxBackend : IRouterReadiness, IProbeStream
    {
        /// <summary>How long one "ready" exchange may take before the router's process is looked at again.</summary>
        private static readonly TimeSpan ReadySlice = TimeSpan.FromSeconds(3);

        public GuestReadiness WaitUntilReady(string name, TimeSpan timeout, CancellationToken cancellationToken)
        {
            var clock = Stopwatch.StartNew();
            string lastSeen = "no answer from the guest on its command channel yet";
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                // Re-read every round: a live migration switches the router to its other run slot (another channel socket).
                var rec = RequireRouter(name);
                var paths = Store.RunPaths(rec.Name);
                var process = RouterProcess.Inspect(paths);
                if (!process.IsRunning)
                    throw new VirtualNetworksException(ErrorIds.RouterNotRunning, ErrorKind.InvalidOperation, rec.Name,
                        $"Virtual router '{rec.Name}' is not running ({process.Detail}); there is nothing to wait for. End of its console: {RouterProcess.ConsoleSummary(paths)}")
                    { RecommendedAction = "Start-VirtualRouter -Name " + rec.Name + " -Wait" };
                if (rec.DesiredState == RouterState.Paused)
                    throw new VirtualNetworksException(ErrorIds.RouterNotRunning, ErrorKind.InvalidOperation, rec.Name,
                        $"Virtual router '{rec.Name}' is paused; its guest cannot become ready until it is resumed.")
                    { RecommendedAction = "Resume-VirtualRouter -Name " + rec.Name + " -Wait" };
                var left = timeout - clock.Elapsed;
                if (left <= TimeSpan.Zero)
                    return new GuestReadiness { Ready = false, LastSeen = lastSeen + "; end of its console: " + RouterProcess.ConsoleSummary(paths) };
                GuestReadyInfo info;
                try
                {
                    info = Vms.Channel(rec.Name).WaitReady(left < ReadySlice ? left : ReadySlice, cancellationToken);
                }
                catch (VirtualNetworksException ex) when (ex.Kind == ErrorKind.OperationTimeout || ex.Kind == ErrorKind.ConnectionError)
                {
                    lastSeen = ex.Message.TrimEnd('.');
                    continue;
                }
                // A contract-1 image ignores a routing line (unknown directives are warnings there): refuse instead of
                // reporting a router ready that does not route as configured.
                EnsureContract(rec, info, rec.ConfigText);
                switch (info.ConfigState)
                {
                    case "ok":
                    case "none": // booted without a configuration handed over (an image that takes none): nothing left to apply
                        return new GuestReadiness { Ready = true, Uptime = TimeSpan.FromMilliseconds(info.UptimeMilliseconds) };
                    case "error":
                        throw new VirtualNetworksException(ErrorIds.RouterNotReady, ErrorKind.InvalidResult, rec.Name,
                            $"Virtual router '{rec.Name}' booted, but its guest reports that applying its configuration failed (config error); " +
                            $"waiting longer will not help. Its console: {RouterProcess.ConsoleSummary(paths)}")
                        { RecommendedAction = "Look at the VN-CONFIG-ERROR lines of its console, fix the cause and restart it (Stop-VirtualRouter, Start-VirtualRouter -Wait)." };
                }
                lastSeen = $"the guest answered 'ready' with configuration state '{info.ConfigState}' after {info.UptimeMilliseconds / 1000.0:0.0} s of uptime";
                if (cancellationToken.WaitHandle.WaitOne(TimeSpan.FromMilliseconds(200))) cancellationToken.ThrowIfCancellationRequested();
            }
        }

        public IReadOnlyList<string> AddressesOf(string router) =>
            RequireRouter(router).Configuration?.Interfaces.Select(i => i.Address).Where(a => !string.IsNullOrEmpty(a)).ToArray()
            ?? (IReadOnlyList<string>)Array.Empty<string>();

        private static readonly Regex PingReply = new Regex(@"\bseq=(?<seq>\d{1,9})\b.*\btime=(?<ms>[0-9]{1,9}(\.[0-9]{1,6})?) ms", RegexOptions.CultureInvariant);
        private static readonly Regex PingTransmitted = new Regex(@"^(?<tx>\d{1,9}) packets transmitted", RegexOptions.CultureInvariant);

        public ProbeStreamAnswer ProbeStream(string fromRouter, string address, int count, TimeSpan interval, CancellationToken cancellationToken)
        {
            var rec = RequireRouter(fromRouter);
            var paths = Store.RunPaths(rec.Name);
            var process = RouterProcess.Inspect(paths);
            if (!process.IsRunning || rec.DesiredState == RouterState.Paused)
                throw new VirtualNetworksException(ErrorIds.RouterNotRunning, ErrorKind.InvalidOperation, rec.Name,
                    $"Cannot probe from virtual router '{rec.Name}': it is {(process.IsRunning ? "paused" : "not running (" + process.Detail + ")")}.");
            // Arguments reach the guest's command line: checked here again whatever the caller checked.
            if (!System.Net.IPAddress.TryParse(address ?? "", out var ip) || address!.IndexOfAny(new[] { '/', '%' }) >= 0)
                throw new VirtualNetworksException(ErrorIds.InvalidAddress, ErrorKind.InvalidArgument, address, $"'{address}' is not an IP address.");
            int ms = (int)Math.Round(interval.TotalMilliseconds);
            if (count < ProbeStreamLimits.MinimumCount || count > ProbeStreamLimits.MaximumCount ||
                ms < ProbeStreamLimits.MinimumIntervalMilliseconds || ms > ProbeStreamLimits.MaximumIntervalMilliseconds ||
                (long)count * ms > ProbeStreamLimits.MaximumDurationSeconds * 1000L)
                throw new VirtualNetworksException(ErrorIds.InvalidProbe, ErrorKind.InvalidArgument, rec.Name,
                    $"A probe stream of {count} probe(s) every {ms} ms is outside the limits.");
            int sendSeconds = (int)Math.Ceiling(count * (double)ms / 1000.0);
            int deadline = Math.Min(600, sendSeconds + 5); // the guest waits for late answers within it
            var channel = Vms.Channel(rec.Name);
            channel.WaitReady(ReadyTimeout, cancellationToken);
            var result = channel.Run("ping", new[]
            {
                ip.ToString(), count.ToString(CultureInfo.InvariantCulture), deadline.ToString(CultureInfo.InvariantCulture),
                (ms / 1000.0).ToString("0.###", CultureInfo.InvariantCulture),
            }, TimeSpan.FromSeconds(deadline + 20), cancellationToken);
            if (result.ExitCode == 2 || result.ExitCode == 127)
                throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.InvalidResult, rec.Name,
                    $"Router '{rec.Name}': the guest refused the probe stream (exit code {result.ExitCode}): {string.Join(" | ", result.Lines.Take(5))}");
            var answer = new ProbeStreamAnswer { Sent = count };
            string? last = null;
            foreach (var line in result.Lines)
            {
                if (line.Trim().Length > 0) last = line.Trim();
                var m = PingReply.Match(line);
                if (m.Success && int.TryParse(m.Groups["seq"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out int seq) &&
                    double.TryParse(m.Groups["ms"].Value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double rtt) && seq < count)
                {
                    if (!answer.RoundTrips.ContainsKey(seq)) answer.RoundTrips[seq] = rtt; // "(DUP!)" answers count once
                    continue;
                }
                var t = PingTransmitted.Match(line.Trim());
                if (t.Success && int.TryParse(t.Groups["tx"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out int tx) && tx <= count)
                    answer.Sent = tx;
            }
            answer.Detail = result.ExitCode == 124 ? "the ping timed out in the guest" : last;
            return answer;
        }
    }
}
