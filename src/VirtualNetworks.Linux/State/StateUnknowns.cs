using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;

namespace VirtualNetworks.Linux.State
{
    /// <summary>
    /// The names of the records that exist as files but could not be read (damaged, truncated, garbage, not ours, a name
    /// inside that does not match the file): what such a record describes is unknown, not absent. Clean-up leaves
    /// everything that may belong to one of these names alone, and Get-* warns about them. A record's file name is its
    /// lower-case name (physical links: "a--b"), so the name is known even when the contents are not.
    /// </summary>
    internal sealed class StateUnknowns
    {
        public static readonly StateUnknowns None = new StateUnknowns();

        public HashSet<string> Routers { get; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        public HashSet<string> Links { get; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        public HashSet<string> Hosts { get; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        public HashSet<string> PhysicalLinks { get; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase);

        public bool Any => Routers.Count + Links.Count + Hosts.Count + PhysicalLinks.Count > 0;

        /// <summary>Record files of each kind whose name is not among the records that were read.</summary>
        public static StateUnknowns Find(StateStore store, IEnumerable<string> routers, IEnumerable<string> links, IEnumerable<string> hosts,
            IEnumerable<string> physicalLinks)
        {
            var u = new StateUnknowns();
            Add(u.Routers, store.RoutersDirectory, routers);
            Add(u.Links, store.LinksDirectory, links);
            Add(u.Hosts, store.HostsDirectory, hosts);
            Add(u.PhysicalLinks, store.PhysicalLinksDirectory, physicalLinks);
            return u;
        }

        private static void Add(HashSet<string> into, string directory, IEnumerable<string> read)
        {
            var known = new HashSet<string>(read, StringComparer.OrdinalIgnoreCase);
            string[] files;
            try
            {
                if (!Directory.Exists(directory)) return;
                files = Directory.GetFiles(directory, "*.json");
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                return;
            }
            foreach (var f in files)
            {
                var fileName = Path.GetFileName(f);
                if (fileName.StartsWith(".", StringComparison.Ordinal)) continue; // temporary files of AtomicFile
                var name = Path.GetFileNameWithoutExtension(f);
                if (!known.Contains(name)) into.Add(name);
            }
        }
    }
}
