using System;
using System.Collections.Generic;
using System.Net;
using System.Net.Sockets;
using System.Text;
using VirtualNetworks.Topology;

namespace VirtualNetworks.Linux.Vm
{
    /// <summary>
    /// The guest configuration text of the router image (docs/guest-contract.md): one directive per line,
    /// <c>name &lt;router&gt;</c>, <c>if &lt;mac&gt; &lt;cidr&gt;...</c>, <c>route &lt;cidr&gt;|default|default6 via &lt;next hop&gt;</c>,
    /// <c>routing ospf ...</c> (contract 2, at most once, last), '#' comments. Handed over at boot through fw_cfg and pushed at run time with <see cref="GuestChannel.PushConfig"/>.
    /// </summary>
    public static class GuestConfigText
    {
        /// <summary>
        /// Renders <paramref name="configuration"/> (may be null: name only, links stay down) for router
        /// <paramref name="routerName"/>; each interface's MAC comes from <paramref name="macsByLink"/>.
        /// </summary>
        /// <exception cref="VirtualNetworksException">InvalidArgument: an interface's link has no MAC, or an address is malformed.</exception>
        /// <param name="mtuByLink">
        /// MTU of each link's adapter, by link name; a <c>mtu &lt;mac&gt; &lt;n&gt;</c> line is written for every configured
        /// adapter whose link MTU is not 1500 (links that may cross hosts: 1450, docs/linux-hosts.md). Null = all 1500.
        /// </param>
        public static string Render(string routerName, RouterConfiguration? configuration, IReadOnlyDictionary<string, string> macsByLink,
            IReadOnlyDictionary<string, int>? mtuByLink = null)
        {
            NameRules.Ensure(routerName, "router");
            if (macsByLink == null) throw new ArgumentNullException(nameof(macsByLink));
            var sb = new StringBuilder();
            sb.Append("# VirtualNetworks router configuration\n");
            sb.Append("name ").Append(routerName).Append('\n');
            if (configuration == null) return sb.ToString();

            var macs = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var kv in macsByLink) macs[kv.Key] = kv.Value;
            // One "if" line per MAC with all its addresses, in link-name order: stable text for stable input.
            var byMac = new SortedDictionary<string, List<string>>(StringComparer.Ordinal);
            var linkOfMac = new Dictionary<string, string>(StringComparer.Ordinal);
            var interfaces = new List<InterfaceConfiguration>(configuration.Interfaces);
            interfaces.Sort((x, y) => StringComparer.OrdinalIgnoreCase.Compare(x.LinkName, y.LinkName));
            foreach (var i in interfaces)
            {
                if (!macs.TryGetValue(i.LinkName ?? "", out var mac))
                    throw Bad(routerName, "link '" + i.LinkName + "' has no MAC address on this router");
                mac = MacAddresses.Normalize(mac);
                if (!IsCidr(i.Address)) throw Bad(routerName, "address '" + i.Address + "' on link '" + i.LinkName + "' is not in CIDR notation");
                if (!byMac.TryGetValue(mac, out var list)) byMac[mac] = list = new List<string>();
                list.Add(i.Address.Trim());
                linkOfMac[mac] = i.LinkName!;
            }
            foreach (var kv in byMac)
            {
                // Comments are whole lines only: the guest splits directives on blanks.
                sb.Append("# link ").Append(linkOfMac[kv.Key]).Append('\n');
                sb.Append("if ").Append(kv.Key).Append(' ').Append(string.Join(" ", kv.Value)).Append('\n');
                if (mtuByLink != null && mtuByLink.TryGetValue(linkOfMac[kv.Key], out int mtu) && mtu != 1500)
                {
                    if (mtu < 68 || mtu > 65535) throw Bad(routerName, "MTU " + mtu + " of link '" + linkOfMac[kv.Key] + "' is outside 68..65535");
                    sb.Append("mtu ").Append(kv.Key).Append(' ').Append(mtu.ToString(System.Globalization.CultureInfo.InvariantCulture)).Append('\n');
                }
            }
            var routes = new List<RouteConfiguration>(configuration.Routes);
            routes.Sort((x, y) => StringComparer.Ordinal.Compare(x.Destination, y.Destination));
            foreach (var r in routes)
            {
                string dest = (r.Destination ?? "").Trim();
                string nh = (r.NextHop ?? "").Trim();
                if (!IPAddress.TryParse(nh, out var nhAddr) || nh.IndexOf('/') >= 0)
                    throw Bad(routerName, "next hop '" + r.NextHop + "' is not an IP address");
                if (dest == "0.0.0.0/0") dest = "default";
                else if (dest == "::/0") dest = "default6";
                else if (!IsCidr(dest)) throw Bad(routerName, "route destination '" + r.Destination + "' is not in CIDR notation");
                sb.Append("route ").Append(dest).Append(" via ").Append(nhAddr.ToString()).Append('\n');
            }
            if (configuration.Routing != null && configuration.Routing.Protocol != RoutingProtocol.Static)
                sb.Append(RoutingLine(routerName, configuration.Routing)).Append('\n');
            return sb.ToString();
        }

        /// <summary>The guest contract version that introduced the <c>routing</c> directive and the <c>routes</c>/<c>routing</c> commands.</summary>
        public const int RoutingContract = 2;

