using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using VirtualNetworks.Addressing;
using VirtualNetworks.Backends;
using VirtualNetworks.Topology;

namespace VirtualNetworks.Planning
{
    /// <summary>
    /// Diffs desired state against observed state into ordered steps (level-based, like a reconcile loop): the same
    /// desired state against its own result yields an empty plan. Objects in the observed state that the desired state
    /// does not mention are left alone (they may belong to other virtual networks); removal is planned separately.
    /// </summary>
    public static class Planner
    {
        /// <summary>
        /// Plans a deployment. <paramref name="addresses"/> (from <see cref="AddressPlanner"/> over desired plus
        /// observed state) adds ConfigureRouter steps for routers whose configuration differs; null skips addressing.
        /// <paramref name="bandwidthGranularity"/> is the backend's limit step (bits/s; Hyper-V stores multiples of 8):
        /// limits equal once rounded down to it are the same, so an unchanged file never plans a change.
        /// </summary>
        public static DeploymentPlan Plan(TopologySpec desired, BackendInventory observed, AddressPlan? addresses = null, long bandwidthGranularity = 1) =>
            Plan(desired, observed, addresses, bandwidthGranularity, manageLabHosts: false);

        /// <summary>
        /// Plans a deployment; with <paramref name="manageLabHosts"/> (the backend implements <see cref="ILabHostManager"/>)
        /// the plan starts by creating the declared hosts that are neither the local machine nor observed (as lab hosts
        /// marked as created by a deployment), then the declared physical links that are not observed.
        /// </summary>
        public static DeploymentPlan Plan(TopologySpec desired, BackendInventory observed, AddressPlan? addresses, long bandwidthGranularity, bool manageLabHosts)
        {
            if (desired == null) throw new ArgumentNullException(nameof(desired));
            if (observed == null) throw new ArgumentNullException(nameof(observed));

            var plan = new DeploymentPlan { Desired = desired };
            if (manageLabHosts)
                foreach (var s in PlanLabHosts(desired, observed)) plan.Add(s);
            var removals = new List<PlanStep>();
            var creations = new List<PlanStep>();
            var linkCreations = new List<PlanStep>();
            var updates = new List<PlanStep>();
            var starts = new List<PlanStep>();
            var warnings = new List<string>();

            // Routers and links are diffed independently; on large inputs the two halves run on two threads (each
            // builds its own index and fills its own lists, so the result is the same either way).
            void DiffRouters() => PlanRouters(desired.Routers, observed.Routers, creations, starts, warnings);
            void DiffLinks() => PlanLinks(desired.Links, observed.Links, removals, linkCreations, updates, bandwidthGranularity);
            if (desired.Routers.Count + desired.Links.Count >= ParallelThreshold)
                Parallel.Invoke(DiffRouters, DiffLinks);
            else
            {
                DiffRouters();
                DiffLinks();
            }
            plan.Warnings.AddRange(warnings);

            var configures = addresses == null
                ? new List<PlanStep>()
                : PlanConfiguration(addresses, observed, onlyRouters: null);

            foreach (var s in removals) plan.Add(s);
            foreach (var s in creations) plan.Add(s);
            foreach (var s in linkCreations) plan.Add(s);
            foreach (var s in updates) plan.Add(s);
            foreach (var s in configures) plan.Add(s);
            foreach (var s in starts) plan.Add(s);
            return plan;
        }

        /// <summary>Inputs at least this large (routers + links) are diffed on two threads.</summary>
        internal const int ParallelThreshold = 50_000;

