using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using VirtualNetworks.Backends;
using VirtualNetworks.Engine;
using VirtualNetworks.HyperV.Cim;
using VirtualNetworks.HyperV.Simulator;
using VirtualNetworks.Planning;
using Xunit;
using Xunit.Abstractions;

namespace VirtualNetworks.HyperV.Tests.Backend
{
    /// <summary>
    /// Deploys a 4-router ring (4 links, two bandwidth limits, one explicit VLAN) through VirtualNetworkService with the
    /// real planner, injects a failure at every CIM method call in turn (and job failures, cancellation), and checks that
    /// the failure names the step and that a plain rerun converges with nothing orphaned.
    /// </summary>
    public class DeployFaultInjectionTests
    {
        private static readonly CancellationToken None = SimRig.None;
        private readonly ITestOutputHelper _out;

        public DeployFaultInjectionTests(ITestOutputHelper output) => _out = output;

        internal static readonly string[] RouterNames = { "r1", "r2", "r3", "r4" };

        internal static TopologySpec Ring()
        {
            var t = new TopologySpec();
            foreach (var n in RouterNames) t.Routers.Add(SimRig.Router(n));
            t.Links.Add(SimRig.Link("r1-r2", "r1", "r2", bw: 10_000_000));
            t.Links.Add(SimRig.Link("r2-r3", "r2", "r3", vlan: 100));
            t.Links.Add(SimRig.Link("r3-r4", "r3", "r4", bw: 1_000_005));
            t.Links.Add(SimRig.Link("r4-r1", "r4", "r1"));
            return t;
        }

        internal static void Deploy(HyperVBackend backend, CancellationToken ct = default)
        {
            var svc = new VirtualNetworkService(backend);
            var plan = svc.PlanDeployment(Ring(), force: false, ct);
            svc.Apply(plan, new YesObserver(), ct);
        }

        /// <summary>The deployed state equals the desired ring, and nothing else exists.</summary>
        private static void AssertConverged(SimRig rig, string context)
        {
            var b = rig.NewBackend();
            var inv = b.GetInventory(None);
            Assert.True(RouterNames.SequenceEqual(inv.Routers.Select(r => r.Name)), context + ": routers " + string.Join(",", inv.Routers.Select(r => r.Name)));
            Assert.All(inv.Routers, r => Assert.True(r.State == RouterState.Running && r.Status == null, $"{context}: {r.Name} {r.State} {r.Status}"));
            var links = inv.Links.ToDictionary(l => l.Name);
            Assert.True(links.Count == 4, context + ": links " + string.Join(",", links.Keys));
            foreach (var want in Ring().Links)
            {
                var have = links[want.Name];
                Assert.Equal((want.From, want.To), (have.From, have.To));
                Assert.Null(have.Status);
                Assert.Equal(want.MaximumBandwidth.HasValue ? HyperVBackend.EffectiveBandwidth(want.MaximumBandwidth.Value) : (long?)null, have.MaximumBandwidth);
                if (want.VlanId.HasValue) Assert.Equal(want.VlanId, have.VlanId);
                Assert.False(string.IsNullOrEmpty(have.FromAddress) || string.IsNullOrEmpty(have.ToAddress), context + ": addresses of " + want.Name);
            }
            Assert.Equal(4, links.Values.Select(l => l.VlanId).Distinct().Count());
            Assert.Equal(4, inv.Configurations.Count);
            Assert.All(inv.Configurations.Values, c => Assert.Equal(2, c.Interfaces.Count));
            // Nothing left to do, nothing orphaned, nothing extra in the simulator.
            var again = new VirtualNetworkService(b).PlanDeployment(Ring(), false, None);
            Assert.True(again.Steps.Count == 0, context + ": re-plan " + string.Join("; ", again.Steps));
            var orphans = b.FindOrphans(false, None);
            Assert.True(orphans.Count == 0, context + ": orphans " + string.Join("; ", orphans.Select(o => o.Name + " " + o.Reason)));
            Assert.Equal(4, rig.Vms().Count);
            Assert.Equal(8, rig.Nics().Count);
            Assert.Equal(RouterNames.Select(n => SimRig.VhdDir + "\\" + n + ".vhdx"), rig.DiskFiles(), StringComparer.OrdinalIgnoreCase);
            Assert.Single(rig.Sim.Instances("Msvm_VirtualEthernetSwitch"));
            Assert.Equal(0, rig.Sim.PendingJobs);
        }

