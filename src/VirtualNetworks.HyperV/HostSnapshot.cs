using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using VirtualNetworks.HyperV.Cim;

namespace VirtualNetworks.HyperV
{
    /// <summary>An owned (marked) VM as read from one host, with its devices joined in memory.</summary>
    internal sealed class VmRecord
    {
        public string Guid = "";
        public string ElementName = "";
        public string VssdInstanceId = "";
        public RouterMarker Marker = new RouterMarker();
        /// <summary>The VSSD's Notes as read (rewritten with one line changed when a link state is recorded).</summary>
        public string[] Notes = Array.Empty<string>();
        /// <summary>The VSSD as read (SELECT *): ModifySystemSettings sends it back whole, with only Notes changed.</summary>
        public CimObject? Settings;
        /// <summary>Link states recorded in the Notes (<see cref="HyperVNames.LinkStates"/>); links not listed are Up.</summary>
        public Dictionary<string, LinkState> LinkStates = new Dictionary<string, LinkState>(StringComparer.OrdinalIgnoreCase);
        public ushort EnabledState;
        public int Processors;
        public int MemoryMB;
        public string? DiskPath;
        /// <summary>InstanceID of the VHD's Msvm_StorageAllocationSettingData (storage migration names it).</summary>
        public string? DiskInstanceId;
        public CimObject? DiskSettings;
        public bool HasScsi;
        public List<NicRecord> Nics = new List<NicRecord>();
        public Dictionary<string, string> HostKvp = new Dictionary<string, string>(StringComparer.Ordinal);
        public string? KvpSettingsInstanceId;
        /// <summary>Complete = every creation step happened (disk attached); incomplete records are leftovers.</summary>
        public bool Complete => DiskPath != null;
    }

    internal sealed class NicRecord
    {
        public string InstanceId = "";
        public string Link = "";
        public string Mac = "";
        public string? EpasdInstanceId;
        /// <summary>The connection as read (SELECT *): re-pointing it sends this instance back with another HostResource.</summary>
        public CimObject? Epasd;
        public string? SwitchGuid;
        /// <summary>The connection's EnabledState: 2 Enabled, 3 Disabled (the port disconnected, settings kept); null = not read.</summary>
        public ushort? ConnectionState;
        /// <summary>The switch the connection names only through LastKnownSwitchName (HostResource empty while disabled).</summary>
        public bool SwitchFromLastKnownName;
        /// <summary>InstanceIDs of the module's deny-all ACLs on the port (Msvm_EthernetSwitchPortAclSettingData named vn:silent-*), by Direction.</summary>
        public Dictionary<byte, string> SilentAcls = new Dictionary<byte, string>();
        public string? VlanInstanceId;
        public int? AccessVlan;
        public string? BandwidthInstanceId;
        public long? Limit;
    }

    /// <summary>
    /// What the backend owns on one host, joined in memory. Two ways to read it (docs/hyperv-backend.md §3, §5):
    /// <list type="bullet">
    /// <item><see cref="Read"/>: the whole host in the six enumerations of <see cref="FullQueries"/> (inventory and the
    /// orphan scan only): 1 Msvm_ComputerSystem, 2 Msvm_VirtualSystemSettingData, 3 CIM_ResourceAllocationSettingData
    /// (processor, memory, disks, NICs and connections at once), 4 Msvm_EthernetSwitchPortFeatureSettingData (VLAN and
    /// bandwidth), 5 Msvm_KvpExchangeComponentSettingData, 6 Msvm_VirtualEthernetSwitchSettingData.</item>
    /// <item><see cref="ReadVms"/>: only the VMs a single operation concerns, by WHERE clauses (VSSD by ElementName or
    /// InstanceID, devices/features/KVP settings by <c>InstanceID LIKE '&lt;VSSD InstanceID&gt;%'</c>, the VM by Name),
    /// at most seven queries whose result size does not depend on the number of VMs on the host.</item>
    /// </list>
    /// Both are joined by the same code (InstanceID prefixes), so a partial snapshot of the VMs concerned answers every
    /// check (completeness, ambiguity, complete links) exactly as the full one does for those VMs.
    /// </summary>
    /// <summary>What a targeted read (<see cref="HostSnapshot.ReadVms"/>) fetches besides the VSSDs, VM states and devices.</summary>
    [Flags]
    internal enum ReadParts
    {
        /// <summary>VSSDs (marker), Msvm_ComputerSystem (EnabledState), devices (completeness, processors, memory, NICs, connections).</summary>
        Core = 0,
        /// <summary>+ port features (VLAN, bandwidth): link operations.</summary>
        Features = 1,
        /// <summary>+ KVP settings (the configuration pushed to the guest).</summary>
        Kvp = 2,
        /// <summary>+ the switch settings named SwitchName (the fabric switch).</summary>
        Switch = 4,
        All = Features | Kvp | Switch,
    }

