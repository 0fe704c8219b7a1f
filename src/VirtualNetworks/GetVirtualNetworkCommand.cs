using System.Management.Automation;

namespace VirtualNetworks.Commands
{
    /// <summary>Get-VirtualNetwork: the virtual networks (connected groups of routers) computed from what is observed.</summary>
    [Cmdlet(VerbsCommon.Get, "VirtualNetwork")]
    [OutputType(typeof(VirtualNetwork))]
    public sealed class GetVirtualNetworkCommand : VirtualNetworkCommandBase
    {
        [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(NetworkNameCompleter))]
        public string[]? Name { get; set; }

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
            foreach (var network in SelectByName(ObservedKinds.Networks, service, snapshot, _names.Patterns))
                WriteObject(network);
        }
    }
}
