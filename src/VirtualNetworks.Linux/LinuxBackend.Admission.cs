using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using VirtualNetworks.Backends;
using VirtualNetworks.Linux.Vm;
using VirtualNetworks.Topology;

namespace VirtualNetworks.Linux
{
    /// <summary>
    /// Admission (<see cref="IAdmissionControl"/>): before anything is created or started, a change must fit the machine.
    /// Lab hosts are network namespaces of the local machine, so the local machine and every lab host of it are ONE
    /// machine here: one memory pool and one set of CPU cores, and the checks count all of them together.
    /// </summary>
    public sealed partial class LinuxBackend : IAdmissionControl
    {
        /// <summary>
        /// TEST SEAM, not a feature: stands in for reading /proc/meminfo, so a test can give the admission check any memory
        /// figures. Nothing in the product sets it.
        /// </summary>
        internal Func<string>? MemInfoOverride { get; set; }

        /// <summary>TEST SEAM, not a feature: stands in for the number of CPU cores the router limit is derived from. Nothing in the product sets it.</summary>
        internal int? ProcessorCountOverride { get; set; }

        public void Admit(AdmissionRequest request, CancellationToken cancellationToken)
        {
            if (request == null) throw new ArgumentNullException(nameof(request));
            cancellationToken.ThrowIfCancellationRequested();
            var machine = HostNames.LocalName;
            var problems = new List<string>();
            var records = Store.ListRouters(problems).ToDictionary(r => r.Name, StringComparer.OrdinalIgnoreCase);

            // 1. How many routers the machine would have: every record of this state directory (running or not; a damaged
            //    record counts as a router, since it may be one), plus the new ones.
            var created = request.Creates.Select(r => r.Name).Where(n => !records.ContainsKey(n))
                .Distinct(StringComparer.OrdinalIgnoreCase).Count();
            if (created > 0)
            {
                var refusal = Admission.CheckCount(machine, records.Count + problems.Count, created,
                    ProcessorCountOverride ?? Environment.ProcessorCount);
                if (refusal != null) throw refusal;
            }

            // 2. Memory of the routers the change starts. A router whose QEMU already runs uses memory that MemAvailable
            //    already leaves out: it is not counted again. An existing router starts with its record's memory.
            var starts = new List<(string Name, int MemoryMB)>();
            foreach (var r in request.Starts.GroupBy(r => r.Name, StringComparer.OrdinalIgnoreCase).Select(g => g.First()))
            {
                if (records.TryGetValue(r.Name, out var rec))
                {
                    if (Runs(rec)) continue;
                    starts.Add((rec.Name, rec.MemoryMB));
                }
                else
                {
                    starts.Add((r.Name, r.MemoryMB ?? DefaultMemoryMB));
                }
            }
            if (starts.Count == 0) return;
            string text;
            try
            {
                text = MemInfoOverride != null ? MemInfoOverride() : File.ReadAllText(Admission.MemInfoPath);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                throw Admission.Unreadable(machine, ex.Message, ex);
            }
            var info = Admission.ParseMemInfo(text) ?? throw Admission.Unreadable(machine, "no MemTotal or MemAvailable line", null);
            var memory = Admission.CheckMemory(machine, starts, info);
            if (memory != null) throw memory;
        }

        /// <summary>
        /// Fills <see cref="VirtualHost.RouterCapacity"/> (and the figures behind it) of every host of this machine: how many
        /// more routers with <see cref="DefaultMemoryMB"/> the admission check would let start now. <paramref name="routerCount"/>:
        /// the routers this state directory has (records, damaged ones included). Unreadable /proc/meminfo: left null.
        /// </summary>
        private void SetCapacity(IEnumerable<VirtualHost> hosts, int routerCount)
        {
            MemInfo? info;
            try { info = Admission.ParseMemInfo(MemInfoOverride != null ? MemInfoOverride() : File.ReadAllText(Admission.MemInfoPath)); }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException) { info = null; }
            if (info == null) return;
            int capacity = Admission.Capacity(info.Value, DefaultMemoryMB, routerCount, ProcessorCountOverride ?? Environment.ProcessorCount);
            foreach (var h in hosts)
            {
                h.RouterCapacity = capacity;
                h.MemoryPerRouterMB = (int)Admission.NeedMB(DefaultMemoryMB);
                h.MemoryForRoutersMB = Admission.UsableMB(info.Value);
            }
        }

