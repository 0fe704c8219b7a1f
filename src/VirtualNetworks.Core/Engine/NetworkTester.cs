using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using VirtualNetworks.Backends;

namespace VirtualNetworks.Engine
{
    /// <summary>
    /// Test-VirtualNetwork: the reachability matrix. From every router of the selected networks, every address of every
    /// other router is probed; an address in the same network must answer (reachability), one in another network must
    /// not (isolation).
    /// </summary>
    /// <remarks>
    /// <para>Rows come in a fixed order whatever order the probes finish in: source networks by name, then source
    /// routers by name, then destination routers by name (ordinal, ignoring case), then the destination's addresses in
    /// the order of its interfaces' link names. A destination's addresses come from the configuration applied to it
    /// (prefix lengths removed), else from <see cref="VirtualRouter.Addresses"/>.</para>
    /// <para>A destination in the source's network that has no address while its network has links gives a failed row
    /// (expected reachable, not reachable, Detail "no address configured") instead of a probe; a destination in another
    /// network without addresses gives no row (nothing can leak to it).</para>
    /// <para>A probe that throws <see cref="VirtualNetworksException"/> counts as "not reachable" with the message in
    /// Detail. Probes run concurrently (at most <see cref="DefaultMaxParallelProbes"/>), so the backend's Probe must be
    /// thread-safe; <paramref name="progress"/> is only called on the calling thread.</para>
    /// </remarks>
    public static class NetworkTester
    {
        public const int DefaultMaxParallelProbes = 8;

        public const string NoAddressDetail = "no address configured";

        public static VirtualNetworkTestReport Run(IVirtualizationBackend backend, Snapshot snapshot, IReadOnlyCollection<string>? networkNames,
            IProgress<string>? progress, CancellationToken cancellationToken) =>
            Run(backend, snapshot, networkNames, progress, DefaultMaxParallelProbes, cancellationToken);

        /// <summary>As <see cref="Run(IVirtualizationBackend, Snapshot, IReadOnlyCollection{string}, IProgress{string}, CancellationToken)"/>
        /// with a chosen number of concurrent probes (1 = one after the other).</summary>
        public static VirtualNetworkTestReport Run(IVirtualizationBackend backend, Snapshot snapshot, IReadOnlyCollection<string>? networkNames,
            IProgress<string>? progress, int maxParallelProbes, CancellationToken cancellationToken)
        {
            if (backend == null) throw new ArgumentNullException(nameof(backend));
            if (snapshot == null) throw new ArgumentNullException(nameof(snapshot));
            if (maxParallelProbes < 1) throw new ArgumentOutOfRangeException(nameof(maxParallelProbes), "At least one probe must be allowed to run.");
            if (!backend.Capabilities.SupportsProbes)
                throw new VirtualNetworksException(ErrorIds.OperationNotSupported, ErrorKind.NotImplemented, backend.Kind,
                    $"The {backend.Kind} backend cannot send probes from inside a router, so virtual networks cannot be tested.");

            var clock = Stopwatch.StartNew();
            var cmp = StringComparer.OrdinalIgnoreCase;
            var wanted = networkNames == null ? null : new HashSet<string>(networkNames, cmp);
            var networks = snapshot.Networks
                .Where(n => wanted == null || wanted.Contains(n.Name))
                .OrderBy(n => n.Name, cmp).ThenBy(n => n.Name, StringComparer.Ordinal)
                .ToList();

            var allRouters = snapshot.Routers
                .GroupBy(r => r.Name, cmp).Select(g => g.First())
                .OrderBy(r => r.Name, cmp).ThenBy(r => r.Name, StringComparer.Ordinal)
                .ToList();
            var addresses = allRouters.ToDictionary(r => r.Name, r => AddressesOf(snapshot, r), cmp);
            var networkHasLinks = snapshot.Networks.ToDictionary(n => n.Name, n => n.Links.Count > 0, cmp);

            // ---- the matrix, in report order; rows with an address are probes to run ---------------------------------
            var rows = new List<ReachabilityResult>();
            var probes = new List<int>();
            foreach (var network in networks)
            {
                var members = new HashSet<string>(network.Routers, cmp);
                foreach (var source in allRouters.Where(r => members.Contains(r.Name)))
                {
                    foreach (var destination in allRouters)
                    {
                        if (cmp.Equals(destination.Name, source.Name)) continue;
                        bool same = members.Contains(destination.Name);
                        var list = addresses[destination.Name];
                        if (list.Count == 0)
                        {
                            if (same && networkHasLinks.TryGetValue(network.Name, out bool linked) && linked)
                                rows.Add(Row(source, network.Name, destination, "", same, NoAddressDetail));
                            continue;
                        }
                        foreach (var address in list)
                        {
                            probes.Add(rows.Count);
                            rows.Add(Row(source, network.Name, destination, address, same, null));
                        }
                    }
                }
            }

            progress?.Report(string.Format(CultureInfo.InvariantCulture, "Testing {0} virtual network(s): {1} probe(s).", networks.Count, probes.Count));
            RunProbes(backend, rows, probes, progress, maxParallelProbes, cancellationToken);

            clock.Stop();
            var report = new VirtualNetworkTestReport
            {
                Networks = networks.Select(n => n.Name).ToArray(),
                Results = rows.ToArray(),
                ProbeCount = rows.Count,
                PassedCount = rows.Count(r => r.Passed),
                ReachabilityFailures = rows.Count(r => !r.Passed && r.Expected == ProbeExpectation.Reachable),
                IsolationFailures = rows.Count(r => !r.Passed && r.Expected == ProbeExpectation.Unreachable),
                Duration = clock.Elapsed,
            };
            return report;
        }