    internal sealed class HostSnapshot
    {
        public string Host = "";
        public List<VmRecord> Vms = new List<VmRecord>();
        public string? FabricGuid;
        public bool FabricOwned;
        public string? FabricInstanceId;
        /// <summary>The external transport switch (ElementName = option TransportSwitchName; never owned, never created).</summary>
        public string? TransportGuid;

        /// <summary>The enumerations of a full read, in order (documented; tests count them).</summary>
        public static readonly string[] FullQueries =
        {
            "SELECT * FROM Msvm_ComputerSystem",
            "SELECT * FROM Msvm_VirtualSystemSettingData",
            "SELECT * FROM CIM_ResourceAllocationSettingData",
            "SELECT * FROM Msvm_EthernetSwitchPortFeatureSettingData",
            "SELECT * FROM Msvm_KvpExchangeComponentSettingData",
            "SELECT * FROM Msvm_VirtualEthernetSwitchSettingData",
        };

        /// <summary>The whole host (GetInventory, FindOrphans): the six enumerations of <see cref="FullQueries"/>.</summary>
        public static HostSnapshot Read(HyperVHost host, HostOp op, CancellationToken ct)
        {
            var snap = new HostSnapshot { Host = host.Name };
            var systems = host.Query(op, FullQueries[0], ct);
            var vssds = host.Query(op, FullQueries[1], ct);
            var devices = host.Query(op, FullQueries[2], ct);
            var features = host.Query(op, FullQueries[3], ct);
            var kvps = host.Query(op, FullQueries[4], ct);
            var switches = host.Query(op, FullQueries[5], ct);
            snap.Join(host, vssds, systems, devices, features, kvps, switches);
            return snap;
        }

        // ------------------------------------------------------------------------------------------ targeted reads

        /// <summary>VSSD condition: display name (the router name of a VM the module created).</summary>
        public static string ByName(string elementName) => "ElementName = '" + HyperVNames.Wql(elementName) + "'";
        /// <summary>VSSD condition: InstanceID (the owner prefix of a device, feature or KVP setting).</summary>
        public static string ById(string instanceId) => "InstanceID = '" + HyperVNames.Wql(instanceId) + "'";
        /// <summary>VSSD condition: the VM GUID.</summary>
        public static string ByGuid(string guid) => "VirtualSystemIdentifier = '" + HyperVNames.Wql(guid) + "'";

        private static string Or(IEnumerable<string> terms) => string.Join(" OR ", terms);

