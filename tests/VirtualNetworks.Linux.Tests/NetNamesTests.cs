using System;
using System.Linq;
using VirtualNetworks.Linux.Net;
using Xunit;

namespace VirtualNetworks.Linux.Tests
{
    /// <summary>Names, tags and parsing: no root, no kernel.</summary>
    public class NetNamesTests
    {
        [Fact]
        public void Names_are_deterministic_known_and_within_ifnamsiz()
        {
            // printf 'link1' | sha256sum -> 32c0ccb1ea...; printf 'r1/link1' | sha256sum -> 05e954d279...
            Assert.Equal("vnb32c0ccb1ea", InterfaceNames.Bridge("link1"));
            Assert.Equal("vnt05e954d279", InterfaceNames.Tap("r1", "link1"));
            Assert.Equal("vnx32c0ccb1ea", InterfaceNames.Vxlan("link1"));
            Assert.Equal(InterfaceNames.Bridge("link1"), InterfaceNames.Bridge("LINK1"));
            Assert.Equal(InterfaceNames.Tap("r1", "link1"), InterfaceNames.Tap("R1", "Link1"));

            string longName = new string('a', 63);
            foreach (var n in new[] { InterfaceNames.Bridge(longName), InterfaceNames.Tap(longName, longName), InterfaceNames.Vxlan("x") })
            {
                Assert.Equal(13, n.Length);
                Assert.True(n.Length <= InterfaceNames.MaxLength);
                Assert.True(InterfaceNames.IsValid(n));
                Assert.Matches("^vn[btx][0-9a-f]{10}$", n);
            }
        }

        [Fact]
        public void Tap_names_depend_on_both_ends_and_order()
        {
            Assert.NotEqual(InterfaceNames.Tap("a", "b"), InterfaceNames.Tap("b", "a"));
            Assert.NotEqual(InterfaceNames.Tap("r1", "l1"), InterfaceNames.Tap("r2", "l1"));
            // No collisions among a realistic number of objects (40 bits each).
            var names = Enumerable.Range(0, 2000).Select(i => InterfaceNames.Tap("r" + i, "l" + (i % 37))).ToList();
            Assert.Equal(names.Count, names.Distinct().Count());
        }

        [Theory]
        [InlineData("")]
        [InlineData("bad name")]
        [InlineData("x;rm -rf /")]
        [InlineData("-x")]
        public void Names_refuse_invalid_object_names(string bad)
        {
            var ex = Assert.ThrowsAny<VirtualNetworksException>(() => InterfaceNames.Bridge(bad));
            Assert.Equal(ErrorKind.InvalidArgument, ex.Kind);
            Assert.ThrowsAny<VirtualNetworksException>(() => InterfaceNames.Tap("r1", bad));
            Assert.ThrowsAny<VirtualNetworksException>(() => OwnershipTag.ForTap(NetTestHost.StateId, bad, "l1"));
        }

        [Theory]
        [InlineData("vnb0123456789", true)]
        [InlineData("vntest-va12ab", true)]
        [InlineData("eth0", true)]
        [InlineData("a23456789012345", true)]
        [InlineData("a234567890123456", false)]
        [InlineData("", false)]
        [InlineData(".", false)]
        [InlineData("..", false)]
        [InlineData("-x", false)]
        [InlineData("a b", false)]
        [InlineData("a/b", false)]
        [InlineData("a:b", false)]
        public void Interface_name_validation(string name, bool valid)
        {
            Assert.Equal(valid, InterfaceNames.IsValid(name));
        }

        [Theory]
        [InlineData("vntest-a-1", true)]
        [InlineData("lab.host_1", true)]
        [InlineData("../etc", false)]
        [InlineData(".hidden", false)]
        [InlineData("-n", false)]
        [InlineData("a/b", false)]
        [InlineData("", false)]
        public void Namespace_name_validation(string name, bool valid)
        {
            Assert.Equal(valid, InterfaceNames.IsValidNamespaceName(name));
            if (!valid) Assert.ThrowsAny<VirtualNetworksException>(() => new IpCommand(name));
        }

