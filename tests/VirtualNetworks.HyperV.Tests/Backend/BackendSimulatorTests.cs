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
            // Secure Boot with the Microsoft UEFI CA template: the project's router.vhdx boots Debian's signed shim chain.
            Assert.True(vssd.GetBoolean("SecureBootEnabled"));
            Assert.Equal(HyperVBackendOptions.MicrosoftUefiCertificateAuthorityTemplateId, vssd.GetString("SecureBootTemplateId"));
            var notes = HyperVNames.NoteLines(vssd.GetStrings("Notes"));
            Assert.Single(vssd.GetStrings("Notes")); // one element, lines joined (issue 13, behaviour 2)
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

        private static SimRig ThreeRouters(TimeSpan? jobs = null)
        {
            var rig = new SimRig(jobs);
            foreach (var n in new[] { "r1", "r2", "r3" }) rig.Backend.CreateRouter(SimRig.Router(n), None);
            return rig;
        }

        [Fact]
        public void CreateLink_NicsOnFabricSwitch_SameAccessVlanBothEnds_UniquePerLink_ExplicitHonoured()
        {
            using var rig = ThreeRouters();
            rig.Backend.CreateLink(SimRig.Link("a", "r1", "r2"), None);
            rig.Backend.CreateLink(SimRig.Link("b", "r2", "r3", vlan: 77), None);
            rig.Backend.CreateLink(SimRig.Link("c", "r3", "r1", bw: 10_000_003), None);

            var sw = rig.Sim.Instances("Msvm_VirtualEthernetSwitchSettingData").Single();
            Assert.Equal(HyperVNames.DefaultSwitchName, sw.GetString("ElementName"));
            Assert.True(HyperVNames.IsFabric(sw.GetStrings("Notes")));
            var guests = rig.Sim.Guests().ToDictionary(g => g.VmName);
            foreach (var (link, from, to) in new[] { ("a", "r1", "r2"), ("b", "r2", "r3"), ("c", "r3", "r1") })
            {
                var f = guests[from].Nics.Single(n => n.ElementName == "vn:" + link);
                var t = guests[to].Nics.Single(n => n.ElementName == "vn:" + link);
                Assert.True(f.Connected && t.Connected);
                Assert.Equal(HyperVNames.DefaultSwitchName, f.SwitchName);
                Assert.NotNull(f.AccessVlanId);
                Assert.Equal(f.AccessVlanId, t.AccessVlanId);
                Assert.Equal(HyperVNames.Mac(link, from, to, true), f.MacAddress, ignoreCase: true);
                Assert.Equal(HyperVNames.Mac(link, from, to, false), t.MacAddress, ignoreCase: true);
            }
            var vlans = new[] { "a", "b", "c" }.Select(l => guests.Values.SelectMany(g => g.Nics).First(n => n.ElementName == "vn:" + l).AccessVlanId).ToList();
            Assert.Equal(3, vlans.Distinct().Count());
            Assert.Equal((ushort)77, vlans[1]);
            Assert.Equal(10_000_000UL, guests["r3"].Nics.Single(n => n.ElementName == "vn:c").BandwidthLimit);

            var inv = rig.Inventory();
            Assert.Equal(new[] { "a", "b", "c" }, inv.Links.Select(l => l.Name).OrderBy(n => n));
            var c = inv.Links.Single(l => l.Name == "c");
            Assert.Equal(("r3", "r1"), (c.From, c.To));
            Assert.Equal(10_000_000L, c.MaximumBandwidth);
            Assert.Equal(77, inv.Links.Single(l => l.Name == "b").VlanId);
            Assert.All(inv.Links, l => Assert.Null(l.Status));
            Assert.Equal(new[] { "a", "c" }, inv.Routers.Single(r => r.Name == "r1").Links);
            Assert.Empty(rig.Backend.FindOrphans(false, None));
        }

        [Fact]
        public void CreateLink_VlanClash_IsRefusedBeforeAnyChange()
        {
            using var rig = ThreeRouters();
            rig.Backend.CreateLink(SimRig.Link("a", "r1", "r2", vlan: 10), None);
            rig.Sim.Counters.Reset();
            var ex = Assert.Throws<VirtualNetworksException>(() => rig.Backend.CreateLink(SimRig.Link("b", "r2", "r3", vlan: 10), None));
            Assert.Equal(HyperVErrorIds.VlanInUse, ex.ErrorId);
            Assert.Contains("'a'", ex.Message);
            Assert.Equal(0, rig.Sim.Counters.InvokeMethod);
            Assert.Equal(2, rig.Nics().Count);
        }

        [Fact]
        public void CreateLink_ToAMissingRouter_IsRouterNotFound_BeforeAnyChange()
        {
            using var rig = ThreeRouters();
            rig.Sim.Counters.Reset();
            var ex = Assert.Throws<VirtualNetworksException>(() => rig.Backend.CreateLink(SimRig.Link("x", "r1", "r9"), None));
            Assert.Equal(ErrorIds.RouterNotFound, ex.ErrorId);
            Assert.Contains("'r9'", ex.Message);
            Assert.Equal(0, rig.Sim.Counters.InvokeMethod);
        }

        [Fact]
        public void SetLinkBandwidth_RemovesAndReAdds_ReadsBackMultipleOf8_NullRemoves()
        {
            using var rig = ThreeRouters();
            rig.Backend.CreateLink(SimRig.Link("a", "r1", "r2", bw: 1_000_000), None);
            rig.Sim.Counters.Reset();
            rig.Backend.SetLinkBandwidth("a", 2_000_005, None);
            Assert.Equal(0, rig.Sim.Counters.Method("ModifyFeatureSettings"));
            Assert.Equal(2, rig.Sim.Counters.Method("RemoveFeatureSettings"));
            Assert.Equal(2, rig.Sim.Counters.Method("AddFeatureSettings"));
            var l = rig.Inventory().Links.Single();
            Assert.Equal(2_000_000L, l.MaximumBandwidth);
            Assert.Null(l.Status);
            Assert.All(rig.Sim.Guests().SelectMany(g => g.Nics), n => Assert.Equal(2_000_000UL, n.BandwidthLimit));

            rig.Backend.SetLinkBandwidth("a", null, None);
            l = rig.Inventory().Links.Single();
            Assert.Null(l.MaximumBandwidth);
            Assert.All(rig.Sim.Guests().SelectMany(g => g.Nics), n => Assert.Null(n.BandwidthLimit));
            Assert.NotNull(l.VlanId);

            rig.Backend.SetLinkBandwidth("a", 64_000, None); // from none to a limit: add only
            Assert.Equal(64_000L, rig.Inventory().Links.Single().MaximumBandwidth);
            var ex = Assert.Throws<VirtualNetworksException>(() => rig.Backend.SetLinkBandwidth("nope", 8_000, None));
            Assert.Equal(ErrorIds.LinkNotFound, ex.ErrorId);
        }

        [Fact]
        public void RemoveLink_RemovesBothNics()
        {
            using var rig = ThreeRouters();
            rig.Backend.CreateLink(SimRig.Link("a", "r1", "r2"), None);
            rig.Backend.CreateLink(SimRig.Link("b", "r2", "r3"), None);
            rig.Backend.RemoveLink("a", None);
            Assert.Equal(new[] { "vn:b", "vn:b" }, rig.Nics().Select(n => n.GetString("ElementName")));
            Assert.Equal(new[] { "b" }, rig.Inventory().Links.Select(x => x.Name));
        }

        [Fact]
        public void RemoveRouter_DestroysVm_DeletesDisk_RemovesPeersNics()
        {
            using var rig = ThreeRouters();
            rig.Backend.CreateLink(SimRig.Link("a", "r1", "r2"), None);
            rig.Backend.CreateLink(SimRig.Link("b", "r2", "r3"), None);
            rig.Backend.CreateLink(SimRig.Link("c", "r3", "r1"), None);
            rig.Backend.StartRouter("r2", None);
            rig.Backend.RemoveRouter("r2", None);
            Assert.Null(rig.Sim.FindVm("r2"));
            Assert.False(rig.Sim.FileExists(SimRig.VhdDir + @"\r2.vhdx"));
            Assert.True(rig.Sim.FileExists(SimRig.VhdDir + @"\r1.vhdx"));
            Assert.Equal(new[] { "vn:c", "vn:c" }, rig.Nics().Select(n => n.GetString("ElementName")));
            var inv = rig.Inventory();
            Assert.Equal(new[] { "r1", "r3" }, inv.Routers.Select(r => r.Name));
            Assert.Equal(new[] { "c" }, inv.Links.Select(x => x.Name));
            Assert.Empty(rig.Backend.FindOrphans(false, None));
            rig.Backend.RemoveRouter("r2", None); // already gone: no error
        }

        [Fact]
        public void ConfigureRouter_PushesKvp_AndReadsBackEqual()
        {
            using var rig = ThreeRouters();
            rig.Backend.CreateLink(SimRig.Link("a", "r1", "r2"), None);
            var cfg = new RouterConfiguration
            {
                RouterName = "r1",
                AddressFamily = NetworkAddressFamily.IPv4,
                Interfaces = { new InterfaceConfiguration { LinkName = "a", Address = "10.200.0.0/31", PeerAddress = "10.200.0.1", PeerRouter = "r2" } },
                Routes = { new RouteConfiguration { Destination = "0.0.0.0/0", NextHop = "10.200.0.1", LinkName = "a" } },
            };
            for (int i = 0; i < 40; i++) cfg.Routes.Add(new RouteConfiguration { Destination = $"10.{i}.0.0/16", NextHop = "10.200.0.1", LinkName = "a" });
            rig.Sim.Counters.Reset();
            rig.Backend.ConfigureRouter(cfg, None);
            Assert.Equal(1, rig.Sim.Counters.Method("AddKvpItems"));
            var inv = rig.Inventory();
            Assert.Equal(cfg.ToCanonicalString(), inv.Configurations["r1"].ToCanonicalString());
            Assert.Equal(new[] { "10.200.0.0/31" }, inv.Routers.Single(r => r.Name == "r1").Addresses);
            Assert.Equal("10.200.0.0/31", inv.Links.Single().FromAddress);

            // Shorter text: fewer chunks -> stale chunks removed, changed ones modified.
            cfg.Routes.RemoveRange(1, 40);
            rig.Sim.Counters.Reset();
            rig.Backend.ConfigureRouter(cfg, None);
            Assert.Equal(cfg.ToCanonicalString(), rig.Inventory().Configurations["r1"].ToCanonicalString());
            Assert.Equal(1, rig.Sim.Counters.Method("RemoveKvpItems"));
            // Same again: nothing to do.
            rig.Sim.Counters.Reset();
            rig.Backend.ConfigureRouter(cfg, None);
            Assert.Equal(0, rig.Sim.Counters.InvokeMethod);

            // The guest receives the items once it runs.
            rig.Backend.StartRouter("r1", None);
            var host = rig.Sim.Guest("r1").HostItems;
            Assert.Equal(KvpConfig.Hash(KvpConfig.Assemble(host.ToDictionary(k => k.Key, k => k.Value))!), host[KvpConfig.HashKey]);
        }

        [Fact]
        public void Probe_AnsweredByGuestAgent_ReachableAndUnreachable()
        {
            using var rig = ThreeRouters();
            rig.Backend.StartRouter("r1", None);
            rig.Reachable["10.200.0.1"] = true;
            var ok = rig.Backend.Probe("r1", "10.200.0.1", None);
            Assert.True(ok.Reachable, ok.Detail);
            Assert.Equal(0.4, ok.RoundTripMilliseconds);
            var no = rig.Backend.Probe("r1", "10.200.0.9", None);
            Assert.False(no.Reachable);
            // The probe item is removed afterwards.
            Assert.DoesNotContain(rig.Sim.Guest("r1").HostItems.Keys, k => k.StartsWith(KvpConfig.ProbePrefix));
            // A stopped router cannot probe; a guest without agent times out.
            Assert.False(rig.Backend.Probe("r2", "10.200.0.1", None).Reachable);
            rig.Sim.GuestAgent = null;
            var silent = rig.Backend.Probe("r1", "10.200.0.1", None);
            Assert.False(silent.Reachable);
            Assert.Contains("no answer", silent.Detail);
        }

        [Fact]
        public void ImageExists_TrueForAVirtualDisk_FalseOtherwise()
        {
            using var rig = new SimRig();
            Assert.True(rig.Backend.ImageExists(SimRig.Image, ""));
            Assert.False(rig.Backend.ImageExists(@"C:\Images\missing.vhdx", ""));
            Assert.False(rig.Backend.ImageExists("bare", ""));
            rig.Options.ImagePath = @"C:\Images";
            Assert.True(rig.Backend.ImageExists("router", ""));
        }

        private static void State(SimRig rig, string name, RouterState expected) =>
            Assert.Equal(expected, rig.Inventory().Routers.Single(r => r.Name == name).State);
    }
}
