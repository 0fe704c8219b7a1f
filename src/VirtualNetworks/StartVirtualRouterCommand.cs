using System.Management.Automation;

namespace VirtualNetworks.Commands
{
    /// <summary>Start-VirtualRouter: starts virtual routers (boots their VMs).</summary>
    [Cmdlet(VerbsLifecycle.Start, "VirtualRouter", DefaultParameterSetName = ByNameSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
    [OutputType(typeof(VirtualRouter))]
    public sealed class StartVirtualRouterCommand : VirtualNetworkCommandBase
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

        protected override void ProcessRecord() =>
            ForEachRouter(Name, InputObject, ComputerName, (service, router) =>
            {
                if (!ShouldProcess(router.Name, "Start virtual router")) return;
                var started = service.StartRouter(router.Name, CancellationToken);
                if (PassThru) WriteObject(started);
            });
    }
}