        /// <summary>
        /// The guest contract a configuration text needs: <see cref="RoutingContract"/> when it has a <c>routing</c> line, 1
        /// otherwise (a contract-1 guest ignores unknown directives with a warning, so the backend must refuse instead).
        /// </summary>
        public static int RequiredContract(string? text)
        {
            if (string.IsNullOrEmpty(text)) return 1;
            foreach (var line in text!.Split('\n'))
            {
                var t = line.Trim();
                if (t == "routing" || t.StartsWith("routing ", StringComparison.Ordinal) || t.StartsWith("routing\t", StringComparison.Ordinal))
                    return RoutingContract;
            }
            return 1;
        }

        /// <summary>
        /// The <c>routing ospf router-id &lt;a.b.c.d&gt; hello &lt;s&gt; dead &lt;s&gt; [bfd &lt;ms&gt; &lt;mult&gt;] [key &lt;64 hex&gt;]</c>
        /// line (docs/guest-contract.md, contract 2), every value checked against the documented bounds (<see cref="RoutingDefaults"/>).
        /// </summary>
        internal static string RoutingLine(string routerName, RoutingConfiguration r)
        {
            if (r.Protocol != RoutingProtocol.Ospf) throw Bad(routerName, "routing protocol '" + r.Protocol + "' has no guest directive");
            if (!IsRouterId(r.RouterId)) throw Bad(routerName, "OSPF router id '" + r.RouterId + "' is not a dotted-quad IPv4 address other than 0.0.0.0");
            Range(routerName, "OSPF hello interval", r.HelloIntervalSeconds, RoutingDefaults.MinHelloIntervalSeconds, RoutingDefaults.MaxHelloIntervalSeconds, "s");
            Range(routerName, "OSPF dead interval", r.DeadIntervalSeconds, RoutingDefaults.MinDeadIntervalSeconds, RoutingDefaults.MaxDeadIntervalSeconds, "s");
            var sb = new StringBuilder("routing ospf router-id ").Append(r.RouterId.Trim())
                .Append(" hello ").Append(r.HelloIntervalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture))
                .Append(" dead ").Append(r.DeadIntervalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (r.Bfd)
            {
                Range(routerName, "BFD interval", r.BfdIntervalMilliseconds, RoutingDefaults.MinBfdIntervalMilliseconds, RoutingDefaults.MaxBfdIntervalMilliseconds, "ms");
                Range(routerName, "BFD multiplier", r.BfdMultiplier, RoutingDefaults.MinBfdMultiplier, RoutingDefaults.MaxBfdMultiplier, "");
                sb.Append(" bfd ").Append(r.BfdIntervalMilliseconds.ToString(System.Globalization.CultureInfo.InvariantCulture))
                  .Append(' ').Append(r.BfdMultiplier.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
            var key = r.AuthenticationKey ?? "";
            if (key.Length > 0)
            {
                if (key.Length != 64) throw Bad(routerName, "the OSPF authentication key has " + key.Length + " characters; it must be 64 hex digits");
                foreach (char c in key)
                    if (!Uri.IsHexDigit(c)) throw Bad(routerName, "the OSPF authentication key must be 64 hex digits (0-9, a-f)");
                sb.Append(" key ").Append(key.ToLowerInvariant());
            }
            return sb.ToString();
        }

        /// <summary>True for a strict dotted quad a.b.c.d (each 0..255, no leading zeros, no other form) that is not 0.0.0.0.</summary>
        internal static bool IsRouterId(string? text)
        {
            if (text == null) return false;
            var parts = text.Split('.');
            if (parts.Length != 4) return false;
            bool nonZero = false;
            foreach (var p in parts)
            {
                if (p.Length == 0 || p.Length > 3 || (p.Length > 1 && p[0] == '0')) return false;
                foreach (char c in p)
                    if (c < '0' || c > '9') return false;
                int v = int.Parse(p, System.Globalization.CultureInfo.InvariantCulture);
                if (v > 255) return false;
                nonZero |= v != 0;
            }
            return nonZero;
        }

        private static void Range(string router, string what, int value, int min, int max, string unit)
        {
            if (value < min || value > max)
                throw Bad(router, what + " " + value.ToString(System.Globalization.CultureInfo.InvariantCulture) + (unit.Length > 0 ? " " + unit : "") +
                                  " is outside " + min.ToString(System.Globalization.CultureInfo.InvariantCulture) + ".." +
                                  max.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        /// <summary>True for "address/prefix" with a prefix valid for the address family.</summary>
        public static bool IsCidr(string? text)
        {
            if (string.IsNullOrWhiteSpace(text)) return false;
            string t = text!.Trim();
            int slash = t.IndexOf('/');
            if (slash <= 0 || slash != t.LastIndexOf('/')) return false;
            if (!IPAddress.TryParse(t.Substring(0, slash), out var addr)) return false;
            if (t.Substring(0, slash).IndexOf('%') >= 0) return false;
            if (!int.TryParse(t.Substring(slash + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int p)) return false;
            int max = addr.AddressFamily == AddressFamily.InterNetworkV6 ? 128 : 32;
            return p >= 0 && p <= max;
        }

        private static VirtualNetworksException Bad(string router, string what) =>
            new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.InvalidArgument, router,
                "Cannot build the configuration of router '" + router + "': " + what + ".");
    }
}
