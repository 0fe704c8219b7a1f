using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using VirtualNetworks.Linux.State;
using VirtualNetworks.Linux.Vm;
using VirtualNetworks.Util;
using Xunit;
using Xunit.Abstractions;

namespace VirtualNetworks.Linux.Tests
{
    /// <summary>
    /// Real routers: the project's image booted in QEMU (TCG unless the KVM probe proves KVM works), driven through QMP
    /// and the guest command channel, each test in its own state directory under /tmp, cleaned up afterwards.
    /// </summary>
    [Collection(VmRealCollection.Name)]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public sealed class VmRealRouterTests : IClassFixture<VmImageFixture>, IDisposable
    {
        private readonly VmImageFixture _image;
        private readonly ITestOutputHelper _out;
        private readonly string _root = VmTestHost.NewStateRoot();
        private readonly List<string> _taps = new List<string>();
        private StateStore? _store;
        private VmManager? _vms;
        private readonly List<string> _routers = new List<string>();

        public VmRealRouterTests(VmImageFixture image, ITestOutputHelper output)
        {
            _image = image;
            _out = output;
        }

        private VmManager Setup()
        {
            VmTestHost.RequireRoot();
            _image.EnsureBuilt();
            _store = new StateStore(_root);
            _store.EnsureLayout();
            _vms = new VmManager(_store, new QemuLauncher(_store));
            return _vms;
        }

        private VmLaunchSpec Spec(string name, Accelerator accel, string configText, params VmAdapter[] adapters)
        {
            _routers.Add(name);
            return new VmLaunchSpec
            {
                Name = name,
                MemoryMB = 128,
                ProcessorCount = 1,
                Accelerator = accel,
                Kernel = _image.Kernel,
                Initrd = _image.Initrd,
                Firmware = QemuLauncher.FindQboot(),
                ConfigText = configText,
                Adapters = adapters.ToList(),
            };
        }

        private string CreateTap()
        {
            string tap = "vntest" + VmTestHost.Hex(6);
            _taps.Add(tap);
            Assert.True(VmTestHost.Run("ip", "tuntap", "add", "dev", tap, "mode", "tap").Succeeded, "ip tuntap add " + tap);
            VmTestHost.Run("ip", "link", "set", "dev", tap, "alias", "virtualnetworks-vmtest");
            VmTestHost.Run("ip", "link", "set", "dev", tap, "up");
            return tap;
        }

        public void Dispose()
        {
            if (_vms != null)
            {
                foreach (var r in _routers)
                {
                    try
                    {
                        _vms.TurnOff(r);
                    }
                    catch (Exception ex)
                    {
                        _out.WriteLine("clean-up of " + r + ": " + ex.Message);
                    }
                }
            }
            foreach (var t in _taps) VmTestHost.Run("ip", "link", "del", t);
            // Nothing of ours may survive: no process mentions the state root.
            foreach (var (pid, cmd) in VmTestHost.ProcessesMentioning(_root))
            {
                _out.WriteLine("leftover process " + pid + ": " + cmd);
                try { Process.GetProcessById(pid).Kill(); } catch (Exception) { }
            }
            VmTestHost.DeleteTree(_root);
        }

        [VmRootFact]
        public void Kvm_probe_is_bounded_cached_and_decides()
        {
            var vms = Setup();
            KvmProbe.ResetProcessCache();
            var clock = Stopwatch.StartNew();
            var first = vms.Launcher.ChooseAccelerator(_image.Kernel);
            long firstMs = clock.ElapsedMilliseconds;
            _out.WriteLine("KVM probe: " + first + " (" + first.Elapsed.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture) + " ms, cached " + first.FromCache + ")");
            var bound = KvmProbe.FirmwareStageTimeout + KvmProbe.KernelStageTimeout + TimeSpan.FromSeconds(12);
            Assert.True(firstMs < bound.TotalMilliseconds, "the probe took " + firstMs + " ms");
            Assert.False(first.FromCache);
            Assert.True(File.Exists(_store!.KvmProbePath));

            clock.Restart();
            var second = vms.Launcher.ChooseAccelerator(_image.Kernel);
            Assert.True(second.FromCache);
            Assert.Equal(first.KvmUsable, second.KvmUsable);
            Assert.True(clock.ElapsedMilliseconds < 200);

            // The persistent cache: a new process (simulated by forgetting the in-process cache) reads kvm-probe.json.
            KvmProbe.ResetProcessCache();
            var third = vms.Launcher.ChooseAccelerator(_image.Kernel);
            Assert.True(third.FromCache);
            Assert.Equal(first.KvmUsable, third.KvmUsable);
            Assert.Empty(Directory.GetFiles(_store.RunDirectory, "kvm-probe-*"));
            // Only this test's probes: other tests (other state directories) may be probing at the same moment.
            Assert.Empty(VmTestHost.ProcessesMentioning(Path.Combine(_store.RunDirectory, "kvm-probe-")));

            // The probe's own stages work when the accelerator does (TCG), so a "no" above is about KVM, not the probe.
            var tcg = KvmProbe.Run(vms.Launcher.QemuPath, Accelerator.Tcg, _store.RunDirectory, _image.Kernel, default,
                TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(60));
            _out.WriteLine("Probe stages under TCG: " + tcg + " in " + tcg.Elapsed.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture) + " ms");
            Assert.True(tcg.KvmUsable, tcg.Detail);
        }

        [VmRootFact]
        public void Router_lifecycle_qmp_channel_and_powerdown()
        {
            var vms = Setup();
            var accel = vms.Launcher.ChooseAccelerator(_image.Kernel);
            _out.WriteLine("accelerator: " + accel);
            string name = "vmt-" + VmTestHost.Hex(6);
            string tap = CreateTap();
            string mac = MacAddresses.ForAdapter(name, "l1");
            var cfg = new RouterConfiguration
            {
                RouterName = name,
                Interfaces = { new InterfaceConfiguration { LinkName = "l1", Address = "10.254.77.0/31" }, new InterfaceConfiguration { LinkName = "l1", Address = "fd76:77::/127" } },
                Routes = { new RouteConfiguration { Destination = "10.254.78.0/24", NextHop = "10.254.77.1", LinkName = "l1" } },
            };
            string text = GuestConfigText.Render(name, cfg, new Dictionary<string, string> { ["l1"] = mac });
            var spec = Spec(name, accel.Accelerator, text, new VmAdapter(tap, mac));
            var paths = vms.Paths(name);

            // The state lock is held while QEMU starts: QEMU must not inherit it (it would stay locked for the VM's life).
            int pid;
            var clock = Stopwatch.StartNew();
            using (_store!.Lock(TimeSpan.FromSeconds(5)))
                pid = vms.Start(spec, TimeSpan.FromSeconds(90));
            _out.WriteLine("boot to VN-READY: " + clock.ElapsedMilliseconds + " ms");
            using (new StateStore(_store.Root).Lock(TimeSpan.Zero)) { }

            // Process identity, pidfile, socket modes.
            Assert.Equal(pid, RouterProcess.ReadPid(paths.PidFile));
            Assert.True(RouterProcess.IsOurs(pid, paths));
            Assert.Equal(VmProcessState.Running, RouterProcess.Inspect(paths).State);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(paths.QmpSocket));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(paths.ChannelSocket));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(paths.ConsoleLog));
            Assert.Contains("VN-READY " + name, File.ReadAllText(paths.ConsoleLog));
            // The router outlives its starter: QEMU daemonized (parent is not this test process).
            string stat = File.ReadAllText("/proc/" + pid + "/stat");
            int ppid = int.Parse(stat.Substring(stat.LastIndexOf(')') + 2).Split(' ')[1], CultureInfo.InvariantCulture);
            Assert.NotEqual(Environment.ProcessId, ppid);

            var st = vms.GetStatus(name);
            Assert.Equal(RouterState.Running, st.State);
            Assert.Equal("running", st.QemuStatus);

            // Starting it twice is refused.
            var twice = Assert.Throws<VirtualNetworksException>(() => vms.Start(spec));
            Assert.Equal(ErrorIds.InvalidStateTransition, twice.ErrorId);

            // The command channel.
            var ch = vms.Channel(name);
            var ready = ch.WaitReady(TimeSpan.FromSeconds(30));
            Assert.Equal(name, ready.Name);
            Assert.Equal("ok", ready.ConfigState);
            string show = ch.Show();
            Assert.Contains("10.254.77.0/31", show);
            Assert.Contains("fd76:77::/127", show);
            Assert.Contains("10.254.78.0/24 via 10.254.77.1", show);
            Assert.Contains("ipv4 1 ipv6 1", show);
            Assert.Contains(mac, show);
            var self = ch.Ping("10.254.77.0", 2, TimeSpan.FromSeconds(3));
            Assert.True(self.Reachable, self.Detail);
            var nobody = ch.Ping("10.254.77.1", 1, TimeSpan.FromSeconds(1));
            Assert.False(nobody.Reachable);

            // Push a new configuration at run time; a bad one is rejected and changes nothing.
            ch.PushConfig(GuestConfigText.Render(name, new RouterConfiguration
            {
                Interfaces = { new InterfaceConfiguration { LinkName = "l1", Address = "10.254.79.0/31" } },
            }, new Dictionary<string, string> { ["l1"] = mac }));
            Assert.Contains("10.254.79.0/31", ch.Show());
            var bad = Assert.Throws<VirtualNetworksException>(() => ch.PushConfig("name " + name + "\nif 52:54:00:00:00:99 10.1.1.1/24\n"));
            Assert.Contains("rejected", bad.Message);
            Assert.Contains("10.254.79.0/31", ch.Show());

            // Suspend / resume through QMP: while paused the guest answers nothing.
            vms.Suspend(name);
            Assert.Equal(RouterState.Paused, vms.GetStatus(name).State);
            var paused = Assert.Throws<VirtualNetworksException>(() => ch.Run("ready", null, TimeSpan.FromSeconds(1.5)));
            Assert.Equal(ErrorKind.OperationTimeout, paused.Kind);
            vms.Resume(name);
            Assert.Equal(RouterState.Running, vms.GetStatus(name).State);
            Assert.Equal(name, ch.WaitReady(TimeSpan.FromSeconds(20)).Name);
            using (var q = vms.Qmp(name))
            {
                q.Stop();
                Assert.Equal("paused", q.QueryStatus());
                q.Cont();
                Assert.Equal("running", q.QueryStatus());
                Assert.Contains(q.Events, e => (string?)e["event"] == "STOP");
            }

            // Graceful stop via the ACPI power button (from paused, to check the resume-first rule).
            vms.Suspend(name);
            clock.Restart();
            Assert.True(vms.Shutdown(name, TimeSpan.FromSeconds(30)), "ACPI powerdown did not end QEMU within 30 s");
            _out.WriteLine("system_powerdown to exit: " + clock.ElapsedMilliseconds + " ms");
            Assert.False(RouterProcess.IsAlive(pid));
            Assert.Contains("VN-POWEROFF " + name, File.ReadAllText(paths.ConsoleLog));
            Assert.Equal(RouterState.Off, vms.GetStatus(name).State);
            foreach (var f in new[] { paths.PidFile, paths.QmpSocket, paths.ChannelSocket, paths.ConfigFile })
                Assert.False(File.Exists(f), f + " remains");
            Assert.Empty(VmTestHost.ProcessesMentioning(_root));
            Assert.DoesNotContain(Directory.GetFiles(_store.RunDirectory), f => !f.EndsWith(".console", StringComparison.Ordinal));
        }

        [VmRootFact]
        public void A_killed_router_shows_as_drift_and_starts_again()
        {
            var vms = Setup();
            var accel = vms.Launcher.ChooseAccelerator(_image.Kernel);
            string name = "vmk-" + VmTestHost.Hex(6);
            var spec = Spec(name, accel.Accelerator, GuestConfigText.Render(name, null, new Dictionary<string, string>()));
            int pid = vms.Start(spec, TimeSpan.FromSeconds(90));
            Process.GetProcessById(pid).Kill();
            Assert.True(RouterProcess.WaitForExit(pid, TimeSpan.FromSeconds(10)));

            var st = vms.GetStatus(name);
            Assert.Equal(RouterState.Failed, st.State);
            Assert.True(st.IsDrift);
            Assert.Contains("gone", st.Detail);
            Assert.Throws<VirtualNetworksException>(() => vms.Suspend(name));

            int again = vms.Start(spec, TimeSpan.FromSeconds(90));
            Assert.NotEqual(pid, again);
            Assert.Equal(RouterState.Running, vms.GetStatus(name).State);
            Assert.Equal(name, vms.Channel(name).WaitReady(TimeSpan.FromSeconds(30)).Name);

            vms.TurnOff(name);
            Assert.False(RouterProcess.IsAlive(again));
            Assert.Equal(RouterState.Off, vms.GetStatus(name).State);
            vms.TurnOff(name); // idempotent
        }

        [VmRootFact]
        public void Start_failures_are_reported_and_leave_nothing_running()
        {
            var vms = Setup();
            string name = "vmf-" + VmTestHost.Hex(6);
            var paths = vms.Paths(name);

            // The image is missing: refused before QEMU runs.
            var missing = Spec(name, Accelerator.Tcg, "name " + name + "\n");
            missing.Kernel = "/nonexistent/vmlinuz";
            var ex = Assert.Throws<VirtualNetworksException>(() => vms.Start(missing));
            Assert.Equal(ErrorIds.ImageNotFound, ex.ErrorId);
            Assert.False(File.Exists(paths.PidFile));

            // A tap that does not exist (QEMU would create a stray one): refused before QEMU runs.
            var noTap = Spec(name, Accelerator.Tcg, "name " + name + "\n", new VmAdapter("vntestnone0", MacAddresses.ForAdapter(name, "l1")));
            ex = Assert.Throws<VirtualNetworksException>(() => vms.Start(noTap));
            Assert.Contains("vntestnone0 does not exist", ex.Message);
            Assert.False(Directory.Exists("/sys/class/net/vntestnone0"));

            // QEMU itself refuses (a "disk" that is not qcow2): its error output is in the message.
            string junk = Path.Combine(_store!.DisksDirectory, name + ".qcow2");
            File.WriteAllText(junk, "not a disk image\n");
            var badDisk = Spec(name, Accelerator.Tcg, "name " + name + "\n");
            badDisk.Disk = junk;
            ex = Assert.Throws<VirtualNetworksException>(() => vms.Start(badDisk));
            Assert.Equal(ErrorIds.BackendOperationFailed, ex.ErrorId);
            Assert.Contains("QEMU could not start router '" + name + "'", ex.Message);
            Assert.Contains("qcow2", ex.Message);
            Assert.Equal(VmProcessState.NotRunning, RouterProcess.Inspect(paths).State);

            // The guest dies while booting (no init: kernel panic, -no-reboot ends QEMU): reported with the console tail.
            var panics = Spec(name, Accelerator.Tcg, "name " + name + "\n");
            panics.KernelCommandLine = "console=ttyS0 panic=-1 rdinit=/vn-none init=/vn-none";
            var clock = Stopwatch.StartNew();
            ex = Assert.Throws<VirtualNetworksException>(() => vms.Start(panics, TimeSpan.FromSeconds(60)));
            _out.WriteLine(ex.Message);
            Assert.Contains("stopped while booting", ex.Message);
            Assert.Contains("Kernel panic", ex.Message);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(40));
            Assert.NotEqual(VmProcessState.Running, RouterProcess.Inspect(paths).State);
            Assert.Empty(VmTestHost.ProcessesMentioning(_root));
        }

        [VmRootFact]
        public void LaunchAll_starts_several_together_and_reports_each_failure_by_router()
        {
            var vms = Setup();
            string a = "vmla-" + VmTestHost.Hex(6), b = "vmlb-" + VmTestHost.Hex(6), bad = "vmlx-" + VmTestHost.Hex(6);
            string junk = Path.Combine(_store!.DisksDirectory, bad + ".qcow2");
            Directory.CreateDirectory(_store.DisksDirectory);
            File.WriteAllText(junk, "not a disk image\n");
            var broken = Spec(bad, Accelerator.Tcg, "name " + bad + "\n");
            broken.Disk = junk; // QEMU itself refuses it
            var specs = new[] { Spec(a, Accelerator.Tcg, "name " + a + "\n"), broken, Spec(b, Accelerator.Tcg, "name " + b + "\n") };
            var called = new System.Collections.Concurrent.ConcurrentBag<int>();

            var errors = vms.LaunchAll(specs, k => called.Add(k));

            Assert.Equal(3, errors.Count);
            Assert.Null(errors[0]);
            Assert.Null(errors[2]);
            var ex = Assert.IsType<VirtualNetworksException>(errors[1]);
            Assert.Equal(ErrorIds.BackendOperationFailed, ex.ErrorId);
            Assert.Contains("QEMU could not start router '" + bad + "'", ex.Message);
            Assert.Equal(new[] { 0, 2 }, called.OrderBy(k => k).ToArray());
            Assert.True(RouterProcess.Inspect(vms.Paths(a)).IsRunning);
            Assert.True(RouterProcess.Inspect(vms.Paths(b)).IsRunning);
            Assert.Equal(VmProcessState.NotRunning, RouterProcess.Inspect(vms.Paths(bad)).State);

            // What the callback throws is that router's failure (its QEMU still runs; the caller decides).
            vms.TurnOff(a);
            var again = vms.LaunchAll(new[] { specs[0] }, k => throw new InvalidOperationException("record not written"));
            Assert.Equal("record not written", Assert.IsType<InvalidOperationException>(again[0]).Message);
        }

        [VmRootFact]
        public void Boot_time_to_ready_over_five_runs()
        {
            var vms = Setup();
            var accel = vms.Launcher.ChooseAccelerator(_image.Kernel);
            string name = "vmb-" + VmTestHost.Hex(6);
            var spec = Spec(name, accel.Accelerator, GuestConfigText.Render(name, null, new Dictionary<string, string>()));
            var marker = new List<long>();
            var channel = new List<long>();
            for (int i = 0; i < 5; i++)
            {
                var clock = Stopwatch.StartNew();
                vms.Start(spec, TimeSpan.FromSeconds(90));
                marker.Add(clock.ElapsedMilliseconds);
                vms.Channel(name).WaitReady(TimeSpan.FromSeconds(30));
                channel.Add(clock.ElapsedMilliseconds);
                vms.Channel(name).Disconnect();
                vms.TurnOff(name);
            }
            string Stats(List<long> v)
            {
                var s = v.OrderBy(x => x).ToList();
                return "median " + s[s.Count / 2] + " ms, min " + s[0] + " ms, max " + s[^1] + " ms, spread " + (s[^1] - s[0]) + " ms; runs " + string.Join(" ", v);
            }
            _out.WriteLine("accelerator " + accel.Accelerator + ", firmware " + (spec.Firmware ?? "SeaBIOS") + ", load " + File.ReadAllText("/proc/loadavg").Trim());
            _out.WriteLine("start to VN-READY (console): " + Stats(marker));
            _out.WriteLine("start to channel 'ready' answered: " + Stats(channel));
            string report = Path.Combine(Path.GetTempPath(), "vn-boot-times.txt");
            File.WriteAllText(report, "start to VN-READY: " + Stats(marker) + "\nstart to channel ready: " + Stats(channel) + "\n");
            Assert.True(marker.OrderBy(x => x).ElementAt(2) < 20000, "median boot above 20 s");
        }
    }
}
