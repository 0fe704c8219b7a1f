using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using VirtualNetworks.Backends;
using VirtualNetworks.Engine;
using VirtualNetworks.Planning;
using VirtualNetworks.Topology;
using Xunit;

namespace VirtualNetworks.Core.Tests
{
    /// <summary>
    /// A router that gives no memory (RouterSpec.MemoryMB null: no memoryMB in the file and no defaults.memoryMB, or
    /// New-VirtualRouter without -MemoryMB) gets the backend's BackendCapabilities.DefaultMemoryMB, filled in by the engine
    /// before it validates against the backend's limits, asks for admission and plans; explicit values are kept.
    /// </summary>
    public sealed class BackendDefaultMemoryTests
    {
        private static readonly CancellationToken None = CancellationToken.None;

        /// <summary>Records what reaches it; holds created routers with the memory it was given.</summary>
        private sealed class RecordingBackend : IVirtualizationBackend, IAdmissionControl
        {
            public readonly List<RouterSpec> Created = new List<RouterSpec>();
            public readonly List<AdmissionRequest> Admissions = new List<AdmissionRequest>();
            public readonly BackendInventory Inventory = new BackendInventory();

            public RecordingBackend(int defaultMemoryMB, int maxMemoryMB = 65_536)
            {
                Capabilities = new BackendCapabilities { DefaultMemoryMB = defaultMemoryMB, MinMemoryMB = 32, MaxMemoryMB = maxMemoryMB };
            }

            public string Kind => "Recording";
            public BackendCapabilities Capabilities { get; }
            public BackendInventory GetInventory(CancellationToken c) => Inventory;
            public bool ImageExists(string image, string host) => true;
            public void Admit(AdmissionRequest request, CancellationToken c) => Admissions.Add(request);

            public void CreateRouter(RouterSpec spec, CancellationToken c)
            {
                Created.Add(spec.Clone());
                // A real backend could fall back to its default itself; this one must not need to.
                Assert.True(spec.MemoryMB.HasValue, "the engine passes the backend a resolved memory size");
                Has(spec.Name, spec.MemoryMB!.Value);
            }

            public void Has(string name, int memoryMB, RouterState state = RouterState.Off) => Inventory.Routers.Add(new VirtualRouter
            {
                Name = name, ComputerName = "localhost", State = state, MemoryMB = memoryMB, ProcessorCount = 1, Image = "router", Backend = Kind,
            });

            public void RemoveRouter(string name, CancellationToken c) { }
            public void StartRouter(string name, CancellationToken c) => Inventory.Routers.First(r => r.Name == name).State = RouterState.Running;
            public void StopRouter(string name, bool turnOff, CancellationToken c) { }
            public void SuspendRouter(string name, CancellationToken c) { }
            public void ResumeRouter(string name, CancellationToken c) { }
            public void ConfigureRouter(RouterConfiguration configuration, CancellationToken c) => Inventory.Configurations[configuration.RouterName] = configuration;
            public void MoveRouter(string name, string destinationHost, MigrationMode mode, IProgress<string>? progress, CancellationToken c) { }
            public void CreateLink(LinkSpec spec, CancellationToken c) { }
            public void RemoveLink(string name, CancellationToken c) { }
            public void SetLinkBandwidth(string name, long? bitsPerSecond, CancellationToken c) { }
            public ProbeResult Probe(string fromRouter, string address, CancellationToken c) => new ProbeResult();
            public void Dispose() { }
        }

        private sealed class AllSteps : IPlanObserver
        {
            public bool ShouldRun(PlanStep step) => true;
            public void OnStepStarting(PlanStep step, int index, int count) { }
        }

        private static TopologySpec Topology(params (string Name, int? MemoryMB)[] routers)
        {
            var t = new TopologySpec();
            foreach (var r in routers) t.Routers.Add(new RouterSpec { Name = r.Name, Image = "router", MemoryMB = r.MemoryMB });
            return t;
        }

        [Theory]
        [InlineData(128)]   // Linux
        [InlineData(512)]   // Hyper-V
        [InlineData(1024)]
        public void NewRouter_without_memory_gets_the_backend_default(int defaultMemoryMB)
        {
            var b = new RecordingBackend(defaultMemoryMB);
            var given = new RouterSpec { Name = "a", Image = "router" };
            var router = new VirtualNetworkService(b).NewRouter(given, start: true, None);
            Assert.Equal(defaultMemoryMB, Assert.Single(b.Created).MemoryMB);
            Assert.Equal(defaultMemoryMB, router.MemoryMB);
            Assert.Equal(defaultMemoryMB, Assert.Single(Assert.Single(b.Admissions).Creates).MemoryMB);
            Assert.Null(given.MemoryMB); // the caller's spec is not changed
        }

        [Theory]
        [InlineData(128, 512)]
        [InlineData(512, 128)]  // smaller than the default: kept (other images may need less)
        [InlineData(512, 256)]
        public void NewRouter_with_memory_keeps_it(int defaultMemoryMB, int explicitMemoryMB)
        {
            var b = new RecordingBackend(defaultMemoryMB);
            var router = new VirtualNetworkService(b).NewRouter(new RouterSpec { Name = "a", Image = "router", MemoryMB = explicitMemoryMB }, false, None);
            Assert.Equal(explicitMemoryMB, Assert.Single(b.Created).MemoryMB);
            Assert.Equal(explicitMemoryMB, router.MemoryMB);
        }

