using System.Management.Automation;

namespace VirtualNetworks.Commands
{
    /// <summary>Remove-VirtualRouter: removes virtual routers and the links attached to them.</summary>
    [Cmdlet(VerbsCommon.Remove, "VirtualRouter", DefaultParameterSetName = ByNameSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(VirtualRouter))]
    public sealed class RemoveVirtualRouterCommand : VirtualNetworkCommandBase
    {
        [Parameter(ParameterSetName = ByNameSet, Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(RouterNameCompleter))]
        public string[]? Name { get; set; }

        [Parameter(ParameterSetName = ByInputObjectSet, Mandatory = true, ValueFromPipeline = true)]
        [ValidateNotNull]
        public VirtualRouter[]? InputObject { get; set; }

        [Parameter(ValueFromPipelineByPropertyName = true)]
        public string[]? ComputerName { get; set; }

        [Parameter]
        public SwitchParameter PassThru { get; set; }

        [Parameter]
        public SwitchParameter Force { get; set; }

        protected override void ProcessRecord() =>
            ForEachRouter(Name, InputObject, ComputerName, (service, router) =>
            {
                string action = router.Links.Count == 0
                    ? "Remove virtual router"
                    : "Remove virtual router and its " + router.Links.Count + " link(s): " + string.Join(", ", router.Links);
                if (!ShouldProcess(router.Name, action)) return;
                bool active = router.State == RouterState.Running || router.State == RouterState.Paused;
                if (active && !Force && ConfirmationRequested(ConfirmImpact.High) &&
                    !ShouldContinue("Virtual router '" + router.Name + "' is " + router.State.ToString().ToLowerInvariant() + "; remove it anyway?",
                        "Remove a " + router.State.ToString().ToLowerInvariant() + " virtual router"))
                    return;
                service.RemoveRouter(router.Name, CancellationToken);
                if (PassThru) WriteObject(router);
            });
    }
}
