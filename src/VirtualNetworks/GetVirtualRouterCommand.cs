using System.Linq;
using System.Management.Automation;
using VirtualNetworks.Engine;

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
            var service = GetService(ComputerName);
            Snapshot? snapshot = null;
            if (!TryItem(() => snapshot = service.Observe(CancellationToken))) return;
            var routers = SelectByName(snapshot!.Routers, r => r.Name, Name, n => service.RequireRouter(snapshot, n));
            foreach (var router in routers.Where(r => MatchesAny(r.NetworkName, NetworkName)))
                WriteObject(router);
        }
    }
}
