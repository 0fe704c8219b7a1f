using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace VirtualNetworks.Linux.Net
{
    /// <summary>
    /// The host side of a silent link failure (Disable-VirtualLink -Failure Silent): on each tap of the link a clsact qdisc
    /// with one classic-BPF filter on ingress (direct action, program <c>ret #2</c> = TC_ACT_SHOT) drops every frame the
    /// router sends, so with both taps filtered nothing crosses the link in either direction while both guests keep their
    /// carrier. Classic BPF needs no compiler and no other kernel module than sch_ingress (clsact) and cls_bpf
    /// (<see cref="LinuxFeature.IngressDrop"/>). The filter sits on the tap, not on the bridge or the tunnel, so it holds
    /// for same-host and VXLAN links alike; it is not a root qdisc, so the bandwidth limit (tbf, root) is independent of it.
    /// A tap is recreated without it: the wiring (<c>LinuxBackend.WireLinkLocked</c>) puts it back from the link record.
    /// Only taps the module owns are passed in (the caller checked their tags).
    /// </summary>
    public sealed class SilentDrop
    {
        /// <summary>The filter's preference (priority) on the tap's ingress hook: "vn".</summary>
        public const int Preference = 0x766e;
        /// <summary>Classic BPF: one instruction, BPF_RET|BPF_K with k = 2 (TC_ACT_SHOT under direct action).</summary>
        public const string Bytecode = "1,6 0 0 2";
        /// <summary>Where the feature comes from.</summary>
        public const string Remedy = "Kernel options CONFIG_NET_SCH_INGRESS (the clsact qdisc, module 'sch_ingress') and CONFIG_NET_CLS_BPF " +
                                     "(module 'cls_bpf'), and the Debian package iproute2.";

        private readonly IpCommand _ip;

        public SilentDrop(IpCommand ip)
        {
            _ip = ip ?? throw new ArgumentNullException(nameof(ip));
        }

        internal static string[] QdiscAddArguments(string device) => new[] { "qdisc", "add", "dev", device, "clsact" };

        internal static string[] FilterAddArguments(string device) => new[]
        {
            "filter", "replace", "dev", device, "ingress", "pref", Preference.ToString(CultureInfo.InvariantCulture), "handle", "1",
            "bpf", "da", "bytecode", Bytecode,
        };

        /// <summary>True when <paramref name="device"/> has a clsact qdisc (whoever added it).</summary>
        public bool HasClsact(string device, CancellationToken ct)
        {
            InterfaceNames.EnsureValid(device);
            var r = _ip.Tools.RunChecked("tc", new[] { "-j", "qdisc", "show", "dev", device }, device, ct);
            return ParseClsactDevices(r.StdOut, device).Contains(device);
        }

        /// <summary>True when the drop filter is on <paramref name="device"/>'s ingress, exactly as <see cref="Apply"/> puts it.</summary>
        public bool IsApplied(string device, CancellationToken ct)
        {
            if (!HasClsact(device, ct)) return false;
            var r = _ip.Tools.RunChecked("tc", new[] { "-j", "filter", "show", "dev", device, "ingress" }, device, ct);
            return ParseApplied(r.StdOut);
        }

        /// <summary>Puts the drop filter on <paramref name="device"/> (a no-op when it is there).</summary>
        public void Apply(string device, CancellationToken ct)
        {
            InterfaceNames.EnsureValid(device);
            if (!HasClsact(device, ct))
            {
                _ip.Tools.RunChecked("tc", QdiscAddArguments(device), device, ct);
            }
            else
            {
                var r = _ip.Tools.RunChecked("tc", new[] { "-j", "filter", "show", "dev", device, "ingress" }, device, ct);
                if (ParseApplied(r.StdOut)) return;
            }
            _ip.Tools.RunChecked("tc", FilterAddArguments(device), device, ct);
        }

        /// <summary>
        /// Takes the drop filter off <paramref name="device"/> and then the clsact qdisc when nothing else is filtered there
        /// (a no-op when there is none). <paramref name="hasClsact"/> = false (read from a host view) skips every command.
        /// </summary>
        public void Remove(string device, CancellationToken ct, bool? hasClsact = null)
        {
            InterfaceNames.EnsureValid(device);
            if (hasClsact == false || (hasClsact == null && !HasClsact(device, ct))) return;
            var ingress = _ip.Tools.RunChecked("tc", new[] { "-j", "filter", "show", "dev", device, "ingress" }, device, ct);
            var prefs = ParsePreferences(ingress.StdOut);
            if (prefs.Contains(Preference))
            {
                _ip.Tools.RunChecked("tc", new[] { "filter", "del", "dev", device, "ingress", "pref", Preference.ToString(CultureInfo.InvariantCulture) }, device, ct);
                prefs.Remove(Preference);
            }
            if (prefs.Count > 0) return; // someone else's filter: their qdisc stays
            var egress = _ip.Tools.RunChecked("tc", new[] { "-j", "filter", "show", "dev", device, "egress" }, device, ct);
            if (ParsePreferences(egress.StdOut).Count > 0) return;
            _ip.Tools.RunChecked("tc", new[] { "qdisc", "del", "dev", device, "clsact" }, device, ct);
        }

        /// <summary>
        /// The devices that have a clsact qdisc, from <c>tc -j qdisc show</c> (all devices), or from <c>tc -j qdisc show dev
        /// <paramref name="device"/></c> (whose entries name no device).
        /// </summary>
        internal static HashSet<string> ParseClsactDevices(string json, string? device = null)
        {
            var set = new HashSet<string>(StringComparer.Ordinal);
            foreach (var o in Array(json, "tc -j qdisc show"))
                if ((string?)o["kind"] == "clsact" && ((string?)o["dev"] ?? device) is string dev && dev.Length > 0) set.Add(dev);
            return set;
        }

        /// <summary>True when <c>tc -j filter show dev X ingress</c> lists the drop filter (preference, bpf, direct action, the one instruction).</summary>
        internal static bool ParseApplied(string json)
        {
            foreach (var o in Array(json, "tc -j filter show"))
            {
                if ((int?)o["pref"] != Preference || (string?)o["kind"] != "bpf" || !(o["options"] is JObject options)) continue;
                if (!((bool?)options["direct-action"] ?? false)) continue;
                if (!(options["bytecode"]?["insns"] is JArray insns) || insns.Count != 1) continue;
                var i = insns[0];
                if ((int?)i["code"] == 6 && (int?)i["jt"] == 0 && (int?)i["jf"] == 0 && (long?)i["k"] == 2) return true;
            }
            return false;
        }

        private static HashSet<int> ParsePreferences(string json) =>
            new HashSet<int>(Array(json, "tc -j filter show").Select(o => (int?)o["pref"]).Where(p => p.HasValue).Select(p => p!.Value));

        private static IEnumerable<JObject> Array(string json, string what)
        {
            if (string.IsNullOrWhiteSpace(json)) return System.Array.Empty<JObject>();
            try
            {
                return JArray.Parse(json).OfType<JObject>().ToList();
            }
            catch (JsonException ex)
            {
                throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.InvalidResult, "tc",
                    "The output of '" + what + "' is not the expected JSON array: " + ex.Message, ex);
            }
        }
    }
}
