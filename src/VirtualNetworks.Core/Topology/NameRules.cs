using System;

namespace VirtualNetworks.Topology
{
    /// <summary>
    /// Names of routers, links, hosts and networks: letters, digits, '-', '_', '.'; 1-63 characters; must start with a
    /// letter or digit; no "..". Compared case-insensitively. Names reach command lines, so this is the gate.
    /// </summary>
    public static class NameRules
    {
        public const int MaxLength = 63;

        /// <summary>Null when valid, else the error (InvalidName or NameTooLong) naming <paramref name="what"/> (e.g. "router").</summary>
        public static TopologyError? Check(string? name, string what, string? jsonPath = null) => throw new NotImplementedException();

        /// <summary>Throws <see cref="VirtualNetworksException"/> when invalid.</summary>
        public static void Ensure(string? name, string what)
        {
            var e = Check(name, what);
            if (e != null) throw e.ToException();
        }
    }
}
