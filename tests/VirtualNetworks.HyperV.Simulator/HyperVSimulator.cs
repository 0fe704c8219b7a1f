using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Threading;
using VirtualNetworks.HyperV.Cim;

namespace VirtualNetworks.HyperV.Simulator
{
    /// <summary>
    /// One simulated Hyper-V host: an in-memory root\virtualization\v2 (and a root\cimv2 CIM_DataFile view of its file
    /// system) behind <see cref="ICimGateway"/>. Thread-safe: every operation takes this host's lock. See README.md.
    /// </summary>
    public sealed partial class HyperVSimulator
    {
        internal readonly object Sync = new object();
        private readonly Dictionary<string, CimObject> _all = new Dictionary<string, CimObject>(StringComparer.Ordinal);
        private readonly Dictionary<string, Dictionary<string, CimObject>> _byClass = new Dictionary<string, Dictionary<string, CimObject>>(StringComparer.OrdinalIgnoreCase);
        private readonly Dictionary<string, List<SimLink>> _links = new Dictionary<string, List<SimLink>>(StringComparer.Ordinal);
        private readonly SimFileStore _files = new SimFileStore();
        private readonly List<SimJob> _jobs = new List<SimJob>();
        private readonly Dictionary<string, VmRuntime> _vms = new Dictionary<string, VmRuntime>(StringComparer.OrdinalIgnoreCase);
        private int _addSettingsJobs;
        private long _macCounter;

        public HyperVSimulator(string computerName) : this(computerName, null)
        {
        }

        internal HyperVSimulator(string computerName, SimulatedDatacenter? datacenter)
        {
            Datacenter = datacenter;
            if (datacenter != null) _files.Shared = datacenter.SharedFiles;
            if (string.IsNullOrWhiteSpace(computerName)) throw new ArgumentException("A simulated host needs a name.", nameof(computerName));
            ComputerName = computerName;
            Seed();
        }

        public string ComputerName { get; }
        /// <summary>The datacenter this host belongs to (null for a stand-alone host: migration has no destination).</summary>
        public SimulatedDatacenter? Datacenter { get; }
        public SimulatorFaults Faults { get; } = new SimulatorFaults();
        public SimulatorCounters Counters { get; } = new SimulatorCounters();

        /// <summary>How long a job runs before it completes (default 2 ms; zero = it completes when first observed).</summary>
        public TimeSpan JobDuration { get; set; } = TimeSpan.FromMilliseconds(2);
        /// <summary>VSMS / switch-service / KVP methods answer 4096 + Job (true, default) or complete synchronously with 0.</summary>
        public bool ConfigurationMethodsUseJobs { get; set; } = true;
        public ResultingSettingsPolicy ResultingSettings { get; set; } = ResultingSettingsPolicy.EveryOther;
        /// <summary>ModifyFeatureSettings on a VLAN or bandwidth feature throws CimGatewayException(Failed) (fact sheet pitfall 5).</summary>
        public bool RejectModifyOfVlanAndBandwidth { get; set; } = true;
        /// <summary>Finished jobs vanish (GetInstance answers null) this long after they end; null = never. Default 5 minutes (Hyper-V's TimeBeforeRemoval).</summary>
        public TimeSpan? RemoveFinishedJobsAfter { get; set; } = TimeSpan.FromMinutes(5);
        /// <summary>When a VM reaches Running, its guest comes up by itself if it has a virtual hard disk attached (default true).</summary>
        public bool GuestBootsAutomatically { get; set; } = true;
        /// <summary>Allow adding/removing controllers, drives and media while the VM runs (default false: invalid state).</summary>
        public bool AllowDiskHotPlug { get; set; }
        /// <summary>Synthetic NICs per VM (the official sample's limit: 8).</summary>
        public int MaxNicsPerVm { get; set; } = 8;
        /// <summary>The simulated guest agent: called when a running, unpaused VM whose guest is up receives a host KVP item; a non-null reply becomes a guest item (Source 1) with the same name.</summary>
        public Func<SimulatedGuestContext, string, string, string?>? GuestAgent { get; set; }
        /// <summary>
        /// The simulated guest agent that may answer with several items (a header and parts, as the router's KVP agent
        /// writes long answers; <see cref="SimulatedRouterAgent"/>): when set it is called instead of
        /// <see cref="GuestAgent"/>; every returned item becomes a guest item (Source 1); null or empty = no answer. As the
        /// real agent does, the guest drops its answer (the item of that name and its parts <c>&lt;name&gt;-&lt;n&gt;</c>) when the
        /// host removes the request.
        /// </summary>
        public Func<SimulatedGuestContext, string, string, IReadOnlyList<KeyValuePair<string, string>>?>? GuestAgentReplies { get; set; }

