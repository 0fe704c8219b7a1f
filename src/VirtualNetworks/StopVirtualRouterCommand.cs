using System.Management.Automation;
using VirtualNetworks.Engine;

namespace VirtualNetworks.Commands
{
    /// <summary>Stop-VirtualRouter: shuts virtual routers down gracefully, or turns them off with -TurnOff.</summary>
    [Cmdlet(VerbsLifecycle.Stop, "VirtualRouter", DefaultParameterSetName = ByNameSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(VirtualRouter))]
    public sealed class StopVirtualRouterCommand : RouterCommandBase
    {
        [Parameter]
        public SwitchParameter TurnOff { get; set; }

        protected override string ActionText(VirtualRouter router) =>
            TurnOff ? "Turn off virtual router (hard power-off)" : "Stop virtual router (graceful shutdown)";

        protected override VirtualRouter ChangeRouter(VirtualNetworkService service, VirtualRouter router) =>
            service.StopRouter(router.Name, TurnOff, CancellationToken);
    }
}
