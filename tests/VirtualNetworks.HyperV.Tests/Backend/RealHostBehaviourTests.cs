using System;
using System.Collections.Generic;
using System.Linq;
using VirtualNetworks.Backends;
using VirtualNetworks.HyperV.Cim;
using VirtualNetworks.HyperV.Simulator;
using VirtualNetworks.Topology;
using Xunit;

namespace VirtualNetworks.HyperV.Tests.Backend
{
    /// <summary>
    /// Issue 13, behaviours 1–8: the simulator reproduces what a real Hyper-V host does (checked against Microsoft's
    /// generated schema, microsoft/wmi, and the WMI docs), and the backend copes. Each test failed before its fix.
    /// </summary>
    public class RealHostBehaviourTests
    {
        private static readonly System.Threading.CancellationToken None = SimRig.None;

        // ------------------------------------------------------------------------------------------------ 1. image check as a job

        [Fact]
        public void ImageCheck_AnsweredWithAJob_MissingImagesAreListedByThePreflight()
        {
            using var rig = new SimRig();
            Assert.True(rig.Sim.ImageQueriesUseJobs);
            var topo = new TopologySpec();
            topo.Routers.Add(new RouterSpec { Name = "r1", Image = @"C:\Images\missing.vhdx", ProcessorCount = 1, MemoryMB = 256 });
            topo.Routers.Add(new RouterSpec { Name = "r2", Image = @"D:\NoSuchDir\other.vhdx", ProcessorCount = 1, MemoryMB = 256 });
            topo.Routers.Add(SimRig.Router("r3"));
            rig.Sim.Counters.Reset();
            var ex = Assert.Throws<VirtualNetworksException>(() => rig.Backend.EnsureReady(topo, None));
            Assert.Equal(ErrorIds.BackendNotAvailable, ex.ErrorId);
            Assert.Contains(@"image 'C:\Images\missing.vhdx'", ex.Message);
            Assert.Contains(@"image 'D:\NoSuchDir\other.vhdx'", ex.Message);
            Assert.DoesNotContain("router.vhdx", ex.Message);
            Assert.DoesNotContain("job", ex.Message, StringComparison.OrdinalIgnoreCase);
            Assert.Equal(3, rig.Sim.Counters.Method("GetVirtualHardDiskSettingData"));
            Assert.True(rig.Sim.Counters.JobPolls >= 3); // every answer was a job
        }

        [Fact]
        public void ImageCheck_AJobFailingForAnotherReason_IsAnError_NotAMissingImage()
        {
            using var rig = new SimRig();
            rig.Sim.Faults.FailJob("GetVirtualHardDiskSettingData", errorCode: 32769, description: "Access denied.",
                message: "'C:\\Images\\router.vhdx': General access denied error. (0x80070005)");
            var ex = Assert.Throws<VirtualNetworksException>(() => rig.Backend.ImageExists(SimRig.Image, ""));
            Assert.Equal(HyperVErrorIds.JobFailed, ex.ErrorId);
            Assert.Contains("0x80070005", ex.Message);
        }

        [Fact]
        public void ImageCheck_FailureCodesThatMeanMissing()
        {
            var target = CimReference.ByInstanceId("Msvm_ImageManagementService", "x");
            CimMethodException Job(ushort code, string? description = null, string[]? errors = null, CimObject? job = null) =>
                new CimMethodException("HV01", target, "GetVirtualHardDiskSettingData", CimJobs.JobStarted, "failed", code, description, errors, job: job);
            Assert.True(HyperVBackend.IsMissingImage(new CimMethodException("HV01", target, "GetVirtualHardDiskSettingData", 32779, "x")));
            Assert.True(HyperVBackend.IsMissingImage(Job(32779)));
            Assert.True(HyperVBackend.IsMissingImage(Job(32768, "Le fichier spécifié est introuvable. (0x80070002)")));
            Assert.True(HyperVBackend.IsMissingImage(Job(32768, null, new[] { "Chemin d'accès introuvable. (0x80070003)" })));
            Assert.True(HyperVBackend.IsMissingImage(Job(32768, job: new CimObject("Msvm_StorageJob").Set("JobCompletionStatusCode", CimDataType.UInt32, false, 0x80070002u))));
            Assert.True(HyperVBackend.IsMissingImage(Job(32768, "The file or directory is corrupted and unreadable. (0xC03A0005)")));
            Assert.False(HyperVBackend.IsNotFound(Job(32768, "The file or directory is corrupted and unreadable. (0xC03A0005)")));
            Assert.False(HyperVBackend.IsMissingImage(Job(32768, "General access denied error. (0x80070005)")));
            Assert.False(HyperVBackend.IsMissingImage(Job(32768, "Failed (0x800700021)"))); // not an 8-digit code
            Assert.False(HyperVBackend.IsMissingImage(new CimMethodException("HV01", target, "GetVirtualHardDiskSettingData", CimJobs.JobStarted, "t", timedOut: true)));
        }

