using System;
using System.Collections.Generic;

namespace VirtualNetworks
{
    /// <summary>A virtual network: the transitive closure of interconnected routers. Computed from observed state.</summary>
    public sealed class VirtualNetwork
    {
        public string Name { get; set; } = "";
        public IReadOnlyList<string> Routers { get; set; } = Array.Empty<string>();
        public IReadOnlyList<string> Links { get; set; } = Array.Empty<string>();
        /// <summary>Hosts the network spans.</summary>
        public IReadOnlyList<string> Hosts { get; set; } = Array.Empty<string>();
        /// <summary>The distinct intent labels of the member routers (more than one only after a forced merge).</summary>
        public IReadOnlyList<string> Labels { get; set; } = Array.Empty<string>();
        public NetworkAddressFamily? AddressFamily { get; set; }

        public override string ToString() => Name;
    }
}
