using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using VirtualNetworks.Engine;

namespace VirtualNetworks.Commands
{
    /// <summary>
    /// Suspend-VirtualRouter: pauses running virtual routers (their memory stays in place). The routers of the whole
    /// pipeline are paused together at its end (one engine call; see <see cref="RouterCommandBase"/>).
    /// </summary>
    [Cmdlet(VerbsLifecycle.Suspend, "VirtualRouter", DefaultParameterSetName = ByNameSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
    [OutputType(typeof(VirtualRouter))]
    public sealed class SuspendVirtualRouterCommand : RouterCommandBase
    {
        protected override string ActionText(VirtualRouter router) => "Suspend virtual router";

        private protected override bool ChangesTogether => true;

        private protected override IReadOnlyList<RouterChangeOutcome> ChangeRouters(VirtualNetworkService service, IReadOnlyList<VirtualRouter> routers) =>
            service.SuspendRouters(routers.Select(r => r.Name).ToList(), CancellationToken);
    }
}
