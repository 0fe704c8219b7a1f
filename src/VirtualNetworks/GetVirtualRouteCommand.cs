using System.Management.Automation;
using VirtualNetworks.Engine;

namespace VirtualNetworks.Commands
{
    /// <summary>
    /// Get-VirtualRoute: the routing table of running routers' guests as objects (prefix, next hop, link, protocol,
    /// metric), optionally only one address family or protocol.
    /// </summary>
    [Cmdlet(VerbsCommon.Get, "VirtualRoute")]
    [OutputType(typeof(VirtualRoute))]
    public sealed class GetVirtualRouteCommand : GuestRoutingCommandBase
    {
        [Parameter]
        public NetworkAddressFamily? AddressFamily { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? Protocol { get; set; }

        private protected override void WriteRouting(VirtualNetworkService service, string routerName)
        {
            foreach (var route in service.GetRoutes(routerName, AddressFamily, Protocol, CancellationToken)) WriteObject(route);
        }
    }
}
