using System.Management.Automation;

namespace VirtualNetworks.Commands
{
    /// <summary>Move-VirtualRouter: migrates virtual routers to another host, live or cold.</summary>
    [Cmdlet(VerbsCommon.Move, "VirtualRouter", DefaultParameterSetName = ByNameSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(VirtualRouter))]
    public sealed class MoveVirtualRouterCommand : VirtualNetworkCommandBase
    {
        [Parameter(ParameterSetName = ByNameSet, Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(RouterNameCompleter))]
        public string[]? Name { get; set; }

        [Parameter(ParameterSetName = ByInputObjectSet, Mandatory = true, ValueFromPipeline = true)]
        [ValidateNotNull]
        public VirtualRouter[]? InputObject { get; set; }

        [Parameter(ValueFromPipelineByPropertyName = true)]
        public string[]? ComputerName { get; set; }

        [Parameter]
        public SwitchParameter PassThru { get; set; }

        [Parameter(Mandatory = true)]
        [ValidateNotNullOrEmpty]
        public string DestinationHost { get; set; } = "";

        [Parameter]
        public MigrationMode Mode { get; set; } = MigrationMode.Live;

        /// <summary>Progress activity id of Move-VirtualRouter.</summary>
        private const int ActivityId = 7;

        protected override void ProcessRecord() =>
            ForEachRouter(Name, InputObject, ComputerName, (service, router) =>
            {
                string action = Mode + " migration from host '" + router.ComputerName + "' to host '" + DestinationHost + "'";
                if (!ShouldProcess(router.Name, action)) return;
                string activity = "Moving virtual router '" + router.Name + "' to '" + DestinationHost + "' (" + Mode + ")";
                var progress = CreateProgress(ActivityId, activity);
                VirtualRouter moved;
                try
                {
                    moved = service.MoveRouter(router.Name, DestinationHost, Mode, progress, CancellationToken);
                    progress.Drain();
                }
                finally
                {
                    CompleteProgress(ActivityId, activity);
                }
                if (PassThru) WriteObject(moved);
            });
    }
}
