using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using FsCheck.Xunit;
using VirtualNetworks.Graph;
using Xunit;

namespace VirtualNetworks.Core.Tests
{
    /// <summary>
    /// Random graphs come from FsCheck-generated int arrays (so failures shrink); they are mapped onto vertices modulo
    /// the vertex count.
    /// </summary>
    public class GroupingPropertyTests
    {
        internal static int Mod(int x, int n) => ((x % n) + n) % n;

        /// <summary>Plain BFS over an adjacency list; labels components in order of their first vertex.</summary>
        internal static int[] BfsOracle(int n, int[] from, int[] to, out int count)
        {
            var adj = new List<int>[n];
            for (int v = 0; v < n; v++) adj[v] = new List<int>();
            for (int e = 0; e < from.Length; e++) { adj[from[e]].Add(to[e]); adj[to[e]].Add(from[e]); }
            var label = Enumerable.Repeat(-1, n).ToArray();
            count = 0;
            var queue = new Queue<int>();
            for (int s = 0; s < n; s++)
            {
                if (label[s] >= 0) continue;
                label[s] = count;
                queue.Enqueue(s);
                while (queue.Count > 0)
                {
                    int v = queue.Dequeue();
                    foreach (int u in adj[v])
                        if (label[u] < 0) { label[u] = count; queue.Enqueue(u); }
                }
                count++;
            }
            return label;
        }

        /// <summary>The partition as a set of sets (canonical text), independent of the label values.</summary>
        internal static string Partition(int[] label)
        {
            var groups = new Dictionary<int, List<int>>();
            for (int v = 0; v < label.Length; v++)
            {
                if (!groups.TryGetValue(label[v], out var g)) groups[label[v]] = g = new List<int>();
                g.Add(v);
            }
            return string.Join(" | ", groups.Values.Select(g => string.Join(",", g.OrderBy(x => x))).OrderBy(s => s, StringComparer.Ordinal));
        }

        internal static void Shuffle<T>(IList<T> items, int seed)
        {
            var rng = new Random(seed);
            for (int i = items.Count - 1; i > 0; i--)
            {
                int j = rng.Next(i + 1);
                var t = items[i]; items[i] = items[j]; items[j] = t;
            }
        }

        [Property(MaxTest = 500)]
        public void Components_PartitionEqualsBfsOracle(byte size, int[] raw)
        {
            int n = size % 80 + 1;
            raw ??= new int[0];
            int m = raw.Length / 2;
            var from = new int[m];
            var to = new int[m];
            for (int e = 0; e < m; e++) { from[e] = Mod(raw[2 * e], n); to[e] = Mod(raw[2 * e + 1], n); }

            var got = NetworkGrouper.Components(n, from, to, out int k);
            var want = BfsOracle(n, from, to, out int kw);

            Assert.Equal(kw, k);
            Assert.Equal(Partition(want), Partition(got));
            Assert.Equal(want, got); // same labelling too: both number components in order of their first vertex
        }

        [Property(MaxTest = 100)]
        public void Components_LargeSparseRandomGraphs(int seed)
        {
            var rng = new Random(seed);
            int n = rng.Next(1, 5000);
            int m = rng.Next(0, n + n / 2);
            var from = new int[m];
            var to = new int[m];
            for (int e = 0; e < m; e++) { from[e] = rng.Next(n); to[e] = rng.Next(n); }
            var got = NetworkGrouper.Components(n, from, to, out int k);
            var want = BfsOracle(n, from, to, out int kw);
            Assert.Equal(kw, k);
            Assert.Equal(want, got);
        }

        // ---- Group on named objects ----------------------------------------------------------------------------

        private static readonly string?[] LabelPool = { null, "", "blue", "Blue", "red", "green", null, null };
        private static readonly string[] HostPool = { "h1", "H1", "h2", "host-3" };

        /// <summary>A random inventory description (fresh objects each call, since Group writes NetworkName).</summary>
        private sealed class Inventory
        {
            public List<(string Name, string? Label, string Host, NetworkAddressFamily Af)> Routers = new();
            public List<(string Name, string From, string To)> Links = new();

            public VirtualRouter[] MakeRouters() => Routers.Select(r => new VirtualRouter { Name = r.Name, NetworkLabel = r.Label, ComputerName = r.Host, AddressFamily = r.Af }).ToArray();
            public VirtualLink[] MakeLinks() => Links.Select(l => new VirtualLink { Name = l.Name, From = l.From, To = l.To }).ToArray();
        }

