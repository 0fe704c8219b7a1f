using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using VirtualNetworks.Backends;
using VirtualNetworks.HyperV.Cim;
using VirtualNetworks.Topology;

namespace VirtualNetworks.HyperV
{
    public sealed partial class HyperVBackend
    {
        public const int FirstVlan = 2;
        public const int LastVlan = 4094;

        /// <summary>Bits/s rounded down to a multiple of 8 (at least 8), as Hyper-V applies it.</summary>
        public static long EffectiveBandwidth(long bitsPerSecond) => Math.Max(8, bitsPerSecond / 8 * 8);

        // ================================================================================================ links

        public void CreateLink(LinkSpec spec, CancellationToken cancellationToken)
        {
            if (spec == null) throw new ArgumentNullException(nameof(spec));
            NameRules.Ensure(spec.Name, "link");
            var ct = cancellationToken;
            var operation = $"Creating link '{spec.Name}'";
            HyperVHost host;
            var known = KnownHosts().ToList();
            if (known.Count == 1) host = Host(known[0]); // one host: the read below checks both routers
            else
            {
                var a = FindRouter(spec.From, operation, ct)!.Value; // which host; the read below checks them again
                var b = FindRouter(spec.To, operation, ct)!.Value;
                if (!Same(a.Host.Name, b.Host.Name))
                {
                    CreateCrossHostLink(spec, operation, a.Host, b.Host, ct);
                    return;
                }
                host = a.Host;
            }
            var op = host.Op(operation, spec.Name);
            lock (host.Gate)
            {
                // Targeted read: the VMs owning a NIC of this link (leftovers, or the complete link), the two routers
                // by name, and with an explicit VLAN the VMs owning a port in that VLAN; never the whole host.
                var linkNics = HostSnapshot.LinkNics(host, op, new[] { spec.Name }, ct);
                var conditions = new List<string> { HostSnapshot.ByName(spec.From), HostSnapshot.ByName(spec.To) };
                conditions.AddRange(linkNics.Select(n => HostSnapshot.ById(n.Owner)));
                if (spec.VlanId is int wanted && wanted >= 1 && wanted <= LastVlan)
                    conditions.AddRange(VlanPorts(host, op, wanted, ct).Select(p => HostSnapshot.ById(HostSnapshot.OwnerOf(p.InstanceId))));
                var snap = HostSnapshot.ReadVms(host, op, conditions, ReadParts.Features | ReadParts.Switch, ct);
                var missing = new[] { spec.From, spec.To }.Where(r => !snap.Vms.Any(v => v.Complete && Same(v.Marker.Router, r))).ToList();
                if (missing.Count > 0)
                {
                    // Not under its name (renamed in Hyper-V Manager?): scan the markers before reporting it missing.
                    var renamed = HostSnapshot.ScanMarkers(host, op, missing, ct);
                    if (renamed.Count > 0) snap = HostSnapshot.ReadVms(host, op, conditions.Concat(renamed), ReadParts.Features | ReadParts.Switch, ct);
                }
                if (CompleteLinks(snap).Any(l => Same(l.Name, spec.Name)))
                    throw op.Fail(ErrorIds.LinkAlreadyExists, ErrorKind.ResourceExists, $"a virtual link named '{spec.Name}' already exists.");
                var routers = snap.RoutersByName();
                VmRecord Router(string name) => routers.TryGetValue(name, out var l) && l.Count == 1 ? l[0]
                    : l != null && l.Count > 1
                        ? throw op.Fail(HyperVErrorIds.AmbiguousRouter, ErrorKind.InvalidData,
                            $"{l.Count} virtual machines ({string.Join(", ", l.Select(v => v.Guid))}) carry the marker of router '{name}'; nothing is guessed.",
                            "Remove the wrong virtual machine in Hyper-V Manager, then run the command again.")
                        : throw op.Fail(ErrorIds.RouterNotFound, ErrorKind.ObjectNotFound, $"no virtual router named '{name}' exists.");
                var from = Router(spec.From);
                var to = Router(spec.To);
                var leftovers = snap.Vms.SelectMany(v => v.Nics.Where(n => Same(n.Link, spec.Name)).Select(n => (v, n))).ToList();
                // Checks before any change: VLAN clash, adapter limit, switch ownership.
                int vlan;
                if (spec.VlanId.HasValue)
                {
                    // The snapshot holds every owned VM with a port in this VLAN: exact check, as on a full read.
                    var used = new HashSet<int>(snap.Vms.SelectMany(v => v.Nics).Where(n => !Same(n.Link, spec.Name) && n.AccessVlan.HasValue).Select(n => n.AccessVlan!.Value));
                    vlan = spec.VlanId.Value;
                    if (vlan < 1 || vlan > LastVlan)
                        throw op.Fail(ErrorIds.InvalidVlanId, ErrorKind.InvalidArgument, $"VLAN {vlan} is outside 1..{LastVlan}.");
                    if (used.Contains(vlan))
                    {
                        var owner = snap.Vms.SelectMany(v => v.Nics).First(n => n.AccessVlan == vlan && !Same(n.Link, spec.Name)).Link;
                        throw op.Fail(HyperVErrorIds.VlanInUse, ErrorKind.ResourceExists, $"VLAN {vlan} is already used by link '{owner}' on the fabric switch.",
                            "Choose another vlanId, or leave it out to have one allocated.");
                    }
                }
                else
                {
                    // The one enumeration of the host a single operation makes: VLAN ids of every access port (InstanceID,
                    // AccessVlanId, OperationMode only), except this link's own leftover ports, which are removed below.
                    var own = new HashSet<string>(leftovers.Select(x => x.n.VlanInstanceId).Where(i => i != null)!, StringComparer.OrdinalIgnoreCase);
                    var used = new HashSet<int>(VlanPorts(host, op, null, ct).Where(p => !own.Contains(p.InstanceId)).Select(p => p.Vlan));
                    // With several hosts, ids are kept unique across all of them, so a router (and its links) can later
                    // move to another host, where its links may cross the shared transport switch, without a clash.
                    used.UnionWith(OtherHostsVlans(host, ct));
                    vlan = Enumerable.Range(FirstVlan, LastVlan - FirstVlan + 1).FirstOrDefault(v => !used.Contains(v));
                    if (vlan == 0) throw op.Fail(HyperVErrorIds.VlanExhausted, ErrorKind.LimitsExceeded, $"all VLAN ids {FirstVlan}..{LastVlan} of the fabric switch are in use.");
                }
                foreach (var r in new[] { from, to })
                    if (r.Nics.Count(n => !Same(n.Link, spec.Name)) >= MaxAdapters)
                        throw op.Fail(ErrorIds.AdapterLimitExceeded, ErrorKind.LimitsExceeded, $"router '{r.Marker.Router}' already has {MaxAdapters} adapters.");
                if (snap.FabricGuid != null && !snap.FabricOwned)
                    throw op.Fail(HyperVErrorIds.SwitchNotOwned, ErrorKind.ResourceExists,
                        $"a switch named '{Options.SwitchName}' exists but was not created by the module (its Notes lack the marker); it is never used.",
                        "Set the Hyper-V backend option SwitchName to another name.");

                foreach (var (_, nic) in leftovers) RemoveNic(host, op, nic, $"RemoveResourceSettings (leftover adapter of link '{spec.Name}')", ct);
                var switchGuid = snap.FabricGuid ?? CreateFabric(host, op, ct);
                var switchPath = host.SwitchRef(switchGuid).ToPath();
                long? limit = Planning.Planner.Normalize(spec.MaximumBandwidth) is long l ? EffectiveBandwidth(l) : (long?)null;
                AddEnd(host, op, from, spec, true, switchPath, vlan, limit, ct);
                AddEnd(host, op, to, spec, false, switchPath, vlan, limit, ct);
                ApplyStateAfterCreate(spec, new[] { from, to }, ct);
            }
        }

