using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace VirtualNetworks.HyperV.Simulator
{
    /// <summary>
    /// A stand-in for the router guest's KVP agent (images/router/init, <c>kvp_poll</c>) on simulated Hyper-V hosts (test
    /// double). It answers the requests the backend puts in pool 0 under <c>vn.probe.&lt;id&gt;</c>, from a model of the
    /// simulated network:
    /// <list type="bullet">
    /// <item><c>ping &lt;addr&gt; count=N deadline=S</c> → <c>code 0 rtt_ms 0.4</c> / <c>code 1</c> (the single probe);</item>
    /// <item><c>probe &lt;count&gt; &lt;deadline&gt; &lt;addr&gt;...</c> → <c>code 0|1</c> and one <c>&lt;addr&gt; ok 0.4</c> /
    /// <c>&lt;addr&gt; lost</c> line per address, with the guest's argument checks (code 2 otherwise);</item>
    /// <item><c>routes</c> and <c>routing</c> (guest contract 2) from the pushed configuration and the wiring;</item>
    /// <item>anything else → <c>code 127</c>.</item>
    /// </list>
    /// Answers longer than one KVP value go out as <c>code N parts P</c> plus <c>&lt;key&gt;-0</c> .. <c>-&lt;P-1&gt;</c>, as the
    /// guest writes them. Reachability: the target address is looked up in every guest's pushed configuration
    /// (<c>vn.config.*</c>, <c>if &lt;mac&gt; &lt;addr&gt;</c> lines); it is reachable when the source and target routers run and
    /// are joined by a chain of running routers whose adapters share a segment (switch, access VLAN, port connected and not
    /// dropping every frame). Routing tables are not needed for that (the engine computes them for every pair in a
    /// network); isolation, pausing, unplugged and silently failed links and unconfigured routers are modelled.
    /// </summary>
    public static class SimulatedRouterAgent
    {
        public const ushort Running = 2;
        /// <summary>Largest value the agent writes (the guest's budget; KVP allows about 1022 characters).</summary>
        public const int ValueBudget = 1000;

        /// <summary>Every request the agents saw, by VM name: (key, request text).</summary>
        public static ConcurrentQueue<(string Vm, string Key, string Data)> NewLog() => new ConcurrentQueue<(string, string, string)>();

        /// <summary>Installs the agent on every host of <paramref name="hosts"/>; probes may cross hosts only via shared segments (none today).</summary>
        public static void Install(params HyperVSimulator[] hosts) => Install(null, hosts);

        /// <summary>As <see cref="Install(HyperVSimulator[])"/>, logging every request into <paramref name="log"/>.</summary>
        public static void Install(ConcurrentQueue<(string Vm, string Key, string Data)>? log, params HyperVSimulator[] hosts)
        {
            foreach (var h in hosts)
                h.GuestAgentReplies = (ctx, key, data) =>
                {
                    if (!key.StartsWith("vn.probe.", StringComparison.Ordinal)) return null;
                    log?.Enqueue((ctx.VmName, key, data));
                    return Reply(key, Answer(hosts, ctx, data));
                };
        }

        /// <summary>The items of an answer: one value, or a header and parts when it does not fit (the guest's format).</summary>
        public static IReadOnlyList<KeyValuePair<string, string>> Reply(string key, (int Code, string Output)? answer)
        {
            if (answer == null) return Array.Empty<KeyValuePair<string, string>>();
            var (code, output) = answer.Value;
            if (code == -1) return new[] { new KeyValuePair<string, string>(key, output) }; // the single probe's one-line answer
            string single = "code " + code.ToString(CultureInfo.InvariantCulture) + "\n" + output;
            if (single.Length <= ValueBudget) return new[] { new KeyValuePair<string, string>(key, single) };
            var items = new List<KeyValuePair<string, string>>();
            int parts = 0;
            for (int i = 0; i < output.Length; i += ValueBudget, parts++)
                items.Add(new KeyValuePair<string, string>(key + "-" + parts.ToString(CultureInfo.InvariantCulture), output.Substring(i, Math.Min(ValueBudget, output.Length - i))));
            items.Insert(0, new KeyValuePair<string, string>(key, $"code {code} parts {parts}"));
            return items;
        }

        /// <summary>The code and output of a request (the legacy <c>ping</c> answer is returned as its one line with code -1).</summary>
        public static (int Code, string Output)? Answer(HyperVSimulator[] hosts, SimulatedGuestContext source, string data)
        {
            var w = data.Split(new[] { ' ' }, StringSplitOptions.RemoveEmptyEntries);
            if (w.Length == 0) return (127, "unknown command ''\n");
            switch (w[0])
            {
                case "ping":
                    if (w.Length < 2 || !IsAddress(w[1])) return (-1, "code 2 error bad probe request");
                    return (-1, Reachable(hosts, source, w[1]) ? "code 0 rtt_ms 0.4" : "code 1");
                case "probe":
                    {
                        if (w.Length < 4 || w.Length > 64 + 3 || !InRange(w[1], 1, 10) || !InRange(w[2], 1, 30))
                            return (2, "usage: probe <count 1..10> <deadline s 1..30> <address>... (1..64 addresses)\n");
                        foreach (var a in w.Skip(3))
                            if (!IsAddress(a)) return (2, $"usage: probe: '{a}' is not an IP address\n");
                        var sb = new StringBuilder();
                        bool all = true;
                        foreach (var a in w.Skip(3))
                        {
                            bool ok = Reachable(hosts, source, a);
                            all &= ok;
                            sb.Append(a).Append(ok ? " ok 0.412\n" : " lost\n");
                        }
                        return (all ? 0 : 1, sb.ToString());
                    }
                case "routes":
                    return w.Length == 1 ? (0, Routes(hosts, source)) : (2, "usage: routes\n");
                case "routing":
                    return w.Length == 1 ? Routing(hosts, source) : (2, "usage: routing\n");
                default:
                    return (127, $"unknown command '{w[0]}'\n");
            }
        }

        // ------------------------------------------------------------------ the network model

        /// <summary>Segments: (host, switch, vlan) → the running guests with an adapter there that passes frames.</summary>
        private static Dictionary<string, List<(SimulatedGuestContext Guest, SimulatedNic Nic)>> Segments(IEnumerable<SimulatedGuestContext> guests)
        {
            var segments = new Dictionary<string, List<(SimulatedGuestContext, SimulatedNic)>>(StringComparer.OrdinalIgnoreCase);
            foreach (var g in guests.Where(g => g.EnabledState == Running && g.GuestUp))
                foreach (var nic in g.Nics.Where(n => n.Connected && n.AccessVlanId.HasValue && !n.DropsAll(1) && !n.DropsAll(2)))
                {
                    string seg = g.HostName + "|" + nic.SwitchId + "|" + nic.AccessVlanId!.Value.ToString(CultureInfo.InvariantCulture);
                    if (!segments.TryGetValue(seg, out var list)) segments[seg] = list = new List<(SimulatedGuestContext, SimulatedNic)>();
                    list.Add((g, nic));
                }
            return segments;
        }

        /// <summary>True when <paramref name="target"/> answers a ping from <paramref name="source"/> in the model.</summary>
        public static bool Reachable(HyperVSimulator[] hosts, SimulatedGuestContext source, string target)
        {
            var guests = hosts.SelectMany(h => h.Guests()).ToList();
            var owner = guests.FirstOrDefault(g => Addresses(g).Contains(target, StringComparer.OrdinalIgnoreCase));
            if (owner == null || source.EnabledState != Running || !source.GuestUp) return false;
            if (owner.VmId == source.VmId) return true;
            var segments = Segments(guests);
            var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { source.VmId };
            var queue = new Queue<string>(seen);
            while (queue.Count > 0)
            {
                var vm = queue.Dequeue();
                foreach (var members in segments.Values.Where(m => m.Any(x => x.Guest.VmId == vm)))
                    foreach (var next in members.Select(m => m.Guest.VmId).Where(seen.Add))
                        queue.Enqueue(next);
            }
            return seen.Contains(owner.VmId) && owner.EnabledState == Running;
        }

        /// <summary>The pushed configuration text of a guest (empty when none is complete).</summary>
        public static string ConfigText(SimulatedGuestContext guest)
        {
            if (!guest.HostItems.TryGetValue("vn.config.count", out var countText) || !int.TryParse(countText, out var count)) return "";
            return string.Concat(Enumerable.Range(0, count).Select(i => guest.HostItems.TryGetValue("vn.config." + i, out var c) ? c : ""));
        }

        private static IEnumerable<string[]> ConfigLines(SimulatedGuestContext guest) =>
            ConfigText(guest).Split('\n').Select(l => l.Trim().Split(new[] { ' ' }, StringSplitOptions.RemoveEmptyEntries)).Where(w => w.Length > 0 && w[0] != "#");

        /// <summary>The addresses (without prefix length) of a guest's pushed configuration.</summary>
        public static IReadOnlyList<string> Addresses(SimulatedGuestContext guest) =>
            Interfaces(guest).Select(i => i.Address).ToList();

        /// <summary>The <c>if</c> lines of the configuration: (MAC as 12 upper-case hex digits, address, prefix length).</summary>
        private static List<(string Mac, string Address, int Length)> Interfaces(SimulatedGuestContext guest)
        {
            var list = new List<(string, string, int)>();
            foreach (var w in ConfigLines(guest).Where(w => w[0] == "if" && w.Length >= 3))
                foreach (var cidr in w.Skip(2))
                {
                    var p = cidr.Split('/');
                    list.Add((Hex(w[1]), p[0], p.Length > 1 && int.TryParse(p[1], out var n) ? n : -1));
                }
            return list;
        }

        private static string Hex(string mac) => new string(mac.Where(Uri.IsHexDigit).ToArray()).ToUpperInvariant();

        private static string GuestMac(string hex12) =>
            hex12.Length == 12 ? string.Join(":", Enumerable.Range(0, 6).Select(i => hex12.Substring(i * 2, 2))).ToLowerInvariant() : "-";

        private static string Network(string address, int length)
        {
            var bytes = IPAddress.Parse(address).GetAddressBytes();
            for (int i = 0; i < bytes.Length * 8; i++)
                if (i >= length) bytes[i / 8] &= (byte)~(0x80 >> (i % 8));
            return new IPAddress(bytes) + "/" + length.ToString(CultureInfo.InvariantCulture);
        }

        private static bool Contains(string address, int length, string other)
        {
            var a = IPAddress.Parse(address);
            if (!IPAddress.TryParse(other, out var b) || a.AddressFamily != b.AddressFamily) return false;
            return Network(address, length) == Network(b.ToString(), length);
        }

        private static bool IsV6(string address) => address.IndexOf(':') >= 0;

        /// <summary>The modified EUI-64 link-local address of a MAC (what an OSPFv3 next hop looks like).</summary>
        private static string LinkLocal(string hex12)
        {
            var b = Enumerable.Range(0, 6).Select(i => Convert.ToByte(hex12.Substring(i * 2, 2), 16)).ToArray();
            var ip = new byte[16];
            ip[0] = 0xfe; ip[1] = 0x80;
            ip[8] = (byte)(b[0] ^ 0x02); ip[9] = b[1]; ip[10] = b[2]; ip[11] = 0xff; ip[12] = 0xfe; ip[13] = b[3]; ip[14] = b[4]; ip[15] = b[5];
            return new IPAddress(ip).ToString();
        }

        private static string? RoutingLine(SimulatedGuestContext g) =>
            ConfigLines(g).Where(w => w[0] == "routing").Select(w => string.Join(" ", w)).FirstOrDefault();

        /// <summary>OSPF neighbours: guests running OSPF that share a segment with <paramref name="g"/> (also running OSPF), with the adapters.</summary>
        private static List<(SimulatedGuestContext Peer, SimulatedNic Mine, SimulatedNic Theirs)> Neighbors(
            Dictionary<string, List<(SimulatedGuestContext Guest, SimulatedNic Nic)>> segments, SimulatedGuestContext g)
        {
            var list = new List<(SimulatedGuestContext, SimulatedNic, SimulatedNic)>();
            if (RoutingLine(g) == null) return list;
            foreach (var members in segments.Values)
                foreach (var mine in members.Where(m => m.Guest.VmId == g.VmId))
                    foreach (var other in members.Where(m => m.Guest.VmId != g.VmId && RoutingLine(m.Guest) != null))
                        list.Add((other.Guest, mine.Nic, other.Nic));
            return list;
        }

        /// <summary>The <c>routes</c> answer: connected and static routes from the configuration, OSPF routes from the wiring.</summary>
        private static string Routes(HyperVSimulator[] hosts, SimulatedGuestContext g)
        {
            var lines = new List<(bool V6, string Line)>();
            var ifs = Interfaces(g).Where(i => i.Length >= 0).ToList();
            var connected = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (var i in ifs)
            {
                var net = Network(i.Address, i.Length);
                if (!connected.Add(net)) continue;
                lines.Add((IsV6(i.Address), $"route {net} - {GuestMac(i.Mac)} connected {(IsV6(i.Address) ? 256 : 0)}"));
            }
            foreach (var w in ConfigLines(g).Where(w => w[0] == "route" && w.Length >= 4 && w[2] == "via"))
            {
                string nh = w[3];
                string dest = w[1] == "default" ? "0.0.0.0/0" : w[1] == "default6" ? "::/0" : w[1];
                var dev = ifs.FirstOrDefault(i => Contains(i.Address, i.Length, nh));
                lines.Add((IsV6(nh), $"route {dest} {nh} {(dev.Mac == null ? "-" : GuestMac(dev.Mac))} static {(IsV6(nh) ? 1024 : 0)}"));
            }
            if (RoutingLine(g) != null && g.EnabledState == Running && g.GuestUp)
            {
                // Shortest paths over OSPF adjacencies (cost 10 per hop); first hop = the neighbour on the first segment.
                var guests = hosts.SelectMany(h => h.Guests()).ToList();
                var segments = Segments(guests);
                var dist = new Dictionary<string, (int Hops, SimulatedGuestContext Via, SimulatedNic Mine, SimulatedNic Theirs)>(StringComparer.OrdinalIgnoreCase);
                var queue = new Queue<SimulatedGuestContext>();
                foreach (var n in Neighbors(segments, g))
                    if (!dist.ContainsKey(n.Peer.VmId)) { dist[n.Peer.VmId] = (1, n.Peer, n.Mine, n.Theirs); queue.Enqueue(n.Peer); }
                while (queue.Count > 0)
                {
                    var cur = queue.Dequeue();
                    var d = dist[cur.VmId];
                    foreach (var n in Neighbors(segments, cur))
                        if (n.Peer.VmId != g.VmId && !dist.ContainsKey(n.Peer.VmId)) { dist[n.Peer.VmId] = (d.Hops + 1, d.Via, d.Mine, d.Theirs); queue.Enqueue(n.Peer); }
                }
                var added = new HashSet<string>(connected, StringComparer.OrdinalIgnoreCase);
                foreach (var kv in dist.OrderBy(k => k.Value.Hops))
                {
                    var peer = guests.First(x => x.VmId == kv.Key);
                    var (hops, via, mine, theirs) = kv.Value;
                    foreach (var i in Interfaces(peer).Where(i => i.Length >= 0))
                    {
                        var net = Network(i.Address, i.Length);
                        if (!added.Add(net)) continue;
                        string nh = IsV6(i.Address)
                            ? LinkLocal(Hex(theirs.MacAddress))
                            : Interfaces(via).Where(x => Hex(x.Mac) == Hex(theirs.MacAddress) && !IsV6(x.Address)).Select(x => x.Address).FirstOrDefault() ?? "-";
                        // Cost 10 per adjacency on the way plus 10 for the peer's stub prefix (guest contract: ospf metric = path cost).
                        lines.Add((IsV6(i.Address), $"route {net} {nh} {GuestMac(Hex(mine.MacAddress))} ospf {10 * hops + 10}"));
                    }
                }
            }
            var sb = new StringBuilder();
            foreach (var l in lines.Where(l => !l.V6).Concat(lines.Where(l => l.V6))) sb.Append(l.Line).Append('\n');
            return sb.ToString();
        }

        /// <summary>The <c>routing</c> answer: <c>routing static</c>, or the OSPF/BFD state the wiring gives (every adjacency full).</summary>
        private static (int, string) Routing(HyperVSimulator[] hosts, SimulatedGuestContext g)
        {
            var line = RoutingLine(g);
            if (line == null) return (0, "routing static\n");
            var w = line.Split(' ');
            bool bfd = w.Contains("bfd");
            var ifs = Interfaces(g);
            bool v4 = ifs.Any(i => !IsV6(i.Address)), v6 = ifs.Any(i => IsV6(i.Address));
            var sb = new StringBuilder("routing ospf\n");
            if (bfd) sb.Append("protocol bfd1 bfd up\n");
            if (v4) sb.Append("protocol ospf4 ospf2 up\n");
            if (v6) sb.Append("protocol ospf6 ospf3 up\n");
            var guests = hosts.SelectMany(h => h.Guests()).ToList();
            var neighbors = Neighbors(Segments(guests), g);
            string RouterId(SimulatedGuestContext x)
            {
                var r = RoutingLine(x)!.Split(' ');
                int at = Array.IndexOf(r, "router-id");
                return at >= 0 && at + 1 < r.Length ? r[at + 1] : "0.0.0.1";
            }
            foreach (bool six in new[] { false, true })
                foreach (var n in neighbors.Where(n => six ? v6 : v4))
                    sb.Append("neighbor ").Append(GuestMac(Hex(n.Mine.MacAddress))).Append(' ').Append(RouterId(n.Peer)).Append(" full\n");
            if (bfd)
                foreach (var n in neighbors)
                {
                    foreach (var a in Interfaces(n.Peer).Where(a => Hex(a.Mac) == Hex(n.Theirs.MacAddress) && !IsV6(a.Address)))
                        sb.Append("bfd ").Append(GuestMac(Hex(n.Mine.MacAddress))).Append(' ').Append(a.Address).Append(" up\n");
                    if (v6) sb.Append("bfd ").Append(GuestMac(Hex(n.Mine.MacAddress))).Append(' ').Append(LinkLocal(Hex(n.Theirs.MacAddress))).Append(" up\n");
                }
            sb.Append("changes neighbor ").Append((6 * neighbors.Count * ((v4 ? 1 : 0) + (v6 ? 1 : 0))).ToString(CultureInfo.InvariantCulture)).Append(" bfd-down 0\n");
            return (0, sb.ToString());
        }

        private static bool InRange(string s, int min, int max) =>
            s.Length > 0 && (s.Length == 1 || s[0] != '0') && s.All(c => c >= '0' && c <= '9') && s.Length <= 5 &&
            int.Parse(s, CultureInfo.InvariantCulture) is int v && v >= min && v <= max;

        private static bool IsAddress(string s) =>
            s.Length > 0 && s.All(c => Uri.IsHexDigit(c) || c == ':' || c == '.') && IPAddress.TryParse(s, out var a) &&
            (a.AddressFamily == AddressFamily.InterNetwork || a.AddressFamily == AddressFamily.InterNetworkV6);
    }
}
