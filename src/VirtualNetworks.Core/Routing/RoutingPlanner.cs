using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using VirtualNetworks.Addressing;
using VirtualNetworks.Backends;
using VirtualNetworks.Graph;

namespace VirtualNetworks.Routing
{
    /// <summary>
    /// Turns the routing settings of the topology's <c>networks</c> section into each router's
    /// <see cref="RouterConfiguration.Routing"/>: static networks keep the engine's static routes (Routing null), OSPF
    /// networks get no static routes and one <see cref="RoutingConfiguration"/> per router.
    /// </summary>
    /// <remarks>
    /// <para>Which settings a computed network gets: the declared entries whose name is the network's name, its base
    /// name or one of its labels (they must agree: <see cref="ConflictsOf"/>); without one, the settings its routers run
    /// now (derived back from the applied configurations, so interactive commands and a re-deploy without a
    /// <c>networks</c> entry keep OSPF); without those, static routes. A network goes back to static routes only when an
    /// entry says <c>"routing": "static"</c>.</para>
    /// <para>Router ids: unique inside the network. A router keeps the id of its applied configuration while no router
    /// before it (name order) holds that id; otherwise it gets the first free candidate of
    /// <see cref="RouterIdCandidate"/> (a hash of its name). So ids depend on the router's own name, not on which other
    /// routers come and go.</para>
    /// <para>Authentication key: <see cref="KeyOf"/> of the network's base name: two networks never share a key, so OSPF
    /// never peers across networks, even over a miswired link.</para>
    /// </remarks>
    public static class RoutingPlanner
    {
        /// <summary>Fixed prefix of the key derivation (changing it changes every network's key).</summary>
        public const string KeyPrefix = "VirtualNetworks/ospf-key/v1:";

        private const string RouterIdPrefix = "VirtualNetworks/router-id/v1:";

        private static readonly StringComparer Names = StringComparer.OrdinalIgnoreCase;

        /// <summary>The network's OSPF authentication key: lower-case hex of SHA-256(<see cref="KeyPrefix"/> + identity in lower case); 64 digits.</summary>
        public static string KeyOf(string networkIdentity) =>
            Hex(Sha256(KeyPrefix + (networkIdentity ?? "").ToLowerInvariant()));

        /// <summary>
        /// The <paramref name="attempt"/>-th router id candidate for a router (0 first): four bytes of SHA-256 of its lower-case
        /// name (and the attempt), as a dotted quad; never 0.0.0.0 nor 255.255.255.255.
        /// </summary>
        public static string RouterIdCandidate(string routerName, int attempt)
        {
            for (int salt = 0; ; salt++)
            {
                string input = RouterIdPrefix + (routerName ?? "").ToLowerInvariant() + "#" + attempt.ToString(CultureInfo.InvariantCulture) +
                               (salt == 0 ? "" : "/" + salt.ToString(CultureInfo.InvariantCulture));
                var h = Sha256(input);
                bool zero = h[0] == 0 && h[1] == 0 && h[2] == 0 && h[3] == 0;
                bool ones = h[0] == 255 && h[1] == 255 && h[2] == 255 && h[3] == 255;
                if (!zero && !ones)
                    return string.Join(".", h.Take(4).Select(b => b.ToString(CultureInfo.InvariantCulture)));
            }
        }

        /// <summary>
        /// <paramref name="spec"/> with the defaults of <see cref="RoutingDefaults"/> filled in; for static routing every other
        /// setting is cleared (they mean nothing there), for OSPF without BFD the BFD timers are.
        /// </summary>
        public static NetworkSpec Effective(NetworkSpec spec)
        {
            var e = new NetworkSpec { Name = spec.Name, Routing = spec.Routing, SourcePath = spec.SourcePath };
            if (spec.Routing == RoutingProtocol.Static) return e;
            e.HelloIntervalSeconds = spec.HelloIntervalSeconds ?? RoutingDefaults.HelloIntervalSeconds;
            e.DeadIntervalSeconds = spec.DeadIntervalSeconds ?? RoutingDefaults.DeadIntervalSeconds;
            e.Bfd = spec.Bfd;
            if (spec.Bfd)
            {
                e.BfdIntervalMilliseconds = spec.BfdIntervalMilliseconds ?? RoutingDefaults.BfdIntervalMilliseconds;
                e.BfdMultiplier = spec.BfdMultiplier ?? RoutingDefaults.BfdMultiplier;
            }
            return e;
        }

