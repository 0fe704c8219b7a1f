using System;
using System.Collections.Generic;

namespace VirtualNetworks
{
    /// <summary>A host as declared in a topology file.</summary>
    public sealed class HostSpec
    {
        public string Name { get; set; } = "";
        /// <summary>Backend kind; null = the platform default.</summary>
        public string? Kind { get; set; }
    }

    /// <summary>
    /// A physical (underlay) link between two hosts, as declared in a topology file's <c>physicalLinks</c>. On Linux,
    /// between lab hosts it is a veth pair with addresses; on Hyper-V it is documentation of the real network.
    /// </summary>
    public sealed class PhysicalLinkSpec
    {
        public string From { get; set; } = "";
        public string To { get; set; } = "";
        public string? SourcePath { get; set; }
        public PhysicalLinkSpec Clone() => (PhysicalLinkSpec)MemberwiseClone();
        public override string ToString() => From + "--" + To;
    }

    /// <summary>A fully resolved router definition (defaults applied).</summary>
    public sealed class RouterSpec
    {
        public string Name { get; set; } = "";
        /// <summary>Host name; empty = the local machine.</summary>
        public string Host { get; set; } = "";
        public string Image { get; set; } = "";
        public int ProcessorCount { get; set; } = 1;
        /// <summary>
        /// Memory in MB; null = not given: the backend's <see cref="Backends.BackendCapabilities.DefaultMemoryMB"/>, which
        /// the engine fills in before it validates and plans (<see cref="Engine.VirtualNetworkService.WithBackendDefaults(RouterSpec)"/>).
        /// </summary>
        public int? MemoryMB { get; set; }
        public string? NetworkLabel { get; set; }
        public NetworkAddressFamily AddressFamily { get; set; } = NetworkAddressFamily.IPv4;
        /// <summary>JSON path of the definition in its topology file (for error messages), if any.</summary>
        public string? SourcePath { get; set; }

        public RouterSpec Clone() => (RouterSpec)MemberwiseClone();
    }

    /// <summary>A fully resolved link definition.</summary>
    public sealed class LinkSpec
    {
        public string Name { get; set; } = "";
        public string From { get; set; } = "";
        public string To { get; set; } = "";
        /// <summary>Bits per second; null = unlimited.</summary>
        public long? MaximumBandwidth { get; set; }
        public int? VlanId { get; set; }
        /// <summary>Declared link state (topology <c>state</c>); null = not declared: a new link is Up, an existing one keeps its state.</summary>
        public LinkState? State { get; set; }
        public string? SourcePath { get; set; }

        public LinkSpec Clone() => (LinkSpec)MemberwiseClone();
    }

    /// <summary>The address pools the engine allocates point-to-point link addresses from.</summary>
    public sealed class AddressPools
    {
        public const string DefaultIPv4 = "10.200.0.0/16";
        public const string DefaultIPv6 = "fd00:76e:0:1::/64";
        /// <summary>IPv4 pool in CIDR notation; links get /31s from it.</summary>
        public string IPv4 { get; set; } = DefaultIPv4;
        /// <summary>IPv6 pool in CIDR notation; links get /127s from it.</summary>
        public string IPv6 { get; set; } = DefaultIPv6;
    }

    /// <summary>A resolved topology: raw file -> defaults applied -> concrete hosts, routers and links.</summary>
    public sealed class TopologySpec
    {
        public List<HostSpec> Hosts { get; set; } = new List<HostSpec>();
        public List<RouterSpec> Routers { get; set; } = new List<RouterSpec>();
        public List<LinkSpec> Links { get; set; } = new List<LinkSpec>();
        /// <summary>The underlay between hosts (topology field <c>physicalLinks</c>).</summary>
        public List<PhysicalLinkSpec> PhysicalLinks { get; set; } = new List<PhysicalLinkSpec>();
        public AddressPools AddressPools { get; set; } = new AddressPools();
        /// <summary>Routing settings by network label (topology field <c>networks</c>); a network without an entry uses static routes.</summary>
        public List<NetworkSpec> Networks { get; set; } = new List<NetworkSpec>();
        /// <summary>The file the topology came from, if any.</summary>
        public string? SourceName { get; set; }
    }
}
