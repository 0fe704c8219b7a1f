using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using VirtualNetworks.HyperV.Cim;

namespace VirtualNetworks.HyperV.Simulator
{
    public sealed partial class HyperVSimulator
    {
        private Plan Handle(Call c)
        {
            string cls = c.Instance.ClassName, m = c.Method.Name;
            if (cls == "Msvm_VirtualSystemManagementService")
            {
                switch (m)
                {
                    case "DefineSystem": return DefineVm(c);
                    case "DestroySystem": return DestroyVm(c);
                    case "ModifySystemSettings": return ModifyVm(c);
                    case "AddResourceSettings": return AddResources(c);
                    case "ModifyResourceSettings": return ModifyResources(c);
                    case "RemoveResourceSettings": return RemoveResources(c);
                    case "AddFeatureSettings": return AddFeatures(c);
                    case "ModifyFeatureSettings": return ModifyFeatures(c);
                    case "RemoveFeatureSettings": return RemoveFeatures(c);
                    case "AddKvpItems": case "ModifyKvpItems": case "RemoveKvpItems": return Kvp(c);
                    case "GetSummaryInformation": return Summary(c);
                }
            }
            if (cls == "Msvm_VirtualEthernetSwitchManagementService")
            {
                switch (m)
                {
                    case "DefineSystem": return DefineSwitch(c);
                    case "DestroySystem": return DestroySwitch(c);
                    case "ModifySystemSettings": return ModifySwitch(c);
                    case "AddResourceSettings": return AddSwitchPorts(c);
                    case "RemoveResourceSettings": return RemoveSwitchPorts(c);
                }
                throw new SimFailure(SimFailure.Kinds.NotSupported, $"{m} on the switch service is not simulated.");
            }
            if (cls == "Msvm_VirtualSystemMigrationService") return Migration(c);
            if (cls == "Msvm_ImageManagementService")
                return m == "CreateVirtualHardDisk" ? CreateVhd(c) : GetVhdSettings(c);
            if (cls == "Msvm_ComputerSystem") return RequestStateChange(c);
            if (cls == "Msvm_ShutdownComponent") return Shutdown(c, m == "InitiateReboot");
            if (HyperVSchema.Class(cls).IsA("CIM_ConcreteJob")) return JobErrors(c, m == "GetErrorEx");
            if (cls == "CIM_DataFile") return DeleteFile(c);
            throw new SimFailure(SimFailure.Kinds.NotSupported, $"{cls}.{m} is not simulated.");
        }

        private Plan ConfigPlan(ushort jobType)
        {
            return new Plan { Job = ConfigurationMethodsUseJobs, JobType = jobType };
        }

        // =============================================================== VMs

