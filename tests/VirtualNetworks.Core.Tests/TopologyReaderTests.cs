using System;
using System.IO;
using System.Linq;
using System.Text;
using FsCheck.Xunit;
using VirtualNetworks.Topology;
using Xunit;

namespace VirtualNetworks.Core.Tests.Topology
{
    public class TopologyReaderTests
    {
        private static TopologyReadResult Parse(string json) => TopologyReader.Parse(json, "test.json");

        private static TopologySpec Good(string json)
        {
            var r = Parse(json);
            Assert.True(r.Success, string.Join(Environment.NewLine, r.Errors));
            Assert.Empty(r.Errors);
            return r.Spec!;
        }

        /// <summary>The single error of a topology that must have exactly one, with its id.</summary>
        private static TopologyError Single(string json, string id)
        {
            var r = Parse(json);
            Assert.False(r.Success);
            Assert.Null(r.Spec);
            var e = Assert.Single(r.Errors);
            Assert.Equal(id, e.ErrorId);
            return e;
        }

        /// <summary>1-based (line, column) of the first occurrence of <paramref name="needle"/>.</summary>
        private static (int Line, int Column) PositionOf(string text, string needle)
        {
            int offset = text.IndexOf(needle, StringComparison.Ordinal);
            Assert.True(offset >= 0, needle + " not in text");
            string before = text.Substring(0, offset);
            int line = before.Count(c => c == '\n') + 1;
            int column = offset - (before.LastIndexOf('\n') + 1) + 1;
            return (line, column);
        }

        // ---- resolution ----------------------------------------------------------------------------------------------

        [Fact]
        public void Fallbacks_apply_when_nothing_is_given()
        {
            var spec = Good("{ \"routers\": [ { \"name\": \"r1\" }, { \"name\": \"r2\" } ], \"links\": [ { \"from\": \"r1\", \"to\": \"r2\" } ] }");
            var r = spec.Routers[0];
            Assert.Equal("r1", r.Name);
            Assert.Equal("", r.Host);
            Assert.Equal("router", r.Image);
            Assert.Equal(1, r.ProcessorCount);
            Assert.Null(r.MemoryMB); // not given: the backend's default, filled in by the engine once the backend is known
            Assert.Equal(NetworkAddressFamily.IPv4, r.AddressFamily);
            Assert.Null(r.NetworkLabel);
            Assert.Equal("routers[0]", r.SourcePath);
            Assert.Equal("routers[1]", spec.Routers[1].SourcePath);

            var l = Assert.Single(spec.Links);
            Assert.Equal("r1-r2", l.Name);
            Assert.Null(l.MaximumBandwidth);
            Assert.Null(l.VlanId);
            Assert.Equal("links[0]", l.SourcePath);

            Assert.Equal(AddressPools.DefaultIPv4, spec.AddressPools.IPv4);
            Assert.Equal(AddressPools.DefaultIPv6, spec.AddressPools.IPv6);
            Assert.Equal("test.json", spec.SourceName);
        }

