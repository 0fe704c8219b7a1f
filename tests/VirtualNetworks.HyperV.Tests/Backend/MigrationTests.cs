using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using VirtualNetworks.Backends;
using VirtualNetworks.HyperV.Cim;
using VirtualNetworks.HyperV.Simulator;
using Xunit;

namespace VirtualNetworks.HyperV.Tests.Backend
{
    /// <summary>Move-VirtualRouter on the Hyper-V backend against several simulated hosts (docs/hyperv-backend.md §10).</summary>
    public class MigrationTests
    {
        private static readonly System.Threading.CancellationToken None = MigrationRig.None;
        private const string Fabric = HyperVNames.DefaultSwitchName;

        /// <summary>Records the MigrationType and NewResourceSettingData of every MigrateVirtualSystemToHost call on a host.</summary>
        private static ConcurrentQueue<(ushort Type, string[] Resources)> CaptureMigrations(HyperVSimulator host)
        {
            var seen = new ConcurrentQueue<(ushort, string[])>();
            host.Faults.FailMethod("MigrateVirtualSystemToHost", 0, when: call =>
            {
                var settings = CimXml.Read((string)call.Parameters["MigrationSettingData"]!);
                seen.Enqueue((settings.GetUInt16("MigrationType") ?? 0, call.Parameters.TryGetValue("NewResourceSettingData", out var r) && r is string[] a ? a : Array.Empty<string>()));
                return false;
            });
            return seen;
        }

        private static void TwoLinkedRoutersOnHv01(MigrationRig rig)
        {
            rig.Create("r1", "HV01");
            rig.Create("r2", "HV01");
            rig.Backend.CreateLink(SimRig.Link("l12", "r1", "r2", bw: 10_000_000), None);
        }

        [Fact]
        public void Live_LocalDisk_MovesVmAndDisk_SameGuidStillRunning_AndTheLinkCrossesTheTransportSwitch()
        {
            using var rig = new MigrationRig();
            TwoLinkedRoutersOnHv01(rig);
            string guid = rig.Vm("HV01", "r1")!.GetString("Name")!;
            int vlan = rig.LinkOf("l12").VlanId!.Value;
            rig.Backend.ConfigureRouter(new RouterConfiguration { RouterName = "r1" }, None);
            var migrations = CaptureMigrations(rig["HV01"]);
            var progress = new List<string>();

            rig.Backend.MoveRouter("r1", "HV02", MigrationMode.Live, new SyncProgress(progress.Add), None);

            // The VM: same GUID on HV02, still running (never rebooted: the guest stayed up), gone from HV01.
            Assert.Null(rig.Vm("HV01", "r1"));
            var moved = rig.Vm("HV02", "r1")!;
            Assert.Equal(guid, moved.GetString("Name"));
            Assert.Equal((ushort)2, moved.GetUInt16("EnabledState"));
            Assert.True(rig["HV02"].Guest("r1").GuestUp);
            Assert.Contains("vn.config.count", rig["HV02"].Guest("r1").HostItems.Keys);
            // Local disk: MigrationType 32771 with the destination path; the file moved.
            var (type, resources) = Assert.Single(migrations);
            Assert.Equal(HyperVBackend.MigrationTypeVirtualSystemAndStorage, type);
            string disk = SimRig.VhdDir + @"\r1.vhdx";
            Assert.Contains(resources, r => r.Contains(disk.Replace("\\", "\\"), StringComparison.OrdinalIgnoreCase) && r.Contains("Msvm_StorageAllocationSettingData"));
            Assert.True(rig["HV02"].FileExists(disk));
            Assert.False(rig["HV01"].FileExists(disk));
            // The link: both ends on the transport switch, same VLAN, same limit.
            var a = rig.Nic("HV02", "r1", "l12");
            var b = rig.Nic("HV01", "r2", "l12");
            Assert.All(new[] { a, b }, n => Assert.Equal(MigrationRig.Transport, n.SwitchName));
            Assert.All(new[] { a, b }, n => Assert.Equal((ushort?)vlan, n.AccessVlanId));
            Assert.All(new[] { a, b }, n => Assert.Equal((ulong?)10_000_000, n.BandwidthLimit));
            var inv = rig.Inventory();
            var link = inv.Links.Single(l => l.Name == "l12");
            Assert.Equal(LinkTransport.Vlan, link.Transport);
            Assert.True(link.IsCrossHost);
            Assert.Equal(("r1", "HV02"), (link.From, link.FromComputerName));
            Assert.Equal(("r2", "HV01"), (link.To, link.ToComputerName));
            Assert.Equal(vlan, link.VlanId);
            Assert.Equal(10_000_000, link.MaximumBandwidth);
            Assert.Equal("HV02", inv.Routers.Single(r => r.Name == "r1").ComputerName);
            Assert.Contains("l12", inv.Routers.Single(r => r.Name == "r1").Links);
            Assert.Contains("l12", inv.Routers.Single(r => r.Name == "r2").Links);
            Assert.Empty(rig.Backend.FindOrphans(false, None));
            Assert.Contains(progress, p => p.Contains("MigrationType 32771"));
        }

