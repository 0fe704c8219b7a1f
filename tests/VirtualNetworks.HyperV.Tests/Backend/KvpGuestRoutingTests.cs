using System;
using System.Collections.Generic;
using System.Linq;
using VirtualNetworks.Backends;
using Xunit;
using Net = VirtualNetworks.HyperV.Tests.Backend.KvpBatchProbeTests.Net;

namespace VirtualNetworks.HyperV.Tests.Backend
{
    /// <summary>
    /// Get-VirtualRoute / Get-VirtualRoutingStatus on Hyper-V (<see cref="IRoutingReader"/>; issue 14): the guest's
    /// <c>routes</c> and <c>routing</c> commands over the KVP command exchange, answered by the simulated router agent from
    /// the pushed configuration and the wiring; long answers arrive in parts; failures name the router.
    /// </summary>
    public class KvpGuestRoutingTests
    {
        private static readonly System.Threading.CancellationToken None = SimRig.None;

        [Fact]
        public void StaticRouting_ConnectedRoutesWithLinkNames_BothFamilies_AndRoutingStatic()
        {
            using var net = new Net();
            IRoutingReader reader = net.Rig.Backend;
            var routes = reader.GetRoutes("a2", None);
            var expected = new[]
            {
                ("10.0.12.0/31", "a12", 0, NetworkAddressFamily.IPv4), ("10.0.23.0/31", "a23", 0, NetworkAddressFamily.IPv4),
                ("fd00:12::/127", "a12", 256, NetworkAddressFamily.IPv6), ("fd00:23::/127", "a23", 256, NetworkAddressFamily.IPv6),
            };
            Assert.Equal(expected.Length, routes.Count);
            foreach (var (prefix, link, metric, family) in expected)
            {
                var r = Assert.Single(routes, x => x.Prefix == prefix);
                Assert.Equal(("connected", link, (int?)metric, family, (string?)null, "a2"), (r.Protocol, r.LinkName, r.Metric, r.AddressFamily, r.NextHop, r.RouterName));
            }
            var status = reader.GetRoutingStatus("a2", None);
            Assert.Equal(RoutingProtocol.Static, status.Protocol);
            Assert.Empty(status.Neighbors);
            // The request and the answer are gone afterwards.
            Assert.DoesNotContain(net.Rig.Sim.Guest("a2").HostItems.Keys, k => k.StartsWith(KvpConfig.ProbePrefix, StringComparison.Ordinal));
            Assert.DoesNotContain(net.Rig.Sim.Guest("a2").GuestItems.Keys, k => k.StartsWith(KvpConfig.ProbePrefix, StringComparison.Ordinal));
        }

        [Fact]
        public void Ospf_RoutesThroughTheNeighbour_AndNeighboursAndBfdSessionsPerLink()
        {
            using var net = new Net(ospf: true);
            IRoutingReader reader = net.Rig.Backend;
            net.Rig.Sim.Counters.Reset();
            var routes = reader.GetRoutes("a1", None);
            Assert.Equal(1, net.Rig.Sim.Counters.Method("AddKvpItems")); // one exchange
            var v4 = Assert.Single(routes, r => r.Prefix == "10.0.23.0/31");
            Assert.Equal(("ospf", "10.0.12.1", "a12", (int?)20), (v4.Protocol, v4.NextHop, v4.LinkName, v4.Metric));
            var v6 = Assert.Single(routes, r => r.Prefix == "fd00:23::/127");
            Assert.Equal("ospf", v6.Protocol);
            Assert.StartsWith("fe80::", v6.NextHop);
            Assert.Equal("a12", v6.LinkName);
            // Isolation: nothing of network B.
            Assert.DoesNotContain(routes, r => r.Prefix.StartsWith("fd00:b:", StringComparison.Ordinal));

            var status = reader.GetRoutingStatus("a2", None);
            Assert.Equal(RoutingProtocol.Ospf, status.Protocol);
            Assert.Contains("ospf4 up", status.Protocols);
            Assert.Contains("ospf6 up", status.Protocols);
            Assert.Equal(4, status.Neighbors.Count); // a1 and a3, once per family
            Assert.Equal(new[] { "a12", "a12", "a23", "a23" }, status.Neighbors.Select(n => n.LinkName).OrderBy(x => x));
            Assert.Equal(new[] { "10.255.0.1", "10.255.0.3" }, status.Neighbors.Select(n => n.RouterId).Distinct().OrderBy(x => x));
            Assert.All(status.Neighbors, n => Assert.Equal("full", n.State));
            Assert.Contains(status.BfdSessions, b => b.PeerAddress == "10.0.12.0" && b.LinkName == "a12" && b.State == "up");

            // A pulled cable: the neighbour behind it goes, and so does the route through it.
            net.Rig.Backend.SetLinkState("a12", LinkState.CablePulled, None);
            Assert.DoesNotContain(reader.GetRoutes("a1", None), r => r.Protocol == "ospf");
            Assert.Equal(2, reader.GetRoutingStatus("a2", None).Neighbors.Count);
        }

