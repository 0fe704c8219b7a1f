using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Threading;
using VirtualNetworks.Engine;
using VirtualNetworks.Topology;
using VirtualNetworks.Util;

namespace VirtualNetworks.Export
{
    /// <summary>
    /// Draws observed state as a graph: Graphviz DOT, Mermaid flowchart, or SVG (DOT rendered by Graphviz).
    /// </summary>
    /// <remarks>
    /// <para>Hosts are boxes (DOT clusters, Mermaid subgraphs) holding their routers; a router's label gives its name,
    /// state and virtual network; a link's label gives its name, bandwidth, VLAN id and, when its ends are on different
    /// hosts, "tunnel" (such links are drawn dashed and thicker). A disabled link (Disable-VirtualLink) is drawn dotted and
    /// red with a "DOWN (cable pulled)" or "DOWN (silent failure)" line in its label. Each virtual network has a colour, taken from a fixed
    /// palette by the network's position in <see cref="Snapshot.Networks"/> (so a network keeps its colour when others
    /// are filtered out), and a legend lists the networks shown.</para>
    /// <para>With a network filter only the routers and links of those networks (names compared case-insensitively)
    /// and the hosts they run on (and, when there are physical links, the hosts their tunnels cross) are drawn; without
    /// one every observed host is drawn, empty or not.</para>
    /// <para>The physical network: when the snapshot has physical links, each host box also holds a node for the machine
    /// itself (its name and underlay address), and the physical links are drawn between those nodes as thick grey
    /// edges labelled "physical", distinct from the virtual links. A cross-host link's label then also names its tunnel
    /// id and, when it crosses more than one physical hop, its underlay path ("via h1 > h2 > h3").</para>
    /// <para>Output is deterministic: hosts, routers and links in name order (ordinal, ignoring case), "\n" line ends.
    /// All text is escaped: DOT IDs and labels are quoted with quotes and backslashes escaped; Mermaid node IDs are
    /// generated ([A-Za-z0-9_] only) and labels are quoted with special characters written as entity codes.</para>
    /// </remarks>
    public static class GraphExporter
    {
        /// <summary>Fill and stroke colours per network (ColorBrewer Set2 fills with matching Dark2 strokes).</summary>
        private static readonly (string Fill, string Stroke)[] Palette =
        {
            ("#66c2a5", "#1b9e77"),
            ("#fc8d62", "#d95f02"),
            ("#8da0cb", "#7570b3"),
            ("#e78ac3", "#e7298a"),
            ("#a6d854", "#66a61e"),
            ("#ffd92f", "#e6ab02"),
            ("#e5c494", "#a6761d"),
            ("#b3b3b3", "#666666"),
        };

        /// <summary>Colours of routers and links whose network is unknown (not in the snapshot).</summary>
        private static readonly (string Fill, string Stroke) Unknown = ("#eeeeee", "#999999");

        /// <summary>Colour of a disabled link (Disable-VirtualLink), whatever its network.</summary>
        internal const string DisabledColor = "#d62728";

        private static readonly TimeSpan DotTimeout = TimeSpan.FromMinutes(2);

        // ================================================================================================ DOT