        [Fact]
        public void Live_SharedStorage_Uses32768_AndTheDiskStaysWhereItIs()
        {
            using var rig = new MigrationRig(vhdPath: MigrationRig.SharedShare + @"\VirtualNetworks");
            rig.Create("r1", "HV01");
            var migrations = CaptureMigrations(rig["HV01"]);
            string disk = MigrationRig.SharedShare + @"\VirtualNetworks\r1.vhdx";
            Assert.True(rig["HV01"].FileExists(disk));

            rig.Backend.MoveRouter("r1", "HV02", MigrationMode.Live, null, None);

            var (type, resources) = Assert.Single(migrations);
            Assert.Equal(HyperVBackend.MigrationTypeVirtualSystem, type);
            Assert.DoesNotContain(resources, r => r.Contains("Msvm_StorageAllocationSettingData"));
            Assert.True(rig["HV02"].FileExists(disk));
            var media = rig["HV02"].Instances("Msvm_StorageAllocationSettingData").Single(s => (s.GetString("InstanceID") ?? "").Contains(rig.Vm("HV02", "r1")!.GetString("Name")!));
            Assert.Equal(disk, media.GetStrings("HostResource").Single(), ignoreCase: true);
            Assert.Equal(RouterState.Running, rig.RouterOf("r1").State);
            Assert.Equal("HV02", rig.RouterOf("r1").ComputerName);
        }

        [Fact]
        public void Live_ReportsProgressFromTheJobsPercentComplete()
        {
            using var rig = new MigrationRig();
            rig.Create("r1", "HV01");
            rig["HV01"].MigrationDuration = TimeSpan.FromMilliseconds(60);
            var progress = new List<string>();
            rig.Backend.MoveRouter("r1", "HV02", MigrationMode.Live, new SyncProgress(progress.Add), None);
            Assert.Contains(progress, p => p.StartsWith("migrating r1: ", StringComparison.Ordinal) && !p.EndsWith(": 0%", StringComparison.Ordinal));
            Assert.Equal("r1 runs on HV02 (Running)", progress.Last());
        }

        [Fact]
        public void Cold_OfARunningRouter_StopsItGracefully_MovesIt_AndStartsItOnTheDestination()
        {
            using var rig = new MigrationRig();
            rig.Create("r1", "HV01");
            rig.ResetCounters();
            rig.Backend.MoveRouter("r1", "HV02", MigrationMode.Cold, null, None);
            Assert.Equal(1, rig["HV01"].Counters.Method("InitiateShutdown"));
            Assert.Equal(0, rig["HV01"].Counters.Method("RequestStateChange"));
            Assert.Equal(1, rig["HV02"].Counters.Method("RequestStateChange"));
            Assert.Null(rig.Vm("HV01", "r1"));
            Assert.Equal((ushort)2, rig.Vm("HV02", "r1")!.GetUInt16("EnabledState"));
        }

        [Fact]
        public void Cold_OfAStoppedRouter_MovesItAndLeavesItOff()
        {
            using var rig = new MigrationRig();
            rig.Create("r1", "HV01", start: false);
            rig.Backend.MoveRouter("r1", "HV02", MigrationMode.Cold, null, None);
            Assert.Equal((ushort)3, rig.Vm("HV02", "r1")!.GetUInt16("EnabledState"));
            Assert.Equal(RouterState.Off, rig.RouterOf("r1").State);
        }