        /// <summary>
        /// Msvm_ImageManagementService.GetVirtualHardDiskSettingData answers 4096 with an Msvm_StorageJob (default true, as
        /// Microsoft's own client code expects: microsoft/wmi pkg/virtualization/core/storage/service/ImageManagementService.go
        /// waits for the job). SettingData is filled at once; a missing file or a file that is not a virtual disk fails the
        /// job (not the call). False: synchronous 0 / 32779 / 32773.
        /// </summary>
        public bool ImageQueriesUseJobs { get; set; } = true;
        /// <summary>
        /// Keep only element 0 of a VSSD's / switch settings' Notes array (libvirt's Hyper-V driver sees one element in
        /// practice; whether Hyper-V keeps more is unconfirmed). Default false: every element is kept.
        /// </summary>
        public bool NotesKeepFirstElementOnly { get; set; }
        /// <summary>
        /// While a job runs it reports this JobState instead of 3/4 (e.g. 11 Service or 12 Query Pending: CIM_ConcreteJob
        /// states that are not final). Null (default): 3 Starting, then 4 Running.
        /// </summary>
        public ushort? JobInterimState { get; set; }
        /// <summary>
        /// InitiateShutdown / InitiateReboot answer 4096 ("Method Parameters Checked - Job Started", a documented return)
        /// although the real schema has no Job output parameter; the shutdown proceeds as with 0. Default false (0).
        /// </summary>
        public bool ShutdownAnswersJobStarted { get; set; }
        /// <summary>
        /// The Msvm_AffectedJobElement of a job-returning AddResourceSettings lists the VM first and then the new settings
        /// (true, default); false lists only the VM, so a client must find the new settings another way.
        /// </summary>
        public bool AffectedElementsIncludeNewSettings { get; set; } = true;

        public ICimGateway Connect() => new SimulatedGateway(this, null);

        /// <summary>
        /// A gateway connected under another name of this host (an FQDN, an IP address, an alias): its ComputerName is
        /// <paramref name="connectedAs"/>, but objects carry the host's own name (__SERVER) and paths inside settings
        /// (Parent, HostResource) must name the host as Hyper-V does (<see cref="ComputerName"/>); references passed to
        /// the gateway may use either name (MI sends keys, not the host part).
        /// </summary>
        public ICimGateway Connect(string connectedAs) => new SimulatedGateway(this, connectedAs);

        // =============================================================== public helpers for tests

        public void AddFile(string path, ulong size = 4UL << 30)
        {
            lock (Sync) _files[NormalizePath(path)] = SimFile.Guess(NormalizePath(path), size);
        }

        public bool RemoveFile(string path) { lock (Sync) return _files.Remove(NormalizePath(path)); }

        public bool FileExists(string path) { lock (Sync) return _files.ContainsKey(NormalizePath(path)); }

        public IReadOnlyList<string> Files { get { lock (Sync) return _files.Values.Select(f => f.Path).OrderBy(p => p, StringComparer.OrdinalIgnoreCase).ToList(); } }

        /// <summary>Seeds a physical adapter (Msvm_ExternalEthernetPort) and returns its reference.</summary>
        public CimReference AddExternalPort(string name, string permanentAddress)
        {
            lock (Sync)
            {
                var port = New("Msvm_ExternalEthernetPort");
                port.Set("CreationClassName", "Msvm_ExternalEthernetPort");
                port.Set("DeviceID", "Microsoft:" + NewGuid());
                port.Set("SystemCreationClassName", "Msvm_ComputerSystem");
                port.Set("SystemName", ComputerName);
                port.Set("Name", name);
                port.Set("ElementName", name);
                port.Set("PermanentAddress", permanentAddress);
                port.Set("IsBound", false);
                port.Set("EnabledState", 2);
                port.Set("OperationalStatus", new ushort[] { 2 });
                Put(port);
                Link("Msvm_SystemDevice", "GroupComponent", HostSystem, "PartComponent", port);
                return port.ToReference();
            }
        }

        /// <summary>
        /// Msvm_VirtualSystemMigrationServiceSettingData.EnableVirtualSystemMigration (default false, as on a fresh Hyper-V
        /// host: live migration is off until Enable-VMMigration). Enabling also fills the service's
        /// MigrationServiceListenerIPAddressList with <see cref="MigrationAddress"/>; disabling empties it.
        /// </summary>
        public bool MigrationEnabled
        {
            get { lock (Sync) return MigrationSettings.GetBoolean("EnableVirtualSystemMigration") ?? false; }
            set
            {
                lock (Sync)
                {
                    MigrationSettings.Set("EnableVirtualSystemMigration", value);
                    MigrationService.Set("MigrationServiceListenerIPAddressList", value ? new[] { MigrationAddress } : new string[0]);
                }
            }
        }

        /// <summary>The migration listener address this host reports when migration is enabled.</summary>
        public string MigrationAddress { get; set; } = "192.0.2.1";

        /// <summary>
        /// Seeds an external switch as an administrator would create it (New-VMSwitch -NetAdapterName): a physical
        /// adapter <c>&lt;name&gt; NIC</c> and a switch named <paramref name="name"/> bound to it, no internal port.
        /// Returns the switch GUID.
        /// </summary>
        public string AddExternalSwitch(string name)
        {
            lock (Sync)
            {
                var portRef = AddExternalPort(name + " NIC", NextMac());
                var port = Get(portRef)!;
                string guid = NewGuid();
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
                s.Set("InstanceID", "Microsoft:" + guid);
                s.Set("VirtualSystemIdentifier", guid);
                s.Set("ConfigurationID", guid);
                s.Set("ElementName", name);
                s.Set("Notes", new[] { "" });
                Put(s);
                Link("Msvm_SettingsDefineState", "ManagedElement", sw, "SettingData", s);
                Link("Msvm_ElementSettingData", "ManagedElement", sw, "SettingData", s);
                var e = new Embedded { Obj = New("Msvm_EthernetPortAllocationSettingData") };
                AddHostPort(sw, s, e, port);
                return guid;
            }
        }

