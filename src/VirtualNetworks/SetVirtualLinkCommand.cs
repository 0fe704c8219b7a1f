using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using VirtualNetworks.Engine;
using VirtualNetworks.Topology;

namespace VirtualNetworks.Commands
{
    /// <summary>
    /// Set-VirtualLink: changes the bandwidth limit of live links in place. The links of the whole pipeline are gathered
    /// and changed together at its end (one observation to select them, one engine call per backend that changes them all
    /// under one exclusive scope), so setting N links costs O(N), not an observation of everything per link.
    /// </summary>
    [Cmdlet(VerbsCommon.Set, "VirtualLink", DefaultParameterSetName = ByNameSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(VirtualLink))]
    public sealed class SetVirtualLinkCommand : LinkCommandBase
    {
        [Parameter(Mandatory = true)]
        [AllowNull]
        [BandwidthTransformation]
        public long? MaximumBandwidth { get; set; }

        [Parameter]
        public SwitchParameter PassThru { get; set; }

        /// <summary>What the pipeline asked for, per set of hosts (the backend that serves them): name patterns and given links' names.</summary>
        private readonly Dictionary<string, (string[] Hosts, List<string> Patterns, List<string> Given)> _wanted =
            new Dictionary<string, (string[] Hosts, List<string> Patterns, List<string> Given)>(StringComparer.OrdinalIgnoreCase);

        private (string[] Hosts, List<string> Patterns, List<string> Given) Wanted(string[] hosts)
        {
            var key = string.Join("\n", hosts.Select(h => h.Trim()).OrderBy(h => h, StringComparer.OrdinalIgnoreCase));
            if (!_wanted.TryGetValue(key, out var w)) _wanted[key] = w = (hosts, new List<string>(), new List<string>());
            return w;
        }

        private protected override bool GatherSelection(string[]? names, VirtualLink[]? inputObjects)
        {
            if (inputObjects != null)
            {
                foreach (var given in inputObjects.Where(o => o != null))
                    Wanted(ComputerName ?? new[] { given.FromComputerName, given.ToComputerName }.Where(h => !string.IsNullOrEmpty(h)).ToArray()!).Given.Add(given.Name);
            }
            else
            {
                Wanted(ComputerName ?? Array.Empty<string>()).Patterns.AddRange(names ?? Array.Empty<string>());
            }
            return true;
        }

        protected override void ProcessLink(VirtualNetworkService service, VirtualLink link) =>
            throw new InvalidOperationException("Set-VirtualLink gathers its links (GatherSelection).");

        protected override void EndRecords()
        {
            long? limit = MaximumBandwidth == 0 ? null : MaximumBandwidth;
            string action = limit == null ? "Remove the bandwidth limit" : "Set the maximum bandwidth to " + Bandwidth.Format(limit);
            foreach (var w in _wanted.Values)
            {
                if (!TryObserve(w.Hosts, out var service, out var snapshot)) continue;
                var selected = new Dictionary<string, VirtualLink>(StringComparer.OrdinalIgnoreCase);
                if (w.Patterns.Count > 0)
                    foreach (var l in SelectByName(ObservedKinds.Links, service, snapshot, w.Patterns)) selected[l.Name] = l;
                foreach (var name in w.Given)
                {
                    VirtualLink? found = null;
                    if (TryItem(() => found = service.RequireLink(snapshot, name))) selected[found!.Name] = found;
                }
                var approved = selected.Values.OrderBy(l => l.Name, StringComparer.OrdinalIgnoreCase)
                    .Where(l => ShouldProcess(l.Name, action)).Select(l => l.Name).ToList();
                if (approved.Count == 0) continue;
                var failures = new List<VirtualNetworksException>();
                List<VirtualLink>? changed = null;
                TryItem(() => changed = service.SetLinkBandwidth(approved, limit, CancellationToken, failures));
                foreach (var f in failures) WriteError(ToErrorRecord(f));
                if (PassThru && changed != null) foreach (var l in changed) WriteObject(l);
            }
        }
    }
}
