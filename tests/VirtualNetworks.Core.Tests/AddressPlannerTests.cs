using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Numerics;
using System.Text;
using FsCheck.Xunit;
using VirtualNetworks.Addressing;
using Xunit;

namespace VirtualNetworks.Core.Tests
{
    public class AddressPlannerTests
    {
        private static RouterSpec R(string name, NetworkAddressFamily af = NetworkAddressFamily.IPv4) => new RouterSpec { Name = name, AddressFamily = af };
        private static LinkSpec L(string name, string from, string to) => new LinkSpec { Name = name, From = from, To = to };
        private static RouterSpec[] Rs(params string[] names) => names.Select(n => R(n)).ToArray();
        private static RouterSpec[] Rs6(params string[] names) => names.Select(n => R(n, NetworkAddressFamily.IPv6)).ToArray();

        private static VirtualNetworksException Fails(string errorId, Action act)
        {
            var ex = Assert.Throws<VirtualNetworksException>(act);
            Assert.Equal(errorId, ex.ErrorId);
            return ex;
        }

        // ---- addresses ------------------------------------------------------------------------------------------

        [Fact]
        public void Plan_AllocatesInLinkNameOrder_FromEven_ToOdd()
        {
            var plan = AddressPlanner.Plan(Rs("a", "b", "c"), new[] { L("l2", "a", "b"), L("l1", "b", "c") }, new AddressPools());
            Assert.Equal(("10.200.0.0/31", "10.200.0.1/31"), plan.Links["l1"]);
            Assert.Equal(("10.200.0.2/31", "10.200.0.3/31"), plan.Links["L2"]);
        }

        [Fact]
        public void Plan_AllocatesNetworksInOrderOfSmallestRouter()
        {
            var plan = AddressPlanner.Plan(Rs("x", "y", "b", "c"), new[] { L("a1", "x", "y"), L("z9", "c", "b") }, new AddressPools());
            Assert.Equal(("10.200.0.0/31", "10.200.0.1/31"), plan.Links["z9"]);
            Assert.Equal(("10.200.0.2/31", "10.200.0.3/31"), plan.Links["a1"]);
        }

        [Fact]
        public void Plan_IPv6UsesSlash127_CanonicalText()
        {
            var plan = AddressPlanner.Plan(Rs6("a", "b", "c"), new[] { L("l1", "a", "b"), L("l2", "b", "c") },
                new AddressPools { IPv6 = "FD00:0000:0:1::/64" });
            Assert.Equal(("fd00:0:0:1::/127", "fd00:0:0:1::1/127"), plan.Links["l1"]);
            Assert.Equal(("fd00:0:0:1::2/127", "fd00:0:0:1::3/127"), plan.Links["l2"]);
            Assert.Equal(NetworkAddressFamily.IPv6, plan.Routers["b"].AddressFamily);
        }

        [Fact]
        public void Plan_BothFamiliesSideBySide_EachFromItsPool()
        {
            var routers = Rs("a", "b").Concat(Rs6("c", "d")).ToArray();
            var plan = AddressPlanner.Plan(routers, new[] { L("v4", "a", "b"), L("v6", "c", "d") }, new AddressPools());
            Assert.Equal(("10.200.0.0/31", "10.200.0.1/31"), plan.Links["v4"]);
            Assert.Equal(("fd00:76e:0:1::/127", "fd00:76e:0:1::1/127"), plan.Links["v6"]);
        }

        [Fact]
        public void Plan_ParallelLinksGetTheirOwnBlocks()
        {
            var plan = AddressPlanner.Plan(Rs("a", "b"), new[] { L("p1", "a", "b"), L("p2", "b", "a") }, new AddressPools());
            Assert.Equal(("10.200.0.0/31", "10.200.0.1/31"), plan.Links["p1"]);
            Assert.Equal(("10.200.0.2/31", "10.200.0.3/31"), plan.Links["p2"]);
            var a = plan.Routers["a"];
            Assert.Equal(2, a.Interfaces.Count);
            Assert.Equal("10.200.0.3/31", a.Interfaces.Single(i => i.LinkName == "p2").Address);
            Assert.Equal("b", a.Interfaces.Single(i => i.LinkName == "p2").PeerRouter);
            Assert.Empty(a.Routes);
        }