        private static int CleanDeployMethodCalls(out List<string> methods)
        {
            using var rig = new SimRig();
            var seen = new List<string>();
            rig.Sim.Faults.FailMethod(null!, 0, when: c => { seen.Add(c.Method!); return false; });
            Deploy(rig.Backend);
            rig.Sim.Faults.Clear();
            AssertConverged(rig, "clean");
            methods = seen;
            return seen.Count;
        }

        private static bool ServiceFamily(string? m) => m != null && (m.EndsWith("Settings", StringComparison.Ordinal) || m == "DefineSystem" || m == "DestroySystem");

        [Fact]
        public void CleanDeploy_Converges_AndRerunIsANoOp()
        {
            int n = CleanDeployMethodCalls(out var methods);
            _out.WriteLine($"clean deploy: {n} method calls: " + string.Join(" ", methods.GroupBy(m => m).Select(g => g.Key + "×" + g.Count())));
            Assert.True(n > 20);
        }

        [Theory]
        [InlineData(ResultingSettingsPolicy.Always, true, 0)]
        [InlineData(ResultingSettingsPolicy.Never, true, 0)]
        [InlineData(ResultingSettingsPolicy.EveryOther, false, 0)]
        [InlineData(ResultingSettingsPolicy.EveryOther, true, 4)]
        public void Deploy_UnderEverySimulatorPolicy_Converges(ResultingSettingsPolicy policy, bool jobs, int jobMs)
        {
            using var rig = new SimRig(TimeSpan.FromMilliseconds(jobMs));
            rig.Sim.ResultingSettings = policy;
            rig.Sim.ConfigurationMethodsUseJobs = jobs;
            Deploy(rig.Backend);
            AssertConverged(rig, $"{policy} jobs={jobs} {jobMs} ms");
        }

        [Fact]
        public void RemovingEveryNetwork_LeavesOnlyTheFabricSwitch_WhichTheOrphanScanRemoves()
        {
            using var rig = new SimRig();
            Deploy(rig.Backend);
            var svc = new VirtualNetworkService(rig.Backend);
            var snap = svc.Observe(None);
            svc.Apply(svc.PlanRemoval(snap, snap.Networks), new YesObserver(), None);
            Assert.Empty(rig.Vms());
            Assert.Empty(rig.Nics());
            Assert.Empty(rig.DiskFiles());
            var inv = rig.Inventory();
            Assert.Empty(inv.Routers);
            Assert.Empty(inv.Links);
            var orphan = Assert.Single(rig.Backend.FindOrphans(false, None));
            Assert.Equal(OrphanKind.VirtualSwitch, orphan.Kind);
            rig.Backend.RemoveOrphan(orphan, None);
            Assert.Empty(rig.Sim.Instances("Msvm_VirtualEthernetSwitch"));
            Assert.Empty(rig.Backend.FindOrphans(true, None));
        }

        [Fact]
        public void MethodFailure_AtEveryCall_FailsNamingTheStep_AndRerunConverges()
        {
            int n = CleanDeployMethodCalls(out var methods);
            for (int k = 1; k <= n; k++)
            {
                using var rig = new SimRig();
                int seen = 0;
                string? failed = null;
                // Service-family methods fail with 2 (Failed), the Hyper-V family with 32768 (Failed); exactly call k.
                rig.Sim.Faults.FailMethod(null!, 2, when: c => { seen++; if (seen == k && ServiceFamily(c.Method)) { failed = c.Method; return true; } return false; });
                rig.Sim.Faults.FailMethod(null!, 32768, when: c => { if (seen == k && !ServiceFamily(c.Method) && failed == null) { failed = c.Method; return true; } return false; });
                var ex = Assert.ThrowsAny<VirtualNetworksException>(() => Deploy(rig.Backend));
                string ctx = $"k={k} ({failed})";
                Assert.NotNull(failed);
                AssertNamesStep(ex, failed!, ctx);
                rig.Sim.Faults.Clear();
                Deploy(rig.NewBackend());
                AssertConverged(rig, ctx);
            }
        }

