using System.Linq;
using System.Management.Automation;

namespace VirtualNetworks.Commands
{
    /// <summary>Get-VirtualRouter: the virtual routers as observed on their hosts, sorted by name.</summary>
    [Cmdlet(VerbsCommon.Get, "VirtualRouter")]
    [OutputType(typeof(VirtualRouter))]
    public sealed class GetVirtualRouterCommand : VirtualNetworkCommandBase
    {
        [Parameter(Position = 0)]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(RouterNameCompleter))]
        public string[]? Name { get; set; }

        [Parameter]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(NetworkNameCompleter))]
        public string[]? NetworkName { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[]? ComputerName { get; set; }

        protected override void ProcessRecord()
        {
            if (!TryObserve(ComputerName, out var service, out var snapshot)) return;
            foreach (var router in SelectByName(ObservedKinds.Routers, service, snapshot, Name).Where(r => MatchesAny(r.NetworkName, NetworkName)))
                WriteObject(router);
        }
    }
}