        [Fact]
        public void Plan_Interfaces()
        {
            var plan = AddressPlanner.Plan(Rs("a", "b", "c"), new[] { L("l1", "a", "b"), L("l2", "c", "b") }, new AddressPools());
            var b = plan.Routers["b"];
            Assert.Equal(new[] { "l1", "l2" }, b.Interfaces.Select(i => i.LinkName));
            Assert.Equal("10.200.0.1/31", b.Interfaces[0].Address);
            Assert.Equal("10.200.0.0", b.Interfaces[0].PeerAddress);
            Assert.Equal("a", b.Interfaces[0].PeerRouter);
            Assert.Equal("10.200.0.3/31", b.Interfaces[1].Address);
            Assert.Equal("10.200.0.2", b.Interfaces[1].PeerAddress);
            Assert.Equal("c", b.Interfaces[1].PeerRouter);
        }

        [Fact]
        public void Plan_IsolatedRoutersGetEmptyConfiguration_AndMayDifferInFamily()
        {
            var routers = new[] { R("solo", NetworkAddressFamily.IPv6), R("a"), R("b") };
            var plan = AddressPlanner.Plan(routers, new[] { L("l", "a", "b") }, new AddressPools());
            Assert.Equal(3, plan.Routers.Count);
            var solo = plan.Routers["SOLO"];
            Assert.Equal("solo", solo.RouterName);
            Assert.Equal(NetworkAddressFamily.IPv6, solo.AddressFamily);
            Assert.Empty(solo.Interfaces);
            Assert.Empty(solo.Routes);
        }

        [Fact]
        public void Plan_OnlyNeededPoolsAreParsed()
        {
            var plan = AddressPlanner.Plan(Rs("a", "b"), new[] { L("l", "a", "b") }, new AddressPools { IPv6 = "not a pool" });
            Assert.Single(plan.Links);
        }

        // ---- existing addresses ---------------------------------------------------------------------------------

        [Fact]
        public void Plan_KeepsObservedAddresses_NewLinksTakeLowestFreeBlock()
        {
            var existing = new Dictionary<string, (string From, string To)> { ["l2"] = ("10.200.0.2/31", "10.200.0.3/31") };
            var plan = AddressPlanner.Plan(Rs("a", "b", "c", "d"), new[] { L("l1", "a", "b"), L("l2", "b", "c"), L("l3", "c", "d") }, new AddressPools(), existing);
            Assert.Equal(("10.200.0.0/31", "10.200.0.1/31"), plan.Links["l1"]);
            Assert.Equal(("10.200.0.2/31", "10.200.0.3/31"), plan.Links["l2"]);
            Assert.Equal(("10.200.0.4/31", "10.200.0.5/31"), plan.Links["l3"]);
        }

        [Fact]
        public void Plan_KeepsObservedOrientation_AndCanonicalisesText()
        {
            var existing = new Dictionary<string, (string From, string To)> { ["L1"] = ("FD00:76E:0:1::0009/127", "fd00:76e:0:1::8/127") };
            var plan = AddressPlanner.Plan(Rs6("a", "b"), new[] { L("l1", "a", "b") }, new AddressPools(), existing);
            Assert.Equal(("fd00:76e:0:1::9/127", "fd00:76e:0:1::8/127"), plan.Links["l1"]);
            Assert.Equal("fd00:76e:0:1::9/127", plan.Routers["a"].Interfaces[0].Address);
            Assert.Equal("fd00:76e:0:1::9", plan.Routers["b"].Interfaces[0].PeerAddress);
        }

