using System;
using System.Collections.Generic;
using System.Linq;
using VirtualNetworks.Backends;
using VirtualNetworks.HyperV.Cim;
using VirtualNetworks.HyperV.Simulator;
using Xunit;

namespace VirtualNetworks.HyperV.Tests.Backend
{
    /// <summary>
    /// ILinkStateControl on Hyper-V (docs/hyperv-backend.md §13): CablePulled = the connection disabled (EnabledState 3),
    /// Silent = connected with deny-all port ACLs both ways, Up = connected without them; the wish recorded in both end
    /// VMs' Notes first, reported by the inventory, re-applied when the link is re-created and after a migration.
    /// Runs on both schema versions (server2019 here, server23h2 in VirtualNetworks.HyperV.Tests.Server23h2).
    /// </summary>
    public class LinkStateTests
    {
        private static readonly System.Threading.CancellationToken None = SimRig.None;

        private static SimRig Linked(long? bw = 10_000_000)
        {
            var rig = new SimRig();
            rig.Backend.CreateRouter(SimRig.Router("r1"), None);
            rig.Backend.CreateRouter(SimRig.Router("r2"), None);
            rig.Backend.CreateLink(SimRig.Link("a", "r1", "r2", bw: bw), None);
            rig.Backend.StartRouter("r1", None);
            rig.Backend.StartRouter("r2", None);
            return rig;
        }

        private static SimulatedNic Nic(SimRig rig, string router, string link = "a") =>
            rig.Sim.Guest(router).Nics.Single(n => n.ElementName == "vn:" + link);

        private static string Notes(SimRig rig, string router) => string.Join("\n", rig.VssdOf(router).GetStrings("Notes"));

        private static VirtualLink Link(SimRig rig, string name = "a") => rig.Inventory().Links.Single(l => l.Name == name);

        [Fact]
        public void Backend_ControlsLinkState_AndReadsRoutes()
        {
            using var rig = new SimRig();
            Assert.IsAssignableFrom<ILinkStateControl>(rig.Backend);
            // Get-VirtualRoute / Get-VirtualRoutingStatus over the KVP command exchange (KvpGuestRoutingTests).
            Assert.IsAssignableFrom<IRoutingReader>(rig.Backend);
        }

        [Fact]
        public void CablePulled_DisablesBothConnections_KeepsVlanBandwidthAndSwitch_RecordsIt_AndUpReconnects()
        {
            using var rig = Linked();
            var before = (Nic(rig, "r1"), Nic(rig, "r2"));
            Assert.True(before.Item1.Forwards && before.Item2.Forwards);

            rig.Backend.SetLinkState("a", LinkState.CablePulled, None);

            foreach (var r in new[] { "r1", "r2" })
            {
                var n = Nic(rig, r);
                Assert.False(n.Connected); // EnabledState 3: the guest sees no carrier
                Assert.False(n.Forwards);
                Assert.Equal(HyperVNames.DefaultSwitchName, n.SwitchName); // HostResource kept
                Assert.Equal(before.Item1.AccessVlanId, n.AccessVlanId);   // features kept
                Assert.Equal(10_000_000UL, n.BandwidthLimit);
                Assert.Empty(n.Acls);
                Assert.Contains("linkstate:a=CablePulled", Notes(rig, r));
                Assert.StartsWith(HyperVNames.Marker, Notes(rig, r)); // the marker stays first
            }
            var link = Link(rig);
            Assert.Equal(LinkState.CablePulled, link.State);
            Assert.Null(link.Status);
            Assert.Equal(10_000_000L, link.MaximumBandwidth);
            Assert.Equal(("r1", "r2"), (link.From, link.To));
            // A fresh backend (new PowerShell command) reads the same from the host.
            rig.Renew();
            Assert.Equal(LinkState.CablePulled, Link(rig).State);

            rig.Backend.SetLinkState("a", LinkState.Up, None);

            foreach (var r in new[] { "r1", "r2" })
            {
                var n = Nic(rig, r);
                Assert.True(n.Connected && n.Forwards);
                Assert.Equal(before.Item1.AccessVlanId, n.AccessVlanId);
                Assert.Equal(10_000_000UL, n.BandwidthLimit);
                Assert.DoesNotContain("linkstate:", Notes(rig, r));
            }
            Assert.Equal(LinkState.Up, Link(rig).State);
            Assert.Null(Link(rig).Status);
        }

