using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Security.Cryptography;
using System.Text;

namespace VirtualNetworks.HyperV
{
    /// <summary>
    /// The router configuration as KVP items of pool 0 (docs/hyperv-backend.md §4). The text is the guest contract's
    /// (docs/guest-contract.md §2: <c>name</c>, <c>if &lt;mac&gt; &lt;addr&gt;</c>, <c>route ... via ...</c>) plus
    /// comment lines <c># vn ...</c> the guest ignores and the backend reads back. It is split into
    /// <c>vn.config.0</c> .. <c>vn.config.&lt;n-1&gt;</c> (at most <see cref="ChunkSize"/> characters each),
    /// <c>vn.config.count</c> = n and <c>vn.config.sha256</c> = lower-case hex SHA-256 of the UTF-8 text.
    /// </summary>
    public static class KvpConfig
    {
        public const string Prefix = "vn.config.";
        public const string CountKey = "vn.config.count";
        public const string HashKey = "vn.config.sha256";
        public const int ChunkSize = 1000;
        public const string ProbePrefix = "vn.probe.";

        /// <summary>Renders the guest text; <paramref name="macByLink"/> gives each link's MAC on this router.</summary>
        public static string Render(RouterConfiguration cfg, IReadOnlyDictionary<string, string> macByLink)
        {
            var sb = new StringBuilder();
            sb.Append("# VirtualNetworks router configuration\n");
            sb.Append("# vn af ").Append((int)cfg.AddressFamily).Append('\n');
            sb.Append("name ").Append(cfg.RouterName).Append('\n');
            foreach (var i in cfg.Interfaces.OrderBy(i => i.LinkName, StringComparer.OrdinalIgnoreCase))
            {
                if (!macByLink.TryGetValue(i.LinkName, out var mac))
                    throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.InvalidArgument, cfg.RouterName,
                        $"Cannot configure router '{cfg.RouterName}': link '{i.LinkName}' has no network adapter on it.");
                sb.Append("# vn link ").Append(i.LinkName).Append(" peer ").Append(Dash(i.PeerRouter)).Append(' ').Append(Dash(i.PeerAddress)).Append('\n');
                sb.Append("if ").Append(HyperVNames.GuestMac(mac)).Append(' ').Append(i.Address.Trim()).Append('\n');
            }
            foreach (var r in cfg.Routes.OrderBy(r => r.Destination, StringComparer.Ordinal))
            {
                string dest = r.Destination.Trim();
                string shown = dest == "0.0.0.0/0" ? "default" : dest == "::/0" ? "default6" : dest;
                sb.Append("# vn dev ").Append(r.LinkName).Append(' ').Append(dest).Append('\n');
                sb.Append("route ").Append(shown).Append(" via ").Append(r.NextHop.Trim()).Append('\n');
            }
            var routing = RoutingLine(cfg);
            if (routing != null) sb.Append(routing).Append('\n');
            return sb.ToString();
        }

