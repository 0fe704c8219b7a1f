using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text.RegularExpressions;
using VirtualNetworks.Linux.State;
using VirtualNetworks.Topology;

namespace VirtualNetworks.Linux.Vm
{
    /// <summary>The CPU accelerator a router runs with.</summary>
    public enum Accelerator
    {
        /// <summary>QEMU's software emulator (always works; about 2 s to boot the router image here).</summary>
        Tcg = 0,
        /// <summary>Hardware virtualisation; used only when <see cref="KvmProbe"/> proved it works.</summary>
        Kvm,
    }

    /// <summary>One network adapter: a virtio-net device on an existing tap device.</summary>
    public sealed class VmAdapter
    {
        public VmAdapter()
        {
        }

        public VmAdapter(string tap, string mac)
        {
            Tap = tap;
            Mac = mac;
        }

        /// <summary>The host tap device (created beforehand by the network side; 1-15 chars).</summary>
        public string Tap { get; set; } = "";
        /// <summary>Guest MAC (see <see cref="MacAddresses"/>).</summary>
        public string Mac { get; set; } = "";
    }

    /// <summary>Everything needed to start one router's QEMU process.</summary>
    public sealed class VmLaunchSpec
    {
        /// <summary>The default kernel command line; "vn.name=&lt;name&gt;" is appended.</summary>
        public const string DefaultKernelCommandLine = "console=ttyS0 quiet panic=-1 cryptomgr.notests nokaslr no_timer_check";

        /// <summary>Router name (validated with <see cref="NameRules"/>).</summary>
        public string Name { get; set; } = "";
        public int MemoryMB { get; set; } = LinuxBackend.DefaultMemoryMB;
        public int ProcessorCount { get; set; } = 1;
        public Accelerator Accelerator { get; set; } = Accelerator.Tcg;
        /// <summary>
        /// Size (MB) of QEMU's TCG translation cache (<c>-accel tcg,tb-size=</c>); 0 = QEMU's own default (1 GiB reserved,
        /// filled as the guest runs). Ignored with KVM. See <see cref="QemuArguments.DefaultTcgTranslationCacheMB"/>.
        /// </summary>
        public int TcgTranslationCacheMB { get; set; } = QemuArguments.DefaultTcgTranslationCacheMB;
        /// <summary>Absolute path of the kernel (bzImage); null when booting from <see cref="Disk"/>.</summary>
        public string? Kernel { get; set; }
        /// <summary>Absolute path of the initramfs (only with <see cref="Kernel"/>).</summary>
        public string? Initrd { get; set; }
        /// <summary>Firmware for -bios (e.g. qboot, see <see cref="QemuLauncher.FindQboot"/>); null = QEMU's default (SeaBIOS).</summary>
        public string? Firmware { get; set; }
        /// <summary>Absolute path of a qcow2 disk (the router's overlay), attached as virtio disk.</summary>
        public string? Disk { get; set; }
        /// <summary>Kernel command line (only with <see cref="Kernel"/>).</summary>
        public string KernelCommandLine { get; set; } = DefaultKernelCommandLine;
        /// <summary>
        /// Whether the NICs offer VIRTIO_NET_F_GUEST_ANNOUNCE (QEMU's default). Routers are started with false (see
        /// <see cref="QemuArguments.NoGuestAnnounce"/>); a live migration's destination repeats what the source had.
        /// </summary>
        public bool GuestAnnounce { get; set; }
        /// <summary>Adapters in order (the guest identifies them by MAC, not by order).</summary>
        public List<VmAdapter> Adapters { get; set; } = new List<VmAdapter>();
        /// <summary>Guest configuration text handed over as fw_cfg opt/vn/config (see <see cref="GuestConfigText"/>).</summary>
        public string ConfigText { get; set; } = "";
        /// <summary>QEMU -incoming value for a migration target ("defer", "tcp:&lt;ip&gt;:&lt;port&gt;"); null = normal start.</summary>
        public string? Incoming { get; set; }
        /// <summary>
        /// Network namespace of the router's host (a lab host, <c>vnh-...</c>); null = this machine. QEMU is started as
        /// <c>ip netns exec NS qemu-system-x86_64 ...</c>, so its taps (and a migration listener) resolve there; its sockets,
        /// pidfile and logs stay in the state directory.
        /// </summary>
        public string? NetworkNamespace { get; set; }
        /// <summary>
        /// Run directory for this instance's pidfile, sockets and logs; null = the state directory's run/. A migration's
        /// incoming instance uses a directory of its own (e.g. run/incoming) while the source instance still runs.
        /// </summary>
        public string? RunDirectory { get; set; }
        /// <summary>Further QEMU arguments, appended before <c>-daemonize</c> (each a separate argv entry; no shell).</summary>
        public List<string> ExtraArguments { get; set; } = new List<string>();
    }