        /// <summary>
        /// Access-mode VLAN ports (Msvm_EthernetSwitchPortVlanSettingData, InstanceID and VLAN id): those in VLAN
        /// <paramref name="vlan"/> (WHERE AccessVlanId), or with null every one on the host (the VLAN allocation's
        /// enumeration: small rows, selected properties only). Templates (Microsoft:Definition\...) are skipped. Ports of
        /// foreign VMs and checkpoints are included: for allocation they are simply not reused.
        /// </summary>
        private static List<(string InstanceId, int Vlan)> VlanPorts(HyperVHost host, HostOp op, int? vlan, CancellationToken ct)
        {
            var wql = "SELECT InstanceID, AccessVlanId, OperationMode FROM Msvm_EthernetSwitchPortVlanSettingData" +
                      (vlan.HasValue ? " WHERE AccessVlanId = " + vlan.Value.ToString(CultureInfo.InvariantCulture) : "");
            var result = new List<(string, int)>();
            foreach (var f in host.Query(op, wql, ct))
            {
                var id = f.GetString("InstanceID") ?? "";
                if (id.StartsWith("Microsoft:Definition", StringComparison.OrdinalIgnoreCase)) continue;
                if ((f.GetUInt32("OperationMode") ?? 1) != 1 || f.GetUInt16("AccessVlanId") is not ushort v || v == 0) continue;
                result.Add((id, v));
            }
            return result;
        }

