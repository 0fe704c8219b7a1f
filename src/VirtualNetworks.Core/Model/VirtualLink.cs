using System.Collections.Generic;

namespace VirtualNetworks
{
    /// <summary>A point-to-point virtual link between two routers. Same type for every backend.</summary>
    public sealed class VirtualLink
    {
        public string Name { get; set; } = "";
        /// <summary>Name of the router at one end.</summary>
        public string From { get; set; } = "";
        /// <summary>Name of the router at the other end.</summary>
        public string To { get; set; } = "";
        /// <summary>Host of the <see cref="From"/> router.</summary>
        public string FromComputerName { get; set; } = "";
        /// <summary>Host of the <see cref="To"/> router.</summary>
        public string ToComputerName { get; set; } = "";
        /// <summary>Rate limit in bits per second applied to each direction; null means unlimited.</summary>
        public long? MaximumBandwidth { get; set; }
        public int? VlanId { get; set; }
        /// <summary>Administrative state: Up, or disabled as a pulled cable or a silent failure (Disable-VirtualLink).</summary>
        public LinkState State { get; set; }
        public LinkTransport Transport { get; set; }
        public string NetworkName { get; set; } = "";
        /// <summary>Address of the From end (CIDR), when the engine assigned one.</summary>
        public string? FromAddress { get; set; }
        /// <summary>Address of the To end (CIDR), when the engine assigned one.</summary>
        public string? ToAddress { get; set; }
        public string Id { get; set; } = "";
        public string? Status { get; set; }
        /// <summary>Tunnel id when the link crosses hosts (the VXLAN VNI on Linux); null otherwise.</summary>
        public int? TunnelId { get; set; }
        /// <summary>
        /// The hosts the link's traffic crosses on the underlay, from <see cref="FromComputerName"/> to
        /// <see cref="ToComputerName"/> (both included); one element for a link inside one host.
        /// </summary>
        public IReadOnlyList<string> UnderlayPath { get; set; } = System.Array.Empty<string>();

        /// <summary>True when the two ends are on different hosts.</summary>
        public bool IsCrossHost => !string.Equals(FromComputerName, ToComputerName, System.StringComparison.OrdinalIgnoreCase);

        public VirtualLink Clone() => (VirtualLink)MemberwiseClone();

        public override string ToString() => Name;
    }
}