        [Fact]
        public void Live_OfAStoppedRouter_IsRefusedBeforeAnythingChanges()
        {
            using var rig = new MigrationRig();
            rig.Create("r1", "HV01", start: false);
            rig.ResetCounters();
            var ex = Assert.Throws<VirtualNetworksException>(() => rig.Backend.MoveRouter("r1", "HV02", MigrationMode.Live, null, None));
            Assert.Equal(ErrorIds.InvalidStateTransition, ex.ErrorId);
            Assert.Equal(0, rig["HV01"].Counters.InvokeMethod + rig["HV02"].Counters.InvokeMethod);
        }

        [Fact]
        public void MovingToThePeersHost_BringsTheLinkBackToTheFabric()
        {
            using var rig = new MigrationRig();
            rig.Create("r1", "HV01");
            rig.Create("r2", "HV02");
            rig.Backend.CreateLink(SimRig.Link("l12", "r1", "r2"), None);
            Assert.True(rig.LinkOf("l12").IsCrossHost);
            Assert.DoesNotContain(rig["HV02"].Instances("Msvm_VirtualEthernetSwitch"), s => s.GetString("ElementName") == Fabric);

            rig.Backend.MoveRouter("r1", "HV02", MigrationMode.Live, null, None);

            // The fabric was created on HV02 first; both ends are on it, in the same VLAN.
            Assert.Equal(Fabric, rig.Nic("HV02", "r1", "l12").SwitchName);
            Assert.Equal(Fabric, rig.Nic("HV02", "r2", "l12").SwitchName);
            var link = rig.LinkOf("l12");
            Assert.False(link.IsCrossHost);
            Assert.Equal("HV02", link.FromComputerName);
            Assert.Equal(rig.Nic("HV02", "r1", "l12").AccessVlanId, (ushort?)link.VlanId);
            Assert.Empty(rig.Backend.FindOrphans(false, None));
        }

        [Fact]
        public void ThereAndBackAgain_LeavesTheLinkOnTheFabricOfTheFirstHost()
        {
            using var rig = new MigrationRig();
            TwoLinkedRoutersOnHv01(rig);
            rig.Backend.MoveRouter("r1", "HV02", MigrationMode.Live, null, None);
            rig.Backend.MoveRouter("r1", "HV01", MigrationMode.Live, null, None);
            Assert.Equal(Fabric, rig.Nic("HV01", "r1", "l12").SwitchName);
            Assert.Equal(Fabric, rig.Nic("HV01", "r2", "l12").SwitchName);
            Assert.False(rig.LinkOf("l12").IsCrossHost);
            Assert.True(rig["HV01"].FileExists(SimRig.VhdDir + @"\r1.vhdx"));
            Assert.False(rig["HV02"].FileExists(SimRig.VhdDir + @"\r1.vhdx"));
            Assert.Empty(rig.Backend.FindOrphans(false, None));
        }

        // ------------------------------------------------------------------------------------------------ failures

