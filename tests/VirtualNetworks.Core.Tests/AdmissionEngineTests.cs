using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using VirtualNetworks.Backends;
using VirtualNetworks.Engine;
using VirtualNetworks.Planning;
using Xunit;

namespace VirtualNetworks.Core.Tests
{
    /// <summary>
    /// The engine asks a backend implementing IAdmissionControl before anything is created or started: for a deployment's
    /// plan (what it creates, and what it starts with the memory it starts with), New-VirtualRouter and Start-VirtualRouter;
    /// and not at all with -Force.
    /// </summary>
    public sealed class AdmissionEngineTests
    {
        private static readonly CancellationToken None = CancellationToken.None;

        private sealed class AdmittingBackend : IVirtualizationBackend, IAdmissionControl
        {
            public readonly List<AdmissionRequest> Requests = new List<AdmissionRequest>();
            public readonly List<string> Calls = new List<string>();
            public readonly BackendInventory Inventory = new BackendInventory();
            public Exception? Refuse;
            /// <summary>Refuses the requests for which it returns an exception (a memory budget, say).</summary>
            public Func<AdmissionRequest, Exception?>? RefuseIf;
            public string Kind => "Admitting";
            public BackendCapabilities Capabilities { get; } = new BackendCapabilities();
            public BackendInventory GetInventory(CancellationToken c) => Inventory;
            public bool ImageExists(string image, string host) => true;
            public void Admit(AdmissionRequest request, CancellationToken c)
            {
                Requests.Add(request);
                if (Refuse != null) throw Refuse;
                if (RefuseIf?.Invoke(request) is Exception refused) throw refused;
            }
            public void CreateRouter(RouterSpec spec, CancellationToken c)
            {
                Calls.Add("create " + spec.Name);
                Has(spec.Name, RouterState.Off, Capabilities.MemoryMBOf(spec));
            }
            public void RemoveRouter(string name, CancellationToken c) => Calls.Add("remove " + name);
            public void StartRouter(string name, CancellationToken c)
            {
                Calls.Add("start " + name);
                Inventory.Routers.First(r => r.Name == name).State = RouterState.Running;
            }
            public void StopRouter(string name, bool turnOff, CancellationToken c) { }
            public void SuspendRouter(string name, CancellationToken c) { }
            public void ResumeRouter(string name, CancellationToken c) { }
            public void ConfigureRouter(RouterConfiguration configuration, CancellationToken c) { }
            public void MoveRouter(string name, string destinationHost, MigrationMode mode, IProgress<string>? progress, CancellationToken c) { }
            public void CreateLink(LinkSpec spec, CancellationToken c) { }
            public void RemoveLink(string name, CancellationToken c) { }
            public void SetLinkBandwidth(string name, long? bitsPerSecond, CancellationToken c) { }
            public ProbeResult Probe(string fromRouter, string address, CancellationToken c) => new ProbeResult();
            public void Dispose() { }

            public void Has(string name, RouterState state, int memoryMB) => Inventory.Routers.Add(new VirtualRouter
            {
                Name = name, ComputerName = "localhost", State = state, MemoryMB = memoryMB, Image = "router", Backend = Kind,
            });
        }

        private static TopologySpec Topology(params (string Name, int MemoryMB)[] routers)
        {
            var t = new TopologySpec();
            foreach (var r in routers) t.Routers.Add(new RouterSpec { Name = r.Name, Image = "router", MemoryMB = r.MemoryMB });
            return t;
        }

        private static string Show(IEnumerable<RouterSpec> specs) =>
            string.Join(",", specs.Select(s => s.Name + ":" + s.MemoryMB).OrderBy(x => x, StringComparer.Ordinal));

