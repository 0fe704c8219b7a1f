using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using VirtualNetworks.Engine;

namespace VirtualNetworks.Commands
{
    /// <summary>
    /// Stop-VirtualRouter: shuts virtual routers down gracefully, or turns them off with -TurnOff. The routers of the
    /// whole pipeline are stopped together at its end (one engine call; see <see cref="RouterCommandBase"/>).
    /// </summary>
    [Cmdlet(VerbsLifecycle.Stop, "VirtualRouter", DefaultParameterSetName = ByNameSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(VirtualRouter))]
    public sealed class StopVirtualRouterCommand : RouterCommandBase
    {
        [Parameter]
        public SwitchParameter TurnOff { get; set; }

        protected override string ActionText(VirtualRouter router) =>
            TurnOff ? "Turn off virtual router (hard power-off)" : "Stop virtual router (graceful shutdown)";

        private protected override bool ChangesTogether => true;

        private protected override IReadOnlyList<RouterChangeOutcome> ChangeRouters(VirtualNetworkService service, IReadOnlyList<VirtualRouter> routers) =>
            service.StopRouters(routers.Select(r => r.Name).ToList(), TurnOff, CancellationToken);
    }
}
