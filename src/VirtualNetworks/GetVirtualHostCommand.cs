using System.Management.Automation;

namespace VirtualNetworks.Commands
{
    /// <summary>Get-VirtualHost: the hosts (real machines and lab hosts) with their routers and physical neighbours.</summary>
    [Cmdlet(VerbsCommon.Get, "VirtualHost")]
    [OutputType(typeof(VirtualHost))]
    public sealed class GetVirtualHostCommand : VirtualNetworkCommandBase
    {
        [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(HostNameCompleter))]
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
            foreach (var host in SelectByName(ObservedKinds.Hosts, service, snapshot, _names.Patterns))
                WriteObject(host);
        }
    }
}
