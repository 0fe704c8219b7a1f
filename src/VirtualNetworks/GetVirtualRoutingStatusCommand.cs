using System.Management.Automation;
using VirtualNetworks.Engine;

namespace VirtualNetworks.Commands
{
    /// <summary>
    /// Get-VirtualRoutingStatus: the routing protocol state of running routers' guests: OSPF neighbours, BFD sessions,
    /// and the neighbour changes and BFD downs counted since each guest booted.
    /// </summary>
    [Cmdlet(VerbsCommon.Get, "VirtualRoutingStatus")]
    [OutputType(typeof(RoutingStatus))]
    public sealed class GetVirtualRoutingStatusCommand : GuestRoutingCommandBase
    {
        private protected override void WriteRouting(VirtualNetworkService service, string routerName) =>
            WriteObject(service.GetRoutingStatus(routerName, CancellationToken));
    }
}
