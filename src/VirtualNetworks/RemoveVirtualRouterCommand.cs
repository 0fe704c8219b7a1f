using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using VirtualNetworks.Engine;

namespace VirtualNetworks.Commands
{
    /// <summary>
    /// Remove-VirtualRouter: removes virtual routers and the links attached to them. The pipeline is gathered and its
    /// routers removed in one engine call (<see cref="VirtualNetworkService.RemoveRouters"/>): N piped routers cost one
    /// observation to select them, one removal of all their links and of them, and one reconfiguration of the routers left.
    /// </summary>
    [Cmdlet(VerbsCommon.Remove, "VirtualRouter", DefaultParameterSetName = ByNameSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(VirtualRouter))]
    public sealed class RemoveVirtualRouterCommand : RouterCommandBase
    {
        [Parameter]
        public SwitchParameter Force { get; set; }

        protected override string ActionText(VirtualRouter router) =>
            router.Links.Count == 0
                ? "Remove virtual router"
                : "Remove virtual router and its " + router.Links.Count + " link(s): " + string.Join(", ", router.Links);

        private protected override bool ChangesTogether => true;

        /// <summary>A running or paused router needs the extra ShouldContinue unless -Force.</summary>
        private protected override bool ShouldContinueWith(VirtualRouter router)
        {
            bool active = router.State == RouterState.Running || router.State == RouterState.Paused;
            return !active || Force || !ConfirmationRequested(ConfirmImpact.High) ||
                   ShouldContinue("Virtual router '" + router.Name + "' is " + router.State.ToString().ToLowerInvariant() + "; remove it anyway?",
                       "Remove a " + router.State.ToString().ToLowerInvariant() + " virtual router");
        }

        /// <summary>Removes the routers together; -PassThru writes each removed router as it was.</summary>
        private protected override IReadOnlyList<RouterChangeOutcome> ChangeRouters(VirtualNetworkService service, IReadOnlyList<VirtualRouter> routers) =>
            service.RemoveRouters(routers.Select(r => r.Name).ToList(), CancellationToken);
    }
}