        private static void PlanRouters(IReadOnlyList<RouterSpec> desired, IReadOnlyList<VirtualRouter> observed,
            List<PlanStep> creations, List<PlanStep> starts, List<string> warnings)
        {
            var routers = new Dictionary<string, VirtualRouter>(observed.Count, StringComparer.OrdinalIgnoreCase);
            foreach (var r in observed) routers[r.Name] = r;
            foreach (var want in desired)
            {
                if (!routers.TryGetValue(want.Name, out var have))
                {
                    var spec = want.Clone();
                    creations.Add(new PlanStep(PlanAction.CreateRouter, want.Name,
                        $"Create virtual router (host {DisplayHost(want.Host)}, image {want.Image}, {want.ProcessorCount} CPU, {ShowMemory(want.MemoryMB)}, {want.AddressFamily}"
                        + (string.IsNullOrEmpty(want.NetworkLabel) ? ")" : $", network {want.NetworkLabel})"),
                        (b, ct) => b.CreateRouter(spec, ct)) { Image = want.Image, ComputerName = want.Host });
                    var name = want.Name;
                    starts.Add(new PlanStep(PlanAction.StartRouter, want.Name, "Start virtual router", (b, ct) => b.StartRouter(name, ct))
                        { Image = want.Image, ComputerName = want.Host });
                    continue;
                }

                DescribeDrift(warnings, want, have);
                if (have.State == RouterState.Off || have.State == RouterState.Failed)
                {
                    var name = have.Name;
                    starts.Add(new PlanStep(PlanAction.StartRouter, have.Name,
                        have.State == RouterState.Failed ? "Start virtual router (recover failed router)" : "Start virtual router",
                        (b, ct) => b.StartRouter(name, ct)) { Image = have.Image, ComputerName = have.ComputerName });
                }
            }
        }

        private static void PlanLinks(IReadOnlyList<LinkSpec> desired, IReadOnlyList<VirtualLink> observed,
            List<PlanStep> removals, List<PlanStep> linkCreations, List<PlanStep> updates, long granularity)
        {
            var links = new Dictionary<string, VirtualLink>(observed.Count, StringComparer.OrdinalIgnoreCase);
            foreach (var l in observed) links[l.Name] = l;
            foreach (var want in desired)
            {
                if (!links.TryGetValue(want.Name, out var have))
                {
                    linkCreations.Add(CreateLinkStep(want.Clone()));
                    // A new link is Up; a declared other state is set right after its creation.
                    if (want.State.HasValue && want.State.Value != LinkState.Up)
                        linkCreations.Add(SetLinkStateStep(want.Name, LinkState.Up, want.State.Value, "new link"));
                    continue;
                }

                bool sameEnds = (Same(have.From, want.From) && Same(have.To, want.To)) || (Same(have.From, want.To) && Same(have.To, want.From));
                // A link without a VLAN id in the file leaves the choice to the backend (Hyper-V allocates one): only an
                // explicit id that differs from the observed one re-creates the link.
                if (!sameEnds || (want.VlanId.HasValue && have.VlanId != want.VlanId))
                {
                    var why = !sameEnds ? $"ends change from {have.From}<->{have.To}" : $"VLAN changes from {Show(have.VlanId)} to {Show(want.VlanId)}";
                    var name = have.Name;
                    removals.Add(new PlanStep(PlanAction.RemoveLink, have.Name, $"Remove virtual link to re-create it ({why})",
                        (b, ct) => b.RemoveLink(name, ct)));
                    linkCreations.Add(CreateLinkStep(want.Clone()));
                    // The re-created link gets the declared state, or keeps the one the old link had.
                    var keep = want.State ?? have.State;
                    if (keep != LinkState.Up)
                        linkCreations.Add(SetLinkStateStep(want.Name, LinkState.Up, keep, "re-created link"));
                    continue;
                }

                if (want.State.HasValue && want.State.Value != have.State)
                    updates.Add(SetLinkStateStep(have.Name, have.State, want.State.Value, null));

                var wantBw = Normalize(want.MaximumBandwidth);
                if (Effective(have.MaximumBandwidth, granularity) != Effective(wantBw, granularity))
                {
                    var name = have.Name;
                    updates.Add(new PlanStep(PlanAction.SetLinkBandwidth, have.Name,
                        $"Change bandwidth of virtual link from {Bandwidth.Format(Normalize(have.MaximumBandwidth))} to {Bandwidth.Format(wantBw)}",
                        (b, ct) => b.SetLinkBandwidth(name, wantBw, ct)));
                }
            }
        }

