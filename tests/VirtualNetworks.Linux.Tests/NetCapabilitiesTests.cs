using System.Linq;
using VirtualNetworks.Linux.Net;
using Xunit;
using Xunit.Abstractions;

namespace VirtualNetworks.Linux.Tests
{
    [Collection(NetHostCollection.Name)]
    public class NetCapabilitiesTests
    {
        private readonly ITestOutputHelper _output;

        public NetCapabilitiesTests(ITestOutputHelper output)
        {
            _output = output;
        }

        [RootFact]
        public void Probe_finds_what_links_need()
        {
            NetTestHost.RequireRoot();
            var report = LinuxCapabilities.Probe(refresh: true);
            _output.WriteLine(report.Describe());
            _output.WriteLine("probe took " + report.Duration.TotalMilliseconds.ToString("0") + " ms");

            Assert.True(report.IsRoot);
            // What every machine this project runs on must have (the product depends on it).
            Assert.True(report.IpTool);
            Assert.True(report.TcTool);
            Assert.True(report.NetworkAdmin);
            Assert.True(report.TunDevice);
            Assert.True(report.Bridge);
            Assert.True(report.Tap);
            Assert.True(report.Tbf);
            Assert.True(report.TbfChange);
            Assert.True(report.CanBuildLinks);
            report.EnsureAvailable(LinuxCapabilityReport.LinkFeatures);

            // Every missing feature says where it comes from.
            foreach (var m in report.Missing)
            {
                Assert.False(report.Has(m.Feature));
                Assert.False(string.IsNullOrWhiteSpace(m.Detail));
                Assert.False(string.IsNullOrWhiteSpace(m.Remedy));
            }

            // Cached: the same report until refreshed.
            Assert.Same(report, LinuxCapabilities.Probe());
            Assert.NotSame(report, LinuxCapabilities.Probe(refresh: true));

            // (That no probe device is left behind is checked in a private namespace below: other processes on this
            // machine may be probing at the same time.)
        }

        /// <summary>Without root the probe must say so (and why), not claim features are missing from the kernel.</summary>
        [Fact]
        public void Without_root_the_probe_reports_missing_privilege()
        {
            if (LinuxCapabilities.IsRoot()) return; // covered by the root tests
            var report = LinuxCapabilities.Probe(refresh: true);
            Assert.False(report.IsRoot);
            Assert.False(report.NetworkAdmin);
            var admin = Assert.Single(report.Missing, m => m.Feature == LinuxFeature.NetworkAdmin);
            Assert.Contains("root", admin.Remedy);
            var ex = Assert.ThrowsAny<VirtualNetworksException>(() => report.EnsureAvailable(LinuxCapabilityReport.LinkFeatures));
            Assert.Equal(ErrorKind.PermissionDenied, ex.Kind);
        }

        [RootFact]
        public void A_missing_feature_gives_one_error_naming_it_and_its_remedy()
        {
            NetTestHost.RequireRoot();
            var report = LinuxCapabilities.Probe();
            var missing = report.Missing.FirstOrDefault();
            if (missing == null) return; // a machine with everything: nothing to report
            var ex = Assert.ThrowsAny<VirtualNetworksException>(() => report.EnsureAvailable(new[] { missing.Feature }));
            Assert.Equal(ErrorIds.BackendNotAvailable, ex.ErrorId);
            Assert.Contains(missing.Feature.ToString(), ex.Message);
            Assert.Contains(missing.Remedy, ex.RecommendedAction);
        }

        [RootFact]
        public void Probe_works_inside_a_network_namespace_and_leaves_nothing_behind()
        {
            NetTestHost.RequireRoot();
            string ns = "vntest-cap-" + NetTestHost.Suffix();
            NetTestHost.Run("ip", "netns", "add", ns);
            try
            {
                var report = LinuxCapabilities.Probe(ns, refresh: true);
                Assert.Equal(ns, report.NetworkNamespace);
                Assert.True(report.Bridge);
                Assert.True(report.Tbf);
                var links = new IpCommand(ns).ListLinks();
                Assert.DoesNotContain(links, l => l.IsOwned || l.Name.StartsWith(InterfaceNames.ProbePrefix));
                Assert.Equal(new[] { "lo" }, links.Select(l => l.Name));
            }
            finally
            {
                NetTestHost.RunQuietly("ip", "netns", "del", ns);
            }
        }
    }
}