        /// <summary>Adds an adapter outside the module to the router's VM, connected to a private switch "Mgmt" that only HV01 has.</summary>
        private static void ConnectToLocalOnlySwitch(HyperVSimulator host, string router)
        {
            var gw = host.Connect();
            var ns = CimReference.VirtualizationNamespace;
            var svc = gw.Query(ns, "SELECT * FROM Msvm_VirtualEthernetSwitchManagementService", None).Single().ToReference();
            var sw = gw.InvokeAndWait(svc, "DefineSystem", new[]
            {
                CimMethodParameter.String("SystemSettings", CimXml.Write(new CimObject("Msvm_VirtualEthernetSwitchSettingData").Set("ElementName", CimDataType.String, false, "Mgmt"))),
            }, None);
            host.CompleteJobs();
            var swPath = ((CimReference)sw["ResultingSystem"]!).ToPath();
            var vsms = gw.Query(ns, "SELECT * FROM Msvm_VirtualSystemManagementService", None).Single().ToReference();
            var vssd = gw.Query(ns, $"SELECT * FROM Msvm_VirtualSystemSettingData WHERE ElementName = '{router}'", None).Single().ToReference();
            var nicTemplate = gw.Query(ns, "SELECT * FROM Msvm_SyntheticEthernetPortSettingData WHERE InstanceID LIKE '%\\\\Default'", None).Single()
                .Set("ElementName", CimDataType.String, false, "management")
                .Set("VirtualSystemIdentifiers", CimDataType.String, true, new[] { Guid.NewGuid().ToString("B") });
            var nic = gw.InvokeAndWait(vsms, "AddResourceSettings", new[]
            {
                CimMethodParameter.Reference("AffectedConfiguration", vssd),
                CimMethodParameter.Strings("ResourceSettings", new[] { CimXml.Write(nicTemplate) }),
            }, None);
            host.CompleteJobs();
            var nicId = host.Instances("Msvm_SyntheticEthernetPortSettingData").Single(n => n.GetString("ElementName") == "management").ToReference();
            var conn = gw.Query(ns, "SELECT * FROM Msvm_EthernetPortAllocationSettingData WHERE InstanceID LIKE '%\\\\Default'", None).Single()
                .Set("Parent", CimDataType.String, false, nicId.ToPath())
                .Set("HostResource", CimDataType.String, true, new[] { swPath });
            gw.InvokeAndWait(vsms, "AddResourceSettings", new[]
            {
                CimMethodParameter.Reference("AffectedConfiguration", vssd),
                CimMethodParameter.Strings("ResourceSettings", new[] { CimXml.Write(conn) }),
            }, None);
            host.CompleteJobs();
        }

        [Fact]
        public void NotMigratable_ShowsHyperVsReasons_AndChangesNothing()
        {
            using var rig = new MigrationRig();
            TwoLinkedRoutersOnHv01(rig);
            ConnectToLocalOnlySwitch(rig["HV01"], "r1");
            string guid = rig.Vm("HV01", "r1")!.GetString("Name")!;
            rig.ResetCounters();

            var ex = Assert.Throws<VirtualNetworksException>(() => rig.Backend.MoveRouter("r1", "HV02", MigrationMode.Live, null, None));

            Assert.Equal(HyperVErrorIds.NotMigratable, ex.ErrorId);
            Assert.Contains("virtual switch 'Mgmt', which does not exist on 'HV02'", ex.Message);
            Assert.Contains("Nothing was changed; 'r1' stays on HV01", ex.Message);
            Assert.Equal(1, rig["HV01"].Counters.Method("CheckVirtualSystemIsMigratableToHost"));
            Assert.Equal(1, rig["HV01"].Counters.Method("CheckVirtualSystemIsMigratable"));
            Assert.Equal(0, rig["HV01"].Counters.Method("MigrateVirtualSystemToHost"));
            Assert.Equal(0, rig["HV01"].Counters.Method("ModifyResourceSettings"));
            Assert.Equal(guid, rig.Vm("HV01", "r1")!.GetString("Name"));
            Assert.Equal((ushort)2, rig.Vm("HV01", "r1")!.GetUInt16("EnabledState"));
            Assert.Equal(Fabric, rig.Nic("HV01", "r1", "l12").SwitchName);
            Assert.Null(rig.Vm("HV02", "r1"));
        }

        [Fact]
        public void JobFailingMidway_LeavesTheRouterRunningOnTheSource_WithItsLinkBackOnTheFabric()
        {
            using var rig = new MigrationRig();
            TwoLinkedRoutersOnHv01(rig);
            string guid = rig.Vm("HV01", "r1")!.GetString("Name")!;
            rig["HV01"].Faults.FailJob("MigrateVirtualSystemToHost", description: "Virtual machine migration operation failed at migration source.",
                message: "The migration connection was reset by the destination (0x80072746).", afterPartialWork: true);

            var ex = Assert.Throws<VirtualNetworksException>(() => rig.Backend.MoveRouter("r1", "HV02", MigrationMode.Live, null, None));

            Assert.Equal(HyperVErrorIds.MigrationFailed, ex.ErrorId);
            Assert.Contains("connection was reset", ex.Message);
            Assert.Contains("'r1' is still on HV01 (running)", ex.Message);
            Assert.Contains("back on the fabric switch", ex.Message);
            var vm = rig.Vm("HV01", "r1")!;
            Assert.Equal(guid, vm.GetString("Name"));
            Assert.Equal((ushort)2, vm.GetUInt16("EnabledState"));
            Assert.True(rig["HV01"].Guest("r1").GuestUp);
            Assert.Null(rig.Vm("HV02", "r1"));
            Assert.False(rig["HV02"].FileExists(SimRig.VhdDir + @"\r1.vhdx"));
            Assert.Equal(Fabric, rig.Nic("HV01", "r1", "l12").SwitchName);
            Assert.Equal(Fabric, rig.Nic("HV01", "r2", "l12").SwitchName);
            Assert.False(rig.LinkOf("l12").IsCrossHost);
            Assert.Empty(rig.Backend.FindOrphans(false, None));

            // Nothing is left that would stop the next attempt.
            rig["HV01"].Faults.Clear();
            rig.Backend.MoveRouter("r1", "HV02", MigrationMode.Live, null, None);
            Assert.Equal("HV02", rig.RouterOf("r1").ComputerName);
        }

