using System.Management.Automation;
using VirtualNetworks.Engine;

namespace VirtualNetworks.Commands
{
    /// <summary>
    /// The commands that read routing from running routers' guests (Get-VirtualRoute, Get-VirtualRoutingStatus): router
    /// names from the pipeline (strings, router objects by their Name) are gathered and answered from one observation at
    /// the end; each router is read on its own (a router that does not run is a non-terminating RouterNotRunning error).
    /// </summary>
    public abstract class GuestRoutingCommandBase : VirtualNetworkCommandBase
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
                TryItem(() => WriteRouting(service, router.Name));
        }

        /// <summary>Reads and writes what the command returns for one router.</summary>
        private protected abstract void WriteRouting(VirtualNetworkService service, string routerName);
    }
}
