using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;

namespace VirtualNetworks.Linux.Net
{
    /// <summary>An interface that carries the module's ownership tag.</summary>
    public sealed class OwnedInterface
    {
        public OwnedInterface(LinkInfo link, string? networkNamespace)
        {
            Link = link;
            NetworkNamespace = networkNamespace;
        }

        public LinkInfo Link { get; }
        public OwnershipTag Tag => Link.Tag!;
        public string Name => Link.Name;
        /// <summary>The namespace it was found in; null = the caller's.</summary>
        public string? NetworkNamespace { get; }

        /// <summary>
        /// False when the interface name is not the one <see cref="InterfaceNames"/> gives the tagged object (a tag copied
        /// or edited by hand). Probe devices have random names and always count as matching.
        /// </summary>
        public bool NameMatchesTag
        {
            get
            {
                string? expected = Tag.ExpectedInterfaceName;
                return expected == null || string.Equals(expected, Link.Name, StringComparison.Ordinal);
            }
        }

        public override string ToString() => Name + " " + Tag.Alias;
    }

    /// <summary>
    /// The network side of orphan clean-up: finds every interface whose ifalias is a VirtualNetworks tag of one state
    /// directory (optionally only those of given routers or links) and removes them. Untagged interfaces and other state
    /// directories' interfaces are never listed, so never removed.
    /// </summary>
    public static class NetworkOrphanScanner
    {
        /// <summary>
        /// Every tagged interface in <paramref name="ip"/>'s namespace that belongs to state directory
        /// <paramref name="stateId"/> (<see cref="OwnershipTag.BelongsTo"/>), plus probe leftovers (no state directory):
        /// probe devices whose owner process is gone (<see cref="ProbeOwnerState.Gone"/>; a live owner's, or one in
        /// another pid namespace, is never listed, whoever asks), and probe devices without owner (older versions) only
        /// with <paramref name="includeLegacy"/>, like legacy v1 tags of other roles. Another state directory's devices are
        /// never listed (so never removed). With <paramref name="objectNames"/>, only those whose tag names one of them
        /// (case-insensitive) as its link, its router, or its whole object ("router/link" or a probe id); with
        /// <paramref name="roles"/>, only those roles.
        /// </summary>
        public static IReadOnlyList<OwnedInterface> FindOwned(IpCommand ip, string? stateId, IEnumerable<string>? objectNames = null,
            IEnumerable<OwnedRole>? roles = null, bool includeLegacy = false, CancellationToken cancellationToken = default)
        {
            if (ip == null) throw new ArgumentNullException(nameof(ip));
            var names = objectNames == null ? null : new HashSet<string>(objectNames, StringComparer.OrdinalIgnoreCase);
            var roleSet = roles == null ? null : new HashSet<OwnedRole>(roles);
            var found = new List<OwnedInterface>();
            foreach (var link in ip.ListLinks(cancellationToken))
            {
                var tag = link.Tag;
                if (tag == null) continue;
                if (tag.StateId != null) { if (!tag.BelongsTo(stateId)) continue; }
                else if (tag.Role == OwnedRole.Probe) { if (!IsProbeLeftover(tag, includeLegacy)) continue; }
                else if (!includeLegacy) continue;
                if (roleSet != null && !roleSet.Contains(tag.Role)) continue;
                if (names != null && !Matches(tag, names)) continue;
                found.Add(new OwnedInterface(link, ip.NetworkNamespace));
            }
            return found;
        }

        /// <summary>
        /// Deletes the given interfaces (taps and VXLAN devices first, then bridges), each re-checked for its tag right
        /// before deletion. Returns the names actually deleted; ones already gone are skipped.
        /// </summary>
        public static IReadOnlyList<string> Remove(IpCommand ip, IEnumerable<OwnedInterface> interfaces, CancellationToken cancellationToken = default)
        {
            if (ip == null) throw new ArgumentNullException(nameof(ip));
            var removed = new List<string>();
            foreach (var item in interfaces.OrderBy(i => i.Tag.Role == OwnedRole.Bridge ? 1 : 0).ThenBy(i => i.Name, StringComparer.Ordinal))
            {
                cancellationToken.ThrowIfCancellationRequested();
                // Re-check right before deleting: the device of that name must still carry the listed tag (same state id).
                var now = ip.GetLink(item.Name, cancellationToken);
                if (now?.Tag == null || !now.Tag.Equals(item.Tag)) continue;
                // A probe device only while its owner is (still) gone; an owner-less one was listed by a full reset.
                if (now.Tag.Role == OwnedRole.Probe && !IsProbeLeftover(now.Tag, includeLegacy: true)) continue;
                if (ip.Delete(item.Name, cancellationToken)) removed.Add(item.Name);
            }
            return removed;
        }

        /// <summary>
        /// True for a probe device nobody uses: its owner process is gone. A probe tag without owner (older versions)
        /// counts only with <paramref name="includeLegacy"/>: nothing proves its process ended.
        /// </summary>
        public static bool IsProbeLeftover(OwnershipTag tag, bool includeLegacy)
        {
            if (tag == null) throw new ArgumentNullException(nameof(tag));
            if (tag.Role != OwnedRole.Probe) return false;
            return tag.ProbeOwner == null ? includeLegacy : tag.ProbeOwner.State() == ProbeOwnerState.Gone;
        }

        private static bool Matches(OwnershipTag tag, HashSet<string> names) =>
            names.Contains(tag.ObjectName) ||
            (tag.LinkName != null && names.Contains(tag.LinkName)) ||
            (tag.RouterName != null && names.Contains(tag.RouterName));
    }
}
