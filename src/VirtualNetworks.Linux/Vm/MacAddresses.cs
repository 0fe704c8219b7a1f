using System;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using VirtualNetworks.Topology;

namespace VirtualNetworks.Linux.Vm
{
    /// <summary>
    /// Deterministic MAC addresses for router adapters.
    /// </summary>
    /// <remarks>
    /// <para>Rule: <c>52:54:b0:b1:b2:b3</c>, where b0..b3 are the first four bytes of
    /// SHA-256("virtualnetworks-mac-v1\n" + lower(router) + "\n" + lower(link)) (UTF-8). 0x52 has the
    /// locally-administered bit set and the multicast bit clear, so the address is a valid unicast address that no
    /// vendor owns; 52:54 is the prefix QEMU uses for its own guests. The same router and link always give the same MAC
    /// (on every host: a migrated router keeps its MACs), names compare case-insensitively like everywhere else, and a
    /// different link or router gives a different MAC except with probability about n²/2³³ for n adapters.</para>
    /// <para>The guest finds its interfaces by these MACs (docs/guest-contract.md), so the rule must not change for
    /// existing routers: a new rule needs a new prefix string ("-v2").</para>
    /// </remarks>
    public static class MacAddresses
    {
        private const string Salt = "virtualnetworks-mac-v1\n";
        private static readonly Regex Format = new Regex("^[0-9a-f]{2}(:[0-9a-f]{2}){5}$", RegexOptions.CultureInvariant);

        /// <summary>The MAC of <paramref name="routerName"/>'s adapter on <paramref name="linkName"/> (both validated).</summary>
        public static string ForAdapter(string routerName, string linkName)
        {
            NameRules.Ensure(routerName, "router");
            NameRules.Ensure(linkName, "link");
            byte[] hash;
            using (var sha = SHA256.Create())
                hash = sha.ComputeHash(Encoding.UTF8.GetBytes(Salt + routerName.ToLowerInvariant() + "\n" + linkName.ToLowerInvariant()));
            return string.Format(CultureInfo.InvariantCulture, "52:54:{0:x2}:{1:x2}:{2:x2}:{3:x2}", hash[0], hash[1], hash[2], hash[3]);
        }

        /// <summary>True for "xx:xx:xx:xx:xx:xx" (lower-case hex) that is unicast (bit 0 of the first byte clear).</summary>
        public static bool IsValid(string? mac)
        {
            if (mac == null || !Format.IsMatch(mac)) return false;
            int first = int.Parse(mac.Substring(0, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            return (first & 1) == 0 && mac != "00:00:00:00:00:00";
        }

        /// <summary>Lower-case form; throws ArgumentException when not a valid unicast MAC.</summary>
        public static string Normalize(string mac)
        {
            string m = (mac ?? "").Trim().ToLowerInvariant().Replace('-', ':');
            if (!IsValid(m)) throw new ArgumentException("'" + mac + "' is not a unicast MAC address (xx:xx:xx:xx:xx:xx).", nameof(mac));
            return m;
        }
    }
}
