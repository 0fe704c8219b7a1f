using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using VirtualNetworks.Linux.State;
using VirtualNetworks.Linux.Vm;
using Xunit;

namespace VirtualNetworks.Linux.Tests
{
    public sealed class VmUnixSocketEndPointTests : IDisposable
    {
        private readonly string _dir = VmTestHost.NewStateRoot();

        public VmUnixSocketEndPointTests() => Directory.CreateDirectory(_dir);

        public void Dispose() => VmTestHost.DeleteTree(_dir);

        [Fact]
        public void Serializes_like_the_runtime_own_unix_endpoint()
        {
            string path = Path.Combine(_dir, "x.sock");
            var ours = new UnixSocketEndPoint(path).Serialize();
            var theirs = new UnixDomainSocketEndPoint(path).Serialize();
            Assert.Equal(AddressFamily.Unix, ours.Family);
            // The runtime's address may be padded to the full sockaddr_un; the family and the NUL-terminated path must agree.
            int n = Encoding.UTF8.GetByteCount(path);
            Assert.Equal(2 + n + 1, ours.Size);
            for (int i = 0; i < 2 + n; i++) Assert.Equal(theirs[i], ours[i]);
            Assert.Equal(0, ours[2 + n]);
            Assert.Equal(path, ((UnixSocketEndPoint)new UnixSocketEndPoint("/x").Create(ours)).Path);
        }

        [Fact]
        public async Task Bind_listen_connect_and_exchange_bytes()
        {
            string path = Path.Combine(_dir, "echo.sock");
            using var server = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            server.Bind(new UnixSocketEndPoint(path));
            server.Listen(1);
            Assert.True(File.Exists(path));
            var accepted = System.Threading.Tasks.Task.Run(() =>
            {
                using var c = server.Accept();
                var buf = new byte[64];
                int n = c.Receive(buf);
                c.Send(Encoding.ASCII.GetBytes("echo " + Encoding.ASCII.GetString(buf, 0, n)));
                return c.RemoteEndPoint?.ToString();
            });
            using (var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
            {
                client.Connect(new UnixSocketEndPoint(path));
                client.Send(Encoding.ASCII.GetBytes("hi\n"));
                var buf = new byte[64];
                int n = client.Receive(buf);
                Assert.Equal("echo hi\n", Encoding.ASCII.GetString(buf, 0, n));
            }
            Assert.Equal("(unnamed unix socket)", await accepted.WaitAsync(TimeSpan.FromSeconds(5)));
        }

        [Fact]
        public void Rejects_paths_that_do_not_fit_sockaddr_un()
        {
            Assert.Throws<ArgumentException>(() => new UnixSocketEndPoint("/" + new string('a', 107)));
            _ = new UnixSocketEndPoint("/" + new string('a', 106));
            Assert.Throws<ArgumentException>(() => new UnixSocketEndPoint(""));
            Assert.Throws<ArgumentException>(() => new UnixSocketEndPoint("/tmp/a\0b"));
        }

        [Fact]
        public void Connection_helper_reports_missing_and_refused_sockets()
        {
            string missing = Path.Combine(_dir, "none.sock");
            Assert.Null(UnixLineConnection.TryConnect(missing, Deadline.After(TimeSpan.FromMilliseconds(100)), false, default, out var f1, out _));
            Assert.Equal(ConnectFailure.Missing, f1);

            // A socket file nobody listens on (what a killed QEMU leaves behind).
            string stale = Path.Combine(_dir, "stale.sock");
            using (var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
                s.Bind(new UnixSocketEndPoint(stale));
            Assert.True(File.Exists(stale));
            Assert.Null(UnixLineConnection.TryConnect(stale, Deadline.After(TimeSpan.FromMilliseconds(100)), false, default, out var f2, out _));
            Assert.Equal(ConnectFailure.Refused, f2);
        }
    }

    public sealed class VmMacAddressTests
    {
        [Fact]
        public void Same_router_and_link_give_the_same_mac_case_insensitively()
        {
            Assert.Equal(MacAddresses.ForAdapter("r1", "l1"), MacAddresses.ForAdapter("R1", "L1"));
            Assert.NotEqual(MacAddresses.ForAdapter("r1", "l1"), MacAddresses.ForAdapter("r1", "l2"));
            Assert.NotEqual(MacAddresses.ForAdapter("r1", "l1"), MacAddresses.ForAdapter("r2", "l1"));
            // Order matters: (router, link), not a set.
            Assert.NotEqual(MacAddresses.ForAdapter("a", "b"), MacAddresses.ForAdapter("b", "a"));
        }

        [Fact]
        public void The_rule_is_pinned()
        {
            // SHA-256("virtualnetworks-mac-v1\nr1\nl1") starts with these bytes; changing the rule breaks running routers.
            byte[] h = System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes("virtualnetworks-mac-v1\nr1\nl1"));
            string expected = $"52:54:{h[0]:x2}:{h[1]:x2}:{h[2]:x2}:{h[3]:x2}";
            Assert.Equal(expected, MacAddresses.ForAdapter("r1", "l1"));
        }

        [Fact]
        public void Macs_are_unicast_locally_administered_and_well_formed()
        {
            var seen = new HashSet<string>();
            for (int r = 0; r < 40; r++)
            for (int l = 0; l < 40; l++)
            {
                string mac = MacAddresses.ForAdapter("router" + r, "link" + l);
                Assert.True(MacAddresses.IsValid(mac), mac);
                Assert.StartsWith("52:54:", mac);
                int first = Convert.ToInt32(mac.Substring(0, 2), 16);
                Assert.Equal(0, first & 1); // unicast
                Assert.Equal(2, first & 2); // locally administered
                Assert.True(seen.Add(mac), "collision " + mac);
            }
        }

        [Fact]
        public void Names_are_validated_and_macs_normalised()
        {
            Assert.Throws<VirtualNetworksException>(() => MacAddresses.ForAdapter("r 1", "l1"));
            Assert.Throws<VirtualNetworksException>(() => MacAddresses.ForAdapter("r1", "../l1"));
            Assert.Equal("52:54:aa:bb:cc:dd", MacAddresses.Normalize("52-54-AA-BB-CC-DD"));
            Assert.Throws<ArgumentException>(() => MacAddresses.Normalize("01:00:5e:00:00:01")); // multicast
            Assert.Throws<ArgumentException>(() => MacAddresses.Normalize("52:54:00:00:00"));
            Assert.False(MacAddresses.IsValid("00:00:00:00:00:00"));
        }
    }

