using System;
using System.Linq;
using VirtualNetworks.Linux.Net;
using Xunit;

namespace VirtualNetworks.Linux.Tests
{
    /// <summary>Real bridges and taps through <see cref="IpCommand"/>, in this machine's namespace and in a private one.</summary>
    [Collection(NetHostCollection.Name)]
    public class NetIpCommandTests
    {
        [RootFact]
        public void Bridge_and_two_taps_are_created_tagged_enslaved_and_read_back()
        {
            NetTestHost.RequireRoot();
            RunLinkScenario(new IpCommand());
        }

        [RootFact]
        public void The_same_works_inside_a_named_network_namespace()
        {
            NetTestHost.RequireRoot();
            string ns = "vntest-ns-" + NetTestHost.Suffix();
            NetTestHost.Run("ip", "netns", "add", ns);
            try
            {
                var ip = new IpCommand(ns);
                string bridge = RunLinkScenario(ip, keep: true);
                Assert.False(NetTestHost.LinkExists(bridge), "the bridge must exist only inside " + ns);
                Assert.True(NetTestHost.LinkExists(bridge, ns));
                ip.Delete(bridge);
            }
            finally
            {
                NetTestHost.RunQuietly("ip", "netns", "del", ns);
            }
        }

        /// <summary>Builds link vntest-link-X between routers vntest-r1-X and vntest-r2-X; returns the bridge name.</summary>
        private static string RunLinkScenario(IpCommand ip, bool keep = false)
        {
            string s = NetTestHost.Suffix();
            string link = "vntest-link-" + s, r1 = "vntest-r1-" + s, r2 = "vntest-r2-" + s;
            string bridge = InterfaceNames.Bridge(link), tap1 = InterfaceNames.Tap(r1, link), tap2 = InterfaceNames.Tap(r2, link);
            try
            {
                Assert.True(ip.CreateBridge(bridge, OwnershipTag.ForBridge(NetTestHost.StateId, link)));
                Assert.True(ip.CreateTap(tap1, OwnershipTag.ForTap(NetTestHost.StateId, r1, link)));
                Assert.True(ip.CreateTap(tap2, OwnershipTag.ForTap(NetTestHost.StateId, r2, link)));
                // Idempotent: the same objects again change nothing.
                Assert.False(ip.CreateBridge(bridge, OwnershipTag.ForBridge(NetTestHost.StateId, link)));
                Assert.False(ip.CreateTap(tap1, OwnershipTag.ForTap(NetTestHost.StateId, r1, link)));

                ip.SetMaster(tap1, bridge);
                ip.SetMaster(tap2, bridge);
                ip.SetMaster(tap2, bridge); // already there: no-op
                ip.SetMtu(tap1, 1400);
                ip.SetUp(bridge);
                ip.SetUp(tap1);
                ip.SetUp(tap2);

                var links = ip.ListLinks().ToDictionary(l => l.Name);
                var b = links[bridge];
                Assert.True(b.IsBridge);
                Assert.True(b.AdminUp);
                Assert.Equal(OwnershipTag.ForBridge(NetTestHost.StateId, link), b.Tag);
                Assert.Equal("virtualnetworks:v2:" + NetTestHost.StateId + ":bridge:" + link, b.Alias);
                foreach (var (tap, router) in new[] { (tap1, r1), (tap2, r2) })
                {
                    var t = links[tap];
                    Assert.True(t.IsTap, tap + " must be a tap, is " + t.Kind + "/" + t.TunType);
                    Assert.Equal(bridge, t.Master);
                    Assert.True(t.AdminUp);
                    Assert.Equal(router, t.Tag!.RouterName);
                    Assert.Equal(link, t.Tag.LinkName);
                    Assert.Matches("^[0-9a-f]{2}(:[0-9a-f]{2}){5}$", t.MacAddress);
                }
                Assert.Equal(1400, links[tap1].Mtu);
                Assert.Equal(1500, links[tap2].Mtu);

                // The link's own devices in one ip process (a link's wiring reads these, not every interface of the host):
                // the same details as the full listing, a missing name left out.
                var own = ip.GetLinks(new[] { bridge, tap1, "vntest-nosuch", tap2, tap1 });
                Assert.Equal(new[] { bridge, tap1, tap2 }.OrderBy(x => x), own.Keys.OrderBy(x => x));
                foreach (var name in own.Keys)
                {
                    Assert.Equal(links[name].Tag, own[name].Tag);
                    Assert.Equal(links[name].Master, own[name].Master);
                    Assert.Equal(links[name].Mtu, own[name].Mtu);
                    Assert.Equal(links[name].AdminUp, own[name].AdminUp);
                    Assert.Equal(links[name].Kind, own[name].Kind);
                }
                Assert.Empty(ip.GetLinks(new[] { "vntest-nosuch" }));
                Assert.Equal(ErrorKind.InvalidArgument, Assert.Throws<VirtualNetworksException>(() => ip.GetLinks(new[] { "bad name" })).Kind);

                var single = ip.GetLink(tap2);
                Assert.NotNull(single);
                Assert.Equal(bridge, single!.Master);
                Assert.Null(ip.GetLink("vntest-nosuch"));

                ip.SetNoMaster(tap2);
                Assert.Null(ip.GetLink(tap2)!.Master);

                Assert.True(ip.Delete(tap1));
                Assert.True(ip.Delete(tap2));
                Assert.False(ip.Delete(tap2)); // already gone
                Assert.Null(ip.GetLink(tap1));
                if (!keep)
                {
                    Assert.True(ip.Delete(bridge));
                    Assert.Null(ip.GetLink(bridge));
                }
                return bridge;
            }
            finally
            {
                foreach (var n in keep ? new[] { tap1, tap2 } : new[] { tap1, tap2, bridge })
                {
                    try { ip.Delete(n); } catch (VirtualNetworksException) { }
                }
            }
        }