        [Fact]
        public void Defaults_are_resolved_into_routers_and_links()
        {
            var spec = Good(@"{
  ""defaults"": {
    ""host"": ""hv1"", ""image"": ""vyos"", ""processorCount"": 2, ""memoryMB"": 256, ""addressFamily"": ""ipv6"",
    ""network"": ""lab"", ""maximumBandwidth"": ""1G"", ""ipv4AddressPool"": ""192.168.0.0/24"", ""ipv6AddressPool"": ""fd00:1::/64""
  },
  ""hosts"": [ { ""name"": ""hv1"", ""kind"": ""HyperV"" }, { ""name"": ""hv2"" } ],
  ""routers"": [
    { ""name"": ""d"" },
    { ""name"": ""o"", ""host"": ""hv2"", ""image"": ""frr"", ""processorCount"": 4, ""memoryMB"": 512, ""addressFamily"": ""IPv4"", ""network"": ""other"" },
    { ""name"": ""e"", ""host"": """", ""network"": """" },
    { ""name"": ""n"", ""host"": null, ""image"": null, ""network"": null, ""memoryMB"": null }
  ],
  ""links"": [
    { ""from"": ""d"", ""to"": ""n"" },
    { ""from"": ""d"", ""to"": ""e"", ""maximumBandwidth"": 0 },
    { ""from"": ""e"", ""to"": ""n"", ""maximumBandwidth"": ""10Mbps"", ""vlanId"": 7 },
    { ""from"": ""n"", ""to"": ""d"", ""maximumBandwidth"": null }
  ]
}");
            var d = spec.Routers[0];
            Assert.Equal(("hv1", "vyos", 2, 256, NetworkAddressFamily.IPv6, "lab"),
                (d.Host, d.Image, d.ProcessorCount, d.MemoryMB, d.AddressFamily, d.NetworkLabel));
            var o = spec.Routers[1];
            Assert.Equal(("hv2", "frr", 4, 512, NetworkAddressFamily.IPv4, "other"),
                (o.Host, o.Image, o.ProcessorCount, o.MemoryMB, o.AddressFamily, o.NetworkLabel));
            var e = spec.Routers[2];
            Assert.Equal("", e.Host);            // explicit "" = local, overriding the default host
            Assert.Null(e.NetworkLabel);          // explicit "" = no label, overriding the default label
            var n = spec.Routers[3];
            Assert.Equal(("hv1", "vyos", 256, "lab"), (n.Host, n.Image, n.MemoryMB, n.NetworkLabel)); // null = not given

            Assert.Equal(1_000_000_000L, spec.Links[0].MaximumBandwidth);
            Assert.Null(spec.Links[1].MaximumBandwidth);  // 0 = unlimited, overriding the default
            Assert.Equal(10_000_000L, spec.Links[2].MaximumBandwidth);
            Assert.Equal(7, spec.Links[2].VlanId);
            Assert.Equal(1_000_000_000L, spec.Links[3].MaximumBandwidth);

            Assert.Equal("192.168.0.0/24", spec.AddressPools.IPv4);
            Assert.Equal("fd00:1::/64", spec.AddressPools.IPv6);
            Assert.Equal(2, spec.Hosts.Count);
            Assert.Equal("HyperV", spec.Hosts[0].Kind);
            Assert.Null(spec.Hosts[1].Kind);
        }

        [Theory]
        [InlineData("")]
        [InlineData(".")]
        [InlineData("localhost")]
        [InlineData("LOCALHOST")]
        public void Local_host_aliases_become_empty(string host)
        {
            var spec = Good("{ \"routers\": [ { \"name\": \"r1\", \"host\": \"" + host + "\" } ] }");
            Assert.Equal("", spec.Routers[0].Host);
        }

        [Fact]
        public void Machine_name_is_local_too()
        {
            var spec = Good("{ \"routers\": [ { \"name\": \"r1\", \"host\": \"" + Environment.MachineName + "\" } ] }");
            Assert.Equal("", spec.Routers[0].Host);
        }

        [Fact]
        public void Unnamed_links_get_derived_unique_names()
        {
            var spec = Good(@"{
  ""routers"": [ { ""name"": ""r1"" }, { ""name"": ""r2"" }, { ""name"": ""r3"" } ],
  ""links"": [
    { ""from"": ""r1"", ""to"": ""r2"" },
    { ""from"": ""r1"", ""to"": ""r2"" },
    { ""from"": ""r2"", ""to"": ""r3"" },
    { ""name"": ""R1-R2"", ""from"": ""r2"", ""to"": ""r1"" },
    { ""name"": ""r1-r2-3"", ""from"": ""r3"", ""to"": ""r1"" },
    { ""from"": ""r1"", ""to"": ""r2"" }
  ]
}");
            // "r1-r2" and "r1-r2-3" are taken by explicit names (case-insensitively), wherever they appear.
            Assert.Equal(new[] { "r1-r2-2", "r1-r2-4", "r2-r3", "R1-R2", "r1-r2-3", "r1-r2-5" }, spec.Links.Select(l => l.Name));
        }

        [Theory]
        [InlineData("\"10Mbps\"", 10_000_000L)]
        [InlineData("\"1.5 Gbit\"", 1_500_000_000L)]
        [InlineData("\"100 MB/s\"", 800_000_000L)]
        [InlineData("1000000", 1_000_000L)]
        [InlineData("2.5e6", 2_500_000L)]
        [InlineData("1000.4", 1000L)]
        [InlineData("0", null)]
        [InlineData("\"0\"", null)]
        [InlineData("\"0 Mbps\"", null)]
        [InlineData("null", null)]
        public void Bandwidth_values(string json, long? expected)
        {
            var spec = Good("{ \"routers\": [ { \"name\": \"a\" }, { \"name\": \"b\" } ], \"links\": [ { \"from\": \"a\", \"to\": \"b\", \"maximumBandwidth\": " + json + " } ] }");
            Assert.Equal(expected, spec.Links[0].MaximumBandwidth);
        }

        [Fact]
        public void Integral_numbers_count_as_integers()
        {
            var spec = Good("{ \"routers\": [ { \"name\": \"a\", \"processorCount\": 2.0, \"memoryMB\": 256 } ] }");
            Assert.Equal(2, spec.Routers[0].ProcessorCount);
        }

        [Fact]
        public void Schema_comments_and_trailing_commas_are_accepted()
        {
            var spec = Good("// lab\n{ \"$schema\": \"./topology.schema.json\", /* two */ \"routers\": [ { \"name\": \"a\" }, ], }");
            Assert.Single(spec.Routers);
        }

        [Fact]
        public void A_byte_order_mark_is_not_content()
        {
            Assert.Single(Good("\uFEFF{ \"routers\": [ { \"name\": \"a\" } ] }").Routers);
            Single("\uFEFF  ", ErrorIds.TopologyFileEmpty);
        }

        [Fact]
        public void Date_like_strings_stay_strings()
        {
            var spec = Good("{ \"routers\": [ { \"name\": \"2024-01-01T00:00:00\" } ] }");
            Assert.Equal("2024-01-01T00:00:00", spec.Routers[0].Name);
        }

        [Fact]
        public void Physical_links_are_accepted_and_ignored()
        {
            var spec = Good("{ \"physicalLinks\": [ { \"from\": \"hv1\", \"to\": \"hv2\" } ], \"routers\": [] }");
            Assert.Empty(spec.Routers);
            Assert.Empty(spec.Links);
        }

        [Fact]
        public void Empty_object_is_an_empty_topology()
        {
            var spec = Good("{}");
            Assert.Empty(spec.Routers);
            Assert.Empty(spec.Links);
            Assert.Empty(spec.Hosts);
        }

        [Fact]
        public void Names_are_not_checked_by_the_reader()
        {
            // Stage 3 (the validator) owns name rules, so the reader resolves what it is given.
            Assert.Equal("r1;rm -rf /", Good("{ \"routers\": [ { \"name\": \"r1;rm -rf /\" } ] }").Routers[0].Name);
        }

        // ---- document-level errors -----------------------------------------------------------------------------------

        [Theory]
        [InlineData("")]
        [InlineData("   \n\t\r\n ")]
        [InlineData("// only a comment\n/* and another */")]
        public void Empty_text_is_TopologyFileEmpty(string text)
        {
            var e = Single(text, ErrorIds.TopologyFileEmpty);
            Assert.Equal(ErrorKind.InvalidData, e.Kind);
            Assert.Equal("test.json", e.Target);
            Assert.Contains("'test.json'", e.Message);
        }

        [Fact]
        public void Null_text_is_TopologyFileEmpty() =>
            Assert.Equal(ErrorIds.TopologyFileEmpty, Assert.Single(TopologyReader.Parse(null!, "x").Errors).ErrorId);

        [Fact]
        public void Syntax_error_gives_line_and_column()
        {
            const string text = "{\n  \"routers\": [\n    { \"name\": \"r1\" ]\n}";
            var e = Single(text, ErrorIds.TopologyJsonSyntax);
            Assert.Equal(ErrorKind.ParserError, e.Kind);
            Assert.Equal(3, e.Line);
            Assert.Equal(PositionOf(text, "]\n}").Column, e.Column); // the offending ']'
            Assert.Contains("line 3, column " + e.Column, e.Message);
            Assert.Equal("test.json", e.Target);
        }

        [Fact]
        public void Truncated_text_is_a_syntax_error_at_the_end()
        {
            const string text = "{\n  \"routers\": [\n    { \"name\": \"r1\" },\n    { \"name\": \"r2\", \"memoryMB\": 12";
            var e = Single(text, ErrorIds.TopologyJsonSyntax);
            Assert.Equal(4, e.Line);
            Assert.Equal("    { \"name\": \"r2\", \"memoryMB\": 12".Length + 1, e.Column);
            Assert.Contains("line 4, column " + e.Column, e.Message);
            Assert.Contains("truncated", e.Message);
            Assert.Contains("line 4, column 5", e.Message); // where the unclosed object starts
        }

        [Theory]
        [InlineData("{\"routers\": [")]
        [InlineData("{\"routers\": [{\"name\": \"r1")]
        [InlineData("{\"routers\": [{\"name\": ")]
        [InlineData("{\"routers\"")]
        [InlineData("{")]
        [InlineData("{} {}")]
        [InlineData("{} x")]
        [InlineData("{\"a\" \"b\"}")]
        [InlineData("{\"a\": tru}")]
        [InlineData("}")]
        public void Malformed_json_is_TopologyJsonSyntax(string text)
        {
            var e = Single(text, ErrorIds.TopologyJsonSyntax);
            Assert.NotNull(e.Line);
            Assert.NotNull(e.Column);
            Assert.Contains("line " + e.Line + ", column " + e.Column, e.Message);
        }

        [Theory]
        [InlineData("[]", "an array")]
        [InlineData("[ { \"name\": \"r1\" } ]", "an array")]
        [InlineData("\"routers\"", "the string 'routers'")]
        [InlineData("42", "the integer 42")]
        [InlineData("null", "null")]
        [InlineData("true", "the boolean true")]
        public void Root_must_be_an_object(string text, string described)
        {
            var e = Single(text, ErrorIds.TopologyRootNotObject);
            Assert.Equal(ErrorKind.InvalidData, e.Kind);
            Assert.Contains(described, e.Message);
        }

        // ---- field-level errors --------------------------------------------------------------------------------------

        [Theory]
        [InlineData("{ \"router\": [] }", "router", "routers")]
        [InlineData("{ \"lnks\": [] }", "lnks", "links")]
        [InlineData("{ \"Routers\": [] }", "Routers", "routers")]
        [InlineData("{ \"defualts\": {} }", "defualts", "defaults")]
        [InlineData("{ \"routers\": [ { \"name\": \"r1\", \"memory\": 1 } ] }", "routers[0].memory", "memoryMB")]
        [InlineData("{ \"routers\": [ { \"Name\": \"r1\" }, { \"name\": \"r2\" } ] }", "routers[0].Name", "name")]
        [InlineData("{ \"links\": [ { \"from\": \"a\", \"to\": \"b\", \"vlan\": 1 } ] }", "links[0].vlan", "vlanId")]
        [InlineData("{ \"links\": [ { \"from\": \"a\", \"to\": \"b\", \"bandwidth\": 1 } ] }", "links[0].bandwidth", "maximumBandwidth")]
        [InlineData("{ \"defaults\": { \"ipv4Pool\": \"10.0.0.0/8\" } }", "defaults.ipv4Pool", "ipv4AddressPool")]
        [InlineData("{ \"hosts\": [ { \"name\": \"h\", \"knd\": \"Linux\" } ] }", "hosts[0].knd", "kind")]
        [InlineData("{ \"physicalLinks\": [ { \"from\": \"a\", \"to\": \"b\", \"too\": \"c\" } ] }", "physicalLinks[0].too", "to")]
        public void Unknown_fields_are_named_with_a_suggestion(string text, string path, string suggestion)
        {
            var r = Parse(text);
            var e = Assert.Single(r.Errors, x => x.ErrorId == ErrorIds.TopologyUnknownField);
            Assert.Equal(ErrorKind.InvalidData, e.Kind);
            Assert.Equal(path, e.JsonPath);
            string field = path.Substring(path.LastIndexOf('.') + 1);
            Assert.Contains("'" + field + "'", e.Message);
            Assert.Contains("Did you mean '" + suggestion + "'?", e.Message);
            Assert.Equal(1, e.Line);
            Assert.Equal(text.IndexOf("\"" + field + "\"", StringComparison.Ordinal) + 1, e.Column); // the name's opening quote
        }

        [Theory]
        [InlineData("{ \"a\\\"b\": 1 }", 3)]          // escaped quote inside the name
        [InlineData("{ 'routerz': [] }", 3)]              // single-quoted name (Newtonsoft leniency)
        [InlineData("{ routerz: [] }", 3)]                // unquoted name (Newtonsoft leniency)
        [InlineData("{\n\t\"routerz\" : []\n}", 2)]       // space before the colon
        public void Unknown_field_position_is_the_start_of_its_name(string text, int column)
        {
            var e = Single(text, ErrorIds.TopologyUnknownField);
            Assert.Equal(column, e.Column);
        }

        [Fact]
        public void Unknown_field_far_from_any_known_one_has_no_suggestion()
        {
            var e = Single("{ \"colour\": \"blue\" }", ErrorIds.TopologyUnknownField);
            Assert.DoesNotContain("Did you mean", e.Message);
            Assert.Contains("routers", e.Message); // lists the known fields
        }

        [Fact]
        public void Unknown_field_in_a_named_item_targets_the_item()
        {
            var e = Single("{ \"routers\": [ { \"name\": \"edge\", \"cpu\": 2 } ] }", ErrorIds.TopologyUnknownField);
            Assert.Equal("edge", e.Target);
            Assert.Equal("routers[0].cpu", e.JsonPath);
        }

        [Theory]
        [InlineData("{ \"routers\": {} }", "routers")]
        [InlineData("{ \"routers\": \"r1\" }", "routers")]
        [InlineData("{ \"routers\": [ \"r1\" ] }", "routers[0]")]
        [InlineData("{ \"routers\": [ [] ] }", "routers[0]")]
        [InlineData("{ \"hosts\": {} }", "hosts")]
        [InlineData("{ \"links\": 5 }", "links")]
        [InlineData("{ \"physicalLinks\": {} }", "physicalLinks")]
        [InlineData("{ \"defaults\": [] }", "defaults")]
        // A null section is a wrong type, not an empty one (issue 11, defect 12).
        [InlineData("{ \"routers\": null, \"links\": [] }", "routers")]
        [InlineData("{ \"routers\": [], \"links\": null }", "links")]
        [InlineData("{ \"hosts\": null }", "hosts")]
        [InlineData("{ \"physicalLinks\": null }", "physicalLinks")]
        [InlineData("{ \"defaults\": null }", "defaults")]
        [InlineData("{ \"routers\": [ null ] }", "routers[0]")]
        [InlineData("{ \"links\": [ null ] }", "links[0]")]
        [InlineData("{ \"$schema\": 1 }", "$schema")]
        [InlineData("{ \"routers\": [ { \"name\": 5 } ] }", "routers[0].name")]
        [InlineData("{ \"routers\": [ { \"name\": null } ] }", "routers[0].name")]
        [InlineData("{ \"routers\": [ { \"name\": \"a\", \"processorCount\": \"two\" } ] }", "routers[0].processorCount")]
        [InlineData("{ \"routers\": [ { \"name\": \"a\", \"processorCount\": 2.5 } ] }", "routers[0].processorCount")]
        [InlineData("{ \"routers\": [ { \"name\": \"a\", \"memoryMB\": true } ] }", "routers[0].memoryMB")]
        [InlineData("{ \"routers\": [ { \"name\": \"a\", \"memoryMB\": \"128\" } ] }", "routers[0].memoryMB")]
        [InlineData("{ \"routers\": [ { \"name\": \"a\", \"memoryMB\": {} } ] }", "routers[0].memoryMB")]
        [InlineData("{ \"routers\": [ { \"name\": \"a\", \"host\": [] } ] }", "routers[0].host")]
        [InlineData("{ \"routers\": [ { \"name\": \"a\", \"image\": 1 } ] }", "routers[0].image")]
        [InlineData("{ \"routers\": [ { \"name\": \"a\", \"network\": false } ] }", "routers[0].network")]
        [InlineData("{ \"routers\": [ { \"name\": \"a\", \"addressFamily\": 4 } ] }", "routers[0].addressFamily")]
        [InlineData("{ \"links\": [ { \"from\": \"a\", \"to\": \"b\", \"vlanId\": \"10\" } ] }", "links[0].vlanId")]
        [InlineData("{ \"links\": [ { \"from\": \"a\", \"to\": \"b\", \"maximumBandwidth\": true } ] }", "links[0].maximumBandwidth")]
        [InlineData("{ \"links\": [ { \"from\": \"a\", \"to\": \"b\", \"maximumBandwidth\": [] } ] }", "links[0].maximumBandwidth")]
        [InlineData("{ \"links\": [ { \"from\": 1, \"to\": \"b\" } ] }", "links[0].from")]
        [InlineData("{ \"links\": [ { \"name\": 7, \"from\": \"a\", \"to\": \"b\" } ] }", "links[0].name")]
        [InlineData("{ \"hosts\": [ { \"name\": \"h\", \"kind\": 2 } ] }", "hosts[0].kind")]
        [InlineData("{ \"defaults\": { \"ipv4AddressPool\": 10 } }", "defaults.ipv4AddressPool")]
        [InlineData("{ \"physicalLinks\": [ { \"from\": \"a\", \"to\": 2 } ] }", "physicalLinks[0].to")]
        public void Wrong_json_types_are_TopologyWrongType(string text, string path)
        {
            var e = Single(text, ErrorIds.TopologyWrongType);
            Assert.Equal(ErrorKind.InvalidType, e.Kind);
            Assert.Equal(path, e.JsonPath);
            Assert.Contains(path + " must be ", e.Message);
            Assert.Contains(", but it is ", e.Message);
        }

        [Fact]
        public void Wrong_type_points_at_the_value()
        {
            const string text = "{\n  \"routers\": [\n    { \"name\": \"r1\", \"processorCount\": \"two\" }\n  ]\n}";
            var e = Single(text, ErrorIds.TopologyWrongType);
            var (line, column) = PositionOf(text, "\"two\"");
            Assert.Equal(line, e.Line);
            Assert.Equal(column, e.Column);
            Assert.Equal("r1", e.Target);
            Assert.StartsWith("'test.json', line 3, column " + column + ": routers[0].processorCount must be an integer, but it is the string 'two'.", e.Message);
        }

        [Theory]
        [InlineData("{ \"routers\": [ {} ] }", "routers[0].name")]
        [InlineData("{ \"routers\": [ { \"image\": \"x\" } ] }", "routers[0].name")]
        [InlineData("{ \"links\": [ { \"from\": \"a\" } ] }", "links[0].to")]
        [InlineData("{ \"links\": [ { \"to\": \"a\" } ] }", "links[0].from")]
        [InlineData("{ \"hosts\": [ { \"kind\": \"Linux\" } ] }", "hosts[0].name")]
        [InlineData("{ \"physicalLinks\": [ { \"from\": \"hv1\" } ] }", "physicalLinks[0].to")]
        public void Missing_required_fields_are_TopologyMissingField(string text, string path)
        {
            var e = Single(text, ErrorIds.TopologyMissingField);
            Assert.Equal(ErrorKind.InvalidData, e.Kind);
            Assert.Equal(path, e.JsonPath);
            Assert.Contains("'" + path.Substring(path.LastIndexOf('.') + 1) + "'", e.Message);
            Assert.NotNull(e.Line);
        }

        [Fact]
        public void Link_missing_both_ends_reports_both()
        {
            var r = Parse("{ \"links\": [ { \"name\": \"l\" } ] }");
            Assert.Equal(new[] { "links[0].from", "links[0].to" }, r.Errors.Select(e => e.JsonPath).OrderBy(p => p));
            Assert.All(r.Errors, e => Assert.Equal("l", e.Target));
        }

        [Fact]
        public void Repeated_fields_are_TopologyDuplicateField()
        {
            const string text = "{\n  \"routers\": [ { \"name\": \"r1\", \"memoryMB\": 128, \"memoryMB\": 256 } ],\n  \"routers\": []\n}";
            var r = Parse(text);
            Assert.Equal(2, r.Errors.Count);
            Assert.All(r.Errors, e => Assert.Equal(ErrorIds.TopologyDuplicateField, e.ErrorId));
            Assert.All(r.Errors, e => Assert.Equal(ErrorKind.InvalidData, e.Kind));

            var inner = r.Errors[0];
            Assert.Equal("routers[0].memoryMB", inner.JsonPath);
            Assert.Equal((2, text.Split('\n')[1].LastIndexOf("\"memoryMB\"", StringComparison.Ordinal) + 1), (inner.Line!.Value, inner.Column!.Value));
            Assert.Contains("'memoryMB'", inner.Message);
            Assert.Contains("first at line 2", inner.Message);

            Assert.Equal("routers", r.Errors[1].JsonPath);
            Assert.Equal(3, r.Errors[1].Line);
        }

        [Fact]
        public void Same_name_in_different_objects_is_not_a_duplicate() =>
            Good("{ \"routers\": [ { \"name\": \"a\" }, { \"name\": \"b\" } ] }");

        [Theory]
        [InlineData("-1")]
        [InlineData("-1.5")]
        [InlineData("\"-10Mbps\"")]
        [InlineData("\"fast\"")]
        [InlineData("\"10 parsecs\"")]
        [InlineData("\"\"")]
        [InlineData("NaN")]
        [InlineData("Infinity")]
        [InlineData("-Infinity")]
        [InlineData("1e400")]
        [InlineData("99999999999999999999999")]
        [InlineData("-99999999999999999999999")]
        [InlineData("\"99999999999 Tbps\"")]
        public void Bad_bandwidth_is_InvalidBandwidth(string value)
        {
            var e = Single("{ \"links\": [ { \"name\": \"l1\", \"from\": \"a\", \"to\": \"b\", \"maximumBandwidth\": " + value + " } ] }", ErrorIds.InvalidBandwidth);
            Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
            Assert.Equal("links[0].maximumBandwidth", e.JsonPath);
            Assert.Equal("l1", e.Target);
            Assert.Contains("links[0].maximumBandwidth", e.Message);
        }

        [Fact]
        public void Bad_default_bandwidth_is_InvalidBandwidth() =>
            Assert.Equal("defaults.maximumBandwidth", Single("{ \"defaults\": { \"maximumBandwidth\": \"lots\" } }", ErrorIds.InvalidBandwidth).JsonPath);

        [Theory]
        [InlineData("IPv5")]
        [InlineData("ipx")]
        [InlineData("4")]
        [InlineData("")]
        [InlineData("IPv4 ")]
        public void Bad_address_family_is_InvalidAddressFamily(string value)
        {
            var e = Single("{ \"routers\": [ { \"name\": \"r1\", \"addressFamily\": \"" + value + "\" } ] }", ErrorIds.InvalidAddressFamily);
            Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
            Assert.Contains("IPv4", e.Message);
            Assert.Equal("r1", e.Target);
        }

        [Theory]
        [InlineData("ipv4AddressPool", "10.0.0.0/33")]
        [InlineData("ipv4AddressPool", "10.0.0.0/32")]
        [InlineData("ipv4AddressPool", "10.0.0.1/16")]
        [InlineData("ipv4AddressPool", "10.0.0.0")]
        [InlineData("ipv4AddressPool", "10/8")]
        [InlineData("ipv4AddressPool", "010.0.0.0/8")]
        [InlineData("ipv4AddressPool", "10.0.0.0/08")]
        [InlineData("ipv4AddressPool", "256.0.0.0/8")]
        [InlineData("ipv4AddressPool", "fd00::/64")]
        [InlineData("ipv4AddressPool", "")]
        [InlineData("ipv6AddressPool", "fd00::/128")]
        [InlineData("ipv6AddressPool", "fd00::1/64")]
        [InlineData("ipv6AddressPool", "10.0.0.0/8")]
        [InlineData("ipv6AddressPool", "fe80::%eth0/64")]
        [InlineData("ipv6AddressPool", "garbage")]
        public void Bad_pool_is_InvalidAddressPool(string field, string value)
        {
            var e = Single("{ \"defaults\": { \"" + field + "\": \"" + value + "\" } }", ErrorIds.InvalidAddressPool);
            Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
            Assert.Equal("defaults." + field, e.JsonPath);
        }

        [Fact]
        public void Host_bits_message_suggests_the_network() =>
            Assert.Contains("did you mean 10.0.0.0/16?", Single("{ \"defaults\": { \"ipv4AddressPool\": \"10.0.0.1/16\" } }", ErrorIds.InvalidAddressPool).Message);

        [Theory]
        [InlineData("vlanId", "10000000000", "InvalidVlanId")]
        [InlineData("memoryMB", "99999999999", "InvalidMemory")]
        [InlineData("processorCount", "-99999999999", "InvalidProcessorCount")]
        public void Integers_beyond_int32_get_the_field_range_error(string field, string value, string id)
        {
            string text = field == "vlanId"
                ? "{ \"links\": [ { \"from\": \"a\", \"to\": \"b\", \"vlanId\": " + value + " } ] }"
                : "{ \"routers\": [ { \"name\": \"a\", \"" + field + "\": " + value + " } ] }";
            Assert.Equal(ErrorKind.InvalidArgument, Single(text, id).Kind);
        }

        [Fact]
        public void All_errors_are_collected_in_file_order()
        {
            const string text = @"{
  ""router"": [],
  ""routers"": [
    { ""name"": ""r1"", ""processorCount"": ""two"" },
    { ""image"": ""x"" },
    { ""name"": ""r3"", ""addressFamily"": ""IPv7"" }
  ],
  ""links"": [ { ""from"": ""r1"", ""maximumBandwidth"": ""fast"" } ],
  ""defaults"": { ""ipv6AddressPool"": ""nope"" }
}";
            var r = Parse(text);
            Assert.Equal(new[]
            {
                ErrorIds.TopologyUnknownField, ErrorIds.TopologyWrongType, ErrorIds.TopologyMissingField, ErrorIds.InvalidAddressFamily,
                ErrorIds.TopologyMissingField, ErrorIds.InvalidBandwidth, ErrorIds.InvalidAddressPool,
            }, r.Errors.Select(e => e.ErrorId));
            Assert.Equal(new[] { 2, 4, 5, 6, 8, 8, 9 }, r.Errors.Select(e => e.Line!.Value));
            Assert.Null(r.Spec);
            Assert.All(r.Errors, e => Assert.StartsWith("'test.json', line ", e.Message));
        }

