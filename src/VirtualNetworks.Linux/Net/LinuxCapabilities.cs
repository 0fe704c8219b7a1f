using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using System.Threading;

namespace VirtualNetworks.Linux.Net
{
    /// <summary>A host-network feature the Linux backend may use.</summary>
    public enum LinuxFeature
    {
        /// <summary>iproute2's <c>ip</c>.</summary>
        IpTool,
        /// <summary>iproute2's <c>tc</c>.</summary>
        TcTool,
        /// <summary>iproute2's <c>bridge</c> (port VLANs only).</summary>
        BridgeTool,
        /// <summary>Allowed to change the network (root / CAP_NET_ADMIN): proven by creating the probe bridge.</summary>
        NetworkAdmin,
        /// <summary><c>/dev/net/tun</c>, which QEMU opens for its taps.</summary>
        TunDevice,
        Bridge,
        /// <summary>Bridge VLAN filtering (a link's VLAN id applied as a real tag).</summary>
        BridgeVlanFiltering,
        Tap,
        Veth,
        Vxlan,
        /// <summary>tbf qdisc can be added.</summary>
        Tbf,
        /// <summary>tbf rate can be changed in place (<c>tc qdisc change</c>).</summary>
        TbfChange,
        /// <summary>htb qdisc with a class whose rate can be changed in place.</summary>
        Htb,
        /// <summary>netem (delay, loss); not used for bandwidth.</summary>
        Netem,
        /// <summary>
        /// A clsact qdisc with a classic-BPF filter that drops every frame on ingress (<see cref="SilentDrop"/>): what a link
        /// disabled as a silent failure (Disable-VirtualLink -Failure Silent) puts on its taps.
        /// </summary>
        IngressDrop,
    }

    /// <summary>One feature that is not available, why, and where it comes from.</summary>
    public sealed class MissingFeature
    {
        public MissingFeature(LinuxFeature feature, string detail, string remedy)
        {
            Feature = feature;
            Detail = detail;
            Remedy = remedy;
        }

        public LinuxFeature Feature { get; }
        /// <summary>What the probe saw (the command's error, or "not probed").</summary>
        public string Detail { get; }
        /// <summary>Where the feature comes from: the Debian package, kernel option or privilege.</summary>
        public string Remedy { get; }

        public override string ToString() => Feature + ": " + Detail + " (" + Remedy + ")";
    }

    /// <summary>What <see cref="LinuxCapabilities.Probe"/> found on this machine (or in one network namespace).</summary>
    public sealed class LinuxCapabilityReport
    {
        private readonly HashSet<LinuxFeature> _available;

        internal LinuxCapabilityReport(string? networkNamespace, bool isRoot, IEnumerable<LinuxFeature> available,
            IReadOnlyList<MissingFeature> missing, TimeSpan duration)
        {
            NetworkNamespace = networkNamespace;
            IsRoot = isRoot;
            _available = new HashSet<LinuxFeature>(available);
            Missing = missing;
            Duration = duration;
        }

        public string? NetworkNamespace { get; }
        /// <summary>The effective user id is 0.</summary>
        public bool IsRoot { get; }
        /// <summary>Every feature that is not available, with the remedy.</summary>
        public IReadOnlyList<MissingFeature> Missing { get; }
        /// <summary>How long the probe took.</summary>
        public TimeSpan Duration { get; }

        public bool Has(LinuxFeature feature) => _available.Contains(feature);

