using System;
using System.Linq;
using VirtualNetworks.Backends;
using VirtualNetworks.HyperV.Cim;
using VirtualNetworks.HyperV.Simulator;
using VirtualNetworks.HyperV.Tests.Simulator;
using Xunit;

namespace VirtualNetworks.HyperV.Tests.Backend
{
    /// <summary>Inventory drift, foreign objects, checkpoints, and the translation of every CIM failure kind.</summary>
    public class BackendInventoryAndErrorTests
    {
        private static readonly System.Threading.CancellationToken None = SimRig.None;

        private static SimRig Pair()
        {
            var rig = new SimRig();
            rig.Backend.CreateRouter(SimRig.Router("r1"), None);
            rig.Backend.CreateRouter(SimRig.Router("r2"), None);
            rig.Backend.CreateLink(SimRig.Link("a", "r1", "r2", bw: 1_000_000), None);
            return rig;
        }

        [Fact]
        public void Drift_VmTurnedOffBehindTheModulesBack_IsReported()
        {
            using var rig = Pair();
            rig.Backend.StartRouter("r1", None);
            var gw = rig.Sim.Connect();
            gw.Power(rig.Sim.FindVm("r1")!.ToReference(), 3);
            Assert.Equal(RouterState.Off, rig.Inventory().Routers.Single(r => r.Name == "r1").State);
        }

        [Fact]
        public void Drift_VmDeletedBehindTheModulesBack_DropsRouterAndLink_PeerNicIsAnOrphan_RedeployConverges()
        {
            using var rig = Pair();
            var gw = rig.Sim.Connect();
            gw.Wait(gw.Service("Msvm_VirtualSystemManagementService"), "DestroySystem",
                CimMethodParameter.Reference("AffectedSystem", rig.Sim.FindVm("r1")!.ToReference()));
            var inv = rig.Inventory();
            Assert.Equal(new[] { "r2" }, inv.Routers.Select(r => r.Name));
            Assert.Empty(inv.Links);
            var orphans = rig.Backend.FindOrphans(false, None);
            var nic = Assert.Single(orphans);
            Assert.Equal(OrphanKind.NetworkAdapter, nic.Kind);
            // The stale disk of r1 is left by DestroySystem; re-creating r1 replaces it, re-creating the link replaces the half link.
            rig.Backend.CreateRouter(SimRig.Router("r1"), None);
            rig.Backend.CreateLink(SimRig.Link("a", "r1", "r2", bw: 1_000_000), None);
            inv = rig.Inventory();
            Assert.Equal(new[] { "a" }, inv.Links.Select(l => l.Name));
            Assert.Equal(2, rig.Nics().Count);
            Assert.Empty(rig.Backend.FindOrphans(false, None));
        }

        [Fact]
        public void ForeignUnmarkedVmWithTheSameName_IsIgnoredAndNeverTouched()
        {
            using var rig = Pair();
            var gw = rig.Sim.Connect();
            var foreign = gw.DefineVm("r1");
            gw.Nic(foreign, "vn:a");
            var inv = rig.Inventory();
            var r1 = inv.Routers.Single(r => r.Name == "r1");
            Assert.Null(r1.Status);
            Assert.Single(inv.Links);
            Assert.Empty(rig.Backend.FindOrphans(true, None).Where(o => o.Name.Contains(foreign.Key("Name")!)));
            rig.Backend.StartRouter("r1", None);
            rig.Backend.RemoveRouter("r1", None);
            Assert.NotNull(gw.GetInstance(foreign, None));
            Assert.Equal(3, gw.EnabledState(foreign));
        }

