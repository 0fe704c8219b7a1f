using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using VirtualNetworks.Engine;

namespace VirtualNetworks.Commands
{
    /// <summary>
    /// Resume-VirtualRouter: resumes paused virtual routers. The routers of the whole pipeline are resumed together at
    /// its end (one engine call; see <see cref="RouterCommandBase"/>).
    /// </summary>
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

        private protected override bool ChangesTogether => true;

        private protected override IReadOnlyList<RouterChangeOutcome> ChangeRouters(VirtualNetworkService service, IReadOnlyList<VirtualRouter> routers) =>
            WaitLater(service, service.ResumeRouters(routers.Select(r => r.Name).ToList(), CancellationToken), Wait);

        protected override void EndChanges()
        {
            if (Wait) WaitForQueuedRouters(TimeoutSec, PassThru);
        }
    }
}
