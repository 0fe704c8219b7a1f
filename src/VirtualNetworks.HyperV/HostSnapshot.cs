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
        public ushort EnabledState;
        public int Processors;
        public int MemoryMB;
        public string? DiskPath;
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
        public string? SwitchGuid;
        public string? VlanInstanceId;
        public int? AccessVlan;
        public string? BandwidthInstanceId;
        public long? Limit;
    }

    /// <summary>
    /// Everything the backend owns on one host, read in a fixed number of enumerations (docs/hyperv-backend.md §5):
    /// 1 Msvm_ComputerSystem, 2 Msvm_VirtualSystemSettingData, 3 CIM_ResourceAllocationSettingData (processor, memory,
    /// disks, NICs and connections at once), 4 Msvm_EthernetSwitchPortFeatureSettingData (VLAN and bandwidth),
    /// 5 Msvm_KvpExchangeComponentSettingData, 6 Msvm_VirtualEthernetSwitchSettingData. Joined by InstanceID prefixes.
    /// A targeted read (one router by name) runs the same queries with WHERE clauses.
    /// </summary>
    internal sealed class HostSnapshot
    {
        public string Host = "";
        public List<VmRecord> Vms = new List<VmRecord>();
        public string? FabricGuid;
        public bool FabricOwned;
        public string? FabricInstanceId;

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

        public static HostSnapshot Read(HyperVHost host, HostOp op, string? routerName, CancellationToken ct)
        {
            var snap = new HostSnapshot { Host = host.Name };
            IReadOnlyList<CimObject> vssds, systems, devices, features, kvps, switches;
            if (routerName == null)
            {
                systems = host.Query(op, FullQueries[0], ct);
                vssds = host.Query(op, FullQueries[1], ct);
                devices = host.Query(op, FullQueries[2], ct);
                features = host.Query(op, FullQueries[3], ct);
                kvps = host.Query(op, FullQueries[4], ct);
                switches = host.Query(op, FullQueries[5], ct);
            }
            else
            {
                vssds = host.Query(op, "SELECT * FROM Msvm_VirtualSystemSettingData WHERE ElementName = '" + HyperVNames.Wql(routerName) + "'", ct);
                var mine = vssds.Where(v => IsRealized(v) && HyperVNames.ParseRouter(v.GetStrings("Notes")) != null).ToList();
                var sys = new List<CimObject>(); var dev = new List<CimObject>(); var fea = new List<CimObject>(); var kv = new List<CimObject>();
                foreach (var v in mine)
                {
                    string guid = VmGuid(v);
                    string prefix = HyperVNames.Wql(v.GetString("InstanceID") ?? "") + "%";
                    sys.AddRange(host.Query(op, "SELECT * FROM Msvm_ComputerSystem WHERE Name = '" + HyperVNames.Wql(guid) + "'", ct));
                    dev.AddRange(host.Query(op, "SELECT * FROM CIM_ResourceAllocationSettingData WHERE InstanceID LIKE '" + prefix + "'", ct));
                    fea.AddRange(host.Query(op, "SELECT * FROM Msvm_EthernetSwitchPortFeatureSettingData WHERE InstanceID LIKE '" + prefix + "'", ct));
                    kv.AddRange(host.Query(op, "SELECT * FROM Msvm_KvpExchangeComponentSettingData WHERE InstanceID LIKE '" + prefix + "'", ct));
                }
                systems = sys; devices = dev; features = fea; kvps = kv;
                switches = host.Query(op, "SELECT * FROM Msvm_VirtualEthernetSwitchSettingData WHERE ElementName = '" + HyperVNames.Wql(host.Options.SwitchName) + "'", ct);
            }
            snap.Join(host, vssds, systems, devices, features, kvps, switches);
            return snap;
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
                        if (path != null && path.EndsWith("\\" + HyperVNames.DiskFileName(vm.Marker.Router), StringComparison.OrdinalIgnoreCase)) vm.DiskPath = path;
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
                var hr = e.GetStrings("HostResource").FirstOrDefault();
                if (CimReference.TryParse(hr, out var sref, out _)) owner.Nic.SwitchGuid = sref!.Key("Name");
                if (owner.Nic.EpasdInstanceId != null) nicByEpasd[owner.Nic.EpasdInstanceId] = owner.Nic;
            }
            foreach (var f in features)
            {
                var id = f.GetString("InstanceID") ?? "";
                NicRecord? nic = null;
                for (int i = id.LastIndexOf('\\'); i > 0 && nic == null; i = id.LastIndexOf('\\', i - 1))
                    nicByEpasd.TryGetValue(id.Substring(0, i), out nic);
                if (nic == null) continue;
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
