using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using VirtualNetworks.Backends;
using VirtualNetworks.HyperV.Cim;

namespace VirtualNetworks.HyperV
{
    /// <summary>
    /// Link states (Disable-/Enable-VirtualLink; docs/hyperv-backend.md §13). Per end of the link:
    /// <list type="bullet">
    /// <item>CablePulled: the connection (Msvm_EthernetPortAllocationSettingData) gets EnabledState 3 through
    /// ModifyResourceSettings; Microsoft documents that a disabled allocation request "is not processed", and its
    /// networking sample disconnects a VM this way because it keeps the connection's settings (VLAN, bandwidth).</item>
    /// <item>Silent: the connection stays enabled (carrier up in the guest) and two port ACLs
    /// (Msvm_EthernetSwitchPortAclSettingData, MAC, Deny, one per Direction, prefix length 0 = every address) drop every
    /// frame; they are named <c>vn:silent-in</c>/<c>vn:silent-out</c> so only the module's own ACLs are removed.</item>
    /// <item>Up: EnabledState 2 with HostResource = the link's switch, the module's ACLs removed.</item>
    /// </list>
    /// The desired state is written into both end VMs' Notes (<see cref="HyperVNames.LinkStatePrefix"/>) before any
    /// port changes, and read back by the inventory (VirtualLink.State), CreateLink (a re-created link gets it again)
    /// and MoveRouter (re-applied on the destination).
    /// </summary>
    public sealed partial class HyperVBackend : ILinkStateControl
    {
        /// <summary>Feature id of the port ACL feature (the class's UUID qualifier, learn.microsoft.com msvm-ethernetswitchportaclsettingdata).</summary>
        internal const string AclFeatureId = "998BEF4A-5D55-492A-9C43-8B2F5EAE9F2B";
        internal const string AclClass = "Msvm_EthernetSwitchPortAclSettingData";
        /// <summary>Name prefix of the module's deny-all ACLs (Name: MaxLen 64).</summary>
        public const string SilentAclPrefix = "vn:silent-";
        /// <summary>ACL Direction values (1 Incoming, 2 Outgoing).</summary>
        internal const byte AclIncoming = 1, AclOutgoing = 2;
        /// <summary>
        /// The MAC address written with prefix length 0 (every address matches a zero-length prefix; the Hyper-V
        /// cmdlets' "ANY"). How the cmdlet stores ANY is not documented: tests/Pester/VirtualNetworks.HyperV.Tests.ps1
        /// compares with a real host.
        /// </summary>
        internal const string AnyMac = "FFFFFFFFFFFF";

        /// <summary>Whether a feature instance is one of the module's deny-all ACLs.</summary>
        internal static bool IsSilentAcl(CimObject f) =>
            f.Has("Action") && f.Has("AclType") && f.Has("Direction") &&
            (f.GetString("Name") ?? "").StartsWith(SilentAclPrefix, StringComparison.Ordinal);

        /// <summary>What the ports of one end read as: EnabledState 3 = CablePulled, both deny-all ACLs = Silent, else Up; null = inconsistent.</summary>
        internal static LinkState? PortState(NicRecord nic)
        {
            bool disabled = nic.ConnectionState == 3;
            int acls = nic.SilentAcls.Count(a => a.Key == AclIncoming || a.Key == AclOutgoing);
            if (disabled) return acls == 0 ? LinkState.CablePulled : (LinkState?)null;
            if (acls == 2) return LinkState.Silent;
            return acls == 0 ? LinkState.Up : (LinkState?)null;
        }

        private sealed class LinkEnd
        {
            public HyperVHost Host = null!;
            public HostOp Op = null!;
            public VmRecord Vm = null!;
            public NicRecord Nic = null!;
            public List<string> Owners = new List<string>();
        }

