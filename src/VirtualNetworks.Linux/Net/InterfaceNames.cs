using System;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using VirtualNetworks.Topology;

namespace VirtualNetworks.Linux.Net
{
    /// <summary>
    /// Deterministic kernel interface names for the objects of a virtual network. The kernel allows at most 15 characters
    /// (IFNAMSIZ 16 minus the terminating NUL), far fewer than a router or link name may have (63), so a name is a
    /// 3-letter role prefix plus the first 10 lowercase hex digits (40 bits) of SHA-256 over the lowercased object name:
    /// <list type="bullet">
    /// <item>bridge of a link: <c>vnb</c> + hex(SHA-256(lower(link)))</item>
    /// <item>tap of a router's adapter on a link: <c>vnt</c> + hex(SHA-256(lower(router) + "/" + lower(link)))</item>
    /// <item>VXLAN device of a link (cross-host links): <c>vnx</c> + hex(SHA-256(lower(link)))</item>
    /// <item>underlay anchor of a host (a port-less bridge holding the host's underlay /32, and in a lab host the
    /// namespace's ownership marker): <c>vnu</c> + hex(SHA-256(lower(host)))</item>
    /// <item>veth end in host H towards host P (a physical link): <c>vnv</c> + hex(SHA-256(lower(H) + "/" + lower(P)))</item>
    /// </list>
    /// Lab hosts are network namespaces named <c>vnh-</c> + hex(SHA-256(lower(host))) (see <see cref="Namespace"/>).
    /// 13 characters, always. Names are compared case-insensitively elsewhere, so the same object always maps to the same
    /// interface, across runs and across hosts.
    /// </summary>
    /// <remarks>
    /// <para>Collision odds: 40 bits per role. With n objects of one role on one host, the chance that any two share a
    /// name is about n^2 / 2^41: 1 000 links ~ 4.5e-7, 10 000 links ~ 4.5e-5, 100 000 taps ~ 4.5e-3. A collision is never
    /// silent: every device carries its object's <see cref="OwnershipTag"/>, and creating a device whose name is already
    /// taken by a device tagged for another object (or by an untagged one) fails with an error naming both.</para>
    /// <para>The prefixes <c>vnb</c>, <c>vnt</c>, <c>vnx</c> are reserved for these names; <c>vnp</c> is used by
    /// <see cref="LinuxCapabilities"/> for short-lived probe devices (tagged with their owner process, see
    /// <see cref="ProbeOwner"/>), and <c>vntest</c> by the tests.</para>
    /// </remarks>
    public static class InterfaceNames
    {
        /// <summary>The kernel limit (IFNAMSIZ - 1).</summary>
        public const int MaxLength = 15;
        /// <summary>Hex digits of the hash in a name.</summary>
        public const int HashDigits = 10;
        public const string BridgePrefix = "vnb";
        public const string TapPrefix = "vnt";
        public const string VxlanPrefix = "vnx";
        public const string ProbePrefix = "vnp";
        public const string AnchorPrefix = "vnu";
        public const string VethPrefix = "vnv";
        /// <summary>Prefix of lab-host network namespaces (a file name under /run/netns, not an interface name).</summary>
        public const string NamespacePrefix = "vnh-";

        /// <summary>The bridge that is the L2 segment of <paramref name="linkName"/>.</summary>
        public static string Bridge(string linkName)
        {
            NameRules.Ensure(linkName, "link");
            return BridgePrefix + Hash(linkName.ToLowerInvariant());
        }

        /// <summary>The tap of <paramref name="routerName"/>'s adapter on <paramref name="linkName"/>.</summary>
        public static string Tap(string routerName, string linkName)
        {
            NameRules.Ensure(routerName, "router");
            NameRules.Ensure(linkName, "link");
            return TapPrefix + Hash(routerName.ToLowerInvariant() + "/" + linkName.ToLowerInvariant());
        }

        /// <summary>The VXLAN device that carries <paramref name="linkName"/> to another host (one per link per host).</summary>
        public static string Vxlan(string linkName)
        {
            NameRules.Ensure(linkName, "link");
            return VxlanPrefix + Hash(linkName.ToLowerInvariant());
        }

