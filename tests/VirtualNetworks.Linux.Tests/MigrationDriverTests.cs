using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using VirtualNetworks.Linux.State;
using VirtualNetworks.Linux.Vm;
using Xunit;
using Xunit.Abstractions;

namespace VirtualNetworks.Linux.Tests
{
    /// <summary>Reports progress synchronously on the calling thread (Progress&lt;T&gt; would post to the thread pool).</summary>
    internal sealed class InlineProgress : IProgress<string>
    {
        private readonly Action<string> _action;

        public InlineProgress(Action<string> action) => _action = action;

        public void Report(string value) => _action(value);
    }

    /// <summary>
    /// <see cref="MigrationDriver"/> with real QEMU processes: a router booted from the project's image (TCG) in one
    /// state directory (the "source host") and the same router started with "-incoming defer" in another (the
    /// "destination host"), migrated over TCP on 127.0.0.1. Failure cases: the destination killed mid-stream, a migration
    /// that cannot converge within its bound, a failing switch-over hook. Each test cleans up every process it started.
    /// </summary>
    [Collection(VmRealCollection.Name)]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public sealed class MigrationDriverTests : IClassFixture<VmImageFixture>, IDisposable
    {
        private readonly VmImageFixture _image;
        private readonly ITestOutputHelper _out;
        private readonly string _srcRoot = VmTestHost.NewStateRoot();
        private readonly string _dstRoot = VmTestHost.NewStateRoot();
        private VmManager? _src;
        private VmManager? _dst;
        private readonly string _name = "mig-" + VmTestHost.Hex(6);
        private readonly List<string> _log = new List<string>();

        public MigrationDriverTests(VmImageFixture image, ITestOutputHelper output)
        {
            _image = image;
            _out = output;
        }

        private void Setup()
        {
            VmTestHost.RequireRoot();
            _image.EnsureBuilt();
            var s = new StateStore(_srcRoot);
            s.EnsureLayout();
            var d = new StateStore(_dstRoot);
            d.EnsureLayout();
            _src = new VmManager(s, new QemuLauncher(s));
            _dst = new VmManager(d, new QemuLauncher(d));
        }

        private VmLaunchSpec Spec(string? incoming) => new VmLaunchSpec
        {
            Name = _name,
            MemoryMB = 128,
            ProcessorCount = 1,
            Accelerator = Accelerator.Tcg,
            Kernel = _image.Kernel,
            Initrd = _image.Initrd,
            Firmware = QemuLauncher.FindQboot(),
            ConfigText = "name " + _name + "\n",
            Incoming = incoming,
        };

        /// <summary>Destination first (it only waits), then the source booted to VN-READY; returns the source's uptime at ready.</summary>
        private long StartPair()
        {
            Setup();
            var clock = Stopwatch.StartNew();
            _dst!.Start(Spec("defer"));
            Assert.Equal(VmProcessState.Running, RouterProcess.Inspect(_dst.Paths(_name)).State);
            _src!.Start(Spec(null), TimeSpan.FromSeconds(90));
            var ready = _src.Channel(_name).WaitReady(TimeSpan.FromSeconds(30));
            Assert.Equal(_name, ready.Name);
            _out.WriteLine("source ready after " + clock.ElapsedMilliseconds + " ms, guest uptime " + ready.UptimeMilliseconds + " ms");
            return ready.UptimeMilliseconds;
        }

        private MigrationDriver Driver(QmpClient s, QmpClient d, MigrationOptions? options = null)
        {
            return new MigrationDriver(_name, s, d, new MigrationTarget("127.0.0.1"), options)
            {
                Progress = new InlineProgress(p =>
                {
                    lock (_log) _log.Add(p);
                    _out.WriteLine("progress: " + p);
                }),
                AbortDestination = () => RouterProcess.Kill(_dst!.Paths(_name), TimeSpan.FromSeconds(3)),
            };
        }

        private void AssertSourceServesAndDestinationGone(long uptimeBefore)
        {
            Assert.Equal("running", _src!.GetStatus(_name).QemuStatus);
            var ready = _src.Channel(_name).WaitReady(TimeSpan.FromSeconds(10));
            Assert.Equal(_name, ready.Name);
            Assert.True(ready.UptimeMilliseconds >= uptimeBefore, "the source router rebooted? uptime " + ready.UptimeMilliseconds + " < " + uptimeBefore);
            Assert.NotEqual(VmProcessState.Running, RouterProcess.Inspect(_dst!.Paths(_name)).State);
            Assert.Empty(VmTestHost.ProcessesMentioning(_dstRoot));
        }

        public void Dispose()
        {
            foreach (var vms in new[] { _src, _dst })
            {
                if (vms == null) continue;
                try
                {
                    vms.TurnOff(_name);
                }
                catch (Exception ex)
                {
                    _out.WriteLine("clean-up: " + ex.Message);
                }
            }
            foreach (var root in new[] { _srcRoot, _dstRoot })
            {
                foreach (var (pid, cmd) in VmTestHost.ProcessesMentioning(root))
                {
                    _out.WriteLine("leftover process " + pid + ": " + cmd);
                    try { Process.GetProcessById(pid).Kill(); } catch (Exception) { }
                }
                VmTestHost.DeleteTree(root);
            }
        }

        [Fact]
        public void Target_uri_brackets_ipv6_and_rejects_names()
        {
            Assert.Equal("tcp:10.0.0.2:4444", new MigrationTarget("10.0.0.2", 4444).Uri(4444));
            Assert.Equal("tcp:[fd00::2]:0", new MigrationTarget("fd00::2").Uri(0));
            Assert.Throws<ArgumentException>(() => new MigrationTarget("host.example"));
            Assert.Throws<ArgumentOutOfRangeException>(() => new MigrationTarget("10.0.0.2", 70000));
            Assert.Throws<ArgumentOutOfRangeException>(() => new MigrationOptions { DowntimeLimitMilliseconds = 0 }.Validate());
        }

        [VmRootFact]
        public void Live_migration_moves_a_running_router_without_reboot()
        {
            long uptime = StartPair();
            MigrationResult result;
            int hookCalls = 0;
            string? sourceAtHook = null;
            string? destinationAtHook = null;
            bool completionSawRunning = false;
            using (var s = _src!.Qmp(_name))
            using (var d = _dst!.Qmp(_name))
            {
                var driver = Driver(s, d);
                driver.BeforeSwitchover = ctx =>
                {
                    hookCalls++;
                    sourceAtHook = s.QueryStatus();
                    destinationAtHook = d.QueryStatus();
                    Assert.StartsWith("tcp:127.0.0.1:", ctx.Uri);
                };
                driver.AfterCompletion = r => completionSawRunning = d.QueryStatus() == "running";
                result = driver.Run();
                _out.WriteLine("result: " + result);
                Assert.Equal("postmigrate", s.QueryStatus());
                Assert.Equal("running", d.QueryStatus());
            }
            Assert.Equal(1, hookCalls);
            Assert.Equal("finish-migrate", sourceAtHook); // vCPUs stopped while the hook runs
            Assert.Equal("inmigrate", destinationAtHook);
            Assert.True(completionSawRunning);
            Assert.Equal("running", result.DestinationStatus);
            Assert.Equal("postmigrate", result.SourceStatus);
            Assert.True(result.Total < TimeSpan.FromSeconds(2), "total " + result.Total);
            Assert.True(result.RamTotalBytes > 100L * 1024 * 1024 && result.TransferredBytes > 0, result.ToString());
            Assert.True(result.QemuDowntimeMilliseconds >= 0 && result.QemuDowntimeMilliseconds < 1000, result.ToString());
            Assert.Contains(_log, l => l.StartsWith("destination listening on tcp:127.0.0.1:", StringComparison.Ordinal));
            Assert.Contains("switching over", _log);
            Assert.Contains(_log, l => l.StartsWith("completed", StringComparison.Ordinal));

            // The same guest, still up: it answers on the destination's channel with a larger uptime (no reboot).
            var ready = _dst.Channel(_name).WaitReady(TimeSpan.FromSeconds(10));
            Assert.Equal(_name, ready.Name);
            Assert.True(ready.UptimeMilliseconds >= uptime, "uptime after " + ready.UptimeMilliseconds + " < before " + uptime);
            _out.WriteLine("guest uptime before " + uptime + " ms, after " + ready.UptimeMilliseconds + " ms");

            // The caller ends the source.
            _src.TurnOff(_name);
            Assert.Empty(VmTestHost.ProcessesMentioning(_srcRoot));
        }

        [VmRootFact]
        public void Destination_killed_mid_migration_leaves_the_router_on_the_source()
        {
            long uptime = StartPair();
            int dstPid = RouterProcess.ReadPid(_dst!.Paths(_name).PidFile)!.Value;
            MigrationFailedException ex;
            var clock = Stopwatch.StartNew();
            using (var s = _src!.Qmp(_name))
            using (var d = _dst.Qmp(_name))
            {
                // 16 MB/s: the ~75 MB stream takes ~5 s, so the kill lands in the middle of it.
                var driver = Driver(s, d, new MigrationOptions { MaxBandwidthBytesPerSecond = 16L * 1024 * 1024, TotalTimeout = TimeSpan.FromSeconds(20) });
                bool killed = false;
                driver.Progress = new InlineProgress(p =>
                {
                    _out.WriteLine("progress: " + p);
                    if (!killed && p.StartsWith("transferred", StringComparison.Ordinal) && clock.ElapsedMilliseconds > 300)
                    {
                        killed = true;
                        _out.WriteLine("killing the destination QEMU " + dstPid);
                        Process.GetProcessById(dstPid).Kill();
                    }
                });
                ex = Assert.Throws<MigrationFailedException>(() => driver.Run());
                Assert.True(killed, "the migration ended before the destination could be killed");
            }
            _out.WriteLine(ex.Message + " (after " + clock.ElapsedMilliseconds + " ms)");
            Assert.Equal(MigrationFailureReason.Failed, ex.Reason);
            Assert.True(ex.RunsOnSource);
            Assert.Equal("running", ex.SourceStatus);
            Assert.Contains("QEMU reports the migration failed", ex.Message);
            Assert.Contains("keeps running on the source", ex.Message);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), "failure noticed after " + clock.Elapsed);
            AssertSourceServesAndDestinationGone(uptime);
        }

        [VmRootFact]
        public void Migration_that_cannot_converge_in_its_bound_is_cancelled()
        {
            long uptime = StartPair();
            MigrationFailedException ex;
            var clock = Stopwatch.StartNew();
            using (var s = _src!.Qmp(_name))
            using (var d = _dst!.Qmp(_name))
            {
                var driver = Driver(s, d, new MigrationOptions
                {
                    MaxBandwidthBytesPerSecond = 1024 * 1024,
                    DowntimeLimitMilliseconds = 1,
                    TotalTimeout = TimeSpan.FromSeconds(1.5),
                });
                ex = Assert.Throws<MigrationFailedException>(() => driver.Run());
                Assert.NotEqual("active", (string?)s.QueryMigrate()["status"]);
            }
            _out.WriteLine(ex.Message + " (after " + clock.ElapsedMilliseconds + " ms)");
            Assert.Equal(MigrationFailureReason.Timeout, ex.Reason);
            Assert.Equal(ErrorKind.OperationTimeout, ex.Kind);
            Assert.True(ex.RunsOnSource);
            Assert.Contains("did not complete within its bound of 1.5 s", ex.Message);
            Assert.Contains("keeps running on the source", ex.Message);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), "bounded run took " + clock.Elapsed);
            AssertSourceServesAndDestinationGone(uptime);
        }

        [VmRootFact]
        public void Failing_switchover_hook_cancels_and_resumes_the_source()
        {
            long uptime = StartPair();
            MigrationFailedException ex;
            using (var s = _src!.Qmp(_name))
            using (var d = _dst!.Qmp(_name))
            {
                var driver = Driver(s, d);
                driver.BeforeSwitchover = _ => throw new InvalidOperationException("tunnel on the destination missing");
                ex = Assert.Throws<MigrationFailedException>(() => driver.Run());
            }
            _out.WriteLine(ex.Message);
            Assert.Equal(MigrationFailureReason.SwitchoverHookFailed, ex.Reason);
            Assert.True(ex.RunsOnSource);
            Assert.Contains("tunnel on the destination missing", ex.Message);
            AssertSourceServesAndDestinationGone(uptime);
        }
    }
}
