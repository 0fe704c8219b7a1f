using System;
using System.Linq;
using System.Threading;
using VirtualNetworks.Backends;

namespace VirtualNetworks.Planning
{
    /// <summary>
    /// Applies a plan step by step on the calling thread: asks the observer before each step (ShouldProcess), reports
    /// progress, stops at the first failure or at cancellation and reports what was and was not done.
    /// </summary>
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
                if (cancellationToken.IsCancellationRequested)
                {
                    result.Canceled = true;
                    result.NotAttempted.AddRange(steps.Skip(i));
                    throw new PlanApplyException(result, Summarize(result, $"Canceled before step {step.Number} ({step.Description} on '{step.Target}')."),
                        new VirtualNetworksException(ErrorIds.OperationCanceled, ErrorKind.OperationStopped, step.Target, "The operation was canceled."));
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
                    bool canceled = ex is OperationCanceledException;
                    result.Canceled = canceled;
                    result.Failed = canceled ? null : step;
                    result.Error = ex;
                    result.NotAttempted.AddRange(steps.Skip(i + 1));
                    var msg = canceled
                        ? $"Canceled during step {step.Number} ({step.Description} on '{step.Target}')."
                        : $"Step {step.Number} failed ({step.Description} on '{step.Target}'): {ex.Message}";
                    var inner = canceled
                        ? new VirtualNetworksException(ErrorIds.OperationCanceled, ErrorKind.OperationStopped, step.Target, "The operation was canceled.", ex)
                        : ex;
                    throw new PlanApplyException(result, Summarize(result, msg), inner);
                }
            }
            return result;
        }

        private static string Summarize(ApplyResult r, string head) =>
            $"{head} Done: {r.Completed.Count} step(s){List(r.Completed)}. Not done: {r.NotAttempted.Count + (r.Failed != null ? 1 : 0)} step(s). " +
            "Nothing done is rolled back; run the same command again to converge.";

        private static string List(System.Collections.Generic.List<PlanStep> steps) =>
            steps.Count == 0 ? "" : " (" + string.Join("; ", steps.Take(5).Select(s => $"{s.Action} {s.Target}")) + (steps.Count > 5 ? "; ..." : "") + ")";
    }
}