        [Fact]
        public void ColdMigrationFailing_StartsTheRouterAgainOnTheSource()
        {
            using var rig = new MigrationRig();
            rig.Create("r1", "HV01");
            rig["HV01"].Faults.FailJob("MigrateVirtualSystemToHost", message: "The destination ran out of disk space.");
            var ex = Assert.Throws<VirtualNetworksException>(() => rig.Backend.MoveRouter("r1", "HV02", MigrationMode.Cold, null, None));
            Assert.Equal(HyperVErrorIds.MigrationFailed, ex.ErrorId);
            Assert.Contains("out of disk space", ex.Message);
            Assert.Contains("it was started again", ex.Message);
            Assert.Equal((ushort)2, rig.Vm("HV01", "r1")!.GetUInt16("EnabledState"));
        }

        [Fact]
        public void DestinationUnreachableFromThisMachine_FailsBeforeAnythingChanges()
        {
            using var rig = new MigrationRig();
            TwoLinkedRoutersOnHv01(rig);
            rig.Dc.SetReachable("HV02", false);
            rig.ResetCounters();
            var ex = Assert.Throws<VirtualNetworksException>(() => rig.Backend.MoveRouter("r1", "HV02", MigrationMode.Live, null, None));
            Assert.Equal(HyperVErrorIds.MigrationFailed, ex.ErrorId);
            Assert.Equal(ErrorKind.ConnectionError, ex.Kind);
            Assert.Contains("'HV02' cannot be reached", ex.Message);
            Assert.Equal(0, rig["HV01"].Counters.InvokeMethod);
            Assert.Equal((ushort)2, rig.Vm("HV01", "r1")!.GetUInt16("EnabledState"));
        }

        [Fact]
        public void DestinationLostDuringTheMigration_FailsTheJob_AndTheRouterKeepsRunningOnTheSource()
        {
            using var rig = new MigrationRig();
            TwoLinkedRoutersOnHv01(rig);
            // The management machine still reaches HV02 for the pre-flight; the host-to-host connection breaks once
            // the migration has started (the simulator re-checks the destination at the switch-over).
            rig["HV01"].Faults.FailMethod("MigrateVirtualSystemToHost", 0, when: _ => { rig.Dc.SetReachable("HV02", false); return false; });

            var ex = Assert.Throws<VirtualNetworksException>(() => rig.Backend.MoveRouter("r1", "HV02", MigrationMode.Live, null, None));

            Assert.Equal(HyperVErrorIds.MigrationFailed, ex.ErrorId);
            Assert.Contains("network path was not found", ex.Message);
            Assert.Contains("'r1' is still on HV01 (running)", ex.Message);
            Assert.Equal((ushort)2, rig.Vm("HV01", "r1")!.GetUInt16("EnabledState"));
            Assert.Equal(Fabric, rig.Nic("HV01", "r2", "l12").SwitchName);
            rig.Dc.SetReachable("HV02", true);
            Assert.Null(rig.Vm("HV02", "r1"));
        }

