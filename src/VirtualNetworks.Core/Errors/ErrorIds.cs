namespace VirtualNetworks
{
    /// <summary>
    /// Stable error identifiers. They appear in FullyQualifiedErrorId (as "Id,VirtualNetworks.Commands.XxxCommand"),
    /// so never rename one; add new ones instead. One id per kind of fault.
    /// </summary>
    public static class ErrorIds
    {
        // ---- topology file: reading and shape --------------------------------------------------------------
        public const string TopologyFileNotFound = "TopologyFileNotFound";
        public const string TopologyFileUnreadable = "TopologyFileUnreadable";
        public const string TopologyFileEmpty = "TopologyFileEmpty";
        public const string TopologyJsonSyntax = "TopologyJsonSyntax";
        public const string TopologyRootNotObject = "TopologyRootNotObject";
        public const string TopologyUnknownField = "TopologyUnknownField";
        public const string TopologyWrongType = "TopologyWrongType";
        public const string TopologyMissingField = "TopologyMissingField";
        public const string TopologyDuplicateField = "TopologyDuplicateField";

        // ---- validation of names and values -----------------------------------------------------------------
        public const string InvalidName = "InvalidName";
        public const string NameTooLong = "NameTooLong";
        public const string DuplicateName = "DuplicateName";
        public const string InvalidVlanId = "InvalidVlanId";
        public const string DuplicateVlanId = "DuplicateVlanId";
        public const string InvalidBandwidth = "InvalidBandwidth";
        public const string BandwidthOutOfRange = "BandwidthOutOfRange";
        public const string InvalidMemory = "InvalidMemory";
        public const string InvalidProcessorCount = "InvalidProcessorCount";
        public const string InvalidAddressFamily = "InvalidAddressFamily";
        public const string InvalidAddressPool = "InvalidAddressPool";
        public const string AddressPoolExhausted = "AddressPoolExhausted";
        public const string LinkEndpointNotFound = "LinkEndpointNotFound";
        public const string SelfLink = "SelfLink";
        public const string UnknownHost = "UnknownHost";
        public const string ImageNotFound = "ImageNotFound";
        public const string InvalidImage = "InvalidImage";
        public const string AdapterLimitExceeded = "AdapterLimitExceeded";
        public const string NetworkIsolationViolation = "NetworkIsolationViolation";
        public const string AddressFamilyConflict = "AddressFamilyConflict";
        /// <summary>A physical link names a host that is neither declared in "hosts" nor the local machine.</summary>
        public const string PhysicalLinkHostNotFound = "PhysicalLinkHostNotFound";
        /// <summary>A physical link joins a host to itself.</summary>
        public const string PhysicalSelfLink = "PhysicalSelfLink";
        /// <summary>The same two hosts are joined by more than one physical link (either direction).</summary>
        public const string DuplicatePhysicalLink = "DuplicatePhysicalLink";
        /// <summary>A virtual link between routers on different hosts has no path over the physical links.</summary>
        public const string NoUnderlayPath = "NoUnderlayPath";
        /// <summary>A <c>networks[].routing</c> that is neither "static" nor "ospf".</summary>
        public const string InvalidRoutingProtocol = "InvalidRoutingProtocol";
        /// <summary>An OSPF or BFD timer outside <see cref="RoutingDefaults"/>' bounds, or a dead interval not above the hello interval.</summary>
        public const string InvalidRoutingTimer = "InvalidRoutingTimer";
        /// <summary>A <c>networks[]</c> entry asks for BFD (or BFD timers) without OSPF.</summary>
        public const string BfdWithoutOspf = "BfdWithoutOspf";
        /// <summary>A <c>networks[]</c> entry names neither a network label nor a computed network.</summary>
        public const string NetworkEntryNotFound = "NetworkEntryNotFound";
        /// <summary>One computed network whose labels' <c>networks[]</c> entries ask for different routing (after a forced merge).</summary>
        public const string NetworkRoutingConflict = "NetworkRoutingConflict";
        /// <summary>A link <c>state</c> that is not "up", "cablePulled" or "silent".</summary>
        public const string InvalidLinkState = "InvalidLinkState";

        // ---- run time ------------------------------------------------------------------------------------------
        public const string RouterNotFound = "RouterNotFound";
        public const string LinkNotFound = "LinkNotFound";
        public const string NetworkNotFound = "NetworkNotFound";
        public const string HostNotFound = "HostNotFound";
        /// <summary>A lab host (or physical link) of that name already exists.</summary>
        public const string HostAlreadyExists = "HostAlreadyExists";
        /// <summary>A lab host still runs virtual routers.</summary>
        public const string HostInUse = "HostInUse";
        /// <summary>The host is a real machine, not a lab host the module can create or remove.</summary>
        public const string NotALabHost = "NotALabHost";
        /// <summary>Move-VirtualRouter to the host the router already runs on.</summary>
        public const string RouterAlreadyOnHost = "RouterAlreadyOnHost";
        /// <summary>An interrupted migration (its journal in the router's record) could not be reconciled; the journal is kept.</summary>
        public const string MigrationRecoveryFailed = "MigrationRecoveryFailed";
        public const string RouterAlreadyExists = "RouterAlreadyExists";
        public const string LinkAlreadyExists = "LinkAlreadyExists";
        public const string BackendNotAvailable = "BackendNotAvailable";
        public const string UnknownBackendKind = "UnknownBackendKind";
        /// <summary>-CimSession was given something other than a CimSession.</summary>
        public const string CimSessionInvalid = "CimSessionInvalid";
        public const string OperationNotSupported = "OperationNotSupported";
        public const string InvalidStateTransition = "InvalidStateTransition";
        public const string BackendOperationFailed = "BackendOperationFailed";
        /// <summary>
        /// The backend's state directory lost or garbled what identifies it (Linux: the <c>state-id</c> file is missing or
        /// invalid while records exist), so nothing is created or removed until it is restored.
        /// </summary>
        public const string StateDirectoryDamaged = "StateDirectoryDamaged";
        /// <summary>
        /// The backend's state directory is not safe to use: owned by another user, writable by group or others, or a
        /// part of its layout is a symbolic link.
        /// </summary>
        public const string StateDirectoryUnsafe = "StateDirectoryUnsafe";
        public const string PlanStepFailed = "PlanStepFailed";
        public const string OperationCanceled = "OperationCanceled";
        public const string ExportFailed = "ExportFailed";
        /// <summary>Export-VirtualNetwork -Path names a file whose extension no export format writes (e.g. .png), and -Format was not given.</summary>
        public const string ExportExtensionNotSupported = "ExportExtensionNotSupported";
        /// <summary>Export-VirtualNetwork -Format contradicts the extension of -Path, which belongs to another format (-Format Dot -Path x.svg).</summary>
        public const string ExportFormatMismatch = "ExportFormatMismatch";
        public const string GraphvizNotInstalled = "GraphvizNotInstalled";
        /// <summary>Admission: the routers a change starts need more memory than the host can give (-Force skips the check).</summary>
        public const string InsufficientHostMemory = "InsufficientHostMemory";
        /// <summary>Admission: a change would put more routers on a host than its documented limit (-Force skips the check).</summary>
        public const string TooManyRouters = "TooManyRouters";
        /// <summary>A command that needs a running router (a readiness wait, a probe) was given one that is off, failed or paused.</summary>
        public const string RouterNotRunning = "RouterNotRunning";
        /// <summary>A router's guest did not become ready (booted, configuration applied) within the wait's time limit, or reported its configuration failed.</summary>
        public const string RouterNotReady = "RouterNotReady";
        /// <summary>A router's guest died or hung while booting (QEMU exited, the kernel panicked, or it printed no ready line in time) on every one of its bounded restarts.</summary>
        public const string RouterBootFailed = "RouterBootFailed";
        /// <summary>Something that must be an IP address (a probe's target) is not one.</summary>
        public const string InvalidAddress = "InvalidAddress";
        /// <summary>A probe stream's count, interval or total duration is outside <c>ProbeStreamLimits</c>.</summary>
        public const string InvalidProbe = "InvalidProbe";
        /// <summary>
        /// A router's configuration needs a guest contract its image does not implement (e.g. a <c>routing</c> line, contract 2,
        /// on an image built before it; or the <c>routes</c>/<c>routing</c> commands): the image must be rebuilt.
        /// </summary>
        public const string GuestContractTooOld = "GuestContractTooOld";
        public const string ReachabilityFailed = "ReachabilityFailed";
        public const string IsolationFailed = "IsolationFailed";
        /// <summary>Test-VirtualNetwork: a pair inside a network with dynamic routing, joined by Up links, does not answer (yet).</summary>
        public const string RoutingNotConverged = "RoutingNotConverged";
    }
}
