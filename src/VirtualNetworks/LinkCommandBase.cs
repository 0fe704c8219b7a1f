using System.Management.Automation;
using VirtualNetworks.Engine;

namespace VirtualNetworks.Commands
{
    /// <summary>
    /// The base of the cmdlets that work on existing virtual links one by one (Set-, Remove- and Measure-VirtualLink). It
    /// declares their shared parameters: the links by -Name (wildcards allowed) or as -InputObject from the pipeline, and
    /// -ComputerName. It runs the loop: each link freshly observed, then handed to the leaf. A link that is not found, and
    /// a failing leaf, are non-terminating errors; the next link still runs.
    /// </summary>
    public abstract class LinkCommandBase : VirtualNetworkCommandBase
    {
        [Parameter(ParameterSetName = ByNameSet, Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(LinkNameCompleter))]
        public string[]? Name { get; set; }

        [Parameter(ParameterSetName = ByInputObjectSet, Mandatory = true, ValueFromPipeline = true)]
        [ValidateNotNull]
        public VirtualLink[]? InputObject { get; set; }

        [Parameter(ValueFromPipelineByPropertyName = true)]
        [ArgumentCompleter(typeof(ComputerNameCompleter))]
        public string[]? ComputerName { get; set; }

        protected sealed override void ProcessRecord()
        {
            if (GatherSelection(Name, InputObject)) return;
            ForEachSelected(ObservedKinds.Links, Name, InputObject, ComputerName, link => new[] { link.FromComputerName, link.ToComputerName }, ProcessLink);
        }

        /// <summary>
        /// A leaf that works on all the pipeline's links at once (in <see cref="VirtualNetworkCommandBase.EndRecords"/>)
        /// records this record's selection here and returns true; the default (false) works link by link.
        /// </summary>
        private protected virtual bool GatherSelection(string[]? names, VirtualLink[]? inputObjects) => false;

        /// <summary>The work on one link (ShouldProcess included, where the cmdlet changes something).</summary>
        protected abstract void ProcessLink(VirtualNetworkService service, VirtualLink link);
    }
}
