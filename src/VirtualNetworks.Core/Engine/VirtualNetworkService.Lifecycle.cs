using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using VirtualNetworks.Backends;
using VirtualNetworks.Planning;

namespace VirtualNetworks.Engine
{
    /// <summary>What a lifecycle change (start, stop, suspend, resume) of one router of a batch came to.</summary>
    public sealed class RouterChangeOutcome
    {
        public RouterChangeOutcome(string name, VirtualRouter? router, VirtualNetworksException? error)
        {
            Name = name;
            Router = router;
            Error = error;
        }

        /// <summary>The router's name as asked for (its observed spelling when it was found).</summary>
        public string Name { get; }
        /// <summary>The router as observed after the change; null when <see cref="Error"/> is set.</summary>
        public VirtualRouter? Router { get; }
        /// <summary>Why the router was not changed: RouterNotFound, the admission check's refusal, or the backend's error (naming the router).</summary>
        public VirtualNetworksException? Error { get; }
        public bool Succeeded => Error == null;
    }

    public sealed partial class VirtualNetworkService
    {
        // A lifecycle change of N routers costs O(N) host work: one exclusive scope, one observation before (every name
        // looked up), one backend call per router (or one batch call, IRouterBatchStarter), one observation after. The
        // single-router methods are batches of one. Start-, Stop-, Suspend- and Resume-VirtualRouter gather their pipeline
        // and make one of these calls, so `Get-VirtualRouter | Stop-VirtualRouter` observes the host a fixed number of
        // times, not two or three times per router.

        /// <summary>Starts a router (see <see cref="StartRouters"/>); returns it as observed afterwards.</summary>
        public VirtualRouter StartRouter(string name, CancellationToken cancellationToken) =>
            StartRouter(name, force: false, cancellationToken);

        /// <summary>
        /// Starts a router. One that is off or failed (its QEMU or VM does not run) passes the backend's admission check
        /// first (<see cref="IAdmissionControl"/>: does the host have the memory), unless <paramref name="force"/>.
        /// </summary>
        public VirtualRouter StartRouter(string name, bool force, CancellationToken cancellationToken) =>
            Single(StartRouters(new[] { name }, force, cancellationToken));

        public VirtualRouter StopRouter(string name, bool turnOff, CancellationToken cancellationToken) =>
            Single(StopRouters(new[] { name }, turnOff, cancellationToken));

        public VirtualRouter SuspendRouter(string name, CancellationToken cancellationToken) =>
            Single(SuspendRouters(new[] { name }, cancellationToken));

        public VirtualRouter ResumeRouter(string name, CancellationToken cancellationToken) =>
            Single(ResumeRouters(new[] { name }, cancellationToken));

        private static VirtualRouter Single(IReadOnlyList<RouterChangeOutcome> outcomes)
        {
            var o = outcomes[0];
            if (o.Error != null) throw o.Error;
            return o.Router!;
        }

        /// <summary>
        /// Starts <paramref name="names"/> under one exclusive scope. Routers that are off or failed pass the backend's
        /// admission check first, unless <paramref name="force"/>: all of them in one check, and when that refuses, one
        /// router after the other in order (each refused router gets the refusal, as if they had been started one by
        /// one). A backend with <see cref="IRouterBatchStarter"/> starts the admitted routers in one call (their boots
        /// overlap, its link and device reads are shared); any other gets one <see cref="IVirtualizationBackend.StartRouter"/>
        /// per router. Returns one outcome per name, in order; one router's failure does not stop the others.
        /// </summary>
        public IReadOnlyList<RouterChangeOutcome> StartRouters(IReadOnlyList<string> names, bool force, CancellationToken cancellationToken) =>
            ChangeRouters(names, cancellationToken, (found, errors) =>
            {
                var admitted = found;
                if (!force) admitted = AdmitEach(found, errors, cancellationToken);
                foreach (var (_, router) in admitted)
                {
                    Note($"Starting virtual router '{router.Name}' on {DisplayHost(router.ComputerName)} (state {router.State})");
                    NoteImage(router.Name, router.Image, router.ComputerName);
                }
                if (admitted.Count == 0) return;
                if (Backend is IRouterBatchStarter starter)
                {
                    RunBatch(admitted, errors, () => starter.StartRouters(admitted.Select(a => a.Router.Name).ToList(), cancellationToken));
                    return;
                }
                foreach (var (index, router) in admitted)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    errors[index] = Try(() => Backend.StartRouter(router.Name, cancellationToken));
                }
            });

