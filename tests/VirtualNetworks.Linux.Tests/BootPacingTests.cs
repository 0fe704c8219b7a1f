using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using VirtualNetworks.Backends;
using VirtualNetworks.Linux.State;
using VirtualNetworks.Linux.Vm;
using Xunit;
using Xunit.Abstractions;

namespace VirtualNetworks.Linux.Tests
{
    /// <summary>The boot pacing and restart policy (<see cref="BootPolicy"/>, <see cref="BootWatch"/>) without QEMU.</summary>
    public sealed class BootPolicyTests : IDisposable
    {
        private readonly string _dir = Path.Combine(Path.GetTempPath(), "vn-boot-" + Guid.NewGuid().ToString("N").Substring(0, 8));

        public BootPolicyTests() => Directory.CreateDirectory(_dir);

        public void Dispose() => Directory.Delete(_dir, recursive: true);

        [Theory]
        [InlineData(1, 2)]
        [InlineData(2, 4)]
        [InlineData(4, 8)]
        [InlineData(8, 16)]
        [InlineData(64, BootPolicy.MaxConcurrency)]
        [InlineData(0, 2)]
        public void Concurrency_is_two_boots_per_core_bounded(int cores, int expected) =>
            Assert.Equal(expected, BootPolicy.ConcurrencyFor(cores));

        [Theory]
        [InlineData(null, null)]
        [InlineData("", null)]
        [InlineData(" 8 ", 8)]
        [InlineData("1", 1)]
        [InlineData("32", 32)]
        public void The_environment_may_set_the_boot_concurrency(string? text, int? expected) =>
            Assert.Equal(expected, BootPolicy.ConcurrencyFromEnvironment(text));

        [Theory]
        [InlineData("0")]
        [InlineData("33")]
        [InlineData("-2")]
        [InlineData("four")]
        [InlineData("4;rm")]
        public void A_bad_boot_concurrency_is_refused_naming_the_variable(string text)
        {
            var ex = Assert.Throws<VirtualNetworksException>(() => BootPolicy.ConcurrencyFromEnvironment(text));
            Assert.Equal(ErrorKind.InvalidArgument, ex.Kind);
            Assert.Equal(BootPolicy.ConcurrencyVariable, ex.TargetName);
        }

        [Fact]
        public void Judge_puts_ready_before_panic_before_exit_before_the_bound()
        {
            var bound = TimeSpan.FromSeconds(60);
            var late = TimeSpan.FromSeconds(61);
            var early = TimeSpan.FromSeconds(1);
            Assert.Equal(BootVerdict.Ready, BootPolicy.Judge(true, true, false, late, bound));
            Assert.Equal(BootVerdict.Panicked, BootPolicy.Judge(false, true, true, early, bound));
            Assert.Equal(BootVerdict.Panicked, BootPolicy.Judge(false, true, false, early, bound));
            Assert.Equal(BootVerdict.Died, BootPolicy.Judge(false, false, false, early, bound));
            Assert.Equal(BootVerdict.Died, BootPolicy.Judge(false, false, false, late, bound));
            Assert.Equal(BootVerdict.Hung, BootPolicy.Judge(false, false, true, late, bound));
            Assert.Equal(BootVerdict.Hung, BootPolicy.Judge(false, false, true, bound, bound));
            Assert.Equal(BootVerdict.Booting, BootPolicy.Judge(false, false, true, early, bound));
        }

        [Fact]
        public void A_failed_boot_is_restarted_twice_then_reported()
        {
            var p = BootPolicy.ForHost();
            Assert.Equal(2, p.MaxRestarts);
            Assert.Equal(BootPolicy.DefaultBootTimeout, p.BootTimeout);
            Assert.Equal(BootPolicy.ConcurrencyFor(Environment.ProcessorCount), p.Concurrency);
            Assert.False(p.Restarts(0));
            Assert.True(p.Restarts(1));
            Assert.True(p.Restarts(2));
            Assert.False(p.Restarts(3));
            var none = new BootPolicy(1, TimeSpan.FromSeconds(1), 0);
            Assert.False(none.Restarts(1));
            Assert.Throws<ArgumentOutOfRangeException>(() => new BootPolicy(0, TimeSpan.FromSeconds(1), 2));
            Assert.Throws<ArgumentOutOfRangeException>(() => new BootPolicy(BootPolicy.MaxConcurrency + 1, TimeSpan.FromSeconds(1), 2));
            Assert.Throws<ArgumentOutOfRangeException>(() => new BootPolicy(2, TimeSpan.Zero, 2));
            Assert.Throws<ArgumentOutOfRangeException>(() => new BootPolicy(2, TimeSpan.FromSeconds(1), -1));
        }

