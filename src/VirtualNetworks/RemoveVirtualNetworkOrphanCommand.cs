using System.Management.Automation;

namespace VirtualNetworks.Commands
{
    /// <summary>
    /// Remove-VirtualNetworkOrphan: finds what a crash left behind (tagged processes, interfaces, sockets, overlays,
    /// state files) and removes it. Only resources carrying the module's tag are ever listed.
    /// </summary>
    [Cmdlet(VerbsCommon.Remove, "VirtualNetworkOrphan", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(OrphanResource))]
    public sealed class RemoveVirtualNetworkOrphanCommand : VirtualNetworkCommandBase
    {
        /// <summary>Remove every resource the module owns on the host, not only orphans (a full reset).</summary>
        [Parameter]
        public SwitchParameter All { get; set; }

        [Parameter]
        [ArgumentCompleter(typeof(ComputerNameCompleter))]
        public string[]? ComputerName { get; set; }

        [Parameter]
        public SwitchParameter PassThru { get; set; }

        protected override void ProcessRecord()
        {
            var service = GetService(ComputerName);
            // Found and removed under exclusive access: nothing a concurrent command is creating can look orphaned meanwhile.
            using var exclusive = OrTerminate(() => service.Exclusive(CancellationToken));
            var found = OrTerminate(() => service.FindOrphans(All, CancellationToken));
            foreach (var resource in found)
            {
                if (!ShouldProcess(resource.Kind + " " + resource.Name, "Remove leftover (" + resource.Reason + ")")) continue;
                if (TryItem(() => service.RemoveOrphan(resource, CancellationToken)) && PassThru) WriteObject(resource);
            }
        }
    }
}
