using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using VirtualNetworks.Backends;
using VirtualNetworks.Linux.Net;
using VirtualNetworks.Linux.State;

namespace VirtualNetworks.Linux
{
    /// <summary>
    /// Removal of many routers or links at once (<see cref="IRouterBatchRemover"/>, <see cref="ILinkBatchRemover"/>: the
    /// engine's runs of RemoveRouter and RemoveLink steps): one acquisition of the state lock, and the removals on up to
    /// <see cref="RemoveThreads"/> threads. Routers: one read of the link records, each router turned off and deleted on
    /// its own. Links: two links that share a router are never removed at the same time (unplugging an adapter holds the
    /// router's QMP session and rewrites its record), so a chain of N links takes about N / 2 link removals' time on
    /// enough threads. Every router or link succeeds or fails on its own.
    /// </summary>
    public sealed partial class LinuxBackend : IRouterBatchRemover, ILinkBatchRemover
    {
        /// <summary>
        /// Routers removed at the same time: min(8, 4 × CPU cores). Most of a removal is waiting (QMP quit, the QEMU
        /// process's exit, ip commands), not CPU, so more threads than cores pay off; 8 bounds the ip processes and QMP
        /// sessions in flight at once.
        /// </summary>
        /// <summary>How long a removed router's QEMU may take to exit after SIGTERM before it gets SIGKILL (as <see cref="Vm.VmManager.TurnOff"/>).</summary>
        private static readonly TimeSpan TurnOffGrace = TimeSpan.FromSeconds(5);

        /// <summary>QEMUs a batch removal ended that may not be reaped yet (PID 1 may reap seconds late): awaited at the end of <see cref="RemoveRouters"/>.</summary>
        private readonly List<(int Pid, long? Start)> _reapPending = new List<(int Pid, long? Start)>();

        internal static int RemoveThreads => Math.Max(1, Math.Min(8, 4 * Environment.ProcessorCount));

        public IReadOnlyList<Exception?> RemoveRouters(IReadOnlyList<string> names, CancellationToken cancellationToken)
        {
            if (names == null) throw new ArgumentNullException(nameof(names));
            var outcomes = new Exception?[names.Count];
            using var held = Store.Lock(null, cancellationToken);
            var links = Store.ListLinks();
            _ = Vms; // made once, before the threads share it
            var records = new RouterRecord?[names.Count];
            var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            for (int i = 0; i < names.Count; i++)
            {
                try
                {
                    // An interrupted move of the router is settled first (one at a time: it may rewire links).
                    records[i] = ReconcileMigration(RequireRouter(names[i]), cancellationToken, forStop: true);
                    if (!seen.Add(records[i]!.Name)) records[i] = null; // named twice: removed once, the second is done with it
                }
                catch (Exception ex) when (!(ex is OutOfMemoryException))
                {
                    outcomes[i] = ex;
                }
            }
            // Every QEMU ends at once first (the slowest exit, not the sum); a router that cannot be turned off here is
            // left to its own removal, which tries again and reports it.
            TurnOffBeforeRemoval(records.Where(r => r != null).Select(r => r!.Name).ToList(), cancellationToken);
            RunBounded(names.Count, i => records[i] == null ? null : new[] { records[i]!.Name },
                i => RemoveRouterLocked(records[i]!, links, cancellationToken), outcomes, cancellationToken);
            // The QEMUs ended by this batch and by the link removals before it are reaped by now (bounded): the pids are gone
            // when Remove-* returns. Their reaps overlapped the deletes of devices and records.
            List<(int Pid, long? Start)> reaps;
            lock (_reapPending)
            {
                reaps = _reapPending.ToList();
                _reapPending.Clear();
            }
            Vm.VmManager.AwaitReaps(reaps, cancellationToken);
            return outcomes;
        }

        public IReadOnlyList<Exception?> RemoveLinks(IReadOnlyList<string> names, IReadOnlyCollection<string> routersRemovedNext, CancellationToken cancellationToken)
        {
            if (names == null) throw new ArgumentNullException(nameof(names));
            var outcomes = new Exception?[names.Count];
            using var held = Store.Lock(null, cancellationToken);
            TurnOffBeforeRemoval(routersRemovedNext ?? Array.Empty<string>(), cancellationToken);
            var records = new LinkRecord?[names.Count];
            var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            for (int i = 0; i < names.Count; i++)
            {
                try
                {
                    records[i] = Store.ReadLink(names[i]) ?? throw NotFound(ErrorIds.LinkNotFound, "link", names[i]);
                    if (!seen.Add(records[i]!.Name)) records[i] = null;
                }
                catch (Exception ex) when (!(ex is OutOfMemoryException))
                {
                    outcomes[i] = ex;
                }
            }
            // One listing of each host's interfaces for the whole batch (under the state lock nothing of ours changes them
            // meanwhile): a link's removal is then its deletes only, O(1) ip processes per link.
            var hosts = new List<string>();
            for (int i = 0; i < records.Length; i++)
            {
                if (records[i] == null) continue;
                try { hosts.AddRange(PlacedHosts(records[i]!)); }
                catch (Exception ex) when (!(ex is OutOfMemoryException))
                {
                    outcomes[i] = ex;
                    records[i] = null;
                }
            }
            var listed = ListDevicesOf(hosts, cancellationToken);
            var removedNext = new HashSet<string>(routersRemovedNext ?? Array.Empty<string>(), StringComparer.OrdinalIgnoreCase);
            RunBounded(names.Count,
                i => records[i] == null ? null : records[i]!.Taps.Keys.Concat(new[] { records[i]!.From, records[i]!.To }).ToArray(),
                i => RemoveLinkLocked(records[i]!, cancellationToken, listed, removedNext), outcomes, cancellationToken);
            return outcomes;
        }

