using System;
using System.Collections.Generic;

namespace VirtualNetworks
{
    /// <summary>A real machine (or a lab host standing in for one) that runs virtual routers.</summary>
    public sealed class VirtualHost
    {
        public string Name { get; set; } = "";
        /// <summary>Backend kind used for this host ("Linux", "HyperV", ...).</summary>
        public string Kind { get; set; } = "";
        /// <summary>True for a lab host: on Linux a network namespace standing in for a machine (not the local machine).</summary>
        public bool IsLabHost { get; set; }
        /// <summary>True when a Deploy-VirtualNetwork created this lab host (Remove-VirtualNetwork removes it once unused).</summary>
        public bool CreatedByDeployment { get; set; }
        /// <summary>
        /// The virtual networks (their labels; an unlabelled network's generated name) of the deployments that created or
        /// used this lab host. Remove-VirtualNetwork removes a deploy-created lab host once nothing uses it and no network
        /// it lists is left, even after the removed network's routers are all gone (an interrupted removal re-run).
        /// </summary>
        public IReadOnlyList<string> DeployedFor { get; set; } = Array.Empty<string>();
        /// <summary>The host's address on the underlay (tunnel endpoint), when it has one.</summary>
        public string? UnderlayAddress { get; set; }
        /// <summary>Routers placed on this host (filled by the engine from the inventory).</summary>
        public IReadOnlyList<string> Routers { get; set; } = Array.Empty<string>();
        /// <summary>Hosts this host has a physical link to.</summary>
        public IReadOnlyList<string> Neighbors { get; set; } = Array.Empty<string>();
        /// <summary>Drift or problems observed on the host; null when none.</summary>
        public string? Status { get; set; }
        /// <summary>
        /// How many more routers with the backend's default memory the host's machine can start now, by the backend's
        /// admission check: the fewer of (memory it can give routers ÷ what one router takes) and (its router limit − the
        /// routers it has). Lab hosts on Linux share the local machine's memory and cores, so they show the same figure.
        /// Null when the backend does not tell (Hyper-V) or could not read the machine's memory.
        /// </summary>
        public int? RouterCapacity { get; set; }
        /// <summary>
        /// The memory (MB) one router with the backend's default memory takes from the machine in the admission check
        /// (guest memory + measured QEMU overhead); null when <see cref="RouterCapacity"/> is.
        /// </summary>
        public int? MemoryPerRouterMB { get; set; }
        /// <summary>The memory (MB) the machine can give routers now (Linux: MemAvailable minus the host's reserve); null when <see cref="RouterCapacity"/> is.</summary>
        public long? MemoryForRoutersMB { get; set; }
        public override string ToString() => Name;
    }

    /// <summary>An observed physical (underlay) link between two hosts.</summary>
    public sealed class PhysicalLink
    {
        public string From { get; set; } = "";
        public string To { get; set; } = "";
        /// <summary>Address of the From end on this link (CIDR), when the backend assigned one.</summary>
        public string? FromAddress { get; set; }
        public string? ToAddress { get; set; }
        /// <summary>The backend's identifier (e.g. the veth names).</summary>
        public string Id { get; set; } = "";
        /// <summary>Drift observed (an end missing, down); null when healthy.</summary>
        public string? Status { get; set; }
        /// <summary>The canonical name "a--b" with the two host names in ordinal, case-insensitive order.</summary>
        public string Name => NameOf(From, To);
        public static string NameOf(string a, string b) =>
            string.Compare(a, b, StringComparison.OrdinalIgnoreCase) <= 0 ? a + "--" + b : b + "--" + a;
        public override string ToString() => Name;
    }
}
