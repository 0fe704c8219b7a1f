using System;
using System.Collections.Generic;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Numerics;
using VirtualNetworks.Graph;

namespace VirtualNetworks.Addressing
{
    /// <summary>Addresses and routes for every router, plus each link's two end addresses.</summary>
    public sealed class AddressPlan
    {
        public Dictionary<string, RouterConfiguration> Routers { get; set; } = new Dictionary<string, RouterConfiguration>(StringComparer.OrdinalIgnoreCase);
        /// <summary>Link name -> (From address CIDR, To address CIDR).</summary>
        public Dictionary<string, (string From, string To)> Links { get; set; } = new Dictionary<string, (string, string)>(StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>
    /// Point-to-point addressing (/31 for IPv4 VNs, /127 for IPv6 VNs) from configurable pools, and shortest-path static
    /// routes inside each VN so every router reaches every address in its VN. Deterministic for the same topology.
    /// </summary>
    /// <remarks>
    /// <para>Each link gets its own block (parallel links too): From gets the block's even address, To the odd one.
    /// Addresses already in use (<c>existing</c>) are kept when they still form one block of the right family inside
    /// the pool and no other kept link uses that block; every other link gets the lowest free block. New links are
    /// served in order of (their VN's smallest router name, link name), ordinal-ignore-case.</para>
    /// <para>Routes: for router R and link L not attached to R, one route to L's prefix via the first hop of a shortest
    /// path (hop count) from R to the nearer end of L. Ties go to the neighbour with the smallest router name, then the
    /// link with the smallest name. Every hop strictly shortens the distance to L, so forwarding never loops.</para>
    /// </remarks>
    public static class AddressPlanner
    {
        /// <summary>
        /// Plans addressing. Routers carry AddressFamily; a VN whose routers disagree is an AddressFamilyConflict error;
        /// an exhausted pool is AddressPoolExhausted (both as <see cref="VirtualNetworksException"/>).
        /// </summary>
        /// <param name="routers">Every router; each gets a <see cref="RouterConfiguration"/> (isolated ones: empty).</param>
        /// <param name="links">Every link; both ends must be in <paramref name="routers"/>.</param>
        /// <param name="pools">Pools to allocate from. A pool is parsed only when a link of its family needs it.</param>
        /// <param name="existing">Observed link addresses (link name -> From CIDR, To CIDR) to keep where still valid.</param>
        public static AddressPlan Plan(IReadOnlyList<RouterSpec> routers, IReadOnlyList<LinkSpec> links, AddressPools pools,
            IReadOnlyDictionary<string, (string From, string To)>? existing = null)
        {
            if (routers == null) throw new ArgumentNullException(nameof(routers));
            if (links == null) throw new ArgumentNullException(nameof(links));
            if (pools == null) throw new ArgumentNullException(nameof(pools));
            var cmpI = StringComparer.OrdinalIgnoreCase;

            // ---- vertices in name order ------------------------------------------------------------------------------
            var rs = new RouterSpec[routers.Count];
            for (int i = 0; i < rs.Length; i++)
                rs[i] = routers[i] ?? throw new ArgumentException("The router list contains a null entry.", nameof(routers));
            Array.Sort(rs, (x, y) => NetworkGrouper.CompareNames(x.Name, y.Name));
            var vertex = new Dictionary<string, int>(rs.Length, cmpI);
            for (int v = 0; v < rs.Length; v++)
            {
                string name = rs[v].Name ?? "";
                if (vertex.ContainsKey(name))
                    throw new VirtualNetworksException(ErrorIds.DuplicateName, ErrorKind.InvalidData, name,
                        "Router name '" + name + "' is used more than once.");
                vertex.Add(name, v);
            }
            int n = rs.Length;

            // ---- edges in name order ---------------------------------------------------------------------------------
            var ls = new LinkSpec[links.Count];
            for (int i = 0; i < ls.Length; i++)
                ls[i] = links[i] ?? throw new ArgumentException("The link list contains a null entry.", nameof(links));
            Array.Sort(ls, (x, y) => NetworkGrouper.CompareNames(x.Name, y.Name));
            int m = ls.Length;
            var ef = new int[m];
            var et = new int[m];
            for (int e = 0; e < m; e++)
            {
                var l = ls[e];
                string name = l.Name ?? "";
                if (e > 0 && cmpI.Equals(name, ls[e - 1].Name ?? ""))
                    throw new VirtualNetworksException(ErrorIds.DuplicateName, ErrorKind.InvalidData, name,
                        "Link name '" + name + "' is used more than once.");
                if (!vertex.TryGetValue(l.From ?? "", out ef[e]))
                    throw new VirtualNetworksException(ErrorIds.LinkEndpointNotFound, ErrorKind.ObjectNotFound, name,
                        "Link '" + name + "' starts at router '" + l.From + "', which does not exist.");
                if (!vertex.TryGetValue(l.To ?? "", out et[e]))
                    throw new VirtualNetworksException(ErrorIds.LinkEndpointNotFound, ErrorKind.ObjectNotFound, name,
                        "Link '" + name + "' ends at router '" + l.To + "', which does not exist.");
                if (ef[e] == et[e])
                    throw new VirtualNetworksException(ErrorIds.SelfLink, ErrorKind.InvalidData, name,
                        "Link '" + name + "' connects router '" + l.From + "' to itself.");
            }

            // ---- components (ordered by smallest router name) and their family ---------------------------------------
            var comp = NetworkGrouper.Components(n, ef, et, out int k);
            var firstOf = new int[k];
            for (int c = 0; c < k; c++) firstOf[c] = -1;
            for (int v = 0; v < n; v++)
            {
                int c = comp[v];
                if (firstOf[c] < 0) { firstOf[c] = v; continue; }
                var head = rs[firstOf[c]];
                if (rs[v].AddressFamily != head.AddressFamily)
                    throw new VirtualNetworksException(ErrorIds.AddressFamilyConflict, ErrorKind.InvalidData, rs[v].Name,
                        "Router '" + rs[v].Name + "' is " + rs[v].AddressFamily + " but router '" + head.Name + "' in the same virtual network is "
                        + head.AddressFamily + "; all routers of a virtual network must use one address family.")
                    {
                        RecommendedAction = "Give every router of the network the same addressFamily, or do not link networks of different families.",
                    };
            }

            // ---- addresses -------------------------------------------------------------------------------------------
            var blockOf = new BigInteger[m];       // absolute network address of each link's block
            var swapped = new bool[m];             // kept observation with From on the odd address
            var famOf = new NetworkAddressFamily[m];
            for (int e = 0; e < m; e++) famOf[e] = rs[ef[e]].AddressFamily;

            // Allocation order: (component's smallest router name, link name); links are already in name order.
            var order = new int[m];
            for (int e = 0; e < m; e++) order[e] = e;
            Array.Sort(order, (a, b) => comp[ef[a]] != comp[ef[b]] ? comp[ef[a]].CompareTo(comp[ef[b]]) : a.CompareTo(b));

            var observed = NormaliseExisting(existing);
            foreach (var family in new[] { NetworkAddressFamily.IPv4, NetworkAddressFamily.IPv6 })
            {
                bool any = false;
                for (int e = 0; e < m && !any; e++) any = famOf[e] == family;
                if (!any) continue;

                var pool = Pool.Parse(family == NetworkAddressFamily.IPv4 ? pools.IPv4 : pools.IPv6, family);
                var used = new HashSet<BigInteger>();
                var pending = new List<int>();
                foreach (int e in order)
                {
                    if (famOf[e] != family) continue;
                    if (observed != null && observed.TryGetValue(ls[e].Name ?? "", out var obs)
                        && pool.TryKeep(obs.From, obs.To, out var block, out bool sw) && used.Add(block))
                    {
                        blockOf[e] = block;
                        swapped[e] = sw;
                    }
                    else
                    {
                        pending.Add(e);
                    }
                }

                BigInteger next = BigInteger.Zero; // block index relative to the pool
                foreach (int e in pending)
                {
                    while (true)
                    {
                        if (next >= pool.BlockCount)
                            throw new VirtualNetworksException(ErrorIds.AddressPoolExhausted, ErrorKind.LimitsExceeded, pool.Text,
                                "Address pool " + pool.Text + " is exhausted: it holds " + pool.BlockCount.ToString(CultureInfo.InvariantCulture)
                                + " /" + pool.LinkPrefix + " link blocks and link '" + ls[e].Name + "' needs one more.")
                            {
                                RecommendedAction = "Configure a larger " + family + " address pool.",
                            };
                        var block = pool.Network + next * 2;
                        next += 1;
                        if (used.Add(block)) { blockOf[e] = block; break; }
                    }
                }
            }

            // ---- text forms ------------------------------------------------------------------------------------------
            var fromAddr = new string[m];
            var toAddr = new string[m];
            var prefix = new string[m];
            var plan = new AddressPlan();
            for (int e = 0; e < m; e++)
            {
                int bytes = famOf[e] == NetworkAddressFamily.IPv4 ? 4 : 16;
                int len = famOf[e] == NetworkAddressFamily.IPv4 ? 31 : 127;
                string even = ToText(blockOf[e], bytes), odd = ToText(blockOf[e] + 1, bytes);
                fromAddr[e] = swapped[e] ? odd : even;
                toAddr[e] = swapped[e] ? even : odd;
                prefix[e] = even + "/" + len.ToString(CultureInfo.InvariantCulture);
                plan.Links[ls[e].Name ?? ""] = (fromAddr[e] + "/" + len.ToString(CultureInfo.InvariantCulture),
                                                toAddr[e] + "/" + len.ToString(CultureInfo.InvariantCulture));
            }

            // ---- adjacency (CSR), each list sorted by (neighbour, link) — both are name ranks -------------------------
            var adjStart = new int[n + 1];
            for (int e = 0; e < m; e++) { adjStart[ef[e] + 1]++; adjStart[et[e] + 1]++; }
            for (int v = 0; v < n; v++) adjStart[v + 1] += adjStart[v];
            var adjNbr = new int[2 * m];
            var adjLink = new int[2 * m];
            {
                var fill = (int[])adjStart.Clone();
                for (int e = 0; e < m; e++)
                {
                    int a = ef[e], b = et[e];
                    adjNbr[fill[a]] = b; adjLink[fill[a]++] = e;
                    adjNbr[fill[b]] = a; adjLink[fill[b]++] = e;
                }
                for (int v = 0; v < n; v++)
                    SortAdjacency(adjNbr, adjLink, adjStart[v], adjStart[v + 1]);
            }

            // Links per component (in name order) for the route loops.
            var compLinks = new List<int>[k];
            for (int e = 0; e < m; e++) (compLinks[comp[ef[e]]] ??= new List<int>()).Add(e);

            // ---- per router: interfaces and routes -------------------------------------------------------------------
            var dist = new int[n];
            var hop = new int[n];   // adjacency slot (in R's list) of the first hop towards each vertex
            var queue = new int[n];
            for (int v = 0; v < n; v++) dist[v] = -1;

            for (int r = 0; r < n; r++)
            {
                var cfg = new RouterConfiguration { RouterName = rs[r].Name ?? "", AddressFamily = rs[r].AddressFamily };
                plan.Routers[cfg.RouterName] = cfg;
                int len = rs[r].AddressFamily == NetworkAddressFamily.IPv4 ? 31 : 127;
                string suffix = "/" + len.ToString(CultureInfo.InvariantCulture);
                if (adjStart[r] == adjStart[r + 1]) continue;

                for (int s = adjStart[r]; s < adjStart[r + 1]; s++)
                {
                    int e = adjLink[s];
                    bool isFrom = ef[e] == r;
                    cfg.Interfaces.Add(new InterfaceConfiguration
                    {
                        LinkName = ls[e].Name ?? "",
                        Address = (isFrom ? fromAddr[e] : toAddr[e]) + suffix,
                        PeerAddress = isFrom ? toAddr[e] : fromAddr[e],
                        PeerRouter = rs[adjNbr[s]].Name ?? "",
                    });
                }
                cfg.Interfaces.Sort((x, y) => NetworkGrouper.CompareNames(x.LinkName, y.LinkName));

                // BFS; neighbours are enqueued in (neighbour, link) order so each level stays ordered by its first hop,
                // hence every vertex inherits the smallest first hop among its shortest paths.
                int tail = 0;
                dist[r] = 0;
                queue[tail++] = r;
                for (int s = adjStart[r]; s < adjStart[r + 1]; s++)
                {
                    int u = adjNbr[s];
                    if (dist[u] >= 0) continue;
                    dist[u] = 1; hop[u] = s; queue[tail++] = u;
                }
                int head = 1;
                while (head < tail)
                {
                    int v = queue[head++];
                    for (int s = adjStart[v]; s < adjStart[v + 1]; s++)
                    {
                        int u = adjNbr[s];
                        if (dist[u] >= 0) continue;
                        dist[u] = dist[v] + 1; hop[u] = hop[v]; queue[tail++] = u;
                    }
                }

                var members = compLinks[comp[r]];
                cfg.Routes.Capacity = members.Count - (adjStart[r + 1] - adjStart[r]); // exact: no self links, so degree = attached links
                foreach (int e in members)
                {
                    int a = ef[e], b = et[e];
                    if (a == r || b == r) continue;
                    int target;
                    if (dist[a] != dist[b]) target = dist[a] < dist[b] ? a : b;
                    else target = hop[a] <= hop[b] ? a : b;
                    int slot = hop[target];
                    int via = adjLink[slot];
                    cfg.Routes.Add(new RouteConfiguration
                    {
                        Destination = prefix[e],
                        NextHop = ef[via] == r ? toAddr[via] : fromAddr[via],
                        LinkName = ls[via].Name ?? "",
                    });
                }

                for (int i = 0; i < tail; i++) dist[queue[i]] = -1;
            }

            return plan;
        }

        private static void SortAdjacency(int[] nbr, int[] link, int start, int end)
        {
            // Insertion sort: adjacency lists are short; keys are (neighbour, link).
            for (int i = start + 1; i < end; i++)
            {
                int kn = nbr[i], kl = link[i];
                int j = i - 1;
                while (j >= start && (nbr[j] > kn || (nbr[j] == kn && link[j] > kl)))
                {
                    nbr[j + 1] = nbr[j]; link[j + 1] = link[j];
                    j--;
                }
                nbr[j + 1] = kn; link[j + 1] = kl;
            }
        }

        private static Dictionary<string, (string? From, string? To)>? NormaliseExisting(IReadOnlyDictionary<string, (string From, string To)>? existing)
        {
            if (existing == null || existing.Count == 0) return null;
            // Keys may come with any comparer; fold case deterministically (ordinal-first key wins).
            var keys = new List<string>();
            foreach (var kv in existing) if (kv.Key != null) keys.Add(kv.Key);
            keys.Sort(string.CompareOrdinal);
            var map = new Dictionary<string, (string?, string?)>(keys.Count, StringComparer.OrdinalIgnoreCase);
            foreach (var key in keys)
                if (!map.ContainsKey(key)) map.Add(key, existing[key]);
            return map;
        }

        internal static string ToText(BigInteger value, int bytes)
        {
            var little = value.ToByteArray();
            var big = new byte[bytes];
            for (int i = 0; i < bytes && i < little.Length; i++) big[bytes - 1 - i] = little[i];
            return new IPAddress(big).ToString();
        }

        internal static BigInteger ToInteger(IPAddress address)
        {
            var big = address.GetAddressBytes();
            var little = new byte[big.Length + 1]; // trailing zero keeps the value non-negative
            for (int i = 0; i < big.Length; i++) little[i] = big[big.Length - 1 - i];
            return new BigInteger(little);
        }

        /// <summary>Parses "address" or "address/length" strictly; null when malformed.</summary>
        internal static IPAddress? ParseAddress(string? text, out int? prefixLength)
        {
            prefixLength = null;
            if (string.IsNullOrWhiteSpace(text)) return null;
            string s = text!.Trim();
            int slash = s.IndexOf('/');
            string addr = slash < 0 ? s : s.Substring(0, slash);
            if (slash >= 0)
            {
                string len = s.Substring(slash + 1);
                if (len.Length == 0 || len.Length > 3) return null;
                foreach (char ch in len) if (ch < '0' || ch > '9') return null;
                prefixLength = int.Parse(len, CultureInfo.InvariantCulture);
            }
            if (addr.IndexOf('%') >= 0) return null; // no scope ids
            if (addr.IndexOf(':') < 0)
            {
                // IPAddress.TryParse accepts legacy forms ("10", "10.1", octal); insist on four decimal octets.
                var parts = addr.Split('.');
                if (parts.Length != 4) return null;
                foreach (var p in parts)
                {
                    if (p.Length == 0 || p.Length > 3) return null;
                    foreach (char ch in p) if (ch < '0' || ch > '9') return null;
                    if (int.Parse(p, CultureInfo.InvariantCulture) > 255) return null;
                }
            }
            if (!IPAddress.TryParse(addr, out var ip)) return null;
            if (prefixLength.HasValue && prefixLength.Value > (ip.AddressFamily == AddressFamily.InterNetwork ? 32 : 128)) return null;
            return ip;
        }

        /// <summary>A parsed pool: network address, prefix length, number of link blocks.</summary>
        private sealed class Pool
        {
            public string Text = "";
            public NetworkAddressFamily Family;
            public BigInteger Network;
            public BigInteger BlockCount;
            public int LinkPrefix;

            public static Pool Parse(string? text, NetworkAddressFamily family)
            {
                string shown = text ?? "";
                int bits = family == NetworkAddressFamily.IPv4 ? 32 : 128;
                var ip = ParseAddress(text, out int? len);
                var expected = family == NetworkAddressFamily.IPv4 ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;
                if (ip == null || len == null)
                    throw Invalid(shown, family, "is not in CIDR notation (address/prefix-length)");
                if (ip.AddressFamily != expected)
                    throw Invalid(shown, family, "is not an " + family + " prefix");
                if (len.Value > bits - 1)
                    throw Invalid(shown, family, "is too small: a link needs a /" + (bits - 1));
                var value = ToInteger(ip);
                var hostMask = (BigInteger.One << (bits - len.Value)) - 1;
                if ((value & hostMask) != 0)
                {
                    string suggestion = ToText(value & ~hostMask & ((BigInteger.One << bits) - 1), bits / 8) + "/" + len.Value.ToString(CultureInfo.InvariantCulture);
                    throw Invalid(shown, family, "has host bits set (did you mean " + suggestion + "?)");
                }
                return new Pool
                {
                    Text = shown,
                    Family = family,
                    Network = value,
                    BlockCount = BigInteger.One << (bits - len.Value - 1),
                    LinkPrefix = bits - 1,
                };
            }

            private static VirtualNetworksException Invalid(string text, NetworkAddressFamily family, string why) =>
                new VirtualNetworksException(ErrorIds.InvalidAddressPool, ErrorKind.InvalidArgument, text,
                    "The " + family + " address pool '" + text + "' " + why + ".")
                {
                    RecommendedAction = family == NetworkAddressFamily.IPv4
                        ? "Use an IPv4 prefix such as " + AddressPools.DefaultIPv4 + "."
                        : "Use an IPv6 prefix such as " + AddressPools.DefaultIPv6 + ".",
                };

            /// <summary>True when the two observed addresses form one link block of this pool.</summary>
            public bool TryKeep(string? from, string? to, out BigInteger block, out bool swapped)
            {
                block = default;
                swapped = false;
                var a = ParseAddress(from, out int? la);
                var b = ParseAddress(to, out int? lb);
                var expected = Family == NetworkAddressFamily.IPv4 ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;
                if (a == null || b == null || a.AddressFamily != expected || b.AddressFamily != expected) return false;
                if ((la.HasValue && la.Value != LinkPrefix) || (lb.HasValue && lb.Value != LinkPrefix)) return false;
                var va = ToInteger(a);
                var vb = ToInteger(b);
                if (va == vb || (va >> 1) != (vb >> 1)) return false;
                block = va & ~BigInteger.One;
                if (block < Network || block >= Network + BlockCount * 2) return false;
                swapped = !va.IsEven;
                return true;
            }
        }
    }
}
