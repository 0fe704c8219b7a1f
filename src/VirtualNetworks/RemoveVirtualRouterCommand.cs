using System.Management.Automation;
using VirtualNetworks.Engine;

namespace VirtualNetworks.Commands
{
    /// <summary>Remove-VirtualRouter: removes virtual routers and the links attached to them.</summary>
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

        /// <summary>Removes the router; a running or paused one needs the extra ShouldContinue unless -Force. Passes through the router as it was.</summary>
        protected override VirtualRouter? ChangeRouter(VirtualNetworkService service, VirtualRouter router)
        {
            bool active = router.State == RouterState.Running || router.State == RouterState.Paused;
            if (active && !Force && ConfirmationRequested(ConfirmImpact.High) &&
                !ShouldContinue("Virtual router '" + router.Name + "' is " + router.State.ToString().ToLowerInvariant() + "; remove it anyway?",
                    "Remove a " + router.State.ToString().ToLowerInvariant() + " virtual router"))
                return null;
            service.RemoveRouter(router.Name, CancellationToken);
            return router;
        }
    }
}