        [Fact]
        public void Silent_KeepsCarrier_DropsEveryFrameBothWays_WithTwoNamedDenyAcls_AndUpRemovesThem()
        {
            using var rig = Linked();
            rig.Backend.SetLinkState("a", LinkState.Silent, None);
            rig.Backend.SetLinkState("a", LinkState.Silent, None); // idempotent: no second pair of ACLs

            foreach (var r in new[] { "r1", "r2" })
            {
                var n = Nic(rig, r);
                Assert.True(n.Connected);                 // carrier stays up
                Assert.True(n.DropsAll(1) && n.DropsAll(2));
                Assert.False(n.Forwards);
                Assert.Equal(2, n.Acls.Count);
                Assert.Equal(new[] { "vn:silent-in", "vn:silent-out" }, n.Acls.Select(a => a.Name).OrderBy(x => x, StringComparer.Ordinal));
                Assert.All(n.Acls, a => Assert.Equal((1, 2, 2, 0), (a.AclType, a.Action, a.Applicability, a.RemoteAddressPrefixLength)));
                Assert.Contains("linkstate:a=Silent", Notes(rig, r));
            }
            Assert.Equal(LinkState.Silent, Link(rig).State);
            Assert.Null(Link(rig).Status);

            // Silent -> CablePulled: disconnected, the ACLs gone; -> Up: forwarding.
            rig.Backend.SetLinkState("a", LinkState.CablePulled, None);
            Assert.All(new[] { "r1", "r2" }, r => Assert.True(!Nic(rig, r).Connected && Nic(rig, r).Acls.Count == 0));
            rig.Backend.SetLinkState("a", LinkState.Silent, None);
            Assert.All(new[] { "r1", "r2" }, r => Assert.True(Nic(rig, r).Connected && Nic(rig, r).DropsAll(1) && Nic(rig, r).DropsAll(2)));
            rig.Backend.SetLinkState("a", LinkState.Up, None);
            Assert.All(new[] { "r1", "r2" }, r => Assert.True(Nic(rig, r).Forwards && Nic(rig, r).Acls.Count == 0));
        }

        [Fact]
        public void ForeignAclsOnThePort_AreLeftAlone()
        {
            using var rig = Linked();
            // An administrator's own ACL (Add-VMNetworkAdapterAcl) on r1's port.
            var epasd = rig.Sim.Instances("Msvm_EthernetPortAllocationSettingData").Single(e =>
                (e.GetString("ElementName") ?? "") == "vn:a" && (e.GetString("InstanceID") ?? "").StartsWith(rig.VssdOf("r1").GetString("InstanceID")! + "\\", StringComparison.OrdinalIgnoreCase));
            var acl = new CimObject("Msvm_EthernetSwitchPortAclSettingData")
                .Set("Name", CimDataType.String, false, "admin")
                .Set("Direction", CimDataType.UInt8, false, (byte)1).Set("Applicability", CimDataType.UInt8, false, (byte)2)
                .Set("AclType", CimDataType.UInt8, false, (byte)2).Set("Action", CimDataType.UInt8, false, (byte)1)
                .Set("RemoteAddress", CimDataType.String, false, "10.0.0.0").Set("RemoteAddressPrefixLength", CimDataType.UInt8, false, (byte)8);
            using (var gw = rig.Sim.Connect())
            {
                var vsms = gw.Query(@"root\virtualization\v2", "SELECT * FROM Msvm_VirtualSystemManagementService", None).Single().ToReference();
                gw.InvokeAndWait(vsms, "AddFeatureSettings", new[]
                {
                    CimMethodParameter.Reference("AffectedConfiguration", epasd.ToReference()),
                    CimMethodParameter.Strings("FeatureSettings", new[] { CimXml.Write(acl) }),
                }, None);
            }
            rig.Backend.SetLinkState("a", LinkState.Silent, None);
            Assert.Equal(3, Nic(rig, "r1").Acls.Count);
            Assert.Equal(LinkState.Silent, Link(rig).State);
            rig.Backend.SetLinkState("a", LinkState.Up, None);
            Assert.Equal("admin", Assert.Single(Nic(rig, "r1").Acls).Name);
            Assert.Equal(LinkState.Up, Link(rig).State);
            Assert.Null(Link(rig).Status);
        }