        [Fact]
        public void CheckpointSettings_AreIgnored()
        {
            using var rig = Pair();
            var before = rig.Inventory();
            rig.Sim.AddCheckpointSettings("r1");
            rig.Sim.AddCheckpointSettings("r2");
            Assert.Equal(4, rig.Vssds().Count);
            var after = rig.Inventory();
            Assert.Equal(before.Routers.Select(r => (r.Name, r.Status, r.State)), after.Routers.Select(r => (r.Name, r.Status, r.State)));
            var l = Assert.Single(after.Links);
            Assert.Null(l.Status);
            Assert.Empty(rig.Backend.FindOrphans(false, None));
            rig.Backend.SetLinkBandwidth("a", 2_000_000, None);
            Assert.Equal(2_000_000L, rig.Inventory().Links.Single().MaximumBandwidth);
            rig.Backend.StartRouter("r1", None);
        }

        [Fact]
        public void HalfBuiltRouter_IsInvisible_ListedAsOrphan_AndRemovedWithItsDisk()
        {
            using var rig = new SimRig();
            rig.Sim.Faults.FailJob("AddResourceSettings", occurrence: 3); // the VHD attach of the first router
            var ex = Assert.Throws<VirtualNetworksException>(() => rig.Backend.CreateRouter(SimRig.Router("r1"), None));
            Assert.Equal(HyperVErrorIds.JobFailed, ex.ErrorId);
            Assert.Contains("AddResourceSettings (attach disk)", ex.Message);
            rig.Sim.Faults.Clear();
            Assert.Empty(rig.Inventory().Routers);
            var orphan = Assert.Single(rig.Backend.FindOrphans(false, None));
            Assert.Equal(OrphanKind.VirtualMachine, orphan.Kind);
            Assert.Equal("r1", orphan.Owner);
            Assert.Single(rig.DiskFiles());
            rig.Backend.RemoveOrphan(orphan, None);
            Assert.Empty(rig.Vms());
            Assert.Empty(rig.DiskFiles());
            Assert.Empty(rig.Backend.FindOrphans(true, None));
        }

        // ------------------------------------------------------------------------------------------------ errors

        [Theory]
        [InlineData(CimErrorCode.AccessDenied, HyperVErrorIds.AccessDenied, ErrorKind.PermissionDenied)]
        [InlineData(CimErrorCode.InvalidNamespace, HyperVErrorIds.NotInstalled, ErrorKind.NotInstalled)]
        [InlineData(CimErrorCode.InvalidClass, HyperVErrorIds.NotInstalled, ErrorKind.NotInstalled)]
        [InlineData(CimErrorCode.ConnectionFailed, HyperVErrorIds.ConnectionFailed, ErrorKind.ConnectionError)]
        [InlineData(CimErrorCode.ServerIsShuttingDown, HyperVErrorIds.ConnectionFailed, ErrorKind.ConnectionError)]
        [InlineData(CimErrorCode.NotFound, HyperVErrorIds.ObjectNotFound, ErrorKind.ObjectNotFound)]
        [InlineData(CimErrorCode.Failed, HyperVErrorIds.QueryFailed, ErrorKind.InvalidResult)]
        public void GatewayFailure_InInventory_TranslatesWithStableId(CimErrorCode code, string id, ErrorKind kind)
        {
            using var rig = new SimRig();
            rig.Sim.Faults.Throw(code, GatewayOperation.Query, "Msvm_VirtualSystemSettingData");
            var ex = Assert.Throws<VirtualNetworksException>(() => rig.Inventory());
            Assert.Equal(id, ex.ErrorId);
            Assert.Equal(kind, ex.Kind);
            Assert.Contains("Reading the inventory", ex.Message);
            Assert.IsType<CimGatewayException>(ex.InnerException);
        }

        [Fact]
        public void GatewayFailure_DuringCreate_NamesTheStep()
        {
            using var rig = new SimRig();
            rig.Sim.Faults.Throw(CimErrorCode.AccessDenied, GatewayOperation.InvokeMethod, "DefineSystem");
            var ex = Assert.Throws<VirtualNetworksException>(() => rig.Backend.CreateRouter(SimRig.Router("r1"), None));
            Assert.Equal(HyperVErrorIds.AccessDenied, ex.ErrorId);
            Assert.StartsWith("Creating router 'r1': DefineSystem failed on host", ex.Message);
            Assert.Equal("Run elevated or join the Hyper-V Administrators group.", ex.RecommendedAction);
        }

