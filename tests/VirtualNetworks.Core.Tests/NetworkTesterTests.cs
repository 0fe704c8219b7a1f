using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using VirtualNetworks.Backends;
using VirtualNetworks.Engine;
using Xunit;

namespace VirtualNetworks.Core.Tests
{
    public class NetworkTesterTests
    {
        /// <summary>A backend whose only working method is Probe, answering from a table ("router|address" -> reachable).</summary>
        private class FakeBackend : IVirtualizationBackend
        {
            private int _running;
            public readonly ConcurrentDictionary<string, bool> Table = new ConcurrentDictionary<string, bool>(StringComparer.OrdinalIgnoreCase);
            public readonly ConcurrentBag<string> Calls = new ConcurrentBag<string>();
            public readonly HashSet<string> Throwing = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            public int MaxConcurrent;
            public TimeSpan Delay = TimeSpan.Zero;
            public Action<string>? OnProbe;

            public string Kind => "Fake";
            public BackendCapabilities Capabilities { get; } = new BackendCapabilities();

            public void Reach(string from, string address, bool reachable = true) => Table[from + "|" + address] = reachable;

            public ProbeResult Probe(string fromRouter, string address, CancellationToken cancellationToken)
            {
                int now = Interlocked.Increment(ref _running);
                int seen;
                while ((seen = MaxConcurrent) < now && Interlocked.CompareExchange(ref MaxConcurrent, now, seen) != seen) { }
                try
                {
                    string key = fromRouter + "|" + address;
                    Calls.Add(key);
                    OnProbe?.Invoke(key);
                    if (Delay > TimeSpan.Zero) cancellationToken.WaitHandle.WaitOne(Delay);
                    cancellationToken.ThrowIfCancellationRequested();
                    if (Throwing.Contains(key))
                        throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.NotSpecified, fromRouter, "router is off");
                    bool ok = Table.TryGetValue(key, out bool r) && r;
                    return new ProbeResult { Reachable = ok, RoundTripMilliseconds = ok ? 1.5 : (double?)null, Detail = ok ? null : "timeout" };
                }
                finally
                {
                    Interlocked.Decrement(ref _running);
                }
            }

            public BackendInventory GetInventory(CancellationToken cancellationToken) => throw new NotSupportedException();
            public bool ImageExists(string image, string host) => throw new NotSupportedException();
            public void CreateRouter(RouterSpec spec, CancellationToken cancellationToken) => throw new NotSupportedException();
            public void RemoveRouter(string name, CancellationToken cancellationToken) => throw new NotSupportedException();
            public void StartRouter(string name, CancellationToken cancellationToken) => throw new NotSupportedException();
            public void StopRouter(string name, bool turnOff, CancellationToken cancellationToken) => throw new NotSupportedException();
            public void SuspendRouter(string name, CancellationToken cancellationToken) => throw new NotSupportedException();
            public void ResumeRouter(string name, CancellationToken cancellationToken) => throw new NotSupportedException();
            public void ConfigureRouter(RouterConfiguration configuration, CancellationToken cancellationToken) => throw new NotSupportedException();
            public void MoveRouter(string name, string destinationHost, MigrationMode mode, IProgress<string>? progress, CancellationToken cancellationToken) => throw new NotSupportedException();
            public void CreateLink(LinkSpec spec, CancellationToken cancellationToken) => throw new NotSupportedException();
            public void RemoveLink(string name, CancellationToken cancellationToken) => throw new NotSupportedException();
            public void SetLinkBandwidth(string name, long? bitsPerSecond, CancellationToken cancellationToken) => throw new NotSupportedException();
            public void Dispose() { }
        }

        /// <summary>Collects reports synchronously, with the thread each came from.</summary>
        private sealed class Recorder : IProgress<string>
        {
            public readonly List<(string Text, int Thread)> Reports = new List<(string, int)>();
            public void Report(string value) { lock (Reports) Reports.Add((value, Environment.CurrentManagedThreadId)); }
        }