        [Fact]
        public void TheWishIsRecordedBeforeThePortsChange_AFailureLeavesItReported_AndARerunApplies()
        {
            using var rig = Linked();
            rig.Sim.Faults.FailMethod("AddFeatureSettings", 32768);
            Assert.Throws<VirtualNetworksException>(() => rig.Backend.SetLinkState("a", LinkState.Silent, None));
            rig.Sim.Faults.Clear();

            // Both ends record Silent (written first); the ports still forward: the inventory says so.
            Assert.Contains("linkstate:a=Silent", Notes(rig, "r1"));
            Assert.Contains("linkstate:a=Silent", Notes(rig, "r2"));
            var link = Link(rig);
            Assert.Equal(LinkState.Silent, link.State);
            Assert.NotNull(link.Status);
            Assert.Contains("reads Up, not Silent", link.Status);
            Assert.Contains("Disable-VirtualLink -Failure Silent re-applies it", link.Status);

            rig.Backend.SetLinkState("a", LinkState.Silent, None);
            Assert.Null(Link(rig).Status);
            Assert.All(new[] { "r1", "r2" }, r => Assert.False(Nic(rig, r).Forwards));
        }

        [Fact]
        public void ARepeatedCall_ChangesNothing_AndAHalfSilentPort_IsReportedAndCompletedWithOneAdd()
        {
            using var rig = Linked();
            rig.Backend.SetLinkState("a", LinkState.Silent, None);
            rig.Sim.Counters.Reset();
            rig.Backend.SetLinkState("a", LinkState.Silent, None);
            Assert.Equal(0, rig.Sim.Counters.InvokeMethod); // no Notes write, no port change: only reads

            // Someone removes r2's outgoing deny ACL by hand.
            var outAcl = rig.Sim.Instances("Msvm_EthernetSwitchPortAclSettingData").Single(a =>
                a.GetString("Name") == "vn:silent-out" && (a.GetString("InstanceID") ?? "").StartsWith(rig.VssdOf("r2").GetString("InstanceID")! + "\\", StringComparison.OrdinalIgnoreCase));
            using (var gw = rig.Sim.Connect())
            {
                var vsms = gw.Query(@"root\virtualization\v2", "SELECT * FROM Msvm_VirtualSystemManagementService", None).Single().ToReference();
                gw.InvokeAndWait(vsms, "RemoveFeatureSettings", new[] { CimMethodParameter.References("FeatureSettings", new[] { outAcl.ToReference() }) }, None);
            }
            var link = Link(rig);
            Assert.Equal(LinkState.Silent, link.State);
            Assert.Contains("the port at r2 reads inconsistent", link.Status);

            rig.Sim.Counters.Reset();
            rig.Backend.SetLinkState("a", LinkState.Silent, None);
            Assert.Equal(1, rig.Sim.Counters.Method("AddFeatureSettings"));
            Assert.Equal(0, rig.Sim.Counters.Method("ModifySystemSettings") + rig.Sim.Counters.Method("ModifyResourceSettings") + rig.Sim.Counters.Method("RemoveFeatureSettings"));
            Assert.Null(Link(rig).Status);
            Assert.True(Nic(rig, "r2").DropsAll(2));
        }

        [Fact]
        public void AHostKeepingOnlyNotesElementZero_StillKeepsTheMarkerAndTheState()
        {
            using var rig = Linked();
            rig.Sim.NotesKeepFirstElementOnly = true;
            rig.Backend.SetLinkState("a", LinkState.CablePulled, None);
            Assert.Single(rig.VssdOf("r1").GetStrings("Notes"));
            Assert.Equal(LinkState.CablePulled, Link(rig).State);
            Assert.Equal(new[] { "r1", "r2" }, rig.Inventory().Routers.Select(r => r.Name).OrderBy(n => n));
        }

        [Fact]
        public void UnknownLink_IsLinkNotFound_AndNothingChanges()
        {
            using var rig = Linked();
            rig.Sim.Counters.Reset();
            var ex = Assert.Throws<VirtualNetworksException>(() => rig.Backend.SetLinkState("nope", LinkState.CablePulled, None));
            Assert.Equal(ErrorIds.LinkNotFound, ex.ErrorId);
            Assert.Equal(ErrorKind.ObjectNotFound, ex.Kind);
            Assert.Equal(0, rig.Sim.Counters.InvokeMethod);
        }

