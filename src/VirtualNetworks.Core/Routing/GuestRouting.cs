using System;
using System.Collections.Generic;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace VirtualNetworks.Routing
{
    /// <summary>
    /// Strict parsers of the guest's <c>routes</c> and <c>routing</c> answers (docs/guest-contract.md §3, contract 2), the
    /// same for every transport (Linux: the command channel; Hyper-V: KVP). Every line must have exactly the documented
    /// shape; anything else (a truncated line, an unknown word, a number out of range) fails with
    /// BackendOperationFailed/InvalidResult naming the router and the line, so a garbled answer is never shown as a routing
    /// table. Adapter MACs are mapped to link names through the router's own record; an unknown MAC gives a null link name.
    /// </summary>
    public static class GuestRouting
    {
        private static readonly Regex Mac = new Regex("^[0-9a-f]{2}(:[0-9a-f]{2}){5}$", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase);
        private static readonly Regex Word = new Regex("^[a-z0-9][a-z0-9_.-]{0,31}$", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase);
        private static readonly HashSet<string> NeighborStates = new HashSet<string>(StringComparer.Ordinal)
            { "full", "2way", "init", "exstart", "exchange", "loading", "down", "attempt" };
        private static readonly HashSet<string> BfdStates = new HashSet<string>(StringComparer.Ordinal) { "up", "down", "init", "admindown" };
        private static readonly HashSet<string> ProtocolKinds = new HashSet<string>(StringComparer.Ordinal) { "ospf2", "ospf3", "bfd" };

        /// <summary>Link name by MAC key (<see cref="MacKey"/>), from a map of link name to MAC in any notation.</summary>
        public static Dictionary<string, string> LinksByMac(IReadOnlyDictionary<string, string> macsByLink)
        {
            var map = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var kv in macsByLink) map[MacKey(kv.Value)] = kv.Key;
            return map;
        }

        /// <summary>12 upper-case hex digits of a MAC in any notation.</summary>
        public static string MacKey(string mac)
        {
            var sb = new System.Text.StringBuilder(12);
            foreach (var c in mac ?? "") if (Uri.IsHexDigit(c)) sb.Append(char.ToUpperInvariant(c));
            return sb.ToString();
        }

        /// <summary>Parses <c>route &lt;prefix&gt; &lt;next-hop|-&gt; &lt;MAC|-&gt; &lt;proto&gt; &lt;metric|-&gt;</c> lines.</summary>
        public static List<VirtualRoute> ParseRoutes(string router, IReadOnlyList<string> lines, IReadOnlyDictionary<string, string> linksByMac)
        {
            var routes = new List<VirtualRoute>();
            for (int n = 0; n < lines.Count; n++)
            {
                var line = lines[n];
                if (line.Trim().Length == 0) continue;
                var w = Split(line);
                if (w.Length != 6 || w[0] != "route") throw Malformed(router, "routes", n, line, "expected 'route <prefix> <next-hop|-> <adapter MAC|-> <proto> <metric|->'");
                int slash = w[1].IndexOf('/');
                if (slash <= 0 || !IPAddress.TryParse(w[1].Substring(0, slash), out var prefixAddress) || w[1].IndexOf('%') >= 0 ||
                    !int.TryParse(w[1].Substring(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int length) ||
                    length > (prefixAddress.AddressFamily == AddressFamily.InterNetworkV6 ? 128 : 32))
                    throw Malformed(router, "routes", n, line, "'" + w[1] + "' is not a prefix in CIDR notation");
                var family = prefixAddress.AddressFamily == AddressFamily.InterNetworkV6 ? NetworkAddressFamily.IPv6 : NetworkAddressFamily.IPv4;
                string? nextHop = null;
                if (w[2] != "-")
                {
                    if (!IPAddress.TryParse(w[2], out var nh) || w[2].IndexOfAny(new[] { '/', '%' }) >= 0 || nh.AddressFamily != prefixAddress.AddressFamily)
                        throw Malformed(router, "routes", n, line, "next hop '" + w[2] + "' is not an address of the prefix's family");
                    nextHop = nh.ToString();
                }
                string? link = null;
                if (w[3] != "-")
                {
                    if (!Mac.IsMatch(w[3])) throw Malformed(router, "routes", n, line, "'" + w[3] + "' is not a MAC address");
                    link = linksByMac.TryGetValue(MacKey(w[3]), out var l) ? l : null;
                }
                if (!Word.IsMatch(w[4])) throw Malformed(router, "routes", n, line, "'" + w[4] + "' is not a protocol word");
                int? metric = null;
                if (w[5] != "-")
                {
                    if (!int.TryParse(w[5], NumberStyles.None, CultureInfo.InvariantCulture, out int m)) throw Malformed(router, "routes", n, line, "metric '" + w[5] + "' is not a whole number 0..2147483647");
                    metric = m;
                }
                routes.Add(new VirtualRoute
                {
                    RouterName = router,
                    Prefix = prefixAddress + "/" + length.ToString(CultureInfo.InvariantCulture),
                    NextHop = nextHop,
                    LinkName = link,
                    Protocol = w[4].ToLowerInvariant(),
                    Metric = metric,
                    AddressFamily = family,
                });
            }
            return routes;
        }

        /// <summary>Parses a <c>routing</c> answer: <c>routing static|ospf</c>, then <c>protocol</c>, <c>neighbor</c>, <c>bfd</c> lines and one <c>changes</c> line.</summary>
        public static RoutingStatus ParseRoutingStatus(string router, IReadOnlyList<string> lines, IReadOnlyDictionary<string, string> linksByMac)
        {
            var status = new RoutingStatus { RouterName = router };
            int first = -1;
            for (int i = 0; i < lines.Count; i++)
                if (lines[i].Trim().Length > 0) { first = i; break; }
            if (first < 0) throw Malformed(router, "routing", 0, "", "the answer is empty; expected 'routing static' or 'routing ospf' first");
            var head = Split(lines[first]);
            if (head.Length != 2 || head[0] != "routing" || (head[1] != "static" && head[1] != "ospf"))
                throw Malformed(router, "routing", first, lines[first], "expected 'routing static' or 'routing ospf' first");
            status.Protocol = head[1] == "ospf" ? RoutingProtocol.Ospf : RoutingProtocol.Static;
            bool changesSeen = false;
            for (int n = first + 1; n < lines.Count; n++)
            {
                var line = lines[n];
                if (line.Trim().Length == 0) continue;
                if (status.Protocol == RoutingProtocol.Static) throw Malformed(router, "routing", n, line, "a router with static routing reports nothing after 'routing static'");
                var w = Split(line);
                switch (w[0])
                {
                    case "protocol":
                        if (w.Length != 4 || !Word.IsMatch(w[1]) || !ProtocolKinds.Contains(w[2]) || !Word.IsMatch(w[3]))
                            throw Malformed(router, "routing", n, line, "expected 'protocol <name> <ospf2|ospf3|bfd> <state>'");
                        status.Protocols.Add(w[1] + " " + w[3].ToLowerInvariant());
                        break;
                    case "neighbor":
                        if (w.Length != 4 || !Mac.IsMatch(w[1]) || !IsRouterId(w[2]) || !NeighborStates.Contains(w[3]))
                            throw Malformed(router, "routing", n, line, "expected 'neighbor <adapter MAC> <router-id> <full|2way|init|exstart|exchange|loading|down>'");
                        status.Neighbors.Add(new RoutingNeighbor
                        {
                            LinkName = linksByMac.TryGetValue(MacKey(w[1]), out var nl) ? nl : null,
                            RouterId = w[2],
                            State = w[3],
                        });
                        break;
                    case "bfd":
                        if (w.Length != 4 || (w[1] != "-" && !Mac.IsMatch(w[1])) || !IPAddress.TryParse(w[2], out var peer) ||
                            w[2].IndexOfAny(new[] { '/', '%' }) >= 0 || !BfdStates.Contains(w[3]))
                            throw Malformed(router, "routing", n, line, "expected 'bfd <adapter MAC|-> <peer-address> <up|down|init|admindown>'");
                        status.BfdSessions.Add(new BfdSession
                        {
                            LinkName = w[1] != "-" && linksByMac.TryGetValue(MacKey(w[1]), out var bl) ? bl : null,
                            PeerAddress = peer.ToString(),
                            State = w[3],
                        });
                        break;
                    case "changes":
                        if (changesSeen || w.Length != 5 || w[1] != "neighbor" || w[3] != "bfd-down" ||
                            !int.TryParse(w[2], NumberStyles.None, CultureInfo.InvariantCulture, out int nc) ||
                            !int.TryParse(w[4], NumberStyles.None, CultureInfo.InvariantCulture, out int bd))
                            throw Malformed(router, "routing", n, line, "expected one 'changes neighbor <n> bfd-down <n>'");
                        changesSeen = true;
                        status.NeighborStateChanges = nc;
                        status.BfdSessionDowns = bd;
                        break;
                    default:
                        throw Malformed(router, "routing", n, line, "unknown line '" + w[0] + "'");
                }
            }
            return status;
        }

        private static bool IsRouterId(string s)
        {
            var p = s.Split('.');
            if (p.Length != 4) return false;
            foreach (var x in p)
                if (x.Length == 0 || x.Length > 3 || (x.Length > 1 && x[0] == '0') || !int.TryParse(x, NumberStyles.None, CultureInfo.InvariantCulture, out int v) || v > 255) return false;
            return s != "0.0.0.0";
        }

        private static string[] Split(string line) => line.Split(new[] { ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries);

        private static VirtualNetworksException Malformed(string router, string command, int index, string line, string what)
        {
            var shown = line.Length <= 200 ? line : line.Substring(0, 200) + "...";
            return new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.InvalidResult, router,
                $"Router '{router}': the guest's answer to '{command}' is malformed at line {(index + 1).ToString(CultureInfo.InvariantCulture)} " +
                $"('{shown}'): {what}.");
        }
    }
}
