using System;
using System.Collections.Generic;
using System.Linq;
using VirtualNetworks.Graph;
using Xunit;

namespace VirtualNetworks.Core.Tests
{
    public class GroupingTests
    {
        private static VirtualRouter R(string name, string? label = null, string host = "h1", NetworkAddressFamily af = NetworkAddressFamily.IPv4) =>
            new VirtualRouter { Name = name, NetworkLabel = label, ComputerName = host, AddressFamily = af };

        private static VirtualLink L(string name, string from, string to) => new VirtualLink { Name = name, From = from, To = to };

        // ---- Components -----------------------------------------------------------------------------------------

        [Fact]
        public void Components_NoEdges_EveryVertexAlone()
        {
            var c = NetworkGrouper.Components(4, new int[0], new int[0], out int k);
            Assert.Equal(4, k);
            Assert.Equal(new[] { 0, 1, 2, 3 }, c);
        }

        [Fact]
        public void Components_EmptyGraph()
        {
            var c = NetworkGrouper.Components(0, new int[0], new int[0], out int k);
            Assert.Equal(0, k);
            Assert.Empty(c);
        }

        [Fact]
        public void Components_LabelsInOrderOfFirstVertex()
        {
            // {0,3}, {1,4,5}, {2}; self loop and duplicate edge included.
            var from = new[] { 5, 3, 4, 4, 2 };
            var to = new[] { 1, 0, 5, 5, 2 };
            var c = NetworkGrouper.Components(6, from, to, out int k);
            Assert.Equal(3, k);
            Assert.Equal(new[] { 0, 1, 2, 0, 1, 1 }, c);
        }

        [Fact]
        public void Components_LongChainInAnyOrder()
        {
            const int n = 100_000;
            var from = new int[n - 1];
            var to = new int[n - 1];
            for (int i = 0; i < n - 1; i++) { from[i] = n - 1 - i; to[i] = n - 2 - i; }
            var c = NetworkGrouper.Components(n, from, to, out int k);
            Assert.Equal(1, k);
            Assert.All(c, x => Assert.Equal(0, x));
        }

        [Fact]
        public void Components_RejectsBadInput()
        {
            Assert.Throws<ArgumentException>(() => NetworkGrouper.Components(3, new[] { 0 }, new int[0], out _));
            Assert.Throws<ArgumentOutOfRangeException>(() => NetworkGrouper.Components(3, new[] { 0 }, new[] { 3 }, out _));
            Assert.Throws<ArgumentOutOfRangeException>(() => NetworkGrouper.Components(3, new[] { -1 }, new[] { 0 }, out _));
            Assert.Throws<ArgumentNullException>(() => NetworkGrouper.Components(3, null!, new int[0], out _));
        }

        // ---- Group ----------------------------------------------------------------------------------------------

        [Fact]
        public void Group_TwoLabelledNetworks()
        {
            var routers = new[] { R("r3", "blue"), R("r1", "blue"), R("r2", "blue", "h2"), R("s1", "red", af: NetworkAddressFamily.IPv6), R("s2", "red", af: NetworkAddressFamily.IPv6) };
            var links = new[] { L("l2", "r2", "r3"), L("l1", "r1", "r2"), L("m1", "s1", "s2") };
            var g = NetworkGrouper.Group(routers, links);

            Assert.Equal(new[] { "blue", "red" }, g.Networks.Select(n => n.Name));
            var blue = g.Networks[0];
            Assert.Equal(new[] { "r1", "r2", "r3" }, blue.Routers);
            Assert.Equal(new[] { "l1", "l2" }, blue.Links);
            Assert.Equal(new[] { "h1", "h2" }, blue.Hosts);
            Assert.Equal(new[] { "blue" }, blue.Labels);
            Assert.Equal(NetworkAddressFamily.IPv4, blue.AddressFamily);
            Assert.Equal(NetworkAddressFamily.IPv6, g.Networks[1].AddressFamily);

            Assert.All(routers.Take(3), r => Assert.Equal("blue", r.NetworkName));
            Assert.Equal("red", routers[3].NetworkName);
            Assert.Equal("blue", links[0].NetworkName);
            Assert.Equal("red", links[2].NetworkName);
            Assert.Equal("blue", g.NetworkOfRouter["R2"]);
            Assert.Equal("red", g.NetworkOfLink["M1"]);
        }

        [Fact]
        public void Group_UnlabelledNetworkIsNamedAfterSmallestRouter()
        {
            var routers = new[] { R("Zeta"), R("Alpha"), R("mid") };
            var links = new[] { L("a", "zeta", "MID"), L("b", "mid", "alpha") };
            var g = NetworkGrouper.Group(routers, links);
            var vn = Assert.Single(g.Networks);
            Assert.Equal("vn-alpha", vn.Name);
            Assert.Equal(new[] { "Alpha", "mid", "Zeta" }, vn.Routers);
            Assert.Empty(vn.Labels);
        }