        /// <summary>Access VLAN ids in use on every other known host (one small enumeration each; unreachable hosts are skipped).</summary>
        private IEnumerable<int> OtherHostsVlans(HyperVHost except, CancellationToken ct)
        {
            var used = new List<int>();
            foreach (var h in KnownHosts().Where(h => !Same(h, except.Name)))
            {
                try
                {
                    var other = Host(h);
                    used.AddRange(VlanPorts(other, other.Op("Allocating a VLAN id", h), null, ct).Select(p => p.Vlan));
                }
                catch (VirtualNetworksException ex) when (ex.Kind == ErrorKind.ConnectionError) { }
            }
            return used;
        }

        /// <summary>
        /// A link whose routers are on two hosts: each end's NIC on that host's transport switch (an external switch the
        /// hosts share at L2, option TransportSwitchName) in VLAN access mode with the link's id, unique on both hosts
        /// (and, when allocated, on every known host). Everything is checked on both hosts before anything changes.
        /// </summary>
        private void CreateCrossHostLink(LinkSpec spec, string operation, HyperVHost ha, HyperVHost hb, CancellationToken ct)
        {
            if (string.IsNullOrEmpty(Options.TransportSwitchName))
                throw HyperVErrors.Error(HyperVErrorIds.CrossHostLink, ErrorKind.InvalidOperation, spec.Name,
                    $"{operation}: '{spec.From}' is on {ha.Name} and '{spec.To}' on {hb.Name}; a link across Hyper-V hosts needs a transport switch, and the backend option TransportSwitchName is not set.",
                    "Create an external switch with the same name on both hosts (New-VMSwitch -NetAdapterName, on an adapter the hosts share at L2) and pass it as the Hyper-V backend option TransportSwitchName; or place both routers on one host.");
            var first = string.Compare(ha.Name, hb.Name, StringComparison.OrdinalIgnoreCase) <= 0 ? ha : hb;
            var second = ReferenceEquals(first, ha) ? hb : ha;
            lock (first.Gate)
                lock (second.Gate)
                {
                    var ends = new List<(HyperVHost Host, HostOp Op, HostSnapshot Snap, VmRecord Vm, List<(VmRecord v, NicRecord n)> Leftovers)>();
                    foreach (var (host, router) in new[] { (ha, spec.From), (hb, spec.To) })
                    {
                        var op = host.Op(operation, spec.Name);
                        var linkNics = HostSnapshot.LinkNics(host, op, new[] { spec.Name }, ct);
                        var conditions = new List<string> { HostSnapshot.ByName(router) };
                        conditions.AddRange(linkNics.Select(n => HostSnapshot.ById(n.Owner)));
                        var snap = HostSnapshot.ReadVms(host, op, conditions, ReadParts.Features | ReadParts.Switch, ct);
                        var routers = snap.RoutersByName();
                        if (!routers.TryGetValue(router, out var l) || l.Count != 1)
                            throw op.Fail(l != null && l.Count > 1 ? HyperVErrorIds.AmbiguousRouter : ErrorIds.RouterNotFound,
                                l != null && l.Count > 1 ? ErrorKind.InvalidData : ErrorKind.ObjectNotFound,
                                l != null && l.Count > 1 ? $"{l.Count} virtual machines carry the marker of router '{router}'; nothing is guessed." : $"no virtual router named '{router}' exists.");
                        var leftovers = snap.Vms.SelectMany(v => v.Nics.Where(n => Same(n.Link, spec.Name)).Select(n => (v, n))).ToList();
                        ends.Add((host, op, snap, l[0], leftovers));
                    }
                    var missing = ends.Where(e => e.Snap.TransportGuid == null).Select(e => e.Host.Name).ToList();
                    if (missing.Count > 0)
                        throw HyperVErrors.Error(HyperVErrorIds.TransportSwitchMissing, ErrorKind.ObjectNotFound, spec.Name,
                            $"{operation}: the transport switch '{Options.TransportSwitchName}' does not exist on {string.Join(" and ", missing)}" +
                            (missing.Count < 2 ? $" (it exists on {ends.First(e => e.Snap.TransportGuid != null).Host.Name})" : "") +
                            $"; a link between {ha.Name} and {hb.Name} needs it on both hosts. Nothing was changed.",
                            $"Create the external switch '{Options.TransportSwitchName}' on {string.Join(" and ", missing)} (New-VMSwitch -Name '{Options.TransportSwitchName}' -NetAdapterName <adapter on the shared L2 network>); the module never creates external switches.");
                    var existing = CrossHostLinks(ends.SelectMany(e => TransportEnds(e.Host.Name, e.Snap)));
                    if (existing.Any(x => Same(x.Name, spec.Name)))
                        throw ends[0].Op.Fail(ErrorIds.LinkAlreadyExists, ErrorKind.ResourceExists, $"a virtual link named '{spec.Name}' already exists.");
                    foreach (var e in ends)
                        if (e.Vm.Nics.Count(n => !Same(n.Link, spec.Name)) >= MaxAdapters)
                            throw e.Op.Fail(ErrorIds.AdapterLimitExceeded, ErrorKind.LimitsExceeded, $"router '{e.Vm.Marker.Router}' already has {MaxAdapters} adapters.");
                    int vlan;
                    var own = new HashSet<string>(ends.SelectMany(e => e.Leftovers).Select(x => x.n.VlanInstanceId).Where(i => i != null)!, StringComparer.OrdinalIgnoreCase);
                    if (spec.VlanId.HasValue)
                    {
                        vlan = spec.VlanId.Value;
                        if (vlan < 1 || vlan > LastVlan)
                            throw ends[0].Op.Fail(ErrorIds.InvalidVlanId, ErrorKind.InvalidArgument, $"VLAN {vlan} is outside 1..{LastVlan}.");
                        foreach (var e in ends)
                            if (VlanPorts(e.Host, e.Op, vlan, ct).Any(p => !own.Contains(p.InstanceId)))
                                throw e.Op.Fail(HyperVErrorIds.VlanInUse, ErrorKind.ResourceExists,
                                    $"VLAN {vlan} is already used on host {e.Host.Name}; a link across hosts needs an id free on both.",
                                    "Choose another vlanId, or leave it out to have one allocated.");
                    }
                    else
                    {
                        var used = new HashSet<int>();
                        foreach (var e in ends) used.UnionWith(VlanPorts(e.Host, e.Op, null, ct).Where(p => !own.Contains(p.InstanceId)).Select(p => p.Vlan));
                        foreach (var h in KnownHosts().Where(h => !Same(h, ha.Name) && !Same(h, hb.Name)))
                            try { var other = Host(h); used.UnionWith(VlanPorts(other, other.Op(operation, spec.Name), null, ct).Select(p => p.Vlan)); }
                            catch (VirtualNetworksException ex) when (ex.Kind == ErrorKind.ConnectionError) { }
                        vlan = Enumerable.Range(FirstVlan, LastVlan - FirstVlan + 1).FirstOrDefault(v => !used.Contains(v));
                        if (vlan == 0) throw ends[0].Op.Fail(HyperVErrorIds.VlanExhausted, ErrorKind.LimitsExceeded, $"all VLAN ids {FirstVlan}..{LastVlan} are in use on {ha.Name} or {hb.Name}.");
                    }
                    long? limit = Planning.Planner.Normalize(spec.MaximumBandwidth) is long lim ? EffectiveBandwidth(lim) : (long?)null;
                    foreach (var e in ends)
                        foreach (var (_, nic) in e.Leftovers) RemoveNic(e.Host, e.Op, nic, $"RemoveResourceSettings (leftover adapter of link '{spec.Name}')", ct);
                    for (int i = 0; i < 2; i++)
                    {
                        var e = ends[i];
                        AddEnd(e.Host, e.Op, e.Vm, spec, i == 0, e.Host.SwitchRef(e.Snap.TransportGuid!).ToPath(), vlan, limit, ct);
                    }
                    ApplyStateAfterCreate(spec, ends.Select(e => e.Vm), ct);
                }
        }

