using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using VirtualNetworks.Backends;
using VirtualNetworks.Engine;
using VirtualNetworks.Linux.Net;
using VirtualNetworks.Linux.Vm;
using VirtualNetworks.Planning;
using VirtualNetworks.Topology;
using VirtualNetworks.Util;
using Xunit;
using Xunit.Abstractions;

namespace VirtualNetworks.Linux.Tests
{
    /// <summary>
    /// Deploy (plan and apply), Get-* (the observation) and Set-VirtualLink of a ring of N routers cost O(N) host work:
    /// state record reads, directory listings and ip/tc processes grow linearly with N (the second difference over
    /// N, 2N, 4N is zero: no per-router scan of all records, no per-router listing of the host's interfaces). Real records,
    /// bridges and taps; the routers are not started (no QEMU: the batch start has its own once-per-batch reads).
    /// </summary>
    [Collection(VmRealCollection.Name)]
    public sealed class LinearOrchestrationTests : IClassFixture<VmImageFixture>, IDisposable
    {
        private static readonly CancellationToken None = CancellationToken.None;
        private readonly VmImageFixture _image;
        private readonly ITestOutputHelper _out;
        private readonly string _p = "lo" + VmTestHost.Hex(4);
        private readonly List<(LinuxBackend Backend, string Root)> _made = new List<(LinuxBackend, string)>();

        public LinearOrchestrationTests(VmImageFixture image, ITestOutputHelper output)
        {
            _image = image;
            _out = output;
        }

        private sealed class Counter : ICommandInterceptor
        {
            public readonly List<string> Commands = new List<string>();

            public ProcessResult? Intercept(string tool, string? networkNamespace, List<string> arguments)
            {
                lock (Commands) Commands.Add(tool + " " + string.Join(" ", arguments));
                return null; // run it
            }
        }

        /// <summary>Host work of one command: record files read, directory listings, ip/tc processes (and the interface listings among them).</summary>
        private sealed class Work
        {
            public long Reads;
            public long Listings;
            public long QmpSessions;
            public long ChannelExchanges;
            public List<string> Commands = new List<string>();
            public TimeSpan Elapsed;
            public int Processes => Commands.Count;
            public int InterfaceListings => Commands.Count(c => c.StartsWith("ip ", StringComparison.Ordinal) && c.Contains(" link show") && !c.Contains(" dev "));
            public override string ToString() =>
                $"{Reads} record reads, {Listings} listings, {Processes} ip/tc processes ({InterfaceListings} interface listings), " +
                $"{QmpSessions} QMP sessions, {ChannelExchanges} guest-channel exchanges, {Elapsed.TotalSeconds:0.00} s";
        }

        private static Work Count(LinuxBackend b, Action action)
        {
            var counter = new Counter();
            var guests = new GuestTraffic();
            long reads = b.Store.RecordFileReads, listings = b.Store.DirectoryListings;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            using (NetTools.InterceptCommands(counter))
            using (GuestTraffic.Count(guests))
                action();
            return new Work
            {
                Reads = b.Store.RecordFileReads - reads, Listings = b.Store.DirectoryListings - listings, Commands = counter.Commands, Elapsed = clock.Elapsed,
                QmpSessions = guests.QmpSessions, ChannelExchanges = guests.ChannelExchanges,
            };
        }

        private sealed class SkipStarts : IPlanObserver
        {
            public bool ShouldRun(PlanStep step) => step.Action != PlanAction.StartRouter;
            public void OnStepStarting(PlanStep step, int index, int count) { }
        }

        private LinuxBackend NewBackend()
        {
            var root = VmTestHost.NewStateRoot();
            Directory.CreateDirectory(Path.Combine(root, "images"));
            Directory.CreateSymbolicLink(Path.Combine(root, "images", "router"), _image.ImageDirectory);
            var b = new LinuxBackend(new BackendRequest { Options = new Dictionary<string, object?> { [LinuxBackend.StateDirectoryOption] = root } });
            _made.Add((b, root));
            return b;
        }