        // ------------------------------------------------------------------------------------------------ 2. marker in Notes

        [Theory]
        [InlineData(false)]
        [InlineData(true)]
        public void Marker_IsOneNotesElement_AndIsRecognisedWhenTheHostKeepsOnlyElementZero(bool keepFirstOnly)
        {
            using var rig = new SimRig();
            rig.Sim.NotesKeepFirstElementOnly = keepFirstOnly;
            var spec = SimRig.Router("r1");
            spec.NetworkLabel = "lab";
            rig.Backend.CreateRouter(spec, None);
            rig.Backend.CreateRouter(SimRig.Router("r2"), None);
            rig.Backend.CreateLink(SimRig.Link("l1", "r1", "r2"), None);

            var notes = rig.VssdOf("r1").GetStrings("Notes");
            var element = Assert.Single(notes);
            Assert.Equal(new[] { HyperVNames.Marker, HyperVNames.KindRouter, "router=r1", "image=" + SimRig.Image, "label=lab", "family=IPv4" },
                element.Split('\n'));
            var fabric = rig.Sim.Instances("Msvm_VirtualEthernetSwitchSettingData").Single(s => s.GetString("ElementName") == HyperVNames.DefaultSwitchName);
            Assert.Equal(HyperVNames.Marker + "\n" + HyperVNames.KindFabric, Assert.Single(fabric.GetStrings("Notes")));

            var inv = rig.NewBackend().GetInventory(None);
            Assert.Equal(new[] { "r1", "r2" }, inv.Routers.Select(r => r.Name).OrderBy(n => n));
            Assert.Equal("lab", inv.Routers.Single(r => r.Name == "r1").NetworkLabel);
            Assert.Equal("l1", Assert.Single(inv.Links).Name);
        }

        [Fact]
        public void Marker_TheOldSixElementForm_IsStillRead()
        {
            using var rig = new SimRig();
            rig.Backend.CreateRouter(SimRig.Router("r1"), None);
            var gw = rig.Sim.Connect();
            var vsms = gw.Query(CimReference.VirtualizationNamespace, "SELECT * FROM Msvm_VirtualSystemManagementService", None).Single().ToReference();
            var vssd = rig.VssdOf("r1").Clone().Set("Notes", new[] { HyperVNames.Marker, HyperVNames.KindRouter, "router=r1", "image=" + SimRig.Image, "label=old", "family=IPv6" });
            gw.InvokeAndWait(vsms, "ModifySystemSettings", new[] { CimMethodParameter.String("SystemSettings", CimXml.Write(vssd)) }, None);
            Assert.Equal(6, rig.VssdOf("r1").GetStrings("Notes").Length);
            var router = Assert.Single(rig.NewBackend().GetInventory(None).Routers);
            Assert.Equal("old", router.NetworkLabel);
            Assert.Equal(NetworkAddressFamily.IPv6, router.AddressFamily);
        }

        // ------------------------------------------------------------------------------------------------ 3. job states

        [Theory]
        [InlineData((ushort)11)]
        [InlineData((ushort)12)]
        public void JobWait_ServiceAndQueryPending_AreNotFinal(ushort interim)
        {
            using var rig = new SimRig(TimeSpan.FromMilliseconds(15));
            rig.Sim.JobInterimState = interim;
            rig.Backend.CreateRouter(SimRig.Router("r1"), None);
            Assert.True(rig.Sim.Counters.JobPolls > rig.Sim.Counters.Method("DefineSystem"));
            Assert.Equal("r1", Assert.Single(rig.Inventory().Routers).Name);
        }

