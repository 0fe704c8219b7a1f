using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Threading;
using VirtualNetworks.Backends;
using VirtualNetworks.Engine;
using VirtualNetworks.Linux.Vm;
using VirtualNetworks.Planning;
using Xunit;
using Xunit.Abstractions;

namespace VirtualNetworks.Linux.Tests
{
    /// <summary>
    /// Removal of a network of many running routers through the engine with the real backend: the plan's RemoveRouter steps
    /// go to LinuxBackend.RemoveRouters in one call, and afterwards nothing of the network is left (no record, no QEMU, no
    /// tagged interface). The time of each phase (links, routers) is written to the test output, not asserted.
    /// VN_REMOVAL_ROUTERS (default 16) sets the size; VN_REMOVAL_SEQUENTIAL=1 removes through a wrapper without the batch
    /// contract (one RemoveRouter call per step, as before it existed), for a before/after comparison.
    /// </summary>
    [Collection(EndToEndCollection.Name)]
    public sealed class EndToEndRemovalTests : IDisposable
    {
        private static readonly CancellationToken None = CancellationToken.None;
        private readonly ITestOutputHelper _out;
        private readonly string _root = EndToEndHost.NewStateRoot();
        private readonly string _p = EndToEndHost.NewPrefix();
        private LinuxBackend? _backend;

        public EndToEndRemovalTests(ITestOutputHelper output) => _out = output;

        public void Dispose() => EndToEndHost.CleanUpOwn(_backend, _p, _root, Array.Empty<string>(), _out);

        /// <summary>Times each step from its announcement to the next one's (a batch's steps are announced together).</summary>
        private sealed class Timing : IPlanObserver
        {
            public readonly Stopwatch Clock = Stopwatch.StartNew();
            public readonly List<(PlanStep Step, TimeSpan At)> Started = new List<(PlanStep, TimeSpan)>();
            public bool ShouldRun(PlanStep step) => true;
            public void OnStepStarting(PlanStep step, int index, int count) => Started.Add((step, Clock.Elapsed));
        }

