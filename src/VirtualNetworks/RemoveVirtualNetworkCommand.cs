using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using VirtualNetworks.Engine;
using VirtualNetworks.Planning;

namespace VirtualNetworks.Commands
{
    /// <summary>
    /// Remove-VirtualNetwork: removes every link and router of whole virtual networks. One confirmation per network;
    /// with -WhatIf every planned step is shown instead.
    /// </summary>
    [Cmdlet(VerbsCommon.Remove, "VirtualNetwork", DefaultParameterSetName = ByNameSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(VirtualNetwork))]
    public sealed class RemoveVirtualNetworkCommand : VirtualNetworkCommandBase
    {
        /// <summary>Progress activity id of Remove-VirtualNetwork.</summary>
        private const int ActivityId = 16;
        private const string Activity = "Removing virtual networks";

        [Parameter(ParameterSetName = ByNameSet, Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(NetworkNameCompleter))]
        public string[]? Name { get; set; }

        [Parameter(ParameterSetName = ByInputObjectSet, Mandatory = true, ValueFromPipeline = true)]
        [ValidateNotNull]
        public VirtualNetwork[]? InputObject { get; set; }

        /// <summary>Network identities this command has removed (a later pipeline record naming one of their fragments is done already).</summary>
        private readonly HashSet<string> _removed = new HashSet<string>(StringComparer.OrdinalIgnoreCase);

        [Parameter]
        public SwitchParameter Force { get; set; }

        [Parameter]
        public SwitchParameter PassThru { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(ComputerNameCompleter))]
        public string[]? ComputerName { get; set; }

        protected override void ProcessRecord()
        {
            if (!TryObserve(ComputerName, out var service, out var snapshot)) return;

            var names = InputObject != null ? InputObject.Where(n => n != null).Select(n => n.Name) : Name;
            // Objects from the pipeline are looked up again by name: their literal names must still exist.
            var targets = SelectTargets(service, snapshot, InputObject != null ? names?.Select(WildcardPattern.Escape) : names);

            bool whatIf = WhatIfRequested();
            var chosen = new List<VirtualNetwork>();
            var identities = new List<string>();
            foreach (var target in targets)
            {
                if (target.Networks.Count > 1)
                    WriteWarning("Virtual network '" + target.Name + "' is split into " + target.Networks.Count + " fragments (" +
                                 string.Join(", ", target.Networks.Select(n => n.Name)) + "): routers labelled '" + target.Name +
                                 "' that no link joins (an interrupted removal or deployment, or a topology that does not link them). " +
                                 "All of them are removed.");
                else if (target.Networks.Count == 1 && target.FragmentCount > 1)
                    WriteVerbose("Removing only fragment '" + target.Networks[0].Name + "' of virtual network '" + target.Name + "' (" +
                                 target.FragmentCount + " fragments); Remove-VirtualNetwork '" + target.Name + "' removes all of them.");
                if (target.Networks.Count == 0)
                    WriteVerbose("Virtual network '" + target.Name + "' has no router left; removing the lab hosts deployed for it that nothing uses: " +
                                 string.Join(", ", target.LeftoverHosts) + ".");
                if (whatIf)
                {
                    chosen.AddRange(target.Networks); // each planned step is shown below instead of one line per network
                    identities.Add(target.Name);
                    continue;
                }
                if (!ShouldProcess(target.Name, Describe(target)))
                    continue;
                var members = new HashSet<string>(target.Networks.SelectMany(n => n.Routers), StringComparer.OrdinalIgnoreCase);
                int active = snapshot.Routers.Count(r => members.Contains(r.Name) && (r.State == RouterState.Running || r.State == RouterState.Paused));
                if (active > 0 && !Force && ConfirmationRequested(ConfirmImpact.High) &&
                    !ShouldContinue("Virtual network '" + target.Name + "' has " + active + " running or paused router(s); remove it anyway?",
                        "Remove a running virtual network"))
                    continue;
                chosen.AddRange(target.Networks);
                identities.Add(target.Name);
            }
            if (identities.Count == 0) return;

            var observer = new PlanObserver(
                step => !whatIf || ShouldProcess(step.Target, step.Description),
                (step, index, count) => WriteProgressStatus(ActivityId, Activity,
                    "Step " + (index + 1) + " of " + count + ": " + step.Description + " on '" + step.Target + "'",
                    count == 0 ? -1 : index * 100 / count));
            bool done;
            try
            {
                done = TryItem(() =>
                {
                    using var exclusive = service.Exclusive(CancellationToken);
                    var plan = service.PlanRemoval(snapshot, chosen, identities);
                    service.Apply(plan, observer, CancellationToken);
                });
            }
            finally
            {
                CompleteProgress(ActivityId, Activity);
            }
            if (done && !whatIf)
                foreach (var name in identities) _removed.Add(name);
            if (done && PassThru && !whatIf)
                foreach (var network in chosen) WriteObject(network);
        }