        /// <summary>
        /// The owned VMs a single operation concerns, whatever the number of VMs on the host. Query 1: the VSSDs matching
        /// any of <paramref name="vssdConditions"/> (<see cref="ByName"/>, <see cref="ById"/>, <see cref="ByGuid"/>);
        /// only realized VSSDs carrying the router marker are kept (checkpoints and foreign VMs drop out). Query 2, only
        /// when a kept VSSD's marker names a router not already looked up by name: the VSSDs with those ElementNames, so
        /// a second VM claiming the same router is seen (ambiguity). Then, for the kept VMs at once (OR of their
        /// conditions): 3 Msvm_ComputerSystem by Name, 4 CIM_ResourceAllocationSettingData by InstanceID prefix, and as
        /// <paramref name="parts"/> asks, 5 Msvm_EthernetSwitchPortFeatureSettingData and 6
        /// Msvm_KvpExchangeComponentSettingData by InstanceID prefix, 7 the switch settings named SwitchName. Nothing
        /// matched: queries 3–6 are skipped. Parts not read stay empty in the records (no VLAN, bandwidth or KVP items).
        /// </summary>
        public static HostSnapshot ReadVms(HyperVHost host, HostOp op, IEnumerable<string> vssdConditions, ReadParts parts, CancellationToken ct)
        {
            var snap = new HostSnapshot { Host = host.Name };
            var conditions = vssdConditions.Distinct(StringComparer.OrdinalIgnoreCase).ToList();
            var kept = new Dictionary<string, CimObject>(StringComparer.OrdinalIgnoreCase);
            var namesLookedUp = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            void Keep(IEnumerable<CimObject> rows)
            {
                foreach (var v in rows)
                    if (IsRealized(v) && HyperVNames.ParseRouter(v.GetStrings("Notes")) != null) kept[v.GetString("InstanceID") ?? ""] = v;
            }
            if (conditions.Count > 0)
            {
                foreach (var c in conditions)
                    if (c.StartsWith("ElementName = ", StringComparison.Ordinal)) namesLookedUp.Add(c);
                Keep(host.Query(op, "SELECT * FROM Msvm_VirtualSystemSettingData WHERE " + Or(conditions), ct));
                var others = kept.Values.Select(v => HyperVNames.ParseRouter(v.GetStrings("Notes"))!.Router)
                    .Select(ByName).Where(c => !namesLookedUp.Contains(c)).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
                if (others.Count > 0) Keep(host.Query(op, "SELECT * FROM Msvm_VirtualSystemSettingData WHERE " + Or(others), ct));
            }
            IReadOnlyList<CimObject> none = Array.Empty<CimObject>(), systems = none, devices = none, features = none, kvps = none, switches = none;
            if (kept.Count > 0)
            {
                var prefixes = Or(kept.Keys.Select(id => "InstanceID LIKE '" + HyperVNames.WqlLike(id) + "%'"));
                systems = host.Query(op, "SELECT * FROM Msvm_ComputerSystem WHERE " + Or(kept.Values.Select(v => "Name = '" + HyperVNames.Wql(VmGuid(v)) + "'")), ct);
                devices = host.Query(op, "SELECT * FROM CIM_ResourceAllocationSettingData WHERE " + prefixes, ct);
                if ((parts & ReadParts.Features) != 0)
                    features = host.Query(op, "SELECT * FROM Msvm_EthernetSwitchPortFeatureSettingData WHERE " + prefixes, ct);
                if ((parts & ReadParts.Kvp) != 0)
                    kvps = host.Query(op, "SELECT * FROM Msvm_KvpExchangeComponentSettingData WHERE " + prefixes, ct);
            }
            if ((parts & ReadParts.Switch) != 0)
                switches = host.Query(op, SwitchQuery(host.Options), ct);
            snap.Join(host, kept.Values.ToList(), systems, devices, features, kvps, switches);
            return snap;
        }

        /// <summary>The switch settings named SwitchName (the fabric) or TransportSwitchName (when set): one query.</summary>
        public static string SwitchQuery(HyperVBackendOptions o) =>
            "SELECT * FROM Msvm_VirtualEthernetSwitchSettingData WHERE ElementName = '" + HyperVNames.Wql(o.SwitchName) + "'" +
            (string.IsNullOrEmpty(o.TransportSwitchName) ? "" : " OR ElementName = '" + HyperVNames.Wql(o.TransportSwitchName!) + "'");