        /// <summary>Graceful shutdowns (or hard power-offs with <paramref name="turnOff"/>) of <paramref name="names"/>, as <see cref="StartRouters"/> (one backend call per router).</summary>
        /// <remarks>A backend with <see cref="IRouterBatchStopper"/> stops them in one call (their shutdowns overlap).</remarks>
        public IReadOnlyList<RouterChangeOutcome> StopRouters(IReadOnlyList<string> names, bool turnOff, CancellationToken cancellationToken)
        {
            string verb = turnOff ? "Turning off" : "Shutting down";
            if (!(Backend is IRouterBatchStopper stopper))
                return EachRouter(names, verb, cancellationToken, (b, n, ct) => b.StopRouter(n, turnOff, ct));
            return ChangeRouters(names, cancellationToken, (found, errors) =>
            {
                if (found.Count == 0) return;
                foreach (var (_, router) in found)
                    Note($"{verb} virtual router '{router.Name}' on {DisplayHost(router.ComputerName)} (state {router.State})");
                RunBatch(found, errors, () => stopper.StopRouters(found.Select(f => f.Router.Name).ToList(), turnOff, cancellationToken));
            });
        }

        /// <summary>
        /// Runs a backend's batch call over <paramref name="batch"/> and records each router's failure by index. A
        /// <see cref="VirtualNetworksException"/> thrown by the call itself (nothing was done) is every router's failure;
        /// an entry that is not one (cancellation, a bug) is rethrown.
        /// </summary>
        private static void RunBatch(List<(int Index, VirtualRouter Router)> batch, VirtualNetworksException?[] errors, Func<IReadOnlyList<Exception?>> call) =>
            RunBatch(batch.Count, (k, ex) => errors[batch[k].Index] = ex, call);

        /// <summary>
        /// <see cref="RunBatch(List{ValueTuple{int, VirtualRouter}}, VirtualNetworksException[], Func{IReadOnlyList{Exception}})"/>
        /// over <paramref name="count"/> items: <paramref name="failed"/> records item k's failure.
        /// </summary>
        private static void RunBatch(int count, Action<int, VirtualNetworksException> failed, Func<IReadOnlyList<Exception?>> call)
        {
            IReadOnlyList<Exception?> results;
            try
            {
                results = call();
            }
            catch (VirtualNetworksException ex)
            {
                for (int k = 0; k < count; k++) failed(k, ex);
                return;
            }
            if (results == null || results.Count != count)
                throw new InvalidOperationException($"The backend returned {results?.Count ?? 0} outcome(s) for {count} item(s).");
            for (int k = 0; k < count; k++)
            {
                if (results[k] == null) continue;
                if (results[k] is VirtualNetworksException vne) failed(k, vne);
                else System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(results[k]!).Throw();
            }
        }

        /// <summary>Pauses <paramref name="names"/>, as <see cref="StopRouters"/>.</summary>
        public IReadOnlyList<RouterChangeOutcome> SuspendRouters(IReadOnlyList<string> names, CancellationToken cancellationToken) =>
            EachRouter(names, "Suspending", cancellationToken, (b, n, ct) => b.SuspendRouter(n, ct));

        /// <summary>Resumes <paramref name="names"/>, as <see cref="StopRouters"/>.</summary>
        public IReadOnlyList<RouterChangeOutcome> ResumeRouters(IReadOnlyList<string> names, CancellationToken cancellationToken) =>
            EachRouter(names, "Resuming", cancellationToken, (b, n, ct) => b.ResumeRouter(n, ct));

