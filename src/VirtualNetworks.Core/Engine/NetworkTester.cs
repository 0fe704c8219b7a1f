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
    /// <para>Disabled links: two routers of one network that no path of Up links joins are partitioned: their row is
    /// <see cref="ProbeExpectation.Partitioned"/> (not probed, not a failure). A failed probe between two routers of one
    /// network that run dynamic routing (<see cref="RouterConfiguration.Routing"/>) and that Up links between running routers join is
    /// <see cref="ProbeOutcome.NotConverged"/>, counted apart from reachability failures; a convergence wait probes those
    /// pairs again until they answer or the time is up. An address on a disabled link is not probed either (Partitioned,
    /// Detail <see cref="DisabledLinkDetail"/>): which end a packet reaches first decides whether it answers. Isolation rows
    /// are unchanged.</para>
    /// <para>A probe that throws <see cref="VirtualNetworksException"/> counts as "not reachable" with the message in
    /// Detail. Probes run concurrently (at most <see cref="DefaultMaxParallelProbes"/>), so the backend's Probe must be
    /// thread-safe; <paramref name="progress"/> is only called on the calling thread.</para>
    /// <para>Batched (issue 15): a backend with <see cref="IBatchProbe"/> gets all the addresses one source router probes in
    /// one <see cref="IBatchProbe.ProbeMany"/> call (its guest pings them concurrently), and several source routers are
    /// probed at once (at most <see cref="MaxParallelSources"/>, and at most the number of parallel probes asked for).
    /// Before that, every running router the probes involve is waited for until its guest is ready
    /// (<see cref="IRouterReadiness"/>, when the backend has it), where a single Probe waits for its address's owner each
    /// time. A batch that throws <see cref="VirtualNetworksException"/> makes each of its rows "not reachable" with the
    /// message. Rows, their order and their classification are the same either way.</para>
    /// </remarks>
    public static class NetworkTester
    {
        public const int DefaultMaxParallelProbes = 8;

        /// <summary>
        /// Source routers whose batches run at once (batched backends): twice the host's cores, at least 2, at most 8. The
        /// guests' CPU (the prober in the source guest, forwarding in every guest on the way), not waiting, bounds the
        /// rate, so more batches than cores gain nothing; two per core hide the latency of each request's start and of its
        /// slowest reply (measurements in the issue-15 reports).
        /// </summary>
        public static int MaxParallelSources => Math.Max(2, Math.Min(8, 2 * Environment.ProcessorCount));

        /// <summary>
        /// As the overload without <paramref name="maxParallelSources"/> (which passes <see cref="MaxParallelSources"/>), with a
        /// chosen number of source routers probed at once by a batched backend (1 = one after the other; for measurements).
        /// </summary>
        public static VirtualNetworkTestReport Run(IVirtualizationBackend backend, Snapshot snapshot, IReadOnlyCollection<string>? networkNames,
            IProgress<string>? progress, int maxParallelProbes, int maxParallelSources, TimeSpan convergenceTimeout, TimeSpan pollInterval,
            CancellationToken cancellationToken)
        {
            if (maxParallelSources < 1) throw new ArgumentOutOfRangeException(nameof(maxParallelSources), "At least one source router must be allowed to probe.");
            return RunCore(backend, snapshot, networkNames, progress, maxParallelProbes, maxParallelSources, convergenceTimeout, pollInterval, cancellationToken);
        }

        /// <summary>Readiness waits that run at once before a batched run (each is mostly waiting for a guest's answer).</summary>
        public const int MaxParallelReadinessWaits = 16;

        /// <summary>How long a batched run waits for one router's guest to be ready before it probes anyway.</summary>
        public static readonly TimeSpan ReadinessTimeout = TimeSpan.FromSeconds(90);

        public const string NoAddressDetail = "no address configured";

        public static VirtualNetworkTestReport Run(IVirtualizationBackend backend, Snapshot snapshot, IReadOnlyCollection<string>? networkNames,
            IProgress<string>? progress, CancellationToken cancellationToken) =>
            Run(backend, snapshot, networkNames, progress, DefaultMaxParallelProbes, cancellationToken);

        /// <summary>As <see cref="Run(IVirtualizationBackend, Snapshot, IReadOnlyCollection{string}, IProgress{string}, CancellationToken)"/>
        /// with a chosen number of concurrent probes (1 = one after the other).</summary>
        public static VirtualNetworkTestReport Run(IVirtualizationBackend backend, Snapshot snapshot, IReadOnlyCollection<string>? networkNames,
            IProgress<string>? progress, int maxParallelProbes, CancellationToken cancellationToken) =>
            Run(backend, snapshot, networkNames, progress, maxParallelProbes, TimeSpan.Zero, DefaultConvergencePollInterval, cancellationToken);

        /// <summary>Pause between two rounds of re-probing the not-converged pairs.</summary>
        public static readonly TimeSpan DefaultConvergencePollInterval = TimeSpan.FromMilliseconds(500);

        /// <summary>The longest convergence wait Test-VirtualNetwork accepts.</summary>
        public const int MaxConvergenceTimeoutSeconds = 3600;

        /// <summary>
        /// As <see cref="Run(IVirtualizationBackend, Snapshot, IReadOnlyCollection{string}, IProgress{string}, int, CancellationToken)"/>;
        /// when <paramref name="convergenceTimeout"/> is positive, the pairs that came out <see cref="ProbeOutcome.NotConverged"/>
        /// are probed again every <paramref name="pollInterval"/> until all of them answer or the time is up (the report
        /// then gives <see cref="VirtualNetworkTestReport.ConvergenceTime"/> or <see cref="VirtualNetworkTestReport.ConvergenceTimedOut"/>).
        /// </summary>
        public static VirtualNetworkTestReport Run(IVirtualizationBackend backend, Snapshot snapshot, IReadOnlyCollection<string>? networkNames,
            IProgress<string>? progress, int maxParallelProbes, TimeSpan convergenceTimeout, TimeSpan pollInterval, CancellationToken cancellationToken) =>
            RunCore(backend, snapshot, networkNames, progress, maxParallelProbes, Math.Min(maxParallelProbes, MaxParallelSources), convergenceTimeout, pollInterval,
                cancellationToken);

        private static VirtualNetworkTestReport RunCore(IVirtualizationBackend backend, Snapshot snapshot, IReadOnlyCollection<string>? networkNames,
            IProgress<string>? progress, int maxParallelProbes, int maxParallelSources, TimeSpan convergenceTimeout, TimeSpan pollInterval,
            CancellationToken cancellationToken)
        {
            if (convergenceTimeout < TimeSpan.Zero || convergenceTimeout > TimeSpan.FromSeconds(MaxConvergenceTimeoutSeconds))
                throw new VirtualNetworksException(ErrorIds.InvalidProbe, ErrorKind.InvalidArgument, convergenceTimeout.ToString(),
                    $"The convergence wait must be 0 to {MaxConvergenceTimeoutSeconds} seconds.");
            if (pollInterval <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(pollInterval));
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
            var upComponent = UpComponents(snapshot, runningOnly: false);
            // Paths the routing could use: Up links between routers that run (a stopped router forwards nothing).
            var forwardingComponent = UpComponents(snapshot, runningOnly: true);
            bool Forwarding(string a, string b) =>
                forwardingComponent.TryGetValue(a, out int x) && forwardingComponent.TryGetValue(b, out int y) && x == y;
            var onDisabledLinks = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (var l in snapshot.Links.Where(l => l.State != LinkState.Up))
                foreach (var a in new[] { l.FromAddress, l.ToAddress })
                    if (!string.IsNullOrEmpty(a)) onDisabledLinks.Add(a!.Split('/')[0]);
            foreach (var cfg in snapshot.Inventory.Configurations.Values)
                foreach (var i in cfg.Interfaces.Where(i => snapshot.FindLink(i.LinkName)?.State is LinkState st && st != LinkState.Up))
                    if (!string.IsNullOrEmpty(i.Address)) onDisabledLinks.Add(i.Address.Split('/')[0]);
            bool Partitioned(string a, string b) =>
                !(upComponent.TryGetValue(a, out int x) && upComponent.TryGetValue(b, out int y) && x == y);
            bool Dynamic(string router) =>
                snapshot.Inventory.Configurations.TryGetValue(router, out var cfg) && cfg?.Routing != null;

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
                        if (same && Partitioned(source.Name, destination.Name))
                        {
                            // Disabled links cut the two apart: nothing can answer, so nothing is probed.
                            var row = Row(source, network.Name, destination, "", same, PartitionedDetail);
                            row.Expected = ProbeExpectation.Partitioned;
                            rows.Add(row);
                            continue;
                        }
                        var list = addresses[destination.Name];
                        if (list.Count == 0)
                        {
                            if (same && networkHasLinks.TryGetValue(network.Name, out bool linked) && linked)
                                rows.Add(Row(source, network.Name, destination, "", same, NoAddressDetail));
                            continue;
                        }
                        foreach (var address in list)
                        {
                            if (same && onDisabledLinks.Contains(address))
                            {
                                // The address sits on a disabled link: whether it answers depends on which end a packet
                                // reaches first, so it is neither expected nor a failure.
                                var row = Row(source, network.Name, destination, address, same, DisabledLinkDetail);
                                row.Expected = ProbeExpectation.Partitioned;
                                rows.Add(row);
                                continue;
                            }
                            probes.Add(rows.Count);
                            rows.Add(Row(source, network.Name, destination, address, same, null));
                        }
                    }
                }
            }

            progress?.Report(string.Format(CultureInfo.InvariantCulture, "Testing {0} virtual network(s): {1} probe(s).", networks.Count, probes.Count));
            bool batched = backend is IBatchProbe;
            if (batched && backend is IRouterReadiness readiness)
            {
                // Probes from a booted guest to one still booting would fail: wait for every running router involved.
                var involved = new HashSet<string>(cmp);
                foreach (int i in probes) { involved.Add(rows[i].Source); involved.Add(rows[i].Destination); }
                WaitForGuests(readiness, allRouters.Where(r => involved.Contains(r.Name) && r.State == RouterState.Running).Select(r => r.Name).ToList(),
                    progress, cancellationToken);
            }
            int sent = RunProbes(backend, rows, probes, progress, maxParallelProbes, maxParallelSources, cancellationToken);

            // A failed probe inside a network with dynamic routing between routers that Up links still join: the routing
            // has not converged (yet). With static routes it is a plain reachability failure.
            void Classify(IEnumerable<int> indexes)
            {
                foreach (int i in indexes)
                {
                    var r = rows[i];
                    r.NotConverged = r.Expected == ProbeExpectation.Reachable && !r.Reachable && !string.IsNullOrEmpty(r.DestinationAddress) &&
                                     Dynamic(r.Source) && Dynamic(r.Destination) && Forwarding(r.Source, r.Destination);
                }
            }
            Classify(probes);

            TimeSpan? convergence = null;
            bool timedOut = false;
            var waiting = probes.Where(i => rows[i].NotConverged).ToList();
            if (convergenceTimeout > TimeSpan.Zero && waiting.Count > 0)
            {
                var wait = Stopwatch.StartNew();
                progress?.Report(string.Format(CultureInfo.InvariantCulture,
                    "{0} pair(s) not converged; probing them again for up to {1:0} s.", waiting.Count, convergenceTimeout.TotalSeconds));
                while (waiting.Count > 0)
                {
                    var left = convergenceTimeout - wait.Elapsed;
                    if (left <= TimeSpan.Zero) break;
                    if (cancellationToken.WaitHandle.WaitOne(left < pollInterval ? left : pollInterval))
                        cancellationToken.ThrowIfCancellationRequested();
                    foreach (int i in waiting) { rows[i].Reachable = false; rows[i].Detail = null; rows[i].RoundTripMilliseconds = null; }
                    sent += RunProbes(backend, rows, waiting, progress, maxParallelProbes, maxParallelSources, cancellationToken);
                    Classify(waiting);
                    waiting = waiting.Where(i => rows[i].NotConverged).ToList();
                }
                wait.Stop();
                if (waiting.Count == 0) convergence = wait.Elapsed;
                else timedOut = true;
            }

            clock.Stop();
            var report = new VirtualNetworkTestReport
            {
                Networks = networks.Select(n => n.Name).ToArray(),
                Results = rows.ToArray(),
                ProbeCount = rows.Count,
                PassedCount = rows.Count(r => r.Passed),
                ReachabilityFailures = rows.Count(r => r.Outcome == ProbeOutcome.Unreachable),
                ConvergenceFailures = rows.Count(r => r.Outcome == ProbeOutcome.NotConverged),
                IsolationFailures = rows.Count(r => r.Outcome == ProbeOutcome.IsolationBreached),
                PartitionedCount = rows.Count(r => r.Outcome == ProbeOutcome.Partitioned),
                ConvergenceTime = convergence,
                ConvergenceTimedOut = timedOut,
                Duration = clock.Elapsed,
                ProbesSent = sent,
                Batched = batched,
                SourceRouters = probes.Select(i => rows[i].Source).Distinct(cmp).Count(),
            };
            progress?.Report(report.Summary);
            return report;
        }

        public const string PartitionedDetail = "partitioned: no path of Up links joins the two routers";
        public const string DisabledLinkDetail = "the address is on a disabled link";

        /// <summary>
        /// Each router's component over the links that are Up (routers of no Up link are components of their own); with
        /// <paramref name="runningOnly"/>, only links whose two routers run count.
        /// </summary>
        private static Dictionary<string, int> UpComponents(Snapshot snapshot, bool runningOnly)
        {
            var cmp = StringComparer.OrdinalIgnoreCase;
            var component = new Dictionary<string, int>(cmp);
            var adjacency = new Dictionary<string, List<string>>(cmp);
            bool Runs(string router) => snapshot.FindRouter(router)?.State == RouterState.Running;
            foreach (var l in snapshot.Links.Where(l => l.State == LinkState.Up && (!runningOnly || (Runs(l.From) && Runs(l.To)))))
            {
                if (!adjacency.TryGetValue(l.From, out var a)) adjacency[l.From] = a = new List<string>();
                if (!adjacency.TryGetValue(l.To, out var b)) adjacency[l.To] = b = new List<string>();
                a.Add(l.To);
                b.Add(l.From);
            }
            int next = 0;
            foreach (var r in snapshot.Routers)
            {
                if (component.ContainsKey(r.Name)) continue;
                int id = next++;
                var queue = new Queue<string>();
                component[r.Name] = id;
                queue.Enqueue(r.Name);
                while (queue.Count > 0)
                {
                    var v = queue.Dequeue();
                    if (!adjacency.TryGetValue(v, out var nbrs)) continue;
                    foreach (var u in nbrs)
                        if (!component.ContainsKey(u)) { component[u] = id; queue.Enqueue(u); }
                }
            }
            return component;
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
        /// Waits until the guests of <paramref name="routers"/> are ready, on up to <see cref="MaxParallelReadinessWaits"/>
        /// threads. A router that is not ready in time, stopped meanwhile or reports a failed configuration is left to its
        /// probes (they fail and say why); only cancellation and unexpected exceptions end the run.
        /// </summary>
        private static void WaitForGuests(IRouterReadiness readiness, IReadOnlyList<string> routers, IProgress<string>? progress, CancellationToken cancellationToken)
        {
            if (routers.Count == 0) return;
            progress?.Report(string.Format(CultureInfo.InvariantCulture, "Waiting for {0} router(s) to be ready.", routers.Count));
            int next = -1;
            Exception? failure = null;
            void Work()
            {
                while (Volatile.Read(ref failure) == null)
                {
                    int k = Interlocked.Increment(ref next);
                    if (k >= routers.Count) return;
                    try
                    {
                        readiness.WaitUntilReady(routers[k], ReadinessTimeout, cancellationToken);
                    }
                    catch (VirtualNetworksException)
                    {
                        // Not running, paused or a failed configuration: its probes say so.
                    }
                    catch (Exception ex)
                    {
                        Interlocked.CompareExchange(ref failure, ex, null);
                        return;
                    }
                }
            }
            var tasks = Enumerable.Range(0, Math.Min(MaxParallelReadinessWaits, routers.Count))
                .Select(_ => Task.Factory.StartNew(Work, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();
            Task.WaitAll(tasks);
            if (failure != null)
            {
                if (failure is OperationCanceledException && cancellationToken.IsCancellationRequested)
                    throw new OperationCanceledException(cancellationToken);
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failure).Throw();
            }
        }

        /// <summary>
        /// Runs the probes on up to <paramref name="parallel"/> worker tasks (batched: one batch per source router, on up to
        /// <paramref name="parallelSources"/> of them); the calling thread waits for completions and reports progress, so
        /// <see cref="IProgress{T}"/> is never called from a worker. Returns the number of probes sent.
        /// </summary>
        private static int RunProbes(IVirtualizationBackend backend, List<ReachabilityResult> rows, List<int> probes,
            IProgress<string>? progress, int parallel, int parallelSources, CancellationToken cancellationToken)
        {
            if (probes.Count == 0) return 0;
            if (backend is IBatchProbe batch)
            {
                RunBatches(batch, rows, probes, progress, parallelSources, cancellationToken);
                return probes.Count;
            }
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
            return probes.Count;
        }

        /// <summary>
        /// The probes of <paramref name="probes"/> grouped by source router (in row order), one <see cref="IBatchProbe.ProbeMany"/>
        /// per group, on up to <paramref name="parallel"/> worker tasks; progress as in <see cref="RunProbes"/>, one line per row.
        /// </summary>
        internal static IReadOnlyList<KeyValuePair<string, List<int>>> BatchesOf(List<ReachabilityResult> rows, IEnumerable<int> probes)
        {
            var groups = new List<KeyValuePair<string, List<int>>>();
            var bySource = new Dictionary<string, List<int>>(StringComparer.OrdinalIgnoreCase);
            foreach (int i in probes)
            {
                if (!bySource.TryGetValue(rows[i].Source, out var list))
                {
                    bySource[rows[i].Source] = list = new List<int>();
                    groups.Add(new KeyValuePair<string, List<int>>(rows[i].Source, list));
                }
                list.Add(i);
            }
            return groups;
        }

        private static void RunBatches(IBatchProbe backend, List<ReachabilityResult> rows, List<int> probes,
            IProgress<string>? progress, int parallel, CancellationToken cancellationToken)
        {
            var groups = BatchesOf(rows, probes);
            using (var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            using (var completed = new BlockingCollection<(int Group, Exception? Error)>())
            {
                int next = -1;
                void Work()
                {
                    while (!stop.IsCancellationRequested)
                    {
                        int k = Interlocked.Increment(ref next);
                        if (k >= groups.Count) return;
                        var group = groups[k];
                        var indexes = group.Value;
                        Exception? error = null;
                        try
                        {
                            var answers = backend.ProbeMany(group.Key, indexes.Select(i => rows[i].DestinationAddress).ToList(), stop.Token);
                            for (int j = 0; j < indexes.Count; j++)
                            {
                                var row = rows[indexes[j]];
                                var result = answers != null && answers.Count == indexes.Count ? answers[j] : null;
                                if (result == null)
                                {
                                    row.Reachable = false;
                                    row.Detail = answers == null || answers.Count == indexes.Count
                                        ? "the backend returned no probe result"
                                        : string.Format(CultureInfo.InvariantCulture, "the backend returned {0} probe result(s) for {1} address(es)", answers.Count, indexes.Count);
                                    continue;
                                }
                                row.Reachable = result.Reachable;
                                row.RoundTripMilliseconds = result.RoundTripMilliseconds;
                                row.Detail = result.Detail;
                            }
                        }
                        catch (VirtualNetworksException ex)
                        {
                            foreach (int i in indexes) { rows[i].Reachable = false; rows[i].Detail = "probe failed: " + ex.Message; }
                        }
                        catch (Exception ex)
                        {
                            error = ex; // cancellation or a bug: stops the run
                        }
                        completed.Add((k, error));
                        if (error != null) return;
                    }
                }

                int workers = Math.Max(1, Math.Min(parallel, groups.Count));
                var tasks = new Task[workers];
                for (int i = 0; i < workers; i++)
                    tasks[i] = Task.Factory.StartNew(Work, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

                try
                {
                    int done = 0;
                    for (int g = 0; g < groups.Count; g++)
                    {
                        var (index, error) = completed.Take(cancellationToken);
                        if (error != null)
                        {
                            if (error is OperationCanceledException && cancellationToken.IsCancellationRequested)
                                throw new OperationCanceledException(cancellationToken);
                            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(error).Throw();
                        }
                        foreach (int i in groups[index].Value)
                        {
                            done++;
                            if (progress == null) continue;
                            var r = rows[i];
                            progress.Report(string.Format(CultureInfo.InvariantCulture, "[{0}/{1}] {2} -> {3} ({4}): {5}",
                                done, probes.Count, r.Source, r.Destination, r.DestinationAddress,
                                (r.Reachable ? "reachable" : "unreachable") + (r.Passed ? "" : " (FAILED: expected " + r.Expected.ToString().ToLowerInvariant() + ")")));
                        }
                    }
                }
                finally
                {
                    stop.Cancel();
                    try { Task.WaitAll(tasks); } catch (AggregateException) { }
                }
            }
        }
    }
}