        [Fact]
        public void ALongRoutingTable_ArrivesInParts_AndIsReadWhole()
        {
            using var net = new Net(extraRoutes: 60);
            var routes = net.Rig.Backend.GetRoutes("a1", None);
            Assert.Equal(60, routes.Count(r => r.Protocol == "static"));
            Assert.All(routes.Where(r => r.Protocol == "static"), r => Assert.Equal(("10.0.12.1", "a12"), (r.NextHop, r.LinkName)));
            // The answer really was split: the agent wrote a header "code 0 parts n" with n > 1.
            var headers = new List<string>();
            var agent = net.Rig.Sim.GuestAgentReplies!;
            net.Rig.Sim.GuestAgentReplies = (ctx, key, data) => { var r = agent(ctx, key, data)!; headers.Add(r[0].Value); return r; };
            Assert.Equal(routes.Count, net.Rig.Backend.GetRoutes("a1", None).Count);
            Assert.Matches("^code 0 parts [2-9]$", Assert.Single(headers));
        }

        [Fact]
        public void ARouterThatDoesNotRun_IsRouterNotRunning_WithoutAskingItsGuest()
        {
            using var net = new Net();
            net.Rig.Backend.StopRouter("a3", turnOff: true, None);
            int calls = net.Rig.Sim.Counters.Method("AddKvpItems");
            var ex = Assert.Throws<VirtualNetworksException>(() => net.Rig.Backend.GetRoutes("a3", None));
            Assert.Equal(ErrorIds.RouterNotRunning, ex.ErrorId);
            Assert.Equal("a3", ex.TargetName);
            Assert.Equal(calls, net.Rig.Sim.Counters.Method("AddKvpItems"));
        }

        public static IEnumerable<object[]> Failures() => new[]
        {
            new object?[] { null, HyperVErrorIds.GuestNoAnswer, "no answer from the guest agent of 'a1'" },
            new object?[] { "code 2 error bad probe request", ErrorIds.GuestContractTooOld, "does not know it" },
            new object?[] { "code 127\nunknown command 'routes'\n", ErrorIds.GuestContractTooOld, "does not know it" },
            new object?[] { "code 0\nroute 10.0.0.0/33 - - connected 0\n", ErrorIds.BackendOperationFailed, "malformed at line 1" },
            new object?[] { "code 124\n", ErrorIds.BackendOperationFailed, "timed out in the guest" },
            new object?[] { "routes!", HyperVErrorIds.GuestAnswerInvalid, "not a KVP command answer" },
        };

        [Theory]
        [MemberData(nameof(Failures))]
        public void AGuestThatFails_GivesAClearErrorNamingTheRouter(string? answer, string id, string text)
        {
            using var net = new Net();
            net.Rig.Sim.GuestAgentReplies = (ctx, key, data) => answer == null ? null : new[] { new KeyValuePair<string, string>(key, answer) };
            var ex = Assert.Throws<VirtualNetworksException>(() => net.Rig.Backend.GetRoutes("a1", None));
            Assert.Equal(id, ex.ErrorId);
            Assert.Equal("a1", ex.TargetName);
            Assert.Contains("'a1'", ex.Message);
            Assert.Contains(text, ex.Message);
        }
    }
}
