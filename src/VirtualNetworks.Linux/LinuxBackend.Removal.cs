using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using VirtualNetworks.Backends;
using VirtualNetworks.Linux.State;

namespace VirtualNetworks.Linux
{
    /// <summary>
    /// Removal of many routers at once (<see cref="IRouterBatchRemover"/>, the engine's run of RemoveRouter steps): one
    /// acquisition of the state lock, one read of the link records, and each router's removal (turn off, delete taps, run
    /// files, overlay, record) on up to <see cref="RemoveThreads"/> threads. Every router succeeds or fails on its own.
    /// </summary>
    public sealed partial class LinuxBackend : IRouterBatchRemover
    {
        /// <summary>
        /// Routers removed at the same time: min(8, 4 × CPU cores). Most of a removal is waiting (QMP quit, the QEMU
        /// process's exit, ip commands), not CPU, so more threads than cores pay off; 8 bounds the ip processes and QMP
        /// sessions in flight at once.
        /// </summary>
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
                    records[i] = RequireRouter(names[i]);
                    if (!seen.Add(records[i]!.Name)) records[i] = null; // named twice: removed once, the second is done with it
                }
                catch (Exception ex) when (!(ex is OutOfMemoryException))
                {
                    outcomes[i] = ex;
                }
            }
            int next = -1;
            void Work()
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < names.Count)
                {
                    var rec = records[i];
                    if (rec == null) continue;
                    if (cancellationToken.IsCancellationRequested)
                    {
                        outcomes[i] = new OperationCanceledException(cancellationToken);
                        continue;
                    }
                    try
                    {
                        RemoveRouterLocked(rec, links, cancellationToken);
                    }
                    catch (Exception ex)
                    {
                        outcomes[i] = ex; // every exception: one escaping a thread would end the process
                    }
                }
            }
            int threads = Math.Min(RemoveThreads, records.Count(r => r != null));
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
            return outcomes;
        }
    }
}