        private void AssertNamesStep(VirtualNetworksException ex, string method, string ctx)
        {
            var text = ex.Message;
            Assert.True(text.Contains(method), ctx + ": method not named in: " + text);
            if (method == "GetVirtualHardDiskSettingData")
            {
                // The image check of planning/preflight or of CreateRouter: the image is named.
                Assert.True(text.Contains("image") && text.Contains(SimRig.Image), ctx + ": image not named in: " + text);
                return;
            }
            bool namesObject = RouterNames.Concat(Ring().Links.Select(l => l.Name)).Any(x => text.Contains("'" + x + "'"));
            Assert.True(namesObject, ctx + ": no router/link named in: " + text);
        }

        public static IEnumerable<object[]> JobFaults() => new[]
        {
            new object[] { "DefineSystem", 1, false }, new object[] { "DefineSystem", 3, false },
            new object[] { "ModifyResourceSettings", 2, false },
            new object[] { "CreateVirtualHardDisk", 1, false }, new object[] { "CreateVirtualHardDisk", 4, false },
            new object[] { "AddResourceSettings", 1, false }, new object[] { "AddResourceSettings", 2, false }, new object[] { "AddResourceSettings", 3, true },
            new object[] { "AddResourceSettings", 6, false }, new object[] { "AddResourceSettings", 13, false }, new object[] { "AddResourceSettings", 14, true },
            new object[] { "AddResourceSettings", 16, false }, new object[] { "AddResourceSettings", 20, false },
            new object[] { "AddFeatureSettings", 1, false }, new object[] { "AddFeatureSettings", 4, true }, new object[] { "AddFeatureSettings", 8, false },
            new object[] { "AddKvpItems", 1, false }, new object[] { "AddKvpItems", 4, true },
            new object[] { "RequestStateChange", 1, false }, new object[] { "RequestStateChange", 4, false },
        };

        [Theory]
        [MemberData(nameof(JobFaults))]
        public void JobFailure_AtRepresentativeSteps_FailsWithJobText_AndRerunConverges(string method, int occurrence, bool partial)
        {
            using var rig = new SimRig();
            rig.Sim.Faults.FailJob(method, 32768, message: $"injected Msvm_Error for {method} #{occurrence}", occurrence: occurrence, afterPartialWork: partial);
            var ex = Assert.ThrowsAny<VirtualNetworksException>(() => Deploy(rig.Backend));
            string ctx = $"{method}#{occurrence}{(partial ? " partial" : "")}";
            AssertNamesStep(ex, method, ctx);
            Assert.Contains($"injected Msvm_Error for {method} #{occurrence}", ex.Message);
            rig.Sim.Faults.Clear();
            Deploy(rig.NewBackend());
            AssertConverged(rig, ctx);
        }

        [Fact]
        public void Crash_CancellationMidDeploy_RerunConverges()
        {
            int n = CleanDeployMethodCalls(out _);
            for (int k = 1; k <= n; k += 3)
            {
                using var rig = new SimRig();
                using var cts = new CancellationTokenSource();
                int seen = 0;
                rig.Sim.Faults.FailMethod(null!, 0, when: c => { if (++seen == k) cts.Cancel(); return false; });
                var ex = Assert.ThrowsAny<Exception>(() => Deploy(rig.Backend, cts.Token));
                Assert.True(ex is OperationCanceledException || (ex is VirtualNetworksException v && v.Kind == ErrorKind.OperationStopped), $"k={k}: {ex}");
                rig.Sim.Faults.Clear();
                Deploy(rig.NewBackend());
                AssertConverged(rig, $"cancel k={k}");
            }
        }

        [Fact]
        public void Crash_WithSlowJobs_AbandonedJobsFinishLater_RerunConverges()
        {
            // A process killed while jobs run: the jobs still complete on the host; the next run sees their results.
            for (int k = 2; k <= 40; k += 6)
            {
                using var rig = new SimRig(TimeSpan.FromMilliseconds(3));
                using var cts = new CancellationTokenSource();
                int seen = 0;
                rig.Sim.Faults.FailMethod(null!, 0, when: c => { if (++seen == k) cts.Cancel(); return false; });
                Assert.ThrowsAny<Exception>(() => Deploy(rig.Backend, cts.Token));
                rig.Sim.Faults.Clear();
                Thread.Sleep(5);
                Deploy(rig.NewBackend());
                rig.Sim.CompleteJobs();
                AssertConverged(rig, $"slow cancel k={k}");
            }
        }
    }
}