        [Fact]
        public void The_watch_reads_the_console_as_it_grows_and_looks_at_the_process()
        {
            var paths = new RouterRunPaths(_dir, "w1");
            var watch = new BootWatch(paths);
            var bound = TimeSpan.FromMinutes(5);
            // No pidfile: QEMU is not running. Until the process is looked at (every 4th poll) it counts as booting.
            Assert.Equal(BootVerdict.Booting, watch.Poll(bound));
            File.WriteAllText(paths.ConsoleLog, "booting...\nVN-READY w1x\nVN-READY w1");
            Assert.Equal(BootVerdict.Booting, watch.Poll(bound)); // another router's name; an unfinished line
            File.AppendAllText(paths.ConsoleLog, "\n");
            Assert.Equal(BootVerdict.Ready, watch.Poll(bound));

            var panicked = new BootWatch(new RouterRunPaths(_dir, "w2"));
            File.WriteAllText(new RouterRunPaths(_dir, "w2").ConsoleLog, "[    0.9] Kernel panic - not syncing: No working init found.\n");
            Assert.Equal(BootVerdict.Panicked, panicked.Poll(bound));

            var gone = new BootWatch(new RouterRunPaths(_dir, "w3"));
            var verdicts = Enumerable.Range(0, 4).Select(_ => gone.Poll(bound)).ToList();
            Assert.Equal(new[] { BootVerdict.Booting, BootVerdict.Booting, BootVerdict.Booting, BootVerdict.Died }, verdicts);
        }
    }

    /// <summary>
    /// Paced and supervised boots with real QEMU: a guest whose first boot dies is started again and boots; one that dies on
    /// every boot is reported with a stable id, its name and its console; with one boot slot the second router's QEMU is
    /// launched only once the first guest is ready.
    /// </summary>
    [Collection(VmRealCollection.Name)]
    public sealed class BootRestartTests : IClassFixture<VmImageFixture>, IDisposable
    {
        /// <summary>A kernel command line whose boot panics at once (no init): with panic=-1 and -no-reboot QEMU exits.</summary>
        private const string Panics = "console=ttyS0 panic=-1 rdinit=/vn-none init=/vn-none";
        private static readonly CancellationToken None = CancellationToken.None;
        private readonly VmImageFixture _image;
        private readonly ITestOutputHelper _out;
        private readonly string _root = VmTestHost.NewStateRoot();
        private readonly string _p = "bp" + VmTestHost.Hex(4);
        private readonly List<string> _routers = new List<string>();
        private LinuxBackend? _backend;

        public BootRestartTests(VmImageFixture image, ITestOutputHelper output)
        {
            _image = image;
            _out = output;
        }

        private LinuxBackend Backend(params string[] routers)
        {
            VmTestHost.RequireRoot();
            _image.EnsureBuilt();
            Directory.CreateDirectory(Path.Combine(_root, "images"));
            Directory.CreateSymbolicLink(Path.Combine(_root, "images", "router"), _image.ImageDirectory);
            var b = _backend = new LinuxBackend(new BackendRequest
            {
                Options = new Dictionary<string, object?> { [LinuxBackend.StateDirectoryOption] = _root },
            });
            foreach (var r in routers)
            {
                b.CreateRouter(new RouterSpec { Name = N(r), Image = "router", MemoryMB = 128, ProcessorCount = 1 }, None);
                _routers.Add(N(r));
            }
            return b;
        }

        private string N(string s) => _p + "-" + s;

        private static string ReadShared(string path)
        {
            try
            {
                using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                using var r = new StreamReader(fs);
                return r.ReadToEnd();
            }
            catch (IOException)
            {
                return "";
            }
        }

