using System;
using VirtualNetworks.Topology;

namespace VirtualNetworks.Linux.Net
{
    /// <summary>What an interface the module created is for.</summary>
    public enum OwnedRole
    {
        /// <summary>The bridge that is a link's L2 segment (object: the link name).</summary>
        Bridge,
        /// <summary>A router adapter's tap on a link (object: "router/link").</summary>
        Tap,
        /// <summary>A link's VXLAN device towards another host (object: the link name).</summary>
        Vxlan,
        /// <summary>A short-lived device of the capability probe (object: the probe id); deleted right after use.</summary>
        Probe,
        /// <summary>A host's underlay anchor (object: the host name); in a lab host also the namespace's ownership marker.</summary>
        Host,
        /// <summary>One end of a physical link's veth pair (object: "host/peer", the end living in host).</summary>
        Veth,
    }

    /// <summary>
    /// The ownership marker every interface the module creates carries in its ifalias:
    /// <c>virtualnetworks:v1:&lt;role&gt;:&lt;object&gt;</c>, role one of bridge, tap, vxlan, probe, host, veth; object the
    /// link name (bridge, vxlan), "router/link" (tap), the probe id, the host name (host: the underlay anchor) or
    /// "host/peer" (veth: the end in host towards peer). Set with <c>ip link set dev X alias ...</c>. Only devices whose
    /// alias parses as a tag are ever modified or deleted; everything else belongs to someone else.
    /// </summary>
    /// <remarks>
    /// Object names follow <see cref="NameRules"/> (no ':' and no '/'), so the alias parses back unambiguously. Names keep
    /// the case they were created with and compare case-insensitively, like everywhere in the module.
    /// </remarks>
    public sealed class OwnershipTag : IEquatable<OwnershipTag>
    {
        /// <summary>Every alias the module writes starts with this (any version).</summary>
        public const string Prefix = "virtualnetworks:";
        /// <summary>The current format version's prefix.</summary>
        public const string V1Prefix = "virtualnetworks:v1:";

        private OwnershipTag(OwnedRole role, string objectName, string? routerName, string? linkName, string? hostName = null, string? peerHostName = null)
        {
            Role = role;
            ObjectName = objectName;
            RouterName = routerName;
            LinkName = linkName;
            HostName = hostName;
            PeerHostName = peerHostName;
        }

        /// <summary>The host of an anchor or of a veth end; null for other roles.</summary>
        public string? HostName { get; }
        /// <summary>The host a veth end leads to; null for other roles.</summary>
        public string? PeerHostName { get; }

        public OwnedRole Role { get; }
        /// <summary>The link name (bridge, vxlan), "router/link" (tap) or the probe id.</summary>
        public string ObjectName { get; }
        /// <summary>The router of a tap; null for other roles.</summary>
        public string? RouterName { get; }
        /// <summary>The link of a bridge, tap or vxlan device; null for probes.</summary>
        public string? LinkName { get; }

        /// <summary>The ifalias text.</summary>
        public string Alias => V1Prefix + RoleText(Role) + ":" + ObjectName;

        /// <summary>The interface name this tag's object gets from <see cref="InterfaceNames"/>; null for probes (random names).</summary>
        public string? ExpectedInterfaceName
        {
            get
            {
                switch (Role)
                {
                    case OwnedRole.Bridge: return InterfaceNames.Bridge(LinkName!);
                    case OwnedRole.Tap: return InterfaceNames.Tap(RouterName!, LinkName!);
                    case OwnedRole.Vxlan: return InterfaceNames.Vxlan(LinkName!);
                    case OwnedRole.Host: return InterfaceNames.Anchor(HostName!);
                    case OwnedRole.Veth: return InterfaceNames.Veth(HostName!, PeerHostName!);
                    default: return null;
                }
            }
        }

        public static OwnershipTag ForBridge(string linkName)
        {
            NameRules.Ensure(linkName, "link");
            return new OwnershipTag(OwnedRole.Bridge, linkName, null, linkName);
        }

        public static OwnershipTag ForTap(string routerName, string linkName)
        {
            NameRules.Ensure(routerName, "router");
            NameRules.Ensure(linkName, "link");
            return new OwnershipTag(OwnedRole.Tap, routerName + "/" + linkName, routerName, linkName);
        }

        public static OwnershipTag ForVxlan(string linkName)
        {
            NameRules.Ensure(linkName, "link");
            return new OwnershipTag(OwnedRole.Vxlan, linkName, null, linkName);
        }

