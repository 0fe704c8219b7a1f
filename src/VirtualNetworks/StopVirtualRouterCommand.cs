using System.Management.Automation;

namespace VirtualNetworks.Commands
{
    /// <summary>Stop-VirtualRouter: shuts virtual routers down gracefully, or turns them off with -TurnOff.</summary>
    [Cmdlet(VerbsLifecycle.Stop, "VirtualRouter", DefaultParameterSetName = ByNameSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(VirtualRouter))]
    public sealed class StopVirtualRouterCommand : VirtualNetworkCommandBase
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
        public SwitchParameter TurnOff { get; set; }

        protected override void ProcessRecord() =>
            ForEachRouter(Name, InputObject, ComputerName, (service, router) =>
            {
                string action = TurnOff ? "Turn off virtual router (hard power-off)" : "Stop virtual router (graceful shutdown)";
                if (!ShouldProcess(router.Name, action)) return;
                var stopped = service.StopRouter(router.Name, TurnOff, CancellationToken);
                if (PassThru) WriteObject(stopped);
            });
    }
}
