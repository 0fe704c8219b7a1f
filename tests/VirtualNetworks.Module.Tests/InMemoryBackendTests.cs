using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using VirtualNetworks.Engine;
using VirtualNetworks.Planning;
using VirtualNetworks.Topology;
using Xunit;

namespace VirtualNetworks.Module.Tests
{
    /// <summary>
    /// The test double itself, driven through the engine without PowerShell (these run even before the module is
    /// staged): state machine, strictness, fault injection, and a forwarding walk that really follows the engine's
    /// addresses and routes.
    /// </summary>
    public sealed class InMemoryBackendTests
    {
        private static readonly CancellationToken None = CancellationToken.None;

        private sealed class YesObserver : IPlanObserver
        {
            public bool ShouldRun(PlanStep step) => true;
            public void OnStepStarting(PlanStep step, int index, int count) { }
        }

        private static string RepoFixture(string name)
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Directory.Build.props")))
                    return Path.Combine(dir.FullName, "tests", "fixtures", "topologies", name);
            throw new InvalidOperationException("repository root not found");
        }

        private static InMemoryBackend Deploy(string fixture)
        {
            var backend = new InMemoryBackend();
            var read = TopologyReader.ReadFile(RepoFixture(fixture));
            Assert.True(read.Success, string.Join("; ", read.Errors));
            var service = new VirtualNetworkService(backend);
            var plan = service.PlanDeployment(read.Spec!, force: false, None);
            service.Apply(plan, new YesObserver(), None);
            return backend;
        }

        private static RouterSpec Router(string name, NetworkAddressFamily af = NetworkAddressFamily.IPv4) =>
            new RouterSpec { Name = name, Image = InMemoryBackend.RouterImage, AddressFamily = af };

        [Fact]
        public void StateMachine_AllowsOnlyLegalTransitions()
        {
            var b = new InMemoryBackend();
            b.CreateRouter(Router("r1"), None);
            Assert.Equal(RouterState.Off, b.StateOf("r1"));

            void Illegal(Action a)
            {
                var ex = Assert.Throws<VirtualNetworksException>(a);
                Assert.Equal(ErrorIds.InvalidStateTransition, ex.ErrorId);
                Assert.Equal(ErrorKind.InvalidOperation, ex.Kind);
            }

            Illegal(() => b.SuspendRouter("r1", None));
            Illegal(() => b.ResumeRouter("r1", None));
            Illegal(() => b.StopRouter("r1", false, None));
            b.StartRouter("r1", None);
            Assert.Equal(RouterState.Running, b.StateOf("r1"));
            Illegal(() => b.StartRouter("r1", None));
            Illegal(() => b.ResumeRouter("r1", None));
            b.SuspendRouter("r1", None);
            Assert.Equal(RouterState.Paused, b.StateOf("r1"));
            Illegal(() => b.StopRouter("r1", true, None));
            Illegal(() => b.StartRouter("r1", None));
            b.ResumeRouter("r1", None);
            b.StopRouter("r1", turnOff: true, None);
            Assert.Equal(RouterState.Off, b.StateOf("r1"));
            b.StartRouter("r1", None);
            b.StopRouter("r1", turnOff: false, None);
            Assert.Equal(RouterState.Off, b.StateOf("r1"));
        }

        [Fact]
        public void Strictness_RejectsWhatARealHostWould()
        {
            var b = new InMemoryBackend();
            Assert.True(b.ImageExists("router", ""));
            Assert.False(b.ImageExists("Router2", ""));
            Assert.Equal(ErrorIds.ImageNotFound, Assert.Throws<VirtualNetworksException>(() =>
                b.CreateRouter(new RouterSpec { Name = "x", Image = "nope" }, None)).ErrorId);
            b.CreateRouter(Router("r1"), None);
            Assert.Equal(ErrorIds.RouterAlreadyExists, Assert.Throws<VirtualNetworksException>(() => b.CreateRouter(Router("R1"), None)).ErrorId);
            Assert.Equal(ErrorIds.LinkEndpointNotFound, Assert.Throws<VirtualNetworksException>(() =>
                b.CreateLink(new LinkSpec { Name = "l", From = "r1", To = "r9" }, None)).ErrorId);

            for (int i = 2; i <= 6; i++) b.CreateRouter(Router("r" + i), None);
            for (int i = 2; i <= 5; i++) b.CreateLink(new LinkSpec { Name = "l" + i, From = "r1", To = "r" + i }, None);
            Assert.Equal(ErrorIds.AdapterLimitExceeded, Assert.Throws<VirtualNetworksException>(() =>
                b.CreateLink(new LinkSpec { Name = "l6", From = "r1", To = "r6" }, None)).ErrorId);
            Assert.Equal(ErrorIds.BackendOperationFailed, Assert.Throws<VirtualNetworksException>(() => b.RemoveRouter("r1", None)).ErrorId);
            Assert.Equal(ErrorIds.BandwidthOutOfRange, Assert.Throws<VirtualNetworksException>(() => b.SetLinkBandwidth("l2", 100, None)).ErrorId);
            Assert.Equal(ErrorIds.InvalidBandwidth, Assert.Throws<VirtualNetworksException>(() => b.SetLinkBandwidth("l2", 0, None)).ErrorId);
            b.SetLinkBandwidth("l2", 5_000_000, None);
            Assert.Equal(5_000_000, b.BandwidthOf("l2"));
            b.SetLinkBandwidth("l2", null, None);
            Assert.Null(b.BandwidthOf("l2"));

            // Removing what is gone is not an error (contract); the calls still count as mutating attempts.
            b.RemoveLink("nope", None);
            b.RemoveRouter("nope", None);
            Assert.Equal(ErrorIds.HostNotFound, Assert.Throws<VirtualNetworksException>(() =>
                b.MoveRouter("r6", "elsewhere", MigrationMode.Live, null, None)).ErrorId);
        }