        /// <summary>
        /// The guest contract 2 <c>routing</c> line of <paramref name="cfg"/> (docs/guest-contract.md), or null for static
        /// routing (no Routing, or Protocol Static). Every value is checked against the contract's bounds first, so
        /// nothing unvalidated reaches the guest: router id a dotted quad, hello 1..65535, dead 2..65535, BFD interval
        /// 10..10000 ms and multiplier 2..255, key empty or 64 hex digits.
        /// </summary>
        public static string? RoutingLine(RouterConfiguration cfg)
        {
            var r = cfg.Routing;
            if (r == null || r.Protocol == RoutingProtocol.Static) return null;
            string? problem = null;
            if (r.Protocol != RoutingProtocol.Ospf) problem = $"routing protocol {r.Protocol} is not one the guest runs";
            else if (!IsDottedQuad(r.RouterId)) problem = $"router id '{r.RouterId}' is not a dotted quad";
            else if (r.HelloIntervalSeconds < RoutingDefaults.MinHelloIntervalSeconds || r.HelloIntervalSeconds > RoutingDefaults.MaxHelloIntervalSeconds)
                problem = $"hello interval {r.HelloIntervalSeconds} s is outside {RoutingDefaults.MinHelloIntervalSeconds}..{RoutingDefaults.MaxHelloIntervalSeconds}";
            else if (r.DeadIntervalSeconds < RoutingDefaults.MinDeadIntervalSeconds || r.DeadIntervalSeconds > RoutingDefaults.MaxDeadIntervalSeconds)
                problem = $"dead interval {r.DeadIntervalSeconds} s is outside {RoutingDefaults.MinDeadIntervalSeconds}..{RoutingDefaults.MaxDeadIntervalSeconds}";
            else if (r.Bfd && (r.BfdIntervalMilliseconds < RoutingDefaults.MinBfdIntervalMilliseconds || r.BfdIntervalMilliseconds > RoutingDefaults.MaxBfdIntervalMilliseconds))
                problem = $"BFD interval {r.BfdIntervalMilliseconds} ms is outside {RoutingDefaults.MinBfdIntervalMilliseconds}..{RoutingDefaults.MaxBfdIntervalMilliseconds}";
            else if (r.Bfd && (r.BfdMultiplier < RoutingDefaults.MinBfdMultiplier || r.BfdMultiplier > RoutingDefaults.MaxBfdMultiplier))
                problem = $"BFD multiplier {r.BfdMultiplier} is outside {RoutingDefaults.MinBfdMultiplier}..{RoutingDefaults.MaxBfdMultiplier}";
            else if (!string.IsNullOrEmpty(r.AuthenticationKey) && (r.AuthenticationKey.Length != 64 || !r.AuthenticationKey.All(Uri.IsHexDigit)))
                problem = "the authentication key is not 64 hex digits";
            if (problem != null)
                throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.InvalidArgument, cfg.RouterName,
                    $"Cannot configure router '{cfg.RouterName}': {problem}.");
            return r.ToCanonicalString();
        }

        private static bool IsDottedQuad(string? s)
        {
            var parts = (s ?? "").Split('.');
            return parts.Length == 4 && parts.All(p => p.Length >= 1 && p.Length <= 3 && p.All(c => c >= '0' && c <= '9') &&
                                                      int.Parse(p, CultureInfo.InvariantCulture) <= 255);
        }

        /// <summary>Parses a <c>routing ospf ...</c> line written by <see cref="RoutingLine"/>; null when it is not one.</summary>
        private static RoutingConfiguration? ParseRouting(string[] w)
        {
            if (w.Length < 2 || w[1] != "ospf") return null;
            var r = new RoutingConfiguration { Protocol = RoutingProtocol.Ospf };
            static int? Int(string s) => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : (int?)null;
            for (int i = 2; i < w.Length; i++)
            {
                switch (w[i])
                {
                    case "router-id" when i + 1 < w.Length: r.RouterId = w[++i]; break;
                    case "hello" when i + 1 < w.Length && Int(w[i + 1]) is int h: r.HelloIntervalSeconds = h; i++; break;
                    case "dead" when i + 1 < w.Length && Int(w[i + 1]) is int d: r.DeadIntervalSeconds = d; i++; break;
                    case "bfd" when i + 2 < w.Length && Int(w[i + 1]) is int bi && Int(w[i + 2]) is int bm:
                        r.Bfd = true; r.BfdIntervalMilliseconds = bi; r.BfdMultiplier = bm; i += 2; break;
                    case "key" when i + 1 < w.Length: r.AuthenticationKey = w[++i]; break;
                    default: return null;
                }
            }
            return r;
        }

        private static string Dash(string? s) => string.IsNullOrEmpty(s) ? "-" : s!;

        /// <summary>Parses text rendered by <see cref="Render"/> back into a configuration (null when it is not ours).</summary>
        public static RouterConfiguration? Parse(string text)
        {
            var cfg = new RouterConfiguration { AddressFamily = NetworkAddressFamily.IPv4 };
            InterfaceConfiguration? pendingIf = null;
            (string Link, string Dest)? pendingRoute = null;
            bool named = false;
            foreach (var raw in text.Split('\n'))
            {
                var line = raw.Trim();
                var w = line.Split(new[] { ' ' }, StringSplitOptions.RemoveEmptyEntries);
                if (w.Length == 0) continue;
                if (w[0] == "#")
                {
                    if (w.Length >= 3 && w[1] == "vn" && w[2] == "af" && w.Length >= 4)
                        cfg.AddressFamily = w[3] == "6" ? NetworkAddressFamily.IPv6 : NetworkAddressFamily.IPv4;
                    else if (w.Length >= 7 && w[1] == "vn" && w[2] == "link" && w[4] == "peer")
                        pendingIf = new InterfaceConfiguration { LinkName = w[3], PeerRouter = w[5] == "-" ? "" : w[5], PeerAddress = w[6] == "-" ? "" : w[6] };
                    else if (w.Length >= 5 && w[1] == "vn" && w[2] == "dev")
                        pendingRoute = (w[3], w[4]);
                    continue;
                }
                switch (w[0])
                {
                    case "name" when w.Length >= 2:
                        cfg.RouterName = w[1];
                        named = true;
                        break;
                    case "if" when w.Length >= 3 && pendingIf != null:
                        pendingIf.Address = w[2];
                        cfg.Interfaces.Add(pendingIf);
                        pendingIf = null;
                        break;
                    case "routing" when cfg.Routing == null && ParseRouting(w) is RoutingConfiguration routing:
                        cfg.Routing = routing;
                        break;
                    case "route" when w.Length >= 4 && pendingRoute != null:
                        cfg.Routes.Add(new RouteConfiguration { Destination = pendingRoute.Value.Dest, NextHop = w[3], LinkName = pendingRoute.Value.Link });
                        pendingRoute = null;
                        break;
                }
            }
            return named ? cfg : null;
        }

        /// <summary>The KVP items (name → data) of a rendered text.</summary>
        public static Dictionary<string, string> Items(string text)
        {
            var d = new Dictionary<string, string>(StringComparer.Ordinal);
            int n = 0;
            for (int i = 0; i < text.Length; i += ChunkSize) d[Prefix + (n++).ToString(CultureInfo.InvariantCulture)] = text.Substring(i, Math.Min(ChunkSize, text.Length - i));
            d[CountKey] = n.ToString(CultureInfo.InvariantCulture);
            d[HashKey] = Hash(text);
            return d;
        }

        /// <summary>Reassembles the text from host items; null when absent, incomplete or the hash does not match.</summary>
        public static string? Assemble(IReadOnlyDictionary<string, string> items)
        {
            if (!items.TryGetValue(CountKey, out var c) || !int.TryParse(c, NumberStyles.None, CultureInfo.InvariantCulture, out int n)) return null;
            var sb = new StringBuilder();
            for (int i = 0; i < n; i++)
            {
                if (!items.TryGetValue(Prefix + i.ToString(CultureInfo.InvariantCulture), out var chunk)) return null;
                sb.Append(chunk);
            }
            var text = sb.ToString();
            return items.TryGetValue(HashKey, out var h) && string.Equals(h, Hash(text), StringComparison.OrdinalIgnoreCase) ? text : null;
        }

        public static bool IsConfigKey(string name) => name.StartsWith(Prefix, StringComparison.Ordinal);

        public static string Hash(string text)
        {
            using var sha = SHA256.Create();
            return string.Concat(sha.ComputeHash(Encoding.UTF8.GetBytes(text)).Select(b => b.ToString("x2", CultureInfo.InvariantCulture)));
        }

        /// <summary>Parses a probe answer "code 0 rtt_ms 1.4".</summary>
        public static Backends.ProbeResult ParseProbeAnswer(string data)
        {
            var w = (data ?? "").Split(new[] { ' ', '\t', '\n', '\r' }, StringSplitOptions.RemoveEmptyEntries);
            int? code = null; double? rtt = null;
            for (int i = 0; i + 1 < w.Length; i++)
            {
                if (w[i] == "code" && int.TryParse(w[i + 1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var c)) code = c;
                if (w[i] == "rtt_ms" && double.TryParse(w[i + 1], NumberStyles.Float, CultureInfo.InvariantCulture, out var r)) rtt = r;
            }
            return new Backends.ProbeResult { Reachable = code == 0, RoundTripMilliseconds = code == 0 ? rtt : null, Detail = data };
        }

        public static bool IsAddress(string s) => IPAddress.TryParse(s, out _) && s.IndexOf('/') < 0;
    }
}
