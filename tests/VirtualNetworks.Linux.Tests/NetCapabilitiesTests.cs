using System.Collections.Generic;
using System.Linq;
using VirtualNetworks.Linux.Net;
using VirtualNetworks.Util;
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

        /// <summary>
        /// Test interceptor: the first <paramref name="times"/> times the probe sets vlan_filtering on its bridge, the bridge
        /// is deleted for real just before (as another process's clean-up did), then the command runs for real.
        /// </summary>
        private sealed class DeleteProbeBridge : ICommandInterceptor
        {
            private readonly int _times;
            public DeleteProbeBridge(int times) => _times = times;
            public int Deleted { get; private set; }

            public ProcessResult? Intercept(string tool, string? networkNamespace, List<string> arguments)
            {
                int dev = arguments.IndexOf("dev");
                if (Deleted < _times && tool == "ip" && arguments.Contains("vlan_filtering") && dev >= 0 &&
                    arguments[dev + 1].StartsWith(InterfaceNames.ProbePrefix, System.StringComparison.Ordinal))
                {
                    var del = new List<string>();
                    if (networkNamespace != null) del.AddRange(new[] { "-netns", networkNamespace });
                    del.AddRange(new[] { "link", "del", "dev", arguments[dev + 1] });
                    NetTestHost.Run("ip", del.ToArray());
                    Deleted++;
                }
                return null;
            }
        }

        /// <summary>
        /// Issue 11, defect 8: a probe device deleted under the probe (another process's clean-up) is not a missing kernel
        /// feature: the probe starts again and reports what the kernel has.
        /// </summary>
        /// <summary>
        /// Another VXLAN device with the VNI, port and local address the probe once always used (another probe's, or one a
        /// killed command's `ip` created after it died) does not make VXLAN look unsupported: found by the kill -9 soak.
        /// </summary>
        [RootFact]
        public void Another_vxlan_device_on_the_loopback_does_not_make_vxlan_look_unsupported()
        {
            NetTestHost.RequireRoot();
            string ns = "vntest-cap-" + NetTestHost.Suffix();
            NetTestHost.Run("ip", "netns", "add", ns);
            try
            {
                NetTestHost.Run("ip", "-netns", ns, "link", "add", "name", "other0", "type", "vxlan", "id", "1", "local", "127.0.0.1",
                    "remote", "127.0.0.2", "dstport", "4789", "nolearning");
                var report = LinuxCapabilities.Probe(ns, refresh: true);
                Assert.True(report.Vxlan, report.Describe());
                Assert.Contains(new IpCommand(ns).ListLinks(), l => l.Name == "other0"); // someone else's: untouched
            }
            finally
            {
                NetTestHost.RunQuietly("ip", "netns", "del", ns);
            }
        }

        [RootFact]
        public void A_probe_device_deleted_mid_probe_is_not_reported_as_missing_features()
        {
            NetTestHost.RequireRoot();
            string ns = "vntest-cap-" + NetTestHost.Suffix();
            NetTestHost.Run("ip", "netns", "add", ns);
            try
            {
                var baseline = LinuxCapabilities.Probe(ns, refresh: true);
                var interceptor = new DeleteProbeBridge(1);
                LinuxCapabilityReport report;
                using (NetTools.InterceptCommands(interceptor))
                    report = LinuxCapabilities.Probe(ns, refresh: true);
                _output.WriteLine(report.Describe());
                Assert.Equal(1, interceptor.Deleted);
                Assert.Equal(baseline.Missing.Select(m => m.Feature), report.Missing.Select(m => m.Feature));
                Assert.True(report.Tbf);
                Assert.True(report.TbfChange);
                Assert.True(report.CanBuildLinks);
                Assert.Equal(new[] { "lo" }, new IpCommand(ns).ListLinks().Select(l => l.Name));
            }
            finally
            {
                LinuxCapabilities.Probe(ns, refresh: true);
                NetTestHost.RunQuietly("ip", "netns", "del", ns);
            }
        }

        /// <summary>When the devices keep vanishing, the probe fails with ResourceUnavailable, not "install kernel modules".</summary>
        [RootFact]
        public void A_probe_whose_devices_keep_vanishing_fails_with_a_clear_error()
        {
            NetTestHost.RequireRoot();
            string ns = "vntest-cap-" + NetTestHost.Suffix();
            NetTestHost.Run("ip", "netns", "add", ns);
            try
            {
                var interceptor = new DeleteProbeBridge(int.MaxValue);
                VirtualNetworksException ex;
                using (NetTools.InterceptCommands(interceptor))
                    ex = Assert.Throws<VirtualNetworksException>(() => LinuxCapabilities.Probe(ns, refresh: true));
                _output.WriteLine(ex.Message);
                Assert.Equal(LinuxCapabilities.ProbeAttempts, interceptor.Deleted);
                Assert.Equal(ErrorIds.BackendOperationFailed, ex.ErrorId);
                Assert.Equal(ErrorKind.ResourceUnavailable, ex.Kind);
                Assert.Contains("deleted by another process", ex.Message);
                Assert.Contains("not a missing kernel feature", ex.Message);
                Assert.DoesNotContain("Kernel", ex.Message);
                Assert.DoesNotContain("modprobe", (ex.RecommendedAction ?? "") + ex.Message);
                Assert.Equal(new[] { "lo" }, new IpCommand(ns).ListLinks().Select(l => l.Name));
            }
            finally
            {
                NetTestHost.RunQuietly("ip", "netns", "del", ns);
            }
        }

        /// <summary>A probe killed before it cleaned up leaves devices; the next probe there removes them, but not a live owner's.</summary>
        [RootFact]
        public void The_next_probe_removes_a_dead_probes_devices_and_keeps_a_live_ones()
        {
            NetTestHost.RequireRoot();
            string s = NetTestHost.Suffix();
            string ns = "vntest-cap-" + s;
            NetTestHost.Run("ip", "netns", "add", ns);
            using var sleeper = NetOrphanScannerTests.Sleeper();
            try
            {
                var ip = new IpCommand(ns);
                string dead = "vnp" + s + "d0", live = "vnp" + s + "e0";
                ip.CreateBridge(dead + "b", OwnershipTag.ForProbe(dead, NetOrphanScannerTests.DeadOwner()));
                ip.CreateTap(dead + "t", OwnershipTag.ForProbe(dead, NetOrphanScannerTests.DeadOwner()));
                ip.CreateBridge(live + "b", OwnershipTag.ForProbe(live, ProbeOwner.Of(sleeper.Id)));
                var report = LinuxCapabilities.Probe(ns, refresh: true);
                Assert.True(report.Bridge);
                Assert.Equal(new[] { "lo", live + "b" }, ip.ListLinks().Select(l => l.Name).OrderBy(n => n, System.StringComparer.Ordinal));
            }
            finally
            {
                try { if (!sleeper.HasExited) sleeper.Kill(); } catch (System.InvalidOperationException) { }
                NetTestHost.RunQuietly("ip", "netns", "del", ns);
            }
        }
    }
}