        /// <summary>
        /// The synthetic NICs named <c>vn:&lt;link&gt;</c> for any of <paramref name="links"/>, on any VM (one query,
        /// InstanceID and ElementName only); the owner VSSD of each is <see cref="OwnerOf"/> its InstanceID. Checkpoint
        /// copies and foreign VMs' NICs are among them: callers keep those whose owner is a marked, realized VSSD.
        /// </summary>
        public static List<(string InstanceId, string Link, string Owner)> LinkNics(HyperVHost host, HostOp op, IEnumerable<string> links, CancellationToken ct)
        {
            var names = links.Distinct(StringComparer.OrdinalIgnoreCase).ToList();
            var result = new List<(string, string, string)>();
            if (names.Count == 0) return result;
            var rows = host.Query(op, "SELECT InstanceID, ElementName FROM Msvm_SyntheticEthernetPortSettingData WHERE " +
                                      Or(names.Select(l => "ElementName = '" + HyperVNames.Wql(HyperVNames.NicName(l)) + "'")), ct);
            foreach (var r in rows)
            {
                var id = r.GetString("InstanceID") ?? "";
                var link = HyperVNames.LinkOfNic(r.GetString("ElementName"));
                if (link == null || id.Length == 0 || id.StartsWith("Microsoft:Definition", StringComparison.OrdinalIgnoreCase)) continue;
                if (!names.Contains(link, StringComparer.OrdinalIgnoreCase)) continue;
                result.Add((id, link, OwnerOf(id)));
            }
            return result;
        }

        /// <summary>
        /// The router markers of the given VSSD InstanceIDs (one query, marker properties only); only realized VSSDs
        /// carrying the marker are returned, so NICs of checkpoints and foreign VMs are never touched.
        /// </summary>
        public static Dictionary<string, RouterMarker> Markers(HyperVHost host, HostOp op, IEnumerable<string> vssdIds, CancellationToken ct,
            Dictionary<string, string[]>? notes = null)
        {
            var ids = vssdIds.Distinct(StringComparer.OrdinalIgnoreCase).ToList();
            var result = new Dictionary<string, RouterMarker>(StringComparer.OrdinalIgnoreCase);
            if (ids.Count == 0) return result;
            var rows = host.Query(op, "SELECT InstanceID, Notes, VirtualSystemType FROM Msvm_VirtualSystemSettingData WHERE " + Or(ids.Select(ById)), ct);
            foreach (var v in rows)
                if (IsRealized(v) && HyperVNames.ParseRouter(v.GetStrings("Notes")) is RouterMarker m)
                {
                    result[v.GetString("InstanceID") ?? ""] = m;
                    if (notes != null) notes[v.GetString("InstanceID") ?? ""] = v.GetStrings("Notes");
                }
            return result;
        }

        /// <summary>
        /// Last resort when a router is not found under its name (the VM was renamed in Hyper-V Manager): scans the
        /// marker properties of every VSSD for the given router names. Grows with the host, so it runs only on the path
        /// that would otherwise fail with "not found", never on a normal operation. Returns <see cref="ById"/> conditions.
        /// </summary>
        public static List<string> ScanMarkers(HyperVHost host, HostOp op, IEnumerable<string> routers, CancellationToken ct)
        {
            var wanted = new HashSet<string>(routers, StringComparer.OrdinalIgnoreCase);
            var rows = host.Query(op, "SELECT InstanceID, Notes, VirtualSystemType FROM Msvm_VirtualSystemSettingData", ct);
            return rows.Where(v => IsRealized(v) && HyperVNames.ParseRouter(v.GetStrings("Notes")) is RouterMarker m && wanted.Contains(m.Router))
                .Select(v => ById(v.GetString("InstanceID") ?? "")).ToList();
        }

        public static bool IsRealized(CimObject vssd)
        {
            var t = vssd.GetString("VirtualSystemType");
            return string.IsNullOrEmpty(t) || string.Equals(t, HyperVNames.Realized, StringComparison.OrdinalIgnoreCase);
        }

        public static string VmGuid(CimObject vssd) =>
            vssd.GetString("VirtualSystemIdentifier") ?? vssd.GetString("ConfigurationID") ?? StripMicrosoft(vssd.GetString("InstanceID") ?? "");

        private static string StripMicrosoft(string id) => id.StartsWith("Microsoft:", StringComparison.OrdinalIgnoreCase) ? id.Substring(10) : id;

        /// <summary>The owning prefix of a device InstanceID: the text before the first backslash.</summary>
        public static string OwnerOf(string instanceId)
        {
            int i = instanceId.IndexOf('\\');
            return i < 0 ? instanceId : instanceId.Substring(0, i);
        }