        [Theory]
        [InlineData("10.201.0.0/31", "10.201.0.1/31")]   // outside the pool
        [InlineData("fd00:76e:0:1::/127", "fd00:76e:0:1::1/127")] // wrong family
        [InlineData("10.200.0.8/30", "10.200.0.9/30")]   // wrong prefix length
        [InlineData("10.200.0.9/31", "10.200.0.10/31")]  // not one block
        [InlineData("10.200.0.8/31", "10.200.0.8/31")]   // same address twice
        [InlineData("garbage", "10.200.0.9/31")]
        [InlineData(null, null)]
        public void Plan_ReallocatesUnusableObservedAddresses(string? from, string? to)
        {
            var existing = new Dictionary<string, (string From, string To)> { ["l1"] = (from!, to!) };
            var plan = AddressPlanner.Plan(Rs("a", "b"), new[] { L("l1", "a", "b") }, new AddressPools(), existing);
            Assert.Equal(("10.200.0.0/31", "10.200.0.1/31"), plan.Links["l1"]);
        }

        [Fact]
        public void Plan_ClashingObservedAddresses_FirstInAllocationOrderKeeps()
        {
            var existing = new Dictionary<string, (string From, string To)>
            {
                ["l2"] = ("10.200.0.6/31", "10.200.0.7/31"),
                ["l1"] = ("10.200.0.6/31", "10.200.0.7/31"),
            };
            var plan = AddressPlanner.Plan(Rs("a", "b", "c"), new[] { L("l2", "b", "c"), L("l1", "a", "b") }, new AddressPools(), existing);
            Assert.Equal(("10.200.0.6/31", "10.200.0.7/31"), plan.Links["l1"]);
            Assert.Equal(("10.200.0.0/31", "10.200.0.1/31"), plan.Links["l2"]);
        }

        [Fact]
        public void Plan_ObservedAddressesOfRemovedLinksAreIgnored()
        {
            var existing = new Dictionary<string, (string From, string To)> { ["gone"] = ("10.200.0.0/31", "10.200.0.1/31") };
            var plan = AddressPlanner.Plan(Rs("a", "b"), new[] { L("l1", "a", "b") }, new AddressPools(), existing);
            Assert.Equal(("10.200.0.0/31", "10.200.0.1/31"), plan.Links["l1"]);
            Assert.False(plan.Links.ContainsKey("gone"));
        }

        // ---- errors ---------------------------------------------------------------------------------------------

        [Fact]
        public void Plan_MixedFamilyInOneNetwork_IsAddressFamilyConflict()
        {
            var routers = new[] { R("a"), R("b", NetworkAddressFamily.IPv6) };
            var ex = Fails(ErrorIds.AddressFamilyConflict, () => AddressPlanner.Plan(routers, new[] { L("l", "a", "b") }, new AddressPools()));
            Assert.Equal(ErrorKind.InvalidData, ex.Kind);
            Assert.Equal("b", ex.TargetName);
            Assert.Contains("'a'", ex.Message);
        }

        [Theory]
        [InlineData("garbage")]
        [InlineData("10.0.0.0")]
        [InlineData("10.0.0.0/32")]
        [InlineData("10.0.0.1/24")]
        [InlineData("10.0/16")]
        [InlineData("10.0.0.0/33")]
        [InlineData("10.0.0.0/-1")]
        [InlineData("fd00::/64")]
        [InlineData("")]
        public void Plan_BadIPv4Pool_IsInvalidAddressPool(string pool)
        {
            var ex = Fails(ErrorIds.InvalidAddressPool, () => AddressPlanner.Plan(Rs("a", "b"), new[] { L("l", "a", "b") }, new AddressPools { IPv4 = pool }));
            Assert.Equal(pool, ex.TargetName);
        }

        [Theory]
        [InlineData("fd00::/128")]
        [InlineData("fd00::1/64")]
        [InlineData("10.0.0.0/8")]
        [InlineData("fd00::%1/64")]
        public void Plan_BadIPv6Pool_IsInvalidAddressPool(string pool)
        {
            Fails(ErrorIds.InvalidAddressPool, () => AddressPlanner.Plan(Rs6("a", "b"), new[] { L("l", "a", "b") }, new AddressPools { IPv6 = pool }));
        }

