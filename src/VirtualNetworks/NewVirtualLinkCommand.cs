using System.Management.Automation;
using VirtualNetworks.Topology;

namespace VirtualNetworks.Commands
{
    /// <summary>New-VirtualLink: connects two virtual routers with a point-to-point link.</summary>
    [Cmdlet(VerbsCommon.New, "VirtualLink", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
    [OutputType(typeof(VirtualLink))]
    public sealed class NewVirtualLinkCommand : VirtualNetworkCommandBase
    {
        [Parameter(Mandatory = true, Position = 0)]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(RouterNameCompleter))]
        public string From { get; set; } = "";

        [Parameter(Mandatory = true, Position = 1)]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(RouterNameCompleter))]
        public string To { get; set; } = "";

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? Name { get; set; }

        [Parameter]
        [BandwidthTransformation]
        public long? MaximumBandwidth { get; set; }

        [Parameter]
        [ValidateRange(1, 4094)]
        public int? VlanId { get; set; }

        [Parameter]
        public SwitchParameter Force { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(ComputerNameCompleter))]
        public string[]? ComputerName { get; set; }

        protected override void ProcessRecord()
        {
            var spec = new LinkSpec
            {
                Name = Name ?? "",
                From = From,
                To = To,
                MaximumBandwidth = MaximumBandwidth == 0 ? null : MaximumBandwidth,
                VlanId = VlanId,
            };
            string target = string.IsNullOrEmpty(Name) ? From + " <-> " + To : Name + " (" + From + " <-> " + To + ")";
            string action = "Create virtual link (" + Bandwidth.Format(spec.MaximumBandwidth) +
                            (VlanId.HasValue ? ", VLAN " + VlanId.Value : "") + (Force ? ", isolation guard overridden" : "") + ")";
            if (!ShouldProcess(target, action)) return;

            var service = GetService(ComputerName);
            TryItem(() => WriteObject(service.NewLink(spec, Force, CancellationToken)));
        }
    }
}
