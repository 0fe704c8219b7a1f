using System;
using System.IO;
using System.Linq;
using Newtonsoft.Json.Linq;
using VirtualNetworks.Topology;
using Xunit;

namespace VirtualNetworks.Core.Tests.Topology
{
    /// <summary>docs/topology.schema.json must describe exactly what the reader and validator accept.</summary>
    public class TopologySchemaTests
    {
        private static readonly JObject Schema =
            JObject.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "docs", "topology.schema.json")));

        private static JObject Def(string name) => (JObject)Schema["$defs"]![name]!;

        private static string[] PropertyNames(JObject objectSchema) =>
            ((JObject)objectSchema["properties"]!).Properties().Select(p => p.Name).ToArray();

        [Fact]
        public void Is_draft_2020_12() =>
            Assert.Equal("https://json-schema.org/draft/2020-12/schema", (string?)Schema["$schema"]);

        [Fact]
        public void Fields_match_the_reader()
        {
            Assert.Equal(TopologyFields.Root, PropertyNames(Schema));
            Assert.Equal(TopologyFields.Host, PropertyNames(Def("host")));
            Assert.Equal(TopologyFields.Router, PropertyNames(Def("router")));
            Assert.Equal(TopologyFields.Link, PropertyNames(Def("link")));
            Assert.Equal(TopologyFields.Defaults, PropertyNames(Def("defaults")));
            Assert.Equal(TopologyFields.PhysicalLink, PropertyNames(Def("physicalLink")));
            Assert.Equal(TopologyFields.Network, PropertyNames(Def("network")));
        }

        /// <summary>A section may be left out but not null: the reader refuses null where an array or object is wanted.</summary>
        [Fact]
        public void Sections_are_not_nullable()
        {
            var props = (JObject)Schema["properties"]!;
            foreach (var section in new[] { "hosts", "routers", "links", "physicalLinks", "networks" })
                Assert.Equal("array", (string?)props[section]!["type"]);
            Assert.Equal("object", (string?)Def("defaults")["type"]);
            var read = TopologyReader.Parse("{ \"routers\": null, \"links\": [] }", "t.json");
            Assert.False(read.Success);
            Assert.Equal(ErrorIds.TopologyWrongType, Assert.Single(read.Errors).ErrorId);
        }

        [Fact]
        public void Every_object_forbids_other_properties()
        {
            var objects = Schema.DescendantsAndSelf().OfType<JObject>().Where(o => o["properties"] is JObject).ToList();
            Assert.Equal(7, objects.Count);
            Assert.All(objects, o => Assert.False((bool)o["additionalProperties"]!));
        }

        [Fact]
        public void Required_fields_match_the_reader()
        {
            Assert.Equal(new[] { "name" }, Def("host")["required"]!.Values<string>());
            Assert.Equal(new[] { "name" }, Def("router")["required"]!.Values<string>());
            Assert.Equal(new[] { "from", "to" }, Def("link")["required"]!.Values<string>());
            Assert.Equal(new[] { "from", "to" }, Def("physicalLink")["required"]!.Values<string>());
        }

        [Fact]
        public void Patterns_are_the_engine_patterns()
        {
            Assert.Equal(NameRules.Pattern, (string?)Def("name")["pattern"]);
            var bandwidthString = Def("bandwidth")["anyOf"]!.Single(s => (string?)s["type"] == "string");
            Assert.Equal(Bandwidth.Pattern, (string?)bandwidthString["pattern"]);
        }

        [Fact]
        public void Vlan_range_is_1_to_4094()
        {
            var vlan = Def("link")["properties"]!["vlanId"]!;
            Assert.Equal(1, (int)vlan["minimum"]!);
            Assert.Equal(4094, (int)vlan["maximum"]!);
        }

        [Theory]
        [InlineData("", true)]
        [InlineData(".", true)]
        [InlineData("localhost", true)]
        [InlineData("hv01.lab", true)]
        [InlineData("..", false)]
        [InlineData("hv 1", false)]
        public void Host_pattern_allows_local_aliases_and_names(string host, bool ok) =>
            Assert.Equal(ok, NameRulesTests.EcmaRegex((string)Def("hostName")["pattern"]!).IsMatch(host));

        [Theory]
        [InlineData("10.200.0.0/16", true)]
        [InlineData("0.0.0.0/0", true)]
        [InlineData("10.0.0.0/31", true)]
        [InlineData("10.0.0.0/32", false)]
        [InlineData("010.0.0.0/8", false)]
        [InlineData("10.0.0.0/08", false)]
        public void Ipv4_pool_pattern_agrees_with_the_rules_on_syntax(string pool, bool ok)
        {
            var pattern = (string)Def("defaults")["properties"]!["ipv4AddressPool"]!["pattern"]!;
            Assert.Equal(ok, NameRulesTests.EcmaRegex(pattern).IsMatch(pool));
            Assert.Equal(ok, AddressPoolRules.IsValid(pool, NetworkAddressFamily.IPv4));
        }

        [Fact]
        public void Good_fixture_uses_only_schema_fields()
        {
            // A light structural check (no schema validator package here): every field of good.json is declared.
            var good = JObject.Parse(File.ReadAllText(Path.Combine(TopologyFixtureTests.Directory, "good.json")));
            Assert.All(good.Properties(), p => Assert.Contains(p.Name, PropertyNames(Schema)));
            Assert.All(good["routers"]!.Children<JObject>().SelectMany(r => r.Properties()), p => Assert.Contains(p.Name, PropertyNames(Def("router"))));
            Assert.All(good["links"]!.Children<JObject>().SelectMany(r => r.Properties()), p => Assert.Contains(p.Name, PropertyNames(Def("link"))));
        }
    }
}
