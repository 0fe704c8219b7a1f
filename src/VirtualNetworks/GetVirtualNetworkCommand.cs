using System.Management.Automation;

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
            if (!TryObserve(ComputerName, out var service, out var snapshot)) return;
            foreach (var network in SelectByName(ObservedKinds.Networks, service, snapshot, Name))
                WriteObject(network);
        }
    }
}
