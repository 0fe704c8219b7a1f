using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Net.Sockets;
using System.Threading;
using VirtualNetworks.Linux.Net;
using VirtualNetworks.Routing;
using VirtualNetworks.Linux.State;
using VirtualNetworks.Linux.Vm;
using Xunit;

namespace VirtualNetworks.Linux.Tests
{
    /// <summary>Issue 14 on the Linux side without VMs: the routing line, the guest contract, the strict parsers of the guest's answers.</summary>
    public sealed class GuestRoutingUnitTests
    {
        private static readonly Dictionary<string, string> Macs = new Dictionary<string, string>
        {
            ["l1"] = "52:54:00:00:00:01",
            ["l2"] = "52:54:00:00:00:02",
        };

        private static readonly string Key = new string('a', 32) + new string('F', 32);

        private static RouterConfiguration Ospf(Action<RoutingConfiguration>? change = null)
        {
            var routing = new RoutingConfiguration { Protocol = RoutingProtocol.Ospf, RouterId = "10.255.0.1", HelloIntervalSeconds = 1, DeadIntervalSeconds = 4 };
            change?.Invoke(routing);
            return new RouterConfiguration
            {
                RouterName = "r1",
                Interfaces = { new InterfaceConfiguration { LinkName = "l1", Address = "10.0.0.0/31" } },
                Routing = routing,
            };
        }

        [Fact]
        public void Renders_the_routing_line_last_with_bfd_and_key()
        {
            var text = GuestConfigText.Render("r1", Ospf(r => { r.Bfd = true; r.BfdIntervalMilliseconds = 100; r.BfdMultiplier = 5; r.AuthenticationKey = Key; }), Macs);
            Assert.Equal(
                "# VirtualNetworks router configuration\n" +
                "name r1\n" +
                "# link l1\n" +
                "if 52:54:00:00:00:01 10.0.0.0/31\n" +
                "routing ospf router-id 10.255.0.1 hello 1 dead 4 bfd 100 5 key " + Key.ToLowerInvariant() + "\n", text);
            Assert.Equal(GuestConfigText.RoutingContract, GuestConfigText.RequiredContract(text));
            // The same words as the canonical form the engine compares.
            Assert.Contains(Ospf(r => { r.Bfd = true; r.AuthenticationKey = Key; }).Routing!.ToCanonicalString(), text);
        }

        [Fact]
        public void Renders_no_bfd_and_no_key_when_not_asked_and_no_line_for_static()
        {
            var text = GuestConfigText.Render("r1", Ospf(r => { r.BfdIntervalMilliseconds = 1; /* ignored without bfd */ }), Macs);
            Assert.EndsWith("routing ospf router-id 10.255.0.1 hello 1 dead 4\n", text);
            var none = GuestConfigText.Render("r1", Ospf(r => r.Protocol = RoutingProtocol.Static), Macs);
            Assert.DoesNotContain("routing", none);
            Assert.Equal(1, GuestConfigText.RequiredContract(none));
            var plain = Ospf();
            plain.Routing = null;
            Assert.Equal(1, GuestConfigText.RequiredContract(GuestConfigText.Render("r1", plain, Macs)));
            Assert.Equal(1, GuestConfigText.RequiredContract(null));
            Assert.Equal(1, GuestConfigText.RequiredContract("# routing ospf is a comment here\nname r1\n"));
        }

        public static IEnumerable<object[]> BadRouting() => new[]
        {
            new object[] { "router id 1.2.3", (Action<RoutingConfiguration>)(r => r.RouterId = "1.2.3") },
            new object[] { "router id 256.0.0.1", (Action<RoutingConfiguration>)(r => r.RouterId = "256.0.0.1") },
            new object[] { "router id leading zero", (Action<RoutingConfiguration>)(r => r.RouterId = "01.2.3.4") },
            new object[] { "router id 0.0.0.0", (Action<RoutingConfiguration>)(r => r.RouterId = "0.0.0.0") },
            new object[] { "router id injection", (Action<RoutingConfiguration>)(r => r.RouterId = "1.2.3.4\nroute default via 1.1.1.1") },
            new object[] { "router id IPv6", (Action<RoutingConfiguration>)(r => r.RouterId = "::1") },
            new object[] { "router id empty", (Action<RoutingConfiguration>)(r => r.RouterId = "") },
            new object[] { "hello 0", (Action<RoutingConfiguration>)(r => r.HelloIntervalSeconds = 0) },
            new object[] { "hello 65536", (Action<RoutingConfiguration>)(r => r.HelloIntervalSeconds = 65536) },
            new object[] { "dead 1", (Action<RoutingConfiguration>)(r => r.DeadIntervalSeconds = 1) },
            new object[] { "bfd 9 ms", (Action<RoutingConfiguration>)(r => { r.Bfd = true; r.BfdIntervalMilliseconds = 9; }) },
            new object[] { "bfd 10001 ms", (Action<RoutingConfiguration>)(r => { r.Bfd = true; r.BfdIntervalMilliseconds = 10001; }) },
            new object[] { "multiplier 1", (Action<RoutingConfiguration>)(r => { r.Bfd = true; r.BfdMultiplier = 1; }) },
            new object[] { "multiplier 256", (Action<RoutingConfiguration>)(r => { r.Bfd = true; r.BfdMultiplier = 256; }) },
            new object[] { "key 63 hex", (Action<RoutingConfiguration>)(r => r.AuthenticationKey = new string('a', 63)) },
            new object[] { "key non-hex", (Action<RoutingConfiguration>)(r => r.AuthenticationKey = new string('a', 63) + "g") },
            new object[] { "key with blank", (Action<RoutingConfiguration>)(r => r.AuthenticationKey = new string('a', 31) + " " + new string('a', 32)) },
        };