    /// <summary>
    /// Builds QEMU's argument list for a router. Never a command line for a shell: the list goes to
    /// <see cref="VirtualNetworks.Util.ProcessRunner"/> as it is. Every value is validated first; values inside QEMU
    /// option strings ("key=value,key=value") have their commas doubled, QEMU's escape.
    /// </summary>
    public static class QemuArguments
    {
        public const string FwCfgName = "opt/vn/config";
        public const string CommandPortName = "vn.cmd";
        /// <summary>Hard limit on adapters: the default machine's PCI bus has 32 slots, some taken by the board.</summary>
        public const int MaxAdapters = 24;

        private static readonly Regex TapName = new Regex("^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$", RegexOptions.CultureInvariant);
        private static readonly Regex IncomingValue = new Regex(@"^(defer|tcp:(\[[0-9A-Fa-f:.]+\]|[0-9.]+|[A-Za-z0-9.-]+):[0-9]{1,5})$", RegexOptions.CultureInvariant);
        private static readonly Regex KernelWord = new Regex(@"^[\x21-\x7e]+$", RegexOptions.CultureInvariant);

        /// <summary>Escapes a value placed inside a QEMU option string: ',' becomes ",,".</summary>
        /// <summary>
        /// The guest segments its own TCP (no TSO towards the host), so every packet reaching a link's tbf shaper is at
        /// most one frame. With host TSO a queued 64 KB super-packet can exceed the burst of a lowered rate and then
        /// block the queue for good (seen when lowering a limit under load).
        /// </summary>
        public const string NicOffloads = "host_tso4=off,host_tso6=off";

        /// <summary>
        /// The guest is not asked to announce itself after a live migration (no VIRTIO_NET_F_GUEST_ANNOUNCE): its
        /// gratuitous ARP / unsolicited NA work ran on the destination's cold vCPU right at the resume, ahead of the
        /// first forwarded packets (docs/migration.md). QEMU still sends its own RARP announcements from the NIC's MAC.
        /// </summary>
        public const string NoGuestAnnounce = "guest_announce=off";

        public static string EscapeOptionValue(string value) => value.Replace(",", ",,");

        /// <summary>
        /// The TCG translation cache routers get (MB). QEMU 7.2 reserves 1 GiB for it and keeps every page it has filled
        /// resident: about 28 MB right after a router's boot, and more as it runs BIRD and probes. Measured 2026-12-07 (8
        /// routers booted at once, docs/benchmarks.md "Density"): 16 MB lowers each router's RSS by about 15 MB at no
        /// measurable CPU cost at boot (1.41 s vs 1.61 s) or under OSPF/BFD and Test-VirtualNetwork; 8 MB cost 36 % more
        /// CPU at boot (the cache is flushed and refilled), so 16 it is.
        /// </summary>
        public const int DefaultTcgTranslationCacheMB = 16;
        /// <summary>Largest <see cref="VmLaunchSpec.TcgTranslationCacheMB"/> accepted (QEMU's own limit on x86-64 is 2 GiB).</summary>
        public const int MaxTcgTranslationCacheMB = 2048;