        /// <summary>ConfigureRouter steps for every router whose planned configuration differs from the applied one.</summary>
        public static List<PlanStep> PlanConfiguration(AddressPlan addresses, BackendInventory observed, ICollection<string>? onlyRouters)
        {
            var steps = new List<PlanStep>();
            foreach (var kv in addresses.Routers.OrderBy(k => k.Key, StringComparer.OrdinalIgnoreCase))
            {
                if (onlyRouters != null && !onlyRouters.Contains(kv.Key)) continue;
                var cfg = kv.Value;
                if (observed.Configurations.TryGetValue(kv.Key, out var applied)
                    && applied.ToCanonicalString() == cfg.ToCanonicalString())
                    continue;
                steps.Add(new PlanStep(PlanAction.ConfigureRouter, kv.Key,
                    cfg.Routing == null
                        ? $"Configure router addresses and routes ({cfg.Interfaces.Count} interfaces, {cfg.Routes.Count} routes)"
                        : $"Configure router addresses and {cfg.Routing.Protocol.ToString().ToUpperInvariant()} ({cfg.Interfaces.Count} interfaces, router id {cfg.Routing.RouterId}" +
                          (cfg.Routing.Bfd ? ", BFD)" : ")"),
                    (b, ct) => b.ConfigureRouter(cfg, ct)));
            }
            return steps;
        }