        [Fact]
        public void MigrationDisabledOnTheDestination_IsNamedBeforeAnythingChanges()
        {
            using var rig = new MigrationRig();
            rig.Create("r1", "HV01");
            rig["HV02"].MigrationEnabled = false;
            rig.ResetCounters();
            var ex = Assert.Throws<VirtualNetworksException>(() => rig.Backend.MoveRouter("r1", "HV02", MigrationMode.Live, null, None));
            Assert.Equal(HyperVErrorIds.MigrationNotEnabled, ex.ErrorId);
            Assert.Contains("not enabled on HV02", ex.Message);
            Assert.Contains("Enable-VMMigration", ex.RecommendedAction);
            Assert.Equal(0, rig["HV01"].Counters.InvokeMethod);
        }

        [Fact]
        public void TransportSwitchMissingOnTheDestination_IsNamedBeforeAnythingChanges()
        {
            using var rig = new MigrationRig(transport: false);
            rig["HV01"].AddExternalSwitch(MigrationRig.Transport);
            TwoLinkedRoutersOnHv01(rig);
            rig.ResetCounters();
            var ex = Assert.Throws<VirtualNetworksException>(() => rig.Backend.MoveRouter("r1", "HV02", MigrationMode.Live, null, None));
            Assert.Equal(HyperVErrorIds.TransportSwitchMissing, ex.ErrorId);
            Assert.Contains("'Transport' does not exist on HV02", ex.Message);
            Assert.Equal(0, rig["HV01"].Counters.InvokeMethod + rig["HV02"].Counters.InvokeMethod);
        }

        // ------------------------------------------------------------------------------------------------ cross-host links

        [Fact]
        public void CrossHostLink_EndsOnTheTransportSwitchOfEachHost_InOneVlanFreeOnBoth()
        {
            using var rig = new MigrationRig();
            rig.Create("a1", "HV01");
            rig.Create("a2", "HV01");
            rig.Backend.CreateLink(SimRig.Link("local", "a1", "a2"), None); // takes VLAN 2 on HV01
            rig.Create("r1", "HV01");
            rig.Create("r2", "HV02");
            rig.Backend.CreateLink(SimRig.Link("x12", "r1", "r2", bw: 2_000_000), None);
            var a = rig.Nic("HV01", "r1", "x12");
            var b = rig.Nic("HV02", "r2", "x12");
            Assert.All(new[] { a, b }, n => Assert.Equal(MigrationRig.Transport, n.SwitchName));
            Assert.Equal(a.AccessVlanId, b.AccessVlanId);
            Assert.NotEqual(rig.Nic("HV01", "a1", "local").AccessVlanId, a.AccessVlanId);
            var link = rig.LinkOf("x12");
            Assert.Equal((LinkTransport.Vlan, "HV01", "HV02"), (link.Transport, link.FromComputerName, link.ToComputerName));
            Assert.Equal(new[] { "HV01", "HV02" }, link.UnderlayPath);
            Assert.Empty(rig.Backend.FindOrphans(false, None));

            rig.Backend.SetLinkBandwidth("x12", 4_000_000, None);
            Assert.Equal(4_000_000, rig.LinkOf("x12").MaximumBandwidth);
            rig.Backend.RemoveLink("x12", None);
            Assert.DoesNotContain(rig.Inventory().Links, l => l.Name == "x12");
            Assert.Empty(rig["HV02"].Guest("r2").Nics);
        }

        [Fact]
        public void CrossHostLink_WithTheTransportSwitchMissingOnOneHost_SaysWhichAndChangesNothing()
        {
            using var rig = new MigrationRig(transport: false);
            rig["HV01"].AddExternalSwitch(MigrationRig.Transport);
            rig.Create("r1", "HV01");
            rig.Create("r2", "HV02");
            rig.ResetCounters();
            var ex = Assert.Throws<VirtualNetworksException>(() => rig.Backend.CreateLink(SimRig.Link("x12", "r1", "r2"), None));
            Assert.Equal(HyperVErrorIds.TransportSwitchMissing, ex.ErrorId);
            Assert.Contains("the transport switch 'Transport' does not exist on HV02 (it exists on HV01)", ex.Message);
            Assert.Contains("New-VMSwitch -Name 'Transport'", ex.RecommendedAction);
            Assert.Equal(0, rig["HV01"].Counters.InvokeMethod + rig["HV02"].Counters.InvokeMethod);
            Assert.Empty(rig["HV01"].Guest("r1").Nics);
        }