        /// <summary>Validates <paramref name="spec"/> and returns QEMU's arguments (without the executable).</summary>
        /// <exception cref="VirtualNetworksException">InvalidArgument naming the router and the bad value.</exception>
        public static List<string> Build(VmLaunchSpec spec, RouterRunPaths paths)
        {
            if (spec == null) throw new ArgumentNullException(nameof(spec));
            if (paths == null) throw new ArgumentNullException(nameof(paths));
            Validate(spec, paths);
            string name = spec.Name;
            var a = new List<string>
            {
                // process= names the thread "vn-<name>" (truncated to 15 chars) for ps/top.
                "-name", name + ",process=vn-" + name,
                "-accel", Accel(spec),
                "-m", spec.MemoryMB.ToString(CultureInfo.InvariantCulture),
                "-smp", spec.ProcessorCount.ToString(CultureInfo.InvariantCulture),
                "-nodefaults", "-no-user-config", "-display", "none",
                // A guest reboot (kernel panic with panic=-1 included) ends the process: it shows as drift.
                "-no-reboot",
            };
            if (spec.Firmware != null)
            {
                a.Add("-bios");
                a.Add(spec.Firmware);
            }
            if (spec.Kernel != null)
            {
                a.Add("-kernel");
                a.Add(spec.Kernel);
                if (spec.Initrd != null)
                {
                    a.Add("-initrd");
                    a.Add(spec.Initrd);
                }
                a.Add("-append");
                a.Add(KernelCommandLine(spec));
            }
            if (spec.Disk != null)
            {
                a.Add("-drive");
                a.Add("file=" + EscapeOptionValue(spec.Disk) + ",format=qcow2,if=virtio,cache=writeback");
            }
            a.AddRange(new[]
            {
                "-chardev", "file,id=vncon,path=" + EscapeOptionValue(paths.ConsoleLog),
                "-serial", "chardev:vncon",
                "-chardev", "socket,id=vnqmp,path=" + EscapeOptionValue(paths.QmpSocket) + ",server=on,wait=off",
                "-mon", "chardev=vnqmp,mode=control",
                "-device", "virtio-serial-pci,id=vnser",
                "-chardev", "socket,id=vnchan,path=" + EscapeOptionValue(paths.ChannelSocket) + ",server=on,wait=off",
                "-device", "virtserialport,bus=vnser.0,chardev=vnchan,name=" + CommandPortName,
                "-fw_cfg", "name=" + FwCfgName + ",file=" + EscapeOptionValue(paths.ConfigFile),
            });
            for (int i = 0; i < spec.Adapters.Count; i++)
            {
                var ad = spec.Adapters[i];
                string id = "vnnet" + i.ToString(CultureInfo.InvariantCulture);
                a.Add("-netdev");
                a.Add("tap,id=" + id + ",ifname=" + ad.Tap + ",script=no,downscript=no");
                a.Add("-device");
                // romfile= : no PXE option ROM (faster boot, no dependency on the ipxe package).
                a.Add("virtio-net-pci,netdev=" + id + ",mac=" + MacAddresses.Normalize(ad.Mac) + ",romfile=," + NicOffloads +
                      (spec.GuestAnnounce ? "" : "," + NoGuestAnnounce));
            }
            a.Add("-pidfile");
            a.Add(paths.PidFile);
            if (spec.Incoming != null)
            {
                a.Add("-incoming");
                a.Add(spec.Incoming);
            }
            if (spec.ExtraArguments != null) a.AddRange(spec.ExtraArguments);
            // QEMU forks, waits until the VM is set up (errors still reach us on stderr), and the parent exits: the router
            // outlives the PowerShell process that started it.
            a.Add("-daemonize");
            return a;
        }

        /// <summary>The -accel value: "kvm", or "tcg" with the translation cache size when one is set.</summary>
        public static string Accel(VmLaunchSpec spec) =>
            spec.Accelerator == Accelerator.Kvm ? "kvm"
            : spec.TcgTranslationCacheMB > 0 ? "tcg,tb-size=" + spec.TcgTranslationCacheMB.ToString(CultureInfo.InvariantCulture)
            : "tcg";

        /// <summary>
        /// Added to the kernel command line under TCG (unless the spec's line already has a <c>tsc=</c> word): the guest
        /// trusts its TSC, so the kernel's clocksource watchdog does not run. Under TCG the TSC is derived from the host's
        /// monotonic clock, so there is nothing for it to find; yet it woke every idle guest twice a second to read the
        /// HPET and ACPI PM timer (emulated MMIO and port I/O), and on a starved host it can wrongly mark the TSC unstable
        /// and move the guest to the HPET, making every clock read an emulated MMIO access. Measured 2026-12-08 (two rings of
        /// 4 routers side by side, docs/forwarding-cost.md): idle host CPU per router 0.15 -> 0.04 % of a core with the
        /// image's agent asleep in vn-portwait; no change per forwarded packet. Not added with KVM (real hardware TSCs can
        /// be unstable, and a KVM guest may have kvm-clock).
        /// </summary>
        public const string TcgKernelArguments = "tsc=reliable";

        /// <summary>
        /// The kernel command line: the spec's, plus <see cref="TcgKernelArguments"/> under TCG (when the spec's line has
        /// no <c>tsc=</c> word), plus vn.name=&lt;name&gt;.
        /// </summary>
        public static string KernelCommandLine(VmLaunchSpec spec)
        {
            string line = (spec.KernelCommandLine ?? "").Trim();
            bool ownTsc = false;
            foreach (var w in line.Split(new[] { ' ' }, StringSplitOptions.RemoveEmptyEntries))
                if (w.StartsWith("tsc=", StringComparison.Ordinal)) ownTsc = true;
            if (spec.Accelerator == Accelerator.Tcg && !ownTsc) line += " " + TcgKernelArguments;
            return line + " vn.name=" + spec.Name;
        }