        [Theory]
        [MemberData(nameof(BadRouting))]
        public void Rejects_every_out_of_range_or_malformed_routing_value(string what, Action<RoutingConfiguration> change)
        {
            var ex = Assert.Throws<VirtualNetworksException>(() => GuestConfigText.Render("r1", Ospf(change), Macs));
            Assert.Equal(ErrorIds.BackendOperationFailed, ex.ErrorId);
            Assert.Equal(ErrorKind.InvalidArgument, ex.Kind);
            Assert.Equal("r1", ex.TargetName);
            Assert.False(string.IsNullOrEmpty(what));
        }

        [Fact]
        public void Accepts_the_bounds()
        {
            var text = GuestConfigText.Render("r1", Ospf(r =>
            {
                r.RouterId = "255.255.255.255"; r.HelloIntervalSeconds = 65535; r.DeadIntervalSeconds = 2;
                r.Bfd = true; r.BfdIntervalMilliseconds = 10; r.BfdMultiplier = 255;
            }), Macs);
            Assert.EndsWith("routing ospf router-id 255.255.255.255 hello 65535 dead 2 bfd 10 255\n", text);
            Assert.EndsWith("bfd 10000 2\n", GuestConfigText.Render("r1", Ospf(r => { r.Bfd = true; r.BfdIntervalMilliseconds = 10000; r.BfdMultiplier = 2; }), Macs));
        }

        [Fact]
        public void Ready_answer_gives_the_contract_and_one_without_it_is_contract_1()
        {
            var v2 = GuestChannel.ParseReady(new[] { "name r1", "config ok", "uptime_ms 1234", "contract 2" });
            Assert.Equal(2, v2.Contract);
            Assert.Equal("ok", v2.ConfigState);
            Assert.Equal(1234, v2.UptimeMilliseconds);
            Assert.Equal(1, GuestChannel.ParseReady(new[] { "name r1", "config ok", "uptime_ms 1" }).Contract);
            Assert.Equal(1, GuestChannel.ParseReady(new[] { "contract x" }).Contract);
            Assert.Equal(1, GuestChannel.ParseReady(new[] { "contract 0" }).Contract);
            Assert.Equal(3, GuestChannel.ParseReady(new[] { "contract 3" }).Contract);
        }

        private static Dictionary<string, string> ByMac => GuestRouting.LinksByMac(Macs);

        [Fact]
        public void Parses_routes_of_both_families_mapping_adapters_to_links()
        {
            var lines = new[]
            {
                "route 10.0.0.0/31 - 52:54:00:00:00:01 connected -",
                "route 0.0.0.0/0 10.0.0.1 52:54:00:00:00:01 ospf 20",
                "route 10.9.0.0/16 10.0.0.3 52:54:00:00:00:02 static 0",
                "route 10.8.0.0/16 10.0.0.5 52:54:00:00:00:09 boot -",
                "",
                "route ::/0 fd00::1 52:54:00:00:00:01 ospf 20",
                "route fd00::/127 - 52:54:00:00:00:02 connected 256",
                "route 192.168.0.0/24 - - kernel -",
            };
            var routes = GuestRouting.ParseRoutes("r1", lines, ByMac);
            Assert.Equal(7, routes.Count);
            Assert.All(routes, r => Assert.Equal("r1", r.RouterName));
            var c = routes[0];
            Assert.Equal(("10.0.0.0/31", (string?)null, "l1", "connected", (int?)null, NetworkAddressFamily.IPv4), (c.Prefix, c.NextHop, c.LinkName, c.Protocol, c.Metric, c.AddressFamily));
            var d = routes[1];
            Assert.Equal(("0.0.0.0/0", "10.0.0.1", "l1", "ospf", (int?)20), (d.Prefix, d.NextHop, d.LinkName, d.Protocol, d.Metric));
            Assert.Equal("l2", routes[2].LinkName);
            Assert.Null(routes[3].LinkName); // a MAC the record does not know
            Assert.Equal(NetworkAddressFamily.IPv6, routes[4].AddressFamily);
            Assert.Equal("fd00::1", routes[4].NextHop);
            Assert.Equal(256, routes[5].Metric);
            Assert.Null(routes[6].LinkName);
            Assert.Empty(GuestRouting.ParseRoutes("r1", Array.Empty<string>(), ByMac));
        }