        // ---- files ---------------------------------------------------------------------------------------------------

        [Fact]
        public void Missing_file_is_TopologyFileNotFound()
        {
            string path = Path.Combine(Path.GetTempPath(), "vn-no-such-" + Guid.NewGuid().ToString("N") + ".json");
            var e = Assert.Single(TopologyReader.ReadFile(path).Errors);
            Assert.Equal(ErrorIds.TopologyFileNotFound, e.ErrorId);
            Assert.Equal(ErrorKind.ObjectNotFound, e.Kind);
            Assert.Equal(path, e.Target);
            Assert.Contains(path, e.Message);
        }

        [Theory]
        [InlineData("")]
        [InlineData("  ")]
        [InlineData(null)]
        public void No_path_is_TopologyFileNotFound(string? path) =>
            Assert.Equal(ErrorIds.TopologyFileNotFound, Assert.Single(TopologyReader.ReadFile(path!).Errors).ErrorId);

        [Fact]
        public void Directory_is_TopologyFileUnreadable() =>
            Assert.Equal(ErrorIds.TopologyFileUnreadable, Assert.Single(TopologyReader.ReadFile(Path.GetTempPath()).Errors).ErrorId);

        [Fact]
        public void Invalid_utf8_is_TopologyFileUnreadable()
        {
            using var file = new TempFile(new byte[] { (byte)'{', 0xC3, 0x28, (byte)'}' });
            var e = Assert.Single(TopologyReader.ReadFile(file.Path).Errors);
            Assert.Equal(ErrorIds.TopologyFileUnreadable, e.ErrorId);
            Assert.Contains("UTF-8", e.Message);
        }