        /// <summary>
        /// Turns off (in parallel, bounded) the running routers among <paramref name="routers"/>, which the plan removes
        /// right after their links: a link removed from a router that is off unplugs nothing from its guest (under TCG each
        /// unplug waits for the guest's ACPI eject, most of a link's removal time). Intent first: each record says Off before
        /// its QEMU is ended, so a crash or a failed removal after this leaves routers that are off and say so, and the
        /// same Remove run again converges. A router that cannot be turned off here is left to its RemoveRouter step.
        /// </summary>
        private void TurnOffBeforeRemoval(IReadOnlyCollection<string> routers, CancellationToken cancellationToken)
        {
            var running = new List<RouterRecord>();
            foreach (var name in routers.Distinct(StringComparer.OrdinalIgnoreCase))
            {
                RouterRecord? rec;
                try { rec = Store.ReadRouter(name); }
                catch (VirtualNetworksException) { continue; } // unreadable: its own step reports it
                if (rec != null && Runs(rec)) running.Add(rec);
            }
            if (running.Count == 0) return;
            // Intent first (on several threads: each write is an fsync), then every QEMU at once.
            var ignored = new Exception?[running.Count];
            RunBounded(running.Count, i => new[] { running[i].Name }, i =>
            {
                var rec = running[i];
                rec.DesiredState = RouterState.Off;
                Store.WriteRouter(rec);
            }, ignored, cancellationToken);
            cancellationToken.ThrowIfCancellationRequested();
            var off = running.Where((r, i) => ignored[i] == null).Select(r => r.Name).ToList();
            // Failures are left to each router's own removal; the reaps are awaited at the end of RemoveRouters.
            Vms.TurnOffAll(off, TurnOffGrace, cancellationToken, _reapPending);
            cancellationToken.ThrowIfCancellationRequested();
        }

        /// <summary>
        /// Runs <paramref name="work"/> for every index whose <paramref name="routersOf"/> is not null, on up to
        /// <see cref="RemoveThreads"/> threads (this one included), never two at once that name a router in common. A
        /// failure is stored in <paramref name="outcomes"/>; an index not started because of cancellation gets an
        /// <see cref="OperationCanceledException"/>.
        /// </summary>
        private void RunBounded(int count, Func<int, string[]?> routersOf, Action<int> work, Exception?[] outcomes, CancellationToken cancellationToken)
        {
            _ = Vms; // made once, before the threads share it
            RunBounded(count, RemoveThreads, routersOf, work, outcomes, cancellationToken);
        }

        /// <summary><see cref="RunBounded(int, Func{int, string[]}, Action{int}, Exception[], CancellationToken)"/> on up to <paramref name="maxThreads"/> threads.</summary>
        internal static void RunBounded(int count, int maxThreads, Func<int, string[]?> routersOf, Action<int> work, Exception?[] outcomes, CancellationToken cancellationToken)
        {
            var pending = new List<(int Index, string[] Routers)>();
            for (int i = 0; i < count; i++)
            {
                var routers = routersOf(i);
                if (routers != null) pending.Add((i, routers));
            }
            var gate = new object();
            var busy = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            void Work()
            {
                while (true)
                {
                    (int Index, string[] Routers) item;
                    lock (gate)
                    {
                        while (true)
                        {
                            if (pending.Count == 0) return;
                            int k = pending.FindIndex(p => !p.Routers.Any(busy.Contains));
                            if (k >= 0)
                            {
                                item = pending[k];
                                pending.RemoveAt(k);
                                foreach (var r in item.Routers) busy.Add(r);
                                break;
                            }
                            Monitor.Wait(gate); // every pending one shares a router with work in progress
                        }
                    }
                    try
                    {
                        if (cancellationToken.IsCancellationRequested) outcomes[item.Index] = new OperationCanceledException(cancellationToken);
                        else work(item.Index);
                    }
                    catch (Exception ex)
                    {
                        outcomes[item.Index] = ex; // every exception: one escaping a thread would end the process
                    }
                    finally
                    {
                        lock (gate)
                        {
                            foreach (var r in item.Routers) busy.Remove(r);
                            Monitor.PulseAll(gate);
                        }
                    }
                }
            }
            int threads = Math.Min(Math.Max(1, maxThreads), pending.Count);
            var workers = new List<Thread>();
            for (int t = 1; t < threads; t++)
            {
                var th = new Thread(Work) { IsBackground = true, Name = "vn-remove" };
                try
                {
                    th.Start();
                    workers.Add(th);
                }
                catch (OutOfMemoryException)
                {
                    break; // no more threads to be had: the others (and this one) do the work
                }
            }
            Work(); // this thread takes part too
            foreach (var th in workers) th.Join();
        }
    }
}
