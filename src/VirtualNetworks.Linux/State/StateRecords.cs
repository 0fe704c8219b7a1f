using System;
using System.Collections.Generic;
using Newtonsoft.Json;
using Newtonsoft.Json.Converters;
using Newtonsoft.Json.Linq;

namespace VirtualNetworks.Linux.State
{
    /// <summary>
    /// Common part of every state file: the ownership marker (<c>"owner": "virtualnetworks"</c>), the schema version and
    /// the record kind. The store never reads, rewrites or deletes a file without this marker. Fields this version does
    /// not know are kept (<see cref="Extra"/>) and written back unchanged.
    /// </summary>
    public abstract class StateRecord
    {
        /// <summary>The ownership marker value.</summary>
        public const string OwnerMarker = "virtualnetworks";

        /// <summary>The schema version this code writes; files with a higher version are refused (written by a newer module).</summary>
        public const int CurrentSchema = 1;

        [JsonProperty("owner", Order = -10)]
        public string Owner { get; set; } = OwnerMarker;

        [JsonProperty("schema", Order = -9)]
        public int Schema { get; set; } = CurrentSchema;

        [JsonProperty("kind", Order = -8)]
        public abstract string Kind { get; }

        /// <summary>When the record was first written (UTC).</summary>
        [JsonProperty("created", Order = 90)]
        public DateTime CreatedUtc { get; set; } = DateTime.UtcNow;

        /// <summary>When the record was last written (UTC); set by the store.</summary>
        [JsonProperty("updated", Order = 91)]
        public DateTime UpdatedUtc { get; set; } = DateTime.UtcNow;

        /// <summary>Fields written by another version of the module; preserved on rewrite.</summary>
        [JsonExtensionData]
        public IDictionary<string, JToken> Extra { get; set; } = new Dictionary<string, JToken>();
    }

    /// <summary>
    /// What the module knows about one router on this host (routers/&lt;name&gt;.json): the spec, the MAC of each adapter
    /// (by link name), the configuration last pushed into the guest, the accelerator it was started with and the state the
    /// user asked for (so that a dead QEMU process while <see cref="DesiredState"/> is Running shows as drift).
    /// </summary>
    public sealed class RouterRecord : StateRecord
    {
        public override string Kind => "router";

        [JsonProperty("name")]
        public string Name { get; set; } = "";

        /// <summary>Host name the router belongs to (empty = this machine).</summary>
        [JsonProperty("host")]
        public string Host { get; set; } = "";

        [JsonProperty("image")]
        public string Image { get; set; } = "";

        [JsonProperty("processorCount")]
        public int ProcessorCount { get; set; } = 1;

        [JsonProperty("memoryMB")]
        public int MemoryMB { get; set; } = 128;

        [JsonProperty("networkLabel", NullValueHandling = NullValueHandling.Ignore)]
        public string? NetworkLabel { get; set; }

        [JsonProperty("addressFamily")]
        [JsonConverter(typeof(StringEnumConverter))]
        public NetworkAddressFamily AddressFamily { get; set; } = NetworkAddressFamily.IPv4;