        [Fact]
        public void Group_ForcedMergeJoinsLabels_CaseInsensitiveFirstSeenSpelling()
        {
            var routers = new[] { R("b", "red"), R("a", "Blue"), R("c", "BLUE"), R("d", ""), R("e", "green") };
            var links = new[] { L("x1", "a", "b"), L("x2", "b", "c"), L("x3", "c", "d"), L("x4", "d", "e") };
            var g = NetworkGrouper.Group(routers, links);
            var vn = Assert.Single(g.Networks);
            Assert.Equal(new[] { "Blue", "green", "red" }, vn.Labels);
            Assert.Equal("Blue+green+red", vn.Name);
        }

        [Fact]
        public void Group_SameNameGetsSuffixInOrderOfSmallestRouter()
        {
            var routers = new[] { R("c1", "blue"), R("a1", "blue"), R("b1", "blue"), R("b2", "blue") };
            var links = new[] { L("l", "b1", "b2") };
            var g = NetworkGrouper.Group(routers, links);
            Assert.Equal(new[] { "blue", "blue#2", "blue#3" }, g.Networks.Select(n => n.Name));
            Assert.Equal("blue", g.NetworkOfRouter["a1"]);
            Assert.Equal("blue#2", g.NetworkOfRouter["b2"]);
            Assert.Equal("blue#3", g.NetworkOfRouter["c1"]);
            Assert.Equal("blue#2", g.NetworkOfLink["l"]);
        }

        [Fact]
        public void Group_SuffixSkipsNamesThatAnotherNetworkCarries()
        {
            var routers = new[] { R("a", "x"), R("b", "x"), R("c", "x#2") };
            var g = NetworkGrouper.Group(routers, new VirtualLink[0]);
            Assert.Equal(new[] { "x", "x#2", "x#3" }, g.Networks.Select(n => n.Name));
            Assert.Equal("x", g.NetworkOfRouter["a"]);
            Assert.Equal("x#3", g.NetworkOfRouter["b"]);
            Assert.Equal("x#2", g.NetworkOfRouter["c"]);
        }

        [Fact]
        public void Group_LinksToUnknownRoutersAreIgnored()
        {
            var routers = new[] { R("a"), R("b") };
            var dangling = L("gone", "a", "nowhere");
            dangling.NetworkName = "stale";
            var g = NetworkGrouper.Group(routers, new[] { dangling });
            Assert.Equal(2, g.Networks.Count);
            Assert.Equal("", dangling.NetworkName);
            Assert.False(g.NetworkOfLink.ContainsKey("gone"));
            Assert.All(g.Networks, n => Assert.Empty(n.Links));
        }

        [Fact]
        public void Group_MixedFamilyHasNullFamily_HostsDistinct()
        {
            var routers = new[] { R("a", host: "HostB"), R("b", host: "hostb", af: NetworkAddressFamily.IPv6), R("c", host: "hostA") };
            var g = NetworkGrouper.Group(routers, new[] { L("l1", "a", "b"), L("l2", "c", "b") });
            var vn = Assert.Single(g.Networks);
            Assert.Null(vn.AddressFamily);
            Assert.Equal(new[] { "hostA", "HostB" }, vn.Hosts);
        }

        [Fact]
        public void Group_ParallelLinksAndSelfLoop()
        {
            var routers = new[] { R("a"), R("b"), R("c") };
            var g = NetworkGrouper.Group(routers, new[] { L("p2", "a", "b"), L("p1", "B", "A"), L("self", "c", "c") });
            Assert.Equal(new[] { "vn-a", "vn-c" }, g.Networks.Select(n => n.Name));
            Assert.Equal(new[] { "p1", "p2" }, g.Networks[0].Links);
            Assert.Equal(new[] { "self" }, g.Networks[1].Links);
        }

        [Fact]
        public void Group_Empty()
        {
            var g = NetworkGrouper.Group(new VirtualRouter[0], new VirtualLink[0]);
            Assert.Empty(g.Networks);
            Assert.Empty(g.NetworkOfRouter);
        }

        [Fact]
        public void Group_NetworksSortedByName()
        {
            var routers = new[] { R("a", "zulu"), R("b", "Alpha"), R("c") };
            var g = NetworkGrouper.Group(routers, new VirtualLink[0]);
            Assert.Equal(new[] { "Alpha", "vn-c", "zulu" }, g.Networks.Select(n => n.Name));
        }

        [Fact]
        public void Group_RejectsNulls()
        {
            Assert.Throws<ArgumentNullException>(() => NetworkGrouper.Group(null!, new VirtualLink[0]));
            Assert.Throws<ArgumentNullException>(() => NetworkGrouper.Group(new VirtualRouter[0], null!));
        }
    }
}