        private static void AddEnd(HyperVHost host, HostOp op, VmRecord vm, LinkSpec spec, bool isFrom, string switchPath, int vlan, long? limit, CancellationToken ct)
        {
            string who = $"router '{vm.Marker.Router}'";
            var vssdRef = host.ById("Msvm_VirtualSystemSettingData", vm.VssdInstanceId);
            var nic = host.Template(op, "Msvm_SyntheticEthernetPortSettingData", "Microsoft:Hyper-V:Synthetic Ethernet Port", ct)
                .Set("ElementName", CimDataType.String, false, HyperVNames.NicName(spec.Name))
                .Set("Address", CimDataType.String, false, HyperVNames.Mac(spec.Name, spec.From, spec.To, isFrom))
                .Set("StaticMacAddress", CimDataType.Boolean, false, true)
                .Set("VirtualSystemIdentifiers", CimDataType.String, true, new[] { Guid.NewGuid().ToString("B") });
            var nicRef = host.AddResource(op, $"AddResourceSettings (network adapter on {who})", vssdRef, nic, ct);
            var epasd = host.Template(op, "Msvm_EthernetPortAllocationSettingData", "Microsoft:Hyper-V:Ethernet Connection", ct)
                .Set("Parent", CimDataType.String, false, nicRef.WithHost(host.PathHost).ToPath())
                .Set("HostResource", CimDataType.String, true, new[] { switchPath })
                .Set("ElementName", CimDataType.String, false, HyperVNames.NicName(spec.Name));
            var epasdRef = host.AddResource(op, $"AddResourceSettings (switch connection on {who})", vssdRef, epasd, ct);
            var features = new List<string> { CimXml.Write(VlanFeature(host, op, vlan, ct)) };
            if (limit.HasValue) features.Add(CimXml.Write(BandwidthFeature(host, op, limit.Value, ct)));
            host.Invoke(op, $"AddFeatureSettings (VLAN {vlan}{(limit.HasValue ? ", bandwidth" : "")} on {who})", host.Vsms(op, ct), "AddFeatureSettings", ct, new[]
            {
                CimMethodParameter.Reference("AffectedConfiguration", epasdRef),
                CimMethodParameter.Strings("FeatureSettings", features),
            });
        }