        /// <summary>
        /// The lab host steps of a deployment: CreateLabHost for declared hosts that do not exist (marked as created by a
        /// deployment, recording the deployment's networks, <see cref="DeploymentNetworks"/>); for hosts that exist, a
        /// repair step when the backend observed drift (<see cref="VirtualHost.Status"/>: a missing namespace, anchor,
        /// address, setting or underlay route) and a step recording the deployment's networks on a deploy-created host that
        /// does not list them yet; then CreatePhysicalLink for missing physical links and for drifted ones (an end missing,
        /// down, without its address). Every recorded host and physical link is checked, declared or not: the underlay is
        /// shared, so drift anywhere is repaired (level-based) instead of planning zero changes over a broken underlay.
        /// </summary>
        private static List<PlanStep> PlanLabHosts(TopologySpec desired, BackendInventory observed)
        {
            var steps = new List<PlanStep>();
            var names = DeploymentNetworks(desired);
            var byName = new Dictionary<string, VirtualHost>(StringComparer.OrdinalIgnoreCase);
            foreach (var h in observed.Hosts) byName[HostNames.Canonical(h.Name)] = h;
            var done = new HashSet<string>(StringComparer.OrdinalIgnoreCase);

            // Hosts the deployment uses: those it declares and those its routers are placed on.
            var used = desired.Hosts.Select(h => h.Name).Concat(desired.Routers.Select(r => r.Host))
                .Where(h => !string.IsNullOrEmpty(h) && !HostNames.IsLocalHost(h)).ToList();
            var declared = new HashSet<string>(desired.Hosts.Select(h => HostNames.Canonical(h.Name)), StringComparer.OrdinalIgnoreCase);
            foreach (var name in used)
            {
                var key = HostNames.Canonical(name);
                if (!done.Add(key)) continue;
                if (!byName.TryGetValue(key, out var have))
                {
                    if (!declared.Contains(key)) continue; // an unknown host: validation reports it
                    steps.Add(CreateLabHostStep(name, byDeployment: true, names,
                        "Create lab host (a stand-in machine; Remove-VirtualNetwork removes it once nothing uses it)"));
                    continue;
                }
                if (!have.IsLabHost) continue;
                var missing = names.Where(n => !have.DeployedFor.Contains(n, StringComparer.OrdinalIgnoreCase)).ToList();
                if (have.Status != null)
                    steps.Add(CreateLabHostStep(have.Name, byDeployment: false, have.CreatedByDeployment ? names : Array.Empty<string>(),
                        "Repair lab host: " + have.Status));
                else if (have.CreatedByDeployment && missing.Count > 0)
                    steps.Add(CreateLabHostStep(have.Name, byDeployment: false, names,
                        "Record lab host as deployed for virtual network(s) " + string.Join(", ", missing) +
                        " (Remove-VirtualNetwork removes it once none of its networks is left and nothing uses it)"));
            }
            // Drift on every other recorded lab host is repaired too.
            foreach (var have in observed.Hosts.Where(h => h.IsLabHost && h.Status != null && !HostNames.IsLocalHost(h.Name))
                         .OrderBy(h => h.Name, StringComparer.OrdinalIgnoreCase))
            {
                if (!done.Add(HostNames.Canonical(have.Name))) continue;
                steps.Add(CreateLabHostStep(have.Name, byDeployment: false, Array.Empty<string>(), "Repair lab host: " + have.Status));
            }

            var observedLinks = new Dictionary<string, PhysicalLink>(StringComparer.OrdinalIgnoreCase);
            foreach (var p in observed.PhysicalLinks) observedLinks[PhysicalLink.NameOf(HostNames.Canonical(p.From), HostNames.Canonical(p.To))] = p;
            var links = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (var p in desired.PhysicalLinks)
            {
                var key = PhysicalLink.NameOf(HostNames.Canonical(p.From), HostNames.Canonical(p.To));
                if (!links.Add(key)) continue;
                if (!observedLinks.TryGetValue(key, out var have)) steps.Add(CreatePhysicalLinkStep(p.Clone()));
                else if (have.Status != null) steps.Add(RepairPhysicalLinkStep(have));
            }
            foreach (var kv in observedLinks.OrderBy(k => k.Key, StringComparer.OrdinalIgnoreCase))
                if (kv.Value.Status != null && links.Add(kv.Key)) steps.Add(RepairPhysicalLinkStep(kv.Value));

            // The local machine is no lab host: drift of its underlay (anchor, address, routes) is repaired through one of
            // its physical links (which re-ensures its anchor, the link and every host's routes).
            var local = observed.Hosts.FirstOrDefault(h => HostNames.IsLocalHost(h.Name) && !h.IsLabHost);
            if (local?.Status != null)
            {
                var localKey = HostNames.Canonical(local.Name);
                bool covered = steps.Any(st => st.Action == PlanAction.CreatePhysicalLink &&
                                               st.Target.Split(new[] { "--" }, StringSplitOptions.None).Any(e => Same(HostNames.Canonical(e), localKey)));
                var first = observedLinks.Values.Where(p => Same(HostNames.Canonical(p.From), localKey) || Same(HostNames.Canonical(p.To), localKey))
                    .OrderBy(p => p.Name, StringComparer.OrdinalIgnoreCase).FirstOrDefault();
                if (!covered && first != null)
                    steps.Add(new PlanStep(PlanAction.CreatePhysicalLink, first.Name, "Repair the local machine's underlay: " + local.Status,
                        RepairPhysicalLinkStep(first).Run));
            }
            // Hosts before physical links (a physical link needs both hosts).
            return steps.Where(st => st.Action == PlanAction.CreateLabHost).Concat(steps.Where(st => st.Action != PlanAction.CreateLabHost)).ToList();
        }

        /// <summary>
        /// Repair steps for every drifted lab host and physical link of <paramref name="observed"/> (what a deployment plans
        /// for the underlay, without a topology): for New-VirtualLabHost and other commands that change the underlay.
        /// </summary>
        public static List<PlanStep> PlanUnderlayRepairs(BackendInventory observed) => PlanLabHosts(new TopologySpec(), observed);