        /// <summary>The ShouldProcess action for one network identity.</summary>
        private static string Describe(RemovalTarget target)
        {
            if (target.Networks.Count == 0)
                return "Remove the lab hosts deployed for virtual network '" + target.Name + "' (no router of it is left): " + string.Join(", ", target.LeftoverHosts);
            int routers = target.Networks.Sum(n => n.Routers.Count), links = target.Networks.Sum(n => n.Links.Count);
            return "Remove virtual network (" + routers + " router(s), " + links + " link(s)" +
                   (target.Networks.Count > 1 ? ", " + target.Networks.Count + " fragments: " + string.Join(", ", target.Networks.Select(n => n.Name)) : "") + ")";
        }

        /// <summary>
        /// The network identities the patterns name (<see cref="VirtualNetworkService.SelectForRemoval"/>): a name removes every
        /// fragment of the network ("x" takes "x", "x#2", ...), a fragment's own name only that fragment, and a network whose
        /// routers are all gone still names its deploy-created lab hosts. A literal that names nothing is a non-terminating
        /// NetworkNotFound; a wildcard that matches nothing is silent.
        /// </summary>
        private List<RemovalTarget> SelectTargets(VirtualNetworkService service, Snapshot snapshot, IEnumerable<string>? patterns)
        {
            var picked = new Dictionary<string, RemovalTarget>(StringComparer.OrdinalIgnoreCase);
            void Merge(RemovalTarget t)
            {
                if (picked.TryGetValue(t.Name, out var had))
                    t = new RemovalTarget(t.Name, had.Networks.Concat(t.Networks).GroupBy(n => n.Name, StringComparer.OrdinalIgnoreCase).Select(g => g.First())
                        .OrderBy(n => n.Name, StringComparer.OrdinalIgnoreCase).ToList(), t.FragmentCount, had.LeftoverHosts.Count > 0 ? had.LeftoverHosts : t.LeftoverHosts);
                picked[t.Name] = t;
            }
            foreach (var pattern in patterns?.Where(p => !string.IsNullOrEmpty(p)) ?? Enumerable.Empty<string>())
            {
                Func<string, bool> matches;
                bool wildcard = WildcardPattern.ContainsWildcardCharacters(pattern);
                if (wildcard)
                {
                    var w = new WildcardPattern(pattern, WildcardOptions.IgnoreCase | WildcardOptions.CultureInvariant);
                    matches = w.IsMatch;
                }
                else
                {
                    string literal = WildcardPattern.Unescape(pattern);
                    matches = n => string.Equals(n, literal, StringComparison.OrdinalIgnoreCase);
                }
                var found = VirtualNetworkService.SelectForRemoval(snapshot, matches, service.ManagesLabHosts);
                if (found.Count == 0 && !wildcard)
                {
                    string literal = WildcardPattern.Unescape(pattern);
                    if (_removed.Contains(Planner.BaseNameOf(literal)))
                        WriteVerbose("Virtual network '" + literal + "' was removed with the other fragments of '" + Planner.BaseNameOf(literal) + "'.");
                    else
                        TryItem(() => service.RequireNetwork(snapshot, literal));
                }
                foreach (var t in found) Merge(t);
            }
            return picked.Values.OrderBy(t => t.Name, StringComparer.OrdinalIgnoreCase).ToList();
        }
    }
}