        /// <summary>
        /// red: a - b - c (a, b on h1; c on h2); blue: x - y. Addresses: a 10.0.0.0 (ab); b 10.0.0.1 (ab), 10.0.0.2 (bc);
        /// c 10.0.0.3 (bc); x 10.1.0.0; y 10.1.0.1 (only in Addresses, no configuration).
        /// </summary>
        private static BackendInventory Inventory()
        {
            var inv = new BackendInventory();
            inv.Hosts.Add(new VirtualHost { Name = "h1", Kind = "Fake" });
            inv.Hosts.Add(new VirtualHost { Name = "h2", Kind = "Fake" });
            void Router(string name, string host, string label) =>
                inv.Routers.Add(new VirtualRouter { Name = name, ComputerName = host, NetworkLabel = label, State = RouterState.Running });
            Router("c", "h2", "red");
            Router("B", "h1", "red");
            Router("a", "h1", "red");
            Router("y", "h2", "blue");
            Router("x", "h1", "blue");
            inv.Links.Add(new VirtualLink { Name = "ab", From = "a", To = "B" });
            inv.Links.Add(new VirtualLink { Name = "bc", From = "B", To = "c" });
            inv.Links.Add(new VirtualLink { Name = "xy", From = "x", To = "y" });

            void Config(string router, params (string Link, string Address)[] interfaces)
            {
                var cfg = new RouterConfiguration { RouterName = router };
                foreach (var i in interfaces) cfg.Interfaces.Add(new InterfaceConfiguration { LinkName = i.Link, Address = i.Address });
                inv.Configurations[router] = cfg;
            }
            Config("a", ("ab", "10.0.0.0/31"));
            Config("b", ("bc", "10.0.0.2/31"), ("ab", "10.0.0.1/31")); // out of order on purpose; name in other case
            Config("c", ("bc", "10.0.0.3/31"));
            Config("x", ("xy", "10.1.0.0/31"));
            inv.Routers.Single(r => r.Name == "y").Addresses = new[] { "10.1.0.1/31" };
            return inv;
        }

        /// <summary>Every same-network pair reaches; nothing crosses networks.</summary>
        private static FakeBackend Healthy()
        {
            var f = new FakeBackend();
            foreach (var from in new[] { "a", "B", "c" })
                foreach (var address in new[] { "10.0.0.0", "10.0.0.1", "10.0.0.2", "10.0.0.3" })
                    f.Reach(from, address);
            foreach (var from in new[] { "x", "y" })
                foreach (var address in new[] { "10.1.0.0", "10.1.0.1" })
                    f.Reach(from, address);
            return f;
        }

        private static string Key(ReachabilityResult r) => r.Source + ">" + r.Destination + "@" + r.DestinationAddress;

        [Fact]
        public void Healthy_AllPass_InDeterministicOrder()
        {
            var snapshot = new Snapshot(Inventory());
            var report = NetworkTester.Run(Healthy(), snapshot, null, null, CancellationToken.None);

            Assert.True(report.Passed, report.ToString());
            Assert.Equal(new[] { "blue", "red" }, report.Networks);

            var expected = new[]
            {
                // blue sources: x, y; destinations all other routers by name: a, B, c, x/y
                "x>a@10.0.0.0", "x>B@10.0.0.1", "x>B@10.0.0.2", "x>c@10.0.0.3", "x>y@10.1.0.1",
                "y>a@10.0.0.0", "y>B@10.0.0.1", "y>B@10.0.0.2", "y>c@10.0.0.3", "y>x@10.1.0.0",
                // red sources: a, B, c
                "a>B@10.0.0.1", "a>B@10.0.0.2", "a>c@10.0.0.3", "a>x@10.1.0.0", "a>y@10.1.0.1",
                "B>a@10.0.0.0", "B>c@10.0.0.3", "B>x@10.1.0.0", "B>y@10.1.0.1",
                "c>a@10.0.0.0", "c>B@10.0.0.1", "c>B@10.0.0.2", "c>x@10.1.0.0", "c>y@10.1.0.1",
            };
            Assert.Equal(expected, report.Results.Select(Key));
            Assert.Equal(24, report.ProbeCount);
            Assert.Equal(24, report.PassedCount);
            Assert.Equal(0, report.FailedCount);
            Assert.True(report.Duration >= TimeSpan.Zero);

            var xa = report.Results[0];
            Assert.Equal("blue", xa.SourceNetwork);
            Assert.Equal("red", xa.DestinationNetwork);
            Assert.Equal(ProbeExpectation.Unreachable, xa.Expected);
            Assert.False(xa.Reachable);
            var ab = report.Results.Single(r => Key(r) == "a>B@10.0.0.1");
            Assert.Equal(ProbeExpectation.Reachable, ab.Expected);
            Assert.True(ab.Reachable);
            Assert.Equal(1.5, ab.RoundTripMilliseconds);
            Assert.Equal("red", ab.SourceNetwork);
            Assert.Equal("red", ab.DestinationNetwork);
        }