        /// <summary>
        /// The networks a deployment deploys, as recorded on its lab hosts: every label of the topology's routers, and for
        /// routers without a label the generated name of their network ("vn-" + smallest router name).
        /// </summary>
        public static IReadOnlyList<string> DeploymentNetworks(TopologySpec desired)
        {
            var routers = desired.Routers.Select(r => new VirtualRouter { Name = r.Name, ComputerName = r.Host, NetworkLabel = r.NetworkLabel, AddressFamily = r.AddressFamily }).ToList();
            var links = desired.Links.Select(l => new VirtualLink { Name = l.Name ?? "", From = l.From, To = l.To }).ToList();
            var names = new SortedSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (var n in Graph.NetworkGrouper.Group(routers, links).Networks)
            {
                if (n.Labels.Count == 0) names.Add(n.BaseName);
                foreach (var l in n.Labels) names.Add(l);
            }
            return names.ToList();
        }

        private static PlanStep RepairPhysicalLinkStep(PhysicalLink have)
        {
            var spec = new PhysicalLinkSpec { From = HostNames.Canonical(have.From), To = HostNames.Canonical(have.To) };
            return new PlanStep(PlanAction.CreatePhysicalLink, PhysicalLink.NameOf(spec.From, spec.To),
                $"Repair physical link between hosts {spec.From} and {spec.To}: {have.Status}",
                (b, ct) => LabHosts(b, spec.ToString()).CreatePhysicalLink(spec, ct));
        }

        /// <summary>The backend as a lab host manager, or OperationNotSupported.</summary>
        internal static ILabHostManager LabHosts(IVirtualizationBackend backend, string target) =>
            backend as ILabHostManager ?? throw new VirtualNetworksException(ErrorIds.OperationNotSupported, ErrorKind.NotImplemented, target,
                $"The {backend.Kind} backend cannot create or remove lab hosts and physical links; hosts are real machines there.");

        /// <summary>RemovePhysicalLink steps for every physical link of <paramref name="host"/>, then its RemoveLabHost step.</summary>
        internal static List<PlanStep> RemoveLabHostSteps(BackendInventory observed, string host)
        {
            var steps = new List<PlanStep>();
            var key = HostNames.Canonical(host);
            var done = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (var p in observed.PhysicalLinks
                         .Where(p => Same(HostNames.Canonical(p.From), key) || Same(HostNames.Canonical(p.To), key))
                         .OrderBy(p => p.Name, StringComparer.OrdinalIgnoreCase))
            {
                if (!done.Add(p.Name)) continue;
                steps.Add(RemovePhysicalLinkStep(p.From, p.To));
            }
            steps.Add(new PlanStep(PlanAction.RemoveLabHost, host, "Remove lab host",
                (b, ct) => LabHosts(b, host).RemoveLabHost(host, ct)));
            return steps;
        }

        internal static PlanStep RemovePhysicalLinkStep(string from, string to) =>
            new PlanStep(PlanAction.RemovePhysicalLink, PhysicalLink.NameOf(from, to), $"Remove physical link between hosts {from} and {to}",
                (b, ct) => LabHosts(b, PhysicalLink.NameOf(from, to)).RemovePhysicalLink(from, to, ct));

        internal static PlanStep CreateLabHostStep(string name, bool byDeployment, string description) =>
            new PlanStep(PlanAction.CreateLabHost, name, description, (b, ct) => LabHosts(b, name).CreateLabHost(name, byDeployment, ct));

        internal static PlanStep CreateLabHostStep(string name, bool byDeployment, IReadOnlyCollection<string> deployedFor, string description)
        {
            var networks = deployedFor.ToArray();
            return new PlanStep(PlanAction.CreateLabHost, name, description, (b, ct) => LabHosts(b, name).CreateLabHost(name, byDeployment, networks, ct));
        }

