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

        /// <summary>Waits until the routers' guests are ready (booted, configuration applied) before returning.</summary>
        [Parameter]
        public SwitchParameter Wait { get; set; }

        /// <summary>With -Wait: how long to wait for all the routers together, in seconds.</summary>
        [Parameter]
        [ValidateRange(1, MaximumReadyTimeoutSec)]
        public int TimeoutSec { get; set; } = DefaultReadyTimeoutSec;

        protected override VirtualRouter? ChangeRouter(VirtualNetworkService service, VirtualRouter router)
        {
            var changed = service.StartRouter(router.Name, Force, CancellationToken);
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
