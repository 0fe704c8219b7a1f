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
        public static DeploymentPlan Plan(TopologySpec desired, BackendInventory observed, AddressPlan? addresses = null, long bandwidthGranularity = 1)
        {
            if (desired == null) throw new ArgumentNullException(nameof(desired));
            if (observed == null) throw new ArgumentNullException(nameof(observed));

            var plan = new DeploymentPlan { Desired = desired };
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
                        $"Create virtual router (host {DisplayHost(want.Host)}, image {want.Image}, {want.ProcessorCount} CPU, {want.MemoryMB} MB, {want.AddressFamily}"
                        + (string.IsNullOrEmpty(want.NetworkLabel) ? ")" : $", network {want.NetworkLabel})"),
                        (b, ct) => b.CreateRouter(spec, ct)));
                    var name = want.Name;
                    starts.Add(new PlanStep(PlanAction.StartRouter, want.Name, "Start virtual router", (b, ct) => b.StartRouter(name, ct)));
                    continue;
                }

                DescribeDrift(warnings, want, have);
                if (have.State == RouterState.Off || have.State == RouterState.Failed)
                {
                    var name = have.Name;
                    starts.Add(new PlanStep(PlanAction.StartRouter, have.Name,
                        have.State == RouterState.Failed ? "Start virtual router (recover failed router)" : "Start virtual router",
                        (b, ct) => b.StartRouter(name, ct)));
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
                    continue;
                }

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
                    $"Configure router addresses and routes ({cfg.Interfaces.Count} interfaces, {cfg.Routes.Count} routes)",
                    (b, ct) => b.ConfigureRouter(cfg, ct)));
            }
            return steps;
        }

        /// <summary>Plans removal of whole virtual networks: links first, then routers.</summary>
        public static DeploymentPlan PlanRemoval(BackendInventory observed, IReadOnlyCollection<VirtualNetwork> networks)
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
            return plan;
        }

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
            if (want.MemoryMB != have.MemoryMB) Warn("memoryMB", have.MemoryMB, want.MemoryMB);
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
        private static string DisplayHost(string host) => string.IsNullOrEmpty(host) ? "local" : host;
    }
}