        internal static PlanStep CreatePhysicalLinkStep(PhysicalLinkSpec spec)
        {
            spec.From = HostNames.Canonical(spec.From); // local aliases reach the backend as the machine's name
            spec.To = HostNames.Canonical(spec.To);
            return new PlanStep(PlanAction.CreatePhysicalLink, PhysicalLink.NameOf(spec.From, spec.To),
                $"Create physical link between hosts {spec.From} and {spec.To} (underlay addresses and routes)",
                (b, ct) => LabHosts(b, spec.ToString()).CreatePhysicalLink(spec, ct));
        }

        /// <summary>Plans removal of whole virtual networks: links first, then routers.</summary>
        public static DeploymentPlan PlanRemoval(BackendInventory observed, IReadOnlyCollection<VirtualNetwork> networks) =>
            PlanRemoval(observed, networks, manageLabHosts: false);

        /// <summary>
        /// Plans removal of whole virtual networks: links, then routers; with <paramref name="manageLabHosts"/> then the
        /// deploy-created lab hosts of those networks that nothing else needs (<see cref="RemovableLabHosts"/>), with their
        /// physical links.
        /// </summary>
        public static DeploymentPlan PlanRemoval(BackendInventory observed, IReadOnlyCollection<VirtualNetwork> networks, bool manageLabHosts) =>
            PlanRemoval(observed, networks, manageLabHosts, null);

        /// <summary>
        /// As <see cref="PlanRemoval(BackendInventory, IReadOnlyCollection{VirtualNetwork}, bool)"/>; <paramref name="names"/>
        /// are more network identities being removed (labels of networks whose routers may all be gone already: an
        /// interrupted removal run again), whose deploy-created lab hosts go too.
        /// </summary>
        public static DeploymentPlan PlanRemoval(BackendInventory observed, IReadOnlyCollection<VirtualNetwork> networks, bool manageLabHosts,
            IReadOnlyCollection<string>? names)
        {
            var plan = new DeploymentPlan();
            var routerSet = new HashSet<string>(networks.SelectMany(n => n.Routers), StringComparer.OrdinalIgnoreCase);
            foreach (var l in observed.Links
                         .Where(l => routerSet.Contains(l.From) || routerSet.Contains(l.To))
                         .OrderBy(l => l.Name, StringComparer.OrdinalIgnoreCase))
            {
                var name = l.Name;
                plan.Add(new PlanStep(PlanAction.RemoveLink, l.Name, "Remove virtual link", (b, ct) => b.RemoveLink(name, ct)));
            }
            foreach (var r in observed.Routers
                         .Where(r => routerSet.Contains(r.Name))
                         .OrderBy(r => r.Name, StringComparer.OrdinalIgnoreCase))
            {
                var name = r.Name;
                plan.Add(new PlanStep(PlanAction.RemoveRouter, r.Name, "Remove virtual router (turn off and delete)", (b, ct) => b.RemoveRouter(name, ct)));
            }
            if (manageLabHosts)
            {
                var removedNames = IdentitiesOf(networks, names);
                foreach (var s in PlanUnusedLabHosts(observed, RemovableLabHosts(observed, routerSet, removedNames))) plan.Add(s);
            }
            return plan;
        }

        /// <summary>The identities a removal removes: each network's base name and labels, and the extra names.</summary>
        private static HashSet<string> IdentitiesOf(IReadOnlyCollection<VirtualNetwork> networks, IReadOnlyCollection<string>? names)
        {
            var set = new HashSet<string>(names ?? Array.Empty<string>(), StringComparer.OrdinalIgnoreCase);
            foreach (var n in networks)
            {
                if (!string.IsNullOrEmpty(n.BaseName)) set.Add(n.BaseName);
                foreach (var l in n.Labels) set.Add(l);
            }
            return set;
        }