        [Fact]
        public void JobWait_AJobThatStaysInService_TimesOut_AndIsNotCalledFailed()
        {
            using var rig = new SimRig(TimeSpan.FromHours(1));
            rig.Sim.JobInterimState = 11;
            rig.Options.JobTimeout = TimeSpan.FromMilliseconds(150);
            rig.Renew();
            var ex = Assert.Throws<VirtualNetworksException>(() => rig.Backend.ImageExists(SimRig.Image, ""));
            Assert.Equal(HyperVErrorIds.JobTimeout, ex.ErrorId);
            Assert.Contains("job state 11", ex.Message);
        }

        [Fact]
        public void JobWait_FinalStates()
        {
            foreach (ushort s in new ushort[] { 2, 3, 4, 5, 6, 11, 12, 13, 14, 100 }) Assert.False(CimJobs.IsFinal(s), s.ToString());
            foreach (ushort s in new ushort[] { 0, 7, 8, 9, 10, 32768 }) Assert.True(CimJobs.IsFinal(s), s.ToString());
            var ok = new CimObject("Msvm_ConcreteJob").Set("OperationalStatus", CimDataType.UInt16, true, new ushort[] { 2, 17 });
            var bad = new CimObject("Msvm_ConcreteJob").Set("OperationalStatus", CimDataType.UInt16, true, new ushort[] { 6, 17 });
            Assert.False(CimJobs.CompletedWithError(ok, Array.Empty<string>()));
            Assert.True(CimJobs.CompletedWithError(ok, new[] { "an Msvm_Error" }));
            Assert.True(CimJobs.CompletedWithError(bad, Array.Empty<string>()));
        }

        [Fact]
        public void JobWait_CompletedWithErrorCodeButStatusOk_IsSuccess()
        {
            using var rig = new SimRig();
            rig.Sim.Faults.WarnJob("DefineSystem", errorCode: 32768);
            rig.Backend.CreateRouter(SimRig.Router("r1"), None);
            Assert.Equal("r1", Assert.Single(rig.Inventory().Routers).Name);
        }

        [Fact]
        public void JobWait_CompletedWithErrorCodeAndErrorStatus_IsFailure()
        {
            using var rig = new SimRig();
            rig.Sim.Faults.FailJob("DefineSystem", errorCode: 32768, description: "Failed to create the virtual machine.",
                message: "The virtual machine could not be created (injected).", asCompleted: true);
            var ex = Assert.Throws<VirtualNetworksException>(() => rig.Backend.CreateRouter(SimRig.Router("r1"), None));
            Assert.Equal(HyperVErrorIds.JobFailed, ex.ErrorId);
            Assert.Contains("could not be created", ex.Message);
        }

        // ------------------------------------------------------------------------------------------------ 4. InitiateShutdown 4096

        [Fact]
        public void GracefulStop_Answered4096WithoutAJob_WaitsForOff()
        {
            using var rig = new SimRig(TimeSpan.FromMilliseconds(5));
            rig.Sim.ShutdownAnswersJobStarted = true;
            rig.Backend.CreateRouter(SimRig.Router("r1"), None);
            rig.Backend.StartRouter("r1", None);
            rig.Backend.StopRouter("r1", turnOff: false, None);
            Assert.Equal((ushort)3, rig.Sim.FindVm("r1")!.GetUInt16("EnabledState"));
            Assert.Equal(0, rig.Sim.Counters.Method("RequestStateChange") - 1); // only the start: no forced fallback
        }

        [Fact]
        public void Simulator_InitiateShutdown_HasNoJobOutput()
        {
            var def = HyperVSchema.Class("Msvm_ShutdownComponent");
            Assert.DoesNotContain(def.Method("InitiateShutdown")!.Parameters, p => p.Name == "Job");
            Assert.DoesNotContain(def.Method("InitiateReboot")!.Parameters, p => p.Name == "Job");
            using var rig = new SimRig();
            rig.Sim.ShutdownAnswersJobStarted = true;
            rig.Backend.CreateRouter(SimRig.Router("r1"), None);
            rig.Backend.StartRouter("r1", None);
            var gw = rig.Sim.Connect();
            var guid = rig.Sim.FindVm("r1")!.GetString("Name");
            var sc = gw.Query(CimReference.VirtualizationNamespace, $"SELECT * FROM Msvm_ShutdownComponent WHERE SystemName = '{guid}'", None).Single();
            var r = gw.InvokeMethod(sc.ToReference(), "InitiateShutdown", new[] { CimMethodParameter.Boolean("Force", false), CimMethodParameter.String("Reason", "t") }, None);
            Assert.Equal(4096u, r.ReturnValue);
            Assert.Null(r.Job);
        }