        [Fact]
        public void FaultInjection_FailsTheNthCallOnce_AndCountsMutations()
        {
            var b = new InMemoryBackend();
            b.FailOn(nameof(InMemoryBackend.CreateRouter), 2, new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.DeviceError, "r2", "boom"));
            b.CreateRouter(Router("r1"), None);
            var ex = Assert.Throws<VirtualNetworksException>(() => b.CreateRouter(Router("r2"), None));
            Assert.Equal("boom", ex.Message);
            b.CreateRouter(Router("r2"), None);
            b.GetInventory(None);
            Assert.Equal(3, b.MutatingCallCount);
            Assert.Equal(new[] { "CreateRouter r1", "CreateRouter r2", "CreateRouter r2", "GetInventory" }, b.Calls);
            Assert.Equal(new[] { "r1", "r2" }, b.RouterNames);
        }

        [Fact]
        public void Delay_HonoursCancellation()
        {
            var b = new InMemoryBackend { MutatingCallDelay = TimeSpan.FromSeconds(30) };
            using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
            var started = DateTime.UtcNow;
            Assert.ThrowsAny<OperationCanceledException>(() => b.CreateRouter(Router("r1"), cts.Token));
            Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(5));
            Assert.Empty(b.RouterNames);
        }

        [Fact]
        public void GoodTopology_DeploysThroughTheEngine_AndEveryPairInANetworkIsReachable()
        {
            var b = Deploy("good.json");
            Assert.Equal(new[] { "a1", "a2", "b1", "b2" }, b.RouterNames);
            Assert.Equal(4, b.LinkNames.Count);
            var inv = b.GetInventory(None);
            Assert.All(inv.Links, l =>
            {
                Assert.False(string.IsNullOrEmpty(l.FromAddress), l.Name + " has no From address");
                Assert.False(string.IsNullOrEmpty(l.ToAddress), l.Name + " has no To address");
                Assert.Equal(LinkTransport.Bridge, l.Transport);
            });

            var addresses = inv.Configurations.ToDictionary(kv => kv.Key, kv => kv.Value.Interfaces.Select(i => i.Address.Split('/')[0]).ToList(),
                StringComparer.OrdinalIgnoreCase);
            string NetworkOf(string r) => r.Substring(0, 1);
            foreach (var from in b.RouterNames)
                foreach (var to in b.RouterNames)
                    foreach (var address in addresses[to])
                    {
                        var result = b.Probe(from, address, None);
                        bool expected = NetworkOf(from) == NetworkOf(to);
                        Assert.True(expected == result.Reachable, $"{from} -> {to} ({address}): expected {(expected ? "reachable" : "unreachable")}, got {result.Detail}");
                    }

            // Re-planning the same file changes nothing.
            var read = TopologyReader.ReadFile(RepoFixture("good.json"));
            var again = new VirtualNetworkService(b).PlanDeployment(read.Spec!, false, None);
            Assert.Empty(again.Steps);
        }

        [Fact]
        public void Probe_MultiHopChain_FollowsRoutes_AndStopsAtAPausedRouter()
        {
            var b = new InMemoryBackend();
            var svc = new VirtualNetworkService(b);
            var spec = new TopologySpec();
            foreach (var n in new[] { "c1", "c2", "c3", "c4" }) spec.Routers.Add(Router(n, NetworkAddressFamily.IPv6));
            spec.Links.Add(new LinkSpec { Name = "c1-c2", From = "c1", To = "c2" });
            spec.Links.Add(new LinkSpec { Name = "c2-c3", From = "c2", To = "c3" });
            spec.Links.Add(new LinkSpec { Name = "c3-c4", From = "c3", To = "c4" });
            svc.Apply(svc.PlanDeployment(spec, false, None), new YesObserver(), None);

            var far = b.ConfigurationOf("c4")!.Interfaces.Single().Address.Split('/')[0];
            var ok = b.Probe("c1", far, None);
            Assert.True(ok.Reachable, ok.Detail);
            Assert.Contains("c1 > c2 > c3 > c4", ok.Detail);

            b.SuspendRouter("c3", None);
            var blocked = b.Probe("c1", far, None);
            Assert.False(blocked.Reachable);
            Assert.Contains("c3", blocked.Detail);
            b.ResumeRouter("c3", None);

            // Without the routes (configuration wiped to interfaces only) the far end is unreachable.
            var c1 = b.ConfigurationOf("c1")!;
            c1.Routes.Clear();
            b.ConfigureRouter(c1, None);
            Assert.False(b.Probe("c1", far, None).Reachable);
            // The directly connected neighbour still answers.
            var near = b.ConfigurationOf("c1")!.Interfaces.Single().PeerAddress;
            Assert.True(b.Probe("c1", near, None).Reachable);

            // A source that is off sends nothing.
            b.StopRouter("c1", false, None);
            Assert.False(b.Probe("c1", near, None).Reachable);
        }

        [Fact]
        public void Probe_LinkRemovedBehindTheConfiguration_IsUnreachable()
        {
            var b = Deploy("good.json");
            var a2 = b.ConfigurationOf("a2")!.Interfaces.First();
            b.RemoveLink(a2.LinkName, None);
            // a1 still has the stale interface configuration but the segment is gone.
            var result = b.Probe("a1", a2.Address.Split('/')[0], None);
            Assert.False(result.Reachable, result.Detail);
        }
    }
}
