using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;
using Newtonsoft.Json.Linq;
using VirtualNetworks.Backends;
using VirtualNetworks.Engine;
using VirtualNetworks.Export;
using VirtualNetworks.Topology;
using VirtualNetworks.Util;
using Xunit;

namespace VirtualNetworks.Core.Tests
{
    public class ExportTests
    {
        // ================================================================================================ fixtures

        private static VirtualRouter R(string name, string host, string? label, RouterState state = RouterState.Running,
            NetworkAddressFamily af = NetworkAddressFamily.IPv4) =>
            new VirtualRouter { Name = name, ComputerName = host, NetworkLabel = label, State = state, AddressFamily = af, Image = "router" };

        private static VirtualLink L(string name, string from, string to, string fromHost, string toHost, long? bw = null, int? vlan = null) =>
            new VirtualLink { Name = name, From = from, To = to, FromComputerName = fromHost, ToComputerName = toHost, MaximumBandwidth = bw, VlanId = vlan };

        /// <summary>Two labelled networks across two hosts (one link between hosts), a lone router, and an empty host.</summary>
        private static Snapshot Sample()
        {
            var inv = new BackendInventory();
            inv.Hosts.Add(new VirtualHost { Name = "hv1", Kind = "Linux" });
            inv.Hosts.Add(new VirtualHost { Name = "hv2", Kind = "Linux" });
            inv.Hosts.Add(new VirtualHost { Name = "hv3", Kind = "Linux" });
            inv.Routers.Add(R("r3", "hv2", "red"));
            inv.Routers.Add(R("r1", "hv1", "red"));
            inv.Routers.Add(R("r2", "hv1", "red", RouterState.Paused));
            inv.Routers.Add(R("b1", "hv1", "blue", af: NetworkAddressFamily.IPv6));
            inv.Routers.Add(R("b2", "hv1", "blue", RouterState.Off, NetworkAddressFamily.IPv6));
            inv.Routers.Add(R("lone", "hv2", null));
            inv.Links.Add(L("r1-r2", "r1", "r2", "hv1", "hv1", 10_000_000, 10));
            inv.Links.Add(L("r2-r3", "R2", "r3", "hv1", "hv2", 1_500_000_000));
            inv.Links.Add(L("b1-b2", "b1", "b2", "hv1", "hv1"));
            return new Snapshot(inv);
        }

        private const string Hostile = "evil\"name\\\n] --> x{\"#quot;<b>%%{init}%%|`";

        private static Snapshot HostileSnapshot()
        {
            var inv = new BackendInventory();
            inv.Hosts.Add(new VirtualHost { Name = "h\"1\\", Kind = "Li\"nux" });
            inv.Routers.Add(R(Hostile, "h\"1\\", "lab\"el\\"));
            inv.Routers.Add(R("ok", "h\"1\\", "lab\"el\\"));
            inv.Routers.Add(R("end", "other", "lab\"el\\"));
            inv.Links.Add(L("li\"nk\\", Hostile, "ok", "h\"1\\", "h\"1\\", vlan: 7));
            inv.Links.Add(L("graph", "ok", "end", "h\"1\\", "other"));
            return new Snapshot(inv);
        }

        // ================================================================================================ DOT

        private static readonly Regex DotQuoted = new Regex("\"(?:[^\"\\\\]|\\\\.)*\"", RegexOptions.Singleline);

        /// <summary>The text of every quoted DOT string, unescaped (\n as a newline).</summary>
        private static List<string> DotStrings(string dot) =>
            DotQuoted.Matches(dot).Select(m => Regex.Replace(m.Value.Substring(1, m.Value.Length - 2), "\\\\(.)",
                x => x.Groups[1].Value == "n" ? "\n" : x.Groups[1].Value)).ToList();

