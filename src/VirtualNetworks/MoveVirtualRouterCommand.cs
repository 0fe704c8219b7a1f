using System.Management.Automation;
using VirtualNetworks.Engine;

namespace VirtualNetworks.Commands
{
    /// <summary>Move-VirtualRouter: migrates virtual routers to another host, live or cold.</summary>
    [Cmdlet(VerbsCommon.Move, "VirtualRouter", DefaultParameterSetName = ByNameSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(VirtualRouter))]
    public sealed class MoveVirtualRouterCommand : RouterCommandBase
    {
        /// <summary>Progress activity id of Move-VirtualRouter.</summary>
        private const int ActivityId = 7;

        [Parameter(Mandatory = true)]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(DestinationHostCompleter))]
        public string DestinationHost { get; set; } = "";

        [Parameter]
        public MigrationMode Mode { get; set; } = MigrationMode.Live;

        /// <summary>The migration's steps, e.g. "Live migration of r2 from h1 to h3: prepare the network attachments on h3 ...".</summary>
        protected override string ActionText(VirtualRouter router) =>
            VirtualNetworkService.DescribeMoveText(router, DestinationHost, Mode);

        protected override VirtualRouter ChangeRouter(VirtualNetworkService service, VirtualRouter router)
        {
            string activity = "Moving virtual router '" + router.Name + "' to '" + DestinationHost + "' (" + Mode + ")";
            var progress = CreateProgress(ActivityId, activity);
            try
            {
                var moved = service.MoveRouter(router.Name, DestinationHost, Mode, progress, CancellationToken);
                progress.Drain();
                return moved;
            }
            finally
            {
                CompleteProgress(ActivityId, activity);
            }
        }
    }
}
