using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Threading;
using VirtualNetworks.Linux.State;
using VirtualNetworks.Util;

namespace VirtualNetworks.Linux.Vm
{
    /// <summary>Outcome of the KVM probe.</summary>
    public sealed class KvmProbeResult
    {
        public KvmProbeResult(bool kvmUsable, string detail, TimeSpan elapsed, DateTime probedUtc, bool fromCache)
        {
            KvmUsable = kvmUsable;
            Detail = detail;
            Elapsed = elapsed;
            ProbedUtc = probedUtc;
            FromCache = fromCache;
        }

        public bool KvmUsable { get; }
        /// <summary>Why (e.g. "no /dev/kvm", "a minimal guest did not finish within 2 s under KVM").</summary>
        public string Detail { get; }
        public TimeSpan Elapsed { get; }
        public DateTime ProbedUtc { get; }
        public bool FromCache { get; }
        public Accelerator Accelerator => KvmUsable ? Accelerator.Kvm : Accelerator.Tcg;

        public override string ToString() => Accelerator + ": " + Detail;
    }

    /// <summary>
    /// Decides between KVM and TCG. KVM is used only when a short probe proves it works: on the project's CI machines
    /// /dev/kvm exists but nested KVM is unusable (a guest's firmware takes 4 s instead of 0.1 s, the Linux boot hangs).
    /// </summary>
    /// <remarks>
    /// <para>The probe, every stage bounded and its QEMU killed when the bound passes:</para>
    /// <list type="number">
    /// <item>/dev/kvm must exist and be openable for reading and writing.</item>
    /// <item>Firmware stage: QEMU with <c>-accel kvm</c>, the default machine, its own BIOS and a 512-byte boot sector
    /// (generated here) that writes to an isa-debug-exit port, which ends QEMU with exit code 3. It must finish within
    /// <see cref="FirmwareStageTimeout"/> (TCG does it in about 0.1 s; usable KVM likewise).</item>
    /// <item>Kernel stage (when a kernel is given, e.g. the router image's): boot it under KVM without a root file
    /// system and with <c>panic=-1</c> and <c>-no-reboot</c>, so it runs its whole boot and ends QEMU with a kernel panic;
    /// it must finish within <see cref="KernelStageTimeout"/> with "Kernel panic" on the console.</item>
    /// </list>
    /// <para>The result is cached for the process lifetime and in the state directory (kvm-probe.json) for the current
    /// host boot (/proc/sys/kernel/random/boot_id) and QEMU binary. VIRTUALNETWORKS_ACCEL=tcg|kvm overrides the probe
    /// ("auto" or unset = probe).</para>
    /// </remarks>
    public static class KvmProbe
    {
        public const string OverrideEnvironmentVariable = "VIRTUALNETWORKS_ACCEL";
        public static readonly TimeSpan FirmwareStageTimeout = TimeSpan.FromSeconds(2);
        public static readonly TimeSpan KernelStageTimeout = TimeSpan.FromSeconds(4);

        private static readonly object Sync = new object();
        private static readonly Dictionary<string, KvmProbeResult> Cache = new Dictionary<string, KvmProbeResult>(StringComparer.Ordinal);

