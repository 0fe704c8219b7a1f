using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using VirtualNetworks.HyperV.Cim;

namespace VirtualNetworks.HyperV.Simulator
{
    public sealed partial class HyperVSimulator
    {
        /// <summary>An embedded instance parsed and checked against the schema; <c>Provided</c> names the properties the text carried.</summary>
        internal sealed class Embedded
        {
            public CimObject Obj = null!;
            public HashSet<string> Provided = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            public bool Has(string p) => Provided.Contains(p);
        }

        internal Embedded ParseEmbedded(string? text, string expectedBase, string parameter)
        {
            if (string.IsNullOrWhiteSpace(text)) throw SimFailure.Invalid($"{parameter}: empty embedded instance.");
            CimObject raw;
            try { raw = CimXml.Read(text!); }
            catch (FormatException ex) { throw SimFailure.Invalid($"{parameter}: not a CIM-XML embedded instance: {ex.Message}"); }
            var cls = HyperVSchema.Find(raw.ClassName);
            if (cls == null || cls.Namespace != CimReference.VirtualizationNamespace)
                throw SimFailure.Invalid($"{parameter}: unknown class '{raw.ClassName}'.");
            if (!cls.IsA(expectedBase)) throw SimFailure.Invalid($"{parameter}: {cls.Name} is not a {expectedBase}.");
            if (cls.IsAbstract) throw SimFailure.Invalid($"{parameter}: {cls.Name} is abstract.");
            var result = new Embedded { Obj = New(cls.Name) };
            foreach (var p in raw.Properties)
            {
                var def = cls.Property(p.Name) ?? throw SimFailure.Invalid($"{parameter}: {cls.Name} has no property '{p.Name}'.");
                bool typeOk = p.Type == def.Type || (def.Type == CimDataType.Reference && p.Type == CimDataType.String) ||
                              (def.Type == CimDataType.DateTime && p.Type == CimDataType.String);
                if (!typeOk || p.IsArray != def.IsArray)
                    throw SimFailure.Invalid($"{parameter}: {cls.Name}.{def.Name} is {CimTypes.XmlName(def.Type)}{(def.IsArray ? "[]" : "")}, " +
                                             $"the text says {CimTypes.XmlName(p.Type)}{(p.IsArray ? "[]" : "")}.");
                try { result.Obj.Set(def.Name, p.Value); }
                catch (ArgumentException ex) { throw SimFailure.Invalid($"{parameter}: {cls.Name}.{def.Name}: {ex.Message}"); }
                result.Provided.Add(def.Name);
            }
            return result;
        }

        /// <summary>Resolves an object path written inside a setting (Parent, HostResource); must name an existing instance.</summary>
        internal CimObject ResolvePath(string? path, string what, params string[] classes)
        {
            if (!CimReference.TryParse(path, out var r, out var why)) throw SimFailure.Invalid($"{what}: '{path}' is not a WMI object path ({why}).");
            return ResolveRef(r!, what, classes);
        }

        internal CimObject ResolveRef(CimReference? r, string what, params string[] classes)
        {
            if (r == null) throw SimFailure.Invalid($"{what}: no reference.");
            if (!string.IsNullOrEmpty(r.Host) && r.Host != "." && !string.Equals(r.Host, ComputerName, StringComparison.OrdinalIgnoreCase))
                throw SimFailure.Invalid($"{what}: {r} is on host '{r.Host}', not '{ComputerName}'.");
            if (!string.Equals(r.Namespace, CimReference.VirtualizationNamespace, StringComparison.OrdinalIgnoreCase))
                throw SimFailure.Invalid($"{what}: {r} is not in {CimReference.VirtualizationNamespace}.");
            if (HyperVSchema.Find(r.ClassName) == null) throw SimFailure.Invalid($"{what}: {r} names unknown class '{r.ClassName}'.");
            var o = Get(r) ?? throw SimFailure.Invalid($"{what}: {r} does not exist.");
            var cls = HyperVSchema.Class(o.ClassName);
            if (classes.Length > 0 && !classes.Any(cls.IsA)) throw SimFailure.Invalid($"{what}: {r} is a {cls.Name}, expected {string.Join(" or ", classes)}.");
            return o;
        }