        /// <summary>Snapshot copies of the instances of <paramref name="className"/> and its subclasses (no counters, no faults).</summary>
        public IReadOnlyList<CimObject> Instances(string className)
        {
            lock (Sync)
            {
                Advance();
                var cls = HyperVSchema.Class(className);
                return Enumerate(cls).Select(o => o.Clone()).ToList();
            }
        }

        /// <summary>A VM's Msvm_ComputerSystem by GUID or ElementName (first match), or null.</summary>
        public CimObject? FindVm(string nameOrId) { lock (Sync) { Advance(); return FindVmObject(nameOrId)?.Clone(); } }

        /// <summary>Marks the guest OS of a VM up or down (shutdown component OK vs No Contact; KVP delivery).</summary>
        public void SetGuestUp(string vmNameOrId, bool up)
        {
            lock (Sync)
            {
                Advance();
                var vm = FindVmObject(vmNameOrId) ?? throw new ArgumentException($"No VM '{vmNameOrId}' on {ComputerName}.");
                var rt = Runtime(vm);
                rt.BootOverride = up;
                if (State(vm) != 3) rt.GuestUp = up;
                RefreshGuestFacingState(vm);
                if (rt.GuestUp) DeliverPendingKvp(vm);
            }
        }

        /// <summary>What the guest agent would see for a VM (snapshot).</summary>
        public SimulatedGuestContext Guest(string vmNameOrId)
        {
            lock (Sync)
            {
                Advance();
                var vm = FindVmObject(vmNameOrId) ?? throw new ArgumentException($"No VM '{vmNameOrId}' on {ComputerName}.");
                return GuestContext(vm);
            }
        }

        /// <summary>Guest views of every VM on the host.</summary>
        public IReadOnlyList<SimulatedGuestContext> Guests()
        {
            lock (Sync)
            {
                Advance();
                return Vms().Select(GuestContext).ToList();
            }
        }

        /// <summary>
        /// Test seeding (checkpoints are otherwise not simulated): adds a checkpoint of a VM as Hyper-V shows one to
        /// enumerations — a copy of its realized VSSD with VirtualSystemType <c>Microsoft:Hyper-V:Snapshot:Realized</c>,
        /// a new InstanceID and the same VirtualSystemIdentifier/Notes/ElementName, plus copies of its devices under the
        /// new InstanceID (pitfall 3). Not linked through Msvm_SettingsDefineState. Returns the checkpoint's InstanceID.
        /// </summary>
        public string AddCheckpointSettings(string vmNameOrId)
        {
            lock (Sync)
            {
                Advance();
                var vm = FindVmObject(vmNameOrId) ?? throw new ArgumentException($"No VM '{vmNameOrId}' on {ComputerName}.");
                string guid = vm.GetString("Name")!;
                var vssd = Enumerate("Msvm_VirtualSystemSettingData").First(v => v.GetString("VirtualSystemIdentifier") == guid &&
                    v.GetString("VirtualSystemType") == Realized);
                string oldId = vssd.GetString("InstanceID")!, newId = "Microsoft:" + NewGuid();
                var copy = vssd.Clone().Set("InstanceID", newId).Set("VirtualSystemType", "Microsoft:Hyper-V:Snapshot:Realized");
                var devices = Enumerate("CIM_ResourceAllocationSettingData").Concat(Enumerate("Msvm_EthernetSwitchPortFeatureSettingData"))
                    .Concat(Enumerate("Msvm_KvpExchangeComponentSettingData"))
                    .Where(d => (d.GetString("InstanceID") ?? "").StartsWith(oldId + "\\", StringComparison.OrdinalIgnoreCase))
                    .GroupBy(d => d.GetString("InstanceID"), StringComparer.OrdinalIgnoreCase).Select(g => g.First()).ToList();
                Put(copy);
                foreach (var d in devices) Put(d.Clone().Set("InstanceID", newId + d.GetString("InstanceID")!.Substring(oldId.Length)));
                return newId;
            }
        }

        /// <summary>Completes every pending job and power transition now.</summary>
        public void CompleteJobs()
        {
            lock (Sync)
            {
                while (true)
                {
                    var next = _jobs.FirstOrDefault(j => !j.Done);
                    if (next == null) break;
                    Finish(next);
                }
            }
        }

        /// <summary>Jobs not finished yet.</summary>
        public int PendingJobs { get { lock (Sync) return _jobs.Count(j => !j.Done); } }

        // =============================================================== store

        internal sealed class SimLink
        {
            public string Assoc = "", RoleA = "", RoleB = "", KeyA = "", KeyB = "";
            public CimReference RefA = null!, RefB = null!;
            /// <summary>Non-reference properties of the association instance (ValueRole, ...), or null.</summary>
            public Dictionary<string, object>? Props;
        }

        internal static string KeyOf(CimReference r) =>
            r.Namespace.ToLowerInvariant() + "|" + string.Join("|", r.Keys.OrderBy(k => k.Key, StringComparer.OrdinalIgnoreCase)
                .Select(k => k.Key.ToLowerInvariant() + "=" + (Convert.ToString(k.Value, CultureInfo.InvariantCulture) ?? "").ToLowerInvariant()));