        private IReadOnlyList<RouterChangeOutcome> EachRouter(IReadOnlyList<string> names, string verb, CancellationToken cancellationToken,
            Action<IVirtualizationBackend, string, CancellationToken> action) =>
            ChangeRouters(names, cancellationToken, (found, errors) =>
            {
                foreach (var (index, router) in found)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    Note($"{verb} virtual router '{router.Name}' on {DisplayHost(router.ComputerName)} (state {router.State})");
                    errors[index] = Try(() => action(Backend, router.Name, cancellationToken));
                }
            });

        /// <summary>Runs one router's backend call: null when it succeeded, else its error. Cancellation and unexpected exceptions propagate.</summary>
        private static VirtualNetworksException? Try(Action work)
        {
            try
            {
                work();
                return null;
            }
            catch (VirtualNetworksException ex)
            {
                return ex;
            }
        }

        /// <summary>
        /// The frame of a lifecycle batch: one exclusive scope, one observation to look every name up (a name not found is
        /// its RouterNotFound; a name given twice is changed once), <paramref name="change"/> on the routers found (it
        /// records each router's failure in the array, by index), one observation after to return them.
        /// </summary>
        private IReadOnlyList<RouterChangeOutcome> ChangeRouters(IReadOnlyList<string> names, CancellationToken cancellationToken,
            Action<List<(int Index, VirtualRouter Router)>, VirtualNetworksException?[]> change)
        {
            if (names == null) throw new ArgumentNullException(nameof(names));
            var errors = new VirtualNetworksException?[names.Count];
            var resolved = new VirtualRouter?[names.Count];
            if (names.Count == 0) return Array.Empty<RouterChangeOutcome>();
            using var exclusive = Exclusive(cancellationToken);
            var before = Observe(cancellationToken);
            var found = LookUp(names, before, resolved, errors, out var first);
            change(found, errors);
            var after = Observe(cancellationToken);
            var outcomes = new RouterChangeOutcome[names.Count];
            for (int i = 0; i < names.Count; i++)
            {
                var router = resolved[i];
                // A duplicate shares the outcome of the router's first mention.
                var error = router != null && first.TryGetValue(router.Name, out var j) ? errors[j] : errors[i];
                if (router == null || error != null)
                {
                    outcomes[i] = new RouterChangeOutcome(router?.Name ?? names[i], null, error);
                    continue;
                }
                var now = after.FindRouter(router.Name);
                outcomes[i] = now != null
                    ? new RouterChangeOutcome(now.Name, now, null)
                    : new RouterChangeOutcome(router.Name, null, new VirtualNetworksException(ErrorIds.RouterNotFound, ErrorKind.ObjectNotFound, router.Name,
                        $"No virtual router named '{router.Name}' was found after the change (removed meanwhile?)."));
            }
            return outcomes;
        }

        /// <summary>
        /// Looks every name up in <paramref name="snapshot"/>: a name not found gets its RouterNotFound in
        /// <paramref name="errors"/>; the routers found are returned in order, each once (<paramref name="first"/>: the index
        /// of each router's first mention; a later mention shares its outcome).
        /// </summary>
        private List<(int Index, VirtualRouter Router)> LookUp(IReadOnlyList<string> names, Snapshot snapshot, VirtualRouter?[] resolved,
            VirtualNetworksException?[] errors, out Dictionary<string, int> first)
        {
            var found = new List<(int Index, VirtualRouter Router)>();
            first = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
            for (int i = 0; i < names.Count; i++)
            {
                try
                {
                    resolved[i] = RequireRouter(snapshot, names[i]);
                }
                catch (VirtualNetworksException ex)
                {
                    errors[i] = ex;
                    continue;
                }
                if (first.ContainsKey(resolved[i]!.Name)) continue;
                first[resolved[i]!.Name] = i;
                found.Add((i, resolved[i]!));
            }
            return found;
        }

        /// <summary>
        /// Removes <paramref name="names"/> and the links attached to them, then updates the remaining routers' addresses
        /// and routes, under one exclusive scope: one observation to look every name up (a name not found is its
        /// RouterNotFound; a name given twice is removed once), the links of all of them (each once, also a link between
        /// two of them), then the routers, then one observation and one reconfiguration, so a router that loses several
        /// neighbours is reconfigured once. A backend with <see cref="ILinkBatchRemover"/> and <see cref="IRouterBatchRemover"/>
        /// removes the links and the routers in one call each (as a Remove-VirtualNetwork plan: the routers are turned off,
        /// their records saying so first, before their links go, so no adapter is unplugged from a guest about to go); any
        /// other gets one <see cref="IVirtualizationBackend.RemoveLink"/> per link and one
        /// <see cref="IVirtualizationBackend.RemoveRouter"/> per router. Returns one outcome per name, in order, with the
        /// router as it was before the removal; a router one of whose links could not be removed is not removed (its
        /// outcome is that link's error); one router's failure does not stop the others. A failure of the final
        /// reconfiguration is thrown (the routers are removed by then).
        /// </summary>
        public IReadOnlyList<RouterChangeOutcome> RemoveRouters(IReadOnlyList<string> names, CancellationToken cancellationToken)
        {
            if (names == null) throw new ArgumentNullException(nameof(names));
            if (names.Count == 0) return Array.Empty<RouterChangeOutcome>();
            var errors = new VirtualNetworksException?[names.Count];
            var resolved = new VirtualRouter?[names.Count];
            using var exclusive = Exclusive(cancellationToken);
            var before = Observe(cancellationToken);
            var found = LookUp(names, before, resolved, errors, out var first);
            if (found.Count > 0)
            {
                // The links of every router removed, each once (one pass over the observed links, not one per router).
                var removedAt = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
                foreach (var (i, router) in found) removedAt[router.Name] = i;
                var links = new List<(string Link, List<int> Owners)>();
                foreach (var link in before.Links)
                {
                    var owners = new List<int>();
                    if (removedAt.TryGetValue(link.From, out var from)) owners.Add(from);
                    if (removedAt.TryGetValue(link.To, out var to) && !owners.Contains(to)) owners.Add(to);
                    if (owners.Count == 0) continue;
                    links.Add((link.Name, owners));
                    Note($"Removing virtual link '{link.Name}' (attached to router '{(removedAt.ContainsKey(link.From) ? link.From : link.To)}')");
                }
                var going = found.Select(f => f.Router.Name).ToList();
                var linkErrors = new VirtualNetworksException?[links.Count];
                if (links.Count > 0)
                {
                    var linkBatch = links.Select((l, k) => (Index: k, Name: l.Link)).ToList();
                    if (Backend is ILinkBatchRemover linkRemover)
                        RunBatch(linkBatch.Count, (k, ex) => linkErrors[k] = ex,
                            () => linkRemover.RemoveLinks(linkBatch.Select(l => l.Name).ToList(), going, cancellationToken));
                    else
                        foreach (var (k, link) in linkBatch)
                        {
                            cancellationToken.ThrowIfCancellationRequested();
                            linkErrors[k] = Try(() => Backend.RemoveLink(link, cancellationToken));
                        }
                }
                for (int k = 0; k < links.Count; k++)
                    if (linkErrors[k] != null)
                        foreach (var owner in links[k].Owners)
                            errors[owner] ??= linkErrors[k];
                var removable = found.Where(f => errors[f.Index] == null).ToList();
                foreach (var (_, router) in removable)
                    Note($"Removing virtual router '{router.Name}' from {DisplayHost(router.ComputerName)}");
                if (removable.Count > 0)
                {
                    if (Backend is IRouterBatchRemover remover)
                        RunBatch(removable, errors, () => remover.RemoveRouters(removable.Select(r => r.Router.Name).ToList(), cancellationToken));
                    else
                        foreach (var (index, router) in removable)
                        {
                            cancellationToken.ThrowIfCancellationRequested();
                            errors[index] = Try(() => Backend.RemoveRouter(router.Name, cancellationToken));
                        }
                }
                Reconfigure(Observe(cancellationToken), cancellationToken);
            }
            var outcomes = new RouterChangeOutcome[names.Count];
            for (int i = 0; i < names.Count; i++)
            {
                var router = resolved[i];
                var error = router != null && first.TryGetValue(router.Name, out var j) ? errors[j] : errors[i];
                outcomes[i] = router == null || error != null
                    ? new RouterChangeOutcome(router?.Name ?? names[i], null, error)
                    : new RouterChangeOutcome(router.Name, router, null);
            }
            return outcomes;
        }

        /// <summary>
        /// The routers of <paramref name="found"/> that may start: those that run already, and those that are off or failed
        /// and pass the admission check. One check for all; when it refuses, one check per router in order, each with the
        /// routers admitted before it (so a refused router gets the refusal and the others still start, as one by one).
        /// </summary>
        private List<(int Index, VirtualRouter Router)> AdmitEach(List<(int Index, VirtualRouter Router)> found, VirtualNetworksException?[] errors,
            CancellationToken cancellationToken)
        {
            static bool Starts(VirtualRouter r) => r.State == RouterState.Off || r.State == RouterState.Failed;
            var starting = found.Where(f => Starts(f.Router)).ToList();
            if (starting.Count == 0 || !(Backend is IAdmissionControl)) return found;
            var all = new AdmissionRequest();
            foreach (var (_, r) in starting) all.Starts.Add(AdmissionPlanner.Of(r));
            try
            {
                Admit(all, force: false, cancellationToken);
                return found;
            }
            catch (VirtualNetworksException)
            {
                // Some do not fit: find which, in order.
            }
            var admitted = new List<(int Index, VirtualRouter Router)>();
            var request = new AdmissionRequest();
            foreach (var f in found)
            {
                if (!Starts(f.Router))
                {
                    admitted.Add(f);
                    continue;
                }
                var attempt = new AdmissionRequest();
                attempt.Starts.AddRange(request.Starts);
                attempt.Starts.Add(AdmissionPlanner.Of(f.Router));
                try
                {
                    Admit(attempt, force: false, cancellationToken);
                }
                catch (VirtualNetworksException ex)
                {
                    errors[f.Index] = ex;
                    continue;
                }
                request.Starts.Add(AdmissionPlanner.Of(f.Router));
                admitted.Add(f);
            }
            return admitted;
        }
    }
}