    public sealed class VmQemuArgumentTests
    {
        private static readonly RouterRunPaths Paths = new RouterRunPaths("/var/lib/virtualnetworks/run", "r1");

        private static VmLaunchSpec Spec() => new VmLaunchSpec
        {
            Name = "r1",
            MemoryMB = 128,
            ProcessorCount = 2,
            Kernel = "/img/vmlinuz",
            Initrd = "/img/initramfs.cpio.gz",
            Adapters = { new VmAdapter("vnt0123abcd", MacAddresses.ForAdapter("r1", "l1")), new VmAdapter("vnt4567ef01", MacAddresses.ForAdapter("r1", "l2")) },
            ConfigText = "name r1\n",
        };

        private static string After(List<string> args, string option, int nth = 0)
        {
            int seen = 0;
            for (int i = 0; i + 1 < args.Count; i++)
                if (args[i] == option && seen++ == nth) return args[i + 1];
            throw new Xunit.Sdk.XunitException(option + " #" + nth + " not in: " + string.Join(" ", args));
        }

        [Fact]
        public void Builds_the_documented_command_line()
        {
            var a = QemuArguments.Build(Spec(), Paths);
            Assert.Equal("r1,process=vn-r1", After(a, "-name"));
            Assert.Equal("tcg,tb-size=16", After(a, "-accel"));
            Assert.Equal("128", After(a, "-m"));
            Assert.Equal("2", After(a, "-smp"));
            foreach (var flag in new[] { "-nodefaults", "-no-user-config", "-no-reboot", "-daemonize" }) Assert.Contains(flag, a);
            Assert.Equal("none", After(a, "-display"));
            Assert.Equal("/img/vmlinuz", After(a, "-kernel"));
            Assert.Equal("/img/initramfs.cpio.gz", After(a, "-initrd"));
            Assert.Equal(VmLaunchSpec.DefaultKernelCommandLine + " tsc=reliable vn.name=r1", After(a, "-append"));
            Assert.Equal("file,id=vncon,path=/var/lib/virtualnetworks/run/r1.console", After(a, "-chardev", 0));
            Assert.Equal("chardev:vncon", After(a, "-serial"));
            Assert.Equal("socket,id=vnqmp,path=/var/lib/virtualnetworks/run/r1.qmp,server=on,wait=off", After(a, "-chardev", 1));
            Assert.Equal("chardev=vnqmp,mode=control", After(a, "-mon"));
            Assert.Equal("socket,id=vnchan,path=/var/lib/virtualnetworks/run/r1.chan,server=on,wait=off", After(a, "-chardev", 2));
            Assert.Equal("virtserialport,bus=vnser.0,chardev=vnchan,name=vn.cmd", After(a, "-device", 1));
            Assert.Equal("name=opt/vn/config,file=/var/lib/virtualnetworks/run/r1.cfg", After(a, "-fw_cfg"));
            Assert.Equal("tap,id=vnnet0,ifname=vnt0123abcd,script=no,downscript=no", After(a, "-netdev", 0));
            Assert.Equal("virtio-net-pci,netdev=vnnet0,mac=" + MacAddresses.ForAdapter("r1", "l1") + ",romfile=,host_tso4=off,host_tso6=off,guest_announce=off", After(a, "-device", 2));
            Assert.Equal("tap,id=vnnet1,ifname=vnt4567ef01,script=no,downscript=no", After(a, "-netdev", 1));
            Assert.Equal("/var/lib/virtualnetworks/run/r1.pid", After(a, "-pidfile"));
            Assert.Equal("-daemonize", a[a.Count - 1]);
            // Known to hang on the CI machines: never used.
            Assert.DoesNotContain("-enable-kvm", a);
            Assert.DoesNotContain("-M", a);
            Assert.DoesNotContain("-machine", a);
            Assert.DoesNotContain(a, x => x.Contains("microvm"));
        }

