using System;
using System.Collections.Generic;
using System.Linq;
using VirtualNetworks.HyperV.Cim;

namespace VirtualNetworks.HyperV.Simulator
{
    /// <summary>One declared property of a simulated class.</summary>
    public sealed class SimPropertyDef
    {
        internal SimPropertyDef(string name, CimDataType type, bool isArray, bool isKey)
        {
            Name = name; Type = type; IsArray = isArray; IsKey = isKey;
        }
        public string Name { get; }
        public CimDataType Type { get; }
        public bool IsArray { get; }
        public bool IsKey { get; }
        public override string ToString() => CimTypes.XmlName(Type) + (IsArray ? "[] " : " ") + Name + (IsKey ? " (key)" : "");
    }

    /// <summary>One declared parameter of a simulated method.</summary>
    public sealed class SimParameterDef
    {
        internal SimParameterDef(string name, CimDataType type, bool isArray, bool isIn, bool isOut, bool required, string? embeddedClass)
        {
            Name = name; Type = type; IsArray = isArray; IsIn = isIn; IsOut = isOut; Required = required; EmbeddedClass = embeddedClass;
        }
        public string Name { get; }
        public CimDataType Type { get; }
        public bool IsArray { get; }
        public bool IsIn { get; }
        public bool IsOut { get; }
        /// <summary>The simulator refuses a call without it (CimGatewayException InvalidParameter).</summary>
        public bool Required { get; }
        /// <summary>For EmbeddedInstance strings: the class (or base class) the text must carry.</summary>
        public string? EmbeddedClass { get; }
    }

    /// <summary>Which return-code family a method uses (fact sheet §7).</summary>
    public enum SimReturnFamily
    {
        /// <summary>VSMS / switch service: 0, 1 Not supported, 2 Failed, 3 Timeout, 4 Invalid parameter, 5 Invalid state, 6 Incompatible parameters, 4096.</summary>
        Service,
        /// <summary>Hyper-V specific: 0, 4096, 32768 Failed ... 32779 File not found.</summary>
        HyperV,
        /// <summary>CIM_DataFile (Win32 file methods): 0 success, 2 access denied, 8 unspecified, 9 invalid object, 15 sharing violation, 21 invalid parameter.</summary>
        File,
    }

