using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using VirtualNetworks.HyperV.Simulator;

namespace VirtualNetworks.Module.Tests
{
    /// <summary>
    /// A stand-in for the router guest's KVP agent on simulated Hyper-V hosts (test double). It answers the backend's
    /// probe requests (<c>vn.probe.&lt;id&gt;</c> = <c>ping &lt;addr&gt; ...</c>) from the simulated wiring: the target address
    /// is looked up in every guest's pushed configuration (<c>vn.config.*</c>, <c>if &lt;mac&gt; &lt;addr&gt;</c> lines), and it is
    /// reachable when the source and target routers are running and joined by a chain of running routers whose
    /// connected adapters share a switch and an access VLAN. Routing tables are not simulated (the engine computes them
    /// for every pair in a network); isolation, pausing, unplugged links and unconfigured routers are.
    /// </summary>
    public static class SimulatedRouterAgent
    {
        public const ushort Running = 2;

        /// <summary>Installs the agent on every host of <paramref name="hosts"/>; probes may cross hosts only via shared segments (none today).</summary>
        public static void Install(params HyperVSimulator[] hosts)
        {
            foreach (var h in hosts)
                h.GuestAgent = (ctx, key, data) => Answer(hosts, ctx, key, data);
        }

        private static string? Answer(HyperVSimulator[] hosts, SimulatedGuestContext source, string key, string data)
        {
            if (!key.StartsWith("vn.probe.", StringComparison.Ordinal)) return null;
            var words = data.Split(new[] { ' ' }, StringSplitOptions.RemoveEmptyEntries);
            if (words.Length < 2 || words[0] != "ping") return "code 2";
            string target = words[1];

            var guests = hosts.SelectMany(h => h.Guests()).ToList();
            var owner = guests.FirstOrDefault(g => Addresses(g).Contains(target, StringComparer.OrdinalIgnoreCase));
            if (owner == null || source.EnabledState != Running || !source.GuestUp) return "code 1";

            // Segments: (host, switch, vlan) -> running VMs with a connected adapter there.
            var segments = new Dictionary<string, List<string>>(StringComparer.OrdinalIgnoreCase);
            foreach (var g in guests.Where(g => g.EnabledState == Running && g.GuestUp))
                foreach (var nic in g.Nics.Where(n => n.Connected && n.AccessVlanId.HasValue))
                {
                    string seg = g.HostName + "|" + nic.SwitchId + "|" + nic.AccessVlanId!.Value.ToString(CultureInfo.InvariantCulture);
                    if (!segments.TryGetValue(seg, out var list)) segments[seg] = list = new List<string>();
                    list.Add(g.VmId);
                }
            var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { source.VmId };
            var queue = new Queue<string>(seen);
            while (queue.Count > 0)
            {
                var vm = queue.Dequeue();
                foreach (var members in segments.Values.Where(m => m.Contains(vm)))
                    foreach (var next in members.Where(seen.Add))
                        queue.Enqueue(next);
            }
            return seen.Contains(owner.VmId) && owner.EnabledState == Running ? "code 0 rtt_ms 0.4" : "code 1";
        }

        /// <summary>The addresses (without prefix length) of a guest's pushed configuration.</summary>
        public static IReadOnlyList<string> Addresses(SimulatedGuestContext guest)
        {
            if (!guest.HostItems.TryGetValue("vn.config.count", out var countText) || !int.TryParse(countText, out var count)) return Array.Empty<string>();
            var text = string.Concat(Enumerable.Range(0, count).Select(i => guest.HostItems.TryGetValue("vn.config." + i, out var c) ? c : ""));
            var result = new List<string>();
            foreach (var line in text.Split('\n'))
            {
                var w = line.Trim().Split(new[] { ' ' }, StringSplitOptions.RemoveEmptyEntries);
                if (w.Length >= 3 && w[0] == "if")
                    result.AddRange(w.Skip(2).Select(a => a.Split('/')[0]));
            }
            return result;
        }
    }
}
