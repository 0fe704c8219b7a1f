using System;

namespace VirtualNetworks.Topology
{
    /// <summary>The topology file's words for <see cref="LinkState"/>: "up", "cablePulled", "silent".</summary>
    public static class LinkStates
    {
        /// <summary>The word the topology file uses for <paramref name="state"/>.</summary>
        public static string ToText(LinkState state) => state switch
        {
            LinkState.CablePulled => "cablePulled",
            LinkState.Silent => "silent",
            _ => "up",
        };

        /// <summary>Parses "up", "cablePulled" or "silent" (case-insensitive).</summary>
        public static bool TryParse(string? text, out LinkState state)
        {
            foreach (LinkState s in new[] { LinkState.Up, LinkState.CablePulled, LinkState.Silent })
            {
                if (string.Equals(text, ToText(s), StringComparison.OrdinalIgnoreCase))
                {
                    state = s;
                    return true;
                }
            }
            state = LinkState.Up;
            return false;
        }
    }
}