        [Fact]
        public void Utf16_with_bom_is_read()
        {
            // Windows PowerShell's '>' and Out-File write UTF-16LE with a byte order mark.
            var bytes = Encoding.Unicode.GetPreamble().Concat(Encoding.Unicode.GetBytes("{ \"routers\": [ { \"name\": \"r1\" } ] }")).ToArray();
            using var file = new TempFile(bytes);
            var r = TopologyReader.ReadFile(file.Path);
            Assert.True(r.Success);
            Assert.Equal(Path.GetFullPath(file.Path), r.Spec!.SourceName);
        }

        [Fact]
        public void File_errors_name_the_file_as_given()
        {
            using var file = new TempFile(Encoding.UTF8.GetBytes("{ \"routers\": [ { \"name\": 1 } ] }"));
            var e = Assert.Single(TopologyReader.ReadFile(file.Path).Errors);
            Assert.StartsWith("'" + file.Path + "', line 1, column ", e.Message);
        }

        // ---- robustness ----------------------------------------------------------------------------------------------

        [Property(MaxTest = 300)]
        public bool Never_throws_on_arbitrary_text(string? text)
        {
            var r = TopologyReader.Parse(text!, "fuzz.json");
            return r.Success ? r.Spec != null : r.Spec == null && r.Errors.Count > 0;
        }

