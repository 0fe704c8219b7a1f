using System;
using System.Collections.Generic;

namespace VirtualNetworks.Graph
{
    /// <summary>Result of grouping: the networks, and for each router/link the name of its network.</summary>
    public sealed class GroupingResult
    {
        public List<VirtualNetwork> Networks { get; set; } = new List<VirtualNetwork>();
        public Dictionary<string, string> NetworkOfRouter { get; set; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        public Dictionary<string, string> NetworkOfLink { get; set; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>
    /// Virtual networks are the connected components of the router/link graph (computed, never declared). Naming: the
    /// routers' common label; several labels (a forced merge) joined with '+' in ordinal order; unlabelled components get
    /// "vn-" + their smallest router name (lower case). Same-named components get "#2", "#3", ... in order of their
    /// smallest router name. Links whose ends are unknown routers are ignored for grouping.
    /// </summary>
    public static class NetworkGrouper
    {
        /// <summary>Groups observed routers and links; also fills NetworkName on the given objects.</summary>
        public static GroupingResult Group(IReadOnlyList<VirtualRouter> routers, IReadOnlyList<VirtualLink> links) => throw new NotImplementedException();

        /// <summary>Core algorithm on an integer graph: component index (0..k-1, in order of first vertex) per vertex.</summary>
        public static int[] Components(int vertexCount, int[] from, int[] to, out int componentCount) => throw new NotImplementedException();
    }
}
