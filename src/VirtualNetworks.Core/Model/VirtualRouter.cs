using System;
using System.Collections.Generic;

namespace VirtualNetworks
{
    /// <summary>A virtual router (a VM running a router OS) as observed on its host. Same type for every backend.</summary>
    public sealed class VirtualRouter
    {
        public string Name { get; set; } = "";
        /// <summary>The host (real machine) the router runs on.</summary>
        public string ComputerName { get; set; } = "";
        public RouterState State { get; set; }
        /// <summary>The virtual network (connected component) this router belongs to; computed, never declared.</summary>
        public string NetworkName { get; set; } = "";
        /// <summary>The intent label given at creation (topology field <c>network</c>); may be empty.</summary>
        public string? NetworkLabel { get; set; }
        public NetworkAddressFamily AddressFamily { get; set; } = NetworkAddressFamily.IPv4;
        public string Image { get; set; } = "";
        public int ProcessorCount { get; set; } = 1;
        public int MemoryMB { get; set; } = 128;
        /// <summary>The backend's own identifier (Hyper-V VM GUID, Linux state key, ...).</summary>
        public string Id { get; set; } = "";
        /// <summary>The backend kind that manages this router ("Linux", "HyperV", ...).</summary>
        public string Backend { get; set; } = "";
        /// <summary>Names of the links attached to this router.</summary>
        public IReadOnlyList<string> Links { get; set; } = Array.Empty<string>();
        /// <summary>Addresses configured on the router's interfaces (CIDR notation).</summary>
        public IReadOnlyList<string> Addresses { get; set; } = Array.Empty<string>();
        /// <summary>Free text describing drift between intent and what was observed; null when none.</summary>
        public string? Status { get; set; }
        /// <summary>
        /// How long the router's guest had been up when a readiness wait (Wait-VirtualRouter, or -Wait of Deploy-VirtualNetwork,
        /// Start-VirtualRouter and Resume-VirtualRouter) saw it ready; null on objects from other commands, and when the backend
        /// does not know the guest's uptime. A guest that was not restarted has a larger value on every later wait.
        /// </summary>
        public TimeSpan? GuestUptime { get; set; }

        public VirtualRouter Clone()
        {
            var c = (VirtualRouter)MemberwiseClone();
            return c;
        }

        public override string ToString() => Name;
    }
}