        [Fact]
        public void Failures_AreCountedByKind()
        {
            var fake = Healthy();
            fake.Reach("a", "10.0.0.3", false);   // reachability failure
            fake.Reach("x", "10.0.0.0");          // isolation failure
            fake.Reach("c", "10.1.0.1");          // isolation failure
            var report = NetworkTester.Run(fake, new Snapshot(Inventory()), null, null, CancellationToken.None);

            Assert.False(report.Passed);
            Assert.Equal(1, report.ReachabilityFailures);
            Assert.Equal(2, report.IsolationFailures);
            Assert.Equal(3, report.FailedCount);
            Assert.Equal(21, report.PassedCount);
            Assert.Equal(new[] { "x>a@10.0.0.0", "a>c@10.0.0.3", "c>y@10.1.0.1" }, report.Results.Where(r => !r.Passed).Select(Key));
            Assert.Equal("timeout", report.Results.Single(r => Key(r) == "a>c@10.0.0.3").Detail);
            Assert.StartsWith("FAILED", report.ToString());
        }

        [Fact]
        public void NetworkFilter_IsCaseInsensitive_AndStillProbesOtherNetworks()
        {
            var fake = Healthy();
            var report = NetworkTester.Run(fake, new Snapshot(Inventory()), new[] { "BLUE" }, null, CancellationToken.None);
            Assert.Equal(new[] { "blue" }, report.Networks);
            Assert.Equal(10, report.ProbeCount);
            Assert.All(report.Results, r => Assert.Contains(r.Source, new[] { "x", "y" }));
            Assert.Contains(report.Results, r => r.DestinationNetwork == "red");
            Assert.Equal(10, fake.Calls.Count);

            var none = NetworkTester.Run(fake, new Snapshot(Inventory()), new[] { "nope" }, null, CancellationToken.None);
            Assert.Empty(none.Results);
            Assert.True(none.Passed);
        }

        [Fact]
        public void RouterWithoutAddress_IsAReachabilityFailure_ForItsNetworkOnly()
        {
            var inv = Inventory();
            inv.Routers.Add(new VirtualRouter { Name = "d", ComputerName = "h1", NetworkLabel = "red" });
            inv.Links.Add(new VirtualLink { Name = "cd", From = "c", To = "d" });
            var report = NetworkTester.Run(Healthy(), new Snapshot(inv), null, null, CancellationToken.None);

            var rows = report.Results.Where(r => r.Destination == "d").ToList();
            Assert.Equal(new[] { "a", "B", "c" }, rows.Select(r => r.Source)); // no rows from blue: nothing to leak to
            Assert.All(rows, r =>
            {
                Assert.Equal(NetworkTester.NoAddressDetail, r.Detail);
                Assert.Equal("", r.DestinationAddress);
                Assert.Equal(ProbeExpectation.Reachable, r.Expected);
                Assert.False(r.Passed);
            });
            // d itself is a source: its 4 probes to its network went to the backend, which says unreachable.
            Assert.Equal(4, report.Results.Count(r => r.Source == "d" && r.Expected == ProbeExpectation.Reachable && !r.Passed));
            Assert.Equal(3 + 4, report.ReachabilityFailures);
            Assert.Equal(0, report.IsolationFailures);
        }

        [Fact]
        public void ProbeError_IsRecordedAsUnreachable()
        {
            var fake = Healthy();
            fake.Throwing.Add("a|10.0.0.1");
            fake.Throwing.Add("a|10.1.0.0");
            var report = NetworkTester.Run(fake, new Snapshot(Inventory()), null, null, CancellationToken.None);
            var failed = report.Results.Single(r => Key(r) == "a>B@10.0.0.1");
            Assert.False(failed.Reachable);
            Assert.Contains("router is off", failed.Detail);
            Assert.Equal(1, report.ReachabilityFailures);
            Assert.True(report.Results.Single(r => Key(r) == "a>x@10.1.0.0").Passed);
        }