        /// <summary>The graph in Graphviz DOT (an undirected graph).</summary>
        public static string ToDot(Snapshot snapshot, IReadOnlyCollection<string>? networks)
        {
            var v = new View(snapshot, networks);
            var sb = new StringBuilder();
            sb.Append("graph \"VirtualNetworks\" {\n");
            sb.Append("  graph [rankdir=\"LR\", fontname=\"Helvetica\", fontsize=\"11\", nodesep=\"0.4\", ranksep=\"0.8\"];\n");
            sb.Append("  node [shape=\"box\", style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=\"10\"];\n");
            sb.Append("  edge [fontname=\"Helvetica\", fontsize=\"9\"];\n");

            for (int i = 0; i < v.Hosts.Count; i++)
            {
                var host = v.Hosts[i];
                sb.Append('\n');
                sb.Append("  subgraph \"cluster_host_").Append(Int(i + 1)).Append("\" {\n");
                sb.Append("    label=").Append(DotLabel(HostTitle(host))).Append(";\n");
                sb.Append("    style=\"rounded,dashed\";\n");
                sb.Append("    color=\"#888888\";\n");
                if (v.HasUnderlay)
                {
                    sb.Append("    ").Append(DotId(HostNodeId(host.Name)))
                      .Append(" [label=").Append(DotLabel(HostNodeLines(host)))
                      .Append(", shape=\"box3d\", style=\"filled\", fillcolor=\"#dddddd\", color=\"#555555\"];\n");
                }
                else if (host.Routers.Count == 0)
                {
                    sb.Append("    ").Append(DotId("host-empty:" + Int(i + 1)))
                      .Append(" [label=\"(no routers)\", shape=\"plaintext\", style=\"\"];\n");
                }
                foreach (var r in host.Routers)
                {
                    var c = v.ColorOf(r.NetworkName);
                    sb.Append("    ").Append(DotId(RouterId(r.Name)))
                      .Append(" [label=").Append(DotLabel(RouterLines(r)))
                      .Append(", fillcolor=\"").Append(c.Fill).Append("\", color=\"").Append(c.Stroke).Append("\"];\n");
                }
                sb.Append("  }\n");
            }

            if (v.Missing.Count > 0) sb.Append('\n');
            foreach (var name in v.Missing)
            {
                sb.Append("  ").Append(DotId(RouterId(name)))
                  .Append(" [label=").Append(DotLabel(new[] { name, "(not found)" }))
                  .Append(", style=\"rounded,dashed\", color=\"").Append(Unknown.Stroke).Append("\"];\n");
            }

            if (v.Links.Count > 0) sb.Append('\n');
            foreach (var l in v.Links)
            {
                var c = v.ColorOf(l.NetworkName);
                bool tunnel = v.IsCrossHost(l);
                bool down = l.State != LinkState.Up;
                string stroke = down ? DisabledColor : c.Stroke;
                sb.Append("  ").Append(DotId(RouterId(v.Endpoint(l.From)))).Append(" -- ").Append(DotId(RouterId(v.Endpoint(l.To))))
                  .Append(" [label=").Append(DotLabel(LinkLines(l, tunnel)))
                  .Append(", color=\"").Append(stroke).Append("\", fontcolor=\"").Append(stroke).Append('"');
                // A disabled link is dotted and red (tunnels are dashed): both can be told apart at a glance.
                sb.Append(down ? (tunnel ? ", style=\"dotted\", penwidth=\"2.5\"" : ", style=\"dotted\", penwidth=\"1.5\"")
                               : tunnel ? ", style=\"dashed\", penwidth=\"2.5\"" : ", penwidth=\"1.5\"");
                sb.Append("];\n");
            }

            if (v.Physical.Count > 0) sb.Append('\n');
            foreach (var p in v.Physical)
            {
                sb.Append("  ").Append(DotId(HostNodeId(p.From))).Append(" -- ").Append(DotId(HostNodeId(p.To)))
                  .Append(" [label=").Append(DotLabel(PhysicalLines(p)))
                  .Append(", color=\"#555555\", fontcolor=\"#555555\", style=\"bold\", penwidth=\"4\"];\n");
            }

            if (v.Networks.Count > 0)
            {
                sb.Append('\n');
                sb.Append("  subgraph \"cluster_legend\" {\n");
                sb.Append("    label=\"Virtual networks\";\n");
                sb.Append("    style=\"rounded\";\n");
                sb.Append("    color=\"#888888\";\n");
                for (int i = 0; i < v.Networks.Count; i++)
                {
                    var n = v.Networks[i];
                    var c = v.ColorOf(n.Name);
                    sb.Append("    ").Append(DotId("legend:" + Int(i + 1)))
                      .Append(" [label=").Append(DotLabel(NetworkLines(n)))
                      .Append(", fillcolor=\"").Append(c.Fill).Append("\", color=\"").Append(c.Stroke).Append("\"];\n");
                }
                sb.Append("  }\n");
            }
            sb.Append("}\n");
            return sb.ToString();
        }

        private static string RouterId(string name) => "router:" + name;

        private static string HostNodeId(string name) => "host:" + name;

        /// <summary>A quoted DOT ID: quotes and backslashes escaped, line breaks as \n, other control characters as spaces.</summary>
        internal static string DotId(string text) => "\"" + DotEscape(text) + "\"";

        /// <summary>A quoted DOT label of several centred lines.</summary>
        internal static string DotLabel(IEnumerable<string> lines) => "\"" + string.Join("\\n", lines.Select(DotEscape)) + "\"";

        private static string DotLabel(string line) => DotLabel(new[] { line });

