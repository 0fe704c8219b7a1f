using System;
using System.Collections.Generic;
using System.Linq;
using VirtualNetworks.Backends;
using VirtualNetworks.HyperV.Cim;
using VirtualNetworks.HyperV.Simulator;
using Xunit;

namespace VirtualNetworks.HyperV.Tests.Backend
{
    /// <summary>Each backend method against the in-memory WMI simulator.</summary>
    public class BackendSimulatorTests
    {
        private static readonly System.Threading.CancellationToken None = SimRig.None;

        [Fact]
        public void CreateRouter_BuildsGen2VmWithMarkerSizingAndDifferencingDisk()
        {
            using var rig = new SimRig();
            rig.Backend.CreateRouter(SimRig.Router("r1", cpus: 2, mb: 512), None);

            var vm = rig.Sim.FindVm("r1");
            Assert.NotNull(vm);
            var vssd = rig.VssdOf("r1");
            Assert.Equal(HyperVNames.GenerationTwo, vssd.GetString("VirtualSystemSubType"));
            var notes = vssd.GetStrings("Notes");
            Assert.Equal(HyperVNames.Marker, notes.First());
            Assert.Contains("router=r1", notes);
            var dev = rig.DevicesOf("r1");
            Assert.Equal(2UL, dev.Single(d => d.GetString("ResourceSubType") == "Microsoft:Hyper-V:Processor").GetUInt64("VirtualQuantity"));
            var mem = dev.Single(d => d.GetString("ResourceSubType") == "Microsoft:Hyper-V:Memory");
            Assert.Equal(512UL, mem.GetUInt64("VirtualQuantity"));
            Assert.Equal(512UL, mem.GetUInt64("Limit"));
            Assert.Equal(512UL, mem.GetUInt64("Reservation"));

            // SCSI controller -> drive -> VHD chain, VHD = <dir>\r1.vhdx, differencing on the image.
            var scsi = dev.Single(d => d.GetString("ResourceSubType") == "Microsoft:Hyper-V:Synthetic SCSI Controller");
            var drive = dev.Single(d => d.GetString("ResourceSubType") == "Microsoft:Hyper-V:Synthetic Disk Drive");
            var media = dev.Single(d => d.GetString("ResourceSubType") == "Microsoft:Hyper-V:Virtual Hard Disk");
            Assert.True(CimReference.TryParse(drive.GetString("Parent"), out var dp, out _));
            Assert.Equal(scsi.GetString("InstanceID"), dp!.Key("InstanceID"));
            Assert.True(CimReference.TryParse(media.GetString("Parent"), out var mp, out _));
            Assert.Equal(drive.GetString("InstanceID"), mp!.Key("InstanceID"));
            var disk = media.GetStrings("HostResource").Single();
            Assert.Equal(SimRig.VhdDir + @"\r1.vhdx", disk, ignoreCase: true);
            Assert.True(rig.Sim.FileExists(disk));

            var gw = rig.Sim.Connect();
            var ims = gw.Query(CimReference.VirtualizationNamespace, "SELECT * FROM Msvm_ImageManagementService", None).Single().ToReference();
            var r = gw.InvokeAndWait(ims, "GetVirtualHardDiskSettingData", new[] { CimMethodParameter.String("Path", disk) }, None);
            var sd = CimXml.Read((string)r["SettingData"]!);
            Assert.Equal((ushort)4, sd.GetUInt16("Type"));
            Assert.Equal(SimRig.Image, sd.GetString("ParentPath"), ignoreCase: true);

            var inv = rig.Inventory();
            var router = Assert.Single(inv.Routers);
            Assert.Equal("r1", router.Name);
            Assert.Equal(RouterState.Off, router.State);
            Assert.Equal(2, router.ProcessorCount);
            Assert.Equal(512, router.MemoryMB);
            Assert.Equal(SimRig.Image, router.Image);
        }

        [Fact]
        public void Lifecycle_StartStopSuspendResumeTurnOff()
        {
            using var rig = new SimRig();
            rig.Backend.CreateRouter(SimRig.Router("r1"), None);
            State(rig, "r1", RouterState.Off);
            rig.Backend.StartRouter("r1", None);
            State(rig, "r1", RouterState.Running);
            rig.Backend.SuspendRouter("r1", None);
            State(rig, "r1", RouterState.Paused);
            rig.Backend.ResumeRouter("r1", None);
            State(rig, "r1", RouterState.Running);
            rig.Sim.Counters.Reset();
            rig.Backend.StopRouter("r1", turnOff: false, None);
            Assert.Equal(1, rig.Sim.Counters.Method("InitiateShutdown"));
            Assert.Equal(0, rig.Sim.Counters.Method("RequestStateChange"));
            State(rig, "r1", RouterState.Off);
            rig.Backend.StartRouter("r1", None);
            rig.Sim.Counters.Reset();
            rig.Backend.StopRouter("r1", turnOff: true, None);
            Assert.Equal(1, rig.Sim.Counters.Method("RequestStateChange"));
            State(rig, "r1", RouterState.Off);
            // Idempotent: stopping an Off router does nothing.
            rig.Backend.StopRouter("r1", turnOff: true, None);
        }

        [Fact]
        public void Lifecycle_WithSlowJobs_WaitsThroughIntermediateStates()
        {
            using var rig = new SimRig(TimeSpan.FromMilliseconds(15));
            rig.Backend.CreateRouter(SimRig.Router("r1"), None);
            rig.Backend.StartRouter("r1", None);
            State(rig, "r1", RouterState.Running);
            rig.Backend.StopRouter("r1", false, None);
            State(rig, "r1", RouterState.Off);
        }

        [Fact]
        public void GracefulStop_WithoutGuest_IsRefusedWithHint()
        {
            using var rig = new SimRig();
            rig.Sim.GuestBootsAutomatically = false;
            rig.Backend.CreateRouter(SimRig.Router("r1"), None);
            rig.Sim.SetGuestUp("r1", false);
            rig.Backend.StartRouter("r1", None);
            var ex = Assert.Throws<VirtualNetworksException>(() => rig.Backend.StopRouter("r1", false, None));
            Assert.Equal(HyperVErrorIds.GuestShutdownUnavailable, ex.ErrorId);
            Assert.Contains("TurnOff", ex.RecommendedAction);
            State(rig, "r1", RouterState.Running);
        }

        private static void State(SimRig rig, string name, RouterState expected) =>
            Assert.Equal(expected, rig.Inventory().Routers.Single(r => r.Name == name).State);
    }
}