        /// <summary>The tag of <paramref name="hostName"/>'s underlay anchor.</summary>
        public static OwnershipTag ForHost(string hostName)
        {
            NameRules.Ensure(hostName, "host");
            return new OwnershipTag(OwnedRole.Host, hostName, null, null, hostName);
        }

        /// <summary>The tag of the veth end living in <paramref name="hostName"/> towards <paramref name="peerHostName"/>.</summary>
        public static OwnershipTag ForVeth(string hostName, string peerHostName)
        {
            NameRules.Ensure(hostName, "host");
            NameRules.Ensure(peerHostName, "host");
            return new OwnershipTag(OwnedRole.Veth, hostName + "/" + peerHostName, null, null, hostName, peerHostName);
        }

        /// <summary>A probe device's tag; <paramref name="probeId"/> follows <see cref="NameRules"/>.</summary>
        public static OwnershipTag ForProbe(string probeId)
        {
            NameRules.Ensure(probeId, "probe");
            return new OwnershipTag(OwnedRole.Probe, probeId, null, null);
        }

        /// <summary>True when <paramref name="alias"/> is a tag this version understands. Null, empty or foreign text gives false.</summary>
        public static bool TryParse(string? alias, out OwnershipTag? tag)
        {
            tag = null;
            if (alias == null || !alias.StartsWith(V1Prefix, StringComparison.Ordinal)) return false;
            string rest = alias.Substring(V1Prefix.Length);
            int colon = rest.IndexOf(':');
            if (colon <= 0) return false;
            string role = rest.Substring(0, colon);
            string obj = rest.Substring(colon + 1);
            switch (role)
            {
                case "bridge":
                    if (!NameRules.IsValid(obj)) return false;
                    tag = new OwnershipTag(OwnedRole.Bridge, obj, null, obj);
                    return true;
                case "vxlan":
                    if (!NameRules.IsValid(obj)) return false;
                    tag = new OwnershipTag(OwnedRole.Vxlan, obj, null, obj);
                    return true;
                case "probe":
                    if (!NameRules.IsValid(obj)) return false;
                    tag = new OwnershipTag(OwnedRole.Probe, obj, null, null);
                    return true;
                case "host":
                    if (!NameRules.IsValid(obj)) return false;
                    tag = new OwnershipTag(OwnedRole.Host, obj, null, null, obj);
                    return true;
                case "veth":
                    int vs = obj.IndexOf('/');
                    if (vs <= 0) return false;
                    string h = obj.Substring(0, vs), peer = obj.Substring(vs + 1);
                    if (!NameRules.IsValid(h) || !NameRules.IsValid(peer)) return false;
                    tag = new OwnershipTag(OwnedRole.Veth, obj, null, null, h, peer);
                    return true;
                case "tap":
                    int slash = obj.IndexOf('/');
                    if (slash <= 0) return false;
                    string router = obj.Substring(0, slash), link = obj.Substring(slash + 1);
                    if (!NameRules.IsValid(router) || !NameRules.IsValid(link)) return false;
                    tag = new OwnershipTag(OwnedRole.Tap, obj, router, link);
                    return true;
                default:
                    return false;
            }
        }

        /// <summary>Parses <paramref name="alias"/>; null when it is not a tag.</summary>
        public static OwnershipTag? Parse(string? alias) => TryParse(alias, out var tag) ? tag : null;

        /// <summary>True when <paramref name="alias"/> starts with <see cref="Prefix"/> (possibly a version this code cannot read).</summary>
        public static bool HasPrefix(string? alias) => alias != null && alias.StartsWith(Prefix, StringComparison.Ordinal);

        internal static string RoleText(OwnedRole role)
        {
            switch (role)
            {
                case OwnedRole.Bridge: return "bridge";
                case OwnedRole.Tap: return "tap";
                case OwnedRole.Vxlan: return "vxlan";
                case OwnedRole.Probe: return "probe";
                case OwnedRole.Host: return "host";
                case OwnedRole.Veth: return "veth";
                default: throw new ArgumentOutOfRangeException(nameof(role));
            }
        }

        public bool Equals(OwnershipTag? other) =>
            other != null && Role == other.Role && string.Equals(ObjectName, other.ObjectName, StringComparison.OrdinalIgnoreCase);

        public override bool Equals(object? obj) => Equals(obj as OwnershipTag);

        public override int GetHashCode() => ((int)Role * 397) ^ StringComparer.OrdinalIgnoreCase.GetHashCode(ObjectName);

        public override string ToString() => Alias;
    }
}