        /// <summary>
        /// The two ends of a complete link (inside one host on the fabric, or across two hosts on the transport switch):
        /// per host, the VMs owning a NIC vn:&lt;link&gt; (two queries) and a targeted read of those VMs.
        /// </summary>
        private List<LinkEnd>? LinkEnds(string name, string operation, CancellationToken ct)
        {
            var transport = new List<LinkEnd>();
            foreach (var h in KnownHosts())
            {
                var host = Host(h);
                var op = host.Op(operation, name);
                var owners = HostSnapshot.LinkNics(host, op, new[] { name }, ct).Select(n => HostSnapshot.ById(n.Owner)).ToList();
                if (owners.Count == 0) continue;
                var snap = HostSnapshot.ReadVms(host, op, owners, ReadParts.Features | ReadParts.Switch, ct);
                if (CompleteLinks(snap).Any(x => Same(x.Name, name)))
                    return snap.RoutersByName().Values.Where(v => v.Count == 1).Select(v => v[0])
                        .SelectMany(v => v.Nics.Where(n => Same(n.Link, name)).Select(n => new LinkEnd { Host = host, Op = op, Vm = v, Nic = n, Owners = owners }))
                        .ToList();
                transport.AddRange(TransportEnds(host.Name, snap).Where(e => Same(e.Nic.Link, name))
                    .Select(e => new LinkEnd { Host = host, Op = op, Vm = e.Vm, Nic = e.Nic, Owners = owners }));
            }
            if (CrossHostLinks(transport.Select(e => (e.Host.Name, e.Vm, e.Nic))).Any(x => Same(x.Name, name))) return transport;
            return null;
        }

        public void SetLinkState(string linkName, LinkState state, CancellationToken cancellationToken)
        {
            if (linkName == null) throw new ArgumentNullException(nameof(linkName));
            var ct = cancellationToken;
            var operation = $"Setting link '{linkName}' to {state}";
            var ends = LinkEnds(linkName, operation, ct)
                       ?? throw HyperVErrors.Error(ErrorIds.LinkNotFound, ErrorKind.ObjectNotFound, linkName, $"{operation}: no virtual link named '{linkName}' exists.");
            // 1. The wish, on the host, in both ends' Notes (crash-safe: a later read reports it and a re-run applies it).
            foreach (var e in ends)
                lock (e.Host.Gate) RecordState(e.Host, e.Op, e.Vm, linkName, state, ct);
            // 2. The ports.
            foreach (var e in ends)
                lock (e.Host.Gate) ApplyPortState(e.Host, e.Op, e.Vm, e.Nic, state, ct);
            // 3. Read back.
            foreach (var g in ends.GroupBy(e => e.Host))
            {
                var first = g.First();
                var again = HostSnapshot.ReadVms(first.Host, first.Op, first.Owners, ReadParts.Features | ReadParts.Switch, ct);
                foreach (var e in g)
                {
                    var vm = again.Vms.FirstOrDefault(v => Same(v.VssdInstanceId, e.Vm.VssdInstanceId));
                    var nic = vm?.Nics.FirstOrDefault(n => Same(n.InstanceId, e.Nic.InstanceId));
                    var read = nic == null ? null : PortState(nic);
                    var recorded = vm == null ? (LinkState?)null : vm.LinkStates.TryGetValue(linkName, out var r) ? r : LinkState.Up;
                    if (read != state || recorded != state)
                        throw e.Op.Fail(HyperVErrorIds.LinkStateNotApplied, ErrorKind.InvalidResult,
                            $"after the change the end at router '{e.Vm.Marker.Router}' reads {(read?.ToString() ?? "inconsistent")} (recorded {(recorded?.ToString() ?? "nothing")}), not {state}.",
                            state == LinkState.Up ? "Run Enable-VirtualLink again." : "Run Disable-VirtualLink again.");
                }
            }
        }

