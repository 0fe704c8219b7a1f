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

        /// <summary>Waits until the routers' guests are ready (booted, configuration applied) before returning.</summary>
        [Parameter]
        public SwitchParameter Wait { get; set; }

        /// <summary>With -Wait: how long to wait for all the routers together, in seconds.</summary>
        [Parameter]
        [ValidateRange(1, MaximumReadyTimeoutSec)]
        public int TimeoutSec { get; set; } = DefaultReadyTimeoutSec;

        protected override VirtualRouter? ChangeRouter(VirtualNetworkService service, VirtualRouter router)
        {
            var changed = service.ResumeRouter(router.Name, CancellationToken);
            if (!Wait) return changed;
            QueueReadyWait(service, changed.Name); // waited for (and passed through) after the last router
            return null;
        }

        protected override void EndRecords()
        {
            if (Wait) WaitForQueuedRouters(TimeoutSec, PassThru);
        }
    }
}