        [Fact]
        public void Tags_round_trip()
        {
            var b = OwnershipTag.ForBridge(NetTestHost.StateId, "Link-1");
            Assert.Equal("virtualnetworks:v2:7e57da7a:bridge:Link-1", b.Alias);
            var t = OwnershipTag.ForTap(NetTestHost.StateId, "R1", "Link-1");
            Assert.Equal("virtualnetworks:v2:7e57da7a:tap:R1/Link-1", t.Alias);
            var x = OwnershipTag.ForVxlan(NetTestHost.StateId, "l2");
            Assert.Equal("virtualnetworks:v2:7e57da7a:vxlan:l2", x.Alias);
            var h = OwnershipTag.ForHost(NetTestHost.StateId, "H1");
            Assert.Equal("virtualnetworks:v2:7e57da7a:host:H1", h.Alias);
            var v = OwnershipTag.ForVeth(NetTestHost.StateId, "H1", "H2");
            Assert.Equal("virtualnetworks:v2:7e57da7a:veth:H1/H2", v.Alias);
            // A probe tag names its owner process (pid namespace, pid, start time); the old form has none.
            var p = OwnershipTag.ForProbe("vnp01020304", new ProbeOwner(4026531836, 4242, 987654));
            Assert.Equal("virtualnetworks:v1:probe:vnp01020304:4026531836:4242:987654", p.Alias);
            var old = OwnershipTag.ForProbe("vnp01020304", null);
            Assert.Equal("virtualnetworks:v1:probe:vnp01020304", old.Alias);
            Assert.NotEqual(p, old);
            var mine = OwnershipTag.ForProbe("vnp01020304");
            Assert.Equal(ProbeOwner.Current, mine.ProbeOwner);
            Assert.Equal(System.Environment.ProcessId, mine.ProbeOwner!.Pid);
            Assert.Equal(ProbeOwnerState.Alive, mine.ProbeOwner.State());

            foreach (var tag in new[] { b, t, x, h, v, p, old, mine })
            {
                Assert.True(OwnershipTag.TryParse(tag.Alias, out var back));
                Assert.Equal(tag, back);
                Assert.Equal(tag.StateId, back!.StateId);
                Assert.Equal(tag.Role, back!.Role);
                Assert.Equal(tag.ObjectName, back.ObjectName);
            }
            var tb = OwnershipTag.Parse(t.Alias)!;
            Assert.Equal("R1", tb.RouterName);
            Assert.Equal("Link-1", tb.LinkName);
            Assert.Equal(InterfaceNames.Tap("r1", "link-1"), tb.ExpectedInterfaceName);
            Assert.Equal(InterfaceNames.Bridge("link-1"), OwnershipTag.Parse(b.Alias)!.ExpectedInterfaceName);
            Assert.Null(p.ExpectedInterfaceName);
            Assert.Equal(OwnershipTag.ForBridge(NetTestHost.StateId, "LINK-1"), b); // case-insensitive like all names
            Assert.Null(p.StateId); // probes belong to no state directory
        }

        [Fact]
        public void A_tag_belongs_only_to_the_state_directory_whose_id_it_carries()
        {
            var mine = OwnershipTag.ForBridge(NetTestHost.StateId, "l1");
            var theirs = OwnershipTag.Parse("virtualnetworks:v2:0ther1d0:bridge:l1")!;
            Assert.Equal("0ther1d0", theirs.StateId);
            Assert.True(mine.BelongsTo(NetTestHost.StateId));
            Assert.False(theirs.BelongsTo(NetTestHost.StateId));
            Assert.False(mine.BelongsTo(null));
            Assert.NotEqual(mine, theirs); // same object, other state directory: not the same device
            Assert.False(theirs.IsLegacyOf(mine));

            // v1 tags (written before state ids) still parse, belong to no state directory, and are adoptable.
            var legacy = OwnershipTag.Parse("virtualnetworks:v1:bridge:L1")!;
            Assert.Null(legacy.StateId);
            Assert.False(legacy.BelongsTo(NetTestHost.StateId));
            Assert.True(legacy.IsLegacyOf(mine));
            Assert.NotEqual(mine, legacy);

            Assert.Throws<ArgumentException>(() => OwnershipTag.ForBridge("Not-Hex", "l1"));
            Assert.Throws<ArgumentException>(() => OwnershipTag.ForBridge("", "l1"));
            Assert.True(OwnershipTag.IsValidStateId("0123abcd"));
            Assert.False(OwnershipTag.IsValidStateId(new string('a', 33)));
        }

        [Theory]
        [InlineData(null)]
        [InlineData("")]
        [InlineData("uplink to switch 3")]
        [InlineData("virtualnetworks:")]
        [InlineData("virtualnetworks:v2:bridge:l1")]
        [InlineData("virtualnetworks:v2::bridge:l1")]
        [InlineData("virtualnetworks:v2:ABCD0123:bridge:l1")]
        [InlineData("virtualnetworks:v2:7e57da7a:probe:vnp01020304")]
        [InlineData("virtualnetworks:v2:7e57da7a:tap:r1")]
        [InlineData("virtualnetworks:v3:7e57da7a:bridge:l1")]
        [InlineData("virtualnetworks:v1:router:l1")]
        [InlineData("virtualnetworks:v1:bridge:")]
        [InlineData("virtualnetworks:v1:bridge:a b")]
        [InlineData("virtualnetworks:v1:tap:r1")]
        [InlineData("virtualnetworks:v1:tap:/l1")]
        [InlineData("virtualnetworks:v1:tap:r1/l1/x")]
        [InlineData("virtualnetworks:v1:probe:vnp01020304:1:2")]
        [InlineData("virtualnetworks:v1:probe:vnp01020304:1:0:3")]
        [InlineData("virtualnetworks:v1:probe:vnp01020304:a:2:3")]
        [InlineData("virtualnetworks:v1:probe:vnp01020304:1:2:3:4")]
        [InlineData("virtualnetworks:v2:7e57da7a:probe:vnp01020304:1:2:3")]
        [InlineData("VIRTUALNETWORKS:v1:bridge:l1")]
        public void Foreign_or_malformed_aliases_are_not_tags(string? alias)
        {
            Assert.False(OwnershipTag.TryParse(alias, out var tag));
            Assert.Null(tag);
        }