        /// <summary>Feature ids of the port features (fact sheet §5.2, Microsoft's networking sample).</summary>
        internal const string VlanFeatureId = "952C5004-4465-451C-8CB8-FA9AB382B773";
        internal const string BandwidthFeatureId = "24AD3CE1-69BD-4978-B2AC-DAAD389D699C";

        // Both start from the host's default feature instance (HyperVHost.DefaultFeature), as Microsoft's networking
        // sample and Go library do, and set only the values the link needs.
        private static CimObject VlanFeature(HyperVHost host, HostOp op, int vlan, CancellationToken ct) =>
            host.DefaultFeature(op, "Msvm_EthernetSwitchPortVlanSettingData", VlanFeatureId, ct)
                .Set("OperationMode", CimDataType.UInt32, false, 1U)
                .Set("AccessVlanId", CimDataType.UInt16, false, (ushort)vlan);

        private static CimObject BandwidthFeature(HyperVHost host, HostOp op, long limit, CancellationToken ct) =>
            host.DefaultFeature(op, "Msvm_EthernetSwitchPortBandwidthSettingData", BandwidthFeatureId, ct)
                .Set("Limit", CimDataType.UInt64, false, (ulong)limit);

        private string CreateFabric(HyperVHost host, HostOp op, CancellationToken ct)
        {
            var settings = new CimObject("Msvm_VirtualEthernetSwitchSettingData")
                .Set("ElementName", CimDataType.String, false, Options.SwitchName)
                .Set("Notes", CimDataType.String, true, HyperVNames.FabricNotes());
            var r = host.Invoke(op, $"DefineSystem (fabric switch '{Options.SwitchName}')", host.SwitchService(op, ct), "DefineSystem", ct, new[]
            {
                CimMethodParameter.String("SystemSettings", CimXml.Write(settings)),
            });
            var sw = host.Resulting(op, "DefineSystem (fabric switch)", r, "ResultingSystem", "Msvm_VirtualEthernetSwitch", ct);
            return sw.Key("Name") ?? throw op.Fail(HyperVErrorIds.MethodFailed, ErrorKind.InvalidResult, "DefineSystem returned a switch without a Name.");
        }