        [RootFact]
        public void Untagged_interfaces_are_never_modified_or_deleted()
        {
            NetTestHost.RequireRoot();
            var ip = new IpCommand();
            string s = NetTestHost.Suffix();
            string untagged = "vntest-untag" + s.Substring(0, 3);
            string link = "vntest-link-" + s;
            string bridge = InterfaceNames.Bridge(link);
            // dummy devices are missing on this machine kind; an untagged bridge serves the same purpose.
            NetTestHost.Run("ip", "link", "add", "name", untagged, "type", "bridge");
            try
            {
                var u = ip.GetLink(untagged);
                Assert.NotNull(u);
                Assert.False(u!.IsOwned);

                void Refused(Action action)
                {
                    var ex = Assert.ThrowsAny<VirtualNetworksException>(action);
                    Assert.Equal(ErrorKind.InvalidOperation, ex.Kind);
                    Assert.Contains("not created by VirtualNetworks", ex.Message);
                    Assert.Contains(untagged, ex.Message);
                }

                Refused(() => ip.Delete(untagged));
                Refused(() => ip.SetUp(untagged));
                Refused(() => ip.SetDown(untagged));
                Refused(() => ip.SetMtu(untagged, 1400));
                Refused(() => ip.SetNoMaster(untagged));
                Refused(() => ip.SetPortVlan(untagged, 10));
                Refused(() => new TrafficShaper(ip).SetRate(untagged, 1_000_000));
                Refused(() => new TrafficShaper(ip).Remove(untagged));

                // Enslaving into, or out of, a foreign device is refused too.
                ip.CreateBridge(bridge, OwnershipTag.ForBridge(NetTestHost.StateId, link));
                Refused(() => ip.SetMaster(untagged, bridge));
                var tap = InterfaceNames.Tap("vntest-r-" + s, link);
                ip.CreateTap(tap, OwnershipTag.ForTap(NetTestHost.StateId, "vntest-r-" + s, link));
                Refused(() => ip.SetMaster(tap, untagged));
                ip.Delete(tap);

                // A name held by an untagged device is not taken over.
                var taken = Assert.ThrowsAny<VirtualNetworksException>(() => ip.CreateBridge(untagged, OwnershipTag.ForBridge(NetTestHost.StateId, link)));
                Assert.Equal(ErrorKind.ResourceExists, taken.Kind);
                Assert.Contains("was not created by VirtualNetworks", taken.Message);

                // The untagged device is exactly as it was: still there, still no alias, still down.
                var after = ip.GetLink(untagged)!;
                Assert.Null(after.Alias);
                Assert.False(after.AdminUp);
                Assert.Equal(u.Mtu, after.Mtu);
                Assert.Equal(u.Index, after.Index);
            }
            finally
            {
                NetTestHost.RunQuietly("ip", "link", "del", "dev", untagged);
                try { ip.Delete(bridge); } catch (VirtualNetworksException) { }
            }
            Assert.False(NetTestHost.LinkExists(untagged));
        }