        [Fact]
        public void Plan_ExhaustedPool_IsAddressPoolExhausted_NamingThePool()
        {
            var pools = new AddressPools { IPv4 = "192.168.7.0/30" };
            var ok = AddressPlanner.Plan(Rs("a", "b", "c"), new[] { L("l1", "a", "b"), L("l2", "b", "c") }, pools);
            Assert.Equal(("192.168.7.2/31", "192.168.7.3/31"), ok.Links["l2"]);

            var ex = Fails(ErrorIds.AddressPoolExhausted, () => AddressPlanner.Plan(Rs("a", "b", "c"),
                new[] { L("l1", "a", "b"), L("l2", "b", "c"), L("l3", "c", "a") }, pools));
            Assert.Equal(ErrorKind.LimitsExceeded, ex.Kind);
            Assert.Equal("192.168.7.0/30", ex.TargetName);
            Assert.Contains("192.168.7.0/30", ex.Message);
        }

        [Fact]
        public void Plan_ExhaustedIPv6Pool()
        {
            var ex = Fails(ErrorIds.AddressPoolExhausted, () => AddressPlanner.Plan(Rs6("a", "b"),
                new[] { L("l1", "a", "b"), L("l2", "a", "b") }, new AddressPools { IPv6 = "fd00::/127" }));
            Assert.Equal(ErrorKind.LimitsExceeded, ex.Kind);
        }

        [Fact]
        public void Plan_StructuralErrors()
        {
            Fails(ErrorIds.LinkEndpointNotFound, () => AddressPlanner.Plan(Rs("a"), new[] { L("l", "a", "zz") }, new AddressPools()));
            Fails(ErrorIds.SelfLink, () => AddressPlanner.Plan(Rs("a"), new[] { L("l", "a", "A") }, new AddressPools()));
            Fails(ErrorIds.DuplicateName, () => AddressPlanner.Plan(Rs("a", "A"), new LinkSpec[0], new AddressPools()));
            Fails(ErrorIds.DuplicateName, () => AddressPlanner.Plan(Rs("a", "b"), new[] { L("l", "a", "b"), L("L", "b", "a") }, new AddressPools()));
        }

        // ---- routes ---------------------------------------------------------------------------------------------

        [Fact]
        public void Plan_ChainRoutes()
        {
            // a -l1- b -l2- c -l3- d
            var plan = AddressPlanner.Plan(Rs("a", "b", "c", "d"), new[] { L("l1", "a", "b"), L("l2", "b", "c"), L("l3", "c", "d") }, new AddressPools());
            var a = plan.Routers["a"];
            Assert.Equal(2, a.Routes.Count);
            Assert.All(a.Routes, r => { Assert.Equal("10.200.0.1", r.NextHop); Assert.Equal("l1", r.LinkName); });
            Assert.Equal(new[] { "10.200.0.2/31", "10.200.0.4/31" }, a.Routes.Select(r => r.Destination).OrderBy(s => s));
            var c = plan.Routers["c"];
            Assert.Equal("10.200.0.2", c.Routes.Single(r => r.Destination == "10.200.0.0/31").NextHop);
        }

        [Fact]
        public void Plan_RouteTiesGoToSmallestNeighbourThenSmallestLink()
        {
            // a has two equal paths to link "de" (via b and via c); and two parallel links to b ("z1", "y1" < "z1").
            var links = new[] { L("ac", "a", "c"), L("z1", "a", "b"), L("y1", "b", "a"), L("bd", "b", "d"), L("cd", "c", "d"), L("de", "d", "e") };
            var plan = AddressPlanner.Plan(Rs("e", "d", "c", "b", "a"), links, new AddressPools());
            var route = plan.Routers["a"].Routes.Single(r => r.Destination == plan.Links["de"].From);
            Assert.Equal("y1", route.LinkName);
            Assert.Equal(plan.Links["y1"].From.Split('/')[0], route.NextHop); // b is y1's From end
        }