        /// <summary>
        /// The deploy-created lab hosts (<see cref="VirtualHost.CreatedByDeployment"/>) that a removal of the routers
        /// <paramref name="removedRouters"/> and the network identities <paramref name="removedNames"/> leaves without a use:
        /// <list type="bullet">
        /// <item>nothing that stays uses it: no remaining router on it, no remaining link's underlay path through it;</item>
        /// <item>it belongs to the removal: it lists one of <paramref name="removedNames"/> in
        /// <see cref="VirtualHost.DeployedFor"/>, or a removed router ran on it or a removed link's tunnel crossed it;</item>
        /// <item>no network it lists is left after the removal (a network is left while a remaining router carries its label
        /// or network name; a fragment removed alone leaves its network): a host several deployments used stays until the
        /// last of them is removed.</item>
        /// </list>
        /// A host without <see cref="VirtualHost.DeployedFor"/> (recorded by an older version) follows the usage rules only.
        /// </summary>
        public static IReadOnlyList<string> RemovableLabHosts(BackendInventory observed, ICollection<string> removedRouters, ICollection<string> removedNames)
        {
            bool Removed(VirtualLink l) => removedRouters.Contains(l.From) || removedRouters.Contains(l.To);
            var used = new HashSet<string>(StringComparer.OrdinalIgnoreCase);     // hosts the removed networks used
            var stillUsed = new HashSet<string>(StringComparer.OrdinalIgnoreCase); // hosts something else still uses
            var remaining = new HashSet<string>(StringComparer.OrdinalIgnoreCase); // identities of the routers that stay
            foreach (var r in observed.Routers)
            {
                bool removed = removedRouters.Contains(r.Name);
                (removed ? used : stillUsed).Add(HostNames.Canonical(r.ComputerName));
                if (removed) continue;
                if (!string.IsNullOrEmpty(r.NetworkLabel)) remaining.Add(r.NetworkLabel!);
                if (!string.IsNullOrEmpty(r.NetworkName)) remaining.Add(BaseNameOf(r.NetworkName));
            }
            foreach (var l in observed.Links)
                foreach (var h in l.UnderlayPath)
                    (Removed(l) ? used : stillUsed).Add(HostNames.Canonical(h));

            return observed.Hosts
                .Where(h => h.IsLabHost && h.CreatedByDeployment && !HostNames.IsLocalHost(h.Name))
                .Where(h => !stillUsed.Contains(HostNames.Canonical(h.Name)))
                .Where(h => h.DeployedFor.Count == 0
                    ? used.Contains(HostNames.Canonical(h.Name))
                    : (used.Contains(HostNames.Canonical(h.Name)) || h.DeployedFor.Any(removedNames.Contains)) &&
                      !h.DeployedFor.Any(remaining.Contains))
                .Select(h => h.Name)
                .OrderBy(n => n, StringComparer.OrdinalIgnoreCase).ToList();
        }

        /// <summary>"x#2" -> "x": the name every fragment of a network shares (names never contain '#').</summary>
        public static string BaseNameOf(string networkName)
        {
            int i = networkName.IndexOf('#');
            return i < 0 ? networkName : networkName.Substring(0, i);
        }

        private static List<PlanStep> PlanUnusedLabHosts(BackendInventory observed, IReadOnlyList<string> removedHosts)
        {
            var steps = new List<PlanStep>();
            var physicalDone = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (var h in removedHosts)
                foreach (var s in RemoveLabHostSteps(observed, h))
                    if (s.Action != PlanAction.RemovePhysicalLink || physicalDone.Add(s.Target)) steps.Add(s);
            // Physical links first (every one of them), then the hosts.
            return steps.Where(s => s.Action == PlanAction.RemovePhysicalLink).Concat(steps.Where(s => s.Action != PlanAction.RemovePhysicalLink)).ToList();
        }

