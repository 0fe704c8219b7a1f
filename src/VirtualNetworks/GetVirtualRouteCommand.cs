using System.Management.Automation;

namespace VirtualNetworks.Commands
{
    /// <summary>
    /// Get-VirtualRoute: the routing table of running routers' guests as objects (prefix, next hop, link, protocol,
    /// metric). Router names from the pipeline (strings, router objects by their Name) are gathered and answered from one
    /// observation at the end; each router's table is read on its own (a router that does not run is a non-terminating
    /// RouterNotRunning error).
    /// </summary>
    [Cmdlet(VerbsCommon.Get, "VirtualRoute")]
    [OutputType(typeof(VirtualRoute))]
    public sealed class GetVirtualRouteCommand : VirtualNetworkCommandBase
    {
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [Alias("Name")]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(RouterNameCompleter))]
        public string[]? RouterName { get; set; }

        [Parameter]
        public NetworkAddressFamily? AddressFamily { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? Protocol { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(ComputerNameCompleter))]
        public string[]? ComputerName { get; set; }

        private readonly PipelineNames _names = new PipelineNames();

        protected override void ProcessRecord() => _names.Add(RouterName);

        protected override void EndRecords()
        {
            if (_names.Nothing) return;
            if (!TryObserve(ComputerName, out var service, out var snapshot)) return;
            foreach (var router in SelectByName(ObservedKinds.Routers, service, snapshot, _names.Patterns))
                TryItem(() =>
                {
                    foreach (var route in service.GetRoutes(router.Name, AddressFamily, Protocol, CancellationToken)) WriteObject(route);
                });
        }
    }
}
