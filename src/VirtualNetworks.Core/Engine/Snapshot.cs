using System;
using System.Collections.Generic;
using System.Linq;
using VirtualNetworks.Backends;
using VirtualNetworks.Graph;
using VirtualNetworks.Topology;

namespace VirtualNetworks.Engine
{
    /// <summary>
    /// Observed state at one moment: the backend's inventory with virtual networks computed from it. Routers and
    /// links carry their NetworkName.
    /// </summary>
    public sealed class Snapshot
    {
        private readonly Dictionary<string, VirtualRouter> _routers;
        private readonly Dictionary<string, VirtualLink> _links;

        public Snapshot(BackendInventory inventory)
        {
            Inventory = inventory ?? throw new ArgumentNullException(nameof(inventory));
            Grouping = NetworkGrouper.Group(inventory.Routers, inventory.Links);
            _routers = new Dictionary<string, VirtualRouter>(StringComparer.OrdinalIgnoreCase);
            foreach (var r in inventory.Routers) _routers[r.Name] = r;
            _links = new Dictionary<string, VirtualLink>(StringComparer.OrdinalIgnoreCase);
            foreach (var l in inventory.Links) _links[l.Name] = l;

            // Links attached to each router, and configured addresses, for display.
            var byRouter = new Dictionary<string, List<string>>(StringComparer.OrdinalIgnoreCase);
            foreach (var l in inventory.Links)
            {
                Add(byRouter, l.From, l.Name);
                Add(byRouter, l.To, l.Name);
            }
            foreach (var r in inventory.Routers)
            {
                r.Links = byRouter.TryGetValue(r.Name, out var names)
                    ? names.OrderBy(n => n, StringComparer.OrdinalIgnoreCase).ToArray()
                    : Array.Empty<string>();
                if (inventory.Configurations.TryGetValue(r.Name, out var cfg) && r.Addresses.Count == 0)
                    r.Addresses = cfg.Interfaces.Select(i => i.Address).ToArray();
            }

            FillHosts(inventory);
        }

        /// <summary>
        /// Hosts: the routers placed on each (always from the inventory), the neighbours over physical links (when the
        /// backend left them empty); links: the underlay path when the backend left it empty (the shortest path over the
        /// observed physical links; [host] inside one host; [from, to] when the observed links join them by no path).
        /// Local aliases of a host name count as the local machine.
        /// </summary>
        private static void FillHosts(BackendInventory inventory)
        {
            var routersOn = new Dictionary<string, List<string>>(StringComparer.OrdinalIgnoreCase);
            foreach (var r in inventory.Routers)
                Add(routersOn, HostNames.Canonical(r.ComputerName), r.Name);
            var physical = inventory.PhysicalLinks
                .Select(p => (From: HostNames.Canonical(p.From), To: HostNames.Canonical(p.To))).ToList();
            var graph = UnderlayPaths.Graph(physical);
            foreach (var h in inventory.Hosts)
            {
                var key = HostNames.Canonical(h.Name);
                h.Routers = routersOn.TryGetValue(key, out var names)
                    ? names.OrderBy(n => n, StringComparer.OrdinalIgnoreCase).ToArray()
                    : Array.Empty<string>();
                if (h.Neighbors.Count == 0 && graph.TryGetValue(key, out var next))
                    h.Neighbors = next.Select(n => DisplayName(inventory, n)).OrderBy(n => n, StringComparer.OrdinalIgnoreCase).ToArray();
            }
            foreach (var l in inventory.Links)
            {
                if (l.UnderlayPath.Count > 0) continue;
                string from = HostNames.Canonical(l.FromComputerName), to = HostNames.Canonical(l.ToComputerName);
                var path = UnderlayPaths.ShortestPath(graph, from, to) ?? new[] { from, to };
                l.UnderlayPath = path.Select(n => DisplayName(inventory, n)).ToArray();
            }
        }

        /// <summary>The host's name as the inventory spells it (the canonical name when it has no such host).</summary>
        private static string DisplayName(BackendInventory inventory, string canonical) =>
            inventory.Hosts.FirstOrDefault(h => string.Equals(HostNames.Canonical(h.Name), canonical, StringComparison.OrdinalIgnoreCase))?.Name ?? canonical;

        private static void Add(Dictionary<string, List<string>> map, string key, string value)
        {
            if (!map.TryGetValue(key, out var list)) map[key] = list = new List<string>();
            list.Add(value);
        }