        public bool IpTool => Has(LinuxFeature.IpTool);
        public bool TcTool => Has(LinuxFeature.TcTool);
        public bool BridgeTool => Has(LinuxFeature.BridgeTool);
        public bool NetworkAdmin => Has(LinuxFeature.NetworkAdmin);
        public bool TunDevice => Has(LinuxFeature.TunDevice);
        public bool Bridge => Has(LinuxFeature.Bridge);
        public bool BridgeVlanFiltering => Has(LinuxFeature.BridgeVlanFiltering);
        public bool Tap => Has(LinuxFeature.Tap);
        public bool Veth => Has(LinuxFeature.Veth);
        public bool Vxlan => Has(LinuxFeature.Vxlan);
        public bool Tbf => Has(LinuxFeature.Tbf);
        public bool TbfChange => Has(LinuxFeature.TbfChange);
        public bool Htb => Has(LinuxFeature.Htb);
        public bool Netem => Has(LinuxFeature.Netem);
        public bool IngressDrop => Has(LinuxFeature.IngressDrop);

        /// <summary>What a same-host link needs: ip, tc, privilege, /dev/net/tun, bridge, tap, tbf with in-place change.</summary>
        public static readonly IReadOnlyList<LinuxFeature> LinkFeatures = new[]
        {
            LinuxFeature.IpTool, LinuxFeature.TcTool, LinuxFeature.NetworkAdmin, LinuxFeature.TunDevice,
            LinuxFeature.Bridge, LinuxFeature.Tap, LinuxFeature.Tbf, LinuxFeature.TbfChange,
        };

        /// <summary>True when every feature in <see cref="LinkFeatures"/> is available.</summary>
        public bool CanBuildLinks => LinkFeatures.All(Has);

        /// <summary>
        /// Throws one VirtualNetworksException (BackendNotAvailable, NotInstalled or PermissionDenied) naming every one of
        /// <paramref name="features"/> that is missing and where it comes from; nothing when all are there.
        /// </summary>
        public void EnsureAvailable(IEnumerable<LinuxFeature> features)
        {
            var missing = Missing.Where(m => features.Contains(m.Feature)).ToList();
            if (missing.Count == 0) return;
            bool permission = missing.Any(m => m.Feature == LinuxFeature.NetworkAdmin);
            var sb = new StringBuilder("This machine" + (NetworkNamespace == null ? "" : " (network namespace '" + NetworkNamespace + "')") +
                                       " lacks what the Linux backend needs: ");
            sb.Append(string.Join("; ", missing.Select(m => m.Feature + " (" + m.Detail + ")")));
            sb.Append('.');
            throw new VirtualNetworksException(ErrorIds.BackendNotAvailable, permission ? ErrorKind.PermissionDenied : ErrorKind.NotInstalled,
                missing[0].Feature.ToString(), sb.ToString())
            {
                RecommendedAction = string.Join(" ", missing.Select(m => m.Remedy).Distinct()),
            };
        }

        /// <summary>One line per feature, for logs and diagnostics.</summary>
        public string Describe()
        {
            var sb = new StringBuilder();
            foreach (LinuxFeature f in Enum.GetValues(typeof(LinuxFeature)))
            {
                var m = Missing.FirstOrDefault(x => x.Feature == f);
                sb.Append(f).Append(": ").Append(m == null ? "yes" : "no - " + m.Detail + " [" + m.Remedy + "]").Append('\n');
            }
            return sb.ToString();
        }
    }

    /// <summary>
    /// Finds out, cheaply and once per process (per network namespace), which host-network features work here: the
    /// iproute2 programs, privilege, /dev/net/tun, and by trying them on short-lived tagged probe devices (named
    /// <c>vnp</c> + 8 random hex + a role letter, tagged <c>virtualnetworks:v1:probe:&lt;id&gt;:&lt;pidns&gt;:&lt;pid&gt;:&lt;starttime&gt;</c>
    /// (no state id: probes belong to no state directory; the owner is this process, see <see cref="ProbeOwner"/>),
    /// deleted right away): bridge, bridge VLAN filtering, tap, veth, vxlan, tbf (add and in-place change), htb (class
    /// change), netem.
    /// <para>A probe killed before it could delete its devices leaves them behind: the next probe in that namespace (any
    /// process) and orphan clean-up (any state directory) remove probe devices whose owner is gone, never one whose owner
    /// runs. When a probe device disappears under the probe (another program deleted it), the failures say nothing about
    /// the kernel: the probe starts again with new devices, and after <see cref="ProbeAttempts"/> tries fails with
    /// ResourceUnavailable instead of reporting features as missing.</para>
    /// </summary>
    public static class LinuxCapabilities
    {
        private static readonly ConcurrentDictionary<string, Lazy<LinuxCapabilityReport>> Cache =
            new ConcurrentDictionary<string, Lazy<LinuxCapabilityReport>>(StringComparer.Ordinal);

