using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using VirtualNetworks.Linux.Net;

namespace VirtualNetworks.Linux.State
{
    /// <summary>
    /// A device that says which state id this state directory had: a v2-tagged interface (in this namespace or in the
    /// network namespace of one of the directory's lab-host records) whose tag names an object of the directory's records
    /// (a link's bridge, VXLAN device or tap, a router's tap, a host's underlay anchor or veth end). Used to check the
    /// <c>state-id</c> file against the world and to tell the user which id to restore when it is lost.
    /// </summary>
    internal sealed class StateIdWitness
    {
        private StateIdWitness(string stateId, string device, string? networkNamespace, string alias)
        {
            StateId = stateId;
            Device = device;
            NetworkNamespace = networkNamespace;
            Alias = alias;
        }

        public string StateId { get; }
        public string Device { get; }
        /// <summary>The lab host namespace it lives in; null = this one.</summary>
        public string? NetworkNamespace { get; }
        public string Alias { get; }

        /// <summary>"vnb0123456789 (virtualnetworks:v2:...)" with the namespace when there is one.</summary>
        public string Describe() => (NetworkNamespace == null ? "" : NetworkNamespace + ":") + Device + " " + Alias;

        /// <summary>
        /// The witnesses of <paramref name="store"/>'s records (unreadable records are skipped: they name nothing). Best
        /// effort: a namespace that cannot be read (or no ip program) contributes nothing.
        /// </summary>
        public static IReadOnlyList<StateIdWitness> Find(StateStore store, CancellationToken cancellationToken)
        {
            var routers = new HashSet<string>(store.ListRouters().Select(r => r.Name), StringComparer.OrdinalIgnoreCase);
            var links = new HashSet<string>(store.ListLinks().Select(l => l.Name), StringComparer.OrdinalIgnoreCase);
            var hostRecords = store.ListHosts();
            var hosts = new HashSet<string>(hostRecords.Select(h => h.Name), StringComparer.OrdinalIgnoreCase);
            var found = new List<StateIdWitness>();
            if (routers.Count == 0 && links.Count == 0 && hosts.Count == 0) return found;

            bool Names(OwnershipTag tag)
            {
                switch (tag.Role)
                {
                    case OwnedRole.Bridge:
                    case OwnedRole.Vxlan:
                        return tag.LinkName != null && links.Contains(tag.LinkName);
                    case OwnedRole.Tap:
                        return (tag.LinkName != null && links.Contains(tag.LinkName)) || (tag.RouterName != null && routers.Contains(tag.RouterName));
                    case OwnedRole.Host:
                        return tag.HostName != null && hosts.Contains(tag.HostName);
                    case OwnedRole.Veth:
                        return (tag.HostName != null && hosts.Contains(tag.HostName)) || (tag.PeerHostName != null && hosts.Contains(tag.PeerHostName));
                    default:
                        return false;
                }
            }

            var namespaces = new List<string?> { null };
            namespaces.AddRange(hostRecords.Where(h => !h.IsLocal && NameRulesValid(h.Name))
                .Select(h => InterfaceNames.Namespace(h.Name)).Where(LabNetwork.NamespaceExists));
            foreach (var ns in namespaces)
            {
                IReadOnlyList<LinkInfo> devices;
                try { devices = new IpCommand(ns).ListLinks(cancellationToken); }
                catch (VirtualNetworksException) { continue; }
                foreach (var d in devices)
                {
                    var tag = d.Tag;
                    if (tag?.StateId == null || !Names(tag)) continue;
                    found.Add(new StateIdWitness(tag.StateId, d.Name, ns, tag.Alias));
                }
            }
            return found;
        }

        private static bool NameRulesValid(string name) => VirtualNetworks.Topology.NameRules.IsValid(name);
    }
}