        [Fact]
        public void Under_TCG_the_guest_trusts_its_TSC_unless_the_command_line_says_otherwise()
        {
            var s = Spec(); // TCG
            Assert.Equal(VmLaunchSpec.DefaultKernelCommandLine + " tsc=reliable vn.name=r1", After(QemuArguments.Build(s, Paths), "-append"));
            Assert.Equal(VmLaunchSpec.DefaultKernelCommandLine + " tsc=reliable vn.name=r1", QemuArguments.KernelCommandLine(s));
            s.Accelerator = Accelerator.Kvm; // a hardware TSC may be unstable: the kernel's watchdog stays
            Assert.Equal(VmLaunchSpec.DefaultKernelCommandLine + " vn.name=r1", After(QemuArguments.Build(s, Paths), "-append"));
            s.Accelerator = Accelerator.Tcg;
            s.KernelCommandLine = "console=ttyS0 tsc=unstable"; // the spec's own choice wins, and is not doubled
            Assert.Equal("console=ttyS0 tsc=unstable vn.name=r1", After(QemuArguments.Build(s, Paths), "-append"));
            s.KernelCommandLine = "  console=ttyS0  notsc=1 ";   // only a word starting with "tsc=" counts
            Assert.Equal("console=ttyS0  notsc=1 tsc=reliable vn.name=r1", QemuArguments.KernelCommandLine(s));
        }

