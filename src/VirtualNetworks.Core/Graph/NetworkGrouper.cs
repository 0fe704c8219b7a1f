using System;
using System.Collections.Generic;
using System.Text;

namespace VirtualNetworks.Graph
{
    /// <summary>Result of grouping: the networks, and for each router/link the name of its network.</summary>
    public sealed class GroupingResult
    {
        public List<VirtualNetwork> Networks { get; set; } = new List<VirtualNetwork>();
        public Dictionary<string, string> NetworkOfRouter { get; set; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        public Dictionary<string, string> NetworkOfLink { get; set; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>
    /// Virtual networks are the connected components of the router/link graph (computed, never declared). Naming: the
    /// routers' common label; several labels (a forced merge) joined with '+' in ordinal-ignore-case order; unlabelled
    /// components get "vn-" + their smallest router name (lower case). Same-named components get "#2", "#3", ... in order
    /// of their smallest router name. Links whose ends are unknown routers are ignored for grouping.
    /// </summary>
    /// <remarks>
    /// The result depends only on the set of routers and links, never on their order: routers are numbered in
    /// ordinal-ignore-case name order before the components are computed, so component k's first vertex is its smallest
    /// router name and components come out ordered by smallest router name.
    /// </remarks>
    public static class NetworkGrouper
    {
        /// <summary>Separator between labels in the name of a network that joins several labelled groups.</summary>
        public const string LabelSeparator = "+";

        /// <summary>Prefix of the generated name of an unlabelled network.</summary>
        public const string UnlabelledPrefix = "vn-";

        /// <summary>Groups observed routers and links; also fills NetworkName on the given objects.</summary>
        public static GroupingResult Group(IReadOnlyList<VirtualRouter> routers, IReadOnlyList<VirtualLink> links)
        {
            if (routers == null) throw new ArgumentNullException(nameof(routers));
            if (links == null) throw new ArgumentNullException(nameof(links));

            var cmpI = StringComparer.OrdinalIgnoreCase;
            int routerCount = routers.Count, linkCount = links.Count;

            var sortedRouters = new VirtualRouter[routerCount];
            var routerInput = new int[routerCount];      // index in sortedRouters -> input position
            for (int i = 0; i < routerCount; i++)
            {
                sortedRouters[i] = routers[i] ?? throw new ArgumentException("The router list contains a null entry.", nameof(routers));
                routerInput[i] = i;
            }
            var sortedLinks = new VirtualLink[linkCount];
            var linkInput = new int[linkCount];          // index in sortedLinks -> input position
            for (int i = 0; i < linkCount; i++)
            {
                sortedLinks[i] = links[i] ?? throw new ArgumentException("The link list contains a null entry.", nameof(links));
                linkInput[i] = i;
            }

            // Two independent jobs: (1) sort routers and links by name; (2) resolve link ends to input positions of
            // routers through a name table, in input order (objects and their strings usually lie in memory in that
            // order). Large inputs run them on two threads; each writes only its own arrays, so the result is the same.
            var ends = new long[linkCount];              // per input link: (from << 32 | to) router input positions; -1 = unknown end
            void SortJob()
            {
                Array.Sort(sortedRouters, routerInput, RouterComparer.Instance);
                Array.Sort(sortedLinks, linkInput, LinkComparer.Instance);
            }
            void ResolveJob()
            {
                var table = new NameTable(routerCount);
                for (int i = 0; i < routerCount; i++) table.TryAdd(routers[i].Name ?? "", i);
                for (int i = 0; i < linkCount; i++)
                {
                    var l = links[i];
                    int a = table.Find(l.From ?? ""), b = a < 0 ? -1 : table.Find(l.To ?? "");
                    ends[i] = b < 0 ? -1L : ((long)a << 32) | (uint)b;
                }
            }
            RunBoth(SortJob, ResolveJob, routerCount + linkCount);

            // ---- routers -> vertices, numbered in name order (duplicated names share one vertex) -------------------
            var vertexOfRouter = new int[routerCount];          // index in sortedRouters -> vertex
            var vertexOfInput = new int[routerCount];           // input position -> vertex
            var vertexFirstRouter = new List<int>(routerCount); // vertex -> first index in sortedRouters
            for (int i = 0; i < routerCount; i++)
            {
                int v;
                if (i > 0 && cmpI.Equals(sortedRouters[i].Name ?? "", sortedRouters[i - 1].Name ?? ""))
                {
                    v = vertexOfRouter[i - 1];
                }
                else
                {
                    v = vertexFirstRouter.Count;
                    vertexFirstRouter.Add(i);
                }
                vertexOfRouter[i] = v;
                vertexOfInput[routerInput[i]] = v;
            }
            int n = vertexFirstRouter.Count;

            // ---- links -> edges, in name order; links with an unknown end are ignored --------------------------------
            var keptLink = new int[linkCount]; // edge -> index in sortedLinks
            int m = 0;
            for (int i = 0; i < linkCount; i++)
                if (ends[linkInput[i]] >= 0) keptLink[m++] = i;
            var from = new int[m];
            var to = new int[m];
            for (int e = 0; e < m; e++)
            {
                long pair = ends[linkInput[keptLink[e]]];
                from[e] = vertexOfInput[(int)(pair >> 32)];
                to[e] = vertexOfInput[(int)(pair & 0xFFFFFFFFL)];
            }
            ends = null!;

            var comp = Components(n, from, to, out int k);

            // ---- bucket vertices and links per component (counting sort keeps the name order) -----------------------
            var vertexStart = BucketStarts(comp, n, k);
            var vertexOrder = new int[n];
            {
                var fill = (int[])vertexStart.Clone();
                for (int v = 0; v < n; v++) vertexOrder[fill[comp[v]]++] = v;
            }
            var linkComp = new int[m];
            for (int e = 0; e < m; e++) linkComp[e] = comp[from[e]];
            var linkStart = BucketStarts(linkComp, m, k);
            var linkOrder = new int[m];
            {
                var fill = (int[])linkStart.Clone();
                for (int e = 0; e < m; e++) linkOrder[fill[linkComp[e]]++] = e;
            }

            // ---- per component: labels, hosts, family ----------------------------------------------------------------
            var labelIds = new Dictionary<string, int>(cmpI);
            var labelStamp = new List<int>();
            var hostIds = new Dictionary<string, int>(cmpI);
            var hostStamp = new List<int>();
            var networks = new VirtualNetwork[k];
            var baseNames = new string[k];

            for (int c = 0; c < k; c++)
            {
                var labels = new List<string>();
                var hosts = new List<string>();
                NetworkAddressFamily? family = null;
                bool mixed = false;
                var members = new string[vertexStart[c + 1] - vertexStart[c]];
                for (int p = vertexStart[c]; p < vertexStart[c + 1]; p++)
                {
                    int v = vertexOrder[p];
                    int first = vertexFirstRouter[v];
                    members[p - vertexStart[c]] = sortedRouters[first].Name ?? "";
                    for (int i = first; i < sortedRouters.Length && vertexOfRouter[i] == v; i++)
                    {
                        var r = sortedRouters[i];
                        if (!string.IsNullOrEmpty(r.NetworkLabel))
                            AddDistinct(labelIds, labelStamp, r.NetworkLabel!, c, labels);
                        if (!string.IsNullOrEmpty(r.ComputerName))
                            AddDistinct(hostIds, hostStamp, r.ComputerName, c, hosts);
                        if (family == null && !mixed) family = r.AddressFamily;
                        else if (family != r.AddressFamily) { mixed = true; family = null; }
                    }
                }
                labels.Sort(CompareNames);
                hosts.Sort(CompareNames);

                var linkNames = new List<string>(linkStart[c + 1] - linkStart[c]);
                string? previous = null;
                for (int p = linkStart[c]; p < linkStart[c + 1]; p++)
                {
                    string name = sortedLinks[keptLink[linkOrder[p]]].Name ?? "";
                    if (previous != null && cmpI.Equals(previous, name)) continue;
                    linkNames.Add(name);
                    previous = name;
                }

                string baseName = labels.Count == 1 ? labels[0]
                    : labels.Count > 1 ? string.Join(LabelSeparator, labels)
                    : UnlabelledPrefix + members[0].ToLowerInvariant();
                baseNames[c] = baseName;
                networks[c] = new VirtualNetwork
                {
                    BaseName = baseName,
                    Routers = members,
                    Links = linkNames.ToArray(),
                    Hosts = hosts.ToArray(),
                    Labels = labels.ToArray(),
                    AddressFamily = family,
                };
            }

            // ---- unique names: the component with the smallest router keeps the name, the others get #2, #3, ... ---
            var taken = new HashSet<string>(baseNames, cmpI);
            var assigned = new HashSet<string>(cmpI);
            var nextSuffix = new Dictionary<string, int>(cmpI);
            for (int c = 0; c < k; c++) // components are in order of their smallest router name
            {
                string name = baseNames[c];
                if (assigned.Add(name))
                {
                    networks[c].Name = name;
                    continue;
                }
                nextSuffix.TryGetValue(name, out int s);
                if (s < 2) s = 2;
                string candidate;
                while (true)
                {
                    candidate = name + "#" + s.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    s++;
                    // A suffixed name never takes a name some component carries on its own.
                    if (!taken.Contains(candidate) && assigned.Add(candidate)) break;
                }
                nextSuffix[name] = s;
                networks[c].Name = candidate;
            }

            var fragments = new Dictionary<string, int>(cmpI);
            foreach (var b in baseNames) fragments[b] = fragments.TryGetValue(b, out int f) ? f + 1 : 1;
            for (int c = 0; c < k; c++) networks[c].FragmentCount = fragments[baseNames[c]];

            // ---- write back, in input order (kinder to the cache); routers and links on two threads when large ----
            var result = new GroupingResult();
            var ofRouter = new Dictionary<string, string>(n, cmpI);
            var ofLink = new Dictionary<string, string>(m, cmpI);
            void RouterJob()
            {
                var sortedOfInput = new int[routerCount];
                for (int i = 0; i < routerCount; i++) sortedOfInput[routerInput[i]] = i;
                for (int pos = 0; pos < routerCount; pos++)
                {
                    var r = routers[pos];
                    int v = vertexOfInput[pos];
                    string vn = networks[comp[v]].Name;
                    r.NetworkName = vn;
                    // The key is the spelling of the vertex's first router in name order; keys are distinct.
                    if (vertexFirstRouter[v] == sortedOfInput[pos]) ofRouter.Add(r.Name ?? "", vn);
                }
            }
            void LinkJob()
            {
                var compOfInput = new int[linkCount];
                for (int i = 0; i < linkCount; i++) compOfInput[i] = -1;
                for (int e = 0; e < m; e++) compOfInput[linkInput[keptLink[e]]] = comp[from[e]];
                for (int pos = 0; pos < linkCount; pos++)
                {
                    var l = links[pos];
                    int c = compOfInput[pos];
                    if (c < 0) { l.NetworkName = ""; continue; }
                    string vn = networks[c].Name;
                    l.NetworkName = vn;
                    ofLink[l.Name ?? ""] = vn;
                }
                if (ofLink.Count != m)
                {
                    // Several links share a name: the first in name order (with its tie-breaks) wins, whatever the input order.
                    ofLink.Clear();
                    for (int e = 0; e < m; e++)
                    {
                        string name = sortedLinks[keptLink[e]].Name ?? "";
                        if (!ofLink.ContainsKey(name)) ofLink.Add(name, networks[comp[from[e]]].Name);
                    }
                }
            }
            RunBoth(RouterJob, LinkJob, routerCount + linkCount);
            result.NetworkOfRouter = ofRouter;
            result.NetworkOfLink = ofLink;

            Array.Sort(networks, (x, y) => CompareNames(x.Name, y.Name));
            result.Networks = new List<VirtualNetwork>(networks);
            return result;
        }

        /// <summary>Core algorithm on an integer graph: component index (0..k-1, in order of first vertex) per vertex.</summary>
        /// <remarks>
        /// Iterative union-find with path halving and union by size, then one relabelling pass. Allocates two int arrays
        /// of <paramref name="vertexCount"/> elements (the returned one included); O((n + m) α(n)).
        /// </remarks>
        public static int[] Components(int vertexCount, int[] from, int[] to, out int componentCount)
        {
            if (vertexCount < 0) throw new ArgumentOutOfRangeException(nameof(vertexCount));
            if (from == null) throw new ArgumentNullException(nameof(from));
            if (to == null) throw new ArgumentNullException(nameof(to));
            if (from.Length != to.Length) throw new ArgumentException("from and to must have the same length.", nameof(to));

            var parent = new int[vertexCount];
            var size = new int[vertexCount];
            for (int v = 0; v < parent.Length; v++) { parent[v] = v; size[v] = 1; }

            uint n = (uint)vertexCount;
            for (int e = 0; e < from.Length; e++)
            {
                int a = from[e], b = to[e];
                if ((uint)a >= n) throw new ArgumentOutOfRangeException(nameof(from), "Edge " + e + " starts at vertex " + a + ", outside 0.." + (vertexCount - 1) + ".");
                if ((uint)b >= n) throw new ArgumentOutOfRangeException(nameof(to), "Edge " + e + " ends at vertex " + b + ", outside 0.." + (vertexCount - 1) + ".");

                int ra = Find(parent, a), rb = Find(parent, b);
                if (ra == rb) continue;
                if (size[ra] < size[rb]) { int t = ra; ra = rb; rb = t; }
                parent[rb] = ra;
                size[ra] += size[rb];
            }

            // Pass 1: point every vertex at its root (still a valid forest). Pass 2: each root gets the next label when
            // first met, kept in size[] as ~label (sizes are positive, so a negative entry means "labelled"); parent[]
            // is overwritten in place with the labels, which is safe because pass 2 reads only parent[v] itself.
            for (int v = 0; v < parent.Length; v++) parent[v] = Find(parent, v);
            int k = 0;
            for (int v = 0; v < parent.Length; v++)
            {
                int r = parent[v];
                int s = size[r];
                if (s >= 0) { s = ~k; size[r] = s; k++; }
                parent[v] = ~s;
            }

            componentCount = k;
            return parent;
        }

        private static int Find(int[] parent, int v)
        {
            while (true)
            {
                int p = parent[v];
                if (p == v) return v;
                int gp = parent[p];
                parent[v] = gp; // path halving
                v = gp;
            }
        }

        private static int[] BucketStarts(int[] keys, int count, int buckets)
        {
            var start = new int[buckets + 1];
            for (int i = 0; i < count; i++) start[keys[i] + 1]++;
            for (int c = 0; c < buckets; c++) start[c + 1] += start[c];
            return start;
        }

        private static void AddDistinct(Dictionary<string, int> ids, List<int> stamps, string value, int component, List<string> into)
        {
            if (!ids.TryGetValue(value, out int id))
            {
                id = stamps.Count;
                ids.Add(value, id);
                stamps.Add(-1);
            }
            if (stamps[id] == component) return;
            stamps[id] = component;
            into.Add(value); // first-seen spelling within this component (routers visited in name order)
        }

        /// <summary>Ordinal-ignore-case, then ordinal so that spellings differing only in case still sort stably.</summary>
        internal static int CompareNames(string? x, string? y)
        {
            int c = StringComparer.OrdinalIgnoreCase.Compare(x, y);
            return c != 0 ? c : string.CompareOrdinal(x, y);
        }

        /// <summary>Inputs smaller than this run on one thread.</summary>
        internal const int ParallelThreshold = 50_000;

        /// <summary>Runs two independent jobs, on two threads when the input is large; rethrows the first failure.</summary>
        private static void RunBoth(Action first, Action second, int size)
        {
            if (size < ParallelThreshold || Environment.ProcessorCount < 2)
            {
                first();
                second();
                return;
            }
            var other = System.Threading.Tasks.Task.Run(second);
            try { first(); }
            finally
            {
                try { other.Wait(); }
                catch (AggregateException e) when (e.InnerExceptions.Count == 1)
                {
                    System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException!).Throw();
                }
            }
        }

        private sealed class RouterComparer : IComparer<VirtualRouter>
        {
            public static readonly RouterComparer Instance = new RouterComparer();

            public int Compare(VirtualRouter? x, VirtualRouter? y)
            {
                if (ReferenceEquals(x, y)) return 0;
                if (x == null) return -1;
                if (y == null) return 1;
                int c = CompareNames(x.Name, y.Name);
                if (c != 0) return c;
                c = CompareNames(x.ComputerName, y.ComputerName);
                if (c != 0) return c;
                c = CompareNames(x.NetworkLabel, y.NetworkLabel);
                if (c != 0) return c;
                c = ((int)x.AddressFamily).CompareTo((int)y.AddressFamily);
                return c != 0 ? c : CompareNames(x.Id, y.Id);
            }
        }

        private sealed class LinkComparer : IComparer<VirtualLink>
        {
            public static readonly LinkComparer Instance = new LinkComparer();

            public int Compare(VirtualLink? x, VirtualLink? y)
            {
                if (ReferenceEquals(x, y)) return 0;
                if (x == null) return -1;
                if (y == null) return 1;
                int c = CompareNames(x.Name, y.Name);
                if (c != 0) return c;
                c = CompareNames(x.From, y.From);
                if (c != 0) return c;
                c = CompareNames(x.To, y.To);
                return c != 0 ? c : CompareNames(x.Id, y.Id);
            }
        }

        /// <summary>
        /// Open-addressing hash table from names (ordinal-ignore-case) to ints: one probe array of (key, hash, value)
        /// slots, so a lookup touches the slot and the key string only — about a third fewer cache misses than a
        /// Dictionary at a million names. Insert-only; the first value added for a name wins.
        /// </summary>
        internal sealed class NameTable
        {
            private struct Slot
            {
                public string? Key;
                public int Hash;
                public int Value;
            }

            private readonly Slot[] _slots;
            private readonly int _mask;

            public NameTable(int capacity)
            {
                long size = 16;
                while (size < 2L * capacity) size <<= 1;  // load factor <= 1/2
                if (size > 1 << 30) throw new ArgumentOutOfRangeException(nameof(capacity));
                _slots = new Slot[size];
                _mask = (int)size - 1;
            }

            private static int HashOf(string key) => StringComparer.OrdinalIgnoreCase.GetHashCode(key);

            /// <summary>Adds <paramref name="key"/> unless present; false when it was present.</summary>
            public bool TryAdd(string key, int value)
            {
                int h = HashOf(key);
                int i = h & _mask;
                while (true)
                {
                    ref Slot s = ref _slots[i];
                    if (s.Key == null)
                    {
                        s.Key = key;
                        s.Hash = h;
                        s.Value = value;
                        return true;
                    }
                    if (s.Hash == h && string.Equals(s.Key, key, StringComparison.OrdinalIgnoreCase)) return false;
                    i = (i + 1) & _mask;
                }
            }

            /// <summary>The value for <paramref name="key"/>, or -1.</summary>
            public int Find(string key)
            {
                int h = HashOf(key);
                int i = h & _mask;
                while (true)
                {
                    ref Slot s = ref _slots[i];
                    if (s.Key == null) return -1;
                    if (s.Hash == h && string.Equals(s.Key, key, StringComparison.OrdinalIgnoreCase)) return s.Value;
                    i = (i + 1) & _mask;
                }
            }
        }
    }
}
