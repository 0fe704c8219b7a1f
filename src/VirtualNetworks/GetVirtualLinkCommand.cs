using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using VirtualNetworks.Engine;

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
            var service = GetService(ComputerName);
            Snapshot? snapshot = null;
            if (!TryItem(() => snapshot = service.Observe(CancellationToken))) return;

            HashSet<string>? attachedTo = null;
            if (RouterName != null)
            {
                var routers = SelectByName(snapshot!.Routers, r => r.Name, RouterName, n => service.RequireRouter(snapshot, n));
                attachedTo = new HashSet<string>(routers.Select(r => r.Name), StringComparer.OrdinalIgnoreCase);
            }

            var links = SelectByName(snapshot!.Links, l => l.Name, Name, n => service.RequireLink(snapshot, n));
            foreach (var link in links)
            {
                if (!MatchesAny(link.NetworkName, NetworkName)) continue;
                if (attachedTo != null && !attachedTo.Contains(link.From) && !attachedTo.Contains(link.To)) continue;
                WriteObject(link);
            }
        }
    }
}