        /// <summary>True when the two entries ask for the same routing (defaults applied; names ignored).</summary>
        public static bool SameRouting(NetworkSpec a, NetworkSpec b)
        {
            var x = Effective(a);
            var y = Effective(b);
            return x.Routing == y.Routing && x.Bfd == y.Bfd && x.HelloIntervalSeconds == y.HelloIntervalSeconds &&
                   x.DeadIntervalSeconds == y.DeadIntervalSeconds && x.BfdIntervalMilliseconds == y.BfdIntervalMilliseconds &&
                   x.BfdMultiplier == y.BfdMultiplier;
        }

        /// <summary>A short text of an entry's routing for messages: "static", "ospf (hello 1 s, dead 4 s, bfd 100 ms x 5)".</summary>
        public static string Describe(NetworkSpec spec)
        {
            var e = Effective(spec);
            if (e.Routing == RoutingProtocol.Static) return "static";
            var sb = new StringBuilder("ospf (hello ").Append(N(e.HelloIntervalSeconds)).Append(" s, dead ").Append(N(e.DeadIntervalSeconds)).Append(" s");
            sb.Append(e.Bfd ? ", bfd " + N(e.BfdIntervalMilliseconds) + " ms x " + N(e.BfdMultiplier) : ", no bfd").Append(')');
            return sb.ToString();
        }

        /// <summary>The computed networks of a set of routers and links (as <see cref="NetworkGrouper"/> names them when deployed).</summary>
        public static GroupingResult Group(IEnumerable<RouterSpec> routers, IEnumerable<LinkSpec> links)
        {
            var rs = routers.Where(r => r != null)
                .Select(r => new VirtualRouter { Name = r.Name ?? "", NetworkLabel = r.NetworkLabel, AddressFamily = r.AddressFamily }).ToList();
            var ls = links.Where(l => l != null).Select(l => new VirtualLink { Name = l.Name ?? "", From = l.From ?? "", To = l.To ?? "" }).ToList();
            return NetworkGrouper.Group(rs, ls);
        }

        /// <summary>The declared entries that apply to <paramref name="network"/>: named after its name, base name or one of its labels.</summary>
        public static List<NetworkSpec> EntriesFor(VirtualNetwork network, IEnumerable<NetworkSpec> declared)
        {
            var names = new HashSet<string>(network.Labels, Names) { network.Name };
            if (!string.IsNullOrEmpty(network.BaseName)) names.Add(network.BaseName);
            return declared.Where(d => d != null && names.Contains(d.Name ?? "")).ToList();
        }

        /// <summary>
        /// Computed networks whose applicable entries ask for different routing (a forced merge of differently routed
        /// labels), each with its entries.
        /// </summary>
        public static List<(VirtualNetwork Network, List<NetworkSpec> Entries)> ConflictsOf(GroupingResult grouping, IReadOnlyList<NetworkSpec> declared)
        {
            var result = new List<(VirtualNetwork, List<NetworkSpec>)>();
            foreach (var n in grouping.Networks)
            {
                var entries = EntriesFor(n, declared);
                if (entries.Skip(1).Any(e => !SameRouting(e, entries[0]))) result.Add((n, entries));
            }
            return result;
        }