        [Fact]
        public void NoProbeSupport_IsOperationNotSupported()
        {
            var fake = Healthy();
            fake.Capabilities.SupportsProbes = false;
            var ex = Assert.Throws<VirtualNetworksException>(() =>
                NetworkTester.Run(fake, new Snapshot(Inventory()), null, null, CancellationToken.None));
            Assert.Equal(ErrorIds.OperationNotSupported, ex.ErrorId);
            Assert.Empty(fake.Calls);
        }

        [Fact]
        public void Parallel_IsLimited_OrderStable_ProgressOnCallingThread()
        {
            var inv = new BackendInventory();
            for (int i = 0; i < 12; i++)
            {
                string name = "r" + i.ToString("00");
                inv.Routers.Add(new VirtualRouter { Name = name, ComputerName = "h", NetworkLabel = "big" });
                inv.Routers.Single(r => r.Name == name).Addresses = new[] { "10.9.0." + i + "/31" };
                if (i > 0) inv.Links.Add(new VirtualLink { Name = "l" + i, From = "r" + (i - 1).ToString("00"), To = name });
            }
            var fake = new FakeBackend { Delay = TimeSpan.FromMilliseconds(15) };
            var sequential = NetworkTester.Run(new FakeBackend(), new Snapshot(inv), null, null, 1, CancellationToken.None);

            var recorder = new Recorder();
            int caller = Environment.CurrentManagedThreadId;
            var report = NetworkTester.Run(fake, new Snapshot(inv), null, recorder, CancellationToken.None);

            Assert.Equal(132, report.ProbeCount);
            Assert.Equal(sequential.Results.Select(Key), report.Results.Select(Key));
            Assert.InRange(fake.MaxConcurrent, 2, NetworkTester.DefaultMaxParallelProbes);
            Assert.Equal(134, recorder.Reports.Count); // a line before, one per probe, a summary after
            Assert.All(recorder.Reports, r => Assert.Equal(caller, r.Thread));
            Assert.StartsWith("Testing 1 virtual network(s): 132 probe(s).", recorder.Reports[0].Text);
            Assert.StartsWith("[132/132] ", recorder.Reports[132].Text);
            Assert.StartsWith("132 probe(s) from 12 router(s) in ", recorder.Reports[133].Text);
            Assert.Contains("(one probe per request)", recorder.Reports[133].Text);
            Assert.False(report.Batched);
            Assert.Equal(132, report.ProbesSent);
        }

        [Fact]
        public void Cancellation_StopsTheRun()
        {
            var fake = Healthy();
            fake.Delay = TimeSpan.FromMilliseconds(50);
            using (var cts = new CancellationTokenSource())
            {
                fake.OnProbe = _ => { if (fake.Calls.Count >= 3) cts.Cancel(); };
                Assert.ThrowsAny<OperationCanceledException>(() =>
                    NetworkTester.Run(fake, new Snapshot(Inventory()), null, null, 2, cts.Token));
                int calls = fake.Calls.Count;
                Assert.True(calls < 24, "all probes ran despite cancellation");
                Thread.Sleep(200);
                Assert.Equal(calls, fake.Calls.Count); // no worker keeps probing after Run returned
            }
        }

        [Fact]
        public void UnexpectedBackendException_Propagates()
        {
            var fake = Healthy();
            fake.OnProbe = key => { if (key == "B|10.0.0.0") throw new InvalidOperationException("bug"); };
            var ex = Assert.Throws<InvalidOperationException>(() =>
                NetworkTester.Run(fake, new Snapshot(Inventory()), null, null, CancellationToken.None));
            Assert.Equal("bug", ex.Message);
        }

        [Fact]
        public void Addresses_ComeFromConfiguration_PrefixStripped_InLinkOrder()
        {
            var snapshot = new Snapshot(Inventory());
            Assert.Equal(new[] { "10.0.0.1", "10.0.0.2" }, NetworkTester.AddressesOf(snapshot, snapshot.FindRouter("B")!));
            Assert.Equal(new[] { "10.1.0.1" }, NetworkTester.AddressesOf(snapshot, snapshot.FindRouter("y")!));
        }

        // ---- issue 14: disabled links and dynamic routing ----------------------------------------------------------------

