using System;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using VirtualNetworks.Linux.State;

namespace VirtualNetworks.Linux.Vm
{
    /// <summary>What one look at a booting guest found (<see cref="BootPolicy.Judge"/>).</summary>
    public enum BootVerdict
    {
        /// <summary>Still booting: QEMU runs, no ready line yet, within the bound.</summary>
        Booting = 0,
        /// <summary>The console has the guest's "VN-READY &lt;name&gt;" line.</summary>
        Ready,
        /// <summary>QEMU exited before the guest was ready (with panic=-1 and -no-reboot a kernel panic ends it too).</summary>
        Died,
        /// <summary>The console shows "Kernel panic" (QEMU may still run, e.g. with panic=0).</summary>
        Panicked,
        /// <summary>QEMU runs but the guest printed no ready line within <see cref="BootPolicy.BootTimeout"/>.</summary>
        Hung,
    }

    /// <summary>
    /// How router boots are paced and supervised (docs/ARCHITECTURE.md, "Boots that survive load"): at most
    /// <see cref="Concurrency"/> guests boot at once, a guest counting as booting until its console says ready, it dies or
    /// <see cref="BootTimeout"/> passes; a guest that dies, panics or hangs while booting is started again up to
    /// <see cref="MaxRestarts"/> times, then reported. Pure policy: the decisions are unit-tested without QEMU.
    /// </summary>
    public sealed class BootPolicy
    {
        /// <summary>Upper bound of <see cref="Concurrency"/> whatever the core count.</summary>
        public const int MaxConcurrency = 32;
        /// <summary>Restarts of a guest that fails to boot before it is reported (3 boots in all).</summary>
        public const int DefaultMaxRestarts = 2;
        /// <summary>
        /// How long a guest may take from QEMU's start to its ready line before it counts as hung. A boot of the project's
        /// image takes 1.1-1.6 s of CPU under TCG (images/router/kernel/README.md); with 2 boots per core at once and a host
        /// busy with other work, 60 s is a wide margin that still bounds a hung guest's cost.
        /// </summary>
        public static readonly TimeSpan DefaultBootTimeout = TimeSpan.FromSeconds(60);

        public BootPolicy(int concurrency, TimeSpan bootTimeout, int maxRestarts)
        {
            if (concurrency < 1 || concurrency > MaxConcurrency) throw new ArgumentOutOfRangeException(nameof(concurrency));
            if (bootTimeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(bootTimeout));
            if (maxRestarts < 0 || maxRestarts > 10) throw new ArgumentOutOfRangeException(nameof(maxRestarts));
            Concurrency = concurrency;
            BootTimeout = bootTimeout;
            MaxRestarts = maxRestarts;
        }

        /// <summary>Guests booting at once.</summary>
        public int Concurrency { get; }
        /// <summary>From QEMU's start to the ready line, at most; then the guest counts as hung.</summary>
        public TimeSpan BootTimeout { get; }
        /// <summary>How many times a guest that failed to boot is started again.</summary>
        public int MaxRestarts { get; }

        /// <summary>Environment variable: how many guests boot at once (1-32), instead of <see cref="ConcurrencyFor"/> the host's cores.</summary>
        public const string ConcurrencyVariable = "VIRTUALNETWORKS_BOOT_CONCURRENCY";

        /// <summary>
        /// The policy for this host: <see cref="ConcurrencyFor"/> its cores (or <see cref="ConcurrencyVariable"/>), the
        /// default bound and restarts. Throws (InvalidArgument) when the variable is set but not a number from 1 to 32.
        /// </summary>
        public static BootPolicy ForHost() =>
            new BootPolicy(ConcurrencyFromEnvironment(Environment.GetEnvironmentVariable(ConcurrencyVariable)) ?? ConcurrencyFor(Environment.ProcessorCount),
                DefaultBootTimeout, DefaultMaxRestarts);

        /// <summary>The value of <see cref="ConcurrencyVariable"/>: null when unset or blank, else a whole number from 1 to <see cref="MaxConcurrency"/>.</summary>
        public static int? ConcurrencyFromEnvironment(string? text)
        {
            if (string.IsNullOrWhiteSpace(text)) return null;
            if (int.TryParse(text!.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n >= 1 && n <= MaxConcurrency) return n;
            throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.InvalidArgument, ConcurrencyVariable,
                $"The environment variable {ConcurrencyVariable} must be a whole number from 1 to {MaxConcurrency} (guests booting at once); it is '{text}'.");
        }