        /// <summary>True when the router's QEMU runs (in the run slot its record names); a record naming no valid slot: false (it is counted).</summary>
        private bool Runs(State.RouterRecord rec)
        {
            try { return RouterProcess.Inspect(Store.RunPaths(rec.Name, rec.RunSlot)).IsRunning; }
            catch (VirtualNetworksException) { return false; }
        }
    }

    /// <summary>What /proc/meminfo says about the machine's memory, in KiB.</summary>
    internal readonly struct MemInfo
    {
        public MemInfo(long totalKB, long availableKB)
        {
            TotalKB = totalKB;
            AvailableKB = availableKB;
        }

        public long TotalKB { get; }
        /// <summary>MemAvailable: the kernel's estimate of what can be allocated without swapping (free + reclaimable).</summary>
        public long AvailableKB { get; }
        public long TotalMB => TotalKB / 1024;
        public long AvailableMB => AvailableKB / 1024;
    }

    /// <summary>
    /// The arithmetic of admission (pure; the backend gathers the inputs). Numbers, and where they come from:
    /// <list type="bullet">
    /// <item><b>Memory</b>: the routers a change starts need Σ (guest memory + <see cref="QemuOverheadMB"/>); the machine can give
    /// MemAvailable minus a reserve of max(<see cref="ReserveFloorMB"/>, <see cref="ReservePercent"/> % of MemTotal) for the
    /// host itself (kernel, page cache, the PowerShell process, the tools). A guest's memory is counted whole although QEMU
    /// allocates it lazily: a guest may touch all of it, and a refused plan costs nothing while an OOM kill of a router
    /// costs a network.</item>
    /// <item><b>QEMU overhead</b> (<see cref="QemuOverheadMB"/>): measured 2026-12-07 on this project's router image
    /// (QEMU 7.2, TCG, 1 vCPU), routers booted to VN-READY with -m 128, 512 and 2048: VmRSS minus the resident part of the
    /// guest-RAM mapping (from /proc/&lt;pid&gt;/smaps) was 61 MB in all three (about 28 MB of it the TCG translation
    /// cache, which may grow with the code a guest runs). Rounded up to 64 MB. Measured again 2026-12-07 with the
    /// translation cache bounded to <see cref="QemuArguments.DefaultTcgTranslationCacheMB"/> MB (docs/benchmarks.md
    /// "Density"): 8 routers of 64 MB in a ring with OSPF + BFD, after two Test-VirtualNetwork runs, had an RSS of 92 MB
    /// each (PSS 78 MB), 41 MB of it guest RAM and 16 MB translation cache: 51 MB of overhead, so 64 MB still covers it
    /// (with QEMU's unbounded cache the same routers had 127 MB). A router of the default 64 MB is thus counted as
    /// 128 MB, 36 MB (39 %) above what it was measured to take; <see cref="Capacity"/> (Get-VirtualHost's
    /// RouterCapacity) uses the same figures.</item>
    /// <item><b>Router count</b>: at most <see cref="RoutersPerCore"/> routers per CPU core of the machine (records of this
    /// state directory, running or not, plus the new ones). Measured on the same machine: a router's boot under TCG takes
    /// about 1.4 s of CPU, so starting N routers together on C cores takes about N × 1.4 / C seconds, and each must report
    /// ready within the 90 s the backend waits for a guest; 32 per core keeps a start of all of them under half that
    /// (32 × 1.4 s ≈ 45 s per core), and their idle load (0.35-0.4 % of a core each, measured over 30 s) under 15 % of the
    /// machine. With KVM a router costs far less, which is what -Force is for.</item>
    /// </list>
    /// </summary>
    internal static class Admission
    {
        public const string MemInfoPath = "/proc/meminfo";
        public const long ReserveFloorMB = 512;
        public const int ReservePercent = 10;
        public const int QemuOverheadMB = 64;
        public const int RoutersPerCore = 32;

        /// <summary>MemTotal and MemAvailable from /proc/meminfo text; null when either is missing or malformed.</summary>
        public static MemInfo? ParseMemInfo(string text)
        {
            if (text == null) return null;
            long? total = null, available = null;
            foreach (var raw in text.Split('\n'))
            {
                int colon = raw.IndexOf(':');
                if (colon <= 0) continue;
                var key = raw.Substring(0, colon).Trim();
                if (key != "MemTotal" && key != "MemAvailable") continue;
                var parts = raw.Substring(colon + 1).Split(new[] { ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length < 1 || parts.Length > 2 || (parts.Length == 2 && parts[1] != "kB")) return null;
                if (!long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out long kb)) return null;
                if (key == "MemTotal") total = kb;
                else available = kb;
            }
            if (total == null || available == null) return null;
            return new MemInfo(total.Value, available.Value);
        }

        /// <summary>What the host keeps for itself: max(<see cref="ReserveFloorMB"/>, <see cref="ReservePercent"/> % of MemTotal), MB.</summary>
        public static long ReserveMB(long totalMB) => Math.Max(ReserveFloorMB, totalMB * ReservePercent / 100);

        /// <summary>What routers may use: MemAvailable minus the reserve (never below 0), MB.</summary>
        public static long UsableMB(MemInfo info) => Math.Max(0, info.AvailableMB - ReserveMB(info.TotalMB));

        /// <summary>What starting a router of <paramref name="memoryMB"/> takes from the machine, MB.</summary>
        public static long NeedMB(int memoryMB) => (long)memoryMB + QemuOverheadMB;

        /// <summary>The most routers a machine with <paramref name="cores"/> CPU cores takes.</summary>
        public static int RouterLimit(int cores) => RoutersPerCore * Math.Max(1, cores);

        /// <summary>
        /// How many more routers of <paramref name="memoryMB"/> the machine can start now by this check: the fewer of
        /// <see cref="UsableMB"/> ÷ <see cref="NeedMB"/> and <see cref="RouterLimit"/> − <paramref name="existing"/> (never below 0).
        /// </summary>
        public static int Capacity(MemInfo info, int memoryMB, int existing, int cores)
        {
            long byMemory = UsableMB(info) / NeedMB(memoryMB);
            long byCount = Math.Max(0, (long)RouterLimit(cores) - existing);
            return (int)Math.Min(int.MaxValue, Math.Min(byMemory, byCount));
        }

        /// <summary>The refusal when starting <paramref name="starts"/> needs more than <paramref name="info"/> can give; null when it fits.</summary>
        public static VirtualNetworksException? CheckMemory(string machine, IReadOnlyList<(string Name, int MemoryMB)> starts, MemInfo info)
        {
            long guest = starts.Sum(s => (long)s.MemoryMB);
            long need = starts.Sum(s => NeedMB(s.MemoryMB));
            long reserve = ReserveMB(info.TotalMB);
            long have = UsableMB(info);
            if (need <= have) return null;
            int smallest = starts.Min(s => s.MemoryMB);
            var largest = starts.OrderByDescending(s => s.MemoryMB).ThenBy(s => s.Name, StringComparer.OrdinalIgnoreCase).Take(5)
                .Select(s => s.Name + " " + N(s.MemoryMB) + " MB").ToList();
            return new VirtualNetworksException(ErrorIds.InsufficientHostMemory, ErrorKind.ResourceUnavailable, machine,
                $"Starting {N(starts.Count)} router(s) needs {N(need)} MB of memory on host '{machine}' ({N(guest)} MB guest memory + " +
                $"{N(starts.Count)} × {N(QemuOverheadMB)} MB QEMU overhead; largest: {string.Join(", ", largest)}{(starts.Count > largest.Count ? ", ..." : "")}), " +
                $"but it has {N(have)} MB for routers (MemAvailable {N(info.AvailableMB)} MB minus a reserve of {N(reserve)} MB for the host: " +
                $"max({N(ReserveFloorMB)} MB, {ReservePercent} % of MemTotal {N(info.TotalMB)} MB)): room for {N(have / NeedMB(smallest))} router(s) of " +
                $"{N(smallest)} MB. Lab hosts share the local machine's memory. Nothing was created or started.")
            {
                RecommendedAction = "Give the routers less memory (memoryMB), stop or remove other routers, or use -Force to go ahead anyway (QEMU may then fail or the kernel may kill processes).",
            };
        }

        /// <summary>The refusal when <paramref name="existing"/> + <paramref name="created"/> routers exceed the machine's limit; null when they fit.</summary>
        public static VirtualNetworksException? CheckCount(string machine, int existing, int created, int cores)
        {
            int limit = RouterLimit(cores);
            long total = (long)existing + created;
            if (total <= limit) return null;
            return new VirtualNetworksException(ErrorIds.TooManyRouters, ErrorKind.LimitsExceeded, machine,
                $"The change would put {N(total)} routers on host '{machine}' ({N(existing)} existing + {N(created)} new), " +
                $"but its limit is {N(limit)} ({RoutersPerCore} per CPU core × {N(Math.Max(1, cores))} core(s); lab hosts share the " +
                "local machine's cores). Nothing was created or started.")
            {
                RecommendedAction = "Deploy fewer routers, remove routers you no longer need, or use -Force to go ahead anyway (with KVM routers cost much less CPU than under TCG, which the limit is sized for).",
            };
        }

        public static VirtualNetworksException Unreadable(string machine, string why, Exception? inner) =>
            new VirtualNetworksException(ErrorIds.InsufficientHostMemory, ErrorKind.ResourceUnavailable, machine,
                $"Cannot tell how much memory host '{machine}' has for routers: {MemInfoPath} could not be read ({why}). Nothing was created or started.", inner)
            {
                RecommendedAction = "Use -Force to skip the memory check.",
            };

        private static string N(long v) => v.ToString("#,0", CultureInfo.InvariantCulture);
    }
}