        private const string Iproute2 = "Debian package iproute2 (apt-get install -y iproute2).";
        private const string NeedsRoot = "Run as root (network changes need CAP_NET_ADMIN).";

        /// <summary>
        /// The capability report for <paramref name="networkNamespace"/> (null = this process's namespace); probed on first
        /// use and cached, unless <paramref name="refresh"/>.
        /// </summary>
        public static LinuxCapabilityReport Probe(string? networkNamespace = null, bool refresh = false)
        {
            if (networkNamespace != null) InterfaceNames.EnsureValidNamespaceName(networkNamespace);
            string key = networkNamespace ?? "";
            if (refresh) Cache.TryRemove(key, out _);
            var lazy = Cache.GetOrAdd(key, k => new Lazy<LinuxCapabilityReport>(() => Run(networkNamespace), LazyThreadSafetyMode.ExecutionAndPublication));
            try
            {
                return lazy.Value;
            }
            catch
            {
                Cache.TryRemove(key, out _);
                throw;
            }
        }

        /// <summary>True when the effective user id of this process is 0 (read from /proc/self/status).</summary>
        public static bool IsRoot()
        {
            try
            {
                foreach (var line in File.ReadAllLines("/proc/self/status"))
                {
                    if (!line.StartsWith("Uid:", StringComparison.Ordinal)) continue;
                    var parts = line.Substring(4).Split(new[] { '\t', ' ' }, StringSplitOptions.RemoveEmptyEntries);
                    return parts.Length >= 2 && parts[1] == "0";
                }
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
            return false;
        }

        private static LinuxCapabilityReport Run(string? networkNamespace)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var available = new List<LinuxFeature>();
            var missing = new List<MissingFeature>();
            bool root = IsRoot();

            bool probingDevices = false;
            string? vanished = null;
            void Result(LinuxFeature f, string? failure, string remedy)
            {
                if (failure == null) available.Add(f);
                else missing.Add(new MissingFeature(f, failure, remedy));
                // A probe device that disappears under a step (another process deleted it) is not a missing feature.
                if (failure != null && probingDevices && MentionsMissingDevice(failure))
                    vanished ??= "a probe device was deleted by another process during the " + f + " step (" + failure + ")";
            }

            bool hasIp = NetTools.Find("ip") != null, hasTc = NetTools.Find("tc") != null;
            Result(LinuxFeature.IpTool, hasIp ? null : "'ip' not found", Iproute2);
            Result(LinuxFeature.TcTool, hasTc ? null : "'tc' not found", Iproute2);
            Result(LinuxFeature.BridgeTool, NetTools.Find("bridge") != null ? null : "'bridge' not found", Iproute2);
            Result(LinuxFeature.TunDevice, File.Exists("/dev/net/tun") ? null : "/dev/net/tun does not exist",
                "Kernel tun driver (CONFIG_TUN; 'modprobe tun'); in a container, pass the device in (--device /dev/net/tun).");

            var kernelFeatures = new[]
            {
                LinuxFeature.NetworkAdmin, LinuxFeature.Bridge, LinuxFeature.BridgeVlanFiltering, LinuxFeature.Tap, LinuxFeature.Veth,
                LinuxFeature.Vxlan, LinuxFeature.Tbf, LinuxFeature.TbfChange, LinuxFeature.Htb, LinuxFeature.Netem, LinuxFeature.IngressDrop,
            };
            if (!hasIp)
            {
                foreach (var f in kernelFeatures) Result(f, "not probed: 'ip' is missing", Iproute2);
                return new LinuxCapabilityReport(networkNamespace, root, available, missing, clock.Elapsed);
            }

            var ip = new IpCommand(networkNamespace, TimeSpan.FromSeconds(10));
            RemoveLeftovers(ip);
            var baseAvailable = available.ToList();
            var baseMissing = missing.ToList();
            for (int attempt = 1; attempt <= ProbeAttempts; attempt++)
            {
                available.Clear();
                available.AddRange(baseAvailable);
                missing.Clear();
                missing.AddRange(baseMissing);
                vanished = null;
                probingDevices = true;
                string id = ProbeId();
                string bridge = id + "b";
                var probeTag = OwnershipTag.ForProbe(id);
                bool bridgeMade = false;
                try
                {
                    string? bridgeFailure = Try(() => ip.CreateBridge(bridge, probeTag));
                    if (bridgeFailure != null)
                    {
                        bool denied = IsPermission(bridgeFailure);
                        Result(LinuxFeature.NetworkAdmin, denied ? bridgeFailure : null, NeedsRoot);
                        Result(LinuxFeature.Bridge, denied ? "not probed: no permission" : bridgeFailure,
                            denied ? NeedsRoot : "Kernel bridge driver (CONFIG_BRIDGE, module 'bridge').");
                        foreach (var f in kernelFeatures.Skip(2))
                            Result(f, "not probed: the probe bridge could not be created", denied ? NeedsRoot : "Kernel bridge driver (CONFIG_BRIDGE).");
                        return new LinuxCapabilityReport(networkNamespace, root, available, missing, clock.Elapsed);
                    }
                    bridgeMade = true;
                    Result(LinuxFeature.NetworkAdmin, null, NeedsRoot);
                    Result(LinuxFeature.Bridge, null, "");

                    Result(LinuxFeature.BridgeVlanFiltering,
                        Try(() => ip.Tools.RunChecked("ip", new[] { "link", "set", "dev", bridge, "type", "bridge", "vlan_filtering", "1" }, bridge, default)),
                        "Kernel option CONFIG_BRIDGE_VLAN_FILTERING. Without it each link is isolated by its own bridge and its VLAN id is kept as data.");

                    Result(LinuxFeature.Tap, Try(() =>
                    {
                        string tap = id + "t";
                        try { ip.CreateTap(tap, probeTag); }
                        finally { Quietly(() => ip.Delete(tap)); }
                    }), "Kernel tun driver (CONFIG_TUN) and /dev/net/tun.");

                    Result(LinuxFeature.Veth, Try(() =>
                    {
                        string a = id + "v", b = id + "w";
                        ip.Tools.RunChecked("ip", new[] { "link", "add", "name", a, "type", "veth", "peer", "name", b }, a, default);
                        // Created just now by this call, so deleting it (and its peer with it) is ours to do, tagged or not.
                        try { ip.Tools.RunChecked("ip", new[] { "link", "set", "dev", a, "alias", probeTag.Alias }, a, default); }
                        finally { Quietly(() => ip.Tools.RunChecked("ip", new[] { "link", "del", "dev", a }, a, default)); }
                    }), "Kernel veth driver (CONFIG_VETH, module 'veth').");

                    Result(LinuxFeature.Vxlan, Try(() =>
                    {
                        string x = id + "x";
                        try
                        {
                            // A random VNI: a namespace refuses a second VXLAN device with the same VNI, port and local address,
                            // and another probe's device (a concurrent command's, or a killed one's whose `ip` was still
                            // creating it) must not make this one look unsupported (seen once in 100 kills of the soak).
                            ip.CreateVxlan(x, probeTag, new VxlanOptions { Vni = ProbeVni(), Local = "127.0.0.1", Remote = "127.0.0.2", DestinationPort = 4789 });
                        }
                        finally { Quietly(() => ip.Delete(x)); }
                    }), "Kernel VXLAN driver (CONFIG_VXLAN, module 'vxlan').");

                    string? tbf = Try(() => Tc(ip, "qdisc", "add", "dev", bridge, "root", "handle", TrafficShaper.Handle, "tbf", "rate", "1mbit", "burst", "4000", "limit", "20000"));
                    Result(LinuxFeature.Tbf, tbf, "Kernel tbf qdisc (CONFIG_NET_SCH_TBF, module 'sch_tbf') and " + Iproute2);
                    if (tbf == null)
                    {
                        Result(LinuxFeature.TbfChange, Try(() =>
                        {
                            Tc(ip, "qdisc", "change", "dev", bridge, "root", "handle", TrafficShaper.Handle, "tbf", "rate", "2mbit", "burst", "4000", "limit", "20000");
                            var root = new TrafficShaper(ip).GetRoot(bridge);
                            if (root == null || !root.IsOurs || root.RateBitsPerSecond != 2_000_000)
                                throw new InvalidOperationException("the rate read back after 'tc qdisc change' is " + (root?.ToString() ?? "nothing"));
                        }), "A kernel whose tbf supports in-place change (any Linux since 2.6).");
                        Quietly(() => Tc(ip, "qdisc", "del", "dev", bridge, "root", "handle", TrafficShaper.Handle));
                    }
                    else
                    {
                        Result(LinuxFeature.TbfChange, "not probed: tbf is missing", "Kernel tbf qdisc (CONFIG_NET_SCH_TBF).");
                    }

                    Result(LinuxFeature.Htb, Try(() =>
                    {
                        try
                        {
                            Tc(ip, "qdisc", "add", "dev", bridge, "root", "handle", TrafficShaper.Handle, "htb", "default", "1");
                            Tc(ip, "class", "add", "dev", bridge, "parent", TrafficShaper.Handle, "classid", "766e:1", "htb", "rate", "1mbit", "quantum", "1514");
                            Tc(ip, "class", "change", "dev", bridge, "parent", TrafficShaper.Handle, "classid", "766e:1", "htb", "rate", "2mbit", "quantum", "1514");
                        }
                        finally { Quietly(() => Tc(ip, "qdisc", "del", "dev", bridge, "root", "handle", TrafficShaper.Handle)); }
                    }), "Kernel htb qdisc (CONFIG_NET_SCH_HTB, module 'sch_htb').");

                    Result(LinuxFeature.Netem, Try(() =>
                    {
                        try { Tc(ip, "qdisc", "add", "dev", bridge, "root", "handle", TrafficShaper.Handle, "netem", "delay", "1ms"); }
                        finally { Quietly(() => Tc(ip, "qdisc", "del", "dev", bridge, "root", "handle", TrafficShaper.Handle)); }
                    }), "Kernel netem qdisc (CONFIG_NET_SCH_NETEM, module 'sch_netem'; Debian's standard linux-image-amd64 kernel has it).");

                    Result(LinuxFeature.IngressDrop, Try(() =>
                    {
                        // The probe bridge goes with its clsact qdisc and filter; what a silent link failure puts on a tap.
                        Tc(ip, SilentDrop.QdiscAddArguments(bridge));
                        Tc(ip, SilentDrop.FilterAddArguments(bridge));
                    }), SilentDrop.Remedy);
                }
                finally
                {
                    if (bridgeMade)
                    {
                        // Deleted (or replaced) by someone else while the probe ran: what failed says nothing about the kernel.
                        LinkInfo? now = null;
                        try { now = ip.GetLink(bridge); }
                        catch (VirtualNetworksException) { }
                        if (now == null || !string.Equals(now.Alias, probeTag.Alias, StringComparison.Ordinal))
                            vanished ??= "the probe bridge " + bridge + " was deleted by another process while the probe ran";
                        Quietly(() => ip.Delete(bridge));
                    }
                }
                if (vanished == null) return new LinuxCapabilityReport(networkNamespace, root, available, missing, clock.Elapsed);
                if (attempt < ProbeAttempts) Thread.Sleep(50 * attempt);
            }
            throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.ResourceUnavailable, "capability probe",
                "The Linux capability probe" + (networkNamespace == null ? "" : " in network namespace '" + networkNamespace + "'") +
                " could not finish: " + vanished + " (" + ProbeAttempts.ToString(CultureInfo.InvariantCulture) + " attempts). " +
                "This is not a missing kernel feature: another program deletes interfaces named " + InterfaceNames.ProbePrefix + "... (tagged " +
                OwnershipTag.V1Prefix + "probe:...) that this process is using.")
            {
                RecommendedAction = "Find what deletes them (an older VirtualNetworks orphan clean-up, or a script) and run the command again.",
            };
        }