        /// <summary>
        /// The accelerator to use: the override variable if set, else the cached or fresh probe result.
        /// </summary>
        /// <param name="qemuPath">The QEMU binary.</param>
        /// <param name="store">State store for the persistent cache and the probe's scratch files; null = temp directory, no persistent cache.</param>
        /// <param name="kernel">A kernel for the kernel stage (the router image's vmlinuz); null skips that stage.</param>
        public static KvmProbeResult Decide(string qemuPath, StateStore? store, string? kernel, CancellationToken cancellationToken = default)
        {
            string? forced = Environment.GetEnvironmentVariable(OverrideEnvironmentVariable)?.Trim().ToLowerInvariant();
            if (forced == "tcg") return new KvmProbeResult(false, OverrideEnvironmentVariable + "=tcg", TimeSpan.Zero, DateTime.UtcNow, true);
            if (forced == "kvm") return new KvmProbeResult(true, OverrideEnvironmentVariable + "=kvm (not probed)", TimeSpan.Zero, DateTime.UtcNow, true);

            string identity = QemuIdentity(qemuPath) + "|" + (kernel == null ? "-" : FileIdentity(kernel));
            string bootId = BootId();
            lock (Sync)
            {
                if (Cache.TryGetValue(identity, out var cached)) return cached;
            }
            var rec = store?.ReadKvmProbe();
            if (rec != null && rec.BootId == bootId && rec.Qemu == identity)
            {
                var r = new KvmProbeResult(rec.KvmUsable, rec.Detail, TimeSpan.FromMilliseconds(rec.ElapsedMilliseconds), rec.UpdatedUtc, true);
                lock (Sync) Cache[identity] = r;
                return r;
            }

            var fresh = Run(qemuPath, Accelerator.Kvm, store?.RunDirectory, kernel, cancellationToken);
            lock (Sync) Cache[identity] = new KvmProbeResult(fresh.KvmUsable, fresh.Detail, fresh.Elapsed, fresh.ProbedUtc, true);
            if (store != null)
            {
                try
                {
                    store.WriteKvmProbe(new KvmProbeRecord
                    {
                        BootId = bootId,
                        Qemu = identity,
                        KvmUsable = fresh.KvmUsable,
                        Detail = fresh.Detail,
                        ElapsedMilliseconds = (long)fresh.Elapsed.TotalMilliseconds,
                    });
                }
                catch (VirtualNetworksException)
                {
                    // Only a cache.
                }
            }
            return fresh;
        }

        /// <summary>Forgets the in-process cache (tests).</summary>
        internal static void ResetProcessCache()
        {
            lock (Sync) Cache.Clear();
        }

        /// <summary>
        /// Runs the probe stages with <paramref name="accelerator"/> (Kvm for the real probe; Tcg lets tests check the
        /// stages themselves on machines without usable KVM). No caching.
        /// </summary>
        public static KvmProbeResult Run(string qemuPath, Accelerator accelerator, string? scratchDirectory, string? kernel,
            CancellationToken cancellationToken = default, TimeSpan? firmwareBound = null, TimeSpan? kernelBound = null)
        {
            var clock = Stopwatch.StartNew();
            if (accelerator == Accelerator.Kvm)
            {
                if (!File.Exists("/dev/kvm")) return Result(false, "no /dev/kvm", clock);
                try
                {
                    using (new FileStream("/dev/kvm", FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite)) { }
                }
                catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
                {
                    return Result(false, "/dev/kvm cannot be opened: " + ex.Message, clock);
                }
            }
            string accel = accelerator == Accelerator.Kvm ? "kvm" : "tcg";
            string dir = scratchDirectory ?? Path.GetTempPath();
            Directory.CreateDirectory(dir);
            SweepStale(dir);
            string tag = "kvm-probe-" + Process.GetCurrentProcess().Id.ToString(CultureInfo.InvariantCulture) + "-" + Guid.NewGuid().ToString("N").Substring(0, 6);
            string bootImage = Path.Combine(dir, tag + ".img");
            string console = Path.Combine(dir, tag + ".console");
            try
            {
                File.WriteAllBytes(bootImage, BootSector());
                var firmwareArgs = new List<string>
                {
                    "-accel", accel, "-m", "16", "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
                    "-drive", "file=" + QemuArguments.EscapeOptionValue(bootImage) + ",format=raw,if=ide",
                    "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
                };
                var stage = Stage(qemuPath, firmwareArgs, firmwareBound ?? FirmwareStageTimeout, cancellationToken, out string why);
                if (stage != 3)
                    return Result(false, "a minimal guest (firmware + boot sector) " + why + " under " + accel.ToUpperInvariant(), clock);
                if (kernel == null)
                    return Result(true, "a minimal guest (firmware + boot sector) ran under " + accel.ToUpperInvariant() + " in time", clock);

                var kernelArgs = new List<string>
                {
                    "-accel", accel, "-m", "128", "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
                    "-kernel", kernel, "-append", "console=ttyS0 quiet panic=-1 cryptomgr.notests vn.probe=1",
                    "-chardev", "file,id=probecon,path=" + QemuArguments.EscapeOptionValue(console), "-serial", "chardev:probecon",
                };
                stage = Stage(qemuPath, kernelArgs, kernelBound ?? KernelStageTimeout, cancellationToken, out why);
                string text = File.Exists(console) ? File.ReadAllText(console) : "";
                if (stage != 0 || text.IndexOf("Kernel panic", StringComparison.Ordinal) < 0)
                    return Result(false, "the router kernel " + (stage == 0 ? "ended without the expected panic" : why) + " under " + accel.ToUpperInvariant(), clock);
                return Result(true, "firmware and the router kernel ran under " + accel.ToUpperInvariant() + " in time", clock);
            }
            finally
            {
                TryDelete(bootImage);
                TryDelete(console);
            }
        }