        // ------------------------------------------------------------------------------------------------ 5. resulting settings

        [Fact]
        public void AddResource_WithoutResultingSettings_AndOnlyTheVmAffected_FindsTheNewDevice()
        {
            using var rig = new SimRig();
            rig.Sim.ResultingSettings = ResultingSettingsPolicy.Never;
            rig.Sim.AffectedElementsIncludeNewSettings = false;
            rig.Backend.CreateRouter(SimRig.Router("r1"), None);
            rig.Backend.CreateRouter(SimRig.Router("r2"), None);
            rig.Backend.CreateLink(SimRig.Link("l1", "r1", "r2", bw: 10_000_000), None);
            CheckParents(rig, "r1");
            CheckParents(rig, "r2");
            Assert.Equal("l1", Assert.Single(rig.NewBackend().GetInventory(None).Links).Name);
        }

        [Fact]
        public void AddResource_AffectedElementsStartingWithTheVm_PickTheNewDevice()
        {
            using var rig = new SimRig();
            rig.Sim.ResultingSettings = ResultingSettingsPolicy.Never;
            rig.Backend.CreateRouter(SimRig.Router("r1"), None);
            rig.Backend.CreateRouter(SimRig.Router("r2"), None);
            rig.Backend.CreateLink(SimRig.Link("l1", "r1", "r2"), None);
            CheckParents(rig, "r1");
        }

        private static void CheckParents(SimRig rig, string vm)
        {
            var dev = rig.DevicesOf(vm);
            CimReference ParentOf(string subType) => CimReference.Parse(dev.Single(d => d.GetString("ResourceSubType") == subType).GetString("Parent")!);
            string Id(string subType) => dev.Single(d => d.GetString("ResourceSubType") == subType).GetString("InstanceID")!;
            Assert.Equal(Id("Microsoft:Hyper-V:Synthetic SCSI Controller"), ParentOf("Microsoft:Hyper-V:Synthetic Disk Drive").Key("InstanceID"));
            Assert.Equal(Id("Microsoft:Hyper-V:Synthetic Disk Drive"), ParentOf("Microsoft:Hyper-V:Virtual Hard Disk").Key("InstanceID"));
            Assert.Equal(Id("Microsoft:Hyper-V:Synthetic Ethernet Port"), ParentOf("Microsoft:Hyper-V:Ethernet Connection").Key("InstanceID"));
        }

        // ------------------------------------------------------------------------------------------------ 6. default features

        [Fact]
        public void LinkFeatures_StartFromTheHostsDefaultFeatureSettings()
        {
            using var rig = new SimRig();
            rig.Backend.CreateRouter(SimRig.Router("r1"), None);
            rig.Backend.CreateRouter(SimRig.Router("r2"), None);
            rig.Backend.CreateLink(SimRig.Link("l1", "r1", "r2", bw: 10_000_000), None);
            var defaults = rig.Sim.Instances("Msvm_EthernetSwitchPortFeatureSettingData")
                .Where(f => (f.GetString("InstanceID") ?? "").StartsWith("Microsoft:Definition\\", StringComparison.Ordinal))
                .ToDictionary(f => f.ClassName);
            void Check(string vm)
            {
                var features = rig.FeaturesOf(vm);
                var vlan = features.Single(f => f.ClassName == "Msvm_EthernetSwitchPortVlanSettingData");
                var bw = features.Single(f => f.ClassName == "Msvm_EthernetSwitchPortBandwidthSettingData");
                foreach (var (f, d) in new[] { (vlan, defaults[vlan.ClassName]), (bw, defaults[bw.ClassName]) })
                    foreach (var p in new[] { "ElementName", "Caption", "Description" })
                        Assert.Equal(d.GetString(p), f.GetString(p));
                Assert.Equal(1U, vlan.GetUInt32("OperationMode"));
                Assert.Equal(10_000_000UL, bw.GetUInt64("Limit"));
                Assert.Equal(0UL, bw.GetUInt64("Reservation"));
            }
            Check("r1");
            Check("r2");
            rig.Backend.SetLinkBandwidth("l1", 20_000_000, None);
            var again = rig.FeaturesOf("r1").Single(f => f.ClassName == "Msvm_EthernetSwitchPortBandwidthSettingData");
            Assert.Equal(defaults[again.ClassName].GetString("ElementName"), again.GetString("ElementName"));
            Assert.Equal(20_000_000UL, again.GetUInt64("Limit"));
        }