        internal static string KeyOf(CimObject o) => KeyOf(o.ToReference());

        internal CimObject New(string className)
        {
            var cls = HyperVSchema.Class(className);
            var o = new CimObject(cls.Name, cls.Namespace, ComputerName);
            foreach (var p in cls.Properties) o.Set(p.Name, p.Type, p.IsArray, null, p.IsKey);
            return o;
        }

        internal void Put(CimObject o)
        {
            string key = KeyOf(o);
            _all[key] = o;
            if (!_byClass.TryGetValue(o.ClassName, out var bucket)) _byClass[o.ClassName] = bucket = new Dictionary<string, CimObject>(StringComparer.Ordinal);
            bucket[key] = o;
        }

        internal void Delete(CimObject o)
        {
            string key = KeyOf(o);
            _all.Remove(key);
            if (_byClass.TryGetValue(o.ClassName, out var bucket)) bucket.Remove(key);
            if (_links.TryGetValue(key, out var links))
            {
                foreach (var l in links.ToList())
                {
                    string other = l.KeyA == key ? l.KeyB : l.KeyA;
                    if (_links.TryGetValue(other, out var ol)) ol.Remove(l);
                }
                _links.Remove(key);
            }
        }

        internal void Link(string assoc, string roleA, CimObject a, string roleB, CimObject b) => Link(assoc, roleA, a.ToReference(), roleB, b.ToReference());

        internal void Link(string assoc, string roleA, CimObject a, string roleB, CimObject b, Dictionary<string, object> props) =>
            Link(assoc, roleA, a.ToReference(), roleB, b.ToReference(), props);

        internal void Link(string assoc, string roleA, CimReference a, string roleB, CimReference b, Dictionary<string, object>? props = null)
        {
            var l = new SimLink { Assoc = assoc, RoleA = roleA, RoleB = roleB, RefA = a, RefB = b, KeyA = KeyOf(a), KeyB = KeyOf(b), Props = props };
            foreach (var k in new[] { l.KeyA, l.KeyB })
            {
                if (!_links.TryGetValue(k, out var list)) _links[k] = list = new List<SimLink>();
                list.Add(l);
            }
        }

        internal CimObject? Get(CimReference r) => _all.TryGetValue(KeyOf(r), out var o) && HyperVSchema.Class(o.ClassName).IsA(r.ClassName) ? o : null;

        internal IEnumerable<CimObject> Enumerate(SimClassDef cls)
        {
            foreach (var c in HyperVSchema.SelfAndSubclasses(cls))
                if (_byClass.TryGetValue(c.Name, out var bucket))
                    foreach (var o in bucket.Values) yield return o;
        }

        internal IEnumerable<CimObject> Enumerate(string className) => Enumerate(HyperVSchema.Class(className));

        internal static string NewGuid() => Guid.NewGuid().ToString("D").ToUpperInvariant();

        internal static string NormalizePath(string path) => (path ?? "").Trim().Replace('/', '\\');

        /// <summary>
        /// A UNC path (\\server\share\...). root\cimv2 CIM_DataFile (Win32 provider) covers the host's local volumes only:
        /// such files are not instances (GetInstance null, not enumerated, methods NotFound), as on Windows.
        /// </summary>
        internal static bool IsUncPath(string path) => path.StartsWith("\\\\", StringComparison.Ordinal);

        // =============================================================== seed: host, services, templates

        internal CimObject HostSystem { get; private set; } = null!;
        internal CimObject Vsms { get; private set; } = null!;
        internal CimObject SwitchService { get; private set; } = null!;
        internal CimObject ImageService { get; private set; } = null!;
        internal CimObject VsmsSettings { get; private set; } = null!;
        internal CimObject MigrationService { get; private set; } = null!;
        internal CimObject MigrationSettings { get; private set; } = null!;