        /// <summary>Exit code of the stage's QEMU, or -1 when it was stopped at the bound (<paramref name="why"/> says what happened).</summary>
        private static int Stage(string qemuPath, List<string> args, TimeSpan bound, CancellationToken cancellationToken, out string why)
        {
            try
            {
                var r = ProcessRunner.Run(qemuPath, args, null, bound, null, cancellationToken);
                why = "ended with exit code " + r.ExitCode.ToString(CultureInfo.InvariantCulture) + " after " +
                      r.Duration.TotalSeconds.ToString("0.00", CultureInfo.InvariantCulture) + " s" + (r.StdErr.Trim().Length > 0 ? " (" + FirstLine(r.StdErr) + ")" : "");
                return r.ExitCode;
            }
            catch (VirtualNetworksException ex) when (ex.Kind == ErrorKind.OperationTimeout)
            {
                why = "did not finish within " + bound.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture) + " s and was killed";
                return -1;
            }
        }

        /// <summary>
        /// A 512-byte MBR boot sector: <c>mov al,1; out 0xf4,al; hlt; jmp $-1</c>, signature 55 AA. With isa-debug-exit
        /// at 0xf4 the write ends QEMU with exit code (1 &lt;&lt; 1) | 1 = 3.
        /// </summary>
        internal static byte[] BootSector()
        {
            var b = new byte[512];
            byte[] code = { 0xB0, 0x01, 0xE6, 0xF4, 0xF4, 0xEB, 0xFD };
            Array.Copy(code, b, code.Length);
            b[510] = 0x55;
            b[511] = 0xAA;
            return b;
        }

        private static KvmProbeResult Result(bool usable, string detail, Stopwatch clock) =>
            new KvmProbeResult(usable, detail, clock.Elapsed, DateTime.UtcNow, false);

        private static string BootId()
        {
            try
            {
                return File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim();
            }
            catch (IOException)
            {
                return "";
            }
        }

        private static string QemuIdentity(string path) => FileIdentity(path);

        private static string FileIdentity(string path)
        {
            try
            {
                var fi = new FileInfo(path);
                return fi.FullName + ":" + fi.Length.ToString(CultureInfo.InvariantCulture) + ":" + fi.LastWriteTimeUtc.Ticks.ToString(CultureInfo.InvariantCulture);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException || ex is ArgumentException)
            {
                return path;
            }
        }

        private static string FirstLine(string s)
        {
            foreach (var l in s.Split('\n'))
                if (l.Trim().Length > 0 && l.IndexOf("warning", StringComparison.OrdinalIgnoreCase) < 0) return l.Trim();
            return s.Trim().Split('\n')[0].Trim();
        }

        private static readonly System.Text.RegularExpressions.Regex ScratchName =
            new System.Text.RegularExpressions.Regex("^kvm-probe-([0-9]{1,9})-[0-9a-f]{6}\\.(img|console)$", System.Text.RegularExpressions.RegexOptions.CultureInvariant);

        /// <summary>
        /// Deletes the scratch files (boot sector, console) of probes whose process is gone (killed during the probe: its
        /// finally block never ran). The owner is the pid in the name; a live pid keeps its files. Returns how many went.
        /// </summary>
        internal static int SweepStale(string directory)
        {
            int removed = 0;
            string[] files;
            try
            {
                if (!Directory.Exists(directory)) return 0;
                files = Directory.GetFiles(directory, "kvm-probe-*");
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                return 0;
            }
            foreach (var f in files)
            {
                var m = ScratchName.Match(Path.GetFileName(f));
                if (!m.Success) continue;
                if (Directory.Exists("/proc/" + m.Groups[1].Value)) continue; // its probe may still run
                TryDelete(f);
                removed++;
            }
            return removed;
        }

        private static void TryDelete(string path)
        {
            try
            {
                File.Delete(path);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }
}