        public void RemoveLink(string name, CancellationToken cancellationToken)
        {
            var ct = cancellationToken;
            foreach (var h in KnownHosts())
            {
                var host = Host(h);
                var op = host.Op($"Removing link '{name}'", name);
                lock (host.Gate)
                {
                    // The link's NICs by name, kept only on marked (owned, realized) VMs: two queries.
                    var nics = HostSnapshot.LinkNics(host, op, new[] { name }, ct);
                    var notes = new Dictionary<string, string[]>(StringComparer.OrdinalIgnoreCase);
                    var markers = HostSnapshot.Markers(host, op, nics.Select(n => n.Owner), ct, notes);
                    foreach (var (id, link, owner) in nics)
                        if (markers.TryGetValue(owner, out var m))
                            RemoveNic(host, op, new NicRecord { InstanceId = id, Link = link }, $"RemoveResourceSettings (adapter on router '{m.Router}')", ct);
                    // A removed link has no state: its line leaves the routers' Notes (only where one is recorded).
                    foreach (var kv in markers)
                        if (notes.TryGetValue(kv.Key, out var n) && HyperVNames.LinkStates(n).ContainsKey(name))
                            RecordState(host, op, new VmRecord { VssdInstanceId = kv.Key, Marker = kv.Value, Notes = n, LinkStates = HyperVNames.LinkStates(n) }, name, LinkState.Up, ct);
                }
            }
        }