        /// <summary>MAC address of the router's adapter on each link, by link name (lower-case hex, colon separated).</summary>
        [JsonProperty("macs")]
        public Dictionary<string, string> Macs { get; set; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

        /// <summary>The configuration (addresses, routes) last applied, in engine form; null before the first.</summary>
        [JsonProperty("configuration", NullValueHandling = NullValueHandling.Ignore)]
        public RouterConfiguration? Configuration { get; set; }

        /// <summary>The guest configuration text (docs/guest-contract.md) last pushed or handed over at boot.</summary>
        [JsonProperty("configText", NullValueHandling = NullValueHandling.Ignore)]
        public string? ConfigText { get; set; }

        /// <summary>"kvm" or "tcg": what the router was last started with; null before the first start.</summary>
        [JsonProperty("accelerator", NullValueHandling = NullValueHandling.Ignore)]
        public string? Accelerator { get; set; }

        /// <summary>What the user asked for last: Off, Running or Paused.</summary>
        [JsonProperty("desiredState")]
        [JsonConverter(typeof(StringEnumConverter))]
        public RouterState DesiredState { get; set; } = RouterState.Off;

        /// <summary>Per-router disk overlay (qcow2) under disks/, when the image is a disk; null for kernel+initrd images.</summary>
        [JsonProperty("disk", NullValueHandling = NullValueHandling.Ignore)]
        public string? Disk { get; set; }

        [JsonProperty("lastStarted", NullValueHandling = NullValueHandling.Ignore)]
        public DateTime? LastStartedUtc { get; set; }

        /// <summary>
        /// Which run directory holds the running instance's pidfile, sockets and logs: null = run/ (every normal start),
        /// <see cref="StateStore.MigrationSlot"/> = run/m/. A live migration starts the destination QEMU in the slot the
        /// source does not use and switches this field (with <see cref="Host"/>) in one record write once it completed;
        /// QEMU's -pidfile argument cannot change, so the instance keeps its directory until it stops.
        /// </summary>
        [JsonProperty("runSlot", NullValueHandling = NullValueHandling.Ignore)]
        public string? RunSlot { get; set; }

        /// <summary>
        /// True when adapters were hot-plugged or unplugged since the running instance started: its devices then differ
        /// from a fresh launch, which a live migration's destination needs to match; cleared at each start.
        /// </summary>
        [JsonProperty("adaptersChanged", DefaultValueHandling = DefaultValueHandling.Ignore)]
        public bool AdaptersChanged { get; set; }

        /// <summary>
        /// Whether the running instance's NICs offer guest announce (<see cref="Vm.VmLaunchSpec.GuestAnnounce"/>): false for
        /// every start since it was recorded; null = started before it was (with QEMU's default, on). A live migration's
        /// destination must offer the same virtio features as the source, so it repeats this.
        /// </summary>
        [JsonProperty("nicGuestAnnounce", NullValueHandling = NullValueHandling.Ignore)]
        public bool? NicGuestAnnounce { get; set; }

        /// <summary>
        /// The phase journal of a migration under way (or interrupted: the command that ran it was killed); null otherwise.
        /// See <see cref="MigrationJournal"/>: the next command that touches the router reconciles it.
        /// </summary>
        [JsonProperty("migration", NullValueHandling = NullValueHandling.Ignore)]
        public MigrationJournal? Migration { get; set; }
    }

    /// <summary>What the module knows about one link (links/&lt;name&gt;.json): spec, bridge and tap names.</summary>
    public sealed class LinkRecord : StateRecord
    {
        public override string Kind => "link";

        [JsonProperty("name")]
        public string Name { get; set; } = "";

        [JsonProperty("from")]
        public string From { get; set; } = "";

        [JsonProperty("to")]
        public string To { get; set; } = "";

        /// <summary>Bits per second; null = unlimited.</summary>
        [JsonProperty("maximumBandwidth", NullValueHandling = NullValueHandling.Ignore)]
        public long? MaximumBandwidth { get; set; }

        [JsonProperty("vlanId", NullValueHandling = NullValueHandling.Ignore)]
        public int? VlanId { get; set; }

        [JsonProperty("bridge")]
        public string Bridge { get; set; } = "";

        /// <summary>Tap device of each endpoint, by router name.</summary>
        [JsonProperty("taps")]
        public Dictionary<string, string> Taps { get; set; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

        [JsonProperty("transport")]
        [JsonConverter(typeof(StringEnumConverter))]
        public LinkTransport Transport { get; set; } = LinkTransport.Bridge;

        /// <summary>VXLAN network identifier, allocated (unique among link records) the first time the link crosses hosts; kept afterwards.</summary>
        [JsonProperty("vni", NullValueHandling = NullValueHandling.Ignore)]
        public int? Vni { get; set; }

        /// <summary>MTU of the link's bridges, taps and VXLAN devices and of the guests' adapters; null = 1500 (older records).</summary>
        [JsonProperty("mtu", NullValueHandling = NullValueHandling.Ignore)]
        public int? Mtu { get; set; }

        /// <summary>
        /// Where the link is wired now: for each router end, the hosts holding its tap (one host normally; two while a
        /// migration has the router's destination prepared). Written by the wiring; null in records of older versions
        /// (= each end on its router's host).
        /// </summary>
        [JsonProperty("endpoints", NullValueHandling = NullValueHandling.Ignore)]
        public Dictionary<string, List<string>>? Endpoints { get; set; }

        /// <summary>
        /// The administrative state the user asked for (Disable-/Enable-VirtualLink): written before it is applied, and
        /// re-applied by every start, hot-plug, migration and rewiring of the link. Absent = Up (older records).
        /// </summary>
        [JsonProperty("state", DefaultValueHandling = DefaultValueHandling.Ignore)]
        [JsonConverter(typeof(StringEnumConverter))]
        public LinkState State { get; set; } = LinkState.Up;
    }