        [Fact]
        public void LinkFeatures_WhenTheAssociationCannotBeEnumerated_FollowItFromTheCapabilities()
        {
            using var rig = new SimRig();
            rig.Sim.Faults.Throw(CimErrorCode.NotSupported, GatewayOperation.Query, match: "Msvm_FeatureSettingsDefineCapabilities");
            rig.Backend.CreateRouter(SimRig.Router("r1"), None);
            rig.Backend.CreateRouter(SimRig.Router("r2"), None);
            rig.Backend.CreateLink(SimRig.Link("l1", "r1", "r2", bw: 10_000_000), None);
            var vlan = rig.FeaturesOf("r1").Single(f => f.ClassName == "Msvm_EthernetSwitchPortVlanSettingData");
            Assert.Equal("Ethernet Switch Port VLAN Settings", vlan.GetString("ElementName"));
            Assert.Equal(1, rig.Sim.Counters.QueriesOf("Msvm_FeatureSettingsDefineCapabilities")); // refused once, not retried
            Assert.Equal("l1", Assert.Single(rig.Inventory().Links).Name);
        }

        // ------------------------------------------------------------------------------------------------ 7. disks on SMB shares

        [Fact]
        public void SmbDiskDirectory_ALeftoverDiskDoesNotBlockCreation_AndCimDataFileIsNeverUsed()
        {
            using var rig = new SimRig();
            rig.Options.VirtualHardDiskPath = @"\\fs01\vms";
            rig.Renew();
            rig.Sim.AddFile(@"\\fs01\vms\r1.vhdx"); // an earlier r1's disk, left on the share
            rig.Sim.Counters.Reset();
            rig.Backend.CreateRouter(SimRig.Router("r1"), None);
            var disk = rig.DevicesOf("r1").Single(d => d.GetString("ResourceSubType") == "Microsoft:Hyper-V:Virtual Hard Disk").GetStrings("HostResource").Single();
            Assert.StartsWith(@"\\fs01\vms\r1", disk, StringComparison.OrdinalIgnoreCase);
            Assert.NotEqual(@"\\fs01\vms\r1.vhdx", disk, StringComparer.OrdinalIgnoreCase);
            Assert.Equal("r1", Assert.Single(rig.Inventory().Routers).Name);

            // Remove and create again: the share is never reached through CIM_DataFile (it cannot be).
            rig.Backend.RemoveRouter("r1", None);
            rig.Backend.CreateRouter(SimRig.Router("r1"), None);
            Assert.Equal("r1", Assert.Single(rig.NewBackend().GetInventory(None).Routers).Name);
            Assert.Equal(0, rig.Sim.Counters.Method("Delete"));
        }

        [Fact]
        public void LocalDiskDirectory_ALeftoverDiskIsDeletedThroughCimDataFile()
        {
            using var rig = new SimRig();
            rig.Sim.AddFile(SimRig.VhdDir + @"\r1.vhdx");
            rig.Backend.CreateRouter(SimRig.Router("r1"), None);
            Assert.Equal(1, rig.Sim.Counters.Method("Delete"));
            var disk = rig.DevicesOf("r1").Single(d => d.GetString("ResourceSubType") == "Microsoft:Hyper-V:Virtual Hard Disk").GetStrings("HostResource").Single();
            Assert.Equal(SimRig.VhdDir + @"\r1.vhdx", disk, ignoreCase: true);
        }