        private static Inventory MakeInventory(int[] routerRaw, int[] linkRaw, bool caseVariants)
        {
            var inv = new Inventory();
            routerRaw ??= new int[0];
            linkRaw ??= new int[0];
            var used = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (int x in routerRaw)
            {
                int id = Mod(x, 30);
                string name = ((x & 64) != 0 && caseVariants ? "R" : "r") + id;
                if (!caseVariants && !used.Add(name)) continue;
                inv.Routers.Add((name, LabelPool[Mod(x >> 8, LabelPool.Length)], HostPool[Mod(x >> 12, HostPool.Length)],
                    (x & 1024) != 0 ? NetworkAddressFamily.IPv6 : NetworkAddressFamily.IPv4));
            }
            for (int i = 0; i + 1 < linkRaw.Length; i += 2)
            {
                int a = Mod(linkRaw[i], 32), b = Mod(linkRaw[i + 1], 32); // 30, 31: routers that do not exist
                // Mostly unique names, some shared (in different case) to exercise the duplicate-name rules.
                string name = Mod(linkRaw[i], 5) == 0 ? (i % 4 == 0 ? "dup" : "DUP") + (i / 2 % 3) : "l" + (i / 2);
                inv.Links.Add((name, "r" + a, (b % 3 == 0 ? "R" : "r") + b));
            }
            return inv;
        }

        private static string Canonical(GroupingResult g, VirtualRouter[] routers, VirtualLink[] links, int[] routerOrigin, int[] linkOrigin)
        {
            var sb = new StringBuilder();
            foreach (var n in g.Networks)
                sb.Append(n.Name).Append(" r=").Append(string.Join(",", n.Routers)).Append(" l=").Append(string.Join(",", n.Links))
                  .Append(" h=").Append(string.Join(",", n.Hosts)).Append(" lb=").Append(string.Join(",", n.Labels))
                  .Append(" af=").Append(n.AddressFamily).Append('\n');
            foreach (var kv in g.NetworkOfRouter.OrderBy(kv => kv.Key, StringComparer.Ordinal)) sb.Append("R ").Append(kv.Key).Append('=').Append(kv.Value).Append('\n');
            foreach (var kv in g.NetworkOfLink.OrderBy(kv => kv.Key, StringComparer.Ordinal)) sb.Append("L ").Append(kv.Key).Append('=').Append(kv.Value).Append('\n');
            // NetworkName of each object, by its position in the original (unshuffled) input.
            var rn = new string[routers.Length];
            for (int i = 0; i < routers.Length; i++) rn[routerOrigin[i]] = routers[i].NetworkName;
            var ln = new string[links.Length];
            for (int i = 0; i < links.Length; i++) ln[linkOrigin[i]] = links[i].NetworkName;
            sb.Append("RN ").Append(string.Join(",", rn)).Append('\n').Append("LN ").Append(string.Join(",", ln)).Append('\n');
            return sb.ToString();
        }

        [Property(MaxTest = 300)]
        public void Group_IsDeterministicUnderPermutation(int[] routerRaw, int[] linkRaw, int seed, bool caseVariants)
        {
            var inv = MakeInventory(routerRaw, linkRaw, caseVariants);

            var r1 = inv.MakeRouters();
            var l1 = inv.MakeLinks();
            var o1r = Enumerable.Range(0, r1.Length).ToArray();
            var o1l = Enumerable.Range(0, l1.Length).ToArray();
            var g1 = NetworkGrouper.Group(r1, l1);

            var r2 = inv.MakeRouters();
            var l2 = inv.MakeLinks();
            var o2r = Enumerable.Range(0, r2.Length).ToArray();
            var o2l = Enumerable.Range(0, l2.Length).ToArray();
            // Shuffle objects together with their origin indices.
            var rp = r2.Zip(o2r, (r, o) => (r, o)).ToList();
            var lp = l2.Zip(o2l, (l, o) => (l, o)).ToList();
            Shuffle(rp, seed);
            Shuffle(lp, seed ^ 0x5a5a5a5a);
            r2 = rp.Select(p => p.r).ToArray(); o2r = rp.Select(p => p.o).ToArray();
            l2 = lp.Select(p => p.l).ToArray(); o2l = lp.Select(p => p.o).ToArray();
            var g2 = NetworkGrouper.Group(r2, l2);

            Assert.Equal(Canonical(g1, r1, l1, o1r, o1l), Canonical(g2, r2, l2, o2r, o2l));
        }

