using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using VirtualNetworks.Backends;

namespace VirtualNetworks.Engine
{
    /// <summary>The outcome of a readiness wait for one router: the router (with its guest's uptime) or the error.</summary>
    public sealed class ReadinessOutcome
    {
        public ReadinessOutcome(string name, VirtualRouter? router, VirtualNetworksException? error)
        {
            Name = name;
            Router = router;
            Error = error;
        }

        /// <summary>The router's name as asked for (its observed spelling when it was found).</summary>
        public string Name { get; }
        /// <summary>The router as observed after the wait, with <see cref="VirtualRouter.GuestUptime"/>; null when <see cref="Error"/> is set.</summary>
        public VirtualRouter? Router { get; }
        /// <summary>Why the router is not ready: RouterNotFound, RouterNotRunning, RouterNotReady, or the backend's error.</summary>
        public VirtualNetworksException? Error { get; }
        public bool Ready => Error == null;
    }

    public sealed partial class VirtualNetworkService
    {
        /// <summary>Routers waited for at the same time; most of a wait is waiting for the guest, not work here.</summary>
        public const int ReadyWaitThreads = 8;

        /// <summary>True when the backend can tell when a router's guest is ready (<see cref="IRouterReadiness"/>).</summary>
        public bool SupportsReadiness => Backend is IRouterReadiness;

        /// <summary>
        /// Waits until the guests of <paramref name="names"/> are ready (booted, configuration applied), all at once on up to
        /// <see cref="ReadyWaitThreads"/> threads, within one overall <paramref name="timeout"/>. One outcome per distinct name,
        /// in the order given: a router that does not exist is RouterNotFound, one that does not run (off, failed, paused) is
        /// RouterNotRunning at once (nothing to wait for), one whose guest is not ready in time is RouterNotReady naming what
        /// was seen last. <paramref name="progress"/> is reported on the calling thread only. Throws OperationNotSupported
        /// when the backend cannot tell readiness, and OperationCanceledException when cancelled.
        /// </summary>
        public IReadOnlyList<ReadinessOutcome> WaitUntilReady(IReadOnlyList<string> names, TimeSpan timeout, IProgress<string>? progress, CancellationToken cancellationToken)
        {
            if (names == null) throw new ArgumentNullException(nameof(names));
            if (timeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(timeout), "The timeout must be positive.");
            if (!(Backend is IRouterReadiness readiness))
                throw new VirtualNetworksException(ErrorIds.OperationNotSupported, ErrorKind.NotImplemented, Backend.Kind,
                    $"The {Backend.Kind} backend cannot tell when a router's guest is ready, so it cannot wait for it.")
                { RecommendedAction = "Check the routers with Test-VirtualNetwork instead." };
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var snapshot = Observe(cancellationToken);
            var distinct = names.Where(n => !string.IsNullOrEmpty(n)).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
            var errors = new VirtualNetworksException?[distinct.Count];
            var uptimes = new TimeSpan?[distinct.Count];
            var resolved = new string[distinct.Count];
            var pending = new List<int>();
            for (int i = 0; i < distinct.Count; i++)
            {
                resolved[i] = distinct[i];
                var router = snapshot.FindRouter(distinct[i]);
                if (router == null)
                {
                    errors[i] = new VirtualNetworksException(ErrorIds.RouterNotFound, ErrorKind.ObjectNotFound, distinct[i],
                        $"No virtual router named '{distinct[i]}' was found.");
                    continue;
                }
                resolved[i] = router.Name;
                if (router.State != RouterState.Running && router.State != RouterState.Starting)
                {
                    errors[i] = NotRunning(router);
                    continue;
                }
                pending.Add(i);
            }

            if (pending.Count > 0)
            {
                int done = 0;
                int next = -1;
                var finished = new bool[distinct.Count];
                Exception? unexpected = null;
                using (var changed = new SemaphoreSlim(0))
                {
                    void Work()
                    {
                        int k;
                        while ((k = Interlocked.Increment(ref next)) < pending.Count)
                        {
                            int i = pending[k];
                            try
                            {
                                var left = timeout - clock.Elapsed;
                                if (cancellationToken.IsCancellationRequested) throw new OperationCanceledException(cancellationToken);
                                if (left <= TimeSpan.Zero)
                                {
                                    errors[i] = NotReady(resolved[i], timeout, "the time was up before its turn came");
                                }
                                else
                                {
                                    var seen = readiness.WaitUntilReady(resolved[i], left, cancellationToken);
                                    if (seen.Ready) uptimes[i] = seen.Uptime;
                                    else errors[i] = NotReady(resolved[i], timeout, seen.LastSeen);
                                }
                            }
                            catch (VirtualNetworksException ex)
                            {
                                errors[i] = ex;
                            }
                            catch (Exception ex)
                            {
                                // Cancellation and faults that are not the backend's expected ones end the whole wait (rethrown below);
                                // one escaping a thread would end the process.
                                Interlocked.CompareExchange(ref unexpected, ex, null);
                            }
                            finally
                            {
                                Volatile.Write(ref finished[i], true);
                                Interlocked.Increment(ref done);
                                changed.Release();
                            }
                        }
                    }

                    int threads = Math.Min(ReadyWaitThreads, pending.Count);
                    var workers = new List<Thread>();
                    for (int t = 0; t < threads; t++)
                    {
                        var th = new Thread(Work) { IsBackground = true, Name = "vn-ready" };
                        th.Start();
                        workers.Add(th);
                    }
                    // The calling thread reports progress (a cmdlet writes it on the pipeline thread) until every wait is done.
                    int reported = -1;
                    while (Volatile.Read(ref done) < pending.Count)
                    {
                        int now = Volatile.Read(ref done);
                        if (now != reported && progress != null)
                        {
                            reported = now;
                            var waiting = pending.Where(i => !Volatile.Read(ref finished[i])).Select(i => resolved[i]).ToList();
                            progress.Report(string.Format(CultureInfo.InvariantCulture, "{0} of {1} router(s) done; waiting for {2}",
                                now, pending.Count, string.Join(", ", waiting.Take(8)) + (waiting.Count > 8 ? ", ..." : "")));
                        }
                        changed.Wait(TimeSpan.FromMilliseconds(500));
                    }
                    foreach (var th in workers) th.Join();
                }
                if (unexpected != null)
                {
                    if (unexpected is OperationCanceledException) throw new OperationCanceledException("The wait for the routers was cancelled.", unexpected, cancellationToken);
                    System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(unexpected).Throw();
                }
            }

            // The routers as they are now, with what the wait learnt of their guests.
            Snapshot? after = null;
            var outcomes = new List<ReadinessOutcome>(distinct.Count);
            for (int i = 0; i < distinct.Count; i++)
            {
                if (errors[i] != null)
                {
                    outcomes.Add(new ReadinessOutcome(resolved[i], null, errors[i]));
                    continue;
                }
                after ??= Observe(cancellationToken);
                var router = after.FindRouter(resolved[i]);
                if (router == null)
                {
                    outcomes.Add(new ReadinessOutcome(resolved[i], null, new VirtualNetworksException(ErrorIds.RouterNotFound, ErrorKind.ObjectNotFound,
                        resolved[i], $"Virtual router '{resolved[i]}' was removed while it was waited for.")));
                    continue;
                }
                var copy = router.Clone();
                copy.GuestUptime = uptimes[i];
                outcomes.Add(new ReadinessOutcome(router.Name, copy, null));
            }
            return outcomes;
        }

