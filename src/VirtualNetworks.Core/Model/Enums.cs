namespace VirtualNetworks
{
    /// <summary>Lifecycle state of a virtual router, as observed on its host.</summary>
    public enum RouterState
    {
        Unknown = 0,
        Off,
        Starting,
        Running,
        Paused,
        Stopping,
        Saved,
        /// <summary>The router's VM is gone or its process died while the module expected it to run (drift).</summary>
        Failed,
    }

    /// <summary>Address family of a virtual network (the paper's Figure 1 has one IPv4 and one IPv6 VN).</summary>
    public enum NetworkAddressFamily
    {
        IPv4 = 4,
        IPv6 = 6,
    }

    /// <summary>How a virtual link is realised by the backend.</summary>
    public enum LinkTransport
    {
        Unknown = 0,
        /// <summary>A dedicated L2 segment (Linux bridge) on one host; the VLAN id is kept as data only.</summary>
        Bridge,
        /// <summary>A dedicated L2 segment whose ports carry the link's VLAN id as a tag.</summary>
        TaggedBridge,
        /// <summary>A switch port pair in VLAN access mode (Hyper-V fabric switch).</summary>
        Vlan,
        /// <summary>A VXLAN tunnel across hosts.</summary>
        Vxlan,
    }

    /// <summary>Kind of live or cold migration.</summary>
    public enum MigrationMode
    {
        Live = 0,
        Cold,
    }
}
