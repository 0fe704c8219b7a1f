using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;

namespace VirtualNetworks.Commands
{
    /// <summary>Get-VirtualLink: the virtual links as observed, sorted by name.</summary>
    [Cmdlet(VerbsCommon.Get, "VirtualLink")]
    [OutputType(typeof(VirtualLink))]
    public sealed class GetVirtualLinkCommand : VirtualNetworkCommandBase
    {
        [Parameter(Position = 0)]
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
        public string[]? ComputerName { get; set; }

        protected override void ProcessRecord()
        {
            if (!TryObserve(ComputerName, out var service, out var snapshot)) return;

            HashSet<string>? attachedTo = null;
            if (RouterName != null)
            {
                var routers = SelectByName(ObservedKinds.Routers, service, snapshot, RouterName);
                attachedTo = new HashSet<string>(routers.Select(r => r.Name), StringComparer.OrdinalIgnoreCase);
            }

            foreach (var link in SelectByName(ObservedKinds.Links, service, snapshot, Name))
            {
                if (!MatchesAny(link.NetworkName, NetworkName)) continue;
                if (attachedTo != null && !attachedTo.Contains(link.From) && !attachedTo.Contains(link.To)) continue;
                WriteObject(link);
            }
        }
    }
}