        /// <summary>
        /// The settings a network gets: its first applicable declared entry; else those its routers run now (the first
        /// router in name order with an applied <see cref="RoutingConfiguration"/>); else null (static routes).
        /// </summary>
        public static NetworkSpec? SettingsFor(VirtualNetwork network, IReadOnlyList<NetworkSpec> declared,
            IReadOnlyDictionary<string, RouterConfiguration>? applied)
        {
            var entry = EntriesFor(network, declared).FirstOrDefault();
            if (entry != null) return entry.Routing == RoutingProtocol.Static ? null : Effective(entry);
            if (applied == null) return null;
            foreach (var router in network.Routers.OrderBy(n => n, Names).ThenBy(n => n, StringComparer.Ordinal))
                if (applied.TryGetValue(router, out var cfg) && cfg?.Routing != null)
                    return FromConfiguration(network.BaseName, cfg.Routing);
            return null;
        }

        /// <summary>A network entry describing what a router's applied routing configuration runs.</summary>
        public static NetworkSpec FromConfiguration(string name, RoutingConfiguration routing) => new NetworkSpec
        {
            Name = name,
            Routing = routing.Protocol,
            Bfd = routing.Bfd,
            HelloIntervalSeconds = routing.HelloIntervalSeconds,
            DeadIntervalSeconds = routing.DeadIntervalSeconds,
            BfdIntervalMilliseconds = routing.Bfd ? routing.BfdIntervalMilliseconds : (int?)null,
            BfdMultiplier = routing.Bfd ? routing.BfdMultiplier : (int?)null,
        };

        /// <summary>
        /// Sets <see cref="RouterConfiguration.Routing"/> on every router of <paramref name="plan"/> and drops the static
        /// routes of routers in OSPF networks. <paramref name="observed"/> (may be null) gives the applied configurations:
        /// the settings of networks without an entry, and the router ids to keep.
        /// </summary>
        public static void Apply(AddressPlan plan, IReadOnlyList<RouterSpec> routers, IReadOnlyList<LinkSpec> links,
            IReadOnlyList<NetworkSpec>? declared, BackendInventory? observed)
        {
            if (plan == null) throw new ArgumentNullException(nameof(plan));
            declared ??= Array.Empty<NetworkSpec>();
            var applied = observed?.Configurations;
            // Nothing declared and nothing running dynamic routing: every network keeps its static routes (the address
            // planner's configurations have no Routing), and large topologies pay nothing for the grouping below.
            if (declared.Count == 0 && (applied == null || !applied.Values.Any(c => c?.Routing != null))) return;
            var grouping = Group(routers, links);
            foreach (var network in grouping.Networks)
            {
                var settings = SettingsFor(network, declared, applied);
                var members = network.Routers.OrderBy(n => n, Names).ThenBy(n => n, StringComparer.Ordinal).ToList();
                if (settings == null || settings.Routing == RoutingProtocol.Static)
                {
                    foreach (var r in members)
                        if (plan.Routers.TryGetValue(r, out var cfg)) cfg.Routing = null;
                    continue;
                }

                var ids = AssignRouterIds(members, applied);
                string key = KeyOf(string.IsNullOrEmpty(network.BaseName) ? network.Name : network.BaseName);
                foreach (var r in members)
                {
                    if (!plan.Routers.TryGetValue(r, out var cfg)) continue;
                    cfg.Routes.Clear();
                    cfg.Routing = new RoutingConfiguration
                    {
                        Protocol = settings.Routing,
                        RouterId = ids[r],
                        HelloIntervalSeconds = settings.HelloIntervalSeconds ?? RoutingDefaults.HelloIntervalSeconds,
                        DeadIntervalSeconds = settings.DeadIntervalSeconds ?? RoutingDefaults.DeadIntervalSeconds,
                        Bfd = settings.Bfd,
                        BfdIntervalMilliseconds = settings.BfdIntervalMilliseconds ?? RoutingDefaults.BfdIntervalMilliseconds,
                        BfdMultiplier = settings.BfdMultiplier ?? RoutingDefaults.BfdMultiplier,
                        AuthenticationKey = key,
                    };
                }
            }
        }