        [Theory]
        [InlineData("route 10.0.0.0/31 - 52:54:00:00:00:01 connected")]                   // a word short
        [InlineData("route 10.0.0.0/31 - 52:54:00:00:00:01 connected - extra")]           // a word too many
        [InlineData("rout 10.0.0.0/31 - 52:54:00:00:00:01 connected -")]                  // not a route line
        [InlineData("route 10.0.0.0 - 52:54:00:00:00:01 connected -")]                    // no prefix length
        [InlineData("route 10.0.0.0/33 - 52:54:00:00:00:01 connected -")]                 // prefix out of range
        [InlineData("route default 10.0.0.1 52:54:00:00:00:01 ospf 20")]                  // default not as 0.0.0.0/0
        [InlineData("route 0.0.0.0/0 fd00::1 52:54:00:00:00:01 ospf 20")]                 // next hop of the other family
        [InlineData("route 0.0.0.0/0 10.0.0.1/31 52:54:00:00:00:01 ospf 20")]             // next hop with a length
        [InlineData("route 0.0.0.0/0 10.0.0.1 52:54:00:00:01 ospf 20")]                   // short MAC
        [InlineData("route 0.0.0.0/0 10.0.0.1 eth0 ospf 20")]                              // an interface name, not a MAC
        [InlineData("route 0.0.0.0/0 10.0.0.1 52:54:00:00:00:01 os;pf 20")]               // not a protocol word
        [InlineData("route 0.0.0.0/0 10.0.0.1 52:54:00:00:00:01 ospf -1")]                // negative metric
        [InlineData("route 0.0.0.0/0 10.0.0.1 52:54:00:00:00:01 ospf 99999999999")]       // metric overflow
        [InlineData("route fe80::1%eth0/64 - - connected -")]                               // zone
        [InlineData("error: ip failed")]
        public void Rejects_a_malformed_route_line(string line)
        {
            var ex = Assert.Throws<VirtualNetworksException>(() =>
                GuestRouting.ParseRoutes("r1", new[] { "route 10.0.0.0/31 - 52:54:00:00:00:01 connected -", line }, ByMac));
            Assert.Equal(ErrorKind.InvalidResult, ex.Kind);
            Assert.Equal("r1", ex.TargetName);
            Assert.Contains("line 2", ex.Message);
        }

        [Fact]
        public void Parses_routing_status_of_ospf_with_neighbours_bfd_and_counters()
        {
            var lines = new[]
            {
                "routing ospf",
                "protocol ospf4 ospf2 up",
                "protocol ospf6 ospf3 up",
                "protocol bfd1 bfd up",
                "neighbor 52:54:00:00:00:01 10.255.0.2 full",
                "neighbor 52:54:00:00:00:02 10.255.0.3 2way",
                "neighbor 52:54:00:00:00:07 10.255.0.4 init",
                "bfd 52:54:00:00:00:01 10.0.0.1 up",
                "bfd - fd00::1 down",
                "changes neighbor 7 bfd-down 2",
            };
            var s = GuestRouting.ParseRoutingStatus("r1", lines, ByMac);
            Assert.Equal(RoutingProtocol.Ospf, s.Protocol);
            Assert.Equal("r1", s.RouterName);
            Assert.Equal(new[] { "ospf4 up", "ospf6 up", "bfd1 up" }, s.Protocols);
            Assert.Equal(3, s.Neighbors.Count);
            Assert.Equal(("l1", "10.255.0.2", "full"), (s.Neighbors[0].LinkName, s.Neighbors[0].RouterId, s.Neighbors[0].State));
            Assert.Equal("l2", s.Neighbors[1].LinkName);
            Assert.Null(s.Neighbors[2].LinkName);
            Assert.Equal(("l1", "10.0.0.1", "up"), (s.BfdSessions[0].LinkName, s.BfdSessions[0].PeerAddress, s.BfdSessions[0].State));
            Assert.Null(s.BfdSessions[1].LinkName);
            Assert.Equal("down", s.BfdSessions[1].State);
            Assert.Equal(7, s.NeighborStateChanges);
            Assert.Equal(2, s.BfdSessionDowns);
        }