        [Fact]
        public void Link_json_is_parsed()
        {
            const string json = @"[
 {""ifindex"":1,""ifname"":""lo"",""flags"":[""LOOPBACK"",""UP"",""LOWER_UP""],""mtu"":65536,""operstate"":""UNKNOWN"",""address"":""00:00:00:00:00:00""},
 {""ifindex"":8,""ifname"":""vnb32c0ccb1ea"",""flags"":[""BROADCAST"",""MULTICAST"",""UP""],""mtu"":1500,""operstate"":""DOWN"",""address"":""3a:03:ca:c8:42:7d"",""linkinfo"":{""info_kind"":""bridge"",""info_data"":{""stp_state"":0}},""ifalias"":""virtualnetworks:v1:bridge:link1""},
 {""ifindex"":9,""ifname"":""vnt05e954d279"",""flags"":[""BROADCAST"",""MULTICAST""],""mtu"":1500,""master"":""vnb32c0ccb1ea"",""operstate"":""DOWN"",""address"":""72:a9:e0:18:aa:d6"",""linkinfo"":{""info_kind"":""tun"",""info_data"":{""type"":""tap"",""pi"":false}},""ifalias"":""virtualnetworks:v1:tap:r1/link1""},
 {""ifindex"":10,""ifname"":""eth0"",""flags"":[""UP""],""mtu"":9000,""operstate"":""UP"",""ifalias"":""uplink""}
]";
            var links = LinkInfo.ParseList(json);
            Assert.Equal(4, links.Count);
            Assert.Null(links[0].Kind);
            Assert.True(links[0].AdminUp);
            Assert.False(links[0].IsOwned);
            var br = links[1];
            Assert.Equal("vnb32c0ccb1ea", br.Name);
            Assert.Equal(8, br.Index);
            Assert.True(br.IsBridge);
            Assert.True(br.AdminUp);
            Assert.Equal("DOWN", br.OperState);
            Assert.Equal(OwnedRole.Bridge, br.Tag!.Role);
            var tap = links[2];
            Assert.True(tap.IsTap);
            Assert.False(tap.AdminUp);
            Assert.Equal("vnb32c0ccb1ea", tap.Master);
            Assert.Equal("72:a9:e0:18:aa:d6", tap.MacAddress);
            Assert.Equal("r1", tap.Tag!.RouterName);
            Assert.Equal(9000, links[3].Mtu);
            Assert.Equal("uplink", links[3].Alias);
            Assert.False(links[3].IsOwned);

            Assert.Empty(LinkInfo.ParseList(""));
            var bad = Assert.ThrowsAny<VirtualNetworksException>(() => LinkInfo.ParseList("Device \"x\" does not exist."));
            Assert.Equal(ErrorKind.InvalidResult, bad.Kind);
        }

