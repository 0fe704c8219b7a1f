using System;
using System.Collections.Generic;
using System.Threading;

namespace VirtualNetworks.Backends
{
    /// <summary>What a backend can do and the limits validation checks before anything changes.</summary>
    public sealed class BackendCapabilities
    {
        /// <summary>Maximum network adapters (= links) per router.</summary>
        public int MaxAdaptersPerRouter { get; set; } = 8;
        /// <summary>Smallest bandwidth limit the backend can apply, bits/s.</summary>
        public long MinimumBandwidth { get; set; } = 8_000;
        /// <summary>Step of the limits the backend stores, bits/s (Hyper-V: multiples of 8); the planner compares rounded values.</summary>
        public long BandwidthGranularity { get; set; } = 1;
        /// <summary>Largest bandwidth limit the backend can apply, bits/s.</summary>
        public long MaximumBandwidth { get; set; } = 100_000_000_000;
        public int MinMemoryMB { get; set; } = 32;
        public int MaxMemoryMB { get; set; } = 65_536;
        /// <summary>
        /// Memory (MB) a router gets when nothing gives it one (a topology router without <c>memoryMB</c> and no
        /// <c>defaults.memoryMB</c>; New-VirtualRouter without -MemoryMB): what the backend's own router image needs to boot,
        /// with a margin. The engine puts it into the spec before validation and planning
        /// (<see cref="Engine.VirtualNetworkService.WithBackendDefaults(RouterSpec)"/>); explicit values are never changed.
        /// </summary>
        public int DefaultMemoryMB { get; set; } = 128;
        public int MaxProcessorCount { get; set; } = 64;
        /// <summary>True when links carry their VLAN id as a real tag (else the id is kept as data).</summary>
        public bool SupportsVlanTagging { get; set; }
        public bool SupportsLiveMigration { get; set; }
        public bool SupportsColdMigration { get; set; }
        /// <summary>True when the backend can push addresses and routes into the guest.</summary>
        public bool SupportsRouterConfiguration { get; set; } = true;
        /// <summary>True when the backend can run probes (ping) from inside a router.</summary>
        public bool SupportsProbes { get; set; } = true;

        /// <summary>The memory <paramref name="spec"/> asks for, or <see cref="DefaultMemoryMB"/> when it leaves it to the backend.</summary>
        public int MemoryMBOf(RouterSpec spec) => (spec ?? throw new ArgumentNullException(nameof(spec))).MemoryMB ?? DefaultMemoryMB;
    }

    /// <summary>Everything a backend observed: the truth, read from the hosts.</summary>
    public sealed class BackendInventory
    {
        public List<VirtualHost> Hosts { get; set; } = new List<VirtualHost>();
        /// <summary>The underlay links between hosts the backend manages or knows of.</summary>
        public List<PhysicalLink> PhysicalLinks { get; set; } = new List<PhysicalLink>();
        /// <summary>Routers the module owns. <see cref="VirtualRouter.NetworkName"/> is filled by the engine, not the backend.</summary>
        public List<VirtualRouter> Routers { get; set; } = new List<VirtualRouter>();
        /// <summary>Links the module owns. <see cref="VirtualLink.NetworkName"/> is filled by the engine.</summary>
        public List<VirtualLink> Links { get; set; } = new List<VirtualLink>();
        /// <summary>
        /// What the backend could not read while observing (a damaged state file, a record naming an object that has none):
        /// the objects it may describe are missing from or incomplete in this inventory. Commands show these as warnings;
        /// clean-up leaves such objects alone.
        /// </summary>
        public List<string> Warnings { get; set; } = new List<string>();
        /// <summary>The configuration last applied to each router (by router name), when the backend knows it.</summary>
        public Dictionary<string, RouterConfiguration> Configurations { get; set; } =
            new Dictionary<string, RouterConfiguration>(StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>Outcome of one probe (ping) from inside a router.</summary>
    public sealed class ProbeResult
    {
        public bool Reachable { get; set; }
        public double? RoundTripMilliseconds { get; set; }
        public string? Detail { get; set; }
    }

    /// <summary>Identifies which backend instance a command needs.</summary>
    public sealed class BackendRequest
    {
        /// <summary>Backend kind ("Linux", "HyperV"); null = the platform default.</summary>
        public string? Kind { get; set; }
        /// <summary>Host names the command targets; empty = the local machine.</summary>
        public IReadOnlyList<string> ComputerName { get; set; } = Array.Empty<string>();
        /// <summary>
        /// True when hosts in <see cref="ComputerName"/> may not exist yet because the command will create them (a
        /// topology's declared lab hosts, for Deploy-VirtualNetwork): the backend must not refuse them up front.
        /// </summary>
        public bool HostsMayNotExistYet { get; set; }
        /// <summary>Backend-specific options (state directory, credentials, ...), by name.</summary>
        public IDictionary<string, object?> Options { get; set; } = new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>
    /// The one contract every backend implements. Methods throw <see cref="VirtualNetworksException"/> for expected
    /// faults (not found, unsupported, failed command) and honour the cancellation token between external calls.
    /// Every method must be idempotent with respect to its end state where that makes sense (removing a router that is
    /// already gone is not an error at this level; the engine checks existence first).
    /// </summary>
    public interface IVirtualizationBackend : IDisposable
    {
        /// <summary>Kind name, e.g. "Linux".</summary>
        string Kind { get; }
        BackendCapabilities Capabilities { get; }

        /// <summary>Reads the current truth: hosts, owned routers and links, applied configurations.</summary>
        BackendInventory GetInventory(CancellationToken cancellationToken);

        /// <summary>True when the router image exists and is usable on the given host.</summary>
        bool ImageExists(string image, string host);

        void CreateRouter(RouterSpec spec, CancellationToken cancellationToken);
        void RemoveRouter(string name, CancellationToken cancellationToken);
        void StartRouter(string name, CancellationToken cancellationToken);
        /// <summary>Graceful shutdown, or hard power-off when <paramref name="turnOff"/> is true.</summary>
        void StopRouter(string name, bool turnOff, CancellationToken cancellationToken);
        void SuspendRouter(string name, CancellationToken cancellationToken);
        void ResumeRouter(string name, CancellationToken cancellationToken);
        /// <summary>Pushes addresses and routes into the router (applied now if it runs, at next boot otherwise).</summary>
        void ConfigureRouter(RouterConfiguration configuration, CancellationToken cancellationToken);
        void MoveRouter(string name, string destinationHost, MigrationMode mode, IProgress<string>? progress, CancellationToken cancellationToken);

        void CreateLink(LinkSpec spec, CancellationToken cancellationToken);
        void RemoveLink(string name, CancellationToken cancellationToken);
        /// <summary>Changes the limit in place on a live link; null removes the limit.</summary>
        void SetLinkBandwidth(string name, long? bitsPerSecond, CancellationToken cancellationToken);

        /// <summary>Sends a probe from inside <paramref name="fromRouter"/> to <paramref name="address"/>.</summary>
        ProbeResult Probe(string fromRouter, string address, CancellationToken cancellationToken);
    }
}