        [Fact]
        public void Parses_static_routing_status()
        {
            var s = GuestRouting.ParseRoutingStatus("r1", new[] { "routing static" }, ByMac);
            Assert.Equal(RoutingProtocol.Static, s.Protocol);
            Assert.Empty(s.Neighbors);
            Assert.Empty(s.Protocols);
            Assert.Equal(0, s.NeighborStateChanges);
        }

        [Theory]
        [InlineData("")]
        [InlineData("|")]
        [InlineData("routing rip")]
        [InlineData("protocol ospf4 ospf2 up")]                                          // no routing line first
        [InlineData("routing static|neighbor 52:54:00:00:00:01 10.255.0.2 full")]   // static with neighbours
        [InlineData("routing ospf|protocol ospf4 rip up")]
        [InlineData("routing ospf|protocol ospf4 ospf2")]
        [InlineData("routing ospf|neighbor 52:54:00:00:00:01 10.255.0.2 happy")]
        [InlineData("routing ospf|neighbor 52:54:00:00:00:01 10.255.0.256 full")]
        [InlineData("routing ospf|neighbor eth0 10.255.0.2 full")]
        [InlineData("routing ospf|bfd 52:54:00:00:00:01 10.0.0.1/31 up")]
        [InlineData("routing ospf|bfd 52:54:00:00:00:01 10.0.0.1 sleeping")]
        [InlineData("routing ospf|changes neighbor x bfd-down 1")]
        [InlineData("routing ospf|changes neighbor 1 bfd-down")]
        [InlineData("routing ospf|changes neighbor 1 bfd-down 1|changes neighbor 2 bfd-down 2")]
        [InlineData("routing ospf|bird: cannot connect")]
        public void Rejects_a_malformed_routing_answer(string joined)
        {
            var lines = joined.Length == 0 ? Array.Empty<string>() : joined.Split('|');
            var ex = Assert.Throws<VirtualNetworksException>(() => GuestRouting.ParseRoutingStatus("r1", lines, ByMac));
            Assert.Equal(ErrorKind.InvalidResult, ex.Kind);
            Assert.Equal("r1", ex.TargetName);
        }
    }

    public sealed class LinkStateRecordTests
    {
        [Fact]
        public void Link_record_keeps_its_state_and_older_records_read_as_up()
        {
            var rec = new LinkRecord { Name = "l1", From = "a", To = "b", Bridge = "vnb1" };
            Assert.DoesNotContain("\"state\"", Newtonsoft.Json.JsonConvert.SerializeObject(rec)); // Up is not written: older versions read the same file
            rec.State = LinkState.CablePulled;
            var json = Newtonsoft.Json.JsonConvert.SerializeObject(rec);
            Assert.Contains("\"state\":\"CablePulled\"", json);
            Assert.Equal(LinkState.CablePulled, Newtonsoft.Json.JsonConvert.DeserializeObject<LinkRecord>(json)!.State);
            Assert.Equal(LinkState.Silent, Newtonsoft.Json.JsonConvert.DeserializeObject<LinkRecord>(json.Replace("CablePulled", "Silent"))!.State);
            var older = json.Replace(",\"state\":\"CablePulled\"", "");
            Assert.DoesNotContain("state", older);
            Assert.Equal(LinkState.Up, Newtonsoft.Json.JsonConvert.DeserializeObject<LinkRecord>(older)!.State);
        }
    }

    /// <summary>The silent-failure drop filter: what <c>tc -j</c> prints, parsed; and the filter on a real veth for real.</summary>
    [Collection(NetHostCollection.Name)]
    public sealed class SilentDropTests
    {
        // Recorded from iproute2 6.1 (tc -j filter show dev X ingress) after SilentDrop.Apply.
        private const string Applied =
            "[{\"protocol\":\"all\",\"pref\":30318,\"kind\":\"bpf\",\"chain\":0},{\"protocol\":\"all\",\"pref\":30318,\"kind\":\"bpf\",\"chain\":0," +
            "\"options\":{\"handle\":\"0x1\",\"direct-action\":true,\"not_in_hw\":true,\"bytecode\":{\"length\":1,\"insns\":[{\"code\":6,\"jt\":0,\"jf\":0,\"k\":2}]}}}]";

