using System;
using System.Collections.Generic;

namespace VirtualNetworks
{
    /// <summary>A virtual network: the transitive closure of interconnected routers. Computed from observed state.</summary>
    public sealed class VirtualNetwork
    {
        public string Name { get; set; } = "";
        /// <summary>
        /// The name every fragment of the network shares: the routers' label (labels joined with '+'), or the generated
        /// "vn-" name. <see cref="Name"/> adds "#2", "#3", ... when several components share it (routers of one label that
        /// no link joins, e.g. after an interrupted removal); Remove-VirtualNetwork with the base name removes them all.
        /// </summary>
        public string BaseName { get; set; } = "";
        /// <summary>How many components share <see cref="BaseName"/> (1 when the network is in one piece).</summary>
        public int FragmentCount { get; set; } = 1;
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
