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

        /// <summary>Memory in MB; not bound = the backend's default (BackendCapabilities.DefaultMemoryMB).</summary>
        [Parameter]
        public int MemoryMB { get; set; }

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
                MemoryMB = MyInvocation.BoundParameters.ContainsKey(nameof(MemoryMB)) ? MemoryMB : (int?)null,
                NetworkLabel = string.IsNullOrEmpty(NetworkLabel) ? null : NetworkLabel,
                AddressFamily = AddressFamily,
            };
            // The backend first: memory not given is its default, and -WhatIf shows the number the router would get.
            var service = GetService(host.Length == 0 ? null : new[] { host });
            spec = service.WithBackendDefaults(spec);
            string action = "Create virtual router (host " + (host.Length == 0 ? HostNames.LocalName : host) + ", image " + Image + ", " +
                            ProcessorCount + " CPU, " + spec.MemoryMB + " MB, " + AddressFamily + (Start ? ", started" : "") + ")";
            if (!ShouldProcess(Name, action)) return;

            TryItem(() => WriteObject(service.NewRouter(spec, Start, Force, CancellationToken)));
        }
    }
}