        /// <summary>How many times the probe is tried when another process deletes its devices under it.</summary>
        internal const int ProbeAttempts = 3;

        private static bool MentionsMissingDevice(string failure) =>
            failure.IndexOf("Cannot find device", StringComparison.OrdinalIgnoreCase) >= 0 ||
            failure.IndexOf("No such device", StringComparison.OrdinalIgnoreCase) >= 0;

        /// <summary>
        /// Deletes probe devices in <paramref name="ip"/>'s namespace whose owner process is gone (a probe killed before it
        /// could clean up); a live owner's, one in another pid namespace and one without owner are left alone. Best effort.
        /// </summary>
        internal static int RemoveLeftovers(IpCommand ip)
        {
            try
            {
                var leftovers = NetworkOrphanScanner.FindOwned(ip, null, roles: new[] { OwnedRole.Probe });
                return NetworkOrphanScanner.Remove(ip, leftovers).Count;
            }
            catch (VirtualNetworksException)
            {
                return 0;
            }
        }

        private static void Tc(IpCommand ip, params string[] args) => ip.Tools.RunChecked("tc", args, null, default);

        /// <summary>Null when <paramref name="action"/> succeeds, else its error message (first line).</summary>
        private static string? Try(Action action)
        {
            try
            {
                action();
                return null;
            }
            catch (Exception ex) when (ex is VirtualNetworksException || ex is InvalidOperationException || ex is ArgumentException)
            {
                string m = ex.Message;
                int colon = m.LastIndexOf(" failed with exit code ", StringComparison.Ordinal);
                if (colon >= 0)
                {
                    int detail = m.IndexOf(": ", colon, StringComparison.Ordinal);
                    if (detail >= 0) m = m.Substring(detail + 2);
                }
                int nl = m.IndexOf('\n');
                return (nl >= 0 ? m.Substring(0, nl) : m).Trim();
            }
        }

        private static void Quietly(Action action)
        {
            try { action(); }
            catch (VirtualNetworksException) { }
        }

        private static bool IsPermission(string message) =>
            message.IndexOf("Operation not permitted", StringComparison.OrdinalIgnoreCase) >= 0 ||
            message.IndexOf("Permission denied", StringComparison.OrdinalIgnoreCase) >= 0;

        /// <summary>A random VXLAN id for the probe's device (1 to 16777215; above the range links start from).</summary>
        private static int ProbeVni()
        {
            var bytes = new byte[3];
            using (var rng = System.Security.Cryptography.RandomNumberGenerator.Create()) rng.GetBytes(bytes);
            int v = (bytes[0] << 16) | (bytes[1] << 8) | bytes[2];
            return Math.Max(0x100000, v); // 1048576..16777215
        }

        private static string ProbeId()
        {
            var bytes = new byte[4];
            using (var rng = RandomNumberGenerator.Create()) rng.GetBytes(bytes);
            var sb = new StringBuilder(InterfaceNames.ProbePrefix);
            foreach (var b in bytes) sb.Append(b.ToString("x2", CultureInfo.InvariantCulture));
            return sb.ToString();
        }
    }
}
