using System.Management.Automation;
using VirtualNetworks.Topology;

namespace VirtualNetworks.Commands
{
    /// <summary>New-VirtualRouter: creates a virtual router (a VM running a router OS), optionally starting it.</summary>
    [Cmdlet(VerbsCommon.New, "VirtualRouter", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
    [OutputType(typeof(VirtualRouter))]
    public sealed class NewVirtualRouterCommand : VirtualNetworkCommandBase
    {
        [Parameter(Mandatory = true, Position = 0)]
        [ValidateNotNullOrEmpty]
        public string Name { get; set; } = "";

        [Parameter]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(ComputerNameCompleter))]
        public string? ComputerName { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(ImageNameCompleter))]
        public string Image { get; set; } = TopologyDefaults.Image;

        [Parameter]
        public int ProcessorCount { get; set; } = TopologyDefaults.ProcessorCount;

        [Parameter]
        public int MemoryMB { get; set; } = TopologyDefaults.MemoryMB;

        [Parameter]
        [Alias("Network")]
        public string? NetworkLabel { get; set; }

        [Parameter]
        public NetworkAddressFamily AddressFamily { get; set; } = TopologyDefaults.AddressFamily;

        [Parameter]
        public SwitchParameter Start { get; set; }

        /// <summary>Skips the backend's admission check (memory and number of routers the host can take).</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        protected override void ProcessRecord()
        {
            string host = HostNames.IsLocalHost(ComputerName) ? "" : ComputerName!;
            var spec = new RouterSpec
            {
                Name = Name,
                Host = host,
                Image = Image,
                ProcessorCount = ProcessorCount,
                MemoryMB = MemoryMB,
                NetworkLabel = string.IsNullOrEmpty(NetworkLabel) ? null : NetworkLabel,
                AddressFamily = AddressFamily,
            };
            string action = "Create virtual router (host " + (host.Length == 0 ? HostNames.LocalName : host) + ", image " + Image + ", " +
                            ProcessorCount + " CPU, " + MemoryMB + " MB, " + AddressFamily + (Start ? ", started" : "") + ")";
            if (!ShouldProcess(Name, action)) return;

            var service = GetService(host.Length == 0 ? null : new[] { host });
            TryItem(() => WriteObject(service.NewRouter(spec, Start, Force, CancellationToken)));
        }
    }
}