        [Fact]
        public void DeclaredState_IsAppliedByCreateLink()
        {
            using var rig = new SimRig();
            rig.Backend.CreateRouter(SimRig.Router("r1"), None);
            rig.Backend.CreateRouter(SimRig.Router("r2"), None);
            var spec = SimRig.Link("a", "r1", "r2");
            spec.State = LinkState.Silent;
            rig.Backend.CreateLink(spec, None);
            Assert.Equal(LinkState.Silent, Link(rig).State);
            Assert.Null(Link(rig).Status);
            Assert.True(Nic(rig, "r1").DropsAll(1) && Nic(rig, "r2").DropsAll(2));
        }

        [Fact]
        public void ARecreatedRouter_GetsItsLinkBackInTheRecordedState_ButRemoveLinkForgetsIt()
        {
            using var rig = Linked();
            rig.Backend.SetLinkState("a", LinkState.CablePulled, None);
            // r2 is re-created (its VM, Notes and adapter are new); r1 still records the state.
            rig.Backend.StopRouter("r2", true, None);
            rig.Backend.RemoveRouter("r2", None);
            rig.Backend.CreateRouter(SimRig.Router("r2"), None);
            rig.Backend.CreateLink(SimRig.Link("a", "r1", "r2"), None); // State not declared
            Assert.Equal(LinkState.CablePulled, Link(rig).State);
            Assert.Null(Link(rig).Status);
            Assert.False(Nic(rig, "r2").Connected);
            Assert.Contains("linkstate:a=CablePulled", Notes(rig, "r2"));

            // An explicit RemoveLink: the link has no state any more; a new link of that name is Up.
            rig.Backend.RemoveLink("a", None);
            Assert.DoesNotContain("linkstate:", Notes(rig, "r1"));
            Assert.DoesNotContain("linkstate:", Notes(rig, "r2"));
            rig.Backend.CreateLink(SimRig.Link("a", "r1", "r2"), None);
            Assert.Equal(LinkState.Up, Link(rig).State);
            Assert.True(Nic(rig, "r1").Forwards && Nic(rig, "r2").Forwards);
        }

        [Fact]
        public void ADisconnectThatEmptiedHostResource_IsStillTheLink_AndUpReconnectsItToTheFabric()
        {
            // Tolerance (docs/hyperv-backend.md §13): if a host empties HostResource of a disabled connection, the
            // connection's LastKnownSwitchName still names the fabric switch.
            using var rig = Linked();
            rig.Backend.SetLinkState("a", LinkState.CablePulled, None);
            var epasd = rig.Sim.Instances("Msvm_EthernetPortAllocationSettingData").Single(e =>
                (e.GetString("ElementName") ?? "") == "vn:a" && (e.GetString("InstanceID") ?? "").StartsWith(rig.VssdOf("r1").GetString("InstanceID")! + "\\", StringComparison.OrdinalIgnoreCase));
            var emptied = epasd.Clone().Set("HostResource", CimDataType.String, true, Array.Empty<string>());
            using (var gw = rig.Sim.Connect())
            {
                var vsms = gw.Query(@"root\virtualization\v2", "SELECT * FROM Msvm_VirtualSystemManagementService", None).Single().ToReference();
                gw.InvokeAndWait(vsms, "ModifyResourceSettings", new[] { CimMethodParameter.Strings("ResourceSettings", new[] { CimXml.Write(emptied) }) }, None);
            }
            Assert.Null(Nic(rig, "r1").SwitchName);
            Assert.Equal(LinkState.CablePulled, Link(rig).State);

            rig.Backend.SetLinkState("a", LinkState.Up, None);
            Assert.Equal(HyperVNames.DefaultSwitchName, Nic(rig, "r1").SwitchName);
            Assert.True(Nic(rig, "r1").Forwards && Nic(rig, "r2").Forwards);
            Assert.Null(Link(rig).Status);
        }