        /// <summary>Router ids for the members of one network (name order): kept when applied and free, else hashed candidates.</summary>
        public static Dictionary<string, string> AssignRouterIds(IReadOnlyList<string> members, IReadOnlyDictionary<string, RouterConfiguration>? applied)
        {
            var ids = new Dictionary<string, string>(Names);
            var taken = new HashSet<string>(StringComparer.Ordinal);
            foreach (var r in members)
            {
                if (applied != null && applied.TryGetValue(r, out var cfg) && cfg?.Routing != null && IsRouterId(cfg.Routing.RouterId) &&
                    taken.Add(cfg.Routing.RouterId))
                    ids[r] = cfg.Routing.RouterId;
            }
            foreach (var r in members)
            {
                if (ids.ContainsKey(r)) continue;
                for (int attempt = 0; ; attempt++)
                {
                    var candidate = RouterIdCandidate(r, attempt);
                    if (!taken.Add(candidate)) continue;
                    ids[r] = candidate;
                    break;
                }
            }
            return ids;
        }

        /// <summary>True for a dotted quad other than 0.0.0.0 and 255.255.255.255.</summary>
        public static bool IsRouterId(string? text)
        {
            var parts = (text ?? "").Split('.');
            if (parts.Length != 4) return false;
            foreach (var p in parts)
            {
                if (p.Length == 0 || p.Length > 3 || p.Any(c => c < '0' || c > '9')) return false;
                if (int.Parse(p, CultureInfo.InvariantCulture) > 255) return false;
            }
            return text != "0.0.0.0" && text != "255.255.255.255";
        }

        /// <summary>
        /// The routing of the observed networks as <c>networks</c> entries (for Export): one per computed network whose routers
        /// run dynamic routing, named after its label (or its base name), with the settings that differ from the defaults.
        /// </summary>
        public static List<NetworkSpec> Derive(IReadOnlyList<VirtualNetwork> networks, IReadOnlyDictionary<string, RouterConfiguration> applied)
        {
            var result = new List<NetworkSpec>();
            var done = new HashSet<string>(Names);
            foreach (var n in networks.OrderBy(n => n.Name, Names))
            {
                string name = n.Labels.Count == 1 ? n.Labels[0] : (string.IsNullOrEmpty(n.BaseName) ? n.Name : n.BaseName);
                if (done.Contains(name)) continue;
                var settings = SettingsFor(n, Array.Empty<NetworkSpec>(), applied);
                if (settings == null) continue;
                done.Add(name);
                result.Add(new NetworkSpec
                {
                    Name = name,
                    Routing = settings.Routing,
                    Bfd = settings.Bfd,
                    HelloIntervalSeconds = settings.HelloIntervalSeconds == RoutingDefaults.HelloIntervalSeconds ? null : settings.HelloIntervalSeconds,
                    DeadIntervalSeconds = settings.DeadIntervalSeconds == RoutingDefaults.DeadIntervalSeconds ? null : settings.DeadIntervalSeconds,
                    BfdIntervalMilliseconds = !settings.Bfd || settings.BfdIntervalMilliseconds == RoutingDefaults.BfdIntervalMilliseconds ? null : settings.BfdIntervalMilliseconds,
                    BfdMultiplier = !settings.Bfd || settings.BfdMultiplier == RoutingDefaults.BfdMultiplier ? null : settings.BfdMultiplier,
                });
            }
            return result;
        }

        private static byte[] Sha256(string text)
        {
            using var sha = SHA256.Create();
            return sha.ComputeHash(Encoding.UTF8.GetBytes(text));
        }

        private static string Hex(byte[] bytes)
        {
            var sb = new StringBuilder(bytes.Length * 2);
            foreach (var b in bytes) sb.Append(b.ToString("x2", CultureInfo.InvariantCulture));
            return sb.ToString();
        }

        private static string N(int? v) => (v ?? 0).ToString(CultureInfo.InvariantCulture);
    }
}