        [Fact]
        public void Recognises_only_its_own_filter()
        {
            Assert.True(SilentDrop.ParseApplied(Applied));
            Assert.False(SilentDrop.ParseApplied(""));
            Assert.False(SilentDrop.ParseApplied("[]"));
            Assert.False(SilentDrop.ParseApplied(Applied.Replace("\"k\":2", "\"k\":0")));            // ret 0: passes
            Assert.False(SilentDrop.ParseApplied(Applied.Replace("30318", "49152")));                // another preference
            Assert.False(SilentDrop.ParseApplied(Applied.Replace("\"direct-action\":true", "\"direct-action\":false")));
            Assert.Throws<VirtualNetworksException>(() => SilentDrop.ParseApplied("not json"));
            var qdiscs = "[{\"kind\":\"noqueue\",\"handle\":\"0:\",\"dev\":\"lo\",\"root\":true,\"refcnt\":2,\"options\":{}}," +
                         "{\"kind\":\"clsact\",\"handle\":\"ffff:\",\"dev\":\"vnt1\",\"parent\":\"ffff:fff1\",\"options\":{}}]";
            Assert.Equal(new[] { "vnt1" }, SilentDrop.ParseClsactDevices(qdiscs));
            // Recorded: tc -j qdisc show dev X names no device.
            Assert.Equal(new[] { "vnt2" }, SilentDrop.ParseClsactDevices("[{\"kind\":\"clsact\",\"handle\":\"ffff:\",\"parent\":\"ffff:fff1\",\"options\":{}}]", "vnt2"));
        }

        [RootFact]
        public void Drops_every_frame_a_device_receives_and_comes_off_without_a_trace()
        {
            NetTestHost.RequireRoot();
            var caps = LinuxCapabilities.Probe();
            Assert.True(caps.IngressDrop, "this kernel cannot drop on ingress: " + caps.Describe());
            using var pair = new NetnsPairFixture();
            pair.EnsureCreated();
            var ipB = new IpCommand(pair.NamespaceB, TimeSpan.FromSeconds(10));
            var drop = new SilentDrop(ipB);
            Assert.False(drop.IsApplied(pair.DeviceB, CancellationToken.None));
            drop.Apply(pair.DeviceB, CancellationToken.None);
            drop.Apply(pair.DeviceB, CancellationToken.None); // idempotent
            Assert.True(drop.IsApplied(pair.DeviceB, CancellationToken.None));
            // A resolves B's address: B never sees the ARP request, A's neighbour entry does not become usable.
            Assert.False(Resolves(pair, TimeSpan.FromSeconds(2)), "B answered although its ingress drops everything");
            Assert.True(Dropped(pair) > 0);

            drop.Remove(pair.DeviceB, CancellationToken.None);
            Assert.False(drop.IsApplied(pair.DeviceB, CancellationToken.None));
            Assert.False(drop.HasClsact(pair.DeviceB, CancellationToken.None)); // the qdisc went too
            drop.Remove(pair.DeviceB, CancellationToken.None); // idempotent
            Assert.True(Resolves(pair, TimeSpan.FromSeconds(5)), "B does not answer once the filter is off");
        }

        /// <summary>Sends UDP from A to B until A's neighbour entry for B is resolved, or the time is up.</summary>
        private static bool Resolves(NetnsPairFixture pair, TimeSpan within)
        {
            NetTestHost.RunQuietly("ip", "-netns", pair.NamespaceA, "neigh", "flush", "dev", pair.DeviceA);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (clock.Elapsed < within)
            {
                Netns.RunIn(pair.NamespaceA, () =>
                {
                    using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                    try { s.SendTo(new byte[8], new System.Net.IPEndPoint(System.Net.IPAddress.Parse(pair.AddressB), 9)); }
                    catch (SocketException) { /* host unreachable after a failed resolution */ }
                    return 0;
                });
                Thread.Sleep(200);
                var neigh = NetTestHost.Run("ip", "-netns", pair.NamespaceA, "neigh", "show", pair.AddressB, "dev", pair.DeviceA).StdOut;
                if (neigh.Contains("REACHABLE") || neigh.Contains("STALE") || neigh.Contains("DELAY")) return true;
            }
            return false;
        }

        private static long Dropped(NetnsPairFixture pair)
        {
            var json = NetTestHost.Run("tc", "-netns", pair.NamespaceB, "-s", "-j", "qdisc", "show", "dev", pair.DeviceB).StdOut;
            return Newtonsoft.Json.Linq.JArray.Parse(json).Where(q => (string?)q["kind"] == "clsact").Select(q => (long?)q["drops"] ?? 0).Sum();
        }
    }
}