        [Theory]
        [InlineData(MigrationMode.Live, LinkState.Silent)]
        [InlineData(MigrationMode.Cold, LinkState.CablePulled)]
        public void Migration_KeepsTheState_OnTheTransportSwitch_AndBackOnTheFabric(MigrationMode mode, LinkState state)
        {
            using var rig = new MigrationRig();
            rig.Create("r1", "HV01");
            rig.Create("r2", "HV01");
            rig.Backend.CreateLink(SimRig.Link("l12", "r1", "r2", bw: 10_000_000), None);
            rig.Backend.SetLinkState("l12", state, None);

            rig.Backend.MoveRouter("r1", "HV02", mode, null, None);

            var l = rig.LinkOf("l12");
            Assert.Equal(state, l.State);
            Assert.Null(l.Status);
            Assert.Equal(new[] { "HV02", "HV01" }, l.UnderlayPath); // From (r1, moved) to To (r2)
            foreach (var (host, router) in new[] { ("HV02", "r1"), ("HV01", "r2") })
            {
                var n = rig.Nic(host, router, "l12");
                Assert.Equal(MigrationRig.Transport, n.SwitchName);
                Assert.Equal(state == LinkState.Silent, n.Connected);
                Assert.Equal(state == LinkState.Silent, n.DropsAll(1) && n.DropsAll(2));
                Assert.False(n.Forwards);
            }

            // Back to HV01: both ends on the fabric again, still in that state; then Up works across the move.
            rig.Backend.MoveRouter("r1", "HV01", mode, null, None);
            l = rig.LinkOf("l12");
            Assert.Equal(state, l.State);
            Assert.Null(l.Status);
            rig.Backend.SetLinkState("l12", LinkState.Up, None);
            Assert.True(rig.Nic("HV01", "r1", "l12").Forwards && rig.Nic("HV01", "r2", "l12").Forwards);
            Assert.Equal(HyperVNames.DefaultSwitchName, rig.Nic("HV01", "r1", "l12").SwitchName);
        }

        [Fact]
        public void Migration_ReappliesTheRecordedState_WhenTheHostDidNotKeepThePortAcls()
        {
            using var rig = new MigrationRig();
            rig["HV01"].MigrationDropsPortAcls = true;
            rig.Create("r1", "HV01");
            rig.Create("r2", "HV01");
            rig.Backend.CreateLink(SimRig.Link("l12", "r1", "r2"), None);
            rig.Backend.SetLinkState("l12", LinkState.Silent, None);
            var progress = new List<string>();

            rig.Backend.MoveRouter("r1", "HV02", MigrationMode.Live, new SyncProgress(progress.Add), None);

            var moved = rig.Nic("HV02", "r1", "l12");
            Assert.True(moved.Connected && moved.DropsAll(1) && moved.DropsAll(2));
            Assert.Equal(LinkState.Silent, rig.LinkOf("l12").State);
            Assert.Null(rig.LinkOf("l12").Status);
            Assert.Contains(progress, p => p.Contains("re-applying link 'l12' Silent"));
        }

        [Fact]
        public void CrossHostLink_StateIsSetOnBothHosts()
        {
            using var rig = new MigrationRig();
            rig.Create("r1", "HV01");
            rig.Create("r2", "HV02");
            rig.Backend.CreateLink(SimRig.Link("x", "r1", "r2"), None);
            rig.Backend.SetLinkState("x", LinkState.CablePulled, None);
            Assert.False(rig.Nic("HV01", "r1", "x").Connected);
            Assert.False(rig.Nic("HV02", "r2", "x").Connected);
            Assert.Equal(LinkState.CablePulled, rig.LinkOf("x").State);
            rig.Backend.SetLinkState("x", LinkState.Up, None);
            Assert.True(rig.Nic("HV01", "r1", "x").Forwards && rig.Nic("HV02", "r2", "x").Forwards);
            Assert.Equal(LinkState.Up, rig.LinkOf("x").State);
        }

        private sealed class SyncProgress : IProgress<string>
        {
            private readonly Action<string> _report;
            public SyncProgress(Action<string> report) { _report = report; }
            public void Report(string value) => _report(value);
        }

        [Fact]
        public void LinkStateNotes_ParseAndRewrite_KeepEveryOtherLine()
        {
            var notes = HyperVNames.RouterNotes(new RouterSpec { Name = "r1", Image = "img" });
            var pulled = HyperVNames.WithLinkState(notes, "a", LinkState.CablePulled);
            var both = HyperVNames.WithLinkState(pulled, "b", LinkState.Silent);
            Assert.Single(both);
            Assert.Equal(LinkState.CablePulled, HyperVNames.LinkStates(both)["a"]);
            Assert.Equal(LinkState.Silent, HyperVNames.LinkStates(both)["b"]);
            Assert.Equal("r1", HyperVNames.ParseRouter(both)!.Router);
            var back = HyperVNames.WithLinkState(HyperVNames.WithLinkState(both, "A", LinkState.Up), "b", LinkState.Up);
            Assert.Equal(notes, back);
            Assert.Empty(HyperVNames.LinkStates(new[] { "linkstate:x=Bogus", "linkstate:=Silent" }));
        }
    }
}