        [Fact]
        public void Dot_ContainsEveryHostRouterLinkAndNetwork()
        {
            var s = Sample();
            string dot = GraphExporter.ToDot(s, null);
            var strings = DotStrings(dot);

            Assert.StartsWith("graph \"VirtualNetworks\" {\n", dot);
            Assert.EndsWith("}\n", dot);
            foreach (var h in new[] { "hv1", "hv2", "hv3" }) Assert.Contains("host " + h + " (Linux)", strings);
            foreach (var r in s.Routers) Assert.Contains("router:" + r.Name, strings);
            Assert.Contains("r1\nRunning\nred", strings);
            Assert.Contains("r2\nPaused\nred", strings);
            Assert.Contains("b2\nOff\nblue", strings);
            Assert.Contains("r1-r2\n10 Mbit/s\nVLAN 10", strings);
            Assert.Contains("r2-r3\n1.5 Gbit/s\ntunnel", strings);
            Assert.Contains("b1-b2\nunlimited", strings);
            foreach (var n in s.Networks) Assert.Contains(strings, x => x.StartsWith(n.Name + "\n", StringComparison.Ordinal));
            Assert.Contains("blue\nIPv6, 2 routers, 1 link", strings);
            Assert.Contains("(no routers)", dot); // hv3

            // The link that uses "R2" is drawn to the router r2, not to a new node.
            Assert.Contains("\"router:r2\" -- \"router:r3\"", dot);
            Assert.DoesNotContain("router:R2", dot);

            // Cross-host link dashed and thicker; same-host links solid.
            var lines = dot.Split('\n');
            Assert.Contains("style=\"dashed\"", lines.Single(l => l.Contains("\"router:r2\" -- \"router:r3\"")));
            Assert.DoesNotContain("dashed", lines.Single(l => l.Contains("\"router:r1\" -- \"router:r2\"")));
        }

        [Fact]
        public void Dot_ColoursFollowNetworkOrder_AndStayWhenFiltered()
        {
            var s = Sample();
            string all = GraphExporter.ToDot(s, null);
            string onlyRed = GraphExporter.ToDot(s, new[] { "RED" });

            string ColourOf(string dot, string router) =>
                Regex.Match(dot, "\"router:" + router + "\" \\[[^\\n]*fillcolor=\"(#[0-9a-f]{6})\"").Groups[1].Value;

            Assert.NotEqual(ColourOf(all, "r1"), ColourOf(all, "b1"));
            Assert.Equal(ColourOf(all, "r1"), ColourOf(all, "r3"));
            Assert.Equal(ColourOf(all, "r1"), ColourOf(onlyRed, "r1"));

            Assert.DoesNotContain("router:b1", onlyRed);
            Assert.DoesNotContain("b1-b2", onlyRed);
            Assert.DoesNotContain("hv3", onlyRed);
            Assert.DoesNotContain("blue", onlyRed);
            Assert.Contains("router:r3", onlyRed);
        }

        [Fact]
        public void Dot_IsDeterministic()
        {
            var a = GraphExporter.ToDot(Sample(), null);
            var shuffled = Sample();
            shuffled.Inventory.Routers.Reverse();
            shuffled.Inventory.Links.Reverse();
            shuffled.Inventory.Hosts.Reverse();
            Assert.Equal(a, GraphExporter.ToDot(new Snapshot(shuffled.Inventory), null));
            Assert.DoesNotContain("\r", a);
        }

        [Fact]
        public void Dot_EscapesHostileText()
        {
            string dot = GraphExporter.ToDot(HostileSnapshot(), null);

            // Outside the quoted strings only DOT syntax remains: none of the hostile text leaks into the structure.
            string structure = DotQuoted.Replace(dot, "Q");
            Assert.DoesNotContain("\"", structure);
            Assert.DoesNotContain("evil", structure);
            foreach (var line in structure.Split('\n').Where(l => l.Trim().Length > 0))
                Assert.Matches(@"^\s*(graph Q \{|\}|(graph|node|edge) \[.*\];|subgraph Q \{|(label|style|color)=Q;|Q( -- Q)? \[(\w+=Q(, )?)+\];)$", line);

            var strings = DotStrings(dot);
            Assert.Contains("router:" + Hostile, strings);
            Assert.Contains(Hostile + "\nRunning\nlab\"el\\", strings);
            Assert.Contains("li\"nk\\\nunlimited\nVLAN 7", strings);
            Assert.Contains("host h\"1\\ (Li\"nux)", strings);
            Assert.Contains("graph\nunlimited\ntunnel", strings);
        }

