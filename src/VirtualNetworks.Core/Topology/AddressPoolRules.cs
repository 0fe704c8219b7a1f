using System;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace VirtualNetworks.Topology
{
    /// <summary>
    /// Checks the address pools links are numbered from: an IPv4 pool is "a.b.c.d/n" with n &lt;= 31 (links get /31s), an
    /// IPv6 pool is "x:y::/n" with n &lt;= 127 (links get /127s); the address must be the network address (no host bits).
    /// </summary>
    public static class AddressPoolRules
    {
        private static readonly Regex DottedQuad = new Regex(
            @"^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$",
            RegexOptions.CultureInvariant);

        /// <summary>Null when <paramref name="cidr"/> is a usable pool of <paramref name="family"/>, else an InvalidAddressPool error.</summary>
        /// <param name="cidr">The pool in CIDR notation.</param>
        /// <param name="family">Which pool it is.</param>
        /// <param name="jsonPath">Where it came from, if from a topology file; prefixed to the message and used as target.</param>
        public static TopologyError? Check(string? cidr, NetworkAddressFamily family, string? jsonPath = null)
        {
            string? problem = Problem(cidr, family);
            if (problem == null) return null;
            string prefix = string.IsNullOrEmpty(jsonPath) ? "" : jsonPath + ": ";
            string message = prefix + "The " + family + " address pool " + DisplayText.Quote(cidr) + " is not valid: " + problem + (problem.EndsWith("?") ? " " : ". ") +
                             "Example: " + (family == NetworkAddressFamily.IPv4 ? AddressPools.DefaultIPv4 : AddressPools.DefaultIPv6) + ".";
            return new TopologyError(ErrorIds.InvalidAddressPool, ErrorKind.InvalidArgument, jsonPath ?? cidr ?? "", message, jsonPath);
        }

        /// <summary>True when <paramref name="cidr"/> is a usable pool of <paramref name="family"/>.</summary>
        public static bool IsValid(string? cidr, NetworkAddressFamily family) => Problem(cidr, family) == null;

        private static string? Problem(string? cidr, NetworkAddressFamily family)
        {
            if (string.IsNullOrEmpty(cidr)) return "it is empty";
            int slash = cidr!.IndexOf('/');
            if (slash < 0) return "the prefix length is missing (expected address/length)";
            string addressText = cidr.Substring(0, slash);
            string lengthText = cidr.Substring(slash + 1);

            bool v4 = family == NetworkAddressFamily.IPv4;
            int maxLength = v4 ? 31 : 127;

            // IPAddress.TryParse alone is too lenient ("10" parses as 0.0.0.10, "010" as octal, zone ids are accepted).
            if (v4 && !DottedQuad.IsMatch(addressText)) return DisplayText.Quote(addressText) + " is not a dotted IPv4 address";
            if (!v4 && (addressText.IndexOf(':') < 0 || addressText.IndexOf('%') >= 0))
                return DisplayText.Quote(addressText) + " is not an IPv6 address";
            if (!IPAddress.TryParse(addressText, out var address))
                return DisplayText.Quote(addressText) + " is not an " + family + " address";
            if (address.AddressFamily != (v4 ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6))
                return "it is not an " + family + " address";

            if (lengthText.Length == 0 || lengthText.Length > 3 || !int.TryParse(lengthText, NumberStyles.None, CultureInfo.InvariantCulture, out int length) ||
                lengthText != length.ToString(CultureInfo.InvariantCulture)) // no leading zeros
                return "the prefix length " + DisplayText.Quote(lengthText) + " is not a number";
            if (length > maxLength)
                return "the prefix length must be at most " + maxLength.ToString(CultureInfo.InvariantCulture) +
                       " (each link takes a /" + maxLength.ToString(CultureInfo.InvariantCulture) + ")";

            // Host bits must be zero: the pool is a network, not an address in it.
            byte[] bytes = address.GetAddressBytes();
            bool hostBitsSet = false;
            for (int i = 0; i < bytes.Length; i++)
            {
                int networkBits = Math.Max(0, Math.Min(8, length - i * 8));
                byte networkMask = (byte)(0xFF << (8 - networkBits)); // 0 bits -> 0x00, 8 bits -> 0xFF
                if ((bytes[i] & ~networkMask & 0xFF) != 0) hostBitsSet = true;
                bytes[i] &= networkMask;
            }
            if (hostBitsSet)
                return "host bits are set; did you mean " + new IPAddress(bytes) + "/" + length.ToString(CultureInfo.InvariantCulture) + "?";
            return null;
        }
    }
}
