using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using VirtualNetworks.Backends;

namespace VirtualNetworks.Planning
{
    /// <summary>
    /// Applies a plan step by step on the calling thread: asks the observer before each step (ShouldProcess), reports
    /// progress, stops at the first failure or at cancellation and reports what was and was not done.
    /// </summary>
    /// <remarks>
    /// A run of consecutive StartRouter steps (the end of a deployment plan) goes to a backend implementing
    /// <see cref="IRouterBatchStarter"/> as one call, so the routers' start-up overlaps: every step of the run is asked
    /// first and announced, on the calling thread, then the approved ones are started together. Routers of the run that
    /// started stay started when another fails; the failure names every router that did not start. A run of consecutive
    /// RemoveRouter steps (a removal plan) goes the same way to a backend implementing <see cref="IRouterBatchRemover"/>, and
    /// a run of RemoveLink steps to one implementing <see cref="ILinkBatchRemover"/>.
    /// </remarks>
    public static class PlanExecutor
    {
        /// <summary>Applies <paramref name="plan"/>. Throws <see cref="PlanApplyException"/> on a failed step or cancellation.</summary>
        public static ApplyResult Apply(DeploymentPlan plan, IVirtualizationBackend backend, IPlanObserver observer, CancellationToken cancellationToken)
        {
            var result = new ApplyResult();
            var steps = plan.Steps;
            for (int i = 0; i < steps.Count; i++)
            {
                var step = steps[i];
                if (cancellationToken.IsCancellationRequested) ThrowCanceledBefore(result, steps, i);

                var batch = BatchFor(backend, step.Action);
                if (batch != null)
                {
                    int end = RunEnd(steps, i);
                    // A removal: links, then the routers they joined. The routers' steps are asked too before the links go,
                    // so the backend knows which routers go next and need not detach the links from them gracefully.
                    if (step.Action == PlanAction.RemoveLink && backend is ILinkBatchRemover linkRemover && end < steps.Count &&
                        steps[end].Action == PlanAction.RemoveRouter && BatchFor(backend, PlanAction.RemoveRouter) is Batch routerBatch)
                    {
                        int routersEnd = RunEnd(steps, end);
                        var links = Gate(steps, i, end, observer, result, null, cancellationToken);
                        var routers = Gate(steps, end, routersEnd, observer, result, links, cancellationToken);
                        var going = routers.Select(a => a.Step.Target).ToList();
                        var linkBatch = new Batch(backend.Kind, "link removal(s)", (names, ct) => linkRemover.RemoveLinks(names, going, ct));
                        RunApproved(steps, links, routers, routersEnd, linkBatch, observer, result, cancellationToken);
                        RunApproved(steps, routers, null, routersEnd, routerBatch, observer, result, cancellationToken);
                        i = routersEnd - 1;
                        continue;
                    }
                    if (end - i > 1)
                    {
                        var approved = Gate(steps, i, end, observer, result, null, cancellationToken);
                        RunApproved(steps, approved, null, end, batch, observer, result, cancellationToken);
                        i = end - 1;
                        continue;
                    }
                }

                if (!observer.ShouldRun(step))
                {
                    result.Skipped.Add(step);
                    continue;
                }

                observer.OnStepStarting(step, i, steps.Count);
                try
                {
                    step.Run(backend, cancellationToken);
                    result.Completed.Add(step);
                }
                catch (Exception ex) when (!(ex is OutOfMemoryException))
                {
                    result.NotAttempted.AddRange(steps.Skip(i + 1));
                    Fail(result, new List<KeyValuePair<PlanStep, Exception>> { new KeyValuePair<PlanStep, Exception>(step, ex) });
                }
            }
            return result;
        }

        /// <summary>A backend's batch form of one kind of step: what it does with the steps' targets (router or link names), and what it is called in errors.</summary>
        private sealed class Batch
        {
            public Batch(string kind, string what, Func<IReadOnlyList<string>, CancellationToken, IReadOnlyList<Exception?>> run)
            {
                Kind = kind;
                What = what;
                Run = run;
            }