        [Fact]
        public void Svg_RendersWithGraphviz_OrSaysHowToInstallIt()
        {
            var s = HostileSnapshot();
            var ex = Assert.Throws<VirtualNetworksException>(() => GraphExporter.ToSvg(s, null, dotPath: null, CancellationToken.None));
            Assert.Equal(ErrorIds.GraphvizNotInstalled, ex.ErrorId);
            Assert.Equal(ErrorKind.NotInstalled, ex.Kind);
            Assert.Equal("dot", ex.TargetName);
            Assert.Contains("apt-get install graphviz", ex.Message);

            if (ProcessRunner.FindExecutable("dot") == null)
            {
                Assert.Throws<VirtualNetworksException>(() => GraphExporter.ToSvg(s, null, CancellationToken.None));
                return;
            }
            // Graphviz parses the hostile output and keeps every label.
            string svg = GraphExporter.ToSvg(s, null, CancellationToken.None);
            Assert.Contains("<svg", svg);
            string text = System.Net.WebUtility.HtmlDecode(svg); // graphviz writes '"' as &quot; and '-' as &#45;
            Assert.Contains(">evil\"name\\<", text);
            Assert.Contains(">li\"nk\\<", text);
            Assert.Contains(">] --> x{\"#quot;<b>%%{init}%%|`<", text);
            string sample = System.Net.WebUtility.HtmlDecode(GraphExporter.ToSvg(Sample(), null, CancellationToken.None));
            foreach (var name in new[] { "r1", "r2", "r3", "b1", "b2", "lone", "r1-r2", "r2-r3", "b1-b2", "host hv3 (Linux)", "Virtual networks" })
                Assert.Contains(">" + name + "<", sample);
        }

        [Fact]
        public void Svg_GraphvizFailure_IsExportFailed()
        {
            var sh = ProcessRunner.FindExecutable("false");
            if (sh == null) return;
            var ex = Assert.Throws<VirtualNetworksException>(() => GraphExporter.ToSvg(Sample(), null, sh, CancellationToken.None));
            Assert.Equal(ErrorIds.ExportFailed, ex.ErrorId);
        }

        // ================================================================================================ Mermaid

        [Fact]
        public void Mermaid_ContainsEveryHostRouterLinkAndNetwork()
        {
            var s = Sample();
            string m = GraphExporter.ToMermaid(s, null);
            Assert.StartsWith("flowchart LR\n", m);
            foreach (var h in new[] { "hv1", "hv2", "hv3" }) Assert.Contains("[\"host " + h + " (Linux)\"]", m);
            Assert.Contains("[\"r1<br/>Running<br/>red\"]", m);
            Assert.Contains("[\"lone<br/>Running<br/>vn-lone\"]", m);
            Assert.Contains("|\"r1-r2<br/>10 Mbit/s<br/>VLAN 10\"|", m);
            Assert.Contains(" -.-|\"r2-r3<br/>1.5 Gbit/s<br/>tunnel\"| ", m);
            Assert.Contains(" ---|\"b1-b2<br/>unlimited\"| ", m);
            foreach (var n in s.Networks) Assert.Contains("[\"" + n.Name + "<br/>", m);
            Assert.Contains("subgraph legend[\"Virtual networks\"]", m);
            Assert.Contains("(no routers)", m);
            Assert.Equal(3, Regex.Matches(m, "^  linkStyle ", RegexOptions.Multiline).Count);
            Assert.Matches("\n  linkStyle 2 stroke:#[0-9a-f]{6},stroke-width:4px\n", m); // the cross-host link is third by name
            Assert.Equal(m, GraphExporter.ToMermaid(Sample(), null));

            string red = GraphExporter.ToMermaid(s, new[] { "red" });
            Assert.DoesNotContain("b1", red);
            Assert.DoesNotContain("hv3", red);
        }

        [Fact]
        public void Mermaid_SanitizesIdsAndEscapesLabels()
        {
            var inv = HostileSnapshot().Inventory;
            inv.Routers.Add(R("a-b", "h\"1\\", "x"));
            inv.Routers.Add(R("a.b", "h\"1\\", "x"));
            inv.Routers.Add(R("a_b", "h\"1\\", "x"));
            string m = GraphExporter.ToMermaid(new Snapshot(inv), null);

            var quoted = new Regex("\"[^\"]*\"");
            var ids = new HashSet<string>();
            foreach (var line in m.Split('\n').Where(l => l.Length > 0).Skip(1))
            {
                string structure = quoted.Replace(line, "Q");
                Assert.DoesNotContain("\"", structure);
                var node = Regex.Match(structure, @"^\s+([A-Za-z0-9_]+)\[Q\]$");
                if (node.Success)
                {
                    Assert.True(ids.Add(node.Groups[1].Value), "duplicate id " + node.Groups[1].Value);
                    continue;
                }
                Assert.Matches(@"^\s+(subgraph [A-Za-z0-9_]+\[Q\]|end|[A-Za-z0-9_]+ (---|-\.-)\|Q\| [A-Za-z0-9_]+|classDef \w+ [-\w:#,]+|class [\w,]+ \w+|linkStyle \d+ [-\w:#,]+)$", structure);
            }
            Assert.Contains(ids, id => id.EndsWith("_a_b", StringComparison.Ordinal));
            Assert.Equal(3, ids.Count(id => id.EndsWith("_a_b", StringComparison.Ordinal)));
            Assert.DoesNotContain("end", ids); // a router called "end" gets a prefixed id

            foreach (Match q in quoted.Matches(m))
            {
                // Only entity codes and <br/> inside labels: no raw quotes, angle brackets, backticks, pipes or %%.
                string inner = q.Value.Substring(1, q.Value.Length - 2).Replace("<br/>", "");
                Assert.DoesNotMatch("[<>`|%\\n]", inner);
                Assert.DoesNotMatch("#(?!quot;|35;|amp;|lt;|gt;|96;|124;|37;)", inner);
            }
            Assert.Contains("evil#quot;name\\<br/>] --#gt; x{#quot;#35;quot;#lt;b#gt;#37;#37;{init}#37;#37;#124;#96;", m);
        }