        /// <summary>Rewrites the VM's Notes with the link's line (ModifySystemSettings; nothing when already so).</summary>
        private static void RecordState(HyperVHost host, HostOp op, VmRecord vm, string link, LinkState state, CancellationToken ct)
        {
            var current = vm.LinkStates.TryGetValue(link, out var s) ? s : LinkState.Up;
            if (current == state) return;
            var notes = HyperVNames.WithLinkState(vm.Notes, link, state);
            // The whole settings instance as read, only Notes changed (as os-win and Microsoft's samples send it): a
            // partial instance would leave it to the host what the missing properties mean.
            var read = vm.Settings ?? host.Query(op, "SELECT * FROM Msvm_VirtualSystemSettingData WHERE " + HostSnapshot.ById(vm.VssdInstanceId), ct)
                           .FirstOrDefault(v => HostSnapshot.IsRealized(v))
                       ?? throw op.Fail(ErrorIds.RouterNotFound, ErrorKind.ObjectNotFound, $"the settings of router '{vm.Marker.Router}' ({vm.VssdInstanceId}) are gone.");
            var settings = read.Clone().Set("Notes", CimDataType.String, true, notes);
            host.Invoke(op, $"ModifySystemSettings (record link '{link}' {state} on router '{vm.Marker.Router}')", host.Vsms(op, ct), "ModifySystemSettings", ct, new[]
            {
                CimMethodParameter.String("SystemSettings", CimXml.Write(settings)),
            });
            vm.Notes = notes;
            vm.Settings = settings;
            if (state == LinkState.Up) vm.LinkStates.Remove(link);
            else vm.LinkStates[link] = state;
        }

        /// <summary>
        /// Brings one end's port to <paramref name="state"/>; each step only when needed, ordered so that no frame passes
        /// in between (Silent: the ACLs before the connection is enabled; CablePulled: disabled before the ACLs go).
        /// </summary>
        private static void ApplyPortState(HyperVHost host, HostOp op, VmRecord vm, NicRecord nic, LinkState state, CancellationToken ct)
        {
            string who = $"link '{nic.Link}' on router '{vm.Marker.Router}'";
            if (nic.Epasd == null || nic.EpasdInstanceId == null || nic.SwitchGuid == null)
                throw op.Fail(HyperVErrorIds.LinkStateNotApplied, ErrorKind.InvalidData, $"the adapter of {who} has no switch connection.",
                    "Remove and re-create the link.");
            bool disabled = nic.ConnectionState == 3;
            if (state == LinkState.Silent)
            {
                var missing = new[] { AclIncoming, AclOutgoing }.Where(d => !nic.SilentAcls.ContainsKey(d)).ToList();
                if (missing.Count > 0)
                    host.Invoke(op, $"AddFeatureSettings (deny-all ACL {string.Join("+", missing.Select(d => d == AclIncoming ? "in" : "out"))} on {who})",
                        host.Vsms(op, ct), "AddFeatureSettings", ct, new[]
                        {
                            CimMethodParameter.Reference("AffectedConfiguration", host.ById("Msvm_EthernetPortAllocationSettingData", nic.EpasdInstanceId)),
                            CimMethodParameter.Strings("FeatureSettings", missing.Select(d => CimXml.Write(SilentAcl(host, op, d, ct)))),
                        });
                if (disabled || nic.SwitchFromLastKnownName) SetConnection(host, op, nic, true, who, ct);
                return;
            }
            if (state == LinkState.CablePulled && (!disabled || nic.SwitchFromLastKnownName)) SetConnection(host, op, nic, false, who, ct);
            if (state == LinkState.Up && (disabled || nic.SwitchFromLastKnownName)) SetConnection(host, op, nic, true, who, ct);
            if (nic.SilentAcls.Count > 0)
                host.Invoke(op, $"RemoveFeatureSettings (deny-all ACLs on {who})", host.Vsms(op, ct), "RemoveFeatureSettings", ct, new[]
                {
                    CimMethodParameter.References("FeatureSettings", nic.SilentAcls.Values.Select(id => host.ById(AclClass, id)).ToArray()),
                });
        }

