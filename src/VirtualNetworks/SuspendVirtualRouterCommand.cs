using System.Management.Automation;
using VirtualNetworks.Engine;

namespace VirtualNetworks.Commands
{
    /// <summary>Suspend-VirtualRouter: pauses running virtual routers (their memory stays in place).</summary>
    [Cmdlet(VerbsLifecycle.Suspend, "VirtualRouter", DefaultParameterSetName = ByNameSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
    [OutputType(typeof(VirtualRouter))]
    public sealed class SuspendVirtualRouterCommand : RouterCommandBase
    {
        protected override string ActionText(VirtualRouter router) => "Suspend virtual router";

        protected override VirtualRouter ChangeRouter(VirtualNetworkService service, VirtualRouter router) =>
            service.SuspendRouter(router.Name, CancellationToken);
    }
}
