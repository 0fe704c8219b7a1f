using System;
using System.Collections.Generic;
using VirtualNetworks.Backends;

namespace VirtualNetworks.Topology
{
    /// <summary>What validation checks a topology against.</summary>
    public sealed class ValidationContext
    {
        public BackendCapabilities Capabilities { get; set; } = new BackendCapabilities();
        /// <summary>Hosts that exist (observed) in addition to those the topology declares. Empty host = local.</summary>
        public ICollection<string> KnownHosts { get; set; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        /// <summary>(image, host) -> exists. Null skips the image check.</summary>
        public Func<string, string, bool>? ImageExists { get; set; }
        /// <summary>What is already deployed; routers/links in the topology with the same name are the same objects.</summary>
        public BackendInventory? Observed { get; set; }
        /// <summary>Allow links that join differently labelled virtual networks (the isolation guard).</summary>
        public bool Force { get; set; }
    }

    /// <summary>Stage 3 of the topology pipeline: every check that must pass before anything changes.</summary>
    public static class TopologyValidator
    {
        /// <summary>Returns all problems found (empty = valid). Never throws for bad content.</summary>
        public static List<TopologyError> Validate(TopologySpec spec, ValidationContext context) => throw new NotImplementedException();
    }
}