        /// <summary>ModifyResourceSettings of the connection: EnabledState 2 or 3, HostResource = the link's switch (kept while disabled).</summary>
        private static void SetConnection(HyperVHost host, HostOp op, NicRecord nic, bool enabled, string who, CancellationToken ct)
        {
            var epasd = nic.Epasd!.Clone()
                .Set("EnabledState", CimDataType.UInt16, false, enabled ? (ushort)2 : (ushort)3)
                .Set("HostResource", CimDataType.String, true, new[] { host.SwitchRef(nic.SwitchGuid!).ToPath() });
            host.Invoke(op, $"ModifyResourceSettings ({(enabled ? "connect" : "disconnect, EnabledState 3")} {who})", host.Vsms(op, ct), "ModifyResourceSettings", ct, new[]
            {
                CimMethodParameter.Strings("ResourceSettings", new[] { CimXml.Write(epasd) }),
            });
            nic.Epasd = epasd;
        }

        private static CimObject SilentAcl(HyperVHost host, HostOp op, byte direction, CancellationToken ct) =>
            host.DefaultFeature(op, AclClass, AclFeatureId, ct)
                .Set("Name", CimDataType.String, false, SilentAclPrefix + (direction == AclIncoming ? "in" : "out"))
                .Set("Direction", CimDataType.UInt8, false, direction)
                .Set("Applicability", CimDataType.UInt8, false, (byte)2) // Remote
                .Set("AclType", CimDataType.UInt8, false, (byte)1)       // MAC: every frame, ARP and non-IP included
                .Set("Action", CimDataType.UInt8, false, (byte)2)        // Deny
                .Set("RemoteAddress", CimDataType.String, false, AnyMac)
                .Set("RemoteAddressPrefixLength", CimDataType.UInt8, false, (byte)0);

        /// <summary>
        /// The link's state for the inventory: the state recorded in the From end's Notes (else the To end's), and a
        /// status when the two ends record different states or a port does not read as recorded.
        /// </summary>
        internal static (LinkState State, string? Status) ReadLinkState(string link, (VmRecord Vm, NicRecord Nic) from, (VmRecord Vm, NicRecord Nic) to)
        {
            LinkState Recorded(VmRecord v) => v.LinkStates.TryGetValue(link, out var s) ? s : LinkState.Up;
            LinkState a = Recorded(from.Vm), b = Recorded(to.Vm);
            var state = a != LinkState.Up ? a : b;
            var problems = new List<string>();
            if (a != b) problems.Add($"the ends record different states ({a} at {from.Vm.Marker.Router}, {b} at {to.Vm.Marker.Router})");
            foreach (var (vm, nic) in new[] { from, to })
            {
                var read = PortState(nic);
                if (read != state)
                    problems.Add($"the port at {vm.Marker.Router} reads {(read?.ToString() ?? "inconsistent (part of the deny ACLs, or disabled with ACLs)")}, not {state}");
            }
            if (problems.Count == 0) return (state, null);
            return (state, string.Join("; ", problems) + $"; {(state == LinkState.Up ? "Enable-VirtualLink" : "Disable-VirtualLink -Failure " + state)} re-applies it");
        }

        /// <summary>
        /// After CreateLink: the declared state, else the state a surviving end still records (the link is re-created),
        /// else nothing (a new link is Up).
        /// </summary>
        private void ApplyStateAfterCreate(LinkSpec spec, IEnumerable<VmRecord> endVms, CancellationToken ct)
        {
            var recorded = endVms.Select(v => v.LinkStates.TryGetValue(spec.Name, out var s) ? s : LinkState.Up).ToList();
            LinkState? wanted = spec.State ?? recorded.Where(s => s != LinkState.Up).Select(s => (LinkState?)s).FirstOrDefault();
            if (wanted == null) return;
            if (wanted == LinkState.Up && recorded.All(s => s == LinkState.Up)) return;
            SetLinkState(spec.Name, wanted.Value, ct);
        }
    }
}