        [Fact]
        public void Plan_RoutesGoToTheNearerEnd()
        {
            // ring a-b-c-d-a plus tail d-e: from b, link "de" is 2 hops via a or c (tie -> a); link "cd" nearer end c (1 hop).
            var links = new[] { L("ab", "a", "b"), L("bc", "b", "c"), L("cd", "c", "d"), L("da", "d", "a"), L("de", "d", "e") };
            var plan = AddressPlanner.Plan(Rs("a", "b", "c", "d", "e"), links, new AddressPools());
            var b = plan.Routers["b"];
            Assert.Equal("ab", b.Routes.Single(r => r.Destination == Prefix(plan, "de")).LinkName);
            Assert.Equal("bc", b.Routes.Single(r => r.Destination == Prefix(plan, "cd")).LinkName);
            Assert.Equal("ab", b.Routes.Single(r => r.Destination == Prefix(plan, "da")).LinkName);
            Assert.Equal(3, b.Routes.Count);
        }

        private static string Prefix(AddressPlan plan, string link)
        {
            var (f, t) = plan.Links[link];
            var a = Ip.Parse(f);
            var b = Ip.Parse(t);
            return (a.Value < b.Value ? f : t);
        }

        [Fact]
        public void Plan_IsDeterministicForTheSameTopology()
        {
            var routers = Rs("r5", "r1", "r3", "r2", "r4");
            var links = new[] { L("x", "r1", "r2"), L("b", "r2", "r3"), L("q", "r3", "r1"), L("a", "r4", "r5") };
            string first = Canonical(AddressPlanner.Plan(routers, links, new AddressPools()));
            string second = Canonical(AddressPlanner.Plan(routers.Reverse().ToArray(), links.Reverse().ToArray(), new AddressPools()));
            Assert.Equal(first, second);
        }

        internal static string Canonical(AddressPlan plan)
        {
            var sb = new StringBuilder();
            foreach (var kv in plan.Links.OrderBy(kv => kv.Key, StringComparer.OrdinalIgnoreCase))
                sb.Append(kv.Key).Append(' ').Append(kv.Value.From).Append(' ').Append(kv.Value.To).Append('\n');
            foreach (var kv in plan.Routers.OrderBy(kv => kv.Key, StringComparer.OrdinalIgnoreCase))
                sb.Append(kv.Value.ToCanonicalString());
            return sb.ToString();
        }

        // ---- properties on random graphs -------------------------------------------------------------------------

        /// <summary>An address with its prefix length, as an integer (for containment checks in the tests).</summary>
        internal readonly struct Ip
        {
            public readonly BigInteger Value;
            public readonly int Length;
            public readonly int Bits;

            private Ip(BigInteger value, int length, int bits) { Value = value; Length = length; Bits = bits; }

            public static Ip Parse(string text)
            {
                var parts = text.Split('/');
                var ip = IPAddress.Parse(parts[0]);
                var bytes = ip.GetAddressBytes();
                var value = new BigInteger(bytes.Reverse().Concat(new byte[] { 0 }).ToArray());
                int bits = bytes.Length * 8;
                return new Ip(value, parts.Length > 1 ? int.Parse(parts[1]) : bits, bits);
            }

            public bool Contains(Ip other) => Bits == other.Bits && (Value >> (Bits - Length)) == (other.Value >> (Bits - Length));
        }