        [EndToEndFact]
        public void Removing_a_network_of_many_running_routers_removes_them_together_and_leaves_nothing()
        {
            int n = int.TryParse(Environment.GetEnvironmentVariable("VN_REMOVAL_ROUTERS"), NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v > 1 ? v : 16;
            bool sequential = Environment.GetEnvironmentVariable("VN_REMOVAL_SEQUENTIAL") == "1";
            _backend = EndToEndHost.NewBackend(_root);
            var routers = Enumerable.Range(1, n).Select(i => _p + "-r" + i.ToString(CultureInfo.InvariantCulture)).ToList();
            var topology = new TopologySpec();
            foreach (var r in routers) topology.Routers.Add(new RouterSpec { Name = r, Image = "router", MemoryMB = 64, NetworkLabel = _p });
            for (int i = 0; i + 1 < n; i++) topology.Links.Add(new LinkSpec { Name = _p + "-l" + (i + 1).ToString(CultureInfo.InvariantCulture), From = routers[i], To = routers[i + 1] });

            using (var deployer = new VirtualNetworkService(_backend))
            {
                var clock = Stopwatch.StartNew();
                var deployed = deployer.Apply(deployer.PlanDeployment(topology, false, None), new ApplyAllSteps(), None);
                Assert.True(deployed.Success, "deploy failed at " + deployed.Failed + ": " + deployed.Error);
                _out.WriteLine($"deployed {n} routers, {n - 1} links in {clock.Elapsed.TotalSeconds:0.0} s");
            }
            // Running guests: wait (bounded) until each reported ready, so the removal meets routers as they are in use.
            int ready = 0;
            foreach (var r in routers)
            {
                try
                {
                    new GuestChannel(_backend.Store.RunPaths(r).ChannelSocket, r).WaitReady(TimeSpan.FromSeconds(120));
                    ready++;
                }
                catch (VirtualNetworksException ex)
                {
                    _out.WriteLine($"{r} not ready: {ex.Message}");
                }
            }
            _out.WriteLine($"{ready} of {n} guests ready");

            if (Environment.GetEnvironmentVariable("VN_REMOVAL_OFF_FIRST") == "1")
            {
                var off = Stopwatch.StartNew();
                foreach (var r in routers) _backend.StopRouter(r, true, None);
                _out.WriteLine($"turned off first: {off.Elapsed.TotalSeconds:0.00} s");
            }
            IVirtualizationBackend target = sequential ? new WithoutBatchRemoval(_backend) : (IVirtualizationBackend)_backend;
            var service = new VirtualNetworkService(target);
            var snapshot = service.Observe(None);
            var network = snapshot.Networks.Single(x => x.Routers.Contains(routers[0], StringComparer.OrdinalIgnoreCase));
            Assert.Equal(n, network.Routers.Count);
            var plan = service.PlanRemoval(snapshot, new[] { network });
            var timing = new Timing();
            var result = service.Apply(plan, timing, None);
            var total = timing.Clock.Elapsed;
            Assert.True(result.Success, "removal failed at " + result.Failed + ": " + result.Error);

            var firstRouter = timing.Started.First(s => s.Step.Action == PlanAction.RemoveRouter).At;
            _out.WriteLine($"{DateTime.UtcNow:yyyy-MM-dd} remove {n} routers ({ready} running), {n - 1} links, {(sequential ? "sequential" : "batch of " + LinuxBackend.RemoveThreads + " threads")}: " +
                           $"total {total.TotalSeconds:0.00} s, links {firstRouter.TotalSeconds:0.00} s, routers {(total - firstRouter).TotalSeconds:0.00} s; " +
                           $"{Environment.ProcessorCount} cores");

            Assert.Empty(_backend.Store.ListRouters());
            Assert.Empty(_backend.Store.ListLinks());
            var images = System.IO.Path.Combine(_root, "images") + "/"; // the router image linked in by NewBackend
            var leftovers = EndToEndHost.Leftovers(_root, alias => EndToEndHost.TagNamesPrefix(alias, _p))
                .Where(l => !l.StartsWith("state file " + images, StringComparison.Ordinal)).ToList();
            Assert.True(leftovers.Count == 0, LeftoverReport.Format("removal", leftovers, EndToEndHost.DescribeScan(_root, "a router or link of " + _p)));
        }

        /// <summary>The backend as the engine saw it before IRouterBatchRemover: every call forwarded, no batch contracts.</summary>
        private sealed class WithoutBatchRemoval : IVirtualizationBackend
        {
            private readonly LinuxBackend _b;
            public WithoutBatchRemoval(LinuxBackend b) => _b = b;
            public string Kind => _b.Kind;
            public BackendCapabilities Capabilities => _b.Capabilities;
            public BackendInventory GetInventory(CancellationToken c) => _b.GetInventory(c);
            public bool ImageExists(string image, string host) => _b.ImageExists(image, host);
            public void CreateRouter(RouterSpec spec, CancellationToken c) => _b.CreateRouter(spec, c);
            public void RemoveRouter(string name, CancellationToken c) => _b.RemoveRouter(name, c);
            public void StartRouter(string name, CancellationToken c) => _b.StartRouter(name, c);
            public void StopRouter(string name, bool turnOff, CancellationToken c) => _b.StopRouter(name, turnOff, c);
            public void SuspendRouter(string name, CancellationToken c) => _b.SuspendRouter(name, c);
            public void ResumeRouter(string name, CancellationToken c) => _b.ResumeRouter(name, c);
            public void ConfigureRouter(RouterConfiguration configuration, CancellationToken c) => _b.ConfigureRouter(configuration, c);
            public void MoveRouter(string name, string destinationHost, MigrationMode mode, IProgress<string>? progress, CancellationToken c) => _b.MoveRouter(name, destinationHost, mode, progress, c);
            public void CreateLink(LinkSpec spec, CancellationToken c) => _b.CreateLink(spec, c);
            public void RemoveLink(string name, CancellationToken c) => _b.RemoveLink(name, c);
            public void SetLinkBandwidth(string name, long? bitsPerSecond, CancellationToken c) => _b.SetLinkBandwidth(name, bitsPerSecond, c);
            public ProbeResult Probe(string fromRouter, string address, CancellationToken c) => _b.Probe(fromRouter, address, c);
            public void Dispose() { }
        }
    }
}