        private void Seed()
        {
            var host = New("Msvm_ComputerSystem");
            host.Set("CreationClassName", "Msvm_ComputerSystem");
            host.Set("Name", ComputerName);
            host.Set("ElementName", ComputerName);
            host.Set("Caption", "Hosting Computer System");
            host.Set("Description", "Microsoft Hosting Computer System");
            host.Set("EnabledState", 2);
            host.Set("RequestedState", 12);
            host.Set("HealthState", 5);
            host.Set("OperationalStatus", new ushort[] { 2 });
            Put(host);
            HostSystem = host;

            Vsms = Service("Msvm_VirtualSystemManagementService", "vmms", "Virtual Machine Management Service");
            SwitchService = Service("Msvm_VirtualEthernetSwitchManagementService", "nvspwmi", "Virtual Ethernet Switch Management Service");
            ImageService = Service("Msvm_ImageManagementService", "vhdsvc", "Image Management Service");

            MigrationService = Service("Msvm_VirtualSystemMigrationService", "migrationwmi", "Virtual System Migration Service");
            MigrationService.Set("ActiveVirtualSystemMigrationCount", 0U);
            MigrationService.Set("ActiveStorageMigrationCount", 0U);
            MigrationService.Set("MigrationServiceListenerIPAddressList", new string[0]);
            var migSd = New("Msvm_VirtualSystemMigrationServiceSettingData");
            migSd.Set("InstanceID", @"Microsoft:" + ComputerName + @"\MigrationService");
            migSd.Set("ElementName", "Virtual System Migration Service Settings");
            migSd.Set("EnableVirtualSystemMigration", false);
            migSd.Set("MaximumActiveVirtualSystemMigration", 2U);
            migSd.Set("MaximumActiveStorageMigration", 2U);
            migSd.Set("AuthenticationType", 1U);
            migSd.Set("EnableCompression", true);
            migSd.Set("EnableSmbTransport", false);
            Put(migSd);
            MigrationSettings = migSd;
            Link("Msvm_ElementSettingData", "ManagedElement", MigrationService, "SettingData", migSd);

            var vsmsSd = New("Msvm_VirtualSystemManagementServiceSettingData");
            vsmsSd.Set("InstanceID", "Microsoft:" + ComputerName);
            vsmsSd.Set("ElementName", "Hyper-V Virtual Machine Management Service Settings");
            vsmsSd.Set("DefaultExternalDataRoot", @"C:\ProgramData\Microsoft\Windows\Hyper-V");
            vsmsSd.Set("DefaultVirtualHardDiskPath", @"C:\ProgramData\Microsoft\Windows\Virtual Hard Disks");
            vsmsSd.Set("MinimumMacAddress", "00155D000000");
            vsmsSd.Set("MaximumMacAddress", "00155D00FFFF");
            Put(vsmsSd);
            VsmsSettings = vsmsSd;
            Link("Msvm_ElementSettingData", "ManagedElement", Vsms, "SettingData", vsmsSd);

            // Default ("template") settings, reachable by InstanceID LIKE '%\\Default' (fact sheet §1.5).
            Template("Msvm_ProcessorSettingData", 3, "Microsoft:Hyper-V:Processor", "B637F346-6A0E-4DEC-AF52-BD70CB80A21D", t =>
            {
                t.Set("VirtualQuantity", 1UL); t.Set("Reservation", 0UL); t.Set("Limit", 100000UL); t.Set("Weight", 100U);
                t.Set("AllocationUnits", "percent / 1000"); t.Set("VirtualQuantityUnits", "count");
            });
            Template("Msvm_MemorySettingData", 4, "Microsoft:Hyper-V:Memory", "4764334D-E001-4176-82EE-5594EC9B530E", t =>
            {
                t.Set("VirtualQuantity", 512UL); t.Set("Reservation", 512UL); t.Set("Limit", 1048576UL); t.Set("DynamicMemoryEnabled", false);
                t.Set("TargetMemoryBuffer", 20U); t.Set("AllocationUnits", "byte * 2^20"); t.Set("VirtualQuantityUnits", "byte * 2^20");
            });
            Template("Msvm_ResourceAllocationSettingData", 5, IdeController, "83F8638B-8DCA-4152-9EDA-2CA8B33039B4", null);
            Template("Msvm_ResourceAllocationSettingData", 6, ScsiController, "D422512D-2BF2-4752-809D-7B82B5FCB1B4", null);
            Template("Msvm_ResourceAllocationSettingData", 16, DvdDrive, "D7C6A6A3-6C4A-4FA0-9C7E-6B8A1B2D6A11", null);
            Template("Msvm_ResourceAllocationSettingData", 17, DiskDrive, "30E59C1E-4F63-4B2A-8D26-9E4B3A0B1C22", null);
            Template("Msvm_StorageAllocationSettingData", 31, VhdMedia, "5D4B4D56-A2F3-4C4A-B8C1-3E1F2D0A9B33", t => t.Set("HostResource", new string[0]));
            Template("Msvm_StorageAllocationSettingData", 31, IsoMedia, "6E5C5E67-B3A4-4D5B-C9D2-4F2A3E1B0C44", t => t.Set("HostResource", new string[0]));
            Template("Msvm_SyntheticEthernetPortSettingData", 10, SyntheticNic, "6919C5F6-2EA8-4B5E-A1B7-2F5C3D4E5F55", t =>
            {
                t.Set("ElementName", "Network Adapter"); t.Set("StaticMacAddress", false); t.Set("Address", "000000000000");
                t.Set("ClusterMonitored", true); t.Set("VirtualSystemIdentifiers", new string[0]);
            });
            Template("Msvm_EmulatedEthernetPortSettingData", 10, LegacyNic, "7A2AD6A7-3FB9-4C6F-B2C8-3A6D4E5F6A66", t =>
            {
                t.Set("ElementName", "Legacy Network Adapter"); t.Set("StaticMacAddress", false);
            });
            Template("Msvm_EthernetPortAllocationSettingData", 33, EthernetConnection, "72027A54-BF84-4D3E-BAC5-A5A1F1C0B877", t =>
            {
                t.Set("EnabledState", 2); t.Set("HostResource", new string[0]);
            });
            FeatureTemplate("Msvm_EthernetSwitchPortVlanSettingData", VlanFeatureId, "Ethernet Switch Port VLAN Settings", t =>
            {
                t.Set("OperationMode", 0U); t.Set("AccessVlanId", 0); t.Set("NativeVlanId", 0);
                t.Set("TrunkVlanIdArray", new ushort[0]); t.Set("PruneVlanIdArray", new ushort[0]); t.Set("PvlanMode", 0U);
            });
            FeatureTemplate("Msvm_EthernetSwitchPortBandwidthSettingData", BandwidthFeatureId, "Ethernet Switch Port Bandwidth Settings", t =>
            {
                t.Set("Limit", 0UL); t.Set("Reservation", 0UL); t.Set("Weight", 0UL); t.Set("BurstLimit", 0UL); t.Set("BurstSize", 0UL);
            });
            FeatureTemplate("Msvm_EthernetSwitchPortAclSettingData", AclFeatureId, "Ethernet Switch Port ACL Settings", t =>
            {
                // The MOF defaults of learn.microsoft.com msvm-ethernetswitchportaclsettingdata: every enum Unknown (0).
                t.Set("Name", ""); t.Set("Direction", (byte)0); t.Set("Applicability", (byte)0); t.Set("AclType", (byte)0); t.Set("Action", (byte)0);
                t.Set("LocalAddress", ""); t.Set("LocalAddressPrefixLength", (byte)0); t.Set("RemoteAddress", ""); t.Set("RemoteAddressPrefixLength", (byte)0);
            });
            FeatureTemplate("Msvm_EthernetSwitchPortSecuritySettingData", SecurityFeatureId, "Ethernet Switch Port Security Settings", t =>
            {
                t.Set("AllowMacSpoofing", false); t.Set("EnableDhcpGuard", false); t.Set("EnableRouterGuard", false);
                t.Set("MonitorMode", 0); t.Set("AllowTeaming", false); t.Set("VirtualSubnetId", 0U);
            });
        }

