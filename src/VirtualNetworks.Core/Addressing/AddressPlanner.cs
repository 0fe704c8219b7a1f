using System;
using System.Collections.Generic;

namespace VirtualNetworks.Addressing
{
    /// <summary>Addresses and routes for every router, plus each link's two end addresses.</summary>
    public sealed class AddressPlan
    {
        public Dictionary<string, RouterConfiguration> Routers { get; set; } = new Dictionary<string, RouterConfiguration>(StringComparer.OrdinalIgnoreCase);
        /// <summary>Link name -> (From address CIDR, To address CIDR).</summary>
        public Dictionary<string, (string From, string To)> Links { get; set; } = new Dictionary<string, (string, string)>(StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>
    /// Point-to-point addressing (/31 for IPv4 VNs, /127 for IPv6 VNs) from configurable pools, and shortest-path static
    /// routes inside each VN so every router reaches every address in its VN. Deterministic for the same topology.
    /// </summary>
    public static class AddressPlanner
    {
        /// <summary>
        /// Plans addressing. Routers carry AddressFamily; a VN whose routers disagree is an AddressFamilyConflict error;
        /// an exhausted pool is AddressPoolExhausted (both as <see cref="VirtualNetworksException"/>).
        /// </summary>
        public static AddressPlan Plan(IReadOnlyList<RouterSpec> routers, IReadOnlyList<LinkSpec> links, AddressPools pools) => throw new NotImplementedException();
    }
}
