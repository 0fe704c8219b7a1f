using System.Management.Automation;
using VirtualNetworks.Topology;

namespace VirtualNetworks.Commands
{
    /// <summary>Set-VirtualLink: changes the bandwidth limit of live links in place.</summary>
    [Cmdlet(VerbsCommon.Set, "VirtualLink", DefaultParameterSetName = ByNameSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(VirtualLink))]
    public sealed class SetVirtualLinkCommand : VirtualNetworkCommandBase
    {
        [Parameter(ParameterSetName = ByNameSet, Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(LinkNameCompleter))]
        public string[]? Name { get; set; }

        [Parameter(ParameterSetName = ByInputObjectSet, Mandatory = true, ValueFromPipeline = true)]
        [ValidateNotNull]
        public VirtualLink[]? InputObject { get; set; }

        [Parameter(Mandatory = true)]
        [AllowNull]
        [BandwidthTransformation]
        public long? MaximumBandwidth { get; set; }

        [Parameter(ValueFromPipelineByPropertyName = true)]
        public string[]? ComputerName { get; set; }

        [Parameter]
        public SwitchParameter PassThru { get; set; }

        protected override void ProcessRecord()
        {
            long? limit = MaximumBandwidth == 0 ? null : MaximumBandwidth;
            string action = limit == null ? "Remove the bandwidth limit" : "Set the maximum bandwidth to " + Bandwidth.Format(limit);
            ForEachLink(Name, InputObject, ComputerName, (service, link) =>
            {
                if (!ShouldProcess(link.Name, action)) return;
                var changed = service.SetLinkBandwidth(link.Name, limit, CancellationToken);
                if (PassThru) WriteObject(changed);
            });
        }
    }
}