    /// <summary>One declared method of a simulated class.</summary>
    public sealed class SimMethodDef
    {
        internal SimMethodDef(string name, SimReturnFamily family, IReadOnlyList<SimParameterDef> parameters, IReadOnlyDictionary<uint, string> returnCodes,
            bool simulated = true)
        {
            Name = name; Family = family; Parameters = parameters; ReturnCodes = returnCodes; Simulated = simulated;
        }
        /// <summary>
        /// False for a method only the real schema declares (no hand-written <c>Method</c> refinement, so no handler):
        /// invoking it throws <see cref="NotSupportedException"/> instead of reaching a handler written for another method.
        /// </summary>
        public bool Simulated { get; }
        public string Name { get; }
        public SimReturnFamily Family { get; }
        public IReadOnlyList<SimParameterDef> Parameters { get; }
        /// <summary>Documented return values and their meaning.</summary>
        public IReadOnlyDictionary<uint, string> ReturnCodes { get; }
        public SimParameterDef? Parameter(string name) => Parameters.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));
        public uint InvalidParameter => Family switch { SimReturnFamily.Service => 4u, SimReturnFamily.HyperV => 32773u, _ => 21u };
        public uint InvalidState => Family switch { SimReturnFamily.Service => 5u, SimReturnFamily.HyperV => 32775u, _ => 8u };
        public uint Failed => Family switch { SimReturnFamily.Service => 2u, SimReturnFamily.HyperV => 32768u, _ => 8u };
        public uint NotSupported => Family switch { SimReturnFamily.Service => 1u, SimReturnFamily.HyperV => 32770u, _ => 8u };
    }

    /// <summary>One simulated class: name, superclass, namespace, properties (inherited ones included), methods, documentation.</summary>
    public sealed class SimClassDef
    {
        private readonly Dictionary<string, SimPropertyDef> _props = new Dictionary<string, SimPropertyDef>(StringComparer.OrdinalIgnoreCase);
        private readonly List<SimPropertyDef> _order = new List<SimPropertyDef>();
        private readonly Dictionary<string, SimMethodDef> _methods = new Dictionary<string, SimMethodDef>(StringComparer.OrdinalIgnoreCase);

        internal SimClassDef(string name, SimClassDef? superclass, string @namespace, string documentationUrl, bool isAbstract, bool embeddedOnly, bool isAssociation)
        {
            Name = name; Superclass = superclass; Namespace = @namespace; DocumentationUrl = documentationUrl;
            IsAbstract = isAbstract; EmbeddedOnly = embeddedOnly; IsAssociation = isAssociation || (superclass?.IsAssociation ?? false);
            if (superclass != null)
            {
                foreach (var p in superclass._order) AddProperty(p);
                foreach (var m in superclass._methods.Values) _methods[m.Name] = m;
            }
        }

        public string Name { get; }
        public SimClassDef? Superclass { get; }
        public string Namespace { get; }
        /// <summary>The Microsoft documentation page of the class.</summary>
        public string DocumentationUrl { get; }
        public bool IsAbstract { get; }
        /// <summary>No provider: exists only as embedded instances (Msvm_VirtualHardDiskSettingData, Msvm_KvpExchangeDataItem, Msvm_Error).</summary>
        public bool EmbeddedOnly { get; }
        public bool IsAssociation { get; }
        public IReadOnlyList<SimPropertyDef> Properties => _order;
        public IEnumerable<SimPropertyDef> Keys => _order.Where(p => p.IsKey);
        public IEnumerable<SimMethodDef> Methods => _methods.Values;

        public SimPropertyDef? Property(string name) => _props.TryGetValue(name, out var p) ? p : null;
        public SimMethodDef? Method(string name) => _methods.TryGetValue(name, out var m) ? m : null;

        /// <summary>True when this class is <paramref name="className"/> or derives from it.</summary>
        public bool IsA(string className)
        {
            for (var c = this; c != null; c = c.Superclass)
                if (string.Equals(c.Name, className, StringComparison.OrdinalIgnoreCase)) return true;
            return false;
        }

        internal void AddProperty(SimPropertyDef p)
        {
            if (_props.ContainsKey(p.Name))
            {
                int i = _order.FindIndex(x => string.Equals(x.Name, p.Name, StringComparison.OrdinalIgnoreCase));
                _order[i] = p;
            }
            else _order.Add(p);
            _props[p.Name] = p;
        }

        internal void AddMethod(SimMethodDef m) => _methods[m.Name] = m;

        public override string ToString() => Name + (Superclass != null ? " : " + Superclass.Name : "");
    }

    /// <summary>
    /// The simulated schema: every class of <c>root\virtualization\v2</c> (and <c>CIM_DataFile</c> of <c>root\cimv2</c>)
    /// with its superclass, typed properties and methods (parameters, directions, types) taken from the real schema of
    /// one Windows Server version (<see cref="WmiSchemaData"/>: tools/WmiSchemaGen's output from microsoft/wmi), refined
    /// by hand-written knowledge the generated code lacks, each piece checked against the real schema when the type
    /// initializes (a hand-written class, property, method or parameter the real schema lacks, a direction or a type
    /// that contradicts it, throws):
    /// <list type="bullet">
    /// <item>keys, CIM datetime vs string, the integer width of ValueMap enumerations (default uint16), REF vs embedded
    /// instance: the MOF on learn.microsoft.com (hyperv_v2 pages, <see cref="DocBase"/>) and DMTF DSP1057/CIM schema;</item>
    /// <item>return-code families and their meanings, required parameters, the class an EmbeddedInstance string must
    /// carry: the method pages and the fact sheet (§7);</item>
    /// <item>abstract, embedded-only and association classes, documentation URLs.</item>
    /// </list>
    /// The version: the AppContext switch <see cref="VersionSwitch"/> (a test project's runtimeconfig), else the
    /// environment variable <see cref="VersionVariable"/>, else <see cref="DefaultVersion"/>. One version per process.
    /// </summary>
    public static class HyperVSchema
    {
        public const string DocBase = "https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/";
        public const string VersionSwitch = "VirtualNetworks.HyperV.Simulator.SchemaVersion";
        public const string VersionVariable = "VIRTUALNETWORKS_HYPERV_SCHEMA";
        public const string DefaultVersion = "server2019";
        private static readonly Dictionary<string, SimClassDef> ByName = new Dictionary<string, SimClassDef>(StringComparer.OrdinalIgnoreCase);

        /// <summary>The Windows Server version whose schema this process simulates (server2019 or server23h2).</summary>
        public static string Version { get; }

        /// <summary>The real schema of <see cref="Version"/> the simulated classes were built from.</summary>
        public static WmiSchemaData Data { get; }

        public static IEnumerable<SimClassDef> Classes => ByName.Values;

        public static SimClassDef? Find(string name) => ByName.TryGetValue(name ?? "", out var c) ? c : null;

        public static SimClassDef Class(string name) => Find(name) ?? throw new ArgumentException($"The simulator has no class '{name}' (schema {Version}).", nameof(name));

        /// <summary>The classes that are <paramref name="baseClass"/> or derive from it.</summary>
        public static IEnumerable<SimClassDef> SelfAndSubclasses(SimClassDef baseClass) =>
            Subclasses.GetOrAdd(baseClass.Name, _ => ByName.Values.Where(c => c.IsA(baseClass.Name)).ToArray());

        private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, SimClassDef[]> Subclasses =
            new System.Collections.Concurrent.ConcurrentDictionary<string, SimClassDef[]>(StringComparer.OrdinalIgnoreCase);

        private static string ChooseVersion()
        {
            var v = AppContext.GetData(VersionSwitch) as string;
            if (string.IsNullOrWhiteSpace(v)) v = Environment.GetEnvironmentVariable(VersionVariable);
            if (string.IsNullOrWhiteSpace(v)) v = DefaultVersion;
            return v!.Trim().ToLowerInvariant();
        }

        internal static readonly Dictionary<uint, string> ServiceCodes = new Dictionary<uint, string>
        {
            [0] = "Completed with No Error", [1] = "Not Supported", [2] = "Failed", [3] = "Timeout", [4] = "Invalid Parameter",
            [5] = "Invalid State", [6] = "Incompatible Parameters", [4096] = "Method Parameters Checked - Job Started",
        };

        internal static readonly Dictionary<uint, string> HyperVCodes = new Dictionary<uint, string>
        {
            [0] = "Completed with No Error", [4096] = "Method Parameters Checked - Job Started", [32768] = "Failed",
            [32769] = "Access Denied", [32770] = "Not Supported", [32771] = "Status is unknown", [32772] = "Timeout",
            [32773] = "Invalid parameter", [32774] = "System is in use", [32775] = "Invalid state for this operation",
            [32776] = "Incorrect data type", [32777] = "System is not available", [32778] = "Out of memory", [32779] = "File not found",
        };

        internal static readonly Dictionary<uint, string> FileCodes = new Dictionary<uint, string>
        {
            [0] = "Success", [2] = "Access denied", [8] = "Unspecified failure", [9] = "Invalid object", [10] = "Object already exists",
            [11] = "File system not NTFS", [12] = "Platform not Windows", [13] = "Drive not the same", [14] = "Directory not empty",
            [15] = "Sharing violation", [16] = "Invalid start file", [17] = "Privilege not held", [21] = "Invalid parameter",
        };

        static HyperVSchema()
        {
            Version = ChooseVersion();
            Data = WmiSchemaData.Load(Version);
            var classSpecs = new List<ClassSpec>();
            var methodSpecs = new List<MethodSpec>();
            const string V2 = CimReference.VirtualizationNamespace;
            const string Cimv2 = CimReference.Cimv2Namespace;

            // ---------------------------------------------------------------- settings
            Def("CIM_SettingData", null, "string InstanceID key; string Caption; string Description; string ElementName", isAbstract: true);
            Def("CIM_VirtualSystemSettingData", "CIM_SettingData",
                "string VirtualSystemIdentifier; string VirtualSystemType; string[] Notes; datetime CreationTime; string ConfigurationID; " +
                "string ConfigurationDataRoot; string ConfigurationFile; string SnapshotDataRoot; string SuspendDataRoot; string SwapFileDataRoot; " +
                "string LogDataRoot; uint16 AutomaticStartupAction; datetime AutomaticStartupActionDelay; uint16 AutomaticStartupActionSequenceNumber; " +
                "uint16 AutomaticShutdownAction; uint16 AutomaticRecoveryAction; string RecoveryFile", isAbstract: true);
            Def("Msvm_VirtualSystemSettingData", "CIM_VirtualSystemSettingData",
                "string VirtualSystemSubType; uint16[] BootOrder; string[] BootSourceOrder; string Parent; boolean IsSaved; " +
                "boolean AllowFullSCSICommandSet; uint32 DebugChannelId; uint16 DebugPortEnabled; uint32 DebugPort; string Version; " +
                "boolean IncrementalBackupEnabled; boolean VirtualNumaEnabled; boolean AllowReducedFcRedundancy; uint16 NetworkBootPreferredProtocol; " +
                "boolean PauseAfterBootFailure; boolean SecureBootEnabled; string SecureBootTemplateId; uint64 LowMmioGapSize; uint64 HighMmioGapSize; " +
                "boolean AutomaticSnapshotsEnabled; uint16 UserSnapshotType; uint16 EnhancedSessionTransportType; string BIOSGUID; " +
                "string BIOSSerialNumber; boolean BIOSNumLock; boolean TurnOffOnGuestRestart; boolean GuestControlledCacheTypes");
            Def("Msvm_VirtualEthernetSwitchSettingData", "CIM_VirtualSystemSettingData",
                "boolean IOVPreferred; uint32 BandwidthReservationMode; boolean TeamingEnabled; boolean PacketDirectEnabled; " +
                "string[] ExtensionOrder; uint32 MaxNumMACAddress; string[] AssociatedResourcePool");
            Def("Msvm_VirtualSystemManagementServiceSettingData", "CIM_SettingData",
                "string DefaultExternalDataRoot; string DefaultVirtualHardDiskPath; string MinimumMacAddress; string MaximumMacAddress; " +
                "string BiosLockString; string PrimaryOwnerName; string PrimaryOwnerContact; boolean NumaSpanningEnabled; " +
                "boolean EnhancedSessionModeEnabled; string CurrentWWNNAddress; string MinimumWWPNAddress; string MaximumWWPNAddress",
                slug: "msvm-virtualsystemmanagementservicesettingdata");
            Def("CIM_ResourceAllocationSettingData", "CIM_SettingData",
                "uint16 ResourceType; string OtherResourceType; string ResourceSubType; string PoolID; uint16 ConsumerVisibility; " +
                "string[] HostResource; string AllocationUnits; uint64 VirtualQuantity; uint64 Reservation; uint64 Limit; uint32 Weight; " +
                "boolean AutomaticAllocation; boolean AutomaticDeallocation; string Parent; string[] Connection; string Address; " +
                "uint16 MappingBehavior; string AddressOnParent; string VirtualQuantityUnits");
            Def("Msvm_ResourceAllocationSettingData", "CIM_ResourceAllocationSettingData", "string[] VirtualSystemIdentifiers");
            Def("Msvm_ProcessorSettingData", "CIM_ResourceAllocationSettingData",
                "boolean LimitCPUID; boolean LimitProcessorFeatures; uint64 MaxProcessorsPerNumaNode; uint64 MaxNumaNodesPerSocket; " +
                "uint64 HwThreadsPerCore; boolean ExposeVirtualizationExtensions; boolean EnableHostResourceProtection; string CpuGroupId");
            Def("Msvm_MemorySettingData", "CIM_ResourceAllocationSettingData",
                "boolean DynamicMemoryEnabled; uint32 TargetMemoryBuffer; boolean IsVirtualized; boolean SwapFilesInUse; " +
                "uint64 MaxMemoryBlocksPerNumaNode; boolean HugePagesEnabled; boolean SgxEnabled; uint64 SgxSize");
            Def("Msvm_StorageAllocationSettingData", "CIM_ResourceAllocationSettingData",
                "uint64 VirtualResourceBlockSize; uint16 Access; uint64 HostResourceBlockSize; uint64 HostExtentStartingAddress; " +
                "string HostExtentName; uint16 HostExtentNameFormat; uint16 HostExtentNameNamespace; uint64 IOPSLimit; uint64 IOPSReservation; " +
                "string IOPSAllocationUnits; boolean PersistentReservationsSupported; uint16 CachingMode; string SnapshotId; " +
                "boolean IgnoreFlushes; uint16 WriteHardeningMethod; string StorageQoSPolicyID");
            Def("Msvm_SyntheticEthernetPortSettingData", "CIM_ResourceAllocationSettingData",
                "string[] VirtualSystemIdentifiers; boolean StaticMacAddress; boolean ClusterMonitored; boolean DeviceNamingEnabled; " +
                "boolean AllowPacketDirect; boolean InterruptModeration; boolean NumaAwarePlacement; uint16 DesiredVLANEndpointMode; string OtherEndpointMode");
            Def("Msvm_EmulatedEthernetPortSettingData", "CIM_ResourceAllocationSettingData",
                "boolean StaticMacAddress; boolean ClusterMonitored; uint16 DesiredVLANEndpointMode; string OtherEndpointMode");
            Def("Msvm_EthernetPortAllocationSettingData", "CIM_ResourceAllocationSettingData",
                "uint16 EnabledState; string LastKnownSwitchName; string[] RequiredFeatures; string[] RequiredFeatureHints; " +
                "string TestReplicaPoolID; string TestReplicaSwitchName; uint16 DesiredVLANEndpointMode; string OtherEndpointMode; string CompartmentGuid");
            Def("Msvm_KvpExchangeComponentSettingData", "CIM_ResourceAllocationSettingData",
                "uint16 EnabledState; string[] HostExchangeItems; string[] HostOnlyItems; boolean DisableHostKVPItems");
            Def("Msvm_FeatureSettingData", "CIM_SettingData", "", isAbstract: true);
            Def("Msvm_EthernetSwitchPortFeatureSettingData", "Msvm_FeatureSettingData", "");
            Def("Msvm_EthernetSwitchPortVlanSettingData", "Msvm_EthernetSwitchPortFeatureSettingData",
                "uint32 OperationMode; uint16 AccessVlanId; uint16 NativeVlanId; uint16[] TrunkVlanIdArray; uint16[] PruneVlanIdArray; " +
                "uint32 PvlanMode; uint16 PrimaryVlanId; uint16 SecondaryVlanId; uint16[] SecondaryVlanIdArray");
            Def("Msvm_EthernetSwitchPortBandwidthSettingData", "Msvm_EthernetSwitchPortFeatureSettingData",
                "uint64 Limit; uint64 Reservation; uint64 Weight; uint64 BurstLimit; uint64 BurstSize");
            Def("Msvm_EthernetSwitchPortSecuritySettingData", "Msvm_EthernetSwitchPortFeatureSettingData",
                "boolean AllowMacSpoofing; boolean EnableDhcpGuard; boolean EnableRouterGuard; uint8 MonitorMode; uint8 MonitorSession; " +
                "uint32 VirtualSubnetId; boolean AllowTeaming; uint32 DynamicIPAddressLimit; uint32 StormLimit; boolean AllowIeeePriorityTag; " +
                "boolean EnableFixSpeed10G");
            // embedded-only setting classes
            Def("Msvm_VirtualHardDiskSettingData", "CIM_SettingData",
                "uint16 Type; uint16 Format; string Path; string ParentPath; datetime ParentTimestamp; string ParentIdentifier; " +
                "uint64 MaxInternalSize; uint32 BlockSize; uint32 LogicalSectorSize; uint32 PhysicalSectorSize; string VirtualDiskId; " +
                "uint64 DataAlignment; uint16 PmemAddressAbstractionType; boolean IsPmemCompatible", embeddedOnly: true);
            Def("Msvm_VirtualSystemMigrationSettingData", "CIM_SettingData",
                "uint16 MigrationType; uint16 TransportType; string OtherTransportType; uint16 Priority; " +
                "uint16 Bandwidth; string BandwidthUnit; string[] DestinationIPAddressList; string DestinationPlannedVirtualSystemId; " +
                "boolean RetainVhdCopiesOnSource; boolean EnableCompression; string[] UnmanagedVhds; boolean RemoveSourceUnmanagedVhds; " +
                "boolean AllowOverwriteExistingFile; uint16 CPUCappingMagnitude; boolean CancelIfBlackoutThresholdExceeded",
                embeddedOnly: true);
            Def("Msvm_KvpExchangeDataItem", null, "string Caption; string Description; string ElementName; string Name; string Data; uint16 Source",
                embeddedOnly: true);
            Def("Msvm_Error", null,
                "uint16 ErrorType; string OtherErrorType; string OwningEntity; string MessageID; string Message; string[] MessageArguments; " +
                "uint16 PerceivedSeverity; uint16 ProbableCause; string ProbableCauseDescription; string[] RecommendedActions; " +
                "string ErrorSource; uint16 ErrorSourceFormat; string OtherErrorSourceFormat; uint32 CIMStatusCode; string CIMStatusCodeDescription",
                embeddedOnly: true);
            Def("Msvm_SummaryInformationBase", null,
                "string Caption; string Description; string InstanceID; datetime CreationTime; string ElementName; uint16 EnabledState; " +
                "string OtherEnabledState; uint16 HealthState; string Name; string Notes; string Version; uint16 NumberOfProcessors; " +
                "uint16[] OperationalStatus; string[] StatusDescriptions; uint64 UpTime; uint16 EnhancedSessionModeState; " +
                "string[] VirtualSwitchNames; string VirtualSystemSubType; string HostComputerSystemName", isAbstract: true, embeddedOnly: true);
            Def("Msvm_SummaryInformation", "Msvm_SummaryInformationBase",
                "uint16 ProcessorLoad; uint16[] ProcessorLoadHistory; uint64 MemoryUsage; uint16 Heartbeat; string GuestOperatingSystem; " +
                "sint32 MemoryAvailable; sint32 AvailableMemoryBuffer; boolean Shielded; string AllocatedGPU; uint8[] ThumbnailImage; " +
                "boolean MemorySpansPhysicalNumaNodes; uint16 IntegrationServicesVersionState", embeddedOnly: true);

            // ---------------------------------------------------------------- systems, services, devices
            const string ManagedSystem = "string Caption; string Description; string ElementName; datetime InstallDate; uint16[] OperationalStatus; " +
                "string[] StatusDescriptions; string Status; uint16 HealthState; uint16 EnabledState; string OtherEnabledState; uint16 RequestedState; " +
                "uint16 EnabledDefault; datetime TimeOfLastStateChange";
            Def("CIM_System", null, "string CreationClassName key; string Name key; " + ManagedSystem + "; string NameFormat; string PrimaryOwnerName; string[] Roles",
                isAbstract: true);
            Def("CIM_ComputerSystem", "CIM_System", "uint16[] Dedicated; string[] OtherIdentifyingInfo; string[] IdentifyingDescriptions", isAbstract: true);
            Def("Msvm_ComputerSystem", "CIM_ComputerSystem",
                "uint64 OnTimeInMilliseconds; datetime TimeOfLastConfigurationChange; uint32 ProcessID; " +
                "uint16 NumberOfNumaNodes; uint16 ReplicationState; uint16 ReplicationHealth; uint16 ReplicationMode; uint16 EnhancedSessionModeState");
            Def("Msvm_VirtualEthernetSwitch", "CIM_ComputerSystem", "uint32 MaxVMQOffloads");
            Def("Msvm_VirtualSystemMigrationServiceSettingData", "CIM_SettingData",
                "boolean EnableVirtualSystemMigration; uint32 MaximumActiveVirtualSystemMigration; uint32 MaximumActiveStorageMigration; " +
                "uint32 AuthenticationType; boolean EnableCompression; boolean EnableSmbTransport");
            Def("CIM_Service", null, "string CreationClassName key; string Name key; string SystemCreationClassName key; string SystemName key; " +
                ManagedSystem + "; boolean Started; string StartMode; string PrimaryOwnerName", isAbstract: true);
            Def("Msvm_VirtualSystemManagementService", "CIM_Service", "");
            Def("Msvm_VirtualEthernetSwitchManagementService", "CIM_Service", "");
            Def("Msvm_ImageManagementService", "CIM_Service", "");
            Def("Msvm_VirtualSystemMigrationService", "CIM_Service",
                "uint32 ActiveVirtualSystemMigrationCount; uint32 ActiveStorageMigrationCount; string[] MigrationServiceListenerIPAddressList");
            Def("CIM_LogicalDevice", null, "string CreationClassName key; string DeviceID key; string SystemCreationClassName key; string SystemName key; " +
                ManagedSystem + "; string Name", isAbstract: true);
            Def("Msvm_ShutdownComponent", "CIM_LogicalDevice", "");
            Def("Msvm_KvpExchangeComponent", "CIM_LogicalDevice", "string[] GuestExchangeItems; string[] GuestIntrinsicExchangeItems");
            Def("CIM_EthernetPort", "CIM_LogicalDevice", "string PermanentAddress; string[] NetworkAddresses; uint64 Speed; uint64 MaxSpeed; uint16 PortType",
                isAbstract: true);
            Def("Msvm_InternalEthernetPort", "CIM_EthernetPort", "");
            Def("Msvm_ExternalEthernetPort", "CIM_EthernetPort", "boolean IsBound");
            Def("CIM_ConcreteJob", null,
                "string InstanceID key; string Caption; string Description; string ElementName; string Name; uint16[] OperationalStatus; " +
                "string[] StatusDescriptions; uint16 HealthState; uint16 JobState; string JobStatus; uint16 PercentComplete; uint16 ErrorCode; " +
                "string ErrorDescription; datetime TimeSubmitted; " +
                "datetime StartTime; datetime ElapsedTime; datetime TimeOfLastStateChange; datetime TimeBeforeRemoval; boolean DeleteOnCompletion; " +
                "uint16 LocalOrUtcTime; string Owner; uint32 Priority", isAbstract: true);
            // JobType, Cancellable and ErrorSummaryDescription belong to Hyper-V's job classes, not to CIM_ConcreteJob (real schema)
            const string HyperVJob = "uint16 JobType; boolean Cancellable; string ErrorSummaryDescription";
            Def("Msvm_ConcreteJob", "CIM_ConcreteJob", HyperVJob);
            Def("Msvm_MigrationJob", "CIM_ConcreteJob",
                HyperVJob + "; uint16 MigrationType; string VirtualSystemName; string DestinationHost; string NewSystemSettingData; string[] NewResourceSettingData");
            Def("Msvm_StorageJob", "CIM_ConcreteJob", HyperVJob + "; string Child; string Parent; uint32 JobCompletionStatusCode");

            // ---------------------------------------------------------------- associations
            Def("Msvm_SettingsDefineState", null, "ref ManagedElement key; ref SettingData key", isAssociation: true);
            Def("Msvm_VirtualSystemSettingDataComponent", null, "ref GroupComponent key; ref PartComponent key", isAssociation: true);
            Def("Msvm_SystemDevice", null, "ref GroupComponent key; ref PartComponent key", isAssociation: true);
            Def("Msvm_EthernetPortSettingDataComponent", null, "ref GroupComponent key; ref PartComponent key", isAssociation: true);
            // Default port features (capabilities route, fact sheet §5.2): capabilities per FeatureId, linked to the
            // default setting data by Msvm_FeatureSettingsDefineCapabilities (ValueRole 0 Default).
            Def("CIM_Capabilities", null, "string InstanceID key; string Caption; string Description; string ElementName", isAbstract: true);
            Def("Msvm_EthernetSwitchFeatureCapabilities", "CIM_Capabilities", "string FeatureId; uint16 Applicability; string Version");
            Def("Msvm_FeatureSettingsDefineCapabilities", null,
                "ref GroupComponent key; ref PartComponent key; uint16 PropertyPolicy; uint16 ValueRange; uint16 ValueRole", isAssociation: true);
            Def("Msvm_AffectedJobElement", null, "ref AffectedElement key; ref AffectingElement key; uint16[] ElementEffects", isAssociation: true);
            Def("Msvm_ElementSettingData", null, "ref ManagedElement key; ref SettingData key; uint16 IsDefault; uint16 IsCurrent", isAssociation: true);

            // ---------------------------------------------------------------- root\cimv2
            Def("CIM_LogicalFile", null,
                "string Name key; string Caption; string Description; string Drive; string Path; string FileName; string Extension; " +
                "uint64 FileSize; string FileType; string CreationClassName; string CSName; string FSName; string CSCreationClassName; " +
                "string FSCreationClassName; boolean Archive; boolean Hidden; boolean Readable; boolean Writeable; boolean System; " +
                "datetime CreationDate; datetime LastModified; string EightDotThreeFileName; boolean Compressed; boolean Encrypted; uint64 InUseCount",
                ns: Cimv2, isAbstract: true, url: "https://learn.microsoft.com/en-us/windows/win32/cimwin32prov/cim-logicalfile");
            Def("CIM_DataFile", "CIM_LogicalFile", "string Manufacturer; string Version", ns: Cimv2,
                url: "https://learn.microsoft.com/en-us/windows/win32/cimwin32prov/cim-datafile");

            // ---------------------------------------------------------------- methods
            const string SvcRef = "in ref";
            Method("Msvm_ComputerSystem", "RequestStateChange", SimReturnFamily.HyperV,
                "in uint16 RequestedState required; in datetime TimeoutPeriod; out ref Job");
            foreach (var svc in new[] { "Msvm_VirtualSystemManagementService", "Msvm_VirtualEthernetSwitchManagementService" })
            {
                string vssd = svc == "Msvm_VirtualSystemManagementService" ? "Msvm_VirtualSystemSettingData" : "Msvm_VirtualEthernetSwitchSettingData";
                Method(svc, "DefineSystem", SimReturnFamily.Service,
                    $"in string SystemSettings required embedded={vssd}; in string[] ResourceSettings embedded=CIM_ResourceAllocationSettingData; " +
                    $"{SvcRef} ReferenceConfiguration; out ref ResultingSystem; out ref Job");
                Method(svc, "DestroySystem", SimReturnFamily.Service, "in ref AffectedSystem required; out ref Job");
                Method(svc, "ModifySystemSettings", SimReturnFamily.Service, $"in string SystemSettings required embedded={vssd}; out ref Job");
                Method(svc, "AddResourceSettings", SimReturnFamily.Service,
                    "in ref AffectedConfiguration required; in string[] ResourceSettings required embedded=CIM_ResourceAllocationSettingData; " +
                    "out ref[] ResultingResourceSettings; out ref Job");
                Method(svc, "ModifyResourceSettings", SimReturnFamily.Service,
                    "in string[] ResourceSettings required embedded=CIM_ResourceAllocationSettingData; out ref[] ResultingResourceSettings; out ref Job");
                Method(svc, "RemoveResourceSettings", SimReturnFamily.Service, "in ref[] ResourceSettings required; out ref Job");
                Method(svc, "AddFeatureSettings", SimReturnFamily.Service,
                    "in ref AffectedConfiguration required; in string[] FeatureSettings required embedded=Msvm_FeatureSettingData; " +
                    "out ref[] ResultingFeatureSettings; out ref Job");
                Method(svc, "ModifyFeatureSettings", SimReturnFamily.Service,
                    "in string[] FeatureSettings required embedded=Msvm_FeatureSettingData; out ref[] ResultingFeatureSettings; out ref Job");
                Method(svc, "RemoveFeatureSettings", SimReturnFamily.Service, "in ref[] FeatureSettings required; out ref Job");
            }
            foreach (var kvp in new[] { "AddKvpItems", "ModifyKvpItems", "RemoveKvpItems" })
                Method("Msvm_VirtualSystemManagementService", kvp, SimReturnFamily.HyperV,
                    "in ref TargetSystem required; in string[] DataItems required embedded=Msvm_KvpExchangeDataItem; out ref Job");
            Method("Msvm_VirtualSystemManagementService", "GetSummaryInformation", SimReturnFamily.Service,
                "in ref[] SettingData; in uint32[] RequestedInformation required; out instance[] SummaryInformation");
            const string MigrationInputs = "in ref ComputerSystem required; in string DestinationHost; " +
                "in string MigrationSettingData embedded=Msvm_VirtualSystemMigrationSettingData; in string NewSystemSettingData embedded=Msvm_VirtualSystemSettingData; " +
                "in string[] NewResourceSettingData embedded=CIM_ResourceAllocationSettingData";
            Method("Msvm_VirtualSystemMigrationService", "MigrateVirtualSystemToHost", SimReturnFamily.HyperV, MigrationInputs + "; out ref Job");
            Method("Msvm_VirtualSystemMigrationService", "CheckVirtualSystemIsMigratableToHost", SimReturnFamily.Service, MigrationInputs + "; out boolean IsMigratable");
            Method("Msvm_VirtualSystemMigrationService", "CheckVirtualSystemIsMigratable", SimReturnFamily.Service, MigrationInputs + "; out ref Job");
            Method("Msvm_ImageManagementService", "CreateVirtualHardDisk", SimReturnFamily.HyperV,
                "in string VirtualDiskSettingData required embedded=Msvm_VirtualHardDiskSettingData; out ref Job");
            Method("Msvm_ImageManagementService", "GetVirtualHardDiskSettingData", SimReturnFamily.HyperV,
                "in string Path required; out string SettingData; out ref Job");
            // No Job output (microsoft/wmi server2019/server23h2 Msvm_ShutdownComponent.go), although 4096 is a documented return.
            Method("Msvm_ShutdownComponent", "InitiateShutdown", SimReturnFamily.HyperV, "in boolean Force required; in string Reason required",
                extra: new Dictionary<uint, string> { [32780] = "System not ready", [32781] = "Machine locked and cannot be shut down without the force option", [32782] = "System is shutting down" });
            Method("Msvm_ShutdownComponent", "InitiateReboot", SimReturnFamily.HyperV, "in boolean Force required; in string Reason required",
                extra: new Dictionary<uint, string> { [32780] = "System not ready", [32781] = "Machine locked and cannot be shut down without the force option", [32782] = "System is shutting down" });
            foreach (var job in new[] { "CIM_ConcreteJob" })
            {
                Method(job, "GetError", SimReturnFamily.HyperV, "out string Error");
                Method(job, "GetErrorEx", SimReturnFamily.HyperV, "out string[] Errors");
            }
            Method("CIM_LogicalFile", "Delete", SimReturnFamily.File, "");
            SchemaBuilder.Build(Data, classSpecs, methodSpecs, ByName);

            void Def(string name, string? super, string props, string ns = V2, bool isAbstract = false, bool embeddedOnly = false,
                bool isAssociation = false, string? slug = null, string? url = null)
            {
                var spec = new ClassSpec
                {
                    Name = name, Super = super, Namespace = ns, IsAbstract = isAbstract, EmbeddedOnly = embeddedOnly, IsAssociation = isAssociation,
                    Url = url ?? DocBase + (slug ?? name.ToLowerInvariant().Replace('_', '-')),
                };
                foreach (var p in props.Split(';').Select(x => x.Trim()).Where(x => x.Length > 0))
                {
                    var parts = p.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    string type = parts[0];
                    bool array = type.EndsWith("[]", StringComparison.Ordinal);
                    if (array) type = type.Substring(0, type.Length - 2);
                    var t = type == "ref" ? CimDataType.Reference : CimTypes.TryParse(type, out var tt) ? tt : throw new InvalidOperationException(p);
                    spec.Properties.Add(new SimPropertyDef(parts[1], t, array, parts.Length > 2 && parts[2] == "key"));
                }
                classSpecs.Add(spec);
            }

            void Method(string className, string name, SimReturnFamily family, string parameters, Dictionary<uint, string>? extra = null)
            {
                var list = new List<SimParameterDef>();
                foreach (var p in parameters.Split(';').Select(x => x.Trim()).Where(x => x.Length > 0))
                {
                    var parts = p.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    bool isIn = parts[0] == "in", isOut = parts[0] == "out";
                    string type = parts[1];
                    bool array = type.EndsWith("[]", StringComparison.Ordinal);
                    if (array) type = type.Substring(0, type.Length - 2);
                    var t = type == "ref" ? CimDataType.Reference : type == "instance" ? CimDataType.Instance
                        : CimTypes.TryParse(type, out var tt) ? tt : throw new InvalidOperationException(p);
                    bool required = parts.Contains("required");
                    string? embedded = parts.FirstOrDefault(x => x.StartsWith("embedded=", StringComparison.Ordinal))?.Substring(9);
                    list.Add(new SimParameterDef(parts[2], t, array, isIn, isOut, required, embedded));
                }
                var codes = new Dictionary<uint, string>(CodesOf(family));
                if (extra != null) foreach (var e in extra) codes[e.Key] = e.Value;
                methodSpecs.Add(new MethodSpec { ClassName = className, Name = name, Family = family, Parameters = list, Codes = codes });
            }
        }

        internal static IReadOnlyDictionary<uint, string> CodesOf(SimReturnFamily family) => family switch
        {
            SimReturnFamily.Service => ServiceCodes,
            SimReturnFamily.HyperV => HyperVCodes,
            _ => FileCodes,
        };
    }
}