        [VmRootFact]
        public void A_guest_whose_first_boot_dies_is_restarted_and_boots()
        {
            var b = Backend("r1", "r2");
            var attempts = new ConcurrentQueue<(string Router, int Attempt)>();
            b.BootKernelCommandLineForTest = (router, attempt) =>
            {
                attempts.Enqueue((router, attempt));
                return router == N("r1") && attempt == 1 ? Panics : null;
            };
            var outcomes = b.StartRouters(new[] { N("r1"), N("r2") }, None);
            foreach (var a in attempts) _out.WriteLine(a.Router + " boot " + a.Attempt);
            Assert.All(outcomes, Assert.Null);
            // r1 was launched twice (the panic, then the good boot); r2 once.
            Assert.Equal(new[] { 1, 2 }, attempts.Where(a => a.Router == N("r1")).Select(a => a.Attempt).OrderBy(x => x));
            Assert.Equal(new[] { 1 }, attempts.Where(a => a.Router == N("r2")).Select(a => a.Attempt));
            foreach (var r in new[] { "r1", "r2" })
            {
                var paths = b.Store.RunPaths(N(r));
                Assert.True(RouterProcess.Inspect(paths).IsRunning, r + " runs");
                Assert.Contains("VN-READY " + N(r), ReadShared(paths.ConsoleLog)); // StartRouters returns once the guests are ready
                Assert.Equal(RouterState.Running, b.Store.ReadRouter(N(r))!.DesiredState);
            }
            Assert.DoesNotContain("Kernel panic", ReadShared(b.Store.RunPaths(N("r1")).ConsoleLog)); // the log of the boot that worked
            Assert.True(b.WaitUntilReady(N("r1"), TimeSpan.FromSeconds(60), None).Ready);
        }

        [VmRootFact]
        public void A_guest_that_dies_on_every_boot_is_reported_with_its_console_after_two_restarts()
        {
            var b = Backend("r1");
            int launches = 0;
            b.BootKernelCommandLineForTest = (router, attempt) =>
            {
                Interlocked.Increment(ref launches);
                return Panics;
            };
            // The single start takes the same supervised path.
            var ex = Assert.Throws<VirtualNetworksException>(() => b.StartRouter(N("r1"), None));
            _out.WriteLine(ex.Message);
            Assert.Equal(ErrorIds.RouterBootFailed, ex.ErrorId);
            Assert.Equal(ErrorKind.InvalidResult, ex.Kind);
            Assert.Equal(N("r1"), ex.TargetName);
            Assert.Equal(3, launches);
            Assert.Contains("failed to boot 3 times", ex.Message);
            Assert.Contains("Kernel panic", ex.Message); // the console's tail
            Assert.False(RouterProcess.Inspect(b.Store.RunPaths(N("r1"))).IsRunning);
            // The record still wants it running: the router shows Failed and a later start recovers it.
            Assert.Equal(RouterState.Running, b.Store.ReadRouter(N("r1"))!.DesiredState);
            Assert.Equal(RouterState.Failed, b.GetInventory(None).Routers.Single(r => r.Name == N("r1")).State);
            b.BootKernelCommandLineForTest = null;
            b.StartRouter(N("r1"), None);
            Assert.True(RouterProcess.Inspect(b.Store.RunPaths(N("r1"))).IsRunning);
        }

        [VmRootFact]
        public void With_one_boot_slot_the_next_guest_is_launched_only_once_the_previous_one_is_ready()
        {
            var b = Backend("r1", "r2", "r3");
            b.BootPolicy = new BootPolicy(1, BootPolicy.DefaultBootTimeout, BootPolicy.DefaultMaxRestarts);
            var order = new List<string>();
            var notReadyAtLaunch = new List<string>();
            b.BootKernelCommandLineForTest = (router, attempt) =>
            {
                lock (order)
                {
                    // Every router launched before this one must have printed its ready line by now.
                    foreach (var earlier in order)
                        if (!ReadShared(b.Store.RunPaths(earlier).ConsoleLog).Contains("VN-READY " + earlier))
                            notReadyAtLaunch.Add(earlier + " (at the launch of " + router + ")");
                    order.Add(router);
                }
                return null;
            };
            var outcomes = b.StartRouters(_routers.ToArray(), None);
            Assert.All(outcomes, Assert.Null);
            Assert.Equal(3, order.Count);
            Assert.Empty(notReadyAtLaunch);
        }

        public void Dispose()
        {
            if (_backend != null)
            {
                _backend.BootKernelCommandLineForTest = null;
                try { _backend.RemoveRouters(_routers, None); }
                catch (Exception ex) { _out.WriteLine("clean-up: " + ex.Message); }
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
