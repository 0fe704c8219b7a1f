using System.Management.Automation;
using VirtualNetworks.Engine;

namespace VirtualNetworks.Commands
{
    /// <summary>Resume-VirtualRouter: resumes paused virtual routers.</summary>
    [Cmdlet(VerbsLifecycle.Resume, "VirtualRouter", DefaultParameterSetName = ByNameSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
    [OutputType(typeof(VirtualRouter))]
    public sealed class ResumeVirtualRouterCommand : RouterCommandBase
    {
        protected override string ActionText(VirtualRouter router) => "Resume virtual router";

        protected override VirtualRouter ChangeRouter(VirtualNetworkService service, VirtualRouter router) =>
            service.ResumeRouter(router.Name, CancellationToken);
    }
}
