using System.Linq;
using System.Management.Automation;

namespace VirtualNetworks.Commands
{
    /// <summary>
    /// Get-VirtualRouter: the virtual routers as observed on their hosts, sorted by name. Names from the pipeline (strings,
    /// or objects with a Name property) are gathered and answered from one observation at the end.
    /// </summary>
    [Cmdlet(VerbsCommon.Get, "VirtualRouter")]
    [OutputType(typeof(VirtualRouter))]
    public sealed class GetVirtualRouterCommand : VirtualNetworkCommandBase
    {
        [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
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
        [ArgumentCompleter(typeof(ComputerNameCompleter))]
        public string[]? ComputerName { get; set; }

        private readonly PipelineNames _names = new PipelineNames();

        protected override void ProcessRecord() => _names.Add(Name);

        protected override void EndRecords()
        {
            if (_names.Nothing) return; // the pipeline brought no names
            if (!TryObserve(ComputerName, out var service, out var snapshot)) return;
            foreach (var router in SelectByName(ObservedKinds.Routers, service, snapshot, _names.Patterns).Where(r => MatchesAny(r.NetworkName, NetworkName)))
                WriteObject(router);
        }
    }
}
