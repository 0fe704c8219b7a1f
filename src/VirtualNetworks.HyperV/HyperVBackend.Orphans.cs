using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using VirtualNetworks.Backends;
using VirtualNetworks.HyperV.Cim;

namespace VirtualNetworks.HyperV
{
    public sealed partial class HyperVBackend
    {
        /// <summary>Orphan names: "vm:&lt;guid&gt;" (kind VirtualMachine), "nic:&lt;InstanceID&gt;" (NetworkAdapter) and "switch:&lt;guid&gt;" (VirtualSwitch).</summary>
        public const string VmOrphanPrefix = "vm:", NicOrphanPrefix = "nic:", SwitchOrphanPrefix = "switch:";

        public IReadOnlyList<OrphanResource> FindOrphans(bool includeOwned, CancellationToken cancellationToken)
        {
            var result = new List<OrphanResource>();
            var snaps = KnownHosts().Select(h => (Host: Host(h), Snap: HostSnapshot.Read(Host(h), Host(h).Op("Looking for leftovers", h), cancellationToken))).ToList();
            // A NIC on the transport switch is the end of a complete link when its peer end is on another host.
            var crossHost = new HashSet<string>(CrossHostLinks(snaps.SelectMany(x => TransportEnds(x.Host.Name, x.Snap))).Select(l => l.Name), StringComparer.OrdinalIgnoreCase);
            foreach (var (host, snap) in snaps)
            {
                var h = host.Name;
                var complete = new HashSet<string>(CompleteLinks(snap).Select(l => l.Name), StringComparer.OrdinalIgnoreCase);
                complete.UnionWith(crossHost);
                var unique = snap.RoutersByName().Where(k => k.Value.Count == 1).Select(k => k.Value[0]).ToList();
                foreach (var vm in snap.Vms)
                {
                    bool consistent = vm.Complete && unique.Contains(vm);
                    if (consistent && !includeOwned) continue;
                    result.Add(new OrphanResource
                    {
                        Kind = OrphanKind.VirtualMachine,
                        Name = VmOrphanPrefix + vm.Guid,
                        Owner = vm.Marker.Router,
                        ComputerName = host.Name,
                        Reason = !vm.Complete ? "half-built router VM (no disk attached): a creation was interrupted"
                            : !consistent ? "another VM carries the marker of the same router" : "owned router VM (full reset)",
                    });
                }
                foreach (var vm in unique)
                    foreach (var nic in vm.Nics.Where(n => includeOwned ? false : !complete.Contains(n.Link)))
                        result.Add(new OrphanResource
                        {
                            Kind = OrphanKind.NetworkAdapter,
                            Name = NicOrphanPrefix + nic.InstanceId,
                            Owner = nic.Link,
                            ComputerName = host.Name,
                            Reason = $"adapter of link '{nic.Link}' on router '{vm.Marker.Router}' without a complete peer end",
                        });
                if (snap.FabricGuid != null && snap.FabricOwned && (includeOwned || snap.Vms.Count == 0))
                    result.Add(new OrphanResource
                    {
                        Kind = OrphanKind.VirtualSwitch,
                        Name = SwitchOrphanPrefix + snap.FabricGuid,
                        Owner = Options.SwitchName,
                        ComputerName = host.Name,
                        Reason = includeOwned && snap.Vms.Count > 0 ? "the fabric switch (full reset)" : "the fabric switch serves no owned router",
                    });
            }
            return result;
        }

        public void RemoveOrphan(OrphanResource resource, CancellationToken cancellationToken)
        {
            if (resource == null) throw new ArgumentNullException(nameof(resource));
            var ct = cancellationToken;
            var host = Host(resource.ComputerName);
            var op = host.Op($"Removing leftover {resource.Name}", resource.Name);
            lock (host.Gate)
            {
                // Re-read only the object concerned (and the VMs claiming the same router), never the whole host.
                if (resource.Name.StartsWith(VmOrphanPrefix, StringComparison.Ordinal))
                {
                    var guid = resource.Name.Substring(VmOrphanPrefix.Length);
                    var snap = HostSnapshot.ReadVms(host, op, new[] { HostSnapshot.ByGuid(guid) }, ReadParts.Core, ct);
                    var vm = snap.Vms.FirstOrDefault(v => Same(v.Guid, guid));
                    if (vm == null) return; // gone, or no longer marked: never touched
                    if (snap.Vms.Any(v => v != vm && Same(v.Marker.Router, vm.Marker.Router)))
                    {
                        var links = new HashSet<string>(vm.Nics.Select(n => n.Link), StringComparer.OrdinalIgnoreCase);
                        foreach (var n in vm.Nics) RemoveNic(host, op, n, "RemoveResourceSettings (adapter of the leftover VM)", ct);
                    }
                    RemoveVm(host, op, vm, ct);
                }
                else if (resource.Name.StartsWith(NicOrphanPrefix, StringComparison.Ordinal))
                {
                    var id = resource.Name.Substring(NicOrphanPrefix.Length);
                    var snap = HostSnapshot.ReadVms(host, op, new[] { HostSnapshot.ById(HostSnapshot.OwnerOf(id)) }, ReadParts.Core, ct);
                    var nic = snap.Vms.SelectMany(v => v.Nics).FirstOrDefault(n => string.Equals(n.InstanceId, id, StringComparison.OrdinalIgnoreCase));
                    if (nic != null) RemoveNic(host, op, nic, $"RemoveResourceSettings (leftover adapter of link '{nic.Link}')", ct);
                }
                else if (resource.Name.StartsWith(SwitchOrphanPrefix, StringComparison.Ordinal))
                {
                    var guid = resource.Name.Substring(SwitchOrphanPrefix.Length);
                    var snap = HostSnapshot.ReadVms(host, op, Array.Empty<string>(), ReadParts.Switch, ct);
                    if (!snap.FabricOwned || !Same(snap.FabricGuid, guid)) return;
                    host.Invoke(op, "DestroySystem (fabric switch)", host.SwitchService(op, ct), "DestroySystem", ct, new[]
                    {
                        CimMethodParameter.Reference("AffectedSystem", host.SwitchRef(guid)),
                    });
                }
                else
                    throw op.Fail(HyperVErrorIds.OrphanChanged, ErrorKind.InvalidArgument, $"'{resource.Name}' is not a Hyper-V backend resource name.");
            }
        }
    }
}
