using System.Linq;
using System.Management.Automation;

namespace VirtualNetworks.Commands
{
    /// <summary>
    /// New-VirtualLabHost: creates a lab host (on Linux a network namespace standing in for a machine) and physical links
    /// from it to existing hosts. One confirmation for the host and its links; -WhatIf lists every step.
    /// </summary>
    [Cmdlet(VerbsCommon.New, "VirtualLabHost", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(VirtualHost))]
    public sealed class NewVirtualLabHostCommand : VirtualNetworkCommandBase
    {
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string Name { get; set; } = "";

        [Parameter(Position = 1)]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(HostNameCompleter))]
        public string[]? ConnectedTo { get; set; }

        protected override void ProcessRecord()
        {
            var service = GetService(null);
            using var exclusive = OrTerminate(() => service.Exclusive(CancellationToken));
            if (!TryObserve(null, out service, out var snapshot)) return;
            TryItem(() =>
            {
                var plan = service.PlanNewLabHost(snapshot, Name, ConnectedTo);
                bool whatIf = WhatIfRequested();
                var links = plan.Steps.Where(s => s.Action == Planning.PlanAction.CreatePhysicalLink).Select(s => s.Target).ToList();
                if (!whatIf && !ShouldProcess(Name, "Create lab host" + (links.Count == 0 ? "" : " with physical link(s) " + string.Join(", ", links))))
                    return;
                service.Apply(plan, new PlanObserver(step => !whatIf || ShouldProcess(step.Target, step.Description), (step, index, count) => { }),
                    CancellationToken);
                if (whatIf) return;
                WriteObject(service.RequireHost(service.Observe(CancellationToken), Name));
            });
        }
    }
}