        private TopologySpec Ring(string tag, int n)
        {
            var t = new TopologySpec();
            var routers = Enumerable.Range(1, n).Select(i => _p + tag + "r" + i.ToString(CultureInfo.InvariantCulture)).ToList();
            foreach (var r in routers) t.Routers.Add(new RouterSpec { Name = r, Image = "router", MemoryMB = 64, NetworkLabel = _p + tag });
            for (int i = 0; i < n; i++)
                t.Links.Add(new LinkSpec { Name = _p + tag + "l" + i.ToString(CultureInfo.InvariantCulture), From = routers[i], To = routers[(i + 1) % n] });
            return t;
        }

        /// <summary>Deploy (as Deploy-VirtualNetwork runs it: plan, apply and the final observation under one exclusive scope), Get, Set of a ring of n.</summary>
        private (Work Deploy, Work Get, Work Set) Measure(int n)
        {
            var b = NewBackend();
            _ = b.Capabilities.SupportsVlanTagging; // the kernel's capability probe runs once per process, outside the counts
            var service = new VirtualNetworkService(b);
            var tag = "n" + n.ToString(CultureInfo.InvariantCulture);
            var ring = Ring(tag, n);
            var deploy = Count(b, () =>
            {
                using (service.Exclusive(None))
                {
                    var plan = service.PlanDeployment(ring, false, None);
                    var result = service.Apply(plan, new SkipStarts(), None);
                    Assert.True(result.Success, "deploy failed at " + result.Failed + ": " + result.Error);
                    service.Observe(None);
                }
            });
            Assert.Equal(n, b.Store.ListRouters().Count);
            Assert.Equal(n, b.Store.ListLinks().Count);
            var get = Count(b, () =>
            {
                var s = service.Observe(None);
                Assert.Equal(n, s.Routers.Count);
                Assert.Equal(n, s.Links.Count);
                Assert.Single(s.Networks);
            });
            var links = ring.Links.Select(l => l.Name).ToList();
            var set = Count(b, () =>
            {
                var changed = service.SetLinkBandwidth(links, 10_000_000, None);
                Assert.Equal(n, changed.Count);
                Assert.All(changed, l => Assert.Equal(10_000_000L, l.MaximumBandwidth));
            });
            foreach (var l in b.Store.ListLinks()) Assert.Equal(10_000_000L, l.MaximumBandwidth);
            Remove(b, service);
            return (deploy, get, set);
        }

        private static void Remove(LinuxBackend b, VirtualNetworkService service)
        {
            var s = service.Observe(None);
            var result = service.Apply(service.PlanRemoval(s, s.Networks.ToList()), new ApplyAllSteps(), None);
            Assert.True(result.Success, "removal failed: " + result.Error);
        }