        /// <summary>Removes and re-adds the bandwidth feature on both ends (pitfall 5), then re-reads to confirm.</summary>
        public void SetLinkBandwidth(string name, long? bitsPerSecond, CancellationToken cancellationToken)
        {
            var ct = cancellationToken;
            long? limit = Planning.Planner.Normalize(bitsPerSecond) is long l ? EffectiveBandwidth(l) : (long?)null;
            var transport = new List<(HyperVHost Host, HostOp Op, List<string> Owners, HostSnapshot Snap)>();
            foreach (var h in KnownHosts())
            {
                var host = Host(h);
                var op = host.Op($"Changing the bandwidth of link '{name}' to {Bandwidth.Format(limit)}", name);
                lock (host.Gate)
                {
                    // The VMs owning a NIC of this link (and those claiming the same routers), not the whole host.
                    var owners = HostSnapshot.LinkNics(host, op, new[] { name }, ct).Select(n => HostSnapshot.ById(n.Owner)).ToList();
                    if (owners.Count == 0) continue;
                    var snap = HostSnapshot.ReadVms(host, op, owners, ReadParts.Features | ReadParts.Switch, ct);
                    if (!CompleteLinks(snap).Any(x => Same(x.Name, name)))
                    {
                        if (TransportEnds(host.Name, snap).Any(e => Same(e.Nic.Link, name))) transport.Add((host, op, owners, snap));
                        continue;
                    }
                    var ends = snap.RoutersByName().Values.Where(v => v.Count == 1).Select(v => v[0])
                        .SelectMany(v => v.Nics.Where(n => Same(n.Link, name)).Select(n => (v, n))).ToList();
                    foreach (var (vm, nic) in ends)
                        ApplyBandwidth(host, op, vm, nic, limit, ct);
                    var again = HostSnapshot.ReadVms(host, op, owners.Concat(ends.Select(e => HostSnapshot.ByName(e.Item1.Marker.Router))), ReadParts.Features | ReadParts.Switch, ct);
                    var check = CompleteLinks(again).FirstOrDefault(x => Same(x.Name, name));
                    if (check == null || check.MaximumBandwidth != limit || check.Status != null)
                        throw op.Fail(HyperVErrorIds.BandwidthNotApplied, ErrorKind.InvalidResult,
                            $"after the change the link reads {(check == null ? "as missing" : Bandwidth.Format(check.MaximumBandwidth) + (check.Status != null ? " (" + check.Status + ")" : ""))}, not {Bandwidth.Format(limit)}.",
                            "Run Set-VirtualLink again.");
                    return;
                }
            }
            // A link across hosts: one end on each host's transport switch.
            if (CrossHostLinks(transport.SelectMany(t => TransportEnds(t.Host.Name, t.Snap))).Any(x => Same(x.Name, name)))
            {
                foreach (var t in transport)
                    lock (t.Host.Gate)
                        foreach (var (_, vm, nic) in TransportEnds(t.Host.Name, t.Snap).Where(e => Same(e.Nic.Link, name)))
                            ApplyBandwidth(t.Host, t.Op, vm, nic, limit, ct);
                var ends = transport.SelectMany(t => TransportEnds(t.Host.Name,
                    HostSnapshot.ReadVms(t.Host, t.Op, t.Owners, ReadParts.Features | ReadParts.Switch, ct))).ToList();
                var check = CrossHostLinks(ends).FirstOrDefault(x => Same(x.Name, name));
                if (check == null || check.MaximumBandwidth != limit || check.Status != null)
                    throw HyperVErrors.Error(HyperVErrorIds.BandwidthNotApplied, ErrorKind.InvalidResult, name,
                        $"Changing the bandwidth of link '{name}': after the change the link reads {(check == null ? "as missing" : Bandwidth.Format(check.MaximumBandwidth))}, not {Bandwidth.Format(limit)}.",
                        "Run Set-VirtualLink again.");
                return;
            }
            throw HyperVErrors.Error(ErrorIds.LinkNotFound, ErrorKind.ObjectNotFound, name, $"No virtual link named '{name}' exists.");
        }

        /// <summary>Removes and re-adds the bandwidth feature of one end (pitfall 5: never Modify); null = remove only.</summary>
        private static void ApplyBandwidth(HyperVHost host, HostOp op, VmRecord vm, NicRecord nic, long? limit, CancellationToken ct)
        {
            string who = $"router '{vm.Marker.Router}'";
            if (nic.BandwidthInstanceId != null)
                host.Invoke(op, $"RemoveFeatureSettings (bandwidth on {who})", host.Vsms(op, ct), "RemoveFeatureSettings", ct, new[]
                {
                    CimMethodParameter.References("FeatureSettings", new[] { host.ById("Msvm_EthernetSwitchPortBandwidthSettingData", nic.BandwidthInstanceId) }),
                });
            if (limit.HasValue)
                host.Invoke(op, $"AddFeatureSettings (bandwidth on {who})", host.Vsms(op, ct), "AddFeatureSettings", ct, new[]
                {
                    CimMethodParameter.Reference("AffectedConfiguration", host.ById("Msvm_EthernetPortAllocationSettingData", nic.EpasdInstanceId!)),
                    CimMethodParameter.Strings("FeatureSettings", new[] { CimXml.Write(BandwidthFeature(host, op, limit.Value, ct)) }),
                });
        }