    /// <summary>
    /// A host the backend manages (hosts/&lt;name&gt;.json): a lab host (a network namespace standing in for a machine) or
    /// the local machine once it has an underlay address (a physical link to a lab host).
    /// </summary>
    public sealed class HostRecord : StateRecord
    {
        public override string Kind => "host";

        [JsonProperty("name")]
        public string Name { get; set; } = "";

        /// <summary>True for the local machine (root network namespace); false for a lab host.</summary>
        [JsonProperty("isLocal")]
        public bool IsLocal { get; set; }

        /// <summary>The lab host's network namespace (vnh-...); null for the local machine.</summary>
        [JsonProperty("namespace", NullValueHandling = NullValueHandling.Ignore)]
        public string? Namespace { get; set; }

        /// <summary>The host's underlay address (IPv4, without prefix length), on its anchor device as a /32.</summary>
        [JsonProperty("underlayAddress")]
        public string UnderlayAddress { get; set; } = "";

        /// <summary>True when a deployment created the lab host (removed by Remove-VirtualNetwork once unused).</summary>
        [JsonProperty("createdByDeployment")]
        public bool CreatedByDeployment { get; set; }

        /// <summary>
        /// The networks (labels; an unlabelled network's generated name) of the deployments that created or used the lab
        /// host, written before the host is created or changed; Remove-VirtualNetwork of the last of them removes the host
        /// once nothing uses it, even when the network's routers are already gone.
        /// </summary>
        [JsonProperty("deployedFor", NullValueHandling = NullValueHandling.Ignore)]
        public List<string>? DeployedFor { get; set; }
    }

    /// <summary>A physical link between two hosts (physical-links/&lt;a&gt;--&lt;b&gt;.json): a veth pair with a /31.</summary>
    public sealed class PhysicalLinkRecord : StateRecord
    {
        public override string Kind => "physical-link";

        /// <summary>The host first in ordinal case-insensitive order.</summary>
        [JsonProperty("from")]
        public string From { get; set; } = "";

        [JsonProperty("to")]
        public string To { get; set; } = "";

        /// <summary>The veth end in <see cref="From"/>.</summary>
        [JsonProperty("fromDevice")]
        public string FromDevice { get; set; } = "";

        [JsonProperty("toDevice")]
        public string ToDevice { get; set; } = "";

        /// <summary>From's address on the link (CIDR, /31).</summary>
        [JsonProperty("fromAddress")]
        public string FromAddress { get; set; } = "";

        [JsonProperty("toAddress")]
        public string ToAddress { get; set; } = "";

        [JsonProperty("mtu")]
        public int Mtu { get; set; } = 1500;

        /// <summary>"from--to".</summary>
        [JsonIgnore]
        public string Name => From + "--" + To;
    }

    /// <summary>Cached outcome of the KVM probe (kvm-probe.json), valid for one host boot and one QEMU binary.</summary>
    public sealed class KvmProbeRecord : StateRecord
    {
        public override string Kind => "kvm-probe";

        /// <summary>/proc/sys/kernel/random/boot_id when the probe ran.</summary>
        [JsonProperty("bootId")]
        public string BootId { get; set; } = "";

        /// <summary>QEMU binary path, size and modification time ("path|size|ticks").</summary>
        [JsonProperty("qemu")]
        public string Qemu { get; set; } = "";

        [JsonProperty("kvmUsable")]
        public bool KvmUsable { get; set; }

        [JsonProperty("detail")]
        public string Detail { get; set; } = "";

        [JsonProperty("elapsedMs")]
        public long ElapsedMilliseconds { get; set; }
    }
}