        private Plan DefineVm(Call c)
        {
            var sd = ParseEmbedded(c.Str("SystemSettings"), "Msvm_VirtualSystemSettingData", "SystemSettings");
            if (c.Ref("ReferenceConfiguration") != null) throw new SimFailure(SimFailure.Kinds.NotSupported, "ReferenceConfiguration is not simulated.");
            string name = sd.Obj.GetString("ElementName") ?? "";
            if (name.Length == 0) name = "New Virtual Machine";
            if (name.Length > 100) throw SimFailure.Invalid("ElementName is longer than 100 characters.");
            string subType = sd.Obj.GetString("VirtualSystemSubType") ?? "Microsoft:Hyper-V:SubType:1";
            if (subType != "Microsoft:Hyper-V:SubType:1" && subType != "Microsoft:Hyper-V:SubType:2")
                throw SimFailure.Invalid($"VirtualSystemSubType '{subType}' is not a generation.");
            string type = sd.Obj.GetString("VirtualSystemType") ?? Realized;
            if (type != Realized) throw SimFailure.Invalid($"VirtualSystemType '{type}' cannot be defined here.");
            var resources = c.Strs("ResourceSettings").Select((t, i) => ParseEmbedded(t, "CIM_ResourceAllocationSettingData", $"ResourceSettings[{i}]")).ToList();
            foreach (var r in resources)
            {
                string k = Kind(r.Obj);
                if (k != "processor" && k != "memory" && k != "scsi" && k != "nic")
                    throw SimFailure.Invalid($"DefineSystem: {k} devices cannot be passed to DefineSystem in the simulator (their Parent cannot exist yet).");
                if (k == "nic") ValidateNic(r, gen2: subType.EndsWith("2", StringComparison.Ordinal));
            }
            string guid = NewGuid();
            var vmRef = VmRef(guid);
            var plan = ConfigPlan(1);
            plan.Out["ResultingSystem"] = vmRef;
            plan.Affected.Add(vmRef);
            plan.AtEnd.Add(() =>
            {
                var vm = New("Msvm_ComputerSystem");
                vm.Set("CreationClassName", "Msvm_ComputerSystem");
                vm.Set("Name", guid);
                vm.Set("ElementName", name);
                vm.Set("Caption", "Virtual Machine");
                vm.Set("Description", "Microsoft Virtual Machine");
                vm.Set("EnabledState", 3);
                vm.Set("RequestedState", 12);
                vm.Set("HealthState", 5);
                vm.Set("EnabledDefault", 3);
                vm.Set("OperationalStatus", new ushort[] { 2 });
                vm.Set("StatusDescriptions", new[] { "Operating normally" });
                vm.Set("OnTimeInMilliseconds", 0UL);
                Put(vm);
                var vssd = New("Msvm_VirtualSystemSettingData");
                foreach (var p in sd.Provided) vssd.Set(p, sd.Obj[p]);
                vssd.Set("InstanceID", "Microsoft:" + guid);
                vssd.Set("ConfigurationID", guid);
                vssd.Set("VirtualSystemIdentifier", guid);
                vssd.Set("VirtualSystemType", Realized);
                vssd.Set("VirtualSystemSubType", subType);
                vssd.Set("ElementName", name);
                vssd.Set("Caption", "Virtual Machine Settings");
                vssd.Set("Version", "9.0");
                if (!sd.Has("Notes")) vssd.Set("Notes", new[] { "" });
                KeepFirstNote(vssd);
                vssd.Set("ConfigurationDataRoot", sd.Obj.GetString("ConfigurationDataRoot") ?? VsmsSettings.GetString("DefaultExternalDataRoot"));
                vssd.Set("CreationTime", DateTime.UtcNow.ToString("yyyyMMddHHmmss.ffffff+000", CultureInfo.InvariantCulture));
                Put(vssd);
                Link("Msvm_SettingsDefineState", "ManagedElement", vm, "SettingData", vssd);
                Link("Msvm_ElementSettingData", "ManagedElement", vm, "SettingData", vssd);
                string prefix = "Microsoft:" + guid;
                var cpu = FromTemplate("Msvm_ProcessorSettingData", "Microsoft:Hyper-V:Processor", prefix + @"\B637F346-6A0E-4DEC-AF52-BD70CB80A21D\0");
                var mem = FromTemplate("Msvm_MemorySettingData", "Microsoft:Hyper-V:Memory", prefix + @"\4764334D-E001-4176-82EE-5594EC9B530E");
                mem.Set("VirtualQuantity", 1024UL); mem.Set("Reservation", 1024UL); mem.Set("Limit", 1024UL);
                var kvps = New("Msvm_KvpExchangeComponentSettingData");
                kvps.Set("InstanceID", prefix + @"\EC5BE66A-BA4A-4F1A-8A6A-D13A48A5E3E0");
                kvps.Set("ResourceType", 23);
                kvps.Set("ResourceSubType", "Microsoft:Hyper-V:Key Value Pair Exchange");
                kvps.Set("ElementName", "Key-Value Pair Exchange");
                kvps.Set("EnabledState", 2);
                kvps.Set("HostExchangeItems", new string[0]);
                kvps.Set("HostOnlyItems", new string[0]);
                kvps.Set("DisableHostKVPItems", false);
                var devices = new List<CimObject> { cpu, mem, kvps };
                if (subType.EndsWith("1", StringComparison.Ordinal))
                    for (int i = 0; i < 2; i++)
                    {
                        var ide = FromTemplate("Msvm_ResourceAllocationSettingData", IdeController, prefix + @"\83F8638B-8DCA-4152-9EDA-2CA8B33039B4\" + i);
                        ide.Set("Address", i.ToString(CultureInfo.InvariantCulture));
                        ide.Set("ElementName", "IDE Controller " + i);
                        devices.Add(ide);
                    }
                foreach (var d in devices)
                {
                    Put(d);
                    Link("Msvm_VirtualSystemSettingDataComponent", "GroupComponent", vssd, "PartComponent", d);
                }
                foreach (var r in resources)
                {
                    string k = Kind(r.Obj);
                    if (k == "processor") CopyProvided(r, cpu, Immutable);
                    else if (k == "memory") CopyProvided(r, mem, Immutable);
                    else AddDevice(vm, vssd, r, null)();
                }
                var sc = New("Msvm_ShutdownComponent");
                SetDevice(sc, "Msvm_ShutdownComponent", guid, @"Microsoft:" + guid + @"\9F8233AC-BE49-4C79-8EE3-E7E1985B2077", "Shutdown");
                var kc = New("Msvm_KvpExchangeComponent");
                SetDevice(kc, "Msvm_KvpExchangeComponent", guid, @"Microsoft:" + guid + @"\2A34B1C2-FD73-4043-9A5B-F2C7D8BA3B0B", "Key-Value Pair Exchange");
                kc.Set("GuestExchangeItems", new string[0]);
                kc.Set("GuestIntrinsicExchangeItems", new string[0]);
                Put(sc); Put(kc);
                Link("Msvm_SystemDevice", "GroupComponent", vm, "PartComponent", sc);
                Link("Msvm_SystemDevice", "GroupComponent", vm, "PartComponent", kc);
                Link("Msvm_ElementSettingData", "ManagedElement", kc, "SettingData", kvps);
                _vms[guid] = new VmRuntime();
                RefreshGuestFacingState(vm);
            });
            return plan;
        }

        /// <summary>NotesKeepFirstElementOnly: the host keeps element 0 of Notes and drops the rest.</summary>
        private void KeepFirstNote(CimObject settings)
        {
            if (!NotesKeepFirstElementOnly) return;
            var notes = settings.GetStrings("Notes");
            if (notes.Length > 1) settings.Set("Notes", new[] { notes[0] });
        }

        private void SetDevice(CimObject d, string cls, string vmGuid, string deviceId, string name)
        {
            d.Set("CreationClassName", cls);
            d.Set("DeviceID", deviceId);
            d.Set("SystemCreationClassName", "Msvm_ComputerSystem");
            d.Set("SystemName", vmGuid);
            d.Set("ElementName", name);
            d.Set("Name", name);
            d.Set("EnabledState", 3);
            d.Set("OperationalStatus", new ushort[] { 12 });
        }

        private CimObject FromTemplate(string className, string subType, string instanceId)
        {
            var t = Enumerate(className).First(o => Iid(o).EndsWith(@"\Default", StringComparison.Ordinal) &&
                                                   string.Equals(o.GetString("ResourceSubType"), subType, StringComparison.OrdinalIgnoreCase));
            var d = t.Clone();
            d.Set("InstanceID", instanceId);
            return d;
        }

        private static readonly string[] Immutable =
            { "InstanceID", "ResourceType", "ResourceSubType", "OtherResourceType", "Caption", "Description", "AllocationUnits", "VirtualQuantityUnits", "PoolID", "VirtualSystemIdentifiers" };

        private CimObject VmFromVssdRef(CimReference? r, string what)
        {
            var vssd = ResolveRef(r, what, "Msvm_VirtualSystemSettingData");
            if (vssd.GetString("VirtualSystemType") != Realized) throw SimFailure.Invalid($"{what}: {Iid(vssd)} is not a realized VM configuration.");
            return VmOf(vssd) ?? throw SimFailure.Invalid($"{what}: no VM owns {Iid(vssd)}.");
        }

        private Plan DestroyVm(Call c)
        {
            var vm = ResolveRef(c.Ref("AffectedSystem"), "AffectedSystem", "Msvm_ComputerSystem");
            if (!IsVm(vm)) throw SimFailure.Invalid("AffectedSystem is the host, not a VM.");
            var rt = Runtime(vm);
            ushort s = State(vm);
            if (rt.InTransition || (s != 3 && s != 6)) throw SimFailure.BadState($"The VM '{vm.GetString("ElementName")}' must be off or saved (EnabledState {s}).");
            var plan = ConfigPlan(3);
            string guid = vm.GetString("Name")!;
            plan.AtEnd.Add(() =>
            {
                var v = Get(VmRef(guid));
                if (v == null) return;
                foreach (var d in Children("Microsoft:" + guid)) Delete(d);
                if (Vssd(v) is CimObject vssd) Delete(vssd);
                foreach (var comp in new[] { "Msvm_ShutdownComponent", "Msvm_KvpExchangeComponent" })
                    if (Component(v, comp) is CimObject co) Delete(co);
                Delete(v);
                _vms.Remove(guid);
            });
            return plan;
        }

        private Plan ModifyVm(Call c)
        {
            var sd = ParseEmbedded(c.Str("SystemSettings"), "Msvm_VirtualSystemSettingData", "SystemSettings");
            var vssd = ByInstanceId("Msvm_VirtualSystemSettingData", sd.Obj.GetString("InstanceID"))
                ?? throw SimFailure.Invalid($"SystemSettings: no VM configuration with InstanceID '{sd.Obj.GetString("InstanceID")}'.");
            var vm = VmOf(vssd) ?? throw SimFailure.Invalid("SystemSettings: not a VM configuration.");
            string? name = sd.Has("ElementName") ? sd.Obj.GetString("ElementName") : null;
            if (name != null && (name.Length == 0 || name.Length > 100)) throw SimFailure.Invalid("ElementName must have 1 to 100 characters.");
            if (sd.Has("VirtualSystemSubType") && !string.Equals(sd.Obj.GetString("VirtualSystemSubType"), vssd.GetString("VirtualSystemSubType"), StringComparison.OrdinalIgnoreCase))
                throw SimFailure.Invalid("The generation (VirtualSystemSubType) of a VM cannot change.");
            var plan = ConfigPlan(2);
            plan.Affected.Add(vssd.ToReference());
            plan.AtEnd.Add(() =>
            {
                var except = new List<string> { "InstanceID", "ConfigurationID", "VirtualSystemIdentifier", "VirtualSystemType", "VirtualSystemSubType", "CreationTime", "Caption", "Version" };
                if (sd.Has("Notes") && sd.Obj.GetStrings("Notes").Length == 0) except.Add("Notes"); // an empty array is ignored (fact sheet §1.4)
                CopyProvided(sd, vssd, except.ToArray());
                KeepFirstNote(vssd);
                if (name != null) vm.Set("ElementName", name);
            });
            return plan;
        }

        // =============================================================== devices

        internal static string Kind(CimObject r)
        {
            string sub = r.GetString("ResourceSubType") ?? "";
            switch (r.ClassName)
            {
                case "Msvm_ProcessorSettingData": return "processor";
                case "Msvm_MemorySettingData": return "memory";
                case "Msvm_SyntheticEthernetPortSettingData": return "nic";
                case "Msvm_EmulatedEthernetPortSettingData": return "legacy";
                case "Msvm_EthernetPortAllocationSettingData": return "epasd";
                case "Msvm_KvpExchangeComponentSettingData": return "kvp";
            }
            if (r.ClassName == "Msvm_ResourceAllocationSettingData")
            {
                if (sub == ScsiController) return "scsi";
                if (sub == IdeController) return "ide";
                if (sub == DiskDrive) return "disk";
                if (sub == DvdDrive) return "dvd";
            }
            if (r.ClassName == "Msvm_StorageAllocationSettingData")
            {
                if (sub == VhdMedia) return "vhd";
                if (sub == IsoMedia) return "iso";
            }
            return "unknown (" + r.ClassName + " '" + sub + "')";
        }

        private static readonly Dictionary<string, ushort> ResourceTypes = new Dictionary<string, ushort>
        {
            ["processor"] = 3, ["memory"] = 4, ["ide"] = 5, ["scsi"] = 6, ["nic"] = 10, ["legacy"] = 10, ["dvd"] = 16, ["disk"] = 17, ["vhd"] = 31, ["iso"] = 31, ["epasd"] = 33,
        };

        private static bool DiskLike(string k) => k == "scsi" || k == "ide" || k == "disk" || k == "dvd" || k == "vhd" || k == "iso";

        private void ValidateNic(Embedded r, bool gen2)
        {
            bool isStatic = r.Obj.GetBoolean("StaticMacAddress") ?? false;
            string? mac = r.Obj.GetString("Address");
            if (isStatic)
            {
                if (!IsMac(mac)) throw SimFailure.Invalid($"Address '{mac}' is not 12 hex digits.");
                if (mac == "000000000000" || (Convert.ToByte(mac!.Substring(0, 2), 16) & 1) == 1) throw SimFailure.Invalid($"Address '{mac}' is not a unicast MAC.");
            }
            foreach (var id in r.Obj.GetStrings("VirtualSystemIdentifiers"))
                if (!Guid.TryParse(id, out _)) throw SimFailure.Invalid($"VirtualSystemIdentifiers '{id}' is not a GUID.");
        }

        /// <summary>Validates one device for <paramref name="vm"/> and returns the action that adds it (ref in <paramref name="added"/>).</summary>
        private Action AddDevice(CimObject vm, CimObject vssd, Embedded r, List<CimReference>? added)
        {
            string k = Kind(r.Obj);
            if (!ResourceTypes.TryGetValue(k, out var rtype)) throw SimFailure.Invalid($"ResourceSettings: {k} cannot be added.");
            if (r.Has("ResourceType") && r.Obj.GetUInt16("ResourceType") != rtype)
                throw SimFailure.Invalid($"ResourceType {r.Obj.GetUInt16("ResourceType")} does not match {r.Obj.GetString("ResourceSubType")} ({rtype}).");
            var rt = Runtime(vm);
            ushort state = State(vm);
            bool gen2 = (Vssd(vm)?.GetString("VirtualSystemSubType") ?? "").EndsWith("2", StringComparison.Ordinal);
            if (rt.InTransition) throw SimFailure.BadState("The VM is changing state.");
            if (DiskLike(k) && state != 3 && (!AllowDiskHotPlug || k == "scsi" || k == "ide"))
                throw SimFailure.BadState($"{k} devices can be added only while the VM is off (EnabledState {state}).");
            string guid = vm.GetString("Name")!;
            string prefix = "Microsoft:" + guid;
            var dev = New(r.Obj.ClassName);
            CopyProvided(r, dev, "InstanceID");
            dev.Set("ResourceType", rtype);
            string id;
            switch (k)
            {
                case "processor":
                case "memory":
                    throw SimFailure.Invalid($"A VM has exactly one {k} setting; change it with ModifyResourceSettings.");
                case "ide":
                    throw SimFailure.Invalid("IDE controllers are fixed (two on Generation 1, none on Generation 2).");
                case "legacy":
                    if (gen2) throw SimFailure.Invalid("Generation 2 VMs have no legacy network adapter.");
                    goto case "nic";
                case "scsi":
                    if (Devices(vm).Count(d => Kind(d) == "scsi") >= 4) throw SimFailure.Invalid("A VM has at most 4 SCSI controllers.");
                    id = prefix + "\\" + NewGuid();
                    if (!r.Has("ElementName")) dev.Set("ElementName", "SCSI Controller");
                    break;
                case "disk":
                case "dvd":
                {
                    var ctrl = ResolvePath(r.Obj.GetString("Parent"), "Parent", "Msvm_ResourceAllocationSettingData");
                    string ck = Kind(ctrl);
                    if ((ck != "scsi" && ck != "ide") || VmOf(ctrl) != vm) throw SimFailure.Invalid("Parent is not a controller of this VM.");
                    int max = ck == "scsi" ? 64 : 2;
                    var used = Children(Iid(ctrl), "Msvm_ResourceAllocationSettingData").Select(d => d.GetString("AddressOnParent")).ToHashSet();
                    string? slot = r.Obj.GetString("AddressOnParent");
                    if (string.IsNullOrEmpty(slot)) slot = Enumerable.Range(0, max).Select(i => i.ToString(CultureInfo.InvariantCulture)).FirstOrDefault(s => !used.Contains(s))
                        ?? throw SimFailure.Invalid("The controller is full.");
                    if (!int.TryParse(slot, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n >= max)
                        throw SimFailure.Invalid($"AddressOnParent '{slot}' is not a slot of the {ck} controller (0..{max - 1}).");
                    if (used.Contains(slot)) throw SimFailure.Invalid($"Slot {slot} of the controller is already used.");
                    dev.Set("AddressOnParent", slot);
                    id = Iid(ctrl) + "\\" + slot + "\\D";
                    if (!r.Has("ElementName")) dev.Set("ElementName", k == "disk" ? "Hard Drive" : "DVD Drive");
                    break;
                }
                case "vhd":
                case "iso":
                {
                    var drive = ResolvePath(r.Obj.GetString("Parent"), "Parent", "Msvm_ResourceAllocationSettingData");
                    if (Kind(drive) != (k == "vhd" ? "disk" : "dvd") || VmOf(drive) != vm) throw SimFailure.Invalid($"Parent is not a {(k == "vhd" ? "disk" : "DVD")} drive of this VM.");
                    id = Iid(drive).Substring(0, Iid(drive).Length - 1) + "L";
                    if (ByInstanceId("Msvm_StorageAllocationSettingData", id) != null) throw SimFailure.Invalid("The drive already has media.");
                    string? file = r.Obj.GetStrings("HostResource").FirstOrDefault();
                    if (string.IsNullOrEmpty(file)) throw SimFailure.Invalid("HostResource[0] must be the file path.");
                    file = NormalizePath(file!);
                    if (!_files.TryGetValue(file, out var f)) throw SimFailure.Invalid($"HostResource: the file '{file}' does not exist.");
                    if (k == "vhd" && f.Format == 0) throw SimFailure.Invalid($"'{file}' is not a virtual hard disk.");
                    if (k == "iso" && !file.EndsWith(".iso", StringComparison.OrdinalIgnoreCase)) throw SimFailure.Invalid($"'{file}' is not an ISO image.");
                    if (k == "vhd" && FileInUse(file)) throw SimFailure.Invalid($"'{file}' is already attached.");
                    dev.Set("HostResource", new[] { f.Path });
                    if (!r.Has("ElementName")) dev.Set("ElementName", k == "vhd" ? "Hard Disk Image" : "ISO Disk Image");
                    break;
                }
                case "nic":
                {
                    if (state != 3 && !gen2) throw SimFailure.BadState("Network adapters can be added to a running VM only on Generation 2.");
                    int count = Devices(vm).Count(d => Kind(d) == "nic" || Kind(d) == "legacy");
                    if (count >= MaxNicsPerVm) throw SimFailure.Fail($"The VM already has {count} network adapters (limit {MaxNicsPerVm}).");
                    ValidateNic(r, gen2);
                    string? vsi = r.Obj.GetStrings("VirtualSystemIdentifiers").FirstOrDefault();
                    var g = vsi != null ? Guid.Parse(vsi) : Guid.NewGuid();
                    dev.Set("VirtualSystemIdentifiers", new[] { g.ToString("B").ToUpperInvariant() });
                    id = prefix + "\\" + g.ToString("D").ToUpperInvariant();
                    if (ByInstanceId(r.Obj.ClassName, id) != null) throw SimFailure.Invalid($"A network adapter with identifier {g:B} exists.");
                    if (!(r.Obj.GetBoolean("StaticMacAddress") ?? false)) dev.Set("Address", "000000000000");
                    else dev.Set("Address", r.Obj.GetString("Address")!.ToUpperInvariant());
                    if (string.IsNullOrEmpty(dev.GetString("ElementName"))) dev.Set("ElementName", "Network Adapter");
                    break;
                }
                case "epasd":
                {
                    var nic = ResolvePath(r.Obj.GetString("Parent"), "Parent", "Msvm_SyntheticEthernetPortSettingData", "Msvm_EmulatedEthernetPortSettingData");
                    if (VmOf(nic) != vm) throw SimFailure.Invalid("Parent is not a network adapter of this VM.");
                    id = Iid(nic) + "\\C";
                    if (ByInstanceId("Msvm_EthernetPortAllocationSettingData", id) != null) throw SimFailure.Invalid("The network adapter already has a connection.");
                    string? sw = r.Obj.GetStrings("HostResource").FirstOrDefault();
                    if (!string.IsNullOrEmpty(sw))
                    {
                        var swObj = ResolvePath(sw, "HostResource[0]", "Msvm_VirtualEthernetSwitch");
                        dev.Set("HostResource", new[] { swObj.ToReference().ToPath() });
                        dev.Set("LastKnownSwitchName", swObj.GetString("ElementName"));
                    }
                    ushort es = r.Obj.GetUInt16("EnabledState") ?? 2;
                    if (es != 2 && es != 3) throw SimFailure.Invalid($"EnabledState {es} is not 2 or 3.");
                    dev.Set("EnabledState", es);
                    if (string.IsNullOrEmpty(dev.GetString("ElementName"))) dev.Set("ElementName", "Dynamic Ethernet Switch Port");
                    break;
                }
                default:
                    throw SimFailure.Invalid($"ResourceSettings: {k} cannot be added.");
            }
            dev.Set("InstanceID", id);
            added?.Add(dev.ToReference());
            return () =>
            {
                if (_all.ContainsKey(KeyOf(dev))) throw SimFailure.Fail($"{id} already exists.");
                if (k == "nic" && Devices(vm).Count(d => Kind(d) == "nic" || Kind(d) == "legacy") >= MaxNicsPerVm)
                    throw SimFailure.Fail($"The VM already has {MaxNicsPerVm} network adapters.");
                if (k == "nic" && State(vm) == 2 && dev.GetString("Address") == "000000000000") dev.Set("Address", NextMac());
                Put(dev);
                Link("Msvm_VirtualSystemSettingDataComponent", "GroupComponent", vssd, "PartComponent", dev);
            };
        }

        private Plan AddResources(Call c)
        {
            var vm = VmFromVssdRef(c.Ref("AffectedConfiguration"), "AffectedConfiguration");
            var vssd = Vssd(vm)!;
            var items = c.Strs("ResourceSettings").Select((t, i) => ParseEmbedded(t, "CIM_ResourceAllocationSettingData", $"ResourceSettings[{i}]")).ToList();
            if (items.Count == 0) throw SimFailure.Invalid("ResourceSettings is empty.");
            var plan = ConfigPlan(30);
            var refs = new List<CimReference>();
            foreach (var r in items) plan.AtEnd.Add(AddDevice(vm, vssd, r, refs));
            plan.Out["ResultingResourceSettings"] = refs.ToArray();
            // Msvm_AffectedJobElement: the VM whose configuration changed comes first (it is affected too), then the
            // new settings, unless AffectedElementsIncludeNewSettings is off.
            plan.Affected.Add(vm.ToReference());
            if (AffectedElementsIncludeNewSettings) plan.Affected.AddRange(refs);
            plan.OmittableOnJob = "ResultingResourceSettings";
            return plan;
        }

        private Plan ModifyResources(Call c)
        {
            var items = c.Strs("ResourceSettings").Select((t, i) => ParseEmbedded(t, "CIM_ResourceAllocationSettingData", $"ResourceSettings[{i}]")).ToList();
            if (items.Count == 0) throw SimFailure.Invalid("ResourceSettings is empty.");
            var plan = ConfigPlan(31);
            var refs = new List<CimReference>();
            foreach (var r in items)
            {
                var cur = ByInstanceId(r.Obj.ClassName, r.Obj.GetString("InstanceID"))
                    ?? throw SimFailure.Invalid($"ResourceSettings: no {r.Obj.ClassName} with InstanceID '{r.Obj.GetString("InstanceID")}'.");
                if (cur.ClassName != r.Obj.ClassName) throw SimFailure.Invalid($"ResourceSettings: {Iid(cur)} is a {cur.ClassName}.");
                var vm = VmOf(cur);
                bool running = vm != null && State(vm) != 3;
                if (vm != null && Runtime(vm).InTransition) throw SimFailure.BadState("The VM is changing state.");
                string k = Kind(cur);
                bool Changed(string p) => r.Has(p) && !Equals(Norm(r.Obj[p]), Norm(cur[p]));
                var except = new List<string>(Immutable) { "Parent" };
                switch (k)
                {
                    case "processor":
                    {
                        ulong vq = r.Obj.GetUInt64("VirtualQuantity") ?? cur.GetUInt64("VirtualQuantity") ?? 1;
                        if (vq < 1 || vq > 64) throw SimFailure.Invalid($"VirtualQuantity {vq} processors is out of range (1..64).");
                        if (running && Changed("VirtualQuantity")) throw SimFailure.BadState("The processor count cannot change while the VM runs.");
                        ulong limit = r.Obj.GetUInt64("Limit") ?? 100000, res = r.Obj.GetUInt64("Reservation") ?? 0;
                        if (limit > 100000 || res > limit) throw SimFailure.Invalid("Reservation/Limit must satisfy 0 <= Reservation <= Limit <= 100000.");
                        break;
                    }
                    case "memory":
                    {
                        ulong vq = r.Obj.GetUInt64("VirtualQuantity") ?? cur.GetUInt64("VirtualQuantity") ?? 0;
                        bool dyn = r.Has("DynamicMemoryEnabled") ? r.Obj.GetBoolean("DynamicMemoryEnabled") ?? false : cur.GetBoolean("DynamicMemoryEnabled") ?? false;
                        if (vq < 32 || vq % 2 != 0) throw SimFailure.Invalid($"VirtualQuantity {vq} MB must be an even number of MB, at least 32.");
                        if (running && Changed("DynamicMemoryEnabled")) throw SimFailure.BadState("Dynamic memory cannot be switched while the VM runs.");
                        if (running && !dyn && Changed("VirtualQuantity")) throw SimFailure.BadState("Static memory cannot change while the VM runs.");
                        if (dyn)
                        {
                            ulong min = r.Obj.GetUInt64("Reservation") ?? vq, max = r.Obj.GetUInt64("Limit") ?? vq;
                            if (min > vq || vq > max) throw SimFailure.Invalid("Dynamic memory needs Reservation <= VirtualQuantity <= Limit.");
                        }
                        break;
                    }
                    case "nic":
                    case "legacy":
                        if (r.Has("Address") || r.Has("StaticMacAddress")) ValidateNic(r, true);
                        if (running && (Changed("Address") || Changed("StaticMacAddress"))) throw SimFailure.BadState("The MAC address cannot change while the VM runs.");
                        break;
                    case "epasd":
                    {
                        string? sw = r.Obj.GetStrings("HostResource").FirstOrDefault();
                        if (!string.IsNullOrEmpty(sw))
                        {
                            var isSwitchPort = OwnerId(Iid(cur)) is string o && Get(SwitchRef(o)) != null;
                            if (!isSwitchPort) ResolvePath(sw, "HostResource[0]", "Msvm_VirtualEthernetSwitch");
                        }
                        ushort es = r.Obj.GetUInt16("EnabledState") ?? 2;
                        if (es != 2 && es != 3) throw SimFailure.Invalid($"EnabledState {es} is not 2 or 3.");
                        break;
                    }
                    case "vhd":
                    case "iso":
                    {
                        string? file = r.Obj.GetStrings("HostResource").FirstOrDefault();
                        if (Changed("HostResource"))
                        {
                            if (running && k == "vhd" && !AllowDiskHotPlug) throw SimFailure.BadState("A virtual hard disk cannot change while the VM runs.");
                            if (string.IsNullOrEmpty(file) || !_files.ContainsKey(NormalizePath(file!))) throw SimFailure.Invalid($"HostResource: the file '{file}' does not exist.");
                        }
                        break;
                    }
                    case "scsi":
                    case "ide":
                    case "disk":
                    case "dvd":
                        if (running && !AllowDiskHotPlug && Changed("AddressOnParent")) throw SimFailure.BadState("Drives cannot move while the VM runs.");
                        except.Add("AddressOnParent");
                        break;
                    case "kvp":
                        except.AddRange(new[] { "HostExchangeItems", "HostOnlyItems" });
                        break;
                    default:
                        throw SimFailure.Invalid($"ResourceSettings: {k} cannot be modified.");
                }
                refs.Add(cur.ToReference());
                plan.AtEnd.Add(() =>
                {
                    CopyProvided(r, cur, except.ToArray());
                    if (k == "epasd")
                    {
                        string? sw = cur.GetStrings("HostResource").FirstOrDefault();
                        if (sw != null && CimReference.TryParse(sw, out var swr, out _) && Get(swr!) is CimObject so && so.ClassName == "Msvm_VirtualEthernetSwitch")
                            cur.Set("LastKnownSwitchName", so.GetString("ElementName"));
                    }
                    if ((k == "vhd" || k == "iso") && cur.GetStrings("HostResource").FirstOrDefault() is string h)
                        cur.Set("HostResource", new[] { _files.TryGetValue(NormalizePath(h), out var f) ? f.Path : h });
                });
            }
            plan.Out["ResultingResourceSettings"] = refs.ToArray();
            plan.Affected.AddRange(refs);
            return plan;
        }

        private static object? Norm(object? v) => v switch
        {
            null => null,
            string s => s.ToUpperInvariant(),
            Array a => string.Join("\u0001", a.Cast<object?>().Select(x => Convert.ToString(x, CultureInfo.InvariantCulture)?.ToUpperInvariant())),
            _ => Convert.ToString(v, CultureInfo.InvariantCulture),
        };

        private Plan RemoveResources(Call c)
        {
            var refs = c.Refs("ResourceSettings") ?? Array.Empty<CimReference>();
            if (refs.Length == 0) throw SimFailure.Invalid("ResourceSettings is empty.");
            var plan = ConfigPlan(32);
            var doomed = new List<CimObject>();
            foreach (var r in refs)
            {
                var dev = ResolveRef(r, "ResourceSettings", "CIM_ResourceAllocationSettingData");
                var vm = VmOf(dev) ?? throw SimFailure.Invalid($"{Iid(dev)} is not a device of a VM.");
                string k = Kind(dev);
                if (k == "processor" || k == "memory" || k == "kvp" || k == "ide") throw SimFailure.Invalid($"The {k} device cannot be removed.");
                if (Runtime(vm).InTransition) throw SimFailure.BadState("The VM is changing state.");
                ushort s = State(vm);
                bool gen2 = (Vssd(vm)?.GetString("VirtualSystemSubType") ?? "").EndsWith("2", StringComparison.Ordinal);
                if (DiskLike(k) && s != 3 && (!AllowDiskHotPlug || k == "scsi")) throw SimFailure.BadState($"{k} devices can be removed only while the VM is off.");
                if ((k == "nic" || k == "legacy") && s != 3 && !gen2) throw SimFailure.BadState("Network adapters can be removed from a running VM only on Generation 2.");
                doomed.Add(dev);
                doomed.AddRange(Children(Iid(dev)));
                if (k == "disk" || k == "dvd")
                {
                    string media = Iid(dev).Substring(0, Iid(dev).Length - 1) + "L";
                    if (ByInstanceId("Msvm_StorageAllocationSettingData", media) is CimObject m) doomed.Add(m);
                }
            }
            plan.AtEnd.Add(() => { foreach (var d in doomed.Distinct()) Delete(d); });
            return plan;
        }

        // =============================================================== port features

        private string FeatureId(string className) => className switch
        {
            "Msvm_EthernetSwitchPortVlanSettingData" => VlanFeatureId,
            "Msvm_EthernetSwitchPortBandwidthSettingData" => BandwidthFeatureId,
            "Msvm_EthernetSwitchPortSecuritySettingData" => SecurityFeatureId,
            "Msvm_EthernetSwitchPortAclSettingData" => AclFeatureId,
            _ => "00000000-0000-0000-0000-000000000000",
        };

        private void ValidateFeature(Embedded f)
        {
            var o = f.Obj;
            if (o.ClassName == "Msvm_EthernetSwitchPortVlanSettingData")
            {
                uint mode = o.GetUInt32("OperationMode") ?? 0;
                switch (mode)
                {
                    case 1:
                        ushort vlan = o.GetUInt16("AccessVlanId") ?? 0;
                        if (vlan < 1 || vlan > 4094) throw SimFailure.Invalid($"AccessVlanId {vlan} is out of range (1..4094).");
                        break;
                    case 2:
                        ushort native = o.GetUInt16("NativeVlanId") ?? 0;
                        if (native > 4094) throw SimFailure.Invalid($"NativeVlanId {native} is out of range.");
                        if (o.GetUInt16s("TrunkVlanIdArray").Any(v => v < 1 || v > 4094)) throw SimFailure.Invalid("TrunkVlanIdArray holds a VLAN outside 1..4094.");
                        break;
                    case 3:
                        uint pv = o.GetUInt32("PvlanMode") ?? 0;
                        if (pv < 1 || pv > 3) throw SimFailure.Invalid($"PvlanMode {pv} is not 1..3.");
                        break;
                    default:
                        throw SimFailure.Invalid($"OperationMode {mode} is not 1 (Access), 2 (Trunk) or 3 (Private).");
                }
            }
            else if (o.ClassName == "Msvm_EthernetSwitchPortAclSettingData")
            {
                // The value maps of learn.microsoft.com msvm-ethernetswitchportaclsettingdata (0 Unknown is refused);
                // Meter needs an IP ACL (Add-VMNetworkAdapterAcl -Action); Name and addresses have MaxLen 64 / 40.
                uint dir = o.GetUInt32("Direction") ?? 0, app = o.GetUInt32("Applicability") ?? 0, type = o.GetUInt32("AclType") ?? 0, act = o.GetUInt32("Action") ?? 0;
                if (dir < 1 || dir > 2) throw SimFailure.Invalid($"Direction {dir} is not 1 (Incoming) or 2 (Outgoing).");
                if (app < 1 || app > 2) throw SimFailure.Invalid($"Applicability {app} is not 1 (Local) or 2 (Remote).");
                if (type < 1 || type > 3) throw SimFailure.Invalid($"AclType {type} is not 1 (MAC), 2 (IPv4) or 3 (IPv6).");
                if (act < 1 || act > 3) throw SimFailure.Invalid($"Action {act} is not 1 (Allow), 2 (Deny) or 3 (Meter).");
                if (act == 3 && type == 1) throw SimFailure.Invalid("A metering ACL must be IP-based.");
                if ((o.GetString("Name") ?? "").Length > 64) throw SimFailure.Invalid("Name is longer than 64 characters.");
                foreach (var side in new[] { "Local", "Remote" })
                {
                    var addr = o.GetString(side + "Address") ?? "";
                    uint len = o.GetUInt32(side + "AddressPrefixLength") ?? 0;
                    if (addr.Length > 40) throw SimFailure.Invalid($"{side}Address is longer than 40 characters.");
                    uint max = type == 1 ? 48u : type == 2 ? 32u : 128u;
                    if (len > max) throw SimFailure.Invalid($"{side}AddressPrefixLength {len} is above {max}.");
                    if (type == 1 && addr.Length > 0 && (addr.Length != 12 || !addr.All(Uri.IsHexDigit)))
                        throw SimFailure.Invalid($"{side}Address '{addr}' is not a MAC address (12 hex digits).");
                }
            }
            else if (o.ClassName == "Msvm_EthernetSwitchPortBandwidthSettingData")
            {
                ulong limit = o.GetUInt64("Limit") ?? 0, res = o.GetUInt64("Reservation") ?? 0, weight = o.GetUInt64("Weight") ?? 0;
                if (weight > 100) throw SimFailure.Invalid($"Weight {weight} is above 100.");
                if (res > 0 && weight > 0) throw SimFailure.Invalid("Reservation and Weight cannot both be set.");
                if (limit > 0 && res > limit) throw SimFailure.Invalid("Reservation is above Limit.");
                o.Set("Limit", limit - limit % 8);
                o.Set("Reservation", res - res % 8);
            }
            else if (o.ClassName == "Msvm_EthernetSwitchPortFeatureSettingData")
                throw SimFailure.Invalid("Msvm_EthernetSwitchPortFeatureSettingData is the base class; send a concrete feature.");
        }

        private Plan AddFeatures(Call c)
        {
            var port = ResolveRef(c.Ref("AffectedConfiguration"), "AffectedConfiguration", "Msvm_EthernetPortAllocationSettingData");
            if (VmOf(port) == null) throw SimFailure.Invalid("AffectedConfiguration is not a VM's connection (use the switch service for switch ports).");
            var items = c.Strs("FeatureSettings").Select((t, i) => ParseEmbedded(t, "Msvm_EthernetSwitchPortFeatureSettingData", $"FeatureSettings[{i}]")).ToList();
            if (items.Count == 0) throw SimFailure.Invalid("FeatureSettings is empty.");
            var existing = Children(Iid(port)).Select(o => o.ClassName).ToList();
            var plan = ConfigPlan(30);
            var refs = new List<CimReference>();
            foreach (var f in items)
            {
                ValidateFeature(f);
                // One VLAN, bandwidth, security ... feature per port; ACLs can be many (fact sheet §5.2).
                if (f.Obj.ClassName != "Msvm_EthernetSwitchPortAclSettingData" && existing.Contains(f.Obj.ClassName))
                    throw SimFailure.Invalid($"The port already has a {f.Obj.ClassName}.");
                existing.Add(f.Obj.ClassName);
                var feat = New(f.Obj.ClassName);
                CopyProvided(f, feat, "InstanceID");
                foreach (var p in new[] { "Limit", "Reservation" }) if (f.Has(p)) feat.Set(p, f.Obj[p]);
                feat.Set("InstanceID", Iid(port) + "\\" + FeatureId(f.Obj.ClassName) + "\\" + NewGuid());
                refs.Add(feat.ToReference());
                plan.AtEnd.Add(() =>
                {
                    if (Get(port.ToReference()) == null) throw SimFailure.Fail("The connection was removed.");
                    Put(feat);
                    Link("Msvm_EthernetPortSettingDataComponent", "GroupComponent", port, "PartComponent", feat);
                });
            }
            plan.Out["ResultingFeatureSettings"] = refs.ToArray();
            plan.Affected.AddRange(refs);
            plan.OmittableOnJob = "ResultingFeatureSettings";
            return plan;
        }

        private Plan ModifyFeatures(Call c)
        {
            var items = c.Strs("FeatureSettings").Select((t, i) => ParseEmbedded(t, "Msvm_EthernetSwitchPortFeatureSettingData", $"FeatureSettings[{i}]")).ToList();
            if (items.Count == 0) throw SimFailure.Invalid("FeatureSettings is empty.");
            var plan = ConfigPlan(31);
            var refs = new List<CimReference>();
            foreach (var f in items)
            {
                var cur = ByInstanceId(f.Obj.ClassName, f.Obj.GetString("InstanceID"))
                    ?? throw SimFailure.Invalid($"FeatureSettings: no {f.Obj.ClassName} with InstanceID '{f.Obj.GetString("InstanceID")}'.");
                if (RejectModifyOfVlanAndBandwidth && (cur.ClassName == "Msvm_EthernetSwitchPortVlanSettingData" || cur.ClassName == "Msvm_EthernetSwitchPortBandwidthSettingData"))
                    throw Error(CimErrorCode.Failed, "Invoke ModifyFeatureSettings",
                        $"Generic failure: {cur.ClassName} cannot be modified in place; remove it and add a new one (fact sheet pitfall 5).");
                ValidateFeature(f);
                refs.Add(cur.ToReference());
                plan.AtEnd.Add(() => CopyProvided(f, cur, "InstanceID"));
            }
            plan.Out["ResultingFeatureSettings"] = refs.ToArray();
            return plan;
        }

        private Plan RemoveFeatures(Call c)
        {
            var refs = c.Refs("FeatureSettings") ?? Array.Empty<CimReference>();
            if (refs.Length == 0) throw SimFailure.Invalid("FeatureSettings is empty.");
            var doomed = refs.Select(r => ResolveRef(r, "FeatureSettings", "Msvm_EthernetSwitchPortFeatureSettingData")).ToList();
            var plan = ConfigPlan(32);
            plan.AtEnd.Add(() => { foreach (var d in doomed) Delete(d); });
            return plan;
        }

        // =============================================================== KVP

        private Plan Kvp(Call c)
        {
            string m = c.Method.Name;
            var vm = ResolveRef(c.Ref("TargetSystem"), "TargetSystem", "Msvm_ComputerSystem");
            if (!IsVm(vm)) throw SimFailure.Invalid("TargetSystem is not a VM.");
            var texts = c.Strs("DataItems");
            if (texts.Length == 0) throw SimFailure.Invalid("DataItems is empty.");
            if (texts.Length > 128) throw SimFailure.Invalid($"{texts.Length} items in one call (at most 128).");
            var items = new List<(string Name, string Data, ushort Source)>();
            foreach (var (t, i) in texts.Select((t, i) => (t, i)))
            {
                var e = ParseEmbedded(t, "Msvm_KvpExchangeDataItem", $"DataItems[{i}]");
                string name = e.Obj.GetString("Name") ?? "";
                string data = e.Obj.GetString("Data") ?? "";
                ushort source = e.Obj.GetUInt16("Source") ?? 0;
                if (name.Length == 0) throw SimFailure.Invalid($"DataItems[{i}]: Name is empty.");
                if (name.Length > 1024 || data.Length > 1024) throw SimFailure.Invalid($"DataItems[{i}]: Name and Data are limited to 1024 characters.");
                if (source != 0 && source != 4) throw SimFailure.Invalid($"DataItems[{i}]: Source {source} cannot be written by the host (0 or 4).");
                if (items.Any(x => x.Name == name && x.Source == source)) throw SimFailure.Invalid($"DataItems: '{name}' appears twice.");
                items.Add((name, data, source));
            }
            var settings = KvpSettings(vm) ?? throw SimFailure.Fail("The VM has no KVP settings.");
            List<(string Name, string Data, ushort Source)> Current(ushort source) =>
                ReadItems(settings.GetStrings(source == 0 ? "HostExchangeItems" : "HostOnlyItems")).ToList();
            foreach (var it in items)
            {
                bool exists = Current(it.Source).Any(x => x.Name == it.Name);
                if (m == "AddKvpItems" && exists) throw SimFailure.Fail($"The key '{it.Name}' already exists (use ModifyKvpItems).");
                if (m != "AddKvpItems" && !exists) throw SimFailure.Fail($"The key '{it.Name}' does not exist.");
            }
            var plan = ConfigPlan(m == "AddKvpItems" ? (ushort)40 : m == "ModifyKvpItems" ? (ushort)41 : (ushort)42);
            plan.AtEnd.Add(() =>
            {
                foreach (ushort source in new ushort[] { 0, 4 })
                {
                    var list = Current(source);
                    foreach (var it in items.Where(x => x.Source == source))
                    {
                        int idx = list.FindIndex(x => x.Name == it.Name);
                        if (m == "RemoveKvpItems")
                        {
                            if (idx >= 0) list.RemoveAt(idx);
                            // The router's agent drops its answer (and the answer's parts) once the request is gone.
                            if (source == 0 && GuestAgentReplies != null)
                                foreach (var g in Runtime(vm).GuestItems.Keys.Where(k => k == it.Name || k.StartsWith(it.Name + "-", StringComparison.Ordinal)).ToList())
                                    Runtime(vm).GuestItems.Remove(g);
                            continue;
                        }
                        if (m == "AddKvpItems" && idx >= 0) throw SimFailure.Fail($"The key '{it.Name}' already exists.");
                        if (m == "ModifyKvpItems" && idx < 0) throw SimFailure.Fail($"The key '{it.Name}' does not exist.");
                        if (idx >= 0) list[idx] = it; else list.Add(it);
                        if (source == 0) Runtime(vm).PendingKvp.Add(it.Name);
                    }
                    settings.Set(source == 0 ? "HostExchangeItems" : "HostOnlyItems", list.Select(x => ItemText(x.Name, x.Data, x.Source)).ToArray());
                }
                DeliverPendingKvp(vm);
            });
            return plan;
        }

        // =============================================================== summary

        private Plan Summary(Call c)
        {
            var requested = c.Args.TryGetValue("RequestedInformation", out var ri) && ri is uint[] codes ? codes : Array.Empty<uint>();
            var refs = c.Refs("SettingData");
            List<CimObject> vms;
            if (refs == null) vms = Vms().ToList();
            else vms = refs.Select(r => VmFromVssdRef(r, "SettingData")).ToList();
            var result = new List<CimObject>();
            foreach (var vm in vms)
            {
                var vssd = Vssd(vm)!;
                var rt = Runtime(vm);
                var s = New("Msvm_SummaryInformation");
                s.Set("InstanceID", "Microsoft:" + vm.GetString("Name"));
                var devices = Devices(vm);
                foreach (var code in requested)
                {
                    switch (code)
                    {
                        case 0: s.Set("Name", vm.GetString("Name")); break;
                        case 1: s.Set("ElementName", vm.GetString("ElementName")); break;
                        case 2: s.Set("CreationTime", vssd.GetString("CreationTime")); break;
                        case 3: s.Set("Notes", string.Join("\n", vssd.GetStrings("Notes"))); break;
                        case 4: s.Set("NumberOfProcessors", (ushort)(devices.FirstOrDefault(d => Kind(d) == "processor")?.GetUInt64("VirtualQuantity") ?? 1)); break;
                        case 9:
                            s.Set("VirtualSwitchNames", GuestContext(vm).Nics.Where(n => n.SwitchName != null).Select(n => n.SwitchName!).Distinct().ToArray());
                            break;
                        case 10: s.Set("Version", vssd.GetString("Version")); break;
                        case 11: s.Set("Shielded", false); break;
                        case 100: s.Set("EnabledState", State(vm)); break;
                        case 101: s.Set("ProcessorLoad", State(vm) == 2 ? (ushort)1 : (ushort)0); break;
                        case 103: s.Set("MemoryUsage", State(vm) == 2 ? devices.FirstOrDefault(d => Kind(d) == "memory")?.GetUInt64("VirtualQuantity") ?? 0 : 0UL); break;
                        case 104: if (State(vm) == 2) s.Set("Heartbeat", rt.GuestUp ? (ushort)2 : (ushort)12); break;
                        case 105: s.Set("UpTime", State(vm) == 2 ? (ulong)((Stopwatch.GetTimestamp() - rt.StartedAt) * 1000 / Stopwatch.Frequency) : 0UL); break;
                        case 106: if (State(vm) == 2 && rt.GuestUp) s.Set("GuestOperatingSystem", "Linux"); break;
                        case 109: s.Set("HealthState", vm.GetUInt16("HealthState")); break;
                        case 110: s.Set("OperationalStatus", vm.GetUInt16s("OperationalStatus")); break;
                        case 111: s.Set("StatusDescriptions", vm.GetStrings("StatusDescriptions")); break;
                        case 112: s.Set("MemoryAvailable", 0); break;
                        case 113: s.Set("AvailableMemoryBuffer", 0); break;
                    }
                }
                result.Add(s);
            }
            var plan = new Plan();
            plan.Out["SummaryInformation"] = result.ToArray();
            return plan;
        }

        // =============================================================== power

        private static readonly Dictionary<ushort, (ushort[] From, ushort Via, ushort JobType)> Transitions = new Dictionary<ushort, (ushort[], ushort, ushort)>
        {
            [2] = (new ushort[] { 3, 6, 9 }, 10, 12),
            [3] = (new ushort[] { 2, 6, 9 }, 4, 13),
            [6] = (new ushort[] { 2, 9 }, 32773, 14),
            [9] = (new ushort[] { 2 }, 32776, 15),
            [11] = (new ushort[] { 2 }, 11, 17),
        };

        private Plan RequestStateChange(Call c)
        {
            var vm = c.Instance;
            if (!IsVm(vm)) throw new SimFailure(SimFailure.Kinds.NotSupported, "The host's state cannot be changed.");
            ushort requested = Convert.ToUInt16(c.Args["RequestedState"], CultureInfo.InvariantCulture);
            if (requested == 4) throw new SimFailure(SimFailure.Kinds.NotSupported, "RequestedState 4 (Shut Down) is V1-only; use Msvm_ShutdownComponent.InitiateShutdown.");
            if (!Transitions.TryGetValue(requested, out var t)) throw SimFailure.Invalid($"RequestedState {requested} is not supported by the simulator (2, 3, 6, 9, 11).");
            var rt = Runtime(vm);
            ushort from = State(vm);
            if (rt.InTransition) throw SimFailure.BadState("The VM is already changing state.");
            if (!t.From.Contains(from)) throw SimFailure.BadState($"Cannot go from EnabledState {from} to {requested}.");
            ushort via = requested == 2 && from == 9 ? (ushort)32777 : t.Via;
            var plan = new Plan { Job = true, JobType = t.JobType };
            plan.Affected.Add(vm.ToReference());
            plan.Now.Add(() =>
            {
                rt.InTransition = true;
                vm.Set("EnabledState", via);
                vm.Set("RequestedState", requested);
                vm.Set("OperationalStatus", new ushort[] { 11 });
            });
            plan.AtEnd.Add(() => CompleteTransition(vm, from, requested));
            return plan;
        }

        private void CompleteTransition(CimObject vm, ushort from, ushort to)
        {
            var rt = Runtime(vm);
            rt.InTransition = false;
            vm.Set("RequestedState", 12);
            vm.Set("OperationalStatus", new ushort[] { 2 });
            if (to == 2 && from == 3)
            {
                var missing = Devices(vm).Where(d => Kind(d) == "vhd").SelectMany(d => d.GetStrings("HostResource"))
                    .FirstOrDefault(p => !_files.ContainsKey(NormalizePath(p)));
                if (missing != null)
                {
                    vm.Set("EnabledState", from);
                    throw SimFailure.Fail($"'{vm.GetString("ElementName")}' failed to start: the virtual hard disk '{missing}' was not found.");
                }
            }
            ushort final = to == 11 ? (ushort)2 : to;
            vm.Set("EnabledState", final);
            vm.Set("TimeOfLastStateChange", DateTime.UtcNow.ToString("yyyyMMddHHmmss.ffffff+000", CultureInfo.InvariantCulture));
            if (final == 2 && (from == 3 || to == 11))
            {
                if (from == 3)
                {
                    rt.StartedAt = Stopwatch.GetTimestamp();
                    foreach (var nic in Devices(vm).Where(d => Kind(d) == "nic" || Kind(d) == "legacy"))
                        if (nic.GetString("Address") == "000000000000") nic.Set("Address", NextMac());
                }
                rt.GuestItems.Clear();
                rt.GuestUp = rt.BootOverride ?? (GuestBootsAutomatically && HasVhd(vm));
                if (KvpSettings(vm) is CimObject ks) rt.PendingKvp.AddRange(ReadItems(ks.GetStrings("HostExchangeItems")).Select(i => i.Name));
            }
            if (final == 3) { rt.GuestUp = false; rt.GuestItems.Clear(); rt.PendingKvp.Clear(); vm.Set("OnTimeInMilliseconds", 0UL); }
            vm.Set("OnTimeInMilliseconds", final == 2 ? (ulong)((Stopwatch.GetTimestamp() - rt.StartedAt) * 1000 / Stopwatch.Frequency) : 0UL);
            DeliverPendingKvp(vm);
        }

        private Plan Shutdown(Call c, bool reboot)
        {
            var vm = Get(VmRef(c.Instance.GetString("SystemName") ?? "")) ?? throw SimFailure.Fail("The shutdown component has no VM.");
            var rt = Runtime(vm);
            if (rt.InTransition) throw SimFailure.With(32782, "A state change is already in progress.");
            if (State(vm) != 2) throw SimFailure.BadState($"The VM is not running (EnabledState {State(vm)}).");
            if (!rt.GuestUp) throw SimFailure.With(32777, "The guest is not reachable (shutdown component: No Contact).");
            var plan = new Plan { Job = true, Hidden = true, HiddenReturnValue = ShutdownAnswersJobStarted ? CimJobs.JobStarted : 0u };
            plan.Now.Add(() =>
            {
                rt.InTransition = true;
                vm.Set("EnabledState", reboot ? (ushort)2 : (ushort)4);
                vm.Set("RequestedState", reboot ? (ushort)10 : (ushort)3);
            });
            plan.AtEnd.Add(() => CompleteTransition(vm, 2, reboot ? (ushort)11 : (ushort)3));
            return plan;
        }

        // =============================================================== switches

        private Plan DefineSwitch(Call c)
        {
            var sd = ParseEmbedded(c.Str("SystemSettings"), "Msvm_VirtualEthernetSwitchSettingData", "SystemSettings");
            string name = sd.Obj.GetString("ElementName") ?? "";
            if (name.Length == 0) throw SimFailure.Invalid("A switch needs an ElementName.");
            var ports = c.Strs("ResourceSettings").Select((t, i) => ParseEmbedded(t, "Msvm_EthernetPortAllocationSettingData", $"ResourceSettings[{i}]")).ToList();
            var targets = ports.Select(p => ValidateHostPort(p, new List<CimObject>())).ToList();
            if (targets.Count(t => t.ClassName == "Msvm_ComputerSystem") > 1) throw SimFailure.Invalid("A switch has at most one internal port.");
            string guid = NewGuid();
            var swRef = SwitchRef(guid);
            var plan = ConfigPlan(130);
            plan.Out["ResultingSystem"] = swRef;
            plan.Affected.Add(swRef);
            plan.AtEnd.Add(() =>
            {
                var sw = New("Msvm_VirtualEthernetSwitch");
                sw.Set("CreationClassName", "Msvm_VirtualEthernetSwitch");
                sw.Set("Name", guid);
                sw.Set("ElementName", name);
                sw.Set("Caption", "Virtual Switch");
                sw.Set("EnabledState", 2);
                sw.Set("HealthState", 5);
                sw.Set("OperationalStatus", new ushort[] { 2 });
                Put(sw);
                var s = New("Msvm_VirtualEthernetSwitchSettingData");
                foreach (var p in sd.Provided) s.Set(p, sd.Obj[p]);
                s.Set("InstanceID", "Microsoft:" + guid);
                s.Set("VirtualSystemIdentifier", guid);
                s.Set("ConfigurationID", guid);
                s.Set("ElementName", name);
                KeepFirstNote(s);
                Put(s);
                Link("Msvm_SettingsDefineState", "ManagedElement", sw, "SettingData", s);
                Link("Msvm_ElementSettingData", "ManagedElement", sw, "SettingData", s);
                for (int i = 0; i < ports.Count; i++) AddHostPort(sw, s, ports[i], targets[i]);
            });
            return plan;
        }

        private CimObject ValidateHostPort(Embedded p, List<CimObject> existing)
        {
            string? hr = p.Obj.GetStrings("HostResource").FirstOrDefault();
            if (string.IsNullOrEmpty(hr)) throw SimFailure.Invalid("A switch port needs HostResource (the host or an external adapter).");
            var target = ResolvePath(hr, "HostResource[0]", "Msvm_ComputerSystem", "Msvm_ExternalEthernetPort");
            if (target.ClassName == "Msvm_ComputerSystem" && !ReferenceEquals(target, HostSystem)) throw SimFailure.Invalid("HostResource names a VM, not the host.");
            if (target.ClassName == "Msvm_ExternalEthernetPort" && (target.GetBoolean("IsBound") ?? false))
                throw SimFailure.Invalid($"The adapter '{target.GetString("ElementName")}' is already bound to a switch.");
            if (existing.Any(e => e.ClassName == target.ClassName && target.ClassName == "Msvm_ComputerSystem")) throw SimFailure.Invalid("The switch already has an internal port.");
            return target;
        }

        private CimReference AddHostPort(CimObject sw, CimObject settings, Embedded p, CimObject target)
        {
            string guid = sw.GetString("Name")!;
            string portId = NewGuid();
            var port = New("Msvm_EthernetPortAllocationSettingData");
            CopyProvided(p, port, "InstanceID");
            port.Set("InstanceID", $@"Microsoft:{guid}\{portId}");
            port.Set("ResourceType", 33);
            port.Set("ResourceSubType", EthernetConnection);
            port.Set("HostResource", new[] { target.ToReference().ToPath() });
            port.Set("EnabledState", 2);
            if (string.IsNullOrEmpty(port.GetString("ElementName")))
                port.Set("ElementName", sw.GetString("ElementName") + (target.ClassName == "Msvm_ComputerSystem" ? "_Internal" : "_External"));
            Put(port);
            Link("Msvm_VirtualSystemSettingDataComponent", "GroupComponent", settings, "PartComponent", port);
            if (target.ClassName == "Msvm_ComputerSystem")
            {
                var ip = New("Msvm_InternalEthernetPort");
                ip.Set("CreationClassName", "Msvm_InternalEthernetPort");
                ip.Set("DeviceID", "Microsoft:" + portId);
                ip.Set("SystemCreationClassName", "Msvm_ComputerSystem");
                ip.Set("SystemName", ComputerName);
                ip.Set("ElementName", sw.GetString("ElementName"));
                ip.Set("Name", sw.GetString("ElementName"));
                ip.Set("PermanentAddress", NextMac());
                ip.Set("EnabledState", 2);
                ip.Set("OperationalStatus", new ushort[] { 2 });
                Put(ip);
                Link("Msvm_SystemDevice", "GroupComponent", HostSystem, "PartComponent", ip);
            }
            else target.Set("IsBound", true);
            return port.ToReference();
        }

        private void RemoveHostPort(CimObject port)
        {
            string? hr = port.GetStrings("HostResource").FirstOrDefault();
            if (hr != null && CimReference.TryParse(hr, out var r, out _) && Get(r!) is CimObject target)
            {
                if (target.ClassName == "Msvm_ExternalEthernetPort") target.Set("IsBound", false);
                else
                {
                    string portId = Iid(port).Substring(Iid(port).LastIndexOf('\\') + 1);
                    foreach (var ip in Enumerate("Msvm_InternalEthernetPort").Where(i => string.Equals(i.GetString("DeviceID"), "Microsoft:" + portId, StringComparison.OrdinalIgnoreCase)).ToList())
                        Delete(ip);
                }
            }
            foreach (var f in Children(Iid(port))) Delete(f);
            Delete(port);
        }

        private Plan DestroySwitch(Call c)
        {
            var sw = ResolveRef(c.Ref("AffectedSystem"), "AffectedSystem", "Msvm_VirtualEthernetSwitch");
            string guid = sw.GetString("Name")!;
            var plan = ConfigPlan(131);
            plan.AtEnd.Add(() =>
            {
                string path = sw.ToReference().ToPath();
                foreach (var port in Children("Microsoft:" + guid, "Msvm_EthernetPortAllocationSettingData")) RemoveHostPort(port);
                foreach (var conn in Enumerate("Msvm_EthernetPortAllocationSettingData").ToList())
                {
                    var h = conn.GetStrings("HostResource").FirstOrDefault();
                    if (h != null && CimReference.TryParse(h, out var r, out _) && r!.Matches(sw.ToReference()))
                    {
                        conn.Set("HostResource", new string[0]);
                        conn.Set("LastKnownSwitchName", sw.GetString("ElementName"));
                    }
                }
                if (ByInstanceId("Msvm_VirtualEthernetSwitchSettingData", "Microsoft:" + guid) is CimObject s) Delete(s);
                Delete(sw);
            });
            return plan;
        }

        private Plan ModifySwitch(Call c)
        {
            var sd = ParseEmbedded(c.Str("SystemSettings"), "Msvm_VirtualEthernetSwitchSettingData", "SystemSettings");
            var s = ByInstanceId("Msvm_VirtualEthernetSwitchSettingData", sd.Obj.GetString("InstanceID"))
                ?? throw SimFailure.Invalid($"SystemSettings: no switch with InstanceID '{sd.Obj.GetString("InstanceID")}'.");
            var sw = Get(SwitchRef(OwnerId(Iid(s))!))!;
            if (sd.Has("ElementName") && string.IsNullOrEmpty(sd.Obj.GetString("ElementName"))) throw SimFailure.Invalid("A switch needs an ElementName.");
            var plan = ConfigPlan(132);
            plan.AtEnd.Add(() =>
            {
                CopyProvided(sd, s, "InstanceID", "VirtualSystemIdentifier", "ConfigurationID", "VirtualSystemType");
                KeepFirstNote(s);
                sw.Set("ElementName", s.GetString("ElementName"));
            });
            return plan;
        }

        private Plan AddSwitchPorts(Call c)
        {
            var s = ResolveRef(c.Ref("AffectedConfiguration"), "AffectedConfiguration", "Msvm_VirtualEthernetSwitchSettingData");
            var sw = Get(SwitchRef(OwnerId(Iid(s))!))!;
            var ports = c.Strs("ResourceSettings").Select((t, i) => ParseEmbedded(t, "Msvm_EthernetPortAllocationSettingData", $"ResourceSettings[{i}]")).ToList();
            var existing = Children(Iid(s), "Msvm_EthernetPortAllocationSettingData")
                .Select(p => p.GetStrings("HostResource").FirstOrDefault()).Where(h => h != null && CimReference.TryParse(h, out _, out _))
                .Select(h => Get(CimReference.Parse(h!))).Where(o => o != null).Select(o => o!).ToList();
            var targets = new List<CimObject>();
            foreach (var p in ports) { var t = ValidateHostPort(p, existing); existing.Add(t); targets.Add(t); }
            var plan = ConfigPlan(133);
            var refs = new List<CimReference>();
            plan.AtEnd.Add(() => { for (int i = 0; i < ports.Count; i++) refs.Add(AddHostPort(sw, s, ports[i], targets[i])); });
            plan.Out["ResultingResourceSettings"] = refs.ToArray(); // filled at completion (synchronous mode: before return)
            return plan;
        }

        private Plan RemoveSwitchPorts(Call c)
        {
            var refs = c.Refs("ResourceSettings") ?? Array.Empty<CimReference>();
            var ports = refs.Select(r => ResolveRef(r, "ResourceSettings", "Msvm_EthernetPortAllocationSettingData")).ToList();
            foreach (var p in ports)
                if (!(OwnerId(Iid(p)) is string o && Get(SwitchRef(o)) != null)) throw SimFailure.Invalid($"{Iid(p)} is not a switch's host port.");
            var plan = ConfigPlan(134);
            plan.AtEnd.Add(() => { foreach (var p in ports) RemoveHostPort(p); });
            return plan;
        }

        // =============================================================== storage

        private Plan CreateVhd(Call c)
        {
            var sd = ParseEmbedded(c.Str("VirtualDiskSettingData"), "Msvm_VirtualHardDiskSettingData", "VirtualDiskSettingData");
            ushort type = sd.Obj.GetUInt16("Type") ?? 0, format = sd.Obj.GetUInt16("Format") ?? 0;
            string path = NormalizePath(sd.Obj.GetString("Path") ?? "");
            string? parent = sd.Obj.GetString("ParentPath");
            if (path.Length == 0) throw SimFailure.Invalid("Path is empty.");
            if (type < 2 || type > 4) throw SimFailure.Invalid($"Type {type} is not 2 (Fixed), 3 (Dynamic) or 4 (Differencing).");
            if (format != 2 && format != 3) throw SimFailure.Invalid($"Format {format} is not 2 (VHD) or 3 (VHDX).");
            string ext = format == 3 ? ".vhdx" : ".vhd";
            if (!path.EndsWith(ext, StringComparison.OrdinalIgnoreCase)) throw SimFailure.Invalid($"Path '{path}' does not end in {ext} (Format {format}).");
            SimFile? parentFile = null;
            if (type == 4)
            {
                if (string.IsNullOrEmpty(parent)) throw SimFailure.Invalid("A differencing disk needs ParentPath.");
                if (!_files.TryGetValue(NormalizePath(parent!), out parentFile)) throw SimFailure.With(32779, $"The parent '{parent}' was not found.");
                if (parentFile.Format == 0) throw SimFailure.Invalid($"'{parent}' is not a virtual hard disk.");
            }
            else if ((sd.Obj.GetUInt64("MaxInternalSize") ?? 0) == 0) throw SimFailure.Invalid("MaxInternalSize must be set for fixed and dynamic disks.");
            var plan = new Plan { Job = true, JobType = 93, JobClass = "Msvm_StorageJob" };
            plan.AtEnd.Add(() =>
            {
                if (_files.ContainsKey(path)) throw SimFailure.Fail($"Failed to create the virtual disk '{path}': The file exists. (0x80070050)");
                if (parentFile != null && !_files.ContainsKey(parentFile.Path)) throw SimFailure.Fail($"The parent '{parentFile.Path}' was removed.");
                _files[path] = new SimFile
                {
                    Path = path, Format = format, Type = type, ParentPath = parentFile?.Path,
                    Size = parentFile?.Size ?? sd.Obj.GetUInt64("MaxInternalSize") ?? 0,
                };
            });
            return plan;
        }

        private Plan GetVhdSettings(Call c)
        {
            string path = NormalizePath(c.Str("Path") ?? "");
            bool found = _files.TryGetValue(path, out var f);
            if (ImageQueriesUseJobs && (!found || f!.Format == 0))
            {
                // The call is accepted (4096) and its storage job fails, carrying Windows' own text and HRESULT:
                // ERROR_FILE_NOT_FOUND / ERROR_PATH_NOT_FOUND for a missing file, a VHD format error otherwise.
                bool dirExists = _files.Values.Any(k => k.Path.StartsWith(path.Substring(0, Math.Max(0, path.LastIndexOf('\\') + 1)), StringComparison.OrdinalIgnoreCase));
                uint hr = !found ? (dirExists ? 0x80070002u : 0x80070003u) : 0xC03A0005u;
                string text = !found
                    ? (dirExists ? "The system cannot find the file specified." : "The system cannot find the path specified.")
                    : "The file or directory is corrupted and unreadable.";
                return new Plan
                {
                    Job = true, JobType = 96, JobClass = "Msvm_StorageJob",
                    FailJobWith = $"Failed to get the disk information of '{path}'. {text} (0x{hr:X8})", FailJobStatusCode = hr,
                    JobErrors = new List<string> { $"Failed to get the disk information of '{path}'. {text} (0x{hr:X8})" },
                };
            }
            if (!found) throw SimFailure.With(32779, $"'{path}' was not found.");
            if (f!.Format == 0) throw SimFailure.Invalid($"'{path}' is not a virtual hard disk.");
            var sd = New("Msvm_VirtualHardDiskSettingData");
            sd.Set("InstanceID", "Microsoft:" + f.DiskId);
            sd.Set("Type", f.Type);
            sd.Set("Format", f.Format);
            sd.Set("Path", f.Path);
            sd.Set("ParentPath", f.ParentPath ?? "");
            sd.Set("MaxInternalSize", f.Size);
            sd.Set("BlockSize", 33554432U);
            sd.Set("LogicalSectorSize", 512U);
            sd.Set("PhysicalSectorSize", 4096U);
            sd.Set("VirtualDiskId", f.DiskId);
            var plan = ImageQueriesUseJobs ? new Plan { Job = true, JobType = 96, JobClass = "Msvm_StorageJob" } : new Plan();
            plan.Out["SettingData"] = CimXml.Write(sd);
            return plan;
        }

        private Plan DeleteFile(Call c)
        {
            string path = NormalizePath(c.Target.Key("Name") ?? "");
            if (IsUncPath(path)) throw SimFailure.With(9, "Invalid object (CIM_DataFile covers the host's local volumes only).");
            var f = _files.Values.FirstOrDefault(x => string.Equals(x.Path, path, StringComparison.OrdinalIgnoreCase));
            if (f == null) throw SimFailure.With(9, "Invalid object.");
            if (FileInUse(f.Path)) throw SimFailure.With(15, $"'{f.Path}' is in use by a virtual machine (sharing violation).");
            var plan = new Plan();
            plan.AtEnd.Add(() => _files.Remove(f.Path));
            return plan;
        }

        private Plan JobErrors(Call c, bool ex)
        {
            string id = c.Instance.GetString("InstanceID") ?? "";
            var job = _jobs.FirstOrDefault(j => j.Instance != null && string.Equals(j.Instance.GetString("InstanceID"), id, StringComparison.OrdinalIgnoreCase));
            var texts = job == null ? new List<string>() : job.Errors.Select(e => CimXml.Write(ErrorInstance(e, job.FailCode ?? 32768, job.Method))).ToList();
            var plan = new Plan();
            if (ex) plan.Out["Errors"] = texts.ToArray();
            else plan.Out["Error"] = texts.FirstOrDefault();
            return plan;
        }
    }
}