        private static VirtualNetworksException NotRunning(VirtualRouter router)
        {
            string state = router.State.ToString().ToLowerInvariant();
            string hint = router.State == RouterState.Paused
                ? "resume it first (Resume-VirtualRouter)"
                : "start it first (Start-VirtualRouter)";
            return new VirtualNetworksException(ErrorIds.RouterNotRunning, ErrorKind.InvalidOperation, router.Name,
                $"Virtual router '{router.Name}' is {state}, not running: there is nothing to wait for; {hint}.")
            { RecommendedAction = router.State == RouterState.Paused ? "Resume-VirtualRouter -Name " + router.Name + " -Wait" : "Start-VirtualRouter -Name " + router.Name + " -Wait" };
        }

        private static VirtualNetworksException NotReady(string name, TimeSpan timeout, string? lastSeen) =>
            new VirtualNetworksException(ErrorIds.RouterNotReady, ErrorKind.OperationTimeout, name,
                string.Format(CultureInfo.InvariantCulture, "Virtual router '{0}' was not ready within {1:0.#} s. Last seen: {2}", name, timeout.TotalSeconds,
                    string.IsNullOrEmpty(lastSeen) ? "nothing (no answer from its guest)." : lastSeen!.TrimEnd() + (lastSeen!.TrimEnd().EndsWith(".", StringComparison.Ordinal) ? "" : ".")))
            { RecommendedAction = "Give it more time (-TimeoutSec), or look at its console and state (Get-VirtualRouter, Test-VirtualNetwork)." };
    }
}
