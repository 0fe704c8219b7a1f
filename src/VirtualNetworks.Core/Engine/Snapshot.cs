using System;
using System.Collections.Generic;
using System.Linq;
using VirtualNetworks.Backends;
using VirtualNetworks.Graph;

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
        }

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
        };
    }
}
