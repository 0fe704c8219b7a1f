using System.Management.Automation;
using VirtualNetworks.Engine;

namespace VirtualNetworks.Commands
{
    /// <summary>Get-VirtualNetwork: the virtual networks (connected groups of routers) computed from what is observed.</summary>
    [Cmdlet(VerbsCommon.Get, "VirtualNetwork")]
    [OutputType(typeof(VirtualNetwork))]
    public sealed class GetVirtualNetworkCommand : VirtualNetworkCommandBase
    {
        [Parameter(Position = 0)]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(NetworkNameCompleter))]
        public string[]? Name { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[]? ComputerName { get; set; }

        protected override void ProcessRecord()
        {
            var service = GetService(ComputerName);
            Snapshot? snapshot = null;
            if (!TryItem(() => snapshot = service.Observe(CancellationToken))) return;
            foreach (var network in SelectByName(snapshot!.Networks, n => n.Name, Name, n => service.RequireNetwork(snapshot, n)))
                WriteObject(network);
        }
    }
}