        [Fact]
        public void Guest_announce_is_offered_only_when_the_spec_asks_for_it()
        {
            var s = Spec();
            s.GuestAnnounce = true; // a destination repeating a router started before the NICs dropped it
            var a = QemuArguments.Build(s, Paths);
            var nics = a.Where(x => x.StartsWith("virtio-net-pci,", StringComparison.Ordinal)).ToList();
            Assert.Equal(2, nics.Count);
            Assert.All(nics, n => Assert.DoesNotContain("guest_announce", n));
            s.GuestAnnounce = false;
            Assert.All(QemuArguments.Build(s, Paths).Where(x => x.StartsWith("virtio-net-pci,", StringComparison.Ordinal)),
                n => Assert.EndsWith(",guest_announce=off", n));
        }

        [Fact]
        public void Kvm_firmware_disk_and_incoming_are_passed_when_asked()
        {
            var s = Spec();
            s.Accelerator = Accelerator.Kvm;
            s.Firmware = "/usr/share/qemu/qboot.rom";
            s.Disk = "/var/lib/virtualnetworks/disks/r1.qcow2";
            s.Incoming = "tcp:10.0.0.2:4444";
            var a = QemuArguments.Build(s, Paths);
            Assert.Equal("kvm", After(a, "-accel"));
            Assert.Equal("/usr/share/qemu/qboot.rom", After(a, "-bios"));
            Assert.Equal("file=/var/lib/virtualnetworks/disks/r1.qcow2,format=qcow2,if=virtio,cache=writeback", After(a, "-drive"));
            Assert.Equal("tcp:10.0.0.2:4444", After(a, "-incoming"));
        }

        [Fact]
        public void Commas_in_paths_are_escaped_inside_option_strings_only()
        {
            var paths = new RouterRunPaths("/tmp/a,b/run", "r1");
            var s = Spec();
            s.Kernel = "/img,x/vmlinuz";
            var a = QemuArguments.Build(s, paths);
            Assert.Equal("socket,id=vnqmp,path=/tmp/a,,b/run/r1.qmp,server=on,wait=off", After(a, "-chardev", 1));
            Assert.Equal("name=opt/vn/config,file=/tmp/a,,b/run/r1.cfg", After(a, "-fw_cfg"));
            Assert.Equal("/img,x/vmlinuz", After(a, "-kernel")); // a plain path argument: not an option string
            Assert.Equal("/tmp/a,b/run/r1.pid", After(a, "-pidfile"));
        }

        [Theory]
        [InlineData("r1;reboot")]
        [InlineData("r1,process=x")]
        [InlineData("-r1")]
        [InlineData("r 1")]
        [InlineData("$(id)")]
        public void Invalid_router_names_never_reach_the_command_line(string name)
        {
            var s = Spec();
            s.Name = name;
            var ex = Assert.Throws<VirtualNetworksException>(() => QemuArguments.Build(s, Paths));
            Assert.Equal(ErrorIds.InvalidName, ex.ErrorId);
            Assert.Throws<VirtualNetworksException>(() => new RouterRunPaths("/run", name));
        }

        [Fact]
        public void The_TCG_translation_cache_is_bounded_by_default_and_only_under_TCG()
        {
            // A spec nobody tuned gets the measured default (QEMU's own default keeps up to 1 GiB of it resident).
            Assert.Equal(16, new VmLaunchSpec().TcgTranslationCacheMB);
            Assert.Equal(LinuxBackend.DefaultMemoryMB, new VmLaunchSpec().MemoryMB);
            var s = Spec();
            s.TcgTranslationCacheMB = 0; // QEMU's default
            Assert.Equal("tcg", After(QemuArguments.Build(s, Paths), "-accel"));
            s.TcgTranslationCacheMB = 64;
            Assert.Equal("tcg,tb-size=64", After(QemuArguments.Build(s, Paths), "-accel"));
            s.Accelerator = Accelerator.Kvm; // no translation with KVM: no option
            Assert.Equal("kvm", After(QemuArguments.Build(s, Paths), "-accel"));
            foreach (var bad in new[] { -1, QemuArguments.MaxTcgTranslationCacheMB + 1 })
            {
                s.TcgTranslationCacheMB = bad;
                var ex = Assert.Throws<VirtualNetworksException>(() => QemuArguments.Build(s, Paths));
                Assert.Equal(ErrorKind.InvalidArgument, ex.Kind);
                Assert.Equal("r1", ex.TargetName);
                Assert.Contains("TCG translation cache", ex.Message);
            }
        }