        /// <summary>The network namespace of lab host <paramref name="hostName"/>: <c>vnh-</c> + 10 hex digits.</summary>
        public static string Namespace(string hostName)
        {
            NameRules.Ensure(hostName, "host");
            return NamespacePrefix + Hash(hostName.ToLowerInvariant());
        }

        /// <summary>The underlay anchor of <paramref name="hostName"/>: a port-less tagged bridge that holds its underlay /32.</summary>
        public static string Anchor(string hostName)
        {
            NameRules.Ensure(hostName, "host");
            return AnchorPrefix + Hash(hostName.ToLowerInvariant());
        }

        /// <summary>The veth end that lives in <paramref name="hostName"/> and leads to <paramref name="peerHostName"/>.</summary>
        public static string Veth(string hostName, string peerHostName)
        {
            NameRules.Ensure(hostName, "host");
            NameRules.Ensure(peerHostName, "host");
            return VethPrefix + Hash(hostName.ToLowerInvariant() + "/" + peerHostName.ToLowerInvariant());
        }

        /// <summary>
        /// True when <paramref name="name"/> is safe to pass to ip/tc as an interface name: 1-15 characters from
        /// A-Z a-z 0-9 '_' '-' '.', not "." or "..", not starting with '-' (could read as an option). Stricter than the
        /// kernel (which forbids only '/', ':' and white space) on purpose.
        /// </summary>
        public static bool IsValid(string? name)
        {
            if (string.IsNullOrEmpty(name) || name!.Length > MaxLength) return false;
            if (name == "." || name == ".." || name[0] == '-') return false;
            foreach (char c in name)
            {
                if (!IsSafeChar(c)) return false;
            }
            return true;
        }

        /// <summary>Throws VirtualNetworksException (InvalidName) unless <see cref="IsValid"/>.</summary>
        public static void EnsureValid(string? name, string what = "interface")
        {
            if (IsValid(name)) return;
            throw new VirtualNetworksException(ErrorIds.InvalidName, ErrorKind.InvalidArgument, name ?? "",
                "The " + what + " name " + NetText.Quote(name ?? "") + " is not valid: it must be 1 to " +
                MaxLength.ToString(CultureInfo.InvariantCulture) + " characters from A-Z, a-z, 0-9, '_', '-', '.', must not start with '-' and must not be '.' or '..'.");
        }

        /// <summary>
        /// True when <paramref name="name"/> is safe as a network namespace name (a file name under /run/netns):
        /// 1-63 characters from A-Z a-z 0-9 '_' '-' '.', not "." or "..", not starting with '-' or '.'.
        /// </summary>
        public static bool IsValidNamespaceName(string? name)
        {
            if (string.IsNullOrEmpty(name) || name!.Length > 63) return false;
            if (name[0] == '-' || name[0] == '.') return false;
            foreach (char c in name)
            {
                if (!IsSafeChar(c)) return false;
            }
            return true;
        }

        /// <summary>Throws VirtualNetworksException (InvalidName) unless <see cref="IsValidNamespaceName"/>.</summary>
        public static void EnsureValidNamespaceName(string? name)
        {
            if (IsValidNamespaceName(name)) return;
            throw new VirtualNetworksException(ErrorIds.InvalidName, ErrorKind.InvalidArgument, name ?? "",
                "The network namespace name " + NetText.Quote(name ?? "") +
                " is not valid: it must be 1 to 63 characters from A-Z, a-z, 0-9, '_', '-', '.' and must not start with '-' or '.'.");
        }

        /// <summary>The first <see cref="HashDigits"/> lowercase hex digits of SHA-256 over the UTF-8 bytes of <paramref name="text"/>.</summary>
        internal static string Hash(string text)
        {
            byte[] digest;
            using (var sha = SHA256.Create())
                digest = sha.ComputeHash(Encoding.UTF8.GetBytes(text));
            var sb = new StringBuilder(HashDigits);
            for (int i = 0; sb.Length < HashDigits; i++)
                sb.Append(digest[i].ToString("x2", CultureInfo.InvariantCulture));
            return sb.ToString(0, HashDigits);
        }

        private static bool IsSafeChar(char c) =>
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
    }
}