            public string Kind { get; }
            public string What { get; }
            public Func<IReadOnlyList<string>, CancellationToken, IReadOnlyList<Exception?>> Run { get; }
        }

        /// <summary>The batch form of <paramref name="action"/> the backend offers, or null (one call per step).</summary>
        private static Batch? BatchFor(IVirtualizationBackend backend, PlanAction action)
        {
            if (action == PlanAction.StartRouter && backend is IRouterBatchStarter starter)
                return new Batch(backend.Kind, "router start(s)", starter.StartRouters);
            if (action == PlanAction.RemoveRouter && backend is IRouterBatchRemover remover)
                return new Batch(backend.Kind, "router removal(s)", remover.RemoveRouters);
            if (action == PlanAction.RemoveLink && backend is ILinkBatchRemover linkRemover)
                return new Batch(backend.Kind, "link removal(s)", (names, ct) => linkRemover.RemoveLinks(names, Array.Empty<string>(), ct));
            return null;
        }

        /// <summary>The end (exclusive) of the run of steps of <paramref name="steps"/>[<paramref name="start"/>]'s action.</summary>
        private static int RunEnd(List<PlanStep> steps, int start)
        {
            int end = start;
            while (end < steps.Count && steps[end].Action == steps[start].Action) end++;
            return end;
        }

        /// <summary>
        /// Asks each of steps [<paramref name="start"/>, <paramref name="end"/>) (ShouldProcess); declined ones are skipped.
        /// On cancellation nothing of the run (nor <paramref name="approvedBefore"/>, asked but not run yet) has been done.
        /// </summary>
        private static List<(PlanStep Step, int Index)> Gate(List<PlanStep> steps, int start, int end, IPlanObserver observer, ApplyResult result,
            List<(PlanStep Step, int Index)>? approvedBefore, CancellationToken cancellationToken)
        {
            var approved = new List<(PlanStep Step, int Index)>();
            for (int j = start; j < end; j++)
            {
                if (cancellationToken.IsCancellationRequested)
                {
                    // Nothing of this run has been done yet.
                    var waiting = (approvedBefore ?? new List<(PlanStep Step, int Index)>()).Concat(approved).ToList();
                    result.Canceled = true;
                    result.NotAttempted.AddRange(waiting.Select(a => a.Step));
                    result.NotAttempted.AddRange(steps.Skip(j));
                    var step = waiting.Count > 0 ? waiting[0].Step : steps[j];
                    throw new PlanApplyException(result, Summarize(result, $"Canceled before step {step.Number} ({step.Description} on '{step.Target}')."),
                        new VirtualNetworksException(ErrorIds.OperationCanceled, ErrorKind.OperationStopped, step.Target, "The operation was canceled."));
                }
                if (observer.ShouldRun(steps[j])) approved.Add((steps[j], j));
                else result.Skipped.Add(steps[j]);
            }
            return approved;
        }

