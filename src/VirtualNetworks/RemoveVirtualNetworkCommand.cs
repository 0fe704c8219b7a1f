using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using VirtualNetworks.Planning;

namespace VirtualNetworks.Commands
{
    /// <summary>
    /// Remove-VirtualNetwork: removes every link and router of whole virtual networks. One confirmation per network;
    /// with -WhatIf every planned step is shown instead.
    /// </summary>
    [Cmdlet(VerbsCommon.Remove, "VirtualNetwork", DefaultParameterSetName = ByNameSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(VirtualNetwork))]
    public sealed class RemoveVirtualNetworkCommand : VirtualNetworkCommandBase
    {
        /// <summary>Progress activity id of Remove-VirtualNetwork.</summary>
        private const int ActivityId = 16;
        private const string Activity = "Removing virtual networks";

        [Parameter(ParameterSetName = ByNameSet, Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(NetworkNameCompleter))]
        public string[]? Name { get; set; }

        [Parameter(ParameterSetName = ByInputObjectSet, Mandatory = true, ValueFromPipeline = true)]
        [ValidateNotNull]
        public VirtualNetwork[]? InputObject { get; set; }

        [Parameter]
        public SwitchParameter Force { get; set; }

        [Parameter]
        public SwitchParameter PassThru { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[]? ComputerName { get; set; }

        protected override void ProcessRecord()
        {
            if (!TryObserve(ComputerName, out var service, out var snapshot)) return;

            var names = InputObject != null ? InputObject.Where(n => n != null).Select(n => n.Name) : Name;
            // Objects from the pipeline are looked up again by name: their literal names must still exist.
            var networks = SelectByName(ObservedKinds.Networks, service, snapshot,
                InputObject != null ? names?.Select(WildcardPattern.Escape) : names);

            bool whatIf = WhatIfRequested();
            var chosen = new List<VirtualNetwork>();
            foreach (var network in networks)
            {
                if (whatIf)
                {
                    chosen.Add(network); // each planned step is shown below instead of one line per network
                    continue;
                }
                if (!ShouldProcess(network.Name, "Remove virtual network (" + network.Routers.Count + " router(s), " + network.Links.Count + " link(s))"))
                    continue;
                var members = new HashSet<string>(network.Routers, StringComparer.OrdinalIgnoreCase);
                int active = snapshot.Routers.Count(r => members.Contains(r.Name) && (r.State == RouterState.Running || r.State == RouterState.Paused));
                if (active > 0 && !Force && ConfirmationRequested(ConfirmImpact.High) &&
                    !ShouldContinue("Virtual network '" + network.Name + "' has " + active + " running or paused router(s); remove it anyway?",
                        "Remove a running virtual network"))
                    continue;
                chosen.Add(network);
            }
            if (chosen.Count == 0) return;

            var observer = new PlanObserver(
                step => !whatIf || ShouldProcess(step.Target, step.Description),
                (step, index, count) => WriteProgressStatus(ActivityId, Activity,
                    "Step " + (index + 1) + " of " + count + ": " + step.Description + " on '" + step.Target + "'",
                    count == 0 ? -1 : index * 100 / count));
            bool done;
            try
            {
                done = TryItem(() =>
                {
                    using var exclusive = service.Exclusive(CancellationToken);
                    var plan = service.PlanRemoval(snapshot, chosen);
                    service.Apply(plan, observer, CancellationToken);
                });
            }
            finally
            {
                CompleteProgress(ActivityId, Activity);
            }
            if (done && PassThru && !whatIf)
                foreach (var network in chosen) WriteObject(network);
        }
    }
}
