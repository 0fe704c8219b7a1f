using System.Management.Automation;
using VirtualNetworks.Engine;
using VirtualNetworks.Topology;

namespace VirtualNetworks.Commands
{
    /// <summary>Set-VirtualLink: changes the bandwidth limit of live links in place.</summary>
    [Cmdlet(VerbsCommon.Set, "VirtualLink", DefaultParameterSetName = ByNameSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(VirtualLink))]
    public sealed class SetVirtualLinkCommand : LinkCommandBase
    {
        [Parameter(Mandatory = true)]
        [AllowNull]
        [BandwidthTransformation]
        public long? MaximumBandwidth { get; set; }

        [Parameter]
        public SwitchParameter PassThru { get; set; }

        protected override void ProcessLink(VirtualNetworkService service, VirtualLink link)
        {
            long? limit = MaximumBandwidth == 0 ? null : MaximumBandwidth;
            string action = limit == null ? "Remove the bandwidth limit" : "Set the maximum bandwidth to " + Bandwidth.Format(limit);
            if (!ShouldProcess(link.Name, action)) return;
            var changed = service.SetLinkBandwidth(link.Name, limit, CancellationToken);
            if (PassThru) WriteObject(changed);
        }
    }
}