        [Fact]
        public void Never_throws_on_any_prefix_of_a_good_file()
        {
            string text = File.ReadAllText(Path.Combine(TopologyFixtureTests.Directory, "good.json"));
            int complete = text.TrimEnd().Length;
            for (int n = 0; n < complete; n++)
            {
                var r = TopologyReader.Parse(text.Substring(0, n), "prefix.json");
                Assert.False(r.Success, "prefix of length " + n + " parsed");
                Assert.Contains(r.Errors[0].ErrorId, new[] { ErrorIds.TopologyJsonSyntax, ErrorIds.TopologyFileEmpty });
            }
            Assert.True(TopologyReader.Parse(text, "full.json").Success);
        }

        [Fact]
        public void Deep_nesting_is_a_syntax_error_not_a_crash()
        {
            string text = "{ \"routers\": " + new string('[', 10_000) + new string(']', 10_000) + " }";
            Assert.Equal(ErrorIds.TopologyJsonSyntax, Assert.Single(Parse(text).Errors).ErrorId);
        }

        /// <summary>A temporary file deleted on dispose.</summary>
        private sealed class TempFile : IDisposable
        {
            public TempFile(byte[] content)
            {
                Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "vn-topology-" + Guid.NewGuid().ToString("N") + ".json");
                File.WriteAllBytes(Path, content);
            }

            public string Path { get; }

            public void Dispose() => File.Delete(Path);
        }
    }
}
