using System;
using System.Collections.Generic;
using System.Linq;
using Xunit;

namespace VirtualNetworks.HyperV.Tests.Backend
{
    /// <summary>
    /// Guest contract 2's <c>routing</c> line in the KVP configuration text (docs/hyperv-backend.md §4): rendered after
    /// the route lines, validated against the contract's bounds, read back by the inventory (so an applied configuration
    /// does not look drifted), and delivered to the guest through KVP pool 0.
    /// </summary>
    public class KvpRoutingTests
    {
        private static readonly System.Threading.CancellationToken None = SimRig.None;
        private const string Key = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

        private static RouterConfiguration Config(RoutingConfiguration? routing) => new RouterConfiguration
        {
            RouterName = "r1",
            AddressFamily = NetworkAddressFamily.IPv4,
            Interfaces = { new InterfaceConfiguration { LinkName = "a", Address = "10.0.0.0/31", PeerRouter = "r2", PeerAddress = "10.0.0.1" } },
            Routing = routing,
        };

        private static RoutingConfiguration Ospf() => new RoutingConfiguration
        {
            Protocol = RoutingProtocol.Ospf, RouterId = "10.255.0.1", HelloIntervalSeconds = 1, DeadIntervalSeconds = 4,
            Bfd = true, BfdIntervalMilliseconds = 100, BfdMultiplier = 5, AuthenticationKey = Key,
        };

        private static readonly Dictionary<string, string> Macs = new Dictionary<string, string> { ["a"] = "00155D000002" };

        [Fact]
        public void Render_AddsOneRoutingLine_InTheContractsForm_AndParseReadsItBack()
        {
            var cfg = Config(Ospf());
            var text = KvpConfig.Render(cfg, Macs);
            var lines = text.Split('\n').Where(l => l.StartsWith("routing ", StringComparison.Ordinal)).ToList();
            Assert.Equal($"routing ospf router-id 10.255.0.1 hello 1 dead 4 bfd 100 5 key {Key}", Assert.Single(lines));
            var back = KvpConfig.Parse(text)!;
            Assert.Equal(cfg.ToCanonicalString(), back.ToCanonicalString());
            Assert.Equal("10.255.0.1", back.Routing!.RouterId);
            Assert.True(back.Routing.Bfd);
        }

        [Fact]
        public void WithoutBfdOrKey_TheLineHasNeither_AndStaticRoutingHasNoLine()
        {
            var r = Ospf();
            r.Bfd = false;
            r.AuthenticationKey = "";
            var text = KvpConfig.Render(Config(r), Macs);
            Assert.Contains("\nrouting ospf router-id 10.255.0.1 hello 1 dead 4\n", text);
            Assert.Equal(Config(r).ToCanonicalString(), KvpConfig.Parse(text)!.ToCanonicalString());

            Assert.DoesNotContain("routing", KvpConfig.Render(Config(null), Macs));
            Assert.DoesNotContain("routing", KvpConfig.Render(Config(new RoutingConfiguration { Protocol = RoutingProtocol.Static }), Macs));
            Assert.Null(KvpConfig.Parse(KvpConfig.Render(Config(null), Macs))!.Routing);
        }

        public static IEnumerable<object[]> Invalid() => new[]
        {
            new object[] { (Action<RoutingConfiguration>)(r => r.RouterId = "10.0.0"), "router id" },
            new object[] { (Action<RoutingConfiguration>)(r => r.RouterId = "10.0.0.256"), "router id" },
            new object[] { (Action<RoutingConfiguration>)(r => r.RouterId = "10.0.0.1 bfd"), "router id" },
            new object[] { (Action<RoutingConfiguration>)(r => r.HelloIntervalSeconds = 0), "hello interval" },
            new object[] { (Action<RoutingConfiguration>)(r => r.DeadIntervalSeconds = 1), "dead interval" },
            new object[] { (Action<RoutingConfiguration>)(r => r.DeadIntervalSeconds = 65536), "dead interval" },
            new object[] { (Action<RoutingConfiguration>)(r => r.BfdIntervalMilliseconds = 9), "BFD interval" },
            new object[] { (Action<RoutingConfiguration>)(r => r.BfdMultiplier = 256), "BFD multiplier" },
            new object[] { (Action<RoutingConfiguration>)(r => r.AuthenticationKey = "abc"), "authentication key" },
            new object[] { (Action<RoutingConfiguration>)(r => r.AuthenticationKey = new string('g', 64)), "authentication key" },
        };

        [Theory]
        [MemberData(nameof(Invalid))]
        public void OutOfContractValues_AreRefused_BeforeAnythingReachesTheGuest(Action<RoutingConfiguration> spoil, string what)
        {
            var r = Ospf();
            spoil(r);
            var ex = Assert.Throws<VirtualNetworksException>(() => KvpConfig.Render(Config(r), Macs));
            Assert.Equal(ErrorKind.InvalidArgument, ex.Kind);
            Assert.Equal("r1", ex.TargetName);
            Assert.Contains(what, ex.Message);
        }

        [Fact]
        public void ConfigureRouter_DeliversTheRoutingLineThroughKvp_AndTheInventoryReadsItBack()
        {
            using var rig = new SimRig();
            rig.Backend.CreateRouter(SimRig.Router("r1"), None);
            rig.Backend.CreateRouter(SimRig.Router("r2"), None);
            rig.Backend.CreateLink(SimRig.Link("a", "r1", "r2"), None);
            rig.Backend.StartRouter("r1", None);
            var cfg = Config(Ospf());

            rig.Backend.ConfigureRouter(cfg, None);

            var text = KvpConfig.Assemble(rig.Sim.Guest("r1").HostItems.ToDictionary(k => k.Key, k => k.Value));
            Assert.NotNull(text);
            Assert.Contains("\nrouting ospf router-id 10.255.0.1 hello 1 dead 4 bfd 100 5 key " + Key + "\n", text);
            Assert.Equal(cfg.ToCanonicalString(), rig.Inventory().Configurations["r1"].ToCanonicalString());

            // Back to static routing: the line goes away (the guest then stops BIRD).
            rig.Backend.ConfigureRouter(Config(null), None);
            text = KvpConfig.Assemble(rig.Sim.Guest("r1").HostItems.ToDictionary(k => k.Key, k => k.Value));
            Assert.DoesNotContain("routing", text);
            Assert.Null(rig.Inventory().Configurations["r1"].Routing);
        }
    }
}