        [VmRootFact]
        public void Deploy_get_and_set_of_a_ring_cost_host_work_linear_in_its_routers()
        {
            VmTestHost.RequireRoot();
            _image.EnsureBuilt();
            // N, 2N, 4N; VN_LINEAR_SIZES="8,16,32" measures larger rings (no QEMU: records, bridges and taps only).
            var sizes = (Environment.GetEnvironmentVariable("VN_LINEAR_SIZES") ?? "2,4,8").Split(',')
                .Select(x => int.Parse(x.Trim(), NumberStyles.None, CultureInfo.InvariantCulture)).ToArray();
            Assert.True(sizes.Length == 3 && sizes[1] == 2 * sizes[0] && sizes[2] == 2 * sizes[1], "three sizes N, 2N, 4N");
            var work = sizes.Select(Measure).ToList();
            for (int k = 0; k < sizes.Length; k++)
            {
                _out.WriteLine($"N={sizes[k]}: deploy {work[k].Deploy}");
                _out.WriteLine($"N={sizes[k]}: get    {work[k].Get}");
                _out.WriteLine($"N={sizes[k]}: set    {work[k].Set}");
            }
            _out.WriteLine("deploy commands at N=2:\n  " + string.Join("\n  ", work[0].Deploy.Commands));
            foreach (var (what, pick) in new (string, Func<(Work Deploy, Work Get, Work Set), Work>)[]
                     { ("deploy", w => w.Deploy), ("get", w => w.Get), ("set", w => w.Set) })
            {
                foreach (var (name, measure) in new (string, Func<Work, long>)[]
                         { ("record reads", w => w.Reads), ("directory listings", w => w.Listings), ("ip/tc processes", w => w.Processes) })
                {
                    long a = measure(pick(work[0])), c2 = measure(pick(work[1])), c4 = measure(pick(work[2]));
                    // Linear c(N) = αN + β: c(4N) − 2c(2N) = c(2N) − 2c(N) = −β. A quadratic term makes them differ.
                    Assert.True(c4 - 2 * c2 == c2 - 2 * a, $"{what}: {name} not linear in N: {a}, {c2}, {c4} at N={sizes[0]}, {sizes[1]}, {sizes[2]}");
                }
                // The host's interfaces are listed a fixed number of times per command whatever N (one per observation; none
                // per router or per link).
                Assert.All(work, w => Assert.True(pick(w).InterfaceListings == pick(work[0]).InterfaceListings && pick(w).InterfaceListings <= 2,
                    $"{what}: {string.Join(", ", work.Select(x => pick(x).InterfaceListings))} interface listings at N={string.Join(", ", sizes)}"));
            }
        }

        /// <summary>The lifecycle verbs of <see cref="Lifecycle_pipelines_of_running_routers_cost_host_and_guest_work_linear_in_their_number"/>.</summary>
        /// <remarks>
        /// "configure" is no cmdlet: it pushes every running router's configuration again as the engine's reconfiguration
        /// does after a change (one ConfigureRouter per router under one exclusive scope), the batch whose per-router
        /// adapter check (EnsureAdaptersLocked) must read only that router's devices.
        /// </remarks>
        private static readonly string[] Verbs = { "start", "configure", "suspend", "resume", "stop" };

        /// <summary>
        /// What <c>Get-VirtualRouter | &lt;Verb&gt;-VirtualRouter</c> asks of the engine for <paramref name="names"/> (the
        /// routers Get-VirtualRouter wrote), as the cmdlet does it: the selection's observation, then the change.
        /// </summary>
        private static void Pipeline(VirtualNetworkService service, string verb, IReadOnlyList<string> names)
        {
            if (verb == "configure")
            {
                using (service.Exclusive(None))
                {
                    var configurations = service.Observe(None).Inventory.Configurations;
                    foreach (var name in names) service.Backend.ConfigureRouter(configurations[name], None);
                }
                return;
            }
            // The selection: one observation, every piped router looked up in it (RouterCommandBase.ChangeGathered).
            var snapshot = service.Observe(None);
            foreach (var name in names) service.RequireRouter(snapshot, name);
            // The change: one engine call for the whole pipeline.
            var outcomes = verb switch
            {
                "start" => service.StartRouters(names, false, None),
                "suspend" => service.SuspendRouters(names, None),
                "resume" => service.ResumeRouters(names, None),
                _ => service.StopRouters(names, false, None),
            };
            Assert.Equal(names, outcomes.Select(o => o.Name));
            Assert.All(outcomes, o => Assert.True(o.Succeeded, $"{verb} {o.Name}: {o.Error?.Message}"));
        }