        private CimObject Service(string className, string name, string elementName)
        {
            var s = New(className);
            s.Set("CreationClassName", className);
            s.Set("Name", name);
            s.Set("SystemCreationClassName", "Msvm_ComputerSystem");
            s.Set("SystemName", ComputerName);
            s.Set("ElementName", elementName);
            s.Set("Caption", elementName);
            s.Set("EnabledState", 2);
            s.Set("HealthState", 5);
            s.Set("OperationalStatus", new ushort[] { 2 });
            s.Set("Started", true);
            Put(s);
            return s;
        }

        private void Template(string className, ushort type, string subType, string guid, Action<CimObject>? init)
        {
            foreach (var role in new[] { "Default", "Minimum", "Maximum", "Increment" })
            {
                var t = New(className);
                t.Set("InstanceID", $@"Microsoft:Definition\{guid}\{role}");
                t.Set("ResourceType", type);
                t.Set("ResourceSubType", subType);
                t.Set("ElementName", subType.Substring(subType.LastIndexOf(':') + 1));
                t.Set("PoolID", "");
                t.Set("Caption", subType.Substring(subType.LastIndexOf(':') + 1));
                init?.Invoke(t);
                Put(t);
            }
        }

        /// <summary>
        /// The default instance of a port feature, as the host serves it: Msvm_EthernetSwitchFeatureCapabilities (FeatureId)
        /// → Msvm_FeatureSettingsDefineCapabilities (ValueRole 0 Default, ValueRange 0 Point) → the setting data, whose
        /// ElementName/Caption/Description a client building the feature from nothing would not set.
        /// </summary>
        private void FeatureTemplate(string className, string featureId, string displayName, Action<CimObject> init)
        {
            var t = New(className);
            t.Set("InstanceID", $@"Microsoft:Definition\{featureId}\Default");
            t.Set("ElementName", displayName);
            t.Set("Caption", displayName);
            t.Set("Description", "Represents the " + displayName.ToLowerInvariant() + " of a port (default).");
            init(t);
            Put(t);
            var caps = New("Msvm_EthernetSwitchFeatureCapabilities");
            caps.Set("InstanceID", "Microsoft:" + featureId);
            caps.Set("FeatureId", featureId);
            caps.Set("ElementName", displayName);
            caps.Set("Applicability", 1);
            caps.Set("Version", "1.0");
            Put(caps);
            Link("Msvm_FeatureSettingsDefineCapabilities", "GroupComponent", caps, "PartComponent", t,
                new Dictionary<string, object> { ["ValueRole"] = (ushort)0, ["ValueRange"] = (ushort)0, ["PropertyPolicy"] = (ushort)0 });
        }

        internal const string IdeController = "Microsoft:Hyper-V:Emulated IDE Controller";
        internal const string ScsiController = "Microsoft:Hyper-V:Synthetic SCSI Controller";
        internal const string DvdDrive = "Microsoft:Hyper-V:Synthetic DVD Drive";
        internal const string DiskDrive = "Microsoft:Hyper-V:Synthetic Disk Drive";
        internal const string VhdMedia = "Microsoft:Hyper-V:Virtual Hard Disk";
        internal const string IsoMedia = "Microsoft:Hyper-V:Virtual CD/DVD Disk";
        internal const string SyntheticNic = "Microsoft:Hyper-V:Synthetic Ethernet Port";
        internal const string LegacyNic = "Microsoft:Hyper-V:Emulated Ethernet Port";
        internal const string EthernetConnection = "Microsoft:Hyper-V:Ethernet Connection";
        internal const string VlanFeatureId = "952C5004-4465-451C-8CB8-FA9AB382B773";
        internal const string BandwidthFeatureId = "24AD3CE1-69BD-4978-B2AC-DAAD389D699C";
        internal const string SecurityFeatureId = "776E0BA7-94A1-41C8-8F28-951F524251B5";
        /// <summary>The UUID qualifier of Msvm_EthernetSwitchPortAclSettingData (learn.microsoft.com).</summary>
        internal const string AclFeatureId = "998BEF4A-5D55-492A-9C43-8B2F5EAE9F2B";
        internal const string Realized = "Microsoft:Hyper-V:System:Realized";

