using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using VirtualNetworks.Engine;

namespace VirtualNetworks.Commands
{
    /// <summary>
    /// Start-VirtualRouter: starts virtual routers (boots their VMs). The routers of the whole pipeline are started
    /// together at its end (one engine call, so their boots overlap where the backend can; see <see cref="RouterCommandBase"/>).
    /// </summary>
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

        private protected override bool ChangesTogether => true;

        private protected override IReadOnlyList<RouterChangeOutcome> ChangeRouters(VirtualNetworkService service, IReadOnlyList<VirtualRouter> routers) =>
            WaitLater(service, service.StartRouters(routers.Select(r => r.Name).ToList(), Force, CancellationToken), Wait);

        protected override void EndChanges()
        {
            if (Wait) WaitForQueuedRouters(TimeoutSec, PassThru);
        }
    }
}