        [Theory]
        [InlineData("tap", "vnt0,script=/x")]
        [InlineData("tap", "vnt0123456789abcd")]
        [InlineData("tap", "-vnt0")]
        [InlineData("tap", "vn t0")]
        [InlineData("mac", "01:00:5e:00:00:01")]
        [InlineData("mac", "52:54:00:00:00:01,romfile=/x")]
        [InlineData("kernel", "relative/vmlinuz")]
        [InlineData("append", "console=ttyS0\ninit=/bin/sh")]
        [InlineData("incoming", "exec:/bin/sh")]
        [InlineData("memory", "8")]
        [InlineData("cpus", "0")]
        [InlineData("initrd-only", "")]
        [InlineData("duplicate-tap", "")]
        [InlineData("wrong-paths", "")]
        public void Bad_values_are_rejected_with_an_error_naming_the_router(string what, string value)
        {
            var s = Spec();
            var paths = Paths;
            switch (what)
            {
                case "tap": s.Adapters[0].Tap = value; break;
                case "mac": s.Adapters[0].Mac = value; break;
                case "kernel": s.Kernel = value; break;
                case "append": s.KernelCommandLine = value; break;
                case "incoming": s.Incoming = value; break;
                case "memory": s.MemoryMB = int.Parse(value); break;
                case "cpus": s.ProcessorCount = int.Parse(value); break;
                case "initrd-only": s.Kernel = null; break;
                case "duplicate-tap": s.Adapters[1].Tap = s.Adapters[0].Tap; break;
                case "wrong-paths": paths = new RouterRunPaths("/run", "r2"); break;
            }
            var ex = Assert.Throws<VirtualNetworksException>(() => QemuArguments.Build(s, paths));
            Assert.Equal(ErrorKind.InvalidArgument, ex.Kind);
            Assert.Equal("r1", ex.TargetName);
            Assert.StartsWith("Cannot start router 'r1'", ex.Message);
        }

        [Fact]
        public void Socket_paths_longer_than_sockaddr_un_allows_are_refused()
        {
            var paths = new RouterRunPaths("/" + new string('d', 100), "r1");
            var ex = Assert.Throws<VirtualNetworksException>(() => QemuArguments.Build(Spec(), paths));
            Assert.Contains("shorter state directory", ex.Message);
        }

        [Fact]
        public void Missing_qemu_names_the_debian_package()
        {
            var ex = Assert.Throws<VirtualNetworksException>(() => QemuLauncher.FindQemu("/nonexistent/qemu-system-x86_64"));
            Assert.Equal(ErrorIds.BackendNotAvailable, ex.ErrorId);
            Assert.Equal(ErrorKind.NotInstalled, ex.Kind);
            Assert.Contains("qemu-system-x86", ex.RecommendedAction);
        }
    }

    public sealed class VmRouterProcessTests
    {
        private static readonly RouterRunPaths Paths = new RouterRunPaths("/var/lib/virtualnetworks/run", "r1");

        [Fact]
        public void Recognises_only_our_qemu_for_this_router()
        {
            var ours = new List<string> { "/usr/bin/qemu-system-x86_64", "-name", "r1,process=vn-r1", "-pidfile", "/var/lib/virtualnetworks/run/r1.pid", "-daemonize" };
            Assert.True(RouterProcess.IsOurCommandLine(ours, Paths));
            Assert.True(RouterProcess.IsOurCommandLine(ours, new RouterRunPaths("/var/lib/virtualnetworks/run", "R1")));
            Assert.False(RouterProcess.IsOurCommandLine(ours, new RouterRunPaths("/var/lib/virtualnetworks/run", "r2")));
            Assert.False(RouterProcess.IsOurCommandLine(ours, new RouterRunPaths("/tmp/other/run", "r1")));
            var otherBinary = new List<string>(ours) { [0] = "/usr/bin/sleep" };
            Assert.False(RouterProcess.IsOurCommandLine(otherBinary, Paths));
            var noPidfile = ours.Where(x => x != "-pidfile").ToList();
            Assert.False(RouterProcess.IsOurCommandLine(noPidfile, Paths));
            Assert.False(RouterProcess.IsOurCommandLine(Array.Empty<string>(), Paths));
        }

