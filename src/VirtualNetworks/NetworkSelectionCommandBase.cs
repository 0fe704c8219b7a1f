using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using VirtualNetworks.Engine;

namespace VirtualNetworks.Commands
{
    /// <summary>
    /// The base of the cmdlets that work once on a whole selection of virtual networks (Export- and Test-VirtualNetwork).
    /// It declares their shared parameters, -Name (wildcards allowed, also from the pipeline by value and by property name) and
    /// -ComputerName, gathers the names of every pipeline record, and observes and selects once at the end: the leaf
    /// does its work in <see cref="VirtualNetworkCommandBase.EndRecords"/>.
    /// </summary>
    public abstract class NetworkSelectionCommandBase : VirtualNetworkCommandBase
    {
        private readonly List<string> _names = new List<string>();
        private bool _allNetworks;

        [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(NetworkNameCompleter))]
        public string[]? Name { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(ComputerNameCompleter))]
        public string[]? ComputerName { get; set; }

        protected sealed override void ProcessRecord()
        {
            if (Name == null || Name.Length == 0) _allNetworks = true;
            else _names.AddRange(Name);
        }

        /// <summary>True when the pipeline brought records but no names in them, so there is nothing to work on.</summary>
        protected bool NothingSelected => !_allNetworks && _names.Count == 0;

        /// <summary>
        /// Observes -ComputerName (a failure ends the command) and resolves the gathered names. <paramref name="networks"/>
        /// is null when every network is selected. False when names were given and none matched (literal names have
        /// already been reported as not found).
        /// </summary>
        protected bool ObserveSelection(out VirtualNetworkService service, out Snapshot snapshot, out List<string>? networks)
        {
            var chosen = GetService(ComputerName);
            var observed = OrTerminate(() => chosen.Observe(CancellationToken));
            service = chosen;
            snapshot = observed;
            networks = null;
            if (_allNetworks) return true;
            networks = SelectByName(ObservedKinds.Networks, chosen, observed, _names).Select(n => n.Name).ToList();
            return networks.Count > 0;
        }
    }
}