        internal CimObject? ByInstanceId(string className, string? id) =>
            id == null ? null : Get(CimReference.ByInstanceId(className, id, ComputerName));

        internal static string Iid(CimObject o) => o.GetString("InstanceID") ?? "";

        /// <summary>The VM GUID owning a setting (InstanceID "Microsoft:GUID\..." or "Microsoft:GUID").</summary>
        internal static string? OwnerId(string instanceId)
        {
            if (!instanceId.StartsWith("Microsoft:", StringComparison.OrdinalIgnoreCase)) return null;
            string rest = instanceId.Substring("Microsoft:".Length);
            int slash = rest.IndexOf('\\');
            return slash < 0 ? rest : rest.Substring(0, slash);
        }

        internal CimObject? VmOf(CimObject setting)
        {
            string? id = OwnerId(Iid(setting));
            if (id == null) return null;
            var vm = Get(VmRef(id));
            return vm != null && IsVm(vm) ? vm : null;
        }

        internal CimReference VmRef(string guid) => new CimReference("Msvm_ComputerSystem", new[]
        {
            new KeyValuePair<string, object>("CreationClassName", "Msvm_ComputerSystem"),
            new KeyValuePair<string, object>("Name", guid),
        }, CimReference.VirtualizationNamespace, ComputerName);

        internal CimReference SwitchRef(string guid) => new CimReference("Msvm_VirtualEthernetSwitch", new[]
        {
            new KeyValuePair<string, object>("CreationClassName", "Msvm_VirtualEthernetSwitch"),
            new KeyValuePair<string, object>("Name", guid),
        }, CimReference.VirtualizationNamespace, ComputerName);

        internal CimObject? Vssd(CimObject vm) => ByInstanceId("Msvm_VirtualSystemSettingData", "Microsoft:" + vm.GetString("Name"));

        /// <summary>Every setting whose InstanceID starts with <paramref name="prefix"/> + "\".</summary>
        internal List<CimObject> Children(string prefix, string baseClass = "CIM_SettingData")
        {
            string p = prefix + "\\";
            return Enumerate(baseClass).Where(o => Iid(o).StartsWith(p, StringComparison.OrdinalIgnoreCase)).ToList();
        }

        internal List<CimObject> Devices(CimObject vm) => Children("Microsoft:" + vm.GetString("Name"), "CIM_ResourceAllocationSettingData");

        internal CimObject? Component(CimObject vm, string className) =>
            Enumerate(className).FirstOrDefault(c => string.Equals(c.GetString("SystemName"), vm.GetString("Name"), StringComparison.OrdinalIgnoreCase));

