using System;
using System.Management.Automation;

namespace VirtualNetworks.Commands
{
    /// <summary>
    /// Remove-VirtualLabHost: removes lab hosts and their physical links. Refused (HostInUse) while a router runs on the
    /// host or a link's tunnel crosses it; real machines are never removed (NotALabHost).
    /// </summary>
    [Cmdlet(VerbsCommon.Remove, "VirtualLabHost", DefaultParameterSetName = ByNameSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(VirtualHost))]
    public sealed class RemoveVirtualLabHostCommand : VirtualNetworkCommandBase
    {
        [Parameter(ParameterSetName = ByNameSet, Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(HostNameCompleter))]
        public string[]? Name { get; set; }

        [Parameter(ParameterSetName = ByInputObjectSet, Mandatory = true, ValueFromPipeline = true)]
        [ValidateNotNull]
        public VirtualHost[]? InputObject { get; set; }

        [Parameter]
        public SwitchParameter PassThru { get; set; }

        protected override void ProcessRecord()
        {
            bool whatIf = WhatIfRequested();
            ForEachSelected(ObservedKinds.Hosts, Name, InputObject, null, host => Array.Empty<string>(), (service, host) =>
            {
                using var exclusive = service.Exclusive(CancellationToken);
                var plan = service.PlanRemoveLabHost(service.Observe(CancellationToken), host.Name);
                if (!whatIf && !ShouldProcess(host.Name, "Remove lab host and its " + (plan.Steps.Count - 1) + " physical link(s)")) return;
                service.Apply(plan, new PlanObserver(step => !whatIf || ShouldProcess(step.Target, step.Description), (step, index, count) => { }),
                    CancellationToken);
                if (PassThru && !whatIf) WriteObject(host);
            });
        }
    }
}