        [Fact]
        public void Simulator_CimDataFile_DoesNotReachUncPaths()
        {
            var sim = new HyperVSimulator("HV01");
            sim.AddFile(@"\\fs01\vms\x.vhdx");
            sim.AddFile(@"C:\VMs\y.vhdx");
            var gw = sim.Connect();
            Assert.Null(gw.GetInstance(new CimReference("CIM_DataFile", new[] { new KeyValuePair<string, object>("Name", @"\\fs01\vms\x.vhdx") }, CimReference.Cimv2Namespace), None));
            Assert.NotNull(gw.GetInstance(new CimReference("CIM_DataFile", new[] { new KeyValuePair<string, object>("Name", @"C:\VMs\y.vhdx") }, CimReference.Cimv2Namespace), None));
            Assert.Single(gw.Query(CimReference.Cimv2Namespace, "SELECT * FROM CIM_DataFile", None));
        }

        // ------------------------------------------------------------------------------------------------ 8. the host's own name in paths

        [Fact]
        public void ObjectPaths_CarryTheHostsOwnName_NotTheNameTyped()
        {
            var sim = new HyperVSimulator("HV01") { JobDuration = TimeSpan.Zero };
            using var rig = new SimRig(sim: sim);
            const string typed = "hv01.corp.example.com";
            using var backend = new HyperVBackend(new BackendRequest { ComputerName = new[] { typed } }, n => sim.Connect(n), rig.Options);
            var r1 = SimRig.Router("r1"); r1.Host = typed;
            var r2 = SimRig.Router("r2"); r2.Host = typed;
            backend.CreateRouter(r1, None);
            backend.CreateRouter(r2, None);
            backend.CreateLink(SimRig.Link("l1", "r1", "r2"), None);
            backend.StartRouter("r1", None);
            backend.StopRouter("r1", turnOff: false, None);

            foreach (var d in rig.DevicesOf("r1"))
            {
                if (d.GetString("Parent") is string parent) Assert.Equal("HV01", CimReference.Parse(parent).Host);
                if (d.ClassName == "Msvm_EthernetPortAllocationSettingData") Assert.Equal("HV01", CimReference.Parse(d.GetStrings("HostResource").Single()).Host);
            }
            var inv = backend.GetInventory(None);
            Assert.All(inv.Routers, r => Assert.Equal(typed, r.ComputerName));
            Assert.Equal("l1", Assert.Single(inv.Links).Name);
        }

        [Fact]
        public void Simulator_PathsInSettings_MustNameTheHostAsHyperVDoes()
        {
            var sim = new HyperVSimulator("HV01") { JobDuration = TimeSpan.Zero };
            var gw = sim.Connect("10.0.0.5");
            Assert.Equal("10.0.0.5", gw.ComputerName);
            var vsms = gw.Query(CimReference.VirtualizationNamespace, "SELECT * FROM Msvm_VirtualSystemManagementService", None).Single();
            Assert.Equal("HV01", vsms.Host);
            Assert.Equal("HV01", vsms.GetString("SystemName"));
            var sd = new CimObject("Msvm_VirtualEthernetSwitchSettingData").Set("ElementName", CimDataType.String, false, "s1");
            var sw = gw.Query(CimReference.VirtualizationNamespace, "SELECT * FROM Msvm_VirtualEthernetSwitchManagementService", None).Single().ToReference().WithHost("10.0.0.5");
            gw.InvokeAndWait(sw, "DefineSystem", new[] { CimMethodParameter.String("SystemSettings", CimXml.Write(sd)) }, None); // a reference may use the name typed
            var host = gw.Query(CimReference.VirtualizationNamespace, "SELECT * FROM Msvm_ComputerSystem WHERE Name = 'HV01'", None).Single().ToReference();
            var port = new CimObject("Msvm_EthernetPortAllocationSettingData")
                .Set("HostResource", CimDataType.String, true, new[] { host.WithHost("10.0.0.5").ToPath() });
            var sd2 = new CimObject("Msvm_VirtualEthernetSwitchSettingData").Set("ElementName", CimDataType.String, false, "s2");
            var r = gw.InvokeMethod(sw, "DefineSystem", new[] { CimMethodParameter.String("SystemSettings", CimXml.Write(sd2)), CimMethodParameter.Strings("ResourceSettings", new[] { CimXml.Write(port) }) }, None);
            Assert.Equal(4u, r.ReturnValue); // a path inside settings naming the host by another name is refused
        }
    }
}