        internal bool FileInUse(string path) =>
            Enumerate("Msvm_StorageAllocationSettingData").Any(s => !Iid(s).StartsWith(@"Microsoft:Definition\", StringComparison.OrdinalIgnoreCase) &&
                s.GetStrings("HostResource").Any(h => string.Equals(NormalizePath(h), path, StringComparison.OrdinalIgnoreCase))) ||
            _files.Values.Any(f => f.ParentPath != null && string.Equals(f.ParentPath, path, StringComparison.OrdinalIgnoreCase) && FileInUse(f.Path));

        internal static void CopyProvided(Embedded from, CimObject to, params string[] except)
        {
            foreach (var name in from.Provided)
            {
                if (except.Any(e => string.Equals(e, name, StringComparison.OrdinalIgnoreCase))) continue;
                if (to.Property(name) == null) continue;
                to.Set(name, from.Obj[name]);
            }
        }

        internal static bool IsMac(string? s) => s != null && s.Length == 12 && s.All(Uri.IsHexDigit);

        internal string NextMac()
        {
            long n = ++_macCounter;
            int h = Math.Abs(StringComparer.OrdinalIgnoreCase.GetHashCode(ComputerName)) % 256;
            return "00155D" + h.ToString("X2", CultureInfo.InvariantCulture) + (n & 0xFFFF).ToString("X4", CultureInfo.InvariantCulture);
        }

        // ---------------------------------------------------------------- KVP item texts

        internal static List<(string Name, string Data, ushort Source)> ReadItems(IEnumerable<string> texts)
        {
            var list = new List<(string, string, ushort)>();
            foreach (var t in texts)
            {
                try
                {
                    var o = CimXml.Read(t);
                    list.Add((o.GetString("Name") ?? "", o.GetString("Data") ?? "", o.GetUInt16("Source") ?? 0));
                }
                catch (FormatException) { }
            }
            return list;
        }

        internal string ItemText(string name, string data, ushort source)
        {
            var o = New("Msvm_KvpExchangeDataItem");
            o.Set("Name", name);
            o.Set("Data", data);
            o.Set("Source", source);
            return CimXml.Write(o);
        }

        // ---------------------------------------------------------------- guest view

        internal SimulatedGuestContext GuestContext(CimObject vm)
        {
            var rt = Runtime(vm);
            var nics = new List<SimulatedNic>();
            foreach (var nic in Devices(vm).Where(d => d.ClassName == "Msvm_SyntheticEthernetPortSettingData" || d.ClassName == "Msvm_EmulatedEthernetPortSettingData"))
            {
                var n = new SimulatedNic
                {
                    ElementName = nic.GetString("ElementName") ?? "",
                    MacAddress = nic.GetString("Address") ?? "000000000000",
                    StaticMacAddress = nic.GetBoolean("StaticMacAddress") ?? false,
                    InstanceId = Iid(nic),
                };
                var conn = ByInstanceId("Msvm_EthernetPortAllocationSettingData", Iid(nic) + @"\C");
                if (conn != null)
                {
                    string? sw = conn.GetStrings("HostResource").FirstOrDefault();
                    if (sw != null && CimReference.TryParse(sw, out var swRef, out _) && Get(swRef!) is CimObject swObj)
                    {
                        n.SwitchName = swObj.GetString("ElementName");
                        n.SwitchId = swObj.GetString("Name");
                        n.Connected = (conn.GetUInt16("EnabledState") ?? 2) == 2;
                    }
                    foreach (var f in Children(Iid(conn)))
                    {
                        if (f.ClassName == "Msvm_EthernetSwitchPortVlanSettingData" && (f.GetUInt32("OperationMode") ?? 0) == 1)
                            n.AccessVlanId = f.GetUInt16("AccessVlanId");
                        if (f.ClassName == "Msvm_EthernetSwitchPortBandwidthSettingData") n.BandwidthLimit = f.GetUInt64("Limit");
                        if (f.ClassName == "Msvm_EthernetSwitchPortAclSettingData")
                            n.Acls.Add(new SimulatedAcl
                            {
                                Name = f.GetString("Name") ?? "",
                                Direction = (byte)(f.GetUInt32("Direction") ?? 0),
                                Applicability = (byte)(f.GetUInt32("Applicability") ?? 0),
                                AclType = (byte)(f.GetUInt32("AclType") ?? 0),
                                Action = (byte)(f.GetUInt32("Action") ?? 0),
                                RemoteAddress = f.GetString("RemoteAddress") ?? "",
                                RemoteAddressPrefixLength = (byte)(f.GetUInt32("RemoteAddressPrefixLength") ?? 0),
                                LocalAddress = f.GetString("LocalAddress") ?? "",
                                LocalAddressPrefixLength = (byte)(f.GetUInt32("LocalAddressPrefixLength") ?? 0),
                            });
                    }
                }
                nics.Add(n);
            }
            var kvpSettings = KvpSettings(vm);
            return new SimulatedGuestContext(this)
            {
                VmId = vm.GetString("Name") ?? "",
                VmName = vm.GetString("ElementName") ?? "",
                EnabledState = State(vm),
                GuestUp = rt.GuestUp && State(vm) == 2,
                Nics = nics,
                HostItems = kvpSettings == null ? new Dictionary<string, string>()
                    : ReadItems(kvpSettings.GetStrings("HostExchangeItems")).GroupBy(i => i.Name).ToDictionary(g => g.Key, g => g.Last().Data),
                GuestItems = new Dictionary<string, string>(rt.GuestItems),
            };
        }

        internal CimObject? KvpSettings(CimObject vm) => Devices(vm).FirstOrDefault(d => d.ClassName == "Msvm_KvpExchangeComponentSettingData");

        internal bool HasVhd(CimObject vm) => Devices(vm).Any(d => d.ClassName == "Msvm_StorageAllocationSettingData" &&
            string.Equals(d.GetString("ResourceSubType"), VhdMedia, StringComparison.OrdinalIgnoreCase));

        /// <summary>Shutdown component status and KVP component items follow the VM's state and guest.</summary>
        internal void RefreshGuestFacingState(CimObject vm)
        {
            var rt = Runtime(vm);
            bool running = State(vm) == 2;
            bool up = running && rt.GuestUp;
            if (Component(vm, "Msvm_ShutdownComponent") is CimObject sc)
            {
                sc.Set("OperationalStatus", new ushort[] { up ? (ushort)2 : (ushort)12 });
                sc.Set("StatusDescriptions", new[] { up ? "OK" : "No Contact" });
                sc.Set("EnabledState", running ? (ushort)2 : (ushort)3);
            }
            if (Component(vm, "Msvm_KvpExchangeComponent") is CimObject kc)
            {
                if (!running && State(vm) != 9 && State(vm) != 6) rt.GuestItems.Clear();
                kc.Set("EnabledState", running ? (ushort)2 : (ushort)3);
                kc.Set("OperationalStatus", new ushort[] { up ? (ushort)2 : (ushort)12 });
                kc.Set("GuestExchangeItems", running ? rt.GuestItems.Select(i => ItemText(i.Key, i.Value, 1)).ToArray() : new string[0]);
                kc.Set("GuestIntrinsicExchangeItems", up
                    ? new[]
                    {
                        ItemText("FullyQualifiedDomainName", vm.GetString("ElementName") ?? "", 2),
                        ItemText("OSName", "Linux", 2),
                        ItemText("IntegrationServicesVersion", "3.1", 2),
                    }
                    : new string[0]);
            }
        }

        /// <summary>Hands pending host items to the guest agent when the VM runs and its guest is up.</summary>
        internal void DeliverPendingKvp(CimObject vm)
        {
            var rt = Runtime(vm);
            if (State(vm) != 2 || !rt.GuestUp || rt.PendingKvp.Count == 0) { RefreshGuestFacingState(vm); return; }
            var pending = rt.PendingKvp.Distinct(StringComparer.Ordinal).ToList();
            rt.PendingKvp.Clear();
            var replies = GuestAgentReplies;
            var agent = GuestAgent;
            if (replies != null)
            {
                var ctx = GuestContext(vm);
                foreach (var key in pending)
                {
                    if (!ctx.HostItems.TryGetValue(key, out var data)) continue;
                    foreach (var item in replies(ctx, key, data) ?? Array.Empty<KeyValuePair<string, string>>()) rt.GuestItems[item.Key] = item.Value;
                }
            }
            else if (agent != null)
            {
                var ctx = GuestContext(vm);
                foreach (var key in pending)
                {
                    if (!ctx.HostItems.TryGetValue(key, out var data)) continue;
                    var reply = agent(ctx, key, data);
                    if (reply != null) rt.GuestItems[key] = reply;
                }
            }
            RefreshGuestFacingState(vm);
        }
    }
}
