using System;
using System.Collections.Generic;
using VirtualNetworks.Backends;

namespace VirtualNetworks.Planning
{
    /// <summary>
    /// What a plan asks of the hosts (<see cref="AdmissionRequest"/>), for a backend implementing
    /// <see cref="IAdmissionControl"/>: its CreateRouter steps, and its StartRouter steps with the memory each router will
    /// start with (a new router's from the file; an existing one's as observed, since a deployment does not change the
    /// memory of an existing router). Routers the plan does not start (already running, paused, ...) are not asked for.
    /// </summary>
    public static class AdmissionPlanner
    {
        public static AdmissionRequest For(DeploymentPlan plan, BackendInventory observed)
        {
            if (plan == null) throw new ArgumentNullException(nameof(plan));
            if (observed == null) throw new ArgumentNullException(nameof(observed));
            var desired = new Dictionary<string, RouterSpec>(StringComparer.OrdinalIgnoreCase);
            if (plan.Desired != null)
                foreach (var r in plan.Desired.Routers) desired[r.Name] = r;
            var existing = new Dictionary<string, VirtualRouter>(StringComparer.OrdinalIgnoreCase);
            foreach (var r in observed.Routers) existing[r.Name] = r;

            var request = new AdmissionRequest();
            foreach (var step in plan.Steps)
            {
                // CreateRouter and StartRouter steps target the router's name (Planner).
                if (step.Action == PlanAction.CreateRouter && desired.TryGetValue(step.Target, out var created))
                    request.Creates.Add(created.Clone());
                else if (step.Action == PlanAction.StartRouter)
                {
                    if (existing.TryGetValue(step.Target, out var have)) request.Starts.Add(Of(have));
                    else if (desired.TryGetValue(step.Target, out var want)) request.Starts.Add(want.Clone());
                }
            }
            return request;
        }

        /// <summary>An observed router as the spec it starts with (name, host, memory, processors, image).</summary>
        public static RouterSpec Of(VirtualRouter router) => new RouterSpec
        {
            Name = router.Name,
            Host = router.ComputerName,
            Image = router.Image,
            MemoryMB = router.MemoryMB,
            ProcessorCount = router.ProcessorCount,
            NetworkLabel = router.NetworkLabel,
            AddressFamily = router.AddressFamily,
        };
    }
}