        // =============================================================== files

        internal sealed class SimFile
        {
            public string Path = "";
            public ushort Format;   // 0 = not a virtual disk, 2 VHD, 3 VHDX
            public ushort Type = 3; // 2 fixed, 3 dynamic, 4 differencing
            public string? ParentPath;
            public ulong Size;
            public string DiskId = NewGuid();

            public static SimFile Guess(string path, ulong size)
            {
                string ext = System.IO.Path.GetExtension(path.Replace('\\', '/')).ToLowerInvariant();
                return new SimFile { Path = path, Size = size, Format = ext == ".vhdx" ? (ushort)3 : ext == ".vhd" ? (ushort)2 : (ushort)0 };
            }
        }

        // =============================================================== VM runtime state (not in WMI)

        internal sealed class VmRuntime
        {
            public bool GuestUp;
            public bool? BootOverride;
            public bool InTransition;
            public long StartedAt;
            public readonly List<string> PendingKvp = new List<string>();
            public readonly Dictionary<string, string> GuestItems = new Dictionary<string, string>(StringComparer.Ordinal);
        }

        internal VmRuntime Runtime(CimObject vm)
        {
            string id = vm.GetString("Name")!;
            if (!_vms.TryGetValue(id, out var rt)) _vms[id] = rt = new VmRuntime();
            return rt;
        }

        internal static ushort State(CimObject vm) => vm.GetUInt16("EnabledState") ?? 0;

        internal bool IsVm(CimObject o) => o.ClassName == "Msvm_ComputerSystem" && !ReferenceEquals(o, HostSystem) &&
            !string.Equals(o.GetString("Name"), ComputerName, StringComparison.OrdinalIgnoreCase);

        internal IEnumerable<CimObject> Vms() => _byClass.TryGetValue("Msvm_ComputerSystem", out var b) ? b.Values.Where(IsVm).ToList() : Enumerable.Empty<CimObject>();

        internal CimObject? FindVmObject(string nameOrId) =>
            Vms().FirstOrDefault(v => string.Equals(v.GetString("Name"), nameOrId, StringComparison.OrdinalIgnoreCase)) ??
            Vms().FirstOrDefault(v => string.Equals(v.GetString("ElementName"), nameOrId, StringComparison.Ordinal));

        // =============================================================== jobs

        internal sealed class SimJob
        {
            public CimObject? Instance;          // null: hidden timer (shutdown)
            public long Created, Due;
            public readonly List<Action> AtEnd = new List<Action>();
            /// <summary>Run when the job ends, whatever the outcome (after AtEnd).</summary>
            public readonly List<Action> Always = new List<Action>();
            public readonly List<CimReference> Affected = new List<CimReference>();
            public bool Done;
            public long Ended;
            public ushort? FailCode;
            /// <summary>A failed job ends in JobState 7 (Completed) with its ErrorCode instead of 10 (Exception).</summary>
            public bool FailAsCompleted;
            /// <summary>Msvm_StorageJob.JobCompletionStatusCode (an HRESULT) of a failed job, when the class has it.</summary>
            public uint? FailStatusCode;
            /// <summary>A successful job ends in JobState 7 with this non-zero ErrorCode and OperationalStatus {OK, Completed}.</summary>
            public ushort? WarnCode;
            public string? FailDescription, FailMessage;
            public bool AfterPartialWork;
            public string Method = "";
            public readonly List<string> Errors = new List<string>();
        }

        private static long Ticks(TimeSpan t) => (long)(t.TotalSeconds * Stopwatch.Frequency);

        internal SimJob StartJob(string method, string jobClass, ushort jobType, bool hidden)
        {
            var job = new SimJob { Created = Stopwatch.GetTimestamp(), Method = method };
            job.Due = job.Created + Ticks(JobDuration);
            if (!hidden)
            {
                var j = New(jobClass);
                j.Set("InstanceID", NewGuid());
                j.Set("Caption", method);
                j.Set("Description", method);
                j.Set("ElementName", method);
                j.Set("Name", method);
                j.Set("JobState", 3);
                j.Set("JobStatus", "Job is starting");
                j.Set("PercentComplete", 0);
                j.Set("ErrorCode", 0);
                j.Set("JobType", jobType);
                j.Set("Cancellable", false);
                j.Set("DeleteOnCompletion", false);
                j.Set("OperationalStatus", new ushort[] { 2 });
                j.Set("HealthState", 5);
                j.Set("TimeSubmitted", DateTime.UtcNow.ToString("yyyyMMddHHmmss.ffffff+000", CultureInfo.InvariantCulture));
                Put(j);
                job.Instance = j;
            }
            _jobs.Add(job);
            return job;
        }

