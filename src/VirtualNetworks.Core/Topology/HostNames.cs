using System;

namespace VirtualNetworks.Topology
{
    /// <summary>Host name rules shared by validation, planning and backends.</summary>
    public static class HostNames
    {
        // Read once: Environment.MachineName asks the OS every time, and planning calls this per router.
        private static readonly string MachineName = Environment.MachineName;

        /// <summary>The name the local machine is shown under.</summary>
        public static string LocalName => MachineName;

        /// <summary>True for "", ".", "localhost" and this machine's name (case-insensitive).</summary>
        public static bool IsLocalHost(string? host) =>
            string.IsNullOrEmpty(host)
            || host == "."
            || string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)
            || string.Equals(host, MachineName, StringComparison.OrdinalIgnoreCase);

        /// <summary>Maps local aliases to <see cref="LocalName"/>; other names unchanged.</summary>
        public static string Canonical(string? host) => IsLocalHost(host) ? LocalName : host!;
    }
}