        private static string DotEscape(string text)
        {
            var sb = new StringBuilder(text.Length);
            foreach (char c in text)
            {
                switch (c)
                {
                    case '\\': sb.Append("\\\\"); break;
                    case '"': sb.Append("\\\""); break;
                    case '\n': sb.Append("\\n"); break;
                    case '\r': break;
                    default: sb.Append(c < ' ' || c == '\x7f' ? ' ' : c); break;
                }
            }
            return sb.ToString();
        }

        // ================================================================================================ Mermaid

        /// <summary>The graph as a Mermaid flowchart.</summary>
        public static string ToMermaid(Snapshot snapshot, IReadOnlyCollection<string>? networks)
        {
            var v = new View(snapshot, networks);
            var ids = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            var classes = new SortedDictionary<int, List<string>>(); // colour index (-1 = unknown) -> node ids
            int counter = 0;

            string NodeId(string routerName)
            {
                if (!ids.TryGetValue(routerName, out var id))
                    ids[routerName] = id = "r" + Int(++counter) + "_" + MermaidSanitize(routerName);
                return id;
            }

            void Classify(string id, string networkName)
            {
                int k = v.ColorIndexOf(networkName);
                if (!classes.TryGetValue(k, out var list)) classes[k] = list = new List<string>();
                list.Add(id);
            }

            var hostNodes = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            string HostNode(string hostName)
            {
                if (!hostNodes.TryGetValue(hostName, out var id))
                    hostNodes[hostName] = id = "h" + Int(hostNodes.Count + 1) + "_" + MermaidSanitize(hostName);
                return id;
            }

            var sb = new StringBuilder();
            sb.Append("flowchart LR\n");
            for (int i = 0; i < v.Hosts.Count; i++)
            {
                var host = v.Hosts[i];
                string hostId = "host_" + Int(i + 1);
                sb.Append("  subgraph ").Append(hostId).Append('[').Append(MermaidLabel(HostTitle(host))).Append("]\n");
                if (v.HasUnderlay)
                    sb.Append("    ").Append(HostNode(host.Name)).Append("{{").Append(MermaidLabel(HostNodeLines(host))).Append("}}\n");
                else if (host.Routers.Count == 0)
                    sb.Append("    ").Append(hostId).Append("_empty[\"(no routers)\"]\n");
                foreach (var r in host.Routers)
                {
                    string id = NodeId(r.Name);
                    sb.Append("    ").Append(id).Append('[').Append(MermaidLabel(RouterLines(r))).Append("]\n");
                    Classify(id, r.NetworkName);
                }
                sb.Append("  end\n");
            }

            foreach (var name in v.Missing)
            {
                string id = NodeId(name);
                sb.Append("  ").Append(id).Append('[').Append(MermaidLabel(new[] { name, "(not found)" })).Append("]\n");
            }

            var linkStyles = new List<string>();
            foreach (var l in v.Links)
            {
                bool tunnel = v.IsCrossHost(l);
                sb.Append("  ").Append(NodeId(v.Endpoint(l.From)))
                  .Append(tunnel ? " -.-|" : " ---|").Append(MermaidLabel(LinkLines(l, tunnel))).Append("| ")
                  .Append(NodeId(v.Endpoint(l.To))).Append('\n');
                linkStyles.Add(l.State != LinkState.Up
                    ? "stroke:" + DisabledColor + (tunnel ? ",stroke-width:4px" : ",stroke-width:2px") + ",stroke-dasharray:2 4"
                    : "stroke:" + v.ColorOf(l.NetworkName).Stroke + (tunnel ? ",stroke-width:4px" : ",stroke-width:2px"));
            }

            foreach (var p in v.Physical)
            {
                sb.Append("  ").Append(HostNode(p.From)).Append(" ===|").Append(MermaidLabel(PhysicalLines(p))).Append("| ")
                  .Append(HostNode(p.To)).Append('\n');
                linkStyles.Add("stroke:#555555,stroke-width:6px");
            }

            if (v.Networks.Count > 0)
            {
                sb.Append("  subgraph legend[\"Virtual networks\"]\n");
                for (int i = 0; i < v.Networks.Count; i++)
                {
                    string id = "legend_" + Int(i + 1);
                    sb.Append("    ").Append(id).Append('[').Append(MermaidLabel(NetworkLines(v.Networks[i]))).Append("]\n");
                    Classify(id, v.Networks[i].Name);
                }
                sb.Append("  end\n");
            }

            foreach (var kv in classes)
            {
                var c = kv.Key < 0 ? Unknown : Palette[kv.Key % Palette.Length];
                string cls = kv.Key < 0 ? "vnUnknown" : "vn" + Int(kv.Key + 1);
                sb.Append("  classDef ").Append(cls).Append(" fill:").Append(c.Fill).Append(",stroke:").Append(c.Stroke).Append(",color:#000000\n");
                sb.Append("  class ").Append(string.Join(",", kv.Value)).Append(' ').Append(cls).Append('\n');
            }
            for (int i = 0; i < linkStyles.Count; i++)
                sb.Append("  linkStyle ").Append(Int(i)).Append(' ').Append(linkStyles[i]).Append('\n');
            return sb.ToString();
        }