        [Fact]
        public void Inspect_without_a_pidfile_is_not_running_and_a_stale_pidfile_is_drift()
        {
            string root = VmTestHost.NewStateRoot();
            try
            {
                var store = new StateStore(root);
                store.EnsureLayout();
                var paths = store.RunPaths("r1");
                Assert.Equal(VmProcessState.NotRunning, RouterProcess.Inspect(paths).State);

                File.WriteAllText(paths.PidFile, "999999999\n");
                var dead = RouterProcess.Inspect(paths);
                Assert.Equal(VmProcessState.Dead, dead.State);
                Assert.Contains("gone", dead.Detail);

                // A live pid that is not our QEMU (this test process): foreign, and never signalled.
                File.WriteAllText(paths.PidFile, Environment.ProcessId + "\n");
                Assert.Equal(VmProcessState.Foreign, RouterProcess.Inspect(paths).State);
                Assert.False(RouterProcess.Kill(paths, TimeSpan.FromMilliseconds(10)));
                Assert.True(RouterProcess.IsAlive(Environment.ProcessId));

                RouterProcess.RemoveRunFiles(paths, includeConsole: true);
                Assert.False(File.Exists(paths.PidFile));
            }
            finally
            {
                VmTestHost.DeleteTree(root);
            }
        }
    }

    public sealed class VmGuestConfigTextTests
    {
        [Fact]
        public void Renders_interfaces_by_mac_and_routes_including_defaults()
        {
            var macs = new Dictionary<string, string> { ["l1"] = "52:54:00:00:00:01", ["L2"] = "52:54:00:00:00:02" };
            var cfg = new RouterConfiguration
            {
                RouterName = "r1",
                Interfaces =
                {
                    new InterfaceConfiguration { LinkName = "l2", Address = "10.0.0.2/31" },
                    new InterfaceConfiguration { LinkName = "l1", Address = "10.0.0.0/31" },
                    new InterfaceConfiguration { LinkName = "l1", Address = "fd00::/127" },
                },
                Routes =
                {
                    new RouteConfiguration { Destination = "10.9.0.0/16", NextHop = "10.0.0.1", LinkName = "l1" },
                    new RouteConfiguration { Destination = "0.0.0.0/0", NextHop = "10.0.0.3", LinkName = "l2" },
                    new RouteConfiguration { Destination = "::/0", NextHop = "fd00::1", LinkName = "l1" },
                },
            };
            string text = GuestConfigText.Render("r1", cfg, macs);
            Assert.Equal(
                "# VirtualNetworks router configuration\n" +
                "name r1\n" +
                "# link l1\n" +
                "if 52:54:00:00:00:01 10.0.0.0/31 fd00::/127\n" +
                "# link l2\n" +
                "if 52:54:00:00:00:02 10.0.0.2/31\n" +
                "route default via 10.0.0.3\n" +
                "route 10.9.0.0/16 via 10.0.0.1\n" +
                "route default6 via fd00::1\n", text);
            Assert.Equal("# VirtualNetworks router configuration\nname r1\n", GuestConfigText.Render("r1", null, macs));
        }