        [Fact]
        public void UnknownHost_IsConnectionFailed()
        {
            var dc = new SimulatedDatacenter();
            dc.AddHost("HV01");
            using var b = new HyperVBackend(new BackendRequest { ComputerName = new[] { "NOPE" } }, n => dc.Connect(n), new HyperVBackendOptions());
            var ex = Assert.Throws<VirtualNetworksException>(() => b.GetInventory(None));
            Assert.Equal(HyperVErrorIds.ConnectionFailed, ex.ErrorId);
            Assert.Contains("NOPE", ex.Message);
        }

        [Theory]
        [InlineData("DefineSystem", 4u, "Invalid parameter", ErrorKind.InvalidResult)]
        [InlineData("DefineSystem", 5u, "Invalid state", ErrorKind.InvalidOperation)]
        [InlineData("CreateVirtualHardDisk", 32769u, "Access denied", ErrorKind.PermissionDenied)]
        [InlineData("CreateVirtualHardDisk", 32779u, "File not found", ErrorKind.ObjectNotFound)]
        [InlineData("AddResourceSettings", 2u, "Failed", ErrorKind.InvalidResult)]
        public void MethodReturnCode_TranslatesToMethodFailed(string method, uint code, string meaning, ErrorKind kind)
        {
            using var rig = new SimRig();
            rig.Sim.Faults.FailMethod(method, code, occurrence: 1);
            var ex = Assert.Throws<VirtualNetworksException>(() => rig.Backend.CreateRouter(SimRig.Router("r1"), None));
            Assert.Equal(HyperVErrorIds.MethodFailed, ex.ErrorId);
            Assert.Equal(kind, ex.Kind);
            Assert.Contains("Creating router 'r1'", ex.Message);
            Assert.Contains($"return value {code} ({meaning})", ex.Message);
            Assert.IsType<CimMethodException>(ex.InnerException);
        }

        [Fact]
        public void FailedJob_CarriesErrorCodeAndGetErrorExMessages()
        {
            using var rig = Pair();
            rig.Sim.Faults.FailJob("RequestStateChange", 32778, description: "Out of memory", message: "'r1' could not initialize memory: not enough memory in the system.");
            var ex = Assert.Throws<VirtualNetworksException>(() => rig.Backend.StartRouter("r1", None));
            Assert.Equal(HyperVErrorIds.JobFailed, ex.ErrorId);
            Assert.Contains("Starting router 'r1'", ex.Message);
            Assert.Contains("error code 32778", ex.Message);
            Assert.Contains("not enough memory in the system", ex.Message);
            var inner = Assert.IsType<CimMethodException>(ex.InnerException);
            Assert.Equal((ushort)32778, inner.JobErrorCode);
        }

        [Fact]
        public void SlowJob_TimesOut()
        {
            using var rig = new SimRig(TimeSpan.FromSeconds(30));
            rig.Options.JobTimeout = TimeSpan.FromMilliseconds(50);
            var ex = Assert.Throws<VirtualNetworksException>(() => rig.Backend.CreateRouter(SimRig.Router("r1"), None));
            Assert.Equal(HyperVErrorIds.JobTimeout, ex.ErrorId);
            Assert.Equal(ErrorKind.OperationTimeout, ex.Kind);
        }

        [Fact]
        public void MissingImage_IsImageNotFound_BeforeAnyChange()
        {
            using var rig = new SimRig();
            var spec = SimRig.Router("r1");
            spec.Image = @"C:\Images\missing.vhdx";
            rig.Sim.Counters.Reset();
            var ex = Assert.Throws<VirtualNetworksException>(() => rig.Backend.CreateRouter(spec, None));
            Assert.Equal(ErrorIds.ImageNotFound, ex.ErrorId);
            Assert.Equal(0, rig.Sim.Counters.Method("DefineSystem"));
            Assert.Empty(rig.Vms());
        }
    }
}