        private static void Validate(VmLaunchSpec spec, RouterRunPaths paths)
        {
            NameRules.Ensure(spec.Name, "router");
            if (!string.Equals(spec.Name, paths.RouterName, StringComparison.OrdinalIgnoreCase))
                throw Bad(spec.Name, "the run paths belong to router '" + paths.RouterName + "'");
            if (spec.MemoryMB < 16 || spec.MemoryMB > 1048576) throw Bad(spec.Name, "memory " + spec.MemoryMB + " MB is outside 16..1048576");
            if (spec.TcgTranslationCacheMB < 0 || spec.TcgTranslationCacheMB > MaxTcgTranslationCacheMB)
                throw Bad(spec.Name, "TCG translation cache " + spec.TcgTranslationCacheMB + " MB is outside 0..." + MaxTcgTranslationCacheMB + " (0 = QEMU's default)");
            if (spec.ProcessorCount < 1 || spec.ProcessorCount > 255) throw Bad(spec.Name, "processor count " + spec.ProcessorCount + " is outside 1..255");
            if (spec.Kernel == null && spec.Disk == null) throw Bad(spec.Name, "neither a kernel nor a disk was given");
            if (spec.Initrd != null && spec.Kernel == null) throw Bad(spec.Name, "an initrd needs a kernel");
            CheckPath(spec.Name, "kernel", spec.Kernel);
            CheckPath(spec.Name, "initrd", spec.Initrd);
            CheckPath(spec.Name, "disk", spec.Disk);
            CheckPath(spec.Name, "firmware", spec.Firmware);
            foreach (var p in paths.All) CheckPath(spec.Name, "run file", p);
            paths.EnsureSocketPathsFit();
            if (spec.Kernel != null)
            {
                foreach (var w in (spec.KernelCommandLine ?? "").Split(new[] { ' ' }, StringSplitOptions.RemoveEmptyEntries))
                    if (!KernelWord.IsMatch(w)) throw Bad(spec.Name, "the kernel command line contains a control or non-ASCII character");
                if (KernelCommandLine(spec).Length > 2000) throw Bad(spec.Name, "the kernel command line is longer than 2000 characters");
            }
            if (spec.Adapters == null) throw Bad(spec.Name, "the adapter list is null");
            if (spec.Adapters.Count > MaxAdapters) throw Bad(spec.Name, spec.Adapters.Count + " adapters; at most " + MaxAdapters + " are supported");
            var taps = new HashSet<string>(StringComparer.Ordinal);
            var macs = new HashSet<string>(StringComparer.Ordinal);
            foreach (var ad in spec.Adapters)
            {
                if (ad == null) throw Bad(spec.Name, "an adapter is null");
                if (ad.Tap == null || !TapName.IsMatch(ad.Tap))
                    throw Bad(spec.Name, "tap name '" + ad.Tap + "' is not a valid interface name (1-15 of A-Z a-z 0-9 _ . -, starting with a letter or digit)");
                if (!MacAddresses.IsValid((ad.Mac ?? "").ToLowerInvariant()))
                    throw Bad(spec.Name, "MAC '" + ad.Mac + "' is not a unicast MAC address (xx:xx:xx:xx:xx:xx)");
                if (!taps.Add(ad.Tap)) throw Bad(spec.Name, "tap '" + ad.Tap + "' is used twice");
                if (!macs.Add(ad.Mac!.ToLowerInvariant())) throw Bad(spec.Name, "MAC '" + ad.Mac + "' is used twice");
            }
            if (spec.Incoming != null && !IncomingValue.IsMatch(spec.Incoming))
                throw Bad(spec.Name, "incoming migration address '" + spec.Incoming + "' is not 'defer' or 'tcp:<host>:<port>'");
            if (spec.ConfigText == null) throw Bad(spec.Name, "the configuration text is null");
            if (spec.NetworkNamespace != null && !Net.InterfaceNames.IsValidNamespaceName(spec.NetworkNamespace))
                throw Bad(spec.Name, "network namespace '" + spec.NetworkNamespace + "' is not a valid name");
            foreach (var x in spec.ExtraArguments ?? new List<string>())
            {
                if (string.IsNullOrEmpty(x)) throw Bad(spec.Name, "an extra QEMU argument is empty");
                foreach (char c in x)
                    if (c < ' ' || c == '\x7f') throw Bad(spec.Name, "an extra QEMU argument contains a control character");
                if (x == "-daemonize" || x == "-pidfile") throw Bad(spec.Name, "the extra QEMU argument '" + x + "' is managed by the launcher");
            }
        }

        private static void CheckPath(string router, string what, string? path)
        {
            if (path == null) return;
            if (path.Length == 0 || !Path.IsPathRooted(path)) throw Bad(router, "the " + what + " path '" + path + "' is not absolute");
            foreach (char c in path)
                if (c < ' ' || c == '\x7f') throw Bad(router, "the " + what + " path contains a control character");
        }

        private static VirtualNetworksException Bad(string router, string what) =>
            new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.InvalidArgument, router,
                "Cannot start router '" + router + "': " + what + ".");
    }
}