        private static BackendInventory WithOspf(BackendInventory inv, params string[] routers)
        {
            foreach (var r in routers)
                inv.Configurations[r].Routing = new RoutingConfiguration { RouterId = "10.9.9." + (routers.ToList().IndexOf(r) + 1) };
            return inv;
        }

        [Fact]
        public void DisabledLinks_PartitionPairs_WhichAreNotProbedNorFailures()
        {
            var inv = Inventory();
            inv.Links.Single(l => l.Name == "bc").State = LinkState.CablePulled;
            var backend = Healthy();
            var report = NetworkTester.Run(backend, new Snapshot(inv), new[] { "red" }, null, CancellationToken.None);

            Assert.True(report.Passed, report.ToString());
            var partitioned = report.Results.Where(r => r.Outcome == ProbeOutcome.Partitioned).Select(Key).ToList();
            Assert.Contains("a>c@", partitioned);
            Assert.Contains("c>a@", partitioned);
            Assert.Contains("c>B@", partitioned);
            Assert.Contains("a>B@10.0.0.2", partitioned); // B's address on the disabled link
            Assert.Equal(partitioned.Count, report.PartitionedCount);
            Assert.DoesNotContain(backend.Calls, c => c.StartsWith("c|", StringComparison.Ordinal) && c.StartsWith("c|10.0", StringComparison.Ordinal));
            Assert.Contains(report.Results, r => Key(r) == "a>B@10.0.0.1" && r.Outcome == ProbeOutcome.Passed);
            // Isolation is still checked from the cut-off router.
            Assert.Contains(report.Results, r => r.Source == "c" && r.Expected == ProbeExpectation.Unreachable);
        }

        [Fact]
        public void FailedProbe_WithDynamicRouting_IsNotConverged_WithStaticRouting_Unreachable()
        {
            var backend = Healthy();
            backend.Reach("a", "10.0.0.3", reachable: false);

            var asStatic = NetworkTester.Run(backend, new Snapshot(Inventory()), new[] { "red" }, null, CancellationToken.None);
            Assert.Equal((1, 0), (asStatic.ReachabilityFailures, asStatic.ConvergenceFailures));
            Assert.Equal(ProbeOutcome.Unreachable, asStatic.Results.Single(r => Key(r) == "a>c@10.0.0.3").Outcome);

            var asOspf = NetworkTester.Run(backend, new Snapshot(WithOspf(Inventory(), "a", "b", "c")), new[] { "red" }, null, CancellationToken.None);
            Assert.Equal((0, 1), (asOspf.ReachabilityFailures, asOspf.ConvergenceFailures));
            var row = asOspf.Results.Single(r => Key(r) == "a>c@10.0.0.3");
            Assert.True(row.NotConverged);
            Assert.Equal(ProbeOutcome.NotConverged, row.Outcome);
            Assert.False(asOspf.Passed);
            Assert.Null(asOspf.ConvergenceTime);
        }

        [Fact]
        public void FailedProbe_ToAStoppedRouter_IsUnreachable_EvenWithDynamicRouting()
        {
            var backend = Healthy();
            backend.Reach("a", "10.0.0.3", reachable: false);
            var inv = WithOspf(Inventory(), "a", "b", "c");
            inv.Routers.Single(r => r.Name == "c").State = RouterState.Off;
            var report = NetworkTester.Run(backend, new Snapshot(inv), new[] { "red" }, null, CancellationToken.None);
            Assert.Equal(ProbeOutcome.Unreachable, report.Results.Single(r => Key(r) == "a>c@10.0.0.3").Outcome);
            Assert.Equal(0, report.ConvergenceFailures);
        }

        [Fact]
        public void ConvergenceWait_ReprobesOnlyTheNotConvergedPairs_UntilTheyPass()
        {
            var backend = Healthy();
            backend.Reach("a", "10.0.0.3", reachable: false);
            int probesOfPair = 0;
            backend.OnProbe = key =>
            {
                if (key != "a|10.0.0.3") return;
                if (Interlocked.Increment(ref probesOfPair) == 3) backend.Reach("a", "10.0.0.3"); // converges on the 3rd probe
            };
            var report = NetworkTester.Run(backend, new Snapshot(WithOspf(Inventory(), "a", "b", "c")), new[] { "red" }, null,
                NetworkTester.DefaultMaxParallelProbes, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(10), CancellationToken.None);
            Assert.True(report.Passed, report.ToString());
            Assert.NotNull(report.ConvergenceTime);
            Assert.False(report.ConvergenceTimedOut);
            Assert.Equal(3, probesOfPair);
            // Every other pair was probed once.
            Assert.All(backend.Calls.Where(c => c != "a|10.0.0.3").GroupBy(c => c), g => Assert.Single(g));
        }

