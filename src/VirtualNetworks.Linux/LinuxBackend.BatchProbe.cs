using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using VirtualNetworks.Backends;
using VirtualNetworks.Linux.Vm;

namespace VirtualNetworks.Linux
{
    /// <summary>
    /// Batched reachability probes (<see cref="IBatchProbe"/>) for Test-VirtualNetwork: all the addresses one router probes
    /// go to its guest in one <c>probe</c> request per 64 addresses (docs/guest-contract.md §3), which pings them
    /// concurrently. No state lock is taken: it reads the router's record and /proc and talks to the guest, so calls for
    /// different routers run side by side (each router's channel serialises its own commands).
    /// </summary>
    public sealed partial class LinuxBackend : IBatchProbe
    {
        /// <summary>Echo requests per address and the deadline (s): the same as a single <see cref="Probe"/>.</summary>
        internal const int ProbeCount = 2;
        internal const int ProbeDeadlineSeconds = 3;

        public IReadOnlyList<ProbeResult> ProbeMany(string fromRouter, IReadOnlyList<string> addresses, CancellationToken cancellationToken)
        {
            if (addresses == null) throw new ArgumentNullException(nameof(addresses));
            var rec = RequireRouter(fromRouter);
            if (addresses.Count == 0) return Array.Empty<ProbeResult>();
            // Arguments reach the guest's command line: checked here whatever the caller checked.
            foreach (var a in addresses)
                if (!System.Net.IPAddress.TryParse(a ?? "", out _) || a!.IndexOfAny(new[] { '/', '%' }) >= 0)
                    throw new VirtualNetworksException(ErrorIds.InvalidAddress, ErrorKind.InvalidArgument, a, $"'{a}' is not an IP address.");
            var paths = Store.RunPaths(rec.Name);
            if (!RouterProcess.Inspect(paths).IsRunning) return All(addresses, $"router '{rec.Name}' is not running");
            if (rec.DesiredState == RouterState.Paused) return All(addresses, $"router '{rec.Name}' is paused");
            var channel = Vms.Channel(rec.Name);
            channel.WaitReady(ReadyTimeout, cancellationToken);
            var answer = channel.ProbeMany(addresses, ProbeCount, ProbeDeadlineSeconds, cancellationToken);
            if (answer != null) return answer;
            // An image without the probe command (older than issue 15): one ping per address, as Probe sends.
            var results = new List<ProbeResult>(addresses.Count);
            foreach (var a in addresses)
            {
                cancellationToken.ThrowIfCancellationRequested();
                try
                {
                    results.Add(channel.Ping(a, ProbeCount, TimeSpan.FromSeconds(ProbeDeadlineSeconds), cancellationToken));
                }
                catch (VirtualNetworksException ex)
                {
                    results.Add(new ProbeResult { Reachable = false, Detail = "probe failed: " + ex.Message });
                }
            }
            return results;
        }

        private static IReadOnlyList<ProbeResult> All(IReadOnlyList<string> addresses, string detail) =>
            addresses.Select(_ => new ProbeResult { Reachable = false, Detail = detail }).ToArray();
    }
}