        /// <summary>A ring of n (not started), then Start, Suspend, Resume and Stop of all its routers through the pipeline, each counted.</summary>
        private Dictionary<string, Work> MeasureLifecycle(int n)
        {
            var b = NewBackend();
            _ = b.Capabilities.SupportsVlanTagging;
            var service = new VirtualNetworkService(b);
            var ring = Ring("v" + n.ToString(CultureInfo.InvariantCulture), n);
            var result = service.Apply(service.PlanDeployment(ring, false, None), new SkipStarts(), None);
            Assert.True(result.Success, "deploy failed at " + result.Failed + ": " + result.Error);
            var names = service.Observe(None).Routers.Select(r => r.Name).ToList(); // what Get-VirtualRouter writes
            var expected = new Dictionary<string, RouterState>
            {
                ["start"] = RouterState.Running, ["configure"] = RouterState.Running, ["suspend"] = RouterState.Paused, ["resume"] = RouterState.Running, ["stop"] = RouterState.Off,
            };
            var work = new Dictionary<string, Work>();
            try
            {
                foreach (var verb in Verbs)
                {
                    work[verb] = Count(b, () => Pipeline(service, verb, names));
                    var after = service.Observe(None);
                    Assert.All(after.Routers, r => Assert.True(r.State == expected[verb], $"after {verb}: {r.Name} is {r.State} ({r.Status})"));
                }
            }
            finally
            {
                Remove(b, service);
            }
            return work;
        }

        [VmRootFact]
        public void Lifecycle_pipelines_of_running_routers_cost_host_and_guest_work_linear_in_their_number()
        {
            VmTestHost.RequireRoot();
            _image.EnsureBuilt();
            var sizes = new[] { 2, 4, 8 };
            var work = sizes.Select(MeasureLifecycle).ToList();
            foreach (var verb in Verbs)
                for (int k = 0; k < sizes.Length; k++)
                    _out.WriteLine($"N={sizes[k]}: {verb,-8} {work[k][verb]}");
            var failures = new List<string>();
            foreach (var verb in Verbs)
            {
                foreach (var (name, measure) in new (string, Func<Work, long>)[]
                         {
                             ("record reads", w => w.Reads), ("directory listings", w => w.Listings), ("ip/tc processes", w => w.Processes),
                             ("QMP sessions", w => w.QmpSessions), ("guest-channel exchanges", w => w.ChannelExchanges),
                         })
                {
                    long a = measure(work[0][verb]), c2 = measure(work[1][verb]), c4 = measure(work[2][verb]);
                    // Linear c(N) = αN + β: c(4N) − 2c(2N) = c(2N) − 2c(N) = −β. A quadratic term makes them differ.
                    if (c4 - 2 * c2 != c2 - 2 * a) failures.Add($"{verb}: {name} not linear in N: {a}, {c2}, {c4} at N=2, 4, 8");
                }
                var listings = work.Select(w => w[verb].InterfaceListings).ToList();
                if (listings.Any(l => l != listings[0]))
                    failures.Add($"{verb}: {string.Join(", ", listings)} interface listings at N=2, 4, 8 (a fixed number expected)");
            }
            Assert.True(failures.Count == 0, string.Join("\n", failures));
        }

