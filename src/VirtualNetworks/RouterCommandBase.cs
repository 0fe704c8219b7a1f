using System.Management.Automation;
using VirtualNetworks.Engine;

namespace VirtualNetworks.Commands
{
    /// <summary>
    /// The base of the cmdlets that change existing virtual routers one by one (Start-, Stop-, Suspend-, Resume-, Remove-
    /// and Move-VirtualRouter). It declares their shared parameters: the routers by -Name (wildcards allowed) or as
    /// -InputObject from the pipeline, -ComputerName and -PassThru. It runs the loop: each router freshly observed, then
    /// ShouldProcess with the leaf's action text, then the leaf's engine call, then -PassThru. A router that is not found,
    /// and a failing call, are non-terminating errors; the next router still runs.
    /// </summary>
    public abstract class RouterCommandBase : VirtualNetworkCommandBase
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
        [ArgumentCompleter(typeof(ComputerNameCompleter))]
        public string[]? ComputerName { get; set; }

        [Parameter]
        public SwitchParameter PassThru { get; set; }

        protected sealed override void ProcessRecord() =>
            ForEachSelected(ObservedKinds.Routers, Name, InputObject, ComputerName, router => new[] { router.ComputerName }, (service, router) =>
            {
                if (!ShouldProcess(router.Name, ActionText(router))) return;
                var result = ChangeRouter(service, router);
                if (PassThru && result != null) WriteObject(result);
            });

        /// <summary>The ShouldProcess action for <paramref name="router"/> (the target is the router's name).</summary>
        protected abstract string ActionText(VirtualRouter router);

        /// <summary>
        /// The engine call for one router that ShouldProcess allowed. Returns the router -PassThru writes, or null when the
        /// router was left alone.
        /// </summary>
        protected abstract VirtualRouter? ChangeRouter(VirtualNetworkService service, VirtualRouter router);
    }
}
