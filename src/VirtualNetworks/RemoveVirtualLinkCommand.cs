using System.Management.Automation;

namespace VirtualNetworks.Commands
{
    /// <summary>Remove-VirtualLink: removes links and updates the addresses and routes of the routers they joined.</summary>
    [Cmdlet(VerbsCommon.Remove, "VirtualLink", DefaultParameterSetName = ByNameSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(VirtualLink))]
    public sealed class RemoveVirtualLinkCommand : VirtualNetworkCommandBase
    {
        [Parameter(ParameterSetName = ByNameSet, Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(LinkNameCompleter))]
        public string[]? Name { get; set; }

        [Parameter(ParameterSetName = ByInputObjectSet, Mandatory = true, ValueFromPipeline = true)]
        [ValidateNotNull]
        public VirtualLink[]? InputObject { get; set; }

        [Parameter(ValueFromPipelineByPropertyName = true)]
        public string[]? ComputerName { get; set; }

        [Parameter]
        public SwitchParameter PassThru { get; set; }

        protected override void ProcessRecord() =>
            ForEachLink(Name, InputObject, ComputerName, (service, link) =>
            {
                if (!ShouldProcess(link.Name, "Remove virtual link between '" + link.From + "' and '" + link.To + "'")) return;
                service.RemoveLink(link.Name, CancellationToken);
                if (PassThru) WriteObject(link);
            });
    }
}
