namespace VirtualNetworks.Topology
{
    /// <summary>Values a router gets when neither it nor the topology's "defaults" section says otherwise.</summary>
    /// <remarks>
    /// Memory has no value here: it depends on the backend's router image, so a router that gives none keeps
    /// <see cref="RouterSpec.MemoryMB"/> null and gets <see cref="Backends.BackendCapabilities.DefaultMemoryMB"/>
    /// (128 MB on Linux, 512 MB on Hyper-V) once the backend is known.
    /// </remarks>
    public static class TopologyDefaults
    {
        public const string Image = "router";
        public const int ProcessorCount = 1;
        public const NetworkAddressFamily AddressFamily = NetworkAddressFamily.IPv4;
    }

    /// <summary>The field names the topology reader accepts in each kind of object (case-sensitive, camelCase).</summary>
    internal static class TopologyFields
    {
        public static readonly string[] Root = { "$schema", "hosts", "routers", "links", "defaults", "physicalLinks", "networks" };
        public static readonly string[] Host = { "name", "kind" };
        public static readonly string[] Router = { "name", "host", "image", "processorCount", "memoryMB", "network", "addressFamily" };
        public static readonly string[] Link = { "name", "from", "to", "maximumBandwidth", "vlanId", "state" };
        public static readonly string[] Network =
            { "name", "routing", "bfd", "helloIntervalSec", "deadIntervalSec", "bfdIntervalMs", "bfdMultiplier" };
        public static readonly string[] Defaults =
            { "host", "image", "processorCount", "memoryMB", "addressFamily", "network", "maximumBandwidth", "ipv4AddressPool", "ipv6AddressPool" };
        public static readonly string[] PhysicalLink = { "from", "to" };
    }
}