        /// <summary>Letters, digits and '_' kept; anything else becomes '_'.</summary>
        internal static string MermaidSanitize(string text)
        {
            var sb = new StringBuilder(text.Length);
            foreach (char c in text)
                sb.Append((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ? c : '_');
            return sb.ToString();
        }

        /// <summary>A quoted Mermaid label of several lines (joined with &lt;br/&gt;); special characters as entity codes.</summary>
        internal static string MermaidLabel(IEnumerable<string> lines) => "\"" + string.Join("<br/>", lines.Select(MermaidEscape)) + "\"";

        private static string MermaidLabel(string line) => MermaidLabel(new[] { line });

        private static string MermaidEscape(string text)
        {
            var sb = new StringBuilder(text.Length);
            foreach (char c in text)
            {
                switch (c)
                {
                    case '"': sb.Append("#quot;"); break;
                    case '#': sb.Append("#35;"); break;
                    case '&': sb.Append("#amp;"); break;
                    case '<': sb.Append("#lt;"); break;
                    case '>': sb.Append("#gt;"); break;
                    case '`': sb.Append("#96;"); break;
                    case '|': sb.Append("#124;"); break;
                    case '%': sb.Append("#37;"); break; // no "%%" comments or directives
                    case '\n': sb.Append("<br/>"); break;
                    case '\r': break;
                    default: sb.Append(c < ' ' || c == '\x7f' ? ' ' : c); break;
                }
            }
            return sb.ToString();
        }

        // ================================================================================================ SVG

        /// <summary>
        /// The graph as SVG, rendered by Graphviz (<c>dot -Tsvg</c>, the DOT text on its standard input).
        /// </summary>
        /// <exception cref="VirtualNetworksException">GraphvizNotInstalled when <c>dot</c> is not in PATH; ExportFailed when
        /// it fails; BackendOperationFailed/OperationTimeout when it runs too long.</exception>
        public static string ToSvg(Snapshot snapshot, IReadOnlyCollection<string>? networks, CancellationToken cancellationToken) =>
            ToSvg(snapshot, networks, ProcessRunner.FindExecutable("dot"), cancellationToken);

        internal static string ToSvg(Snapshot snapshot, IReadOnlyCollection<string>? networks, string? dotPath, CancellationToken cancellationToken)
        {
            string dot = ToDot(snapshot, networks);
            if (string.IsNullOrEmpty(dotPath))
                throw new VirtualNetworksException(ErrorIds.GraphvizNotInstalled, ErrorKind.NotInstalled, "dot",
                    "SVG export needs Graphviz, but its 'dot' program was not found in PATH. Install the 'graphviz' package " +
                    "(apt-get install graphviz; on Windows: winget install Graphviz.Graphviz), or export DOT or Mermaid instead.")
                {
                    RecommendedAction = "Install the 'graphviz' package (apt-get install graphviz), or use the DOT or Mermaid format.",
                };

            var result = ProcessRunner.Run(dotPath!, new[] { "-Tsvg" }, dot, DotTimeout, null, cancellationToken);
            if (!result.Succeeded) throw ProcessRunner.Failure(result, "dot", ErrorIds.ExportFailed);
            if (result.StdOut.IndexOf("<svg", StringComparison.Ordinal) < 0)
                throw new VirtualNetworksException(ErrorIds.ExportFailed, ErrorKind.InvalidResult, "dot",
                    "Graphviz (" + result.CommandLine + ") exited normally but wrote no SVG.");
            return result.StdOut;
        }

        // ================================================================================================ content

        private static string Int(int i) => i.ToString(CultureInfo.InvariantCulture);

        private static string HostTitle(HostView h) => string.IsNullOrEmpty(h.Kind) ? "host " + h.Name : "host " + h.Name + " (" + h.Kind + ")";

        private static string[] RouterLines(VirtualRouter r) =>
            new[] { r.Name, r.State.ToString(), string.IsNullOrEmpty(r.NetworkName) ? "(no network)" : r.NetworkName };

        private static List<string> LinkLines(VirtualLink l, bool tunnel)
        {
            var lines = new List<string> { l.Name, Bandwidth.Format(l.MaximumBandwidth) };
            if (l.State != LinkState.Up) lines.Add("DOWN (" + Planning.Planner.Describe(l.State) + ")");
            if (l.VlanId.HasValue) lines.Add("VLAN " + Int(l.VlanId.Value));
            if (tunnel)
            {
                string id = l.TunnelId.HasValue ? " " + Int(l.TunnelId.Value) : "";
                lines.Add(l.Transport == LinkTransport.Unknown ? "tunnel" + id : "tunnel" + id + " (" + l.Transport + ")");
                if (l.UnderlayPath.Count > 2) lines.Add("via " + string.Join(" > ", l.UnderlayPath));
            }
            return lines;
        }

        private static List<string> HostNodeLines(HostView h)
        {
            var lines = new List<string> { h.Name };
            if (!string.IsNullOrEmpty(h.UnderlayAddress)) lines.Add(h.UnderlayAddress!);
            if (h.IsLabHost) lines.Add("lab host");
            return lines;
        }

        private static List<string> PhysicalLines(PhysicalLink p)
        {
            var lines = new List<string> { "physical" };
            if (!string.IsNullOrEmpty(p.FromAddress) || !string.IsNullOrEmpty(p.ToAddress))
                lines.Add((p.FromAddress ?? "?") + " - " + (p.ToAddress ?? "?"));
            return lines;
        }

        private static string[] NetworkLines(VirtualNetwork n)
        {
            string family = n.AddressFamily.HasValue ? n.AddressFamily.Value.ToString() : "mixed";
            return new[]
            {
                n.Name,
                family + ", " + Count(n.Routers.Count, "router") + ", " + Count(n.Links.Count, "link"),
            };
        }

        private static string Count(int n, string noun) => Int(n) + " " + noun + (n == 1 ? "" : "s");

        private sealed class HostView
        {
            public string Name = "";
            public string? Kind;
            public string? UnderlayAddress;
            public bool IsLabHost;
            public List<VirtualRouter> Routers = new List<VirtualRouter>();
        }

        /// <summary>What is drawn: the selected networks, hosts with their routers, links, and unresolved link ends.</summary>
        private sealed class View
        {
            private readonly Dictionary<string, int> _colorIndex = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
            private readonly Dictionary<string, VirtualRouter> _routers = new Dictionary<string, VirtualRouter>(StringComparer.OrdinalIgnoreCase);
            private readonly Dictionary<string, string> _missing = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

            public List<VirtualNetwork> Networks { get; } = new List<VirtualNetwork>();
            public List<HostView> Hosts { get; } = new List<HostView>();
            public List<VirtualLink> Links { get; }
            public List<string> Missing { get; }
            /// <summary>Physical links whose two hosts are drawn, each once, ends as the drawn hosts spell them, sorted.</summary>
            public List<PhysicalLink> Physical { get; } = new List<PhysicalLink>();
            /// <summary>True when the snapshot has physical links: hosts get a node of their own.</summary>
            public bool HasUnderlay { get; }

            public View(Snapshot snapshot, IReadOnlyCollection<string>? filter)
            {
                if (snapshot == null) throw new ArgumentNullException(nameof(snapshot));
                var wanted = filter == null ? null : new HashSet<string>(filter, StringComparer.OrdinalIgnoreCase);
                bool Wanted(string? vn) => wanted == null || wanted.Contains(vn ?? "");

                for (int i = 0; i < snapshot.Networks.Count; i++)
                {
                    var n = snapshot.Networks[i];
                    if (!_colorIndex.ContainsKey(n.Name)) _colorIndex[n.Name] = i;
                    if (Wanted(n.Name)) Networks.Add(n);
                }

                var hosts = new Dictionary<string, HostView>(StringComparer.OrdinalIgnoreCase);
                HostView HostOf(string name)
                {
                    if (!hosts.TryGetValue(name, out var h)) hosts[name] = h = new HostView { Name = name };
                    return h;
                }
                if (wanted == null)
                    foreach (var h in snapshot.Inventory.Hosts)
                        HostOf(HostKey(h.Name)); // every observed host, even without routers

                foreach (var r in snapshot.Routers.Where(r => Wanted(r.NetworkName)))
                {
                    if (_routers.ContainsKey(r.Name)) continue; // duplicate names: draw the first
                    _routers[r.Name] = r;
                    HostOf(HostKey(r.ComputerName)).Routers.Add(r);
                }
                HasUnderlay = snapshot.Inventory.PhysicalLinks.Count > 0;
                if (HasUnderlay && wanted != null)
                    foreach (var l in snapshot.Links.Where(l => Wanted(l.NetworkName)))
                        foreach (var h in l.UnderlayPath)
                            HostOf(HostKey(h)); // the hosts the shown tunnels cross
                foreach (var h in snapshot.Inventory.Hosts)
                    if (hosts.TryGetValue(HostKey(h.Name), out var hv))
                    {
                        if (hv.Kind == null && !string.IsNullOrEmpty(h.Kind)) hv.Kind = h.Kind;
                        hv.UnderlayAddress ??= h.UnderlayAddress;
                        hv.IsLabHost |= h.IsLabHost;
                    }

                foreach (var h in hosts.Values)
                    h.Routers.Sort((a, b) => CompareNames(a.Name, b.Name));
                Hosts.AddRange(hosts.Values.OrderBy(h => h.Name, StringComparer.OrdinalIgnoreCase).ThenBy(h => h.Name, StringComparer.Ordinal));

                Links = snapshot.Links.Where(l => Wanted(l.NetworkName)).ToList();
                Links.Sort((a, b) => CompareNames(a.Name, b.Name));
                foreach (var l in Links)
                    foreach (var end in new[] { l.From, l.To })
                        if (!_routers.ContainsKey(end ?? "") && !_missing.ContainsKey(end ?? ""))
                            _missing[end ?? ""] = end ?? "";
                Missing = _missing.Values.OrderBy(n => n, StringComparer.OrdinalIgnoreCase).ThenBy(n => n, StringComparer.Ordinal).ToList();

                var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
                foreach (var p in snapshot.Inventory.PhysicalLinks)
                {
                    if (!hosts.TryGetValue(HostKey(p.From), out var a) || !hosts.TryGetValue(HostKey(p.To), out var b)) continue;
                    bool swap = CompareNames(a.Name, b.Name) > 0;
                    var drawn = new PhysicalLink
                    {
                        From = swap ? b.Name : a.Name,
                        To = swap ? a.Name : b.Name,
                        FromAddress = swap ? p.ToAddress : p.FromAddress,
                        ToAddress = swap ? p.FromAddress : p.ToAddress,
                        Id = p.Id,
                    };
                    if (seen.Add(drawn.Name)) Physical.Add(drawn);
                }
                Physical.Sort((x, y) => { int c = CompareNames(x.From, y.From); return c != 0 ? c : CompareNames(x.To, y.To); });
            }

            private static string HostKey(string? host) => string.IsNullOrEmpty(host) ? HostNames.LocalName : host!;

            private static int CompareNames(string a, string b)
            {
                int c = StringComparer.OrdinalIgnoreCase.Compare(a, b);
                return c != 0 ? c : StringComparer.Ordinal.Compare(a, b);
            }

            /// <summary>The drawn spelling of a link end (the router's own name, whatever case the link uses).</summary>
            public string Endpoint(string? name)
            {
                name ??= "";
                return _routers.TryGetValue(name, out var r) ? r.Name : _missing.TryGetValue(name, out var m) ? m : name;
            }

            public bool IsCrossHost(VirtualLink l)
            {
                if (_routers.TryGetValue(l.From ?? "", out var a) && _routers.TryGetValue(l.To ?? "", out var b))
                    return !string.Equals(HostKey(a.ComputerName), HostKey(b.ComputerName), StringComparison.OrdinalIgnoreCase);
                return l.IsCrossHost;
            }

            public int ColorIndexOf(string? network) =>
                network != null && _colorIndex.TryGetValue(network, out int i) ? i % Palette.Length : -1;

            public (string Fill, string Stroke) ColorOf(string? network)
            {
                int i = ColorIndexOf(network);
                return i < 0 ? Unknown : Palette[i];
            }
        }
    }
}