        /// <summary>Several random connected graphs (one per component) from FsCheck-generated ints.</summary>
        private static (List<RouterSpec> Routers, List<LinkSpec> Links, List<List<string>> Components) RandomNetworks(int[] shape, int[] extra, bool[] families)
        {
            shape ??= new int[0];
            extra ??= new int[0];
            families ??= new bool[0];
            var routers = new List<RouterSpec>();
            var links = new List<LinkSpec>();
            var comps = new List<List<string>>();
            int components = Math.Min(3, Math.Max(1, families.Length));
            int linkNo = 0;
            for (int c = 0; c < components; c++)
            {
                var af = families.Length > c && families[c] ? NetworkAddressFamily.IPv6 : NetworkAddressFamily.IPv4;
                // Spanning tree: vertex i hangs off shape[i] mod i.
                int n = 1 + (shape.Length > c ? GroupingPropertyTests.Mod(shape[c], 14) : 0);
                var names = Enumerable.Range(0, n).Select(i => "c" + c + "r" + (i * 7 % 17)).ToList(); // name order differs from build order
                names = names.Distinct().ToList();
                n = names.Count;
                comps.Add(names);
                foreach (var nm in names) routers.Add(new RouterSpec { Name = nm, AddressFamily = af });
                for (int i = 1; i < n; i++)
                {
                    int p = GroupingPropertyTests.Mod(shape.Length > i + c ? shape[i + c] : i * 31, i);
                    links.Add(new LinkSpec { Name = "k" + (linkNo++ * 13 % 101), From = names[p], To = names[i] });
                }
                for (int j = c; j + 1 < extra.Length && n > 1; j += 3 * components)
                {
                    int a = GroupingPropertyTests.Mod(extra[j], n), b = GroupingPropertyTests.Mod(extra[j + 1], n);
                    if (a == b) continue;
                    links.Add(new LinkSpec { Name = "k" + (linkNo++ * 13 % 101), From = names[a], To = names[b] });
                }
            }
            // Link names must be unique; the "*13 % 101" scramble repeats after 101 links.
            var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            for (int i = 0; i < links.Count; i++) if (!seen.Add(links[i].Name)) { links[i].Name = "u" + i; seen.Add(links[i].Name); }
            return (routers, links, comps);
        }

        [Property(MaxTest = 200)]
        public void Plan_EveryRouterReachesEveryAddressOfItsNetwork_ByHopByHopForwarding(int[] shape, int[] extra, bool[] families)
        {
            var (routers, links, comps) = RandomNetworks(shape, extra, families);
            var plan = AddressPlanner.Plan(routers, links, new AddressPools());
            var compOf = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
            for (int c = 0; c < comps.Count; c++) foreach (var r in comps[c]) compOf[r] = c;

            foreach (var src in routers)
            {
                foreach (var link in links)
                {
                    if (compOf[link.From] != compOf[src.Name]) continue;
                    var (fromAddr, toAddr) = plan.Links[link.Name];
                    AssertDelivers(plan, src.Name, Ip.Parse(fromAddr), link.From, routers.Count);
                    AssertDelivers(plan, src.Name, Ip.Parse(toAddr), link.To, routers.Count);
                }
                // Route count: one per link of the network not attached to the router.
                int expected = links.Count(l => compOf[l.From] == compOf[src.Name]
                    && !string.Equals(l.From, src.Name, StringComparison.OrdinalIgnoreCase) && !string.Equals(l.To, src.Name, StringComparison.OrdinalIgnoreCase));
                Assert.Equal(expected, plan.Routers[src.Name].Routes.Count);
            }
        }

        /// <summary>Simulates forwarding from <paramref name="source"/> towards <paramref name="target"/>.</summary>
        private static void AssertDelivers(AddressPlan plan, string source, Ip target, string owner, int routerCount)
        {
            string cur = source;
            for (int hops = 0; hops <= routerCount; hops++)
            {
                var cfg = plan.Routers[cur];
                foreach (var i in cfg.Interfaces)
                {
                    var own = Ip.Parse(i.Address);
                    if (own.Value == target.Value && own.Bits == target.Bits)
                    {
                        Assert.Equal(owner, cur, StringComparer.OrdinalIgnoreCase);
                        return;
                    }
                }
                // Directly connected subnet: hand the packet to the peer on that link.
                var direct = cfg.Interfaces.FirstOrDefault(i => Ip.Parse(i.Address).Contains(target));
                if (direct != null)
                {
                    Assert.Equal(target.Value, Ip.Parse(direct.PeerAddress).Value);
                    Assert.Equal(owner, direct.PeerRouter, StringComparer.OrdinalIgnoreCase);
                    return;
                }
                var routes = cfg.Routes.Where(r => Ip.Parse(r.Destination).Contains(target)).ToList();
                var route = Assert.Single(routes);
                var via = cfg.Interfaces.Single(i => string.Equals(i.LinkName, route.LinkName, StringComparison.OrdinalIgnoreCase));
                Assert.Equal(route.NextHop, via.PeerAddress); // the next hop is on a directly attached link
                cur = via.PeerRouter;
            }
            Assert.Fail("Forwarding from " + source + " to " + target.Value + " loops.");
        }