        public BackendInventory Inventory { get; }
        public GroupingResult Grouping { get; }

        public IReadOnlyList<VirtualRouter> Routers => Inventory.Routers;
        public IReadOnlyList<VirtualLink> Links => Inventory.Links;
        public IReadOnlyList<VirtualNetwork> Networks => Grouping.Networks;

        public VirtualRouter? FindRouter(string name) => _routers.TryGetValue(name, out var r) ? r : null;
        public VirtualLink? FindLink(string name) => _links.TryGetValue(name, out var l) ? l : null;
        public IReadOnlyList<VirtualHost> Hosts => Inventory.Hosts;
        public IReadOnlyList<PhysicalLink> PhysicalLinks => Inventory.PhysicalLinks;

        /// <summary>The host of that name (local aliases find the local machine), or null.</summary>
        public VirtualHost? FindHost(string name) =>
            Inventory.Hosts.FirstOrDefault(h => string.Equals(h.Name, name, StringComparison.OrdinalIgnoreCase))
            ?? (HostNames.IsLocalHost(name) ? Inventory.Hosts.FirstOrDefault(h => HostNames.IsLocalHost(h.Name)) : null);

        /// <summary>The physical link between two hosts (either direction), or null.</summary>
        public PhysicalLink? FindPhysicalLink(string a, string b)
        {
            string key = PhysicalLink.NameOf(HostNames.Canonical(a), HostNames.Canonical(b));
            return Inventory.PhysicalLinks.FirstOrDefault(p =>
                string.Equals(PhysicalLink.NameOf(HostNames.Canonical(p.From), HostNames.Canonical(p.To)), key, StringComparison.OrdinalIgnoreCase));
        }

        /// <summary>The routers placed on a host (local aliases count as the local machine).</summary>
        public IEnumerable<VirtualRouter> RoutersOn(string host) =>
            Inventory.Routers.Where(r => string.Equals(HostNames.Canonical(r.ComputerName), HostNames.Canonical(host), StringComparison.OrdinalIgnoreCase));

        public VirtualNetwork? FindNetwork(string name) =>
            Grouping.Networks.FirstOrDefault(n => string.Equals(n.Name, name, StringComparison.OrdinalIgnoreCase));

        public IEnumerable<VirtualLink> LinksOf(string router) =>
            Inventory.Links.Where(l => string.Equals(l.From, router, StringComparison.OrdinalIgnoreCase)
                                    || string.Equals(l.To, router, StringComparison.OrdinalIgnoreCase));

        /// <summary>The observed state expressed as a topology (used for validation, planning and export).</summary>
        public TopologySpec ToTopology(IReadOnlyCollection<string>? networkNames = null)
        {
            bool Wanted(string vn) => networkNames == null || networkNames.Contains(vn, StringComparer.OrdinalIgnoreCase);
            var spec = new TopologySpec();
            foreach (var h in Inventory.Hosts)
                spec.Hosts.Add(new HostSpec { Name = h.Name, Kind = h.Kind });
            var physical = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (var p in Inventory.PhysicalLinks)
                if (physical.Add(PhysicalLink.NameOf(HostNames.Canonical(p.From), HostNames.Canonical(p.To))))
                    spec.PhysicalLinks.Add(new PhysicalLinkSpec { From = p.From, To = p.To });
            foreach (var r in Inventory.Routers.Where(r => Wanted(r.NetworkName)))
                spec.Routers.Add(ToSpec(r));
            foreach (var l in Inventory.Links.Where(l => Wanted(l.NetworkName)))
                spec.Links.Add(ToSpec(l));
            return spec;
        }

        public static RouterSpec ToSpec(VirtualRouter r) => new RouterSpec
        {
            Name = r.Name,
            Host = r.ComputerName,
            Image = r.Image,
            ProcessorCount = r.ProcessorCount,
            MemoryMB = r.MemoryMB,
            NetworkLabel = string.IsNullOrEmpty(r.NetworkLabel) ? null : r.NetworkLabel,
            AddressFamily = r.AddressFamily,
        };

        public static LinkSpec ToSpec(VirtualLink l) => new LinkSpec
        {
            Name = l.Name,
            From = l.From,
            To = l.To,
            MaximumBandwidth = l.MaximumBandwidth,
            VlanId = l.VlanId,
            // Up is the default of a new link; a disabled link carries its state (Export writes it, a re-deploy keeps it).
            State = l.State == LinkState.Up ? (LinkState?)null : l.State,
        };
    }
}