        private void Join(HyperVHost host, IReadOnlyList<CimObject> vssds, IReadOnlyList<CimObject> systems, IReadOnlyList<CimObject> devices,
            IReadOnlyList<CimObject> features, IReadOnlyList<CimObject> kvps, IReadOnlyList<CimObject> switches)
        {
            // Fabric switch: ElementName = option SwitchName; owned when its Notes carry the fabric marker.
            foreach (var s in switches)
            {
                if (!string.IsNullOrEmpty(host.Options.TransportSwitchName) && TransportGuid == null &&
                    string.Equals(s.GetString("ElementName"), host.Options.TransportSwitchName, StringComparison.OrdinalIgnoreCase) &&
                    !HyperVNames.IsOwned(s.GetStrings("Notes")))
                    TransportGuid = VmGuid(s);
                if (!string.Equals(s.GetString("ElementName"), host.Options.SwitchName, StringComparison.OrdinalIgnoreCase)) continue;
                bool owned = HyperVNames.IsFabric(s.GetStrings("Notes"));
                if (FabricGuid != null && !(owned && !FabricOwned)) continue;
                FabricGuid = VmGuid(s);
                FabricOwned = owned;
                FabricInstanceId = s.GetString("InstanceID");
            }

            var byVssd = new Dictionary<string, VmRecord>(StringComparer.OrdinalIgnoreCase);
            var byGuid = new Dictionary<string, VmRecord>(StringComparer.OrdinalIgnoreCase);
            foreach (var v in vssds)
            {
                if (!IsRealized(v)) continue; // checkpoints (pitfall 3)
                var marker = HyperVNames.ParseRouter(v.GetStrings("Notes"));
                if (marker == null) continue; // not ours: never touched
                var rec = new VmRecord
                {
                    Guid = VmGuid(v),
                    ElementName = v.GetString("ElementName") ?? "",
                    VssdInstanceId = v.GetString("InstanceID") ?? "",
                    Marker = marker,
                    Notes = v.GetStrings("Notes"),
                    Settings = v,
                    LinkStates = HyperVNames.LinkStates(v.GetStrings("Notes")),
                };
                byVssd[rec.VssdInstanceId] = rec;
                byGuid[rec.Guid] = rec;
                Vms.Add(rec);
            }
            foreach (var s in systems)
                if (s.GetString("Name") is string n && byGuid.TryGetValue(n, out var rec)) rec.EnabledState = s.GetUInt16("EnabledState") ?? 0;

            var nics = new Dictionary<string, (VmRecord Vm, NicRecord Nic)>(StringComparer.OrdinalIgnoreCase);
            var epasds = new List<(VmRecord Vm, CimObject E)>();
            foreach (var d in devices)
            {
                var id = d.GetString("InstanceID") ?? "";
                if (!byVssd.TryGetValue(OwnerOf(id), out var vm)) continue;
                var sub = d.GetString("ResourceSubType") ?? "";
                switch (sub)
                {
                    case "Microsoft:Hyper-V:Processor":
                        vm.Processors = (int)(d.GetUInt64("VirtualQuantity") ?? 0);
                        break;
                    case "Microsoft:Hyper-V:Memory":
                        vm.MemoryMB = (int)(d.GetUInt64("VirtualQuantity") ?? 0);
                        break;
                    case "Microsoft:Hyper-V:Synthetic SCSI Controller":
                        vm.HasScsi = true;
                        break;
                    case "Microsoft:Hyper-V:Virtual Hard Disk":
                        var path = d.GetStrings("HostResource").FirstOrDefault();
                        if (HyperVNames.IsDiskOf(vm.Marker.Router, path))
                        {
                            vm.DiskPath = path;
                            vm.DiskInstanceId = id;
                            vm.DiskSettings = d;
                        }
                        break;
                    case "Microsoft:Hyper-V:Synthetic Ethernet Port":
                        var link = HyperVNames.LinkOfNic(d.GetString("ElementName"));
                        if (link == null) break;
                        var nic = new NicRecord { InstanceId = id, Link = link, Mac = HyperVNames.NormalizeMac(d.GetString("Address")) };
                        vm.Nics.Add(nic);
                        nics[id] = (vm, nic);
                        break;
                    case "Microsoft:Hyper-V:Ethernet Connection":
                        epasds.Add((vm, d));
                        break;
                }
            }
            var nicByEpasd = new Dictionary<string, NicRecord>(StringComparer.OrdinalIgnoreCase);
            foreach (var (vm, e) in epasds)
            {
                var parent = e.GetString("Parent");
                if (!CimReference.TryParse(parent, out var pref, out _) || pref!.Key("InstanceID") is not string nicId) continue;
                if (!nics.TryGetValue(nicId, out var owner)) continue;
                owner.Nic.EpasdInstanceId = e.GetString("InstanceID");
                owner.Nic.Epasd = e;
                var hr = e.GetStrings("HostResource").FirstOrDefault();
                if (CimReference.TryParse(hr, out var sref, out _)) owner.Nic.SwitchGuid = sref!.Key("Name");
                owner.Nic.ConnectionState = e.GetUInt16("EnabledState");
                if (owner.Nic.SwitchGuid == null && owner.Nic.ConnectionState == 3 && e.GetString("LastKnownSwitchName") is string last)
                {
                    // Tolerance: a disabled connection whose HostResource was emptied still names its switch in
                    // LastKnownSwitchName ("the switch this port had a hard affinity to"); the link stays recognised.
                    var named = switches.FirstOrDefault(s => string.Equals(s.GetString("ElementName"), last, StringComparison.OrdinalIgnoreCase));
                    if (named != null && (string.Equals(last, host.Options.SwitchName, StringComparison.OrdinalIgnoreCase) ||
                                          string.Equals(last, host.Options.TransportSwitchName, StringComparison.OrdinalIgnoreCase)))
                    {
                        owner.Nic.SwitchGuid = VmGuid(named);
                        owner.Nic.SwitchFromLastKnownName = true;
                    }
                }
                if (owner.Nic.EpasdInstanceId != null) nicByEpasd[owner.Nic.EpasdInstanceId] = owner.Nic;
            }
            foreach (var f in features)
            {
                var id = f.GetString("InstanceID") ?? "";
                NicRecord? nic = null;
                for (int i = id.LastIndexOf('\\'); i > 0 && nic == null; i = id.LastIndexOf('\\', i - 1))
                    nicByEpasd.TryGetValue(id.Substring(0, i), out nic);
                if (nic == null) continue;
                if (HyperVBackend.IsSilentAcl(f))
                {
                    nic.SilentAcls[(byte)(f.GetUInt32("Direction") ?? 0)] = id;
                    continue;
                }
                if (f.ClassName.EndsWith("VlanSettingData", StringComparison.OrdinalIgnoreCase) || f.Has("AccessVlanId"))
                {
                    nic.VlanInstanceId = id;
                    nic.AccessVlan = (f.GetUInt32("OperationMode") ?? 1) == 1 ? (int?)f.GetUInt16("AccessVlanId") : null;
                }
                else if (f.ClassName.EndsWith("BandwidthSettingData", StringComparison.OrdinalIgnoreCase) || f.Has("Limit"))
                {
                    nic.BandwidthInstanceId = id;
                    var limit = (long)(f.GetUInt64("Limit") ?? 0);
                    nic.Limit = limit > 0 ? limit : (long?)null;
                }
            }
            foreach (var k in kvps)
            {
                var id = k.GetString("InstanceID") ?? "";
                if (!byVssd.TryGetValue(OwnerOf(id), out var vm)) continue;
                vm.KvpSettingsInstanceId = id;
                foreach (var item in k.GetStrings("HostExchangeItems"))
                {
                    try
                    {
                        var o = CimXml.Read(item);
                        if (o.GetString("Name") is string name) vm.HostKvp[name] = o.GetString("Data") ?? "";
                    }
                    catch (FormatException) { }
                }
            }
        }

        /// <summary>Complete routers by name; names claimed by more than one complete VM are ambiguous.</summary>
        public Dictionary<string, List<VmRecord>> RoutersByName()
        {
            var d = new Dictionary<string, List<VmRecord>>(StringComparer.OrdinalIgnoreCase);
            foreach (var vm in Vms.Where(v => v.Complete))
            {
                if (!d.TryGetValue(vm.Marker.Router, out var l)) d[vm.Marker.Router] = l = new List<VmRecord>();
                l.Add(vm);
            }
            return d;
        }
    }
}