        /// <summary>
        /// Guests booting at once on a host with <paramref name="cores"/> cores: two per core (at least 2, at most
        /// <see cref="MaxConcurrency"/>). A TCG boot is CPU-bound (its wall time alone equals its CPU time, 1.15 s), so
        /// more boots at once than cores do not finish sooner in total; they only stretch each boot, which is what starves a
        /// guest's timer check into a panic. Two per core keeps every core busy across each boot's idle moments (QEMU's
        /// set-up, the launch itself) without that stretching.
        /// </summary>
        public static int ConcurrencyFor(int cores) => Math.Max(2, Math.Min(MaxConcurrency, 2 * Math.Max(1, cores)));

        /// <summary>
        /// The verdict on a guest from what its console and process show: a ready line wins (the guest booted, whatever
        /// came after), then a kernel panic, then QEMU's exit, then the bound.
        /// </summary>
        public static BootVerdict Judge(bool sawReady, bool sawPanic, bool processRunning, TimeSpan elapsed, TimeSpan bound)
        {
            if (sawReady) return BootVerdict.Ready;
            if (sawPanic) return BootVerdict.Panicked;
            if (!processRunning) return BootVerdict.Died;
            if (elapsed >= bound) return BootVerdict.Hung;
            return BootVerdict.Booting;
        }

        /// <summary>True when a guest whose boot failed <paramref name="failedBoots"/> times (1-based) is started again.</summary>
        public bool Restarts(int failedBoots) => failedBoots >= 1 && failedBoots <= MaxRestarts;

        /// <summary>The verdict in words, for messages.</summary>
        public string Describe(BootVerdict verdict)
        {
            switch (verdict)
            {
                case BootVerdict.Died: return "QEMU exited before the guest was ready";
                case BootVerdict.Panicked: return "the guest kernel panicked";
                case BootVerdict.Hung: return "no ready line within " + BootTimeout.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture) + " s";
                case BootVerdict.Ready: return "ready";
                default: return "booting";
            }
        }
    }

    /// <summary>
    /// Watches one boot of a router: reads its console log as it grows (new bytes only) for the ready line and for a
    /// kernel panic, and looks at its QEMU process every few polls. One instance per boot attempt (QEMU truncates the log).
    /// </summary>
    internal sealed class BootWatch
    {
        private readonly RouterRunPaths _paths;
        private readonly string _marker;
        private readonly StringBuilder _partial = new StringBuilder();
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private long _offset;
        private int _polls;
        private bool _ready;
        private bool _panic;

        public BootWatch(RouterRunPaths paths)
        {
            _paths = paths ?? throw new ArgumentNullException(nameof(paths));
            _marker = RouterProcess.ReadyMarker + " " + paths.RouterName;
        }

        public TimeSpan Elapsed => _clock.Elapsed;

        /// <summary>One look: new console lines, and every 4th poll (and at the bound) the process.</summary>
        public BootVerdict Poll(TimeSpan bound)
        {
            ReadConsole();
            bool running = true;
            bool atBound = _clock.Elapsed >= bound;
            if (!_ready && !_panic && (++_polls % 4 == 0 || atBound))
            {
                running = RouterProcess.Inspect(_paths).State == VmProcessState.Running;
                if (!running) ReadConsole(); // the last lines may have been written just before the exit
            }
            return BootPolicy.Judge(_ready, _panic, running, _clock.Elapsed, bound);
        }

        private void ReadConsole()
        {
            foreach (var line in RouterProcess.ReadNewLines(_paths.ConsoleLog, ref _offset, _partial))
            {
                if (line.StartsWith(_marker, StringComparison.Ordinal) &&
                    (line.Length == _marker.Length || char.IsWhiteSpace(line[_marker.Length]))) _ready = true;
                else if (line.IndexOf("Kernel panic", StringComparison.Ordinal) >= 0) _panic = true;
            }
        }
    }
}
