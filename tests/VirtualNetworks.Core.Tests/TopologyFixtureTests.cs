using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Newtonsoft.Json.Linq;
using VirtualNetworks.Topology;
using Xunit;

namespace VirtualNetworks.Core.Tests.Topology
{
    /// <summary>
    /// The shared bad-input files in tests/fixtures/topologies: cases.json maps each file to the one error id it must
    /// produce through the whole pipeline (read, then validate) with an image check that knows only "router".
    /// </summary>
    public class TopologyFixtureTests
    {
        /// <summary>The fixture folder, copied next to the test assembly.</summary>
        public static string Directory => Path.Combine(AppContext.BaseDirectory, "fixtures", "topologies");

        /// <summary>The context the fixtures are written for (the module tests use the same).</summary>
        public static ValidationContext Context() => new ValidationContext { ImageExists = (image, host) => image == "router" };

        public static Dictionary<string, string> Cases() =>
            JObject.Parse(File.ReadAllText(Path.Combine(Directory, "cases.json")))
                .Properties().ToDictionary(p => p.Name, p => (string)p.Value!);

        public static IEnumerable<object[]> CaseData() => Cases().Select(c => new object[] { c.Key, c.Value });

        /// <summary>Read, and validate when reading succeeded: the errors a user of the file would see first.</summary>
        public static List<TopologyError> Pipeline(string file)
        {
            var read = TopologyReader.ReadFile(Path.Combine(Directory, file));
            return read.Success ? TopologyValidator.Validate(read.Spec!, Context()) : read.Errors;
        }

        [Theory]
        [MemberData(nameof(CaseData))]
        public void Each_fixture_yields_exactly_its_error(string file, string expectedId)
        {
            var errors = Pipeline(file);
            Assert.Contains(errors, e => e.ErrorId == expectedId);
            Assert.Equal(new[] { expectedId }, errors.Select(e => e.ErrorId).Distinct());
            Assert.All(errors, e => Assert.False(string.IsNullOrWhiteSpace(e.Message)));
            Assert.All(errors, e => Assert.NotNull(e.Target));
        }

        [Fact]
        public void Every_fixture_file_is_a_case_and_every_case_has_a_file()
        {
            var files = System.IO.Directory.GetFiles(Directory, "*.json").Select(Path.GetFileName)
                .Where(f => f != "cases.json" && f != "good.json").OrderBy(f => f, StringComparer.Ordinal);
            Assert.Equal(files, Cases().Keys.OrderBy(f => f, StringComparer.Ordinal));
        }

        [Fact]
        public void Cases_use_real_error_ids()
        {
            var ids = typeof(ErrorIds).GetFields().Select(f => (string)f.GetValue(null)!).ToHashSet();
            Assert.All(Cases().Values, id => Assert.Contains(id, ids));
        }

        [Fact]
        public void Good_fixture_reads_and_validates()
        {
            var read = TopologyReader.ReadFile(Path.Combine(Directory, "good.json"));
            Assert.True(read.Success, string.Join(Environment.NewLine, read.Errors));
            var spec = read.Spec!;
            Assert.Empty(TopologyValidator.Validate(spec, Context()));

            Assert.Equal(new[] { "a1", "a2", "b1", "b2" }, spec.Routers.Select(r => r.Name));
            Assert.Equal(new[] { "a", "a", "b", "b" }, spec.Routers.Select(r => r.NetworkLabel));
            Assert.Equal(new[] { NetworkAddressFamily.IPv4, NetworkAddressFamily.IPv4, NetworkAddressFamily.IPv6, NetworkAddressFamily.IPv6 },
                spec.Routers.Select(r => r.AddressFamily));
            Assert.All(spec.Routers, r => Assert.Equal("router", r.Image));
            Assert.Equal(2, spec.Routers[2].ProcessorCount);

            Assert.Equal(new[] { "a1-a2", "a1-a2-2", "b-link", "b2-b1" }, spec.Links.Select(l => l.Name));
            Assert.Equal(new long?[] { 100_000_000, 10_000_000, null, 1_500_000 }, spec.Links.Select(l => l.MaximumBandwidth));
            Assert.Equal(new int?[] { null, 10, null, 20 }, spec.Links.Select(l => l.VlanId));
        }
    }
}