        /// <summary>
        /// Announces the <paramref name="approved"/> steps of one action (StartRouter, RemoveRouter or RemoveLink, whose
        /// target is the router's or link's name) and hands them to the backend together. On failure the steps of
        /// <paramref name="approvedAfter"/> and from <paramref name="resumeAt"/> on count as not attempted.
        /// </summary>
        private static void RunApproved(List<PlanStep> steps, List<(PlanStep Step, int Index)> approved, List<(PlanStep Step, int Index)>? approvedAfter,
            int resumeAt, Batch batch, IPlanObserver observer, ApplyResult result, CancellationToken cancellationToken)
        {
            if (approved.Count == 0) return;
            var later = (approvedAfter ?? new List<(PlanStep Step, int Index)>()).Select(a => a.Step).Concat(steps.Skip(resumeAt)).ToList();
            foreach (var a in approved) observer.OnStepStarting(a.Step, a.Index, steps.Count);

            // A StartRouter or RemoveRouter step's target is the router's name, a RemoveLink step's the link's (Planner).
            var names = approved.Select(a => a.Step.Target).ToList();
            IReadOnlyList<Exception?> outcomes;
            try
            {
                outcomes = batch.Run(names, cancellationToken);
            }
            catch (Exception ex) when (!(ex is OutOfMemoryException))
            {
                // Nothing was done: the first step carries the error, the others were not attempted.
                result.NotAttempted.AddRange(approved.Skip(1).Select(a => a.Step));
                result.NotAttempted.AddRange(later);
                Fail(result, new List<KeyValuePair<PlanStep, Exception>> { new KeyValuePair<PlanStep, Exception>(approved[0].Step, ex) });
                return;
            }
            if (outcomes == null || outcomes.Count != names.Count)
                throw new InvalidOperationException($"The {batch.Kind} backend returned {outcomes?.Count ?? 0} outcome(s) for {names.Count} {batch.What}.");

            var failures = new List<KeyValuePair<PlanStep, Exception>>();
            var canceled = new List<PlanStep>();
            for (int k = 0; k < approved.Count; k++)
            {
                var error = outcomes[k];
                if (error == null) result.Completed.Add(approved[k].Step);
                else if (error is OperationCanceledException) canceled.Add(approved[k].Step);
                else failures.Add(new KeyValuePair<PlanStep, Exception>(approved[k].Step, error));
            }
            if (failures.Count == 0 && canceled.Count == 0) return;
            result.NotAttempted.AddRange(canceled);
            result.NotAttempted.AddRange(later);
            if (failures.Count == 0)
            {
                result.Canceled = true;
                var first = canceled[0];
                throw new PlanApplyException(result, Summarize(result, $"Canceled during step {first.Number} ({first.Description} on '{first.Target}')."),
                    new VirtualNetworksException(ErrorIds.OperationCanceled, ErrorKind.OperationStopped, first.Target, "The operation was canceled."));
            }
            result.Canceled = canceled.Count > 0;
            Fail(result, failures);
        }

        /// <summary>Records <paramref name="failures"/> (at least one, in plan order) and throws the apply exception.</summary>
        private static void Fail(ApplyResult result, List<KeyValuePair<PlanStep, Exception>> failures)
        {
            var step = failures[0].Key;
            var ex = failures[0].Value;
            bool canceled = ex is OperationCanceledException;
            result.Canceled |= canceled;
            result.Failed = canceled ? null : step;
            result.Error = ex;
            result.OtherFailures.AddRange(failures.Skip(1));
            var msg = canceled
                ? $"Canceled during step {step.Number} ({step.Description} on '{step.Target}')."
                : $"Step {step.Number} failed ({step.Description} on '{step.Target}'): {ex.Message}" +
                  string.Concat(failures.Skip(1).Select(f => $" Step {f.Key.Number} failed as well ({f.Key.Description} on '{f.Key.Target}'): {f.Value.Message}"));
            var inner = canceled
                ? new VirtualNetworksException(ErrorIds.OperationCanceled, ErrorKind.OperationStopped, step.Target, "The operation was canceled.", ex)
                : ex;
            throw new PlanApplyException(result, Summarize(result, msg), inner);
        }

        private static void ThrowCanceledBefore(ApplyResult result, List<PlanStep> steps, int i)
        {
            var step = steps[i];
            result.Canceled = true;
            result.NotAttempted.AddRange(steps.Skip(i));
            throw new PlanApplyException(result, Summarize(result, $"Canceled before step {step.Number} ({step.Description} on '{step.Target}')."),
                new VirtualNetworksException(ErrorIds.OperationCanceled, ErrorKind.OperationStopped, step.Target, "The operation was canceled."));
        }

        private static string Summarize(ApplyResult r, string head) =>
            $"{head} Done: {r.Completed.Count} step(s){List(r.Completed)}. Not done: {r.NotAttempted.Count + (r.Failed != null ? 1 : 0) + r.OtherFailures.Count} step(s). " +
            "Nothing done is rolled back; run the same command again to converge.";

        private static string List(List<PlanStep> steps) =>
            steps.Count == 0 ? "" : " (" + string.Join("; ", steps.Take(5).Select(s => $"{s.Action} {s.Target}")) + (steps.Count > 5 ? "; ..." : "") + ")";
    }
}