        [Fact]
        public void A_deployment_asks_for_what_its_plan_creates_and_starts_with_the_memory_each_starts_with()
        {
            var b = new AdmittingBackend();
            b.Has("off", RouterState.Off, 256);       // starts with its own memory, not the file's
            b.Has("failed", RouterState.Failed, 512); // its QEMU is gone: starts again
            b.Has("running", RouterState.Running, 1024); // already uses its memory: not asked for
            b.Has("paused", RouterState.Paused, 2048);
            var service = new VirtualNetworkService(b);

            var plan = service.PlanDeployment(Topology(("new1", 60_000), ("new2", 64), ("off", 128), ("failed", 128), ("running", 128), ("paused", 128)), false, None);

            var request = Assert.Single(b.Requests);
            Assert.Equal("new1:60000,new2:64", Show(request.Creates));
            Assert.Equal("failed:512,new1:60000,new2:64,off:256", Show(request.Starts));
            Assert.Equal(request.Starts.Count, plan.Steps.Count(s => s.Action == PlanAction.StartRouter));
            Assert.Empty(b.Calls); // planning creates nothing
        }

        [Fact]
        public void A_refused_deployment_throws_the_backends_error_and_with_force_is_not_asked()
        {
            var refusal = new VirtualNetworksException(ErrorIds.InsufficientHostMemory, ErrorKind.ResourceUnavailable, "host", "no memory");
            var b = new AdmittingBackend { Refuse = refusal };
            var service = new VirtualNetworkService(b);
            var ex = Assert.Throws<VirtualNetworksException>(() => service.PlanDeployment(Topology(("big", 60_000)), false, None));
            Assert.Same(refusal, ex);

            var plan = service.PlanDeployment(Topology(("big", 60_000)), true, None);
            Assert.Single(b.Requests); // not asked again
            Assert.Contains(plan.Steps, s => s.Action == PlanAction.CreateRouter && s.Target == "big");
        }

        [Fact]
        public void A_plan_that_creates_and_starts_nothing_is_not_asked()
        {
            var b = new AdmittingBackend();
            b.Has("running", RouterState.Running, 128);
            new VirtualNetworkService(b).PlanDeployment(Topology(("running", 128)), false, None);
            Assert.Empty(b.Requests);
        }

        [Fact]
        public void NewRouter_asks_before_creating_and_counts_memory_only_when_it_starts()
        {
            var b = new AdmittingBackend();
            var service = new VirtualNetworkService(b);
            service.NewRouter(new RouterSpec { Name = "a", Image = "router", MemoryMB = 300 }, false, None);
            Assert.Equal("a:300", Show(b.Requests[0].Creates));
            Assert.Empty(b.Requests[0].Starts);

            b.Refuse = new VirtualNetworksException(ErrorIds.TooManyRouters, ErrorKind.LimitsExceeded, "host", "too many");
            b.Calls.Clear();
            var ex = Assert.Throws<VirtualNetworksException>(() => service.NewRouter(new RouterSpec { Name = "b", Image = "router", MemoryMB = 400 }, true, None));
            Assert.Equal(ErrorIds.TooManyRouters, ex.ErrorId);
            Assert.Equal("b:400", Show(b.Requests[1].Creates));
            Assert.Equal("b:400", Show(b.Requests[1].Starts));
            Assert.Empty(b.Calls); // refused before the backend created anything
        }

        [Fact]
        public void NewRouter_with_force_is_not_asked()
        {
            var b = new AdmittingBackend { Refuse = new VirtualNetworksException(ErrorIds.InsufficientHostMemory, ErrorKind.ResourceUnavailable, "host", "no") };
            var router = new VirtualNetworkService(b).NewRouter(new RouterSpec { Name = "a", Image = "router" }, true, true, None);
            Assert.Empty(b.Requests);
            Assert.Equal(new[] { "create a", "start a" }, b.Calls);
            Assert.Equal(RouterState.Running, router.State);
        }