        [Fact]
        public void MermaidLabel_And_DotLabel_Helpers()
        {
            Assert.Equal("\"a#quot;b<br/>c\"", GraphExporter.MermaidLabel(new[] { "a\"b", "c" }));
            Assert.Equal("a_b_c_", GraphExporter.MermaidSanitize("a-b.c\""));
            Assert.Equal("\"a\\\"b\\\\\\nc\"", GraphExporter.DotLabel(new[] { "a\"b\\", "c" }));
            Assert.Equal("\"x\\ny\"", GraphExporter.DotId("x\ny"));
        }

        // ================================================================================================ topology JSON

        private static TopologySpec SampleSpec()
        {
            var spec = new TopologySpec();
            spec.AddressPools.IPv4 = "10.50.0.0/24";
            spec.Hosts.Add(new HostSpec { Name = "hv2", Kind = "Linux" });
            spec.Hosts.Add(new HostSpec { Name = "hv1" });
            spec.Routers.Add(new RouterSpec { Name = "r2", Host = "hv2", Image = "vyos", ProcessorCount = 2, MemoryMB = 512, NetworkLabel = "red" });
            spec.Routers.Add(new RouterSpec { Name = "R1", Host = "", Image = "router", MemoryMB = 128, NetworkLabel = "red" });
            spec.Routers.Add(new RouterSpec { Name = "b1", Host = "hv1", Image = "router", AddressFamily = NetworkAddressFamily.IPv6 });
            spec.Routers.Add(new RouterSpec { Name = "b2", Host = "localhost", Image = "router", AddressFamily = NetworkAddressFamily.IPv6 });
            spec.Links.Add(new LinkSpec { Name = "r1-r2", From = "R1", To = "r2", MaximumBandwidth = 10_000_000, VlanId = 10 });
            spec.Links.Add(new LinkSpec { Name = "B-link", From = "b1", To = "b2" });
            spec.Links.Add(new LinkSpec { Name = "c", From = "b2", To = "b1", MaximumBandwidth = long.MaxValue, VlanId = 4094 });
            return spec;
        }

        /// <summary>Everything the file format carries, in a canonical text form.</summary>
        private static string Canonical(TopologySpec spec)
        {
            var sb = new StringBuilder();
            sb.Append("pools ").Append(spec.AddressPools.IPv4).Append(' ').Append(spec.AddressPools.IPv6).Append('\n');
            foreach (var h in spec.Hosts.OrderBy(h => h.Name, StringComparer.OrdinalIgnoreCase))
                sb.Append("host ").Append(h.Name).Append(' ').Append(h.Kind ?? "-").Append('\n');
            foreach (var r in spec.Routers.OrderBy(r => r.Name, StringComparer.OrdinalIgnoreCase))
                sb.Append("router ").Append(r.Name).Append(" host=").Append(HostNames.IsLocalHost(r.Host) ? "" : r.Host).Append(" image=").Append(r.Image)
                  .Append(" cpu=").Append(r.ProcessorCount).Append(" mem=").Append(r.MemoryMB).Append(" label=").Append(r.NetworkLabel ?? "-")
                  .Append(" af=").Append(r.AddressFamily).Append('\n');
            foreach (var l in spec.Links.OrderBy(l => l.Name, StringComparer.OrdinalIgnoreCase))
                sb.Append("link ").Append(l.Name).Append(' ').Append(l.From).Append(' ').Append(l.To)
                  .Append(" bw=").Append(l.MaximumBandwidth == 0 ? null : l.MaximumBandwidth).Append(" vlan=").Append(l.VlanId).Append('\n');
            return sb.ToString();
        }