        // ================================================================================================ preflight

        public void EnsureReady(TopologySpec desired, CancellationToken cancellationToken)
        {
            var missing = new List<string>();
            var ct = cancellationToken;
            var byHost = desired.Routers.GroupBy(r => HostNames.Canonical(r.Host), StringComparer.OrdinalIgnoreCase);
            foreach (var g in byHost)
            {
                HyperVHost host;
                try
                {
                    host = Host(g.Key);
                    host.Vsms(host.Op("Checking host " + g.Key, g.Key), ct);
                }
                catch (VirtualNetworksException ex) when (ex.Kind != ErrorKind.OperationStopped)
                {
                    if (g.Count() == desired.Routers.Count && desired.Routers.Count > 0) throw;
                    missing.Add(ex.Message);
                    continue;
                }
                foreach (var image in g.Select(r => r.Image).Distinct(StringComparer.OrdinalIgnoreCase))
                {
                    var path = ResolveImage(image);
                    if (path == null) missing.Add($"image '{image}' on {g.Key}: a bare name needs the backend option ImagePath");
                    else if (!ImageExists(host, host.Op("Checking image " + image, image), image, ct)) missing.Add($"image '{path}' on {g.Key}");
                }
            }
            var hostOf = desired.Routers.ToDictionary(r => r.Name, r => HostNames.Canonical(r.Host), StringComparer.OrdinalIgnoreCase);
            var transportChecked = new Dictionary<string, bool>(StringComparer.OrdinalIgnoreCase);
            foreach (var l in desired.Links)
                if (hostOf.TryGetValue(l.From, out var hf) && hostOf.TryGetValue(l.To, out var ht) && !Same(hf, ht))
                {
                    if (string.IsNullOrEmpty(Options.TransportSwitchName))
                    {
                        missing.Add($"link '{l.Name}' joins {hf} and {ht}: links across Hyper-V hosts need the backend option TransportSwitchName (an external switch on both hosts)");
                        continue;
                    }
                    foreach (var h in new[] { hf, ht })
                    {
                        if (transportChecked.ContainsKey(h)) continue;
                        bool present;
                        try { present = HasTransportSwitch(Host(h), ct); }
                        catch (VirtualNetworksException ex) when (ex.Kind != ErrorKind.OperationStopped) { missing.Add(ex.Message); present = true; }
                        transportChecked[h] = present;
                        if (!present) missing.Add($"the transport switch '{Options.TransportSwitchName}' on {h} (needed by link '{l.Name}' between {hf} and {ht})");
                    }
                }
            if (missing.Count > 0)
                throw HyperVErrors.Error(ErrorIds.BackendNotAvailable, ErrorKind.NotInstalled, KindName,
                    "The Hyper-V backend cannot build this topology: " + string.Join("; ", missing) + ".",
                    "Copy the router image to every host (option ImagePath); for links across hosts create the external transport switch on each host and set the option TransportSwitchName.");
        }

        /// <summary>Whether the host has an unowned switch named TransportSwitchName (one query).</summary>
        private bool HasTransportSwitch(HyperVHost host, CancellationToken ct)
        {
            var op = host.Op("Checking the transport switch on " + host.Name, host.Name);
            return host.Query(op, "SELECT InstanceID, ElementName, Notes FROM Msvm_VirtualEthernetSwitchSettingData WHERE ElementName = '" +
                                  HyperVNames.Wql(Options.TransportSwitchName!) + "'", ct)
                .Any(s => !HyperVNames.IsOwned(s.GetStrings("Notes")));
        }
    }
}