        [Fact]
        public void StartRouter_asks_for_a_router_that_is_off_or_failed_only_and_not_with_force()
        {
            var b = new AdmittingBackend();
            b.Has("off", RouterState.Off, 700);
            b.Has("failed", RouterState.Failed, 800);
            b.Has("running", RouterState.Running, 900);
            var service = new VirtualNetworkService(b);
            service.StartRouter("off", None);
            service.StartRouter("failed", None);
            service.StartRouter("running", None);
            Assert.Equal(new[] { "off:700", "failed:800" }, b.Requests.Select(r => Show(r.Starts)));
            Assert.All(b.Requests, r => Assert.Empty(r.Creates));

            b.Inventory.Routers.First(r => r.Name == "off").State = RouterState.Off; // stopped again
            b.Refuse = new VirtualNetworksException(ErrorIds.InsufficientHostMemory, ErrorKind.ResourceUnavailable, "host", "no");
            b.Calls.Clear();
            Assert.Throws<VirtualNetworksException>(() => service.StartRouter("off", None));
            Assert.Empty(b.Calls);
            service.StartRouter("off", true, None);
            Assert.Equal(new[] { "start off" }, b.Calls);
        }

        [Fact]
        public void A_batch_start_asks_once_for_all_and_when_refused_admits_router_by_router_in_order()
        {
            var b = new AdmittingBackend();
            b.Has("a", RouterState.Off, 256);
            b.Has("b", RouterState.Off, 512);
            b.Has("c", RouterState.Off, 128);
            b.Has("r", RouterState.Running, 1024); // already runs: never asked for
            b.RefuseIf = request => request.Starts.Sum(s => s.MemoryMB ?? 0) > 400
                ? new VirtualNetworksException(ErrorIds.InsufficientHostMemory, ErrorKind.LimitsExceeded, "localhost", "not enough memory")
                : null;
            var service = new VirtualNetworkService(b);
            var outcomes = service.StartRouters(new[] { "a", "b", "r", "c" }, force: false, None);
            Assert.Equal(new[] { "a", "b", "r", "c" }, outcomes.Select(o => o.Name));
            Assert.Equal(new[] { true, false, true, true }, outcomes.Select(o => o.Succeeded));
            Assert.Equal(ErrorIds.InsufficientHostMemory, outcomes[1].Error!.ErrorId);
            Assert.Equal(new[] { "start a", "start r", "start c" }, b.Calls);
            // One request for all three that start; refused; then a, a+b (refused), a+c.
            Assert.Equal(new[] { "a:256,b:512,c:128", "a:256", "a:256,b:512", "a:256,c:128" }, b.Requests.Select(r => Show(r.Starts)));
            Assert.All(outcomes.Where(o => o.Succeeded), o => Assert.Equal(RouterState.Running, o.Router!.State));
        }

        [Fact]
        public void A_batch_start_that_fits_asks_once_and_Force_asks_nothing()
        {
            var b = new AdmittingBackend();
            foreach (var n in new[] { "a", "b", "c" }) b.Has(n, RouterState.Off, 64);
            var service = new VirtualNetworkService(b);
            Assert.All(service.StartRouters(new[] { "c", "a" }, force: false, None), o => Assert.True(o.Succeeded));
            Assert.Equal(new[] { "a:64,c:64" }, b.Requests.Select(r => Show(r.Starts)));
            Assert.All(service.StartRouters(new[] { "b" }, force: true, None), o => Assert.True(o.Succeeded));
            Assert.Single(b.Requests);
            Assert.Equal(new[] { "start c", "start a", "start b" }, b.Calls);
        }

        [Fact]
        public void A_batch_names_each_missing_router_and_changes_a_router_named_twice_once()
        {
            var b = new AdmittingBackend();
            b.Has("a", RouterState.Off, 64);
            var service = new VirtualNetworkService(b);
            var outcomes = service.StartRouters(new[] { "a", "nope", "A" }, force: false, None);
            Assert.Equal(new[] { "a", "nope", "a" }, outcomes.Select(o => o.Name));
            Assert.True(outcomes[0].Succeeded);
            Assert.Equal(ErrorIds.RouterNotFound, outcomes[1].Error!.ErrorId);
            Assert.Equal("nope", outcomes[1].Error!.TargetName);
            Assert.True(outcomes[2].Succeeded);
            Assert.Equal(new[] { "start a" }, b.Calls);
            Assert.Empty(service.StopRouters(Array.Empty<string>(), false, None));
        }
    }
}