        [Fact]
        public void Rejects_missing_macs_and_malformed_addresses()
        {
            var macs = new Dictionary<string, string> { ["l1"] = "52:54:00:00:00:01" };
            var noMac = new RouterConfiguration { Interfaces = { new InterfaceConfiguration { LinkName = "l9", Address = "10.0.0.0/31" } } };
            Assert.Contains("no MAC", Assert.Throws<VirtualNetworksException>(() => GuestConfigText.Render("r1", noMac, macs)).Message);
            var bad = new RouterConfiguration { Interfaces = { new InterfaceConfiguration { LinkName = "l1", Address = "10.0.0.0/33" } } };
            Assert.Throws<VirtualNetworksException>(() => GuestConfigText.Render("r1", bad, macs));
            var inject = new RouterConfiguration { Interfaces = { new InterfaceConfiguration { LinkName = "l1", Address = "10.0.0.0/31\nroute default via 1.2.3.4" } } };
            Assert.Throws<VirtualNetworksException>(() => GuestConfigText.Render("r1", inject, macs));
            var nh = new RouterConfiguration { Routes = { new RouteConfiguration { Destination = "10.0.0.0/8", NextHop = "x y" } } };
            Assert.Throws<VirtualNetworksException>(() => GuestConfigText.Render("r1", nh, macs));
        }
    }

    public sealed class VmKvmProbeUnitTests
    {
        [Fact]
        public void Boot_sector_writes_to_the_debug_exit_port_and_is_bootable()
        {
            var b = KvmProbe.BootSector();
            Assert.Equal(512, b.Length);
            Assert.Equal(new byte[] { 0xB0, 0x01, 0xE6, 0xF4 }, b.Take(4));
            Assert.Equal(0x55, b[510]);
            Assert.Equal(0xAA, b[511]);
        }
    }
}

namespace VirtualNetworks.Linux.Tests
{
    public sealed class GuestShowLinksTests
    {
        [Fact]
        public void Only_the_links_part_of_show_counts()
        {
            const string show = "# name\nr1\n# links\n1: lo: <LOOPBACK,UP>\n    link/loopback 00:00:00:00:00:00\n2: eth0: <BROADCAST>\n    link/ether 52:54:00:aa:bb:cc brd ff:ff:ff:ff:ff:ff\n" +
                                "# addresses\n...\n# config\nif 52:54:00:dd:ee:ff 10.0.0.0/31\n";
            var links = LinuxBackend.GuestLinks(show);
            Assert.Contains("52:54:00:aa:bb:cc", links);
            Assert.DoesNotContain("52:54:00:dd:ee:ff", links); // only named by the configuration, not present
            Assert.DoesNotContain("# addresses", links);
            Assert.Equal("", LinuxBackend.GuestLinks("# name\nr1\n# links\n# addresses\nx\n"));
            Assert.Equal("", LinuxBackend.GuestLinks("error: busy\n"));
            Assert.Equal("2: eth0\n", LinuxBackend.GuestLinks("# links\n2: eth0\n"));
        }
    }

    public sealed class VmKvmProbeScratchTests : IDisposable
    {
        private readonly string _dir = VmTestHost.NewStateRoot();

        public void Dispose() => VmTestHost.DeleteTree(_dir);

        [Fact]
        public void Scratch_files_of_a_dead_probe_go_and_those_of_a_live_one_and_anything_else_stay()
        {
            System.IO.Directory.CreateDirectory(_dir);
            string Touch(string name)
            {
                var p = System.IO.Path.Combine(_dir, name);
                System.IO.File.WriteAllText(p, "x");
                return p;
            }
            var dead = new[] { Touch("kvm-probe-999999999-a1b2c3.img"), Touch("kvm-probe-999999999-a1b2c3.console") };
            var mine = Touch("kvm-probe-" + Environment.ProcessId + "-0f0f0f.img");
            var other = new[] { Touch("kvm-probe-999999999-zzzzzz.img"), Touch("kvm-probe-999999999-a1b2c3.img.bak"), Touch("r1.pid") };
            Assert.Equal(2, Vm.KvmProbe.SweepStale(_dir));
            Assert.All(dead, f => Assert.False(System.IO.File.Exists(f), f));
            Assert.True(System.IO.File.Exists(mine));
            Assert.All(other, f => Assert.True(System.IO.File.Exists(f), f));
        }
    }
}