        [Property(MaxTest = 300)]
        public void Group_NetworksAreTheComponentsOfTheNameGraph(int[] routerRaw, int[] linkRaw)
        {
            var inv = MakeInventory(routerRaw, linkRaw, caseVariants: true);
            var routers = inv.MakeRouters();
            var links = inv.MakeLinks();
            var g = NetworkGrouper.Group(routers, links);

            // Oracle over distinct names (case-insensitive), links with both ends known.
            var names = routers.Select(r => r.Name.ToLowerInvariant()).Distinct().OrderBy(s => s, StringComparer.Ordinal).ToList();
            var idx = names.Select((s, i) => (s, i)).ToDictionary(p => p.s, p => p.i);
            var known = links.Where(l => idx.ContainsKey(l.From.ToLowerInvariant()) && idx.ContainsKey(l.To.ToLowerInvariant())).ToList();
            var oracle = BfsOracle(names.Count, known.Select(l => idx[l.From.ToLowerInvariant()]).ToArray(), known.Select(l => idx[l.To.ToLowerInvariant()]).ToArray(), out int k);

            Assert.Equal(k, g.Networks.Count);
            var got = new int[names.Count];
            for (int c = 0; c < g.Networks.Count; c++)
                foreach (var r in g.Networks[c].Routers) got[idx[r.ToLowerInvariant()]] = c;
            Assert.Equal(Partition(oracle), Partition(got));
            Assert.Equal(names.Count, g.Networks.Sum(n => n.Routers.Count));

            // Names unique, networks sorted, members sorted, every object tagged with its network.
            Assert.Equal(g.Networks.Count, g.Networks.Select(n => n.Name).Distinct(StringComparer.OrdinalIgnoreCase).Count());
            Assert.Equal(g.Networks.Select(n => n.Name).OrderBy(s => s, StringComparer.OrdinalIgnoreCase).ThenBy(s => s, StringComparer.Ordinal), g.Networks.Select(n => n.Name));
            foreach (var n in g.Networks)
                Assert.Equal(n.Routers.OrderBy(s => s, StringComparer.OrdinalIgnoreCase), n.Routers, StringComparer.OrdinalIgnoreCase);
            foreach (var r in routers) Assert.Equal(g.NetworkOfRouter[r.Name], r.NetworkName);
            foreach (var l in links)
            {
                if (known.Contains(l)) Assert.Equal(g.Networks[got[idx[l.From.ToLowerInvariant()]]].Name, l.NetworkName);
                else Assert.Equal("", l.NetworkName);
            }
        }

        [Fact]
        public void Group_LargeInput_TwoThreadPath_MatchesOracleAndIsDeterministic()
        {
            // Above NetworkGrouper.ParallelThreshold, so sorting and name resolution run on two threads.
            const int n = 40_000, m = 45_000;
            var rng = new Random(7);
            var inv = new Inventory();
            for (int i = 0; i < n; i++)
                inv.Routers.Add(((i % 5 == 0 ? "R" : "r") + i, i % 1000 == 0 ? "lbl" + (i % 3) : null, HostPool[i % HostPool.Length], NetworkAddressFamily.IPv4));
            var from = new int[m];
            var to = new int[m];
            for (int e = 0; e < m; e++)
            {
                from[e] = rng.Next(n);
                to[e] = rng.Next(n);
                inv.Links.Add(("l" + e, "r" + from[e], "R" + to[e]));
            }
            inv.Links.Add(("dangling", "r1", "nobody"));
            inv.Links.Add(("L5", "r2", "r3")); // a second link named l5
            Assert.True(n + m > NetworkGrouper.ParallelThreshold);

            var r1 = inv.MakeRouters();
            var l1 = inv.MakeLinks();
            var g1 = NetworkGrouper.Group(r1, l1);

            var oracle = BfsOracle(n, from, to, out int k);
            Assert.Equal(k, g1.Networks.Count);
            var got = new int[n];
            for (int c = 0; c < g1.Networks.Count; c++)
                foreach (var r in g1.Networks[c].Routers) got[int.Parse(r.Substring(1))] = c;
            Assert.Equal(Partition(oracle), Partition(got));
            Assert.Equal("", l1[m].NetworkName);

            var r2 = inv.MakeRouters();
            var l2 = inv.MakeLinks();
            var rp = r2.Select((r, i) => (r, i)).ToList();
            var lp = l2.Select((l, i) => (l, i)).ToList();
            Shuffle(rp, 11);
            Shuffle(lp, 12);
            var g2 = NetworkGrouper.Group(rp.Select(p => p.r).ToArray(), lp.Select(p => p.l).ToArray());
            Assert.Equal(Canonical(g1, r1, l1, Enumerable.Range(0, n).ToArray(), Enumerable.Range(0, m + 2).ToArray()),
                Canonical(g2, rp.Select(p => p.r).ToArray(), lp.Select(p => p.l).ToArray(), rp.Select(p => p.i).ToArray(), lp.Select(p => p.i).ToArray()));
        }
    }
}
