using System.Management.Automation;

namespace VirtualNetworks.Commands
{
    /// <summary>
    /// Wait-VirtualRouter: waits until running virtual routers' guests have booted and applied their configuration. The
    /// routers are collected from every pipeline record first and then waited for all at once (bounded), within one
    /// overall -TimeoutSec. A router that does not run is an error at once, not a wait.
    /// </summary>
    [Cmdlet(VerbsLifecycle.Wait, "VirtualRouter", DefaultParameterSetName = ByNameSet)]
    [OutputType(typeof(VirtualRouter))]
    public sealed class WaitVirtualRouterCommand : VirtualNetworkCommandBase
    {
        [Parameter(ParameterSetName = ByNameSet, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(RouterNameCompleter))]
        public string[]? Name { get; set; }

        [Parameter(ParameterSetName = ByInputObjectSet, Mandatory = true, ValueFromPipeline = true)]
        [ValidateNotNull]
        public VirtualRouter[]? InputObject { get; set; }

        [Parameter(ParameterSetName = ByNameSet)]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(NetworkNameCompleter))]
        public string[]? NetworkName { get; set; }

        [Parameter(ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string[]? ComputerName { get; set; }

        [Parameter]
        [ValidateRange(1, MaximumReadyTimeoutSec)]
        public int TimeoutSec { get; set; } = DefaultReadyTimeoutSec;

        [Parameter]
        public SwitchParameter PassThru { get; set; }

        protected override void ProcessRecord() =>
            ForEachSelected(ObservedKinds.Routers, Name, InputObject, ComputerName, router => new[] { router.ComputerName }, (service, router) =>
            {
                if (InputObject == null && !MatchesAny(router.NetworkName, NetworkName)) return;
                QueueReadyWait(service, router.Name);
            });

        protected override void EndRecords() => WaitForQueuedRouters(TimeoutSec, PassThru);
    }
}
