using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Management.Automation;
using VirtualNetworks.Engine;
using VirtualNetworks.Planning;
using VirtualNetworks.Topology;

namespace VirtualNetworks.Commands
{
    /// <summary>
    /// Deploy-VirtualNetwork: makes the hosts match a topology file. Reads and checks the file before any backend is
    /// touched, plans the steps (the plan is the -WhatIf output), then applies them one by one, each through
    /// ShouldProcess, with progress. Re-deploying an unchanged file changes nothing.
    /// </summary>
    [Cmdlet("Deploy", "VirtualNetwork", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(DeploymentResult))]
    public sealed class DeployVirtualNetworkCommand : VirtualNetworkCommandBase
    {
        /// <summary>Progress activity id of Deploy-VirtualNetwork.</summary>
        private const int ActivityId = 15;

        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [Alias("FullName")]
        [ValidateNotNullOrEmpty]
        public string Path { get; set; } = "";

        [Parameter]
        public SwitchParameter Force { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(ComputerNameCompleter))]
        public string[]? ComputerName { get; set; }

        /// <summary>After the deployment, waits until the file's routers' guests are ready (booted, configuration applied).</summary>
        [Parameter]
        public SwitchParameter Wait { get; set; }

        /// <summary>With -Wait: how long to wait for all the routers together, in seconds.</summary>
        [Parameter]
        [ValidateRange(1, MaximumReadyTimeoutSec)]
        public int TimeoutSec { get; set; } = DefaultReadyTimeoutSec;

        protected override void ProcessRecord()
        {
            var clock = Stopwatch.StartNew();

            // 1. The file, read strictly. No backend yet.
            if (!TryResolveFileSystemPath(Path, out string file, out string problem))
            {
                var ex = new VirtualNetworksException(ErrorIds.TopologyFileNotFound, ErrorKind.ObjectNotFound, Path, problem);
                ThrowTerminatingError(ToErrorRecord(ex));
            }
            var read = TopologyReader.ReadFile(file);
            if (read.Errors.Count > 0 || read.Spec == null)
            {
                ReportTopologyErrors(read.Errors, terminating: true);
                return;
            }
            var desired = read.Spec;

            // 2. Everything the file alone can get wrong. Still no backend. A link may name a router that is already
            //    deployed rather than in the file; only the backend can tell, so that one check waits for step 3
            //    (PlanDeployment repeats every check against what is deployed).
            var staticErrors = VirtualNetworkService.ValidateStatic(desired, Force)
                .Where(e => e.ErrorId != ErrorIds.LinkEndpointNotFound).ToList();
            if (staticErrors.Count > 0)
            {
                ReportTopologyErrors(staticErrors, terminating: true);
                return;
            }

            // 3. Only now a backend: validate against what it has and can do, and plan.
            // The file's hosts may be lab hosts this deployment creates (plan steps), so they need not exist yet.
            var service = GetService(ComputerName ?? HostsOf(desired), hostsMayNotExistYet: ComputerName == null);
            // Observe, plan, apply and summarize under exclusive access to the backend's state: a concurrent command
            // (another Deploy) waits, bounded, and then plans against this one's result (addresses included).
            var exclusive = OrTerminate(() => service.Exclusive(CancellationToken));
            DeploymentResult summary;
            try
            {
                var plan = OrTerminate(() => service.PlanDeployment(desired, Force, CancellationToken));
                foreach (var warning in plan.Warnings) WriteWarning(warning);

                // 4. Apply, each step through ShouldProcess.
                string activity = "Deploying " + System.IO.Path.GetFileName(file);
                var observer = new PlanObserver(
                    step => ShouldProcess(step.Target, step.Description),
                    (step, index, count) => WriteProgressStatus(ActivityId, activity,
                        "Step " + (index + 1) + " of " + count + ": " + step.Description + " on '" + step.Target + "'",
                        count == 0 ? -1 : index * 100 / count));
                ApplyResult result;
                try
                {
                    result = OrTerminate(() => service.Apply(plan, observer, CancellationToken));
                }
                finally
                {
                    CompleteProgress(ActivityId, activity);
                }
                if (WhatIfRequested()) return;

                // 5. The summary, with the networks the file's routers and links belong to now.
                var after = OrTerminate(() => service.Observe(CancellationToken));
                var networks = desired.Routers.Select(r => after.FindRouter(r.Name)?.NetworkName)
                    .Concat(desired.Links.Select(l => after.FindLink(l.Name)?.NetworkName))
                    .Where(n => !string.IsNullOrEmpty(n)).Select(n => n!)
                    .Distinct(StringComparer.OrdinalIgnoreCase).OrderBy(n => n, StringComparer.OrdinalIgnoreCase).ToArray();
                summary = new DeploymentResult
                {
                    Path = file,
                    Changes = result.Completed.Count,
                    Planned = plan.Steps.Count,
                    Skipped = result.Skipped.Count,
                    Steps = result.Completed.Select(s => s.ToString()).ToArray(),
                    Networks = networks,
                };
            }
            finally
            {
                exclusive.Dispose();
            }

            // 6. With -Wait, the file's routers' guests, waited for after the state lock is released (a guest's boot does not
            //    keep other commands waiting). A router that does not run or is not ready in time is a non-terminating error.
            if (Wait) WaitForRouters(service, desired.Routers.Select(r => r.Name), TimeoutSec);
            clock.Stop();
            summary.Duration = clock.Elapsed;
            WriteObject(summary);
        }

        /// <summary>The hosts a topology names (declared or used by a router); empty when it only uses the local machine.</summary>
        private static IReadOnlyList<string> HostsOf(TopologySpec spec)
        {
            var hosts = spec.Hosts.Select(h => h.Name).Concat(spec.Routers.Select(r => r.Host))
                .Where(h => !string.IsNullOrEmpty(h) && !HostNames.IsLocalHost(h))
                .Distinct(StringComparer.OrdinalIgnoreCase).ToList();
            if (hosts.Count > 0 && spec.Routers.Any(r => HostNames.IsLocalHost(r.Host))) hosts.Add(HostNames.LocalName);
            return hosts;
        }
    }
}