        /// <summary>
        /// A ring of n running routers, each also linked to a leaf router of its own that is not started (so the ring's
        /// removal reconfigures n routers left, without n more guests); then <c>Get-VirtualRouter | Remove-VirtualRouter</c>
        /// of the ring as the cmdlet does it (the selection's observation, then the removal), counted.
        /// </summary>
        private Work MeasureRemoval(int n)
        {
            var b = NewBackend();
            _ = b.Capabilities.SupportsVlanTagging;
            var service = new VirtualNetworkService(b);
            var tag = "x" + n.ToString(CultureInfo.InvariantCulture);
            var t = Ring(tag, n);
            var ring = t.Routers.Select(r => r.Name).ToList();
            var leaves = ring.Select(r => r + "f").ToList();
            for (int i = 0; i < n; i++)
            {
                t.Routers.Add(new RouterSpec { Name = leaves[i], Image = "router", MemoryMB = 64, NetworkLabel = _p + tag });
                t.Links.Add(new LinkSpec { Name = _p + tag + "f" + i.ToString(CultureInfo.InvariantCulture), From = ring[i], To = leaves[i] });
            }
            try
            {
                var result = service.Apply(service.PlanDeployment(t, false, None), new SkipStarts(), None);
                Assert.True(result.Success, "deploy failed at " + result.Failed + ": " + result.Error);
                Assert.All(service.StartRouters(ring, false, None), o => Assert.True(o.Succeeded, $"start {o.Name}: {o.Error?.Message}"));
                var applied = service.Observe(None).Inventory.Configurations;
                Assert.All(leaves, l => Assert.Single(applied[l].Interfaces));
                var work = Count(b, () =>
                {
                    // The selection: one observation, every piped router looked up in it (RouterCommandBase.ChangeGathered).
                    var snapshot = service.Observe(None);
                    foreach (var name in ring) service.RequireRouter(snapshot, name);
                    // The removal: one engine call for the whole pipeline.
                    var outcomes = service.RemoveRouters(ring, None);
                    Assert.Equal(ring, outcomes.Select(o => o.Name));
                    Assert.All(outcomes, o => Assert.True(o.Succeeded, $"remove {o.Name}: {o.Error?.Message}"));
                });
                var after = service.Observe(None);
                Assert.Equal(leaves.OrderBy(x => x, StringComparer.OrdinalIgnoreCase), after.Routers.Select(r => r.Name).OrderBy(x => x, StringComparer.OrdinalIgnoreCase));
                Assert.Empty(after.Links);
                Assert.Empty(b.Store.ListLinks());
                // Every leaf lost its only link: its configuration was pushed again, without an interface.
                Assert.All(leaves, l => Assert.Empty(after.Inventory.Configurations[l].Interfaces));
                foreach (var r in ring) Assert.Null(b.Store.ReadRouter(r));
                return work;
            }
            finally
            {
                var s = service.Observe(None);
                foreach (var r in s.Routers) b.RemoveRouter(r.Name, None);
            }
        }

        [VmRootFact]
        public void Removing_a_pipeline_of_running_routers_costs_host_and_guest_work_linear_in_their_number()
        {
            VmTestHost.RequireRoot();
            _image.EnsureBuilt();
            var sizes = new[] { 2, 4, 8 };
            var work = sizes.Select(MeasureRemoval).ToList();
            for (int k = 0; k < sizes.Length; k++) _out.WriteLine($"N={sizes[k]}: remove {work[k]}");
            _out.WriteLine("remove commands at N=2:\n  " + string.Join("\n  ", work[0].Commands));
            var failures = new List<string>();
            foreach (var (name, measure) in new (string, Func<Work, long>)[]
                     {
                         ("record reads", w => w.Reads), ("directory listings", w => w.Listings), ("ip/tc processes", w => w.Processes),
                         ("QMP sessions", w => w.QmpSessions), ("guest-channel exchanges", w => w.ChannelExchanges),
                     })
            {
                long a = measure(work[0]), c2 = measure(work[1]), c4 = measure(work[2]);
                // Linear c(N) = αN + β: c(4N) − 2c(2N) = c(2N) − 2c(N) = −β. A quadratic term makes them differ.
                if (c4 - 2 * c2 != c2 - 2 * a) failures.Add($"remove: {name} not linear in N: {a}, {c2}, {c4} at N=2, 4, 8");
            }
            var listings = work.Select(w => w.InterfaceListings).ToList();
            if (listings.Any(l => l != listings[0]))
                failures.Add($"remove: {string.Join(", ", listings)} interface listings at N=2, 4, 8 (a fixed number expected)");
            Assert.True(failures.Count == 0, string.Join("\n", failures));
        }

        public void Dispose()
        {
            foreach (var (b, root) in _made)
            {
                try
                {
                    foreach (var l in b.Store.ListLinks()) b.RemoveLink(l.Name, None);
                    foreach (var r in b.Store.ListRouters()) b.RemoveRouter(r.Name, None);
                }
                catch (Exception ex) { _out.WriteLine("clean-up: " + ex.Message); }
                VmTestHost.DeleteTree(root);
            }
        }
    }
}
