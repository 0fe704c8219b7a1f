using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using VirtualNetworks.Backends;
using VirtualNetworks.Linux.Net;
using VirtualNetworks.Linux.Vm;
using Xunit;
using Xunit.Abstractions;

namespace VirtualNetworks.Linux.Tests
{
    /// <summary>
    /// LinuxBackend.StartRouters (the engine's batch of StartRouter steps) with real QEMU, bridges and taps: the routers'
    /// QEMUs are launched together, intact links are left alone, drifted ones are rewired, and a router that cannot start
    /// is reported by name without stopping the others.
    /// </summary>
    [Collection(VmRealCollection.Name)]
    public sealed class BatchStartTests : IClassFixture<VmImageFixture>, IDisposable
    {
        private static readonly CancellationToken None = CancellationToken.None;
        private readonly VmImageFixture _image;
        private readonly ITestOutputHelper _out;
        private readonly string _root = VmTestHost.NewStateRoot();
        private readonly string _p = "bs" + VmTestHost.Hex(4);
        private LinuxBackend? _backend;

        public BatchStartTests(VmImageFixture image, ITestOutputHelper output)
        {
            _image = image;
            _out = output;
        }

        private LinuxBackend Backend()
        {
            VmTestHost.RequireRoot();
            _image.EnsureBuilt();
            Directory.CreateDirectory(Path.Combine(_root, "images"));
            Directory.CreateSymbolicLink(Path.Combine(_root, "images", "router"), _image.ImageDirectory);
            return _backend = new LinuxBackend(new BackendRequest
            {
                Options = new Dictionary<string, object?> { [LinuxBackend.StateDirectoryOption] = _root },
            });
        }

        private string N(string s) => _p + "-" + s;

        [VmRootFact]
        public void StartRouters_launches_all_rewires_only_drifted_links_and_names_each_failure()
        {
            var b = Backend();
            foreach (var r in new[] { "r1", "r2", "r3", "r4" })
                b.CreateRouter(new RouterSpec { Name = N(r), Image = "router", MemoryMB = 128, ProcessorCount = 1 }, None);
            b.CreateLink(new LinkSpec { Name = N("l12"), From = N("r1"), To = N("r2"), MaximumBandwidth = 10_000_000 }, None);
            b.CreateLink(new LinkSpec { Name = N("l23"), From = N("r2"), To = N("r3") }, None);

            // Drift on l12: a tap down and its tbf gone. l23 stays as it was made.
            var l12 = b.Store.ReadLink(N("l12"))!;
            var drifted = l12.Taps[N("r1")];
            Assert.True(VmTestHost.Run("ip", "link", "set", "dev", drifted, "down").Succeeded);
            Assert.True(VmTestHost.Run("tc", "qdisc", "del", "dev", drifted, "root").Succeeded);
            string l23File = Path.Combine(_root, "links", N("l23").ToLowerInvariant() + ".json");
            string l12File = Path.Combine(_root, "links", N("l12").ToLowerInvariant() + ".json");
            Assert.True(File.Exists(l23File) && File.Exists(l12File), "link records where expected");
            var stamp = new DateTime(2001, 1, 1, 0, 0, 0, DateTimeKind.Utc);
            File.SetLastWriteTimeUtc(l23File, stamp);
            File.SetLastWriteTimeUtc(l12File, stamp);

            // r4's image vanishes from its record: it cannot start; an unknown name neither; the others must.
            var r4 = b.Store.ReadRouter(N("r4"))!;
            r4.Image = "nosuchimage";
            b.Store.WriteRouter(r4);
            var names = new[] { N("r1"), N("r2"), N("nosuch"), N("r3"), N("r4") };
            var outcomes = b.StartRouters(names, None);

            Assert.Equal(names.Length, outcomes.Count);
            for (int i = 0; i < names.Length; i++) _out.WriteLine(names[i] + ": " + (outcomes[i]?.Message ?? "started"));
            Assert.Null(outcomes[0]);
            Assert.Null(outcomes[1]);
            Assert.Null(outcomes[3]);
            var unknown = Assert.IsType<VirtualNetworksException>(outcomes[2]);
            Assert.Equal(ErrorIds.RouterNotFound, unknown.ErrorId);
            var noImage = Assert.IsType<VirtualNetworksException>(outcomes[4]);
            Assert.Equal(ErrorIds.ImageNotFound, noImage.ErrorId);
            Assert.Contains(N("r4"), noImage.Message);

            foreach (var r in new[] { "r1", "r2", "r3" })
            {
                Assert.True(RouterProcess.Inspect(b.Store.RunPaths(N(r))).IsRunning, r + " runs");
                Assert.Equal(RouterState.Running, b.Store.ReadRouter(N(r))!.DesiredState);
            }
            Assert.False(RouterProcess.Inspect(b.Store.RunPaths(N("r4"))).IsRunning);
            Assert.Equal(RouterState.Off, b.Store.ReadRouter(N("r4"))!.DesiredState);

            // The drifted link was rewired (tap up, tbf back, record written); the intact one was not touched.
            var ip = new IpCommand();
            Assert.True(ip.GetLink(drifted)!.AdminUp);
            Assert.NotNull(new TrafficShaper(ip).Get(drifted));
            Assert.NotEqual(stamp, File.GetLastWriteTimeUtc(l12File));
            Assert.Equal(stamp, File.GetLastWriteTimeUtc(l23File));

            // Starting running routers again changes nothing and fails nothing.
            Assert.All(b.StartRouters(new[] { N("r1"), N("r3") }, None), Assert.Null);
        }

        public void Dispose()
        {
            if (_backend != null)
            {
                foreach (var l in new[] { "l12", "l23" })
                {
                    try { _backend.RemoveLink(N(l), None); }
                    catch (Exception ex) { _out.WriteLine("clean-up " + l + ": " + ex.Message); }
                }
                foreach (var r in new[] { "r1", "r2", "r3", "r4" })
                {
                    try { _backend.RemoveRouter(N(r), None); }
                    catch (Exception ex) { _out.WriteLine("clean-up " + r + ": " + ex.Message); }
                }
            }
            foreach (var (pid, cmd) in VmTestHost.ProcessesMentioning(_root))
            {
                _out.WriteLine("leftover process " + pid + ": " + cmd);
                try { System.Diagnostics.Process.GetProcessById(pid).Kill(); } catch (Exception) { }
            }
            VmTestHost.DeleteTree(_root);
        }
    }
}