        [Fact]
        public void CrossHostLink_WithoutTheOption_IsRefusedWithTheReason()
        {
            using var rig = new MigrationRig();
            rig.Options.TransportSwitchName = null;
            rig.Renew();
            rig.Create("r1", "HV01");
            rig.Create("r2", "HV02");
            var ex = Assert.Throws<VirtualNetworksException>(() => rig.Backend.CreateLink(SimRig.Link("x12", "r1", "r2"), None));
            Assert.Equal(HyperVErrorIds.CrossHostLink, ex.ErrorId);
            Assert.Contains("TransportSwitchName is not set", ex.Message);
        }

        [Fact]
        public void Preflight_NamesTheHostWithoutTheTransportSwitch()
        {
            using var rig = new MigrationRig(transport: false);
            rig["HV02"].AddExternalSwitch(MigrationRig.Transport);
            var topo = new TopologySpec();
            topo.Routers.Add(MigrationRig.Router("r1", "HV01"));
            topo.Routers.Add(MigrationRig.Router("r2", "HV02"));
            topo.Links.Add(SimRig.Link("x12", "r1", "r2"));
            var ex = Assert.Throws<VirtualNetworksException>(() => rig.Backend.EnsureReady(topo, None));
            Assert.Contains("the transport switch 'Transport' on HV01", ex.Message);
            Assert.DoesNotContain("on HV02 (needed", ex.Message);
        }

        // ------------------------------------------------------------------------------------------------ simulator

        [Fact]
        public void Simulator_CheckAndJobVariant_AgreeAndGiveReasons()
        {
            using var rig = new MigrationRig();
            rig.Create("r1", "HV01");
            var gw = rig["HV01"].Connect();
            var svc = gw.Query(CimReference.VirtualizationNamespace, "SELECT * FROM Msvm_VirtualSystemMigrationService", None).Single();
            Assert.Equal("migrationwmi", svc.GetString("Name"));
            Assert.Equal(new[] { "192.0.2.1" }, svc.GetStrings("MigrationServiceListenerIPAddressList"));
            var vm = rig.Vm("HV01", "r1")!.ToReference();
            CimMethodParameter[] Args(ushort type) => new[]
            {
                CimMethodParameter.Reference("ComputerSystem", vm),
                CimMethodParameter.String("DestinationHost", "HV02"),
                CimMethodParameter.String("MigrationSettingData", CimXml.Write(new CimObject("Msvm_VirtualSystemMigrationSettingData")
                    .Set("MigrationType", CimDataType.UInt16, false, type).Set("TransportType", CimDataType.UInt16, false, (ushort)5))),
            };
            // The disk is local: 32768 is refused (storage must move), 32771 is fine.
            Assert.Equal(false, gw.InvokeMethod(svc.ToReference(), "CheckVirtualSystemIsMigratableToHost", Args(32768), None)["IsMigratable"]);
            Assert.Equal(true, gw.InvokeMethod(svc.ToReference(), "CheckVirtualSystemIsMigratableToHost", Args(32771), None)["IsMigratable"]);
            var ex = Assert.Throws<CimMethodException>(() => gw.InvokeAndWait(svc.ToReference(), "CheckVirtualSystemIsMigratable", Args(32768), None));
            Assert.Contains(ex.Errors, e => e.Contains("move the storage too (MigrationType 32771"));
            // Unknown migration type: invalid parameter at call time (service family 4); storage-only is not simulated (1).
            Assert.Equal(4u, gw.InvokeMethod(svc.ToReference(), "CheckVirtualSystemIsMigratableToHost", Args(7), None).ReturnValue);
            Assert.Equal(32770u, gw.InvokeMethod(svc.ToReference(), "MigrateVirtualSystemToHost", Args(32769), None).ReturnValue);
            Assert.StartsWith(HyperVSchema.DocBase, HyperVSchema.Class("Msvm_VirtualSystemMigrationService").DocumentationUrl);
            Assert.True(HyperVSchema.Class("Msvm_MigrationJob").IsA("CIM_ConcreteJob"));
        }

        private sealed class SyncProgress : IProgress<string>
        {
            private readonly Action<string> _report;
            public SyncProgress(Action<string> report) { _report = report; }
            public void Report(string value) => _report(value);
        }
    }
}