        [Property(MaxTest = 200)]
        public void Plan_AddressesAreUniqueAndInsideThePool(int[] shape, int[] extra, bool[] families)
        {
            var (routers, links, _) = RandomNetworks(shape, extra, families);
            var pools = new AddressPools();
            var plan = AddressPlanner.Plan(routers, links, pools);
            var v4 = Ip.Parse(pools.IPv4);
            var v6 = Ip.Parse(pools.IPv6);
            var famOf = routers.ToDictionary(r => r.Name, r => r.AddressFamily, StringComparer.OrdinalIgnoreCase);

            var seen = new HashSet<string>(StringComparer.Ordinal);
            Assert.Equal(links.Count, plan.Links.Count);
            foreach (var link in links)
            {
                var (f, t) = plan.Links[link.Name];
                var a = Ip.Parse(f);
                var b = Ip.Parse(t);
                var pool = famOf[link.From] == NetworkAddressFamily.IPv4 ? v4 : v6;
                Assert.Equal(pool.Bits - 1, a.Length);
                Assert.Equal(pool.Bits - 1, b.Length);
                Assert.True(pool.Contains(a) && pool.Contains(b), f + " / " + t + " outside " + pool.Value);
                Assert.Equal(a.Value + 1, b.Value); // From even, To odd, same block
                Assert.True(a.Value.IsEven);
                Assert.True(seen.Add(f.Split('/')[0]), "duplicate " + f);
                Assert.True(seen.Add(t.Split('/')[0]), "duplicate " + t);
                Assert.Equal(IPAddress.Parse(f.Split('/')[0]).ToString(), f.Split('/')[0]); // canonical text
            }
            // Lowest free blocks: per family the blocks are exactly 0..count-1.
            foreach (var pool in new[] { v4, v6 })
            {
                var blocks = links.Select(l => Ip.Parse(plan.Links[l.Name].From)).Where(a => a.Bits == pool.Bits).Select(a => (a.Value - pool.Value) / 2).OrderBy(x => x).ToList();
                Assert.Equal(Enumerable.Range(0, blocks.Count).Select(i => new BigInteger(i)), blocks);
            }
        }

        [Property(MaxTest = 150)]
        public void Plan_IsDeterministicUnderPermutation_AndStableWhenReplanned(int[] shape, int[] extra, bool[] families, int seed)
        {
            var (routers, links, _) = RandomNetworks(shape, extra, families);
            var plan1 = AddressPlanner.Plan(routers, links, new AddressPools());

            var r2 = routers.Select(r => r.Clone()).ToList();
            var l2 = links.Select(l => l.Clone()).ToList();
            GroupingPropertyTests.Shuffle(r2, seed);
            GroupingPropertyTests.Shuffle(l2, ~seed);
            var plan2 = AddressPlanner.Plan(r2, l2, new AddressPools());
            Assert.Equal(Canonical(plan1), Canonical(plan2));

            // Re-planning with the observed addresses of the first plan changes nothing.
            var plan3 = AddressPlanner.Plan(l2.Count > 0 ? r2 : routers, l2, new AddressPools(), plan1.Links);
            Assert.Equal(Canonical(plan1), Canonical(plan3));
        }
    }
}