        /// <summary>A step that sets a link's state (backends with <see cref="ILinkStateControl"/>).</summary>
        internal static PlanStep SetLinkStateStep(string link, LinkState from, LinkState to, string? why)
        {
            string verb = to == LinkState.Up ? "Enable virtual link" : "Disable virtual link (" + Describe(to) + ")";
            return new PlanStep(PlanAction.SetLinkState, link,
                verb + " (state " + Describe(from) + " -> " + Describe(to) + (why == null ? "" : ", " + why) + ")",
                (b, ct) => LinkStateControl(b, link).SetLinkState(link, to, ct));
        }

        /// <summary>"up", "cable pulled", "silent failure".</summary>
        public static string Describe(LinkState state) => state switch
        {
            LinkState.CablePulled => "cable pulled",
            LinkState.Silent => "silent failure",
            _ => "up",
        };

        /// <summary>The backend's <see cref="ILinkStateControl"/>, or OperationNotSupported.</summary>
        public static ILinkStateControl LinkStateControl(IVirtualizationBackend backend, string target) =>
            backend as ILinkStateControl ?? throw new VirtualNetworksException(ErrorIds.OperationNotSupported, ErrorKind.NotImplemented, target,
                $"The {backend.Kind} backend cannot disable or enable links.");

        private static PlanStep CreateLinkStep(LinkSpec spec) =>
            new PlanStep(PlanAction.CreateLink, spec.Name,
                $"Create virtual link {spec.From}<->{spec.To} (bandwidth {Bandwidth.Format(Normalize(spec.MaximumBandwidth))}, VLAN {Show(spec.VlanId)})",
                (b, ct) => b.CreateLink(spec, ct));

        private static void DescribeDrift(List<string> warnings, RouterSpec want, VirtualRouter have)
        {
            void Warn(string what, object? had, object? wants) =>
                warnings.Add($"Router '{have.Name}': {what} is {had} but the topology asks for {wants}; not changed (remove the router and deploy again to apply it).");

            if (!HostNames.IsLocalHost(want.Host) || !HostNames.IsLocalHost(have.ComputerName))
            {
                if (!Same(want.Host, have.ComputerName))
                    warnings.Add($"Router '{have.Name}' runs on '{have.ComputerName}' but the topology places it on '{DisplayHost(want.Host)}'; not moved (use Move-VirtualRouter).");
            }
            if (!Same(want.Image, have.Image)) Warn("image", have.Image, want.Image);
            if (want.ProcessorCount != have.ProcessorCount) Warn("processorCount", have.ProcessorCount, want.ProcessorCount);
            // Not given (null) asks for nothing; the engine resolves it to the backend's default before planning.
            if (want.MemoryMB is int memory && memory != have.MemoryMB) Warn("memoryMB", have.MemoryMB, memory);
            if (want.AddressFamily != have.AddressFamily) Warn("addressFamily", have.AddressFamily, want.AddressFamily);
            if (!Same(want.NetworkLabel ?? "", have.NetworkLabel ?? "")) Warn("network label", Show(have.NetworkLabel), Show(want.NetworkLabel));
        }

        /// <summary>0 and null both mean "no limit".</summary>
        public static long? Normalize(long? bandwidth) => bandwidth.HasValue && bandwidth.Value > 0 ? bandwidth : null;

        /// <summary>The limit a backend with <paramref name="granularity"/> applies for <paramref name="bandwidth"/> (rounded down, at least one step).</summary>
        public static long? Effective(long? bandwidth, long granularity)
        {
            var n = Normalize(bandwidth);
            if (n == null || granularity <= 1) return n;
            return Math.Max(granularity, n.Value / granularity * granularity);
        }

        private static bool Same(string? a, string? b) => string.Equals(a ?? "", b ?? "", StringComparison.OrdinalIgnoreCase);
        private static string Show(object? v) => v?.ToString() ?? "none";
        private static string ShowMemory(int? mb) => mb is int m ? m + " MB" : "the backend's default memory";
        private static string DisplayHost(string host) => string.IsNullOrEmpty(host) ? "local" : host;
    }
}