        [Fact]
        public void ConvergenceWait_IsBounded_AndValidated()
        {
            var backend = Healthy();
            backend.Reach("a", "10.0.0.3", reachable: false);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var report = NetworkTester.Run(backend, new Snapshot(WithOspf(Inventory(), "a", "b", "c")), new[] { "red" }, null,
                NetworkTester.DefaultMaxParallelProbes, TimeSpan.FromMilliseconds(300), TimeSpan.FromMilliseconds(20), CancellationToken.None);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10));
            Assert.True(report.ConvergenceTimedOut);
            Assert.Equal(1, report.ConvergenceFailures);
            Assert.True(backend.Calls.Count(c => c == "a|10.0.0.3") > 2);
            var e = Assert.Throws<VirtualNetworksException>(() => NetworkTester.Run(backend, new Snapshot(Inventory()), null, null,
                1, TimeSpan.FromSeconds(NetworkTester.MaxConvergenceTimeoutSeconds + 1), TimeSpan.FromSeconds(1), CancellationToken.None));
            Assert.Equal(ErrorIds.InvalidProbe, e.ErrorId);
        }

        // ---- issue 15: batched probes ------------------------------------------------------------------------------------

        /// <summary>
        /// <see cref="FakeBackend"/> with <see cref="IBatchProbe"/> (each address answered from the same table, in order) and
        /// <see cref="IRouterReadiness"/>; records every batch and every readiness wait.
        /// </summary>
        private sealed class BatchFake : FakeBackend, IBatchProbe, IRouterReadiness
        {
            private int _batches;
            public int MaxConcurrentBatches;
            public TimeSpan BatchDelay = TimeSpan.Zero;
            public readonly ConcurrentQueue<(string From, string[] Addresses)> Batches = new ConcurrentQueue<(string, string[])>();
            public readonly ConcurrentQueue<string> ReadyWaits = new ConcurrentQueue<string>();
            public readonly HashSet<string> ThrowingSources = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            public Func<string, IReadOnlyList<ProbeResult>, IReadOnlyList<ProbeResult>>? Tamper;
            public bool BatchesStarted => !Batches.IsEmpty;
            public bool ReadyBeforeFirstBatch = true;

            public IReadOnlyList<ProbeResult> ProbeMany(string fromRouter, IReadOnlyList<string> addresses, CancellationToken cancellationToken)
            {
                int now = Interlocked.Increment(ref _batches);
                int seen;
                while ((seen = MaxConcurrentBatches) < now && Interlocked.CompareExchange(ref MaxConcurrentBatches, now, seen) != seen) { }
                try
                {
                    Batches.Enqueue((fromRouter, addresses.ToArray()));
                    if (BatchDelay > TimeSpan.Zero) cancellationToken.WaitHandle.WaitOne(BatchDelay);
                    cancellationToken.ThrowIfCancellationRequested();
                    if (ThrowingSources.Contains(fromRouter))
                        throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.ConnectionError, fromRouter, "channel broke");
                    var results = addresses.Select(a => Probe(fromRouter, a, cancellationToken)).ToList();
                    return Tamper == null ? results : Tamper(fromRouter, results);
                }
                finally
                {
                    Interlocked.Decrement(ref _batches);
                }
            }

            public GuestReadiness WaitUntilReady(string name, TimeSpan timeout, CancellationToken cancellationToken)
            {
                if (BatchesStarted) ReadyBeforeFirstBatch = false;
                ReadyWaits.Enqueue(name);
                if (name == "x") throw new VirtualNetworksException(ErrorIds.RouterNotRunning, ErrorKind.InvalidOperation, name, "not running");
                return new GuestReadiness { Ready = true };
            }
        }

        private static BatchFake HealthyBatch()
        {
            var f = new BatchFake();
            foreach (var kv in Healthy().Table) f.Table[kv.Key] = kv.Value;
            return f;
        }

        [Fact]
        public void Batched_SameRowsAsSingleProbes_OneBatchPerSource_InRowOrder()
        {
            var inv = Inventory();
            var single = Healthy();
            single.Reach("a", "10.0.0.3", false);
            single.Reach("x", "10.0.0.0");
            var batch = HealthyBatch();
            batch.Reach("a", "10.0.0.3", false);
            batch.Reach("x", "10.0.0.0");

            var one = NetworkTester.Run(single, new Snapshot(inv), null, null, CancellationToken.None);
            var many = NetworkTester.Run(batch, new Snapshot(inv), null, null, CancellationToken.None);

            string Row(ReachabilityResult r) => Key(r) + " " + r.Expected + " " + r.Reachable + " " + r.RoundTripMilliseconds + " " + r.Detail + " " + r.Outcome;
            Assert.Equal(one.Results.Select(Row), many.Results.Select(Row));
            Assert.Equal((one.ReachabilityFailures, one.IsolationFailures, one.ProbeCount), (many.ReachabilityFailures, many.IsolationFailures, many.ProbeCount));
            Assert.True(many.Batched);
            Assert.False(one.Batched);
            Assert.Equal(24, many.ProbesSent);
            Assert.Equal(5, many.SourceRouters);

            // One batch per source router, with its addresses in row order; Probe was only called through the batches.
            var batches = batch.Batches.ToList();
            Assert.Equal(5, batches.Count);
            Assert.Equal(new[] { "a", "B", "c", "x", "y" }, batches.Select(b => b.From).OrderBy(n => n, StringComparer.OrdinalIgnoreCase));
            foreach (var b in batches)
                Assert.Equal(many.Results.Where(r => r.Source == b.From).Select(r => r.DestinationAddress), b.Addresses);
            Assert.Equal(24, batch.Calls.Count);

            // Every running router was waited for before the first batch; a router that is not running ("x" throws) did not
            // stop the run.
            Assert.True(batch.ReadyBeforeFirstBatch);
            Assert.Equal(new[] { "a", "B", "c", "x", "y" }, batch.ReadyWaits.OrderBy(n => n, StringComparer.OrdinalIgnoreCase));
        }

        [Fact]
        public void Batched_SourcesRunInParallel_Bounded_ProgressPerRowOnCallingThread()
        {
            var inv = new BackendInventory();
            for (int i = 0; i < 12; i++)
            {
                string name = "r" + i.ToString("00");
                inv.Routers.Add(new VirtualRouter { Name = name, ComputerName = "h", NetworkLabel = "big", State = RouterState.Running });
                inv.Routers.Single(r => r.Name == name).Addresses = new[] { "10.9.0." + i + "/31", "fd00::" + i + "/127" };
                if (i > 0) inv.Links.Add(new VirtualLink { Name = "l" + i, From = "r" + (i - 1).ToString("00"), To = name });
            }
            var fake = new BatchFake { BatchDelay = TimeSpan.FromMilliseconds(60) };
            var recorder = new Recorder();
            int caller = Environment.CurrentManagedThreadId;
            var report = NetworkTester.Run(fake, new Snapshot(inv), null, recorder, CancellationToken.None);

            Assert.Equal(12 * 11 * 2, report.ProbeCount);
            Assert.Equal(12, fake.Batches.Count);
            Assert.All(fake.Batches, b => Assert.Equal(22, b.Addresses.Length));
            Assert.InRange(fake.MaxConcurrentBatches, 2, NetworkTester.MaxParallelSources);
            Assert.All(recorder.Reports, r => Assert.Equal(caller, r.Thread));
            Assert.Equal(2 + 264 + 1, recorder.Reports.Count); // the plan, the readiness wait, one per row, the summary
            Assert.Equal("Waiting for 12 router(s) to be ready.", recorder.Reports[1].Text);
            Assert.StartsWith("[264/264] ", recorder.Reports[265].Text);
            Assert.StartsWith("264 probe(s) from 12 router(s) in ", recorder.Reports[266].Text);
            Assert.Contains("(batched per router)", recorder.Reports[266].Text);

            // One at a time when asked for.
            var sequential = new BatchFake();
            NetworkTester.Run(sequential, new Snapshot(inv), null, null, 1, CancellationToken.None);
            Assert.Equal(1, sequential.MaxConcurrentBatches);
            Assert.Equal(12, sequential.Batches.Count);
        }

        [Fact]
        public void Batched_AFailedBatch_MakesItsRowsUnreachable_OthersStand()
        {
            var fake = HealthyBatch();
            fake.ThrowingSources.Add("B");
            fake.Tamper = (from, results) => from == "c" ? results.Take(results.Count - 1).ToList() : results;
            var report = NetworkTester.Run(fake, new Snapshot(Inventory()), new[] { "red" }, null, CancellationToken.None);

            var fromB = report.Results.Where(r => r.Source == "B").ToList();
            Assert.All(fromB, r => { Assert.False(r.Reachable); Assert.Contains("probe failed: channel broke", r.Detail); });
            var fromC = report.Results.Where(r => r.Source == "c").ToList();
            Assert.All(fromC, r => { Assert.False(r.Reachable); Assert.Equal("the backend returned 4 probe result(s) for 5 address(es)", r.Detail); });
            Assert.All(report.Results.Where(r => r.Source == "a"), r => Assert.True(r.Passed));
            // B's and c's rows inside red fail (reachability); their isolation rows pass (nothing reached).
            Assert.Equal(fromB.Count(r => r.Expected == ProbeExpectation.Reachable) + fromC.Count(r => r.Expected == ProbeExpectation.Reachable),
                report.ReachabilityFailures);
        }

        [Fact]
        public void Batched_ConvergenceWait_ReprobesOnlyTheWaitingPairs_InBatches()
        {
            var backend = HealthyBatch();
            backend.Reach("a", "10.0.0.3", reachable: false);
            int probesOfPair = 0;
            backend.OnProbe = key =>
            {
                if (key != "a|10.0.0.3") return;
                if (Interlocked.Increment(ref probesOfPair) == 3) backend.Reach("a", "10.0.0.3");
            };
            var report = NetworkTester.Run(backend, new Snapshot(WithOspf(Inventory(), "a", "b", "c")), new[] { "red" }, null,
                NetworkTester.DefaultMaxParallelProbes, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(10), CancellationToken.None);
            Assert.True(report.Passed, report.ToString());
            Assert.NotNull(report.ConvergenceTime);
            Assert.Equal(3, probesOfPair);
            var batches = backend.Batches.ToList();
            Assert.Equal(3 + 2, batches.Count); // a, B, c; then a twice with only the waiting pair
            Assert.All(batches.Skip(3), b => Assert.Equal("a|10.0.0.3", b.From + "|" + string.Join(",", b.Addresses)));
            Assert.Equal(report.Results.Count(r => r.Source != "" && r.DestinationAddress != "") + 2, report.ProbesSent);
        }

        [Fact]
        public void Batched_Cancellation_StopsTheRun_NoBatchAfterReturn()
        {
            var inv = new BackendInventory();
            for (int i = 0; i < 10; i++)
            {
                string name = "r" + i;
                inv.Routers.Add(new VirtualRouter { Name = name, ComputerName = "h", NetworkLabel = "n", Addresses = new[] { "10.8.0." + i + "/31" } });
                if (i > 0) inv.Links.Add(new VirtualLink { Name = "l" + i, From = "r" + (i - 1), To = name });
            }
            var fake = new BatchFake { BatchDelay = TimeSpan.FromMilliseconds(50) };
            using (var cts = new CancellationTokenSource())
            {
                fake.OnProbe = _ => { if (fake.Batches.Count >= 2) cts.Cancel(); };
                Assert.ThrowsAny<OperationCanceledException>(() => NetworkTester.Run(fake, new Snapshot(inv), null, null, 2, cts.Token));
                int batches = fake.Batches.Count;
                Assert.True(batches < 10, "all batches ran despite cancellation");
                Thread.Sleep(200);
                Assert.Equal(batches, fake.Batches.Count);
            }
        }

        [Fact]
        public void Batched_UnexpectedException_Propagates()
        {
            var fake = HealthyBatch();
            fake.OnProbe = key => { if (key == "B|10.0.0.0") throw new InvalidOperationException("bug"); };
            var ex = Assert.Throws<InvalidOperationException>(() => NetworkTester.Run(fake, new Snapshot(Inventory()), null, null, CancellationToken.None));
            Assert.Equal("bug", ex.Message);
        }
    }
}