        /// <summary>Completes due jobs; called at the start of every operation (under the lock).</summary>
        internal void Advance()
        {
            long now = Stopwatch.GetTimestamp();
            for (int i = 0; i < _jobs.Count; i++)
            {
                var job = _jobs[i];
                if (job.Done) continue;
                if (now >= job.Due) Finish(job);
                else if (job.Instance != null)
                {
                    long total = Math.Max(1, job.Due - job.Created);
                    long elapsed = now - job.Created;
                    job.Instance.Set("JobState", JobInterimState ?? (elapsed * 4 < total ? (ushort)3 : (ushort)4));
                    job.Instance.Set("JobStatus", "Job is running");
                    job.Instance.Set("PercentComplete", (ushort)Math.Min(99, elapsed * 100 / total));
                }
            }
            if (RemoveFinishedJobsAfter is TimeSpan keep)
            {
                long limit = now - Ticks(keep);
                for (int i = _jobs.Count - 1; i >= 0; i--)
                {
                    var job = _jobs[i];
                    if (job.Done && job.Ended <= limit)
                    {
                        if (job.Instance != null) Delete(job.Instance);
                        _jobs.RemoveAt(i);
                    }
                }
            }
        }

        internal void Finish(SimJob job)
        {
            if (job.Done) return;
            job.Done = true;
            job.Ended = Stopwatch.GetTimestamp();
            string? error = null;
            if (job.FailCode != null)
            {
                if (job.AfterPartialWork)
                    foreach (var a in job.AtEnd.Take(Math.Max(1, job.AtEnd.Count / 2))) TryRun(a);
                error = job.FailMessage;
            }
            else
            {
                foreach (var a in job.AtEnd)
                {
                    try { a(); }
                    catch (SimFailure f)
                    {
                        job.FailCode = 32768;
                        job.FailDescription = f.Message;
                        error = f.Message;
                        job.Errors.AddRange(f.Reasons);
                        break;
                    }
                }
            }
            foreach (var a in job.Always) a();
            if (job.Instance != null)
            {
                var j = job.Instance;
                // OperationalStatus: {OK, Completed} or {Error, Completed}, as CIM_ManagedSystemElement describes a
                // finished operation ("Completed ... combined with either OK, Error, or Degraded").
                if (job.FailCode != null)
                {
                    j.Set("JobState", job.FailAsCompleted ? (ushort)7 : (ushort)10);
                    j.Set("JobStatus", "Job failed");
                    j.Set("ErrorCode", job.FailCode.Value);
                    j.Set("ErrorDescription", job.FailDescription);
                    if (HyperVSchema.Class(j.ClassName).Property("ErrorSummaryDescription") != null) j.Set("ErrorSummaryDescription", job.FailDescription);
                    if (job.FailStatusCode is uint hr && HyperVSchema.Class(j.ClassName).Property("JobCompletionStatusCode") != null) j.Set("JobCompletionStatusCode", hr);
                    j.Set("OperationalStatus", new ushort[] { 6, 17 });
                    j.Set("HealthState", 20);
                    if (error != null && job.Errors.Count == 0) job.Errors.Add(error);
                }
                else
                {
                    j.Set("JobState", 7);
                    j.Set("JobStatus", "Job completed successfully");
                    j.Set("PercentComplete", 100);
                    j.Set("OperationalStatus", new ushort[] { 2, 17 });
                    if (job.WarnCode is ushort w) j.Set("ErrorCode", w);
                }
                foreach (var r in job.Affected)
                    Link("Msvm_AffectedJobElement", "AffectingElement", j.ToReference(), "AffectedElement", r);
            }

            static void TryRun(Action a) { try { a(); } catch (SimFailure) { } }
        }

        internal CimObject ErrorInstance(string message, ushort code, string source)
        {
            var e = New("Msvm_Error");
            e.Set("Message", message);
            e.Set("MessageID", "0x" + code.ToString("X", CultureInfo.InvariantCulture));
            e.Set("ErrorSource", source);
            e.Set("ErrorType", 1);
            e.Set("PerceivedSeverity", 2);
            e.Set("CIMStatusCode", 1U);
            return e;
        }
    }

    /// <summary>A method failure raised inside a handler: becomes the method's return value (or a failed job at completion).</summary>
    internal sealed class SimFailure : Exception
    {
        public enum Kinds { InvalidParameter, InvalidState, Failed, NotSupported, Code }
        public SimFailure(Kinds kind, string message, uint code = 0) : base(message) { Kind = kind; ExplicitCode = code; }
        public Kinds Kind { get; }
        public uint ExplicitCode { get; }
        /// <summary>Several Msvm_Error messages for a failed job (one per reason); empty = the message alone.</summary>
        public List<string> Reasons { get; } = new List<string>();
        public uint CodeFor(SimMethodDef m) => Kind switch
        {
            Kinds.InvalidParameter => m.InvalidParameter,
            Kinds.InvalidState => m.InvalidState,
            Kinds.Failed => m.Failed,
            Kinds.NotSupported => m.NotSupported,
            _ => ExplicitCode,
        };
        public static SimFailure Invalid(string message) => new SimFailure(Kinds.InvalidParameter, message);
        public static SimFailure BadState(string message) => new SimFailure(Kinds.InvalidState, message);
        public static SimFailure Fail(string message) => new SimFailure(Kinds.Failed, message);
        public static SimFailure With(uint code, string message) => new SimFailure(Kinds.Code, message, code);
    }
}
