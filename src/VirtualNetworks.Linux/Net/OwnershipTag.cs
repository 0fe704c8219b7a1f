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
    /// <c>virtualnetworks:v2:&lt;stateid&gt;:&lt;role&gt;:&lt;object&gt;</c>, stateid the id of the state directory that
    /// created it (<see cref="State.StateStore.StateId"/>: 8 lowercase hex, random, stored in the state directory's
    /// <c>state-id</c> file), role one of bridge, tap, vxlan, host, veth; object the link name (bridge, vxlan),
    /// "router/link" (tap), the host name (host: the underlay anchor) or "host/peer" (veth: the end in host towards peer).
    /// Probe devices (short-lived, random names) belong to no state directory and keep the v1 form, with their owner
    /// process: <c>virtualnetworks:v1:probe:&lt;id&gt;:&lt;pidns&gt;:&lt;pid&gt;:&lt;starttime&gt;</c> (see
    /// <see cref="ProbeOwner"/>; orphan clean-up removes one only when that process is gone). Set with <c>ip link set dev X alias ...</c>. Only devices whose alias
    /// parses as a tag are ever modified or deleted; everything else belongs to someone else. Orphan clean-up only takes
    /// devices whose <see cref="StateId"/> is its own state directory's (see <see cref="BelongsTo"/>).
    /// </summary>
    /// <remarks>
    /// v1 tags of other roles (written before state ids existed) still parse, with <see cref="StateId"/> null: they are
    /// the module's (so they may be deleted or re-tagged), belong to no state directory, are adopted (re-tagged v2) when
    /// a state directory re-creates the same object, and are only listed as orphans by a full reset (-All). Probe tags
    /// without an owner (<c>virtualnetworks:v1:probe:&lt;id&gt;</c>, written by versions before owners were recorded)
    /// likewise: nothing proves their process is gone, so only a full reset takes them. Versions before owners were
    /// recorded read a probe tag with an owner as foreign (its object has ':'), so they never delete one.
    /// Object names follow <see cref="NameRules"/> (no ':' and no '/'), so the alias parses back unambiguously. Names keep
    /// the case they were created with and compare case-insensitively, like everywhere in the module.
    /// </remarks>
    public sealed class OwnershipTag : IEquatable<OwnershipTag>
    {
        /// <summary>Every alias the module writes starts with this (any version).</summary>
        public const string Prefix = "virtualnetworks:";
        /// <summary>The legacy format's prefix (probe tags; tags of other roles written before state ids).</summary>
        public const string V1Prefix = "virtualnetworks:v1:";
        /// <summary>The current format's prefix; the state id follows.</summary>
        public const string V2Prefix = "virtualnetworks:v2:";

        private OwnershipTag(OwnedRole role, string objectName, string? routerName, string? linkName, string? hostName = null, string? peerHostName = null)
        {
            Role = role;
            ObjectName = objectName;
            RouterName = routerName;
            LinkName = linkName;
            HostName = hostName;
            PeerHostName = peerHostName;
        }

        /// <summary>
        /// The id of the state directory that created the device; null for probe tags and legacy v1 tags (no state
        /// directory).
        /// </summary>
        public string? StateId { get; private set; }

        /// <summary>True when <paramref name="stateId"/> is a valid state id: 1 to 32 characters of [0-9a-z].</summary>
        public static bool IsValidStateId(string? stateId)
        {
            if (string.IsNullOrEmpty(stateId) || stateId!.Length > 32) return false;
            foreach (char c in stateId) if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z'))) return false;
            return true;
        }

        private static string CheckStateId(string stateId)
        {
            if (!IsValidStateId(stateId))
                throw new ArgumentException("The state id " + NetText.Quote(stateId) + " is not 1 to 32 characters of [0-9a-z].", nameof(stateId));
            return stateId;
        }

        private OwnershipTag WithState(string stateId)
        {
            StateId = CheckStateId(stateId);
            return this;
        }

        /// <summary>True when the tag carries state id <paramref name="stateId"/> (never for null on either side).</summary>
        public bool BelongsTo(string? stateId) => StateId != null && stateId != null && string.Equals(StateId, stateId, StringComparison.Ordinal);

        /// <summary>True for a tag without state id that names the same object as <paramref name="other"/> (a v1 tag to adopt).</summary>
        public bool IsLegacyOf(OwnershipTag other) =>
            other != null && StateId == null && Role != OwnedRole.Probe && Role == other.Role &&
            string.Equals(ObjectName, other.ObjectName, StringComparison.OrdinalIgnoreCase);

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
        public string Alias => (StateId == null ? V1Prefix : V2Prefix + StateId + ":") + RoleText(Role) + ":" + ObjectName +
                               (ProbeOwner == null ? "" : ":" + ProbeOwner.Text);

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

        public static OwnershipTag ForBridge(string stateId, string linkName)
        {
            NameRules.Ensure(linkName, "link");
            return new OwnershipTag(OwnedRole.Bridge, linkName, null, linkName).WithState(stateId);
        }

        public static OwnershipTag ForTap(string stateId, string routerName, string linkName)
        {
            NameRules.Ensure(routerName, "router");
            NameRules.Ensure(linkName, "link");
            return new OwnershipTag(OwnedRole.Tap, routerName + "/" + linkName, routerName, linkName).WithState(stateId);
        }

        public static OwnershipTag ForVxlan(string stateId, string linkName)
        {
            NameRules.Ensure(linkName, "link");
            return new OwnershipTag(OwnedRole.Vxlan, linkName, null, linkName).WithState(stateId);
        }

        /// <summary>The tag of <paramref name="hostName"/>'s underlay anchor.</summary>
        public static OwnershipTag ForHost(string stateId, string hostName)
        {
            NameRules.Ensure(hostName, "host");
            return new OwnershipTag(OwnedRole.Host, hostName, null, null, hostName).WithState(stateId);
        }

        /// <summary>The tag of the veth end living in <paramref name="hostName"/> towards <paramref name="peerHostName"/>.</summary>
        public static OwnershipTag ForVeth(string stateId, string hostName, string peerHostName)
        {
            NameRules.Ensure(hostName, "host");
            NameRules.Ensure(peerHostName, "host");
            return new OwnershipTag(OwnedRole.Veth, hostName + "/" + peerHostName, null, null, hostName, peerHostName).WithState(stateId);
        }

        /// <summary>A probe device's tag, owned by this process; <paramref name="probeId"/> follows <see cref="NameRules"/>.</summary>
        public static OwnershipTag ForProbe(string probeId) => ForProbe(probeId, ProbeOwner.Current);

        /// <summary>A probe device's tag owned by <paramref name="owner"/> (null: the old form without owner).</summary>
        public static OwnershipTag ForProbe(string probeId, ProbeOwner? owner)
        {
            NameRules.Ensure(probeId, "probe");
            return new OwnershipTag(OwnedRole.Probe, probeId, null, null) { ProbeOwner = owner };
        }

        /// <summary>The process that made a probe device; null for other roles and for probe tags of older versions.</summary>
        public ProbeOwner? ProbeOwner { get; private set; }

        /// <summary>
        /// True when <paramref name="alias"/> is a tag this version understands (v2 with a state id; v1 without, a v2
        /// probe tag is not written and not accepted). Null, empty or foreign text gives false.
        /// </summary>
        public static bool TryParse(string? alias, out OwnershipTag? tag)
        {
            tag = null;
            if (alias == null) return false;
            string? stateId = null;
            string rest;
            if (alias.StartsWith(V1Prefix, StringComparison.Ordinal)) rest = alias.Substring(V1Prefix.Length);
            else if (alias.StartsWith(V2Prefix, StringComparison.Ordinal))
            {
                rest = alias.Substring(V2Prefix.Length);
                int sc = rest.IndexOf(':');
                if (sc <= 0) return false;
                stateId = rest.Substring(0, sc);
                if (!IsValidStateId(stateId)) return false;
                rest = rest.Substring(sc + 1);
            }
            else return false;
            if (!TryParseBody(rest, out tag)) return false;
            if (stateId != null)
            {
                if (tag!.Role == OwnedRole.Probe) { tag = null; return false; }
                tag!.StateId = stateId;
            }
            return true;
        }

        private static bool TryParseBody(string rest, out OwnershipTag? tag)
        {
            tag = null;
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
                    int owner = obj.IndexOf(':');
                    string probeId = owner < 0 ? obj : obj.Substring(0, owner);
                    if (!NameRules.IsValid(probeId)) return false;
                    ProbeOwner? parsed = null;
                    if (owner >= 0 && !Net.ProbeOwner.TryParse(obj.Substring(owner + 1), out parsed)) return false;
                    tag = new OwnershipTag(OwnedRole.Probe, probeId, null, null) { ProbeOwner = parsed };
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

        /// <summary>Same role, object (case-insensitive), state id (ordinal; both null counts as equal) and probe owner.</summary>
        public bool Equals(OwnershipTag? other) =>
            other != null && Role == other.Role && string.Equals(ObjectName, other.ObjectName, StringComparison.OrdinalIgnoreCase) &&
            string.Equals(StateId, other.StateId, StringComparison.Ordinal) && Equals(ProbeOwner, other.ProbeOwner);

        public override bool Equals(object? obj) => Equals(obj as OwnershipTag);

        public override int GetHashCode() => ((int)Role * 397) ^ StringComparer.OrdinalIgnoreCase.GetHashCode(ObjectName) ^ (StateId?.GetHashCode() ?? 0);

        public override string ToString() => Alias;
    }
}