        [Fact]
        public void Vxlan_id_local_and_bridge_port_learning_are_parsed()
        {
            // Printed by iproute2 6.1 (ip -j -d link show) for a VXLAN device on a bridge, "learning off" on the port: the
            // device's own "learning" (nolearning) and the port's are different keys.
            const string json = @"[{""ifindex"":3,""ifname"":""vntestvx"",""flags"":[""BROADCAST"",""MULTICAST""],""mtu"":1500,""master"":""vntestbr"",""operstate"":""DOWN"",
 ""linkinfo"":{""info_kind"":""vxlan"",""info_data"":{""id"":10042,""local"":""198.19.255.9"",""port"":4789,""learning"":false,""ageing"":300},
 ""info_slave_kind"":""bridge"",""info_slave_data"":{""state"":""disabled"",""learning"":false,""flood"":true,""id"":""0x8001""}}},
 {""ifindex"":4,""ifname"":""vntesttap"",""flags"":[""UP""],""mtu"":1450,""master"":""vntestbr"",""operstate"":""UP"",
 ""linkinfo"":{""info_kind"":""tun"",""info_data"":{""type"":""tap""},""info_slave_kind"":""bridge"",""info_slave_data"":{""learning"":true,""id"":""0x8002""}}},
 {""ifindex"":5,""ifname"":""vntestvx2"",""flags"":[],""mtu"":1500,""operstate"":""DOWN"",""linkinfo"":{""info_kind"":""vxlan"",""info_data"":{""id"":7,""local"":""10.0.0.1"",""learning"":true}}}]";
            var links = LinkInfo.ParseList(json);
            Assert.Equal(10042, links[0].VxlanId);
            Assert.Equal("198.19.255.9", links[0].VxlanLocal);
            Assert.False(links[0].BridgePortLearning);
            Assert.Null(links[1].VxlanId);
            Assert.True(links[1].BridgePortLearning);
            Assert.Equal(7, links[2].VxlanId);
            Assert.Null(links[2].BridgePortLearning); // not a bridge port: the device's own learning flag is not the port's
        }

        [Fact]
        public void Qdisc_json_is_parsed()
        {
            const string json = @"[{""kind"":""tbf"",""handle"":""766e:"",""root"":true,""refcnt"":2,""options"":{""rate"":1250000,""burst"":15360,""lat"":50000}},
                                   {""kind"":""bfifo"",""handle"":""0:"",""parent"":""766e:1"",""options"":{""limit"":1000}}]";
            var roots = QdiscInfo.ParseRoots("vnt0", json);
            var q = Assert.Single(roots);
            Assert.True(q.IsOurs);
            Assert.False(q.IsDefault);
            Assert.Equal(10_000_000, q.RateBitsPerSecond);
            Assert.Equal(15360, q.BurstBytes);
            Assert.Equal(50000, q.LatencyMicroseconds);

            var def = Assert.Single(QdiscInfo.ParseRoots("x", @"[{""kind"":""pfifo_fast"",""handle"":""0:"",""root"":true,""options"":{""bands"":3}}]"));
            Assert.True(def.IsDefault);
            Assert.False(def.IsOurs);
            Assert.Null(def.RateBitsPerSecond);
            var foreign = Assert.Single(QdiscInfo.ParseRoots("x", @"[{""kind"":""tbf"",""handle"":""1:"",""root"":true,""options"":{""rate"":1}}]"));
            Assert.False(foreign.IsOurs);

            // 64-bit rates (> 34 Gbit/s) come through as plain numbers too.
            var big = Assert.Single(QdiscInfo.ParseRoots("x", @"[{""kind"":""tbf"",""handle"":""766e:"",""root"":true,""options"":{""rate"":5000000000,""burst"":52425000,""lat"":2097}}]"));
            Assert.Equal(40_000_000_000, big.RateBitsPerSecond);

            var stats = QdiscStatistics.ParseRoot("x", @"[{""kind"":""tbf"",""handle"":""766e:"",""root"":true,""options"":{},""bytes"":754480,""packets"":508,""drops"":254,""overlimits"":1263,""requeues"":0,""backlog"":3028,""qlen"":2}]");
            Assert.NotNull(stats);
            Assert.Equal(754480, stats!.Bytes);
            Assert.Equal(508, stats.Packets);
            Assert.Equal(254, stats.Drops);
            Assert.Equal(3028, stats.BacklogBytes);
            Assert.Equal(2, stats.QueueLength);
        }

        [Theory]
        // rate bit/s, mtu -> burst, limit
        [InlineData(1_000_000, 1500, 3036, 3036 + 15180)]     // 2 frames floor; 10-frame queue floor
        [InlineData(10_000_000, 1500, 6250, 6250 + 62500)]    // 5 ms, 50 ms
        [InlineData(20_000_000, 1500, 12500, 12500 + 125000)]
        [InlineData(1_000_000_000, 1500, 625000, 625000 + 6250000)]
        [InlineData(5_000_000, 9000, 18036, 18036 + 90180)]   // jumbo frames raise both floors
        public void Tbf_parameters_follow_the_documented_formula(long rate, int mtu, long burst, long limit)
        {
            var p = TrafficShaper.ComputeParameters(rate, mtu);
            Assert.Equal(rate, p.RateBitsPerSecond);
            Assert.Equal(burst, p.BurstBytes);
            Assert.Equal(limit, p.LimitBytes);
        }

        [Fact]
        public void Tbf_parameters_reject_out_of_range_rates()
        {
            var ex = Assert.ThrowsAny<VirtualNetworksException>(() => TrafficShaper.ComputeParameters(7_999, 1500));
            Assert.Equal(ErrorIds.BandwidthOutOfRange, ex.ErrorId);
            Assert.ThrowsAny<VirtualNetworksException>(() => TrafficShaper.ComputeParameters(100_000_000_001, 1500));
            Assert.Equal(8_000, TrafficShaper.ComputeParameters(8_007, 1500).RateBitsPerSecond); // whole bytes per second
        }
    }
}