        private static TopologySpec Read(string json)
        {
            var result = TopologyReader.Parse(json, "exported.json");
            Assert.True(result.Success, string.Join("\n", result.Errors) + "\n" + json);
            return result.Spec!;
        }

        [Fact]
        public void ToJson_RoundTripsThroughTheReader()
        {
            var spec = SampleSpec();
            string json = TopologyWriter.ToJson(spec);
            var back = Read(json);
            Assert.Equal(Canonical(spec), Canonical(back));
            Assert.Equal(json, TopologyWriter.ToJson(back));
        }

        [Fact]
        public void ToJson_RoundTripsTheGoodFixture()
        {
            string path = Path.Combine(AppContext.BaseDirectory, "fixtures", "topologies", "good.json");
            var original = Read(File.ReadAllText(path));
            string json = TopologyWriter.ToJson(original);
            Assert.Equal(Canonical(original), Canonical(Read(json)));
        }

        [Fact]
        public void ToJson_RoundTripsAnObservedSnapshot()
        {
            var s = Sample();
            var spec = VirtualNetworkService.ExportTopology(s, null);
            Assert.Equal(Canonical(spec), Canonical(Read(TopologyWriter.ToJson(spec))));
        }

        [Fact]
        public void ToJson_Shape_CamelCaseSortedDefaultsOmitted()
        {
            var spec = SampleSpec();
            string json = TopologyWriter.ToJson(spec);
            Assert.DoesNotContain("\r", json);
            Assert.EndsWith("}\n", json);
            Assert.Contains("\n  \"routers\": [\n    {\n      \"name\": \"b1\",", json);

            var root = JObject.Parse(json);
            Assert.Equal(new[] { "defaults", "hosts", "routers", "links" }, root.Properties().Select(p => p.Name));
            Assert.Equal(new[] { "ipv4AddressPool" }, ((JObject)root["defaults"]!).Properties().Select(p => p.Name));
            Assert.Equal(new[] { "hv1", "hv2" }, root["hosts"]!.Select(h => (string)h["name"]!));
            Assert.Null(root["hosts"]![0]!["kind"]);
            Assert.Equal(new[] { "b1", "b2", "R1", "r2" }, root["routers"]!.Select(r => (string)r["name"]!));
            Assert.Equal(new[] { "B-link", "c", "r1-r2" }, root["links"]!.Select(r => (string)r["name"]!));

            var r1 = (JObject)root["routers"]![2]!;
            Assert.Equal(new[] { "name", "image", "processorCount", "memoryMB", "network", "addressFamily" }, r1.Properties().Select(p => p.Name));
            Assert.Null(root["routers"]![1]!["host"]); // localhost
            Assert.Null(root["routers"]![0]!["network"]);
            Assert.Null(root["routers"]![0]!["memoryMB"]); // not given: left to the backend's default
            Assert.Equal("IPv6", (string)root["routers"]![0]!["addressFamily"]!);
            Assert.Equal("hv2", (string)root["routers"]![3]!["host"]!);

            var bLink = (JObject)root["links"]![0]!;
            Assert.Equal(new[] { "name", "from", "to" }, bLink.Properties().Select(p => p.Name));
            Assert.Equal(JTokenType.Integer, root["links"]![2]!["maximumBandwidth"]!.Type);
            Assert.Equal(10_000_000L, (long)root["links"]![2]!["maximumBandwidth"]!);
            Assert.Equal(long.MaxValue, (long)root["links"]![1]!["maximumBandwidth"]!);

            var plain = new TopologySpec();
            plain.Routers.Add(new RouterSpec { Name = "x", Image = "router" });
            var p = JObject.Parse(TopologyWriter.ToJson(plain));
            Assert.Equal(new[] { "routers", "links" }, p.Properties().Select(x => x.Name));
        }

        [Fact]
        public void ToJson_IsDeterministic()
        {
            var a = SampleSpec();
            var b = SampleSpec();
            b.Routers.Reverse();
            b.Links.Reverse();
            b.Hosts.Reverse();
            Assert.Equal(TopologyWriter.ToJson(a), TopologyWriter.ToJson(b));
        }

        [Fact]
        public void ToJson_EscapesStrings()
        {
            var spec = new TopologySpec();
            spec.Routers.Add(new RouterSpec { Name = "q\"\\\n", Image = "img \"x\"" });
            string json = TopologyWriter.ToJson(spec);
            var root = JObject.Parse(json);
            Assert.Equal("q\"\\\n", (string)root["routers"]![0]!["name"]!);
            Assert.Equal("img \"x\"", (string)root["routers"]![0]!["image"]!);
        }
    }
}