        [RootFact]
        public void A_name_collision_or_cross_wiring_is_an_error_not_a_share()
        {
            NetTestHost.RequireRoot();
            var ip = new IpCommand();
            string s = NetTestHost.Suffix();
            string linkA = "vntest-la-" + s, linkB = "vntest-lb-" + s, router = "vntest-r-" + s;
            string bridgeA = InterfaceNames.Bridge(linkA), bridgeB = InterfaceNames.Bridge(linkB);
            string tapB = InterfaceNames.Tap(router, linkB);
            try
            {
                ip.CreateBridge(bridgeA, OwnershipTag.ForBridge(NetTestHost.StateId, linkA));
                // Simulate a hash collision: link B's tag asks for link A's device name.
                var ex = Assert.ThrowsAny<VirtualNetworksException>(() => ip.CreateBridge(bridgeA, OwnershipTag.ForBridge(NetTestHost.StateId, linkB)));
                Assert.Equal(ErrorKind.ResourceExists, ex.Kind);
                Assert.Contains(linkA, ex.Message);
                // Same tag, wrong kind.
                var kind = Assert.ThrowsAny<VirtualNetworksException>(() => ip.CreateTap(bridgeA, OwnershipTag.ForBridge(NetTestHost.StateId, linkA)));
                Assert.Contains("not tap", kind.Message);

                ip.CreateBridge(bridgeB, OwnershipTag.ForBridge(NetTestHost.StateId, linkB));
                ip.CreateTap(tapB, OwnershipTag.ForTap(NetTestHost.StateId, router, linkB));
                var cross = Assert.ThrowsAny<VirtualNetworksException>(() => ip.SetMaster(tapB, bridgeA));
                Assert.Contains("different links", cross.Message);
                var notBridge = Assert.ThrowsAny<VirtualNetworksException>(() => ip.SetMaster(bridgeB, tapB));
                Assert.Contains("not a bridge", notBridge.Message);
                ip.SetMaster(tapB, bridgeB);
            }
            finally
            {
                foreach (var n in new[] { tapB, bridgeA, bridgeB })
                {
                    try { ip.Delete(n); } catch (VirtualNetworksException) { }
                }
            }
        }

        [RootFact]
        public void Vxlan_devices_are_created_tagged()
        {
            NetTestHost.RequireRoot();
            if (!LinuxCapabilities.Probe().Vxlan) return; // reported by the capability test; nothing to check here
            var ip = new IpCommand();
            string link = "vntest-lx-" + NetTestHost.Suffix();
            string vx = InterfaceNames.Vxlan(link), bridge = InterfaceNames.Bridge(link);
            try
            {
                var options = new VxlanOptions { Vni = 4242, Local = "127.0.0.1", Remote = "127.0.0.2", DestinationPort = 4789 };
                Assert.True(ip.CreateVxlan(vx, OwnershipTag.ForVxlan(NetTestHost.StateId, link), options));
                Assert.False(ip.CreateVxlan(vx, OwnershipTag.ForVxlan(NetTestHost.StateId, link), options));
                ip.CreateBridge(bridge, OwnershipTag.ForBridge(NetTestHost.StateId, link));
                ip.SetMaster(vx, bridge);
                var v = ip.GetLink(vx)!;
                Assert.Equal("vxlan", v.Kind);
                Assert.Equal(OwnedRole.Vxlan, v.Tag!.Role);
                Assert.Equal(bridge, v.Master);
                Assert.Throws<ArgumentException>(() => ip.CreateVxlan(vx, OwnershipTag.ForVxlan(NetTestHost.StateId, link),
                    new VxlanOptions { Vni = 1, Local = "127.0.0.1; reboot", Remote = "127.0.0.2" }));
            }
            finally
            {
                try { ip.Delete(vx); } catch (VirtualNetworksException) { }
                try { ip.Delete(bridge); } catch (VirtualNetworksException) { }
            }
        }
    }
}
