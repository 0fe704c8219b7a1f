using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;

namespace VirtualNetworks.Commands
{
    /// <summary>
    /// Get-VirtualLink: the virtual links as observed, sorted by name. Names from the pipeline (strings, or objects with a
    /// Name property) are gathered and answered from one observation at the end.
    /// </summary>
    [Cmdlet(VerbsCommon.Get, "VirtualLink")]
    [OutputType(typeof(VirtualLink))]
    public sealed class GetVirtualLinkCommand : VirtualNetworkCommandBase
    {
        [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(LinkNameCompleter))]
        public string[]? Name { get; set; }

        [Parameter]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(NetworkNameCompleter))]
        public string[]? NetworkName { get; set; }

        [Parameter]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(RouterNameCompleter))]
        public string[]? RouterName { get; set; }

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

            HashSet<string>? attachedTo = null;
            if (RouterName != null)
            {
                var routers = SelectByName(ObservedKinds.Routers, service, snapshot, RouterName);
                attachedTo = new HashSet<string>(routers.Select(r => r.Name), StringComparer.OrdinalIgnoreCase);
            }

            foreach (var link in SelectByName(ObservedKinds.Links, service, snapshot, _names.Patterns))
            {
                if (!MatchesAny(link.NetworkName, NetworkName)) continue;
                if (attachedTo != null && !attachedTo.Contains(link.From) && !attachedTo.Contains(link.To)) continue;
                WriteObject(link);
            }
        }
    }
}
