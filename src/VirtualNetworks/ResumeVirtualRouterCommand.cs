using System.Management.Automation;

namespace VirtualNetworks.Commands
{
    /// <summary>Resume-VirtualRouter: resumes paused virtual routers.</summary>
    [Cmdlet(VerbsLifecycle.Resume, "VirtualRouter", DefaultParameterSetName = ByNameSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
    [OutputType(typeof(VirtualRouter))]
    public sealed class ResumeVirtualRouterCommand : VirtualNetworkCommandBase
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

        protected override void ProcessRecord() =>
            ForEachRouter(Name, InputObject, ComputerName, (service, router) =>
            {
                if (!ShouldProcess(router.Name, "Resume virtual router")) return;
                var resumed = service.ResumeRouter(router.Name, CancellationToken);
                if (PassThru) WriteObject(resumed);
            });
    }
}
