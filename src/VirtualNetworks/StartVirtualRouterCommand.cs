using System.Management.Automation;
using VirtualNetworks.Engine;

namespace VirtualNetworks.Commands
{
    /// <summary>Start-VirtualRouter: starts virtual routers (boots their VMs).</summary>
    [Cmdlet(VerbsLifecycle.Start, "VirtualRouter", DefaultParameterSetName = ByNameSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
    [OutputType(typeof(VirtualRouter))]
    public sealed class StartVirtualRouterCommand : RouterCommandBase
    {
        /// <summary>Skips the backend's admission check (the memory the host can give).</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        protected override string ActionText(VirtualRouter router) => "Start virtual router";

        protected override VirtualRouter ChangeRouter(VirtualNetworkService service, VirtualRouter router) =>
            service.StartRouter(router.Name, Force, CancellationToken);
    }
}
