using System.Management.Automation;

namespace VirtualNetworks.Commands
{
    /// <summary>
    /// Get-VirtualRoutingStatus: the routing protocol state of running routers' guests: OSPF neighbours, BFD sessions,
    /// and the neighbour changes and BFD downs counted since each guest booted.
    /// </summary>
    [Cmdlet(VerbsCommon.Get, "VirtualRoutingStatus")]
    [OutputType(typeof(RoutingStatus))]
    public sealed class GetVirtualRoutingStatusCommand : VirtualNetworkCommandBase
    {
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [Alias("Name")]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(RouterNameCompleter))]
        public string[]? RouterName { get; set; }

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
                TryItem(() => WriteObject(service.GetRoutingStatus(router.Name, CancellationToken)));
        }
    }
}