        private static ReachabilityResult Row(VirtualRouter source, string sourceNetwork, VirtualRouter destination, string address, bool same, string? detail) =>
            new ReachabilityResult
            {
                Source = source.Name,
                SourceNetwork = sourceNetwork,
                Destination = destination.Name,
                DestinationNetwork = destination.NetworkName,
                DestinationAddress = address,
                Expected = same ? ProbeExpectation.Reachable : ProbeExpectation.Unreachable,
                Reachable = false,
                Detail = detail,
            };

        /// <summary>A router's addresses without prefix length, distinct, in the order of its interfaces' link names.</summary>
        internal static IReadOnlyList<string> AddressesOf(Snapshot snapshot, VirtualRouter router)
        {
            IEnumerable<string> raw;
            if (snapshot.Inventory.Configurations.TryGetValue(router.Name, out var cfg) && cfg.Interfaces.Any(i => !string.IsNullOrWhiteSpace(i.Address)))
                raw = cfg.Interfaces.OrderBy(i => i.LinkName, StringComparer.OrdinalIgnoreCase).ThenBy(i => i.LinkName, StringComparer.Ordinal).Select(i => i.Address);
            else
                raw = router.Addresses;

            var result = new List<string>();
            var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (var a in raw)
            {
                if (string.IsNullOrWhiteSpace(a)) continue;
                string address = a.Trim();
                int slash = address.IndexOf('/');
                if (slash >= 0) address = address.Substring(0, slash);
                if (address.Length > 0 && seen.Add(address)) result.Add(address);
            }
            return result;
        }

        /// <summary>
        /// Runs the probes on up to <paramref name="parallel"/> worker tasks; the calling thread waits for completions and
        /// reports progress, so <see cref="IProgress{T}"/> is never called from a worker.
        /// </summary>
        private static void RunProbes(IVirtualizationBackend backend, List<ReachabilityResult> rows, List<int> probes,
            IProgress<string>? progress, int parallel, CancellationToken cancellationToken)
        {
            if (probes.Count == 0) return;
            using (var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            using (var completed = new BlockingCollection<(int Row, Exception? Error)>())
            {
                int next = -1;
                void Work()
                {
                    while (!stop.IsCancellationRequested)
                    {
                        int k = Interlocked.Increment(ref next);
                        if (k >= probes.Count) return;
                        var row = rows[probes[k]];
                        Exception? error = null;
                        try
                        {
                            var result = backend.Probe(row.Source, row.DestinationAddress, stop.Token);
                            if (result == null)
                            {
                                row.Detail = "the backend returned no probe result";
                            }
                            else
                            {
                                row.Reachable = result.Reachable;
                                row.RoundTripMilliseconds = result.RoundTripMilliseconds;
                                row.Detail = result.Detail;
                            }
                        }
                        catch (VirtualNetworksException ex)
                        {
                            row.Reachable = false;
                            row.Detail = "probe failed: " + ex.Message;
                        }
                        catch (Exception ex)
                        {
                            error = ex; // cancellation or a bug: stops the run
                        }
                        completed.Add((probes[k], error));
                        if (error != null) return;
                    }
                }

                int workers = Math.Min(parallel, probes.Count);
                var tasks = new Task[workers];
                for (int i = 0; i < workers; i++)
                    tasks[i] = Task.Factory.StartNew(Work, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

                try
                {
                    for (int done = 1; done <= probes.Count; done++)
                    {
                        var (index, error) = completed.Take(cancellationToken);
                        if (error != null)
                        {
                            if (error is OperationCanceledException && cancellationToken.IsCancellationRequested)
                                throw new OperationCanceledException(cancellationToken);
                            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(error).Throw();
                        }
                        if (progress != null)
                        {
                            var r = rows[index];
                            progress.Report(string.Format(CultureInfo.InvariantCulture, "[{0}/{1}] {2} -> {3} ({4}): {5}",
                                done, probes.Count, r.Source, r.Destination, r.DestinationAddress,
                                (r.Reachable ? "reachable" : "unreachable") + (r.Passed ? "" : " (FAILED: expected " + r.Expected.ToString().ToLowerInvariant() + ")")));
                        }
                    }
                }
                finally
                {
                    // On any early exit, stop the workers and wait for them (each honours the token between probes and
                    // passes it to Probe), so nothing touches the backend after we return.
                    stop.Cancel();
                    try { Task.WaitAll(tasks); } catch (AggregateException) { }
                }
            }
        }
    }
}
