using System;
using System.Collections.Generic;
using System.Threading;
using VirtualNetworks.Linux.Vm;

namespace VirtualNetworks.Linux
{
    /// <summary>
    /// Paced, supervised boots (<see cref="BootPolicy"/>): every start (<see cref="StartRouters"/>, <see cref="StartRouter"/>,
    /// the start of a cold move) launches its QEMU in a boot slot, at most <see cref="BootPolicy.Concurrency"/> at once, and
    /// holds the slot until the guest's console says ready, it dies or the bound passes. A guest that dies, panics or hangs
    /// is ended and launched again (same launch, same record), up to <see cref="BootPolicy.MaxRestarts"/> times, then
    /// reported (<see cref="ErrorIds.RouterBootFailed"/>, naming the router, with its console). The slots are host-wide
    /// (<see cref="BootSlots"/>: flocked slot files under /run/lock/virtualnetworks/boot), so commands of other processes
    /// and other state directories share the same limit.
    /// Crash safety is the start's: the record says Running (intent) before the first launch and stays so across restarts,
    /// so a command killed mid-boot leaves a router that either runs or shows Failed, and the next start recovers it.
    /// </summary>
    public sealed partial class LinuxBackend
    {
        /// <summary>The pacing and restart policy (a test sets a shorter bound).</summary>
        internal BootPolicy BootPolicy
        {
            get => _bootPolicy ??= BootPolicy.ForHost();
            set => _bootPolicy = value;
        }

        private BootPolicy? _bootPolicy;

        /// <summary>
        /// TEST SEAM, not a feature: the directory of the host-wide boot slots (<see cref="BootSlots"/>); null is
        /// <see cref="BootSlots.DefaultDirectory"/>. Nothing in the product sets it.
        /// </summary>
        internal string? BootSlotDirectory { get; set; }

        /// <summary>
        /// TEST SEAM, not a feature: given the router and the boot attempt (1-based), the guest kernel command line for that
        /// attempt, or null for the router's own. A test makes the first boot die this way and sees the restart. Nothing in the
        /// product sets it.
        /// </summary>
        internal Func<string, int, string?>? BootKernelCommandLineForTest { get; set; }

        /// <summary>
        /// Boots the prepared starts, at most <see cref="BootPolicy.Concurrency"/> at a time (one thread per slot, this one
        /// included). One entry per start, in order: null when the guest booted, else why not (naming the router).
        /// </summary>
        private IReadOnlyList<Exception?> BootPaced(IReadOnlyList<PreparedStart> starts, CancellationToken cancellationToken)
        {
            var errors = new Exception?[starts.Count];
            if (starts.Count == 0) return errors;
            _ = Vms; // made once, before the threads share it
            var policy = BootPolicy;
            // Host-wide: each boot also holds one of the host's slot files (flock), so commands of other processes and state
            // directories count against the same limit; a killed holder's slot is freed by the kernel.
            var hostSlots = new BootSlots(policy.Concurrency, BootSlotDirectory);
            var slotTimeout = ExclusiveTimeout();
            int next = -1;
            void Work()
            {
                int k;
                while ((k = Interlocked.Increment(ref next)) < starts.Count)
                {
                    try
                    {
                        if (cancellationToken.IsCancellationRequested) errors[k] = new OperationCanceledException(cancellationToken);
                        else
                            using (hostSlots.Acquire(slotTimeout, cancellationToken))
                                Boot(starts[k], policy, cancellationToken);
                    }
                    catch (Exception ex)
                    {
                        errors[k] = ex; // every exception: one escaping a thread would end the process
                    }
                }
            }
            int slots = Math.Min(policy.Concurrency, starts.Count);
            var workers = new List<Thread>();
            for (int t = 1; t < slots; t++)
            {
                var th = new Thread(Work) { IsBackground = true, Name = "vn-boot" };
                try
                {
                    th.Start();
                    workers.Add(th);
                }
                catch (OutOfMemoryException)
                {
                    break; // fewer slots: the others (and this thread) do the work
                }
            }
            Work();
            foreach (var th in workers) th.Join();
            return errors;
        }

        /// <summary>
        /// One router's boot in its slot: launch, record, watch; a failed boot is ended and launched again as the policy
        /// allows. A launch that QEMU refuses is not a boot failure: it is thrown at once, as before. Cancelled while
        /// the guest boots, the QEMU is left running (its record wants it running).
        /// </summary>
        private void Boot(PreparedStart p, BootPolicy policy, CancellationToken ct)
        {
            var name = p.Spec.Name;
            var paths = Launcher.PathsFor(p.Spec);
            string ownCommandLine = p.Spec.KernelCommandLine;
            var failures = new List<string>();
            for (int attempt = 1; ; attempt++)
            {
                p.Spec.KernelCommandLine = BootKernelCommandLineForTest?.Invoke(name, attempt) ?? ownCommandLine;
                Launcher.Launch(p.Spec, ct);
                FinishStart(p); // each launch: the record's start time, and pulled cables pulled on the fresh QEMU
                var watch = new BootWatch(paths);
                BootVerdict verdict;
                while ((verdict = watch.Poll(policy.BootTimeout)) == BootVerdict.Booting)
                    if (ct.WaitHandle.WaitOne(50)) ct.ThrowIfCancellationRequested();
                if (verdict == BootVerdict.Ready) return;
                string console = RouterProcess.ConsoleSummary(paths);
                failures.Add($"boot {attempt}: {policy.Describe(verdict)} after {watch.Elapsed.TotalSeconds:0.0} s");
                // A panicked or hung guest's QEMU still runs: end it (verified), so the next launch (or the report) finds it off.
                try { RouterProcess.Kill(paths, TimeSpan.FromSeconds(3), ct, untilReaped: false); }
                catch (VirtualNetworksException) { /* survived SIGKILL: the launch below refuses and says so */ }
                if (!policy.Restarts(attempt))
                    throw new VirtualNetworksException(ErrorIds.RouterBootFailed, ErrorKind.InvalidResult, name,
                        $"Router '{name}' failed to boot {attempt} times and was restarted {attempt - 1} times ({string.Join("; ", failures)}); " +
                        $"its QEMU is stopped. End of its console: {console}")
                    {
                        RecommendedAction = "Look at the end of its console above (a kernel panic, a missing init); on a busy host, start fewer routers " +
                                            "at once or free CPU, then Start-VirtualRouter -Name " + name + " -Wait.",
                    };
            }
        }
    }
}