        [Fact]
        public void NewRouter_validates_the_default_against_the_backend_limits_before_creating()
        {
            var b = new RecordingBackend(defaultMemoryMB: 512, maxMemoryMB: 256);
            var ex = Assert.Throws<TopologyValidationException>(() => new VirtualNetworkService(b).NewRouter(new RouterSpec { Name = "a", Image = "router" }, false, None));
            var error = Assert.Single(ex.Errors);
            Assert.Equal(ErrorIds.InvalidMemory, error.ErrorId);
            Assert.Contains("512", error.Message);
            Assert.Empty(b.Created);
        }

        [Theory]
        [InlineData(128)]
        [InlineData(512)]
        public void A_deployment_plans_and_creates_routers_without_memory_with_the_backend_default(int defaultMemoryMB)
        {
            var b = new RecordingBackend(defaultMemoryMB);
            var service = new VirtualNetworkService(b);
            var desired = Topology(("d", null), ("e", 256));
            var plan = service.PlanDeployment(desired, false, None);

            var create = plan.Steps.Single(s => s.Action == PlanAction.CreateRouter && s.Target == "d");
            Assert.Contains(", " + defaultMemoryMB + " MB,", create.Description);
            Assert.Contains(", 256 MB,", plan.Steps.Single(s => s.Action == PlanAction.CreateRouter && s.Target == "e").Description);
            Assert.Equal(new[] { "d:" + defaultMemoryMB, "e:256" },
                Assert.Single(b.Admissions).Creates.Select(s => s.Name + ":" + s.MemoryMB).OrderBy(x => x, StringComparer.Ordinal));
            Assert.Null(desired.Routers[0].MemoryMB); // the caller's topology is not changed

            service.Apply(plan, new AllSteps(), None);
            Assert.Equal(new[] { "d:" + defaultMemoryMB, "e:256" }, b.Created.Select(s => s.Name + ":" + s.MemoryMB).OrderBy(x => x, StringComparer.Ordinal));
        }

        [Theory]
        [InlineData(128)]
        [InlineData(512)]
        public void Redeploying_a_topology_without_memory_plans_nothing_and_warns_about_nothing(int defaultMemoryMB)
        {
            var b = new RecordingBackend(defaultMemoryMB);
            var service = new VirtualNetworkService(b);
            service.Apply(service.PlanDeployment(Topology(("d", null)), false, None), new AllSteps(), None);

            var again = service.PlanDeployment(Topology(("d", null)), false, None);
            Assert.Empty(again.Steps);
            Assert.Empty(again.Warnings);
        }

        [Fact]
        public void A_deployed_router_whose_memory_differs_from_the_backend_default_is_warned_about_not_changed()
        {
            // E.g. a Hyper-V router made with the old 128 MB default: the file still asks for the backend's default.
            var b = new RecordingBackend(defaultMemoryMB: 512);
            b.Has("d", 128, RouterState.Running);
            var plan = new VirtualNetworkService(b).PlanDeployment(Topology(("d", null)), false, None);
            Assert.DoesNotContain(plan.Steps, s => s.Action == PlanAction.CreateRouter || s.Action == PlanAction.RemoveRouter);
            var warning = Assert.Single(plan.Warnings);
            Assert.Contains("memoryMB is 128 but the topology asks for 512", warning);
        }

        [Fact]
        public void A_deployment_validates_the_default_against_the_backend_limits_before_planning()
        {
            var b = new RecordingBackend(defaultMemoryMB: 512, maxMemoryMB: 256);
            var ex = Assert.Throws<TopologyValidationException>(() => new VirtualNetworkService(b).PlanDeployment(Topology(("d", null), ("e", 256)), false, None));
            var error = Assert.Single(ex.Errors);
            Assert.Equal((ErrorIds.InvalidMemory, "d"), (error.ErrorId, error.Target));
            Assert.Empty(b.Admissions);
        }

        [Fact]
        public void Static_validation_accepts_memory_not_given_and_still_refuses_a_bad_explicit_value()
        {
            Assert.Empty(VirtualNetworkService.ValidateStatic(Topology(("d", null)), force: false));
            var error = Assert.Single(VirtualNetworkService.ValidateStatic(Topology(("d", null), ("z", 0)), force: false));
            Assert.Equal((ErrorIds.InvalidMemory, "z"), (error.ErrorId, error.Target));
        }

        [Fact]
        public void WithBackendDefaults_fills_in_only_what_is_not_given()
        {
            var service = new VirtualNetworkService(new RecordingBackend(defaultMemoryMB: 512));
            Assert.Equal(512, service.WithBackendDefaults(new RouterSpec { Name = "a" }).MemoryMB);
            Assert.Equal(64, service.WithBackendDefaults(new RouterSpec { Name = "a", MemoryMB = 64 }).MemoryMB);
            var resolved = service.WithBackendDefaults(Topology(("a", null), ("b", 1024)));
            Assert.Equal(new int?[] { 512, 1024 }, resolved.Routers.Select(r => r.MemoryMB));
        }

        [Fact]
        public void The_planner_alone_neither_warns_about_nor_invents_memory_that_is_not_given()
        {
            var observed = new BackendInventory();
            observed.Routers.Add(new VirtualRouter { Name = "d", ComputerName = "localhost", MemoryMB = 512, ProcessorCount = 1, Image = "router", State = RouterState.Running });
            var desired = Topology(("d", null), ("n", null));
            var plan = Planner.Plan(desired, observed);
            Assert.DoesNotContain(plan.Warnings, w => w.Contains("memoryMB"));
            Assert.Contains("the backend's default memory", plan.Steps.Single(s => s.Action == PlanAction.CreateRouter).Description);
        }
    }
}
