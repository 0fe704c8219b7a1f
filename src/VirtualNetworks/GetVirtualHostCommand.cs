using System.Management.Automation;

namespace VirtualNetworks.Commands
{
    /// <summary>Get-VirtualHost: the hosts (real machines and lab hosts) with their routers and physical neighbours.</summary>
    [Cmdlet(VerbsCommon.Get, "VirtualHost")]
    [OutputType(typeof(VirtualHost))]
    public sealed class GetVirtualHostCommand : VirtualNetworkCommandBase
    {
        [Parameter(Position = 0)]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(HostNameCompleter))]
        public string[]? Name { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[]? ComputerName { get; set; }

        protected override void ProcessRecord()
        {
            if (!TryObserve(ComputerName, out var service, out var snapshot)) return;
            foreach (var host in SelectByName(ObservedKinds.Hosts, service, snapshot, Name))
                WriteObject(host);
        }
    }
}
