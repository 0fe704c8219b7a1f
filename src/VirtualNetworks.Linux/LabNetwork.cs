using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net;
using System.Threading;
using VirtualNetworks.Linux.Net;
using VirtualNetworks.Linux.State;
using VirtualNetworks.Topology;

namespace VirtualNetworks.Linux
{
    /// <summary>
    /// Lab hosts, physical links and underlay routing of the Linux backend (docs/linux-hosts.md).
    /// <list type="bullet">
    /// <item>A lab host is a network namespace <c>vnh-</c> + 10 hex (SHA-256 of the lower-case host name) with forwarding
    /// on (IPv4 and IPv6), reverse-path filtering off, <c>lo</c> up, and an underlay anchor <c>vnu</c> + 10 hex: a
    /// port-less bridge tagged <c>virtualnetworks:v2:&lt;stateid&gt;:host:&lt;host&gt;</c> that holds the host's underlay /32 and marks the
    /// namespace as ours (a namespace without it is never touched).</item>
    /// <item>The local machine gets an anchor (and a host record) only while it has a physical link.</item>
    /// <item>A physical link is a veth pair <c>vnv</c> + hash(host/peer) with a /31 from <see cref="LinkPool"/>, MTU 1500.</item>
    /// <item>Every host with an underlay address has a route (<c>proto 118</c>) to every other host's /32 through the first
    /// hop of a shortest path over physical links (ties: the neighbour first in name order); recomputed after every change
    /// of hosts or physical links, idempotently (missing routes added, wrong ones replaced, stale ones deleted).</item>
    /// </list>
    /// Callers hold the state lock.
    /// </summary>
    public sealed class LabNetwork
    {
        /// <summary>Underlay /32 of each host: 198.19.255.1 - .254 (RFC 2544 benchmarking space, not routed on the Internet).</summary>
        public const string HostPool = "198.19.255.0/24";
        /// <summary>Point-to-point /31 of each physical link: 198.19.0.0/17 (16 384 links).</summary>
        public const string LinkPool = "198.19.0.0/17";
        /// <summary>MTU of physical links (veths).</summary>
        public const int UnderlayMtu = 1500;
        /// <summary>VXLAN over IPv4 adds 50 bytes (outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8).</summary>
        public const int VxlanOverhead = 50;
        /// <summary>MTU of links that may cross hosts: underlay MTU − 50.</summary>
        public const int TunnelMtu = UnderlayMtu - VxlanOverhead;
        /// <summary>The IANA VXLAN port.</summary>
        public const int VxlanPort = 4789;

        private static readonly uint HostBase = ToUInt(IPAddress.Parse("198.19.255.0"));
        private static readonly uint LinkBase = ToUInt(IPAddress.Parse("198.19.0.0"));
        private const int MaxLinks = 1 << 14;

        private readonly StateStore _store;
        private readonly IpCommand _root;

        public LabNetwork(StateStore store, IpCommand root)
        {
            _store = store ?? throw new ArgumentNullException(nameof(store));
            _root = root ?? throw new ArgumentNullException(nameof(root));
        }

        public static string LocalName => HostNames.LocalName;

        // ================================================================================================ hosts

        /// <summary>
        /// The canonical name of <paramref name="host"/>: the local machine's name for local aliases, the record's name for
        /// a lab host. Unknown hosts give HostNotFound.
        /// </summary>
        public string Resolve(string? host)
        {
            if (HostNames.IsLocalHost(host)) return LocalName;
            var rec = ReadHost(host!);
            if (rec == null || rec.IsLocal)
                throw new VirtualNetworksException(ErrorIds.HostNotFound, ErrorKind.ObjectNotFound, host,
                    $"The Linux backend knows no host '{host}': it manages the local machine ({LocalName}) and the lab hosts created on it" +
                    (ListLabHosts().Count == 0 ? " (none yet)." : " (" + string.Join(", ", ListLabHosts().Select(h => h.Name)) + ")."))
                {
                    RecommendedAction = "Create the lab host first (New-VirtualLabHost, or declare it in the topology's \"hosts\").",
                };
            return rec.Name;
        }

        /// <summary>True when <paramref name="host"/> is the local machine or a recorded lab host.</summary>
        public bool IsKnown(string? host) => HostNames.IsLocalHost(host) || (NameRules.IsValid(host) && ReadHost(host!) is HostRecord r && !r.IsLocal);

        private HostRecord? ReadHost(string name) => NameRules.IsValid(name) ? _store.ReadHost(name) : null;

        public List<HostRecord> ListLabHosts() => _store.ListHosts().Where(h => !h.IsLocal).OrderBy(h => h.Name, StringComparer.OrdinalIgnoreCase).ToList();

        /// <summary>The namespace commands for <paramref name="host"/> run in: null for the local machine.</summary>
        public string? NamespaceOf(string host) => HostNames.IsLocalHost(host) ? null : InterfaceNames.Namespace(host);

        /// <summary>ip/bridge commands acting inside <paramref name="host"/> (the local machine: this namespace).</summary>
        public IpCommand IpFor(string host) => HostNames.IsLocalHost(host) ? _root : new IpCommand(InterfaceNames.Namespace(host));

        /// <summary>The underlay address of <paramref name="host"/>, null when it has none (the local machine without physical links).</summary>
        public string? UnderlayAddressOf(string host) => ReadHost(HostNames.IsLocalHost(host) ? LocalName : host)?.UnderlayAddress;

        public static bool NamespaceExists(string ns) => File.Exists(Path.Combine("/run/netns", ns));

        /// <summary>Lab-host-like namespaces present (names starting with vnh-), ours or not.</summary>
        public static IReadOnlyList<string> ListCandidateNamespaces()
        {
            if (!Directory.Exists("/run/netns")) return Array.Empty<string>();
            return Directory.GetFiles("/run/netns").Select(Path.GetFileName).Where(n => n != null && n.StartsWith(InterfaceNames.NamespacePrefix, StringComparison.Ordinal))
                .Select(n => n!).OrderBy(n => n, StringComparer.Ordinal).ToList();
        }

        /// <summary>
        /// The tag of the underlay anchor in <paramref name="ns"/> that marks it as a lab host's namespace (the anchor of the
        /// host whose namespace name it is, under its expected name); null when the namespace carries no such anchor.
        /// The tag's <see cref="OwnershipTag.StateId"/> says which state directory the namespace belongs to.
        /// </summary>
        public static OwnershipTag? AnchorTagOfNamespace(string ns, CancellationToken ct)
        {
            IReadOnlyList<LinkInfo> links;
            try { links = new IpCommand(ns).ListLinks(ct); }
            catch (VirtualNetworksException) { return null; }
            foreach (var l in links)
            {
                if (l.Tag?.Role == OwnedRole.Host && l.Tag.HostName != null && l.Name == InterfaceNames.Anchor(l.Tag.HostName) &&
                    InterfaceNames.Namespace(l.Tag.HostName) == ns)
                    return l.Tag;
            }
            return null;
        }

        /// <summary>
        /// The host whose tagged anchor lives in <paramref name="ns"/> and whose namespace name it is, when the anchor
        /// belongs to state directory <paramref name="stateId"/> or is a legacy v1 anchor (no state id); null when the
        /// namespace is not ours (untagged, or another state directory's).
        /// </summary>
        public static string? OwnerOfNamespace(string ns, string? stateId, CancellationToken ct)
        {
            var tag = AnchorTagOfNamespace(ns, ct);
            if (tag == null) return null;
            return tag.StateId == null || tag.BelongsTo(stateId) ? tag.HostName : null;
        }

        /// <summary>Creates lab host <paramref name="name"/> (idempotent: an existing one is checked and repaired).</summary>
        public HostRecord CreateLabHost(string name, bool byDeployment, CancellationToken ct) => CreateLabHost(name, byDeployment, null, ct);

        /// <summary>
        /// Creates lab host <paramref name="name"/>, or checks and repairs an existing one (its namespace, anchor, address,
        /// settings, physical links and every host's underlay routes). <paramref name="deployedFor"/> (network labels) is added
        /// to the record's <see cref="HostRecord.DeployedFor"/> before anything is created or changed.
        /// </summary>
        public HostRecord CreateLabHost(string name, bool byDeployment, IReadOnlyCollection<string>? deployedFor, CancellationToken ct)
        {
            foreach (var n in deployedFor ?? Array.Empty<string>()) NameRules.Ensure(n, "network");
            NameRules.Ensure(name, "host");
            if (HostNames.IsLocalHost(name))
                throw new VirtualNetworksException(ErrorIds.InvalidName, ErrorKind.InvalidArgument, name,
                    $"'{name}' is the local machine, not a lab host; it needs no creating.");
            var rec = _store.ReadHost(name);
            if (rec == null)
            {
                var ns = InterfaceNames.Namespace(name);
                if (NamespaceExists(ns))
                {
                    var owner = OwnerOfNamespace(ns, _store.StateId, ct);
                    if (owner == null || !string.Equals(owner, name, StringComparison.OrdinalIgnoreCase))
                        throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.ResourceExists, name,
                            $"Cannot create lab host '{name}': the network namespace {ns} exists and is not marked as this host's " +
                            "(no tagged underlay anchor of this state directory; it may be another state directory's); it is left alone.");
                }
                rec = new HostRecord
                {
                    Name = name,
                    IsLocal = false,
                    Namespace = ns,
                    UnderlayAddress = AllocateHostAddress(),
                    CreatedByDeployment = byDeployment,
                    DeployedFor = deployedFor != null && deployedFor.Count > 0 ? MergeNames(null, deployedFor) : null,
                };
                // Record first: a crash after it leaves a tagged namespace the record names (removal or orphan clean-up takes it).
                _store.WriteHost(rec);
            }
            else if (rec.IsLocal)
            {
                throw new VirtualNetworksException(ErrorIds.InvalidName, ErrorKind.InvalidArgument, name, $"'{name}' is the local machine, not a lab host.");
            }
            else if (deployedFor != null && deployedFor.Any(n => rec.DeployedFor?.Contains(n, StringComparer.OrdinalIgnoreCase) != true))
            {
                rec.DeployedFor = MergeNames(rec.DeployedFor, deployedFor);
                _store.WriteHost(rec); // intent first: the networks are recorded before the host is changed
            }
            EnsureHost(rec, full: true, ct);
            ApplyRouting(ct);
            return rec;
        }

        private static List<string> MergeNames(IEnumerable<string>? have, IEnumerable<string> add) =>
            (have ?? Enumerable.Empty<string>()).Concat(add).Where(n => !string.IsNullOrEmpty(n)).Distinct(StringComparer.OrdinalIgnoreCase)
                .OrderBy(n => n, StringComparer.OrdinalIgnoreCase).ToList();

        /// <summary>
        /// Makes the host's namespace (lab host), anchor, underlay address and settings exist. With <paramref name="full"/>
        /// false, a host whose namespace and anchor exist is left as it is (the quick check before starting a router).
        /// </summary>
        public void EnsureHost(HostRecord rec, bool full, CancellationToken ct)
        {
            var anchor = InterfaceNames.Anchor(rec.Name);
            if (rec.IsLocal)
            {
                _root.CreateBridge(anchor, OwnershipTag.ForHost(_store.StateId, rec.Name), false, ct);
                _root.SetUp(anchor, ct);
                _root.SetAddresses(anchor, new[] { rec.UnderlayAddress + "/32" }, ct);
                return;
            }
            var ns = InterfaceNames.Namespace(rec.Name);
            bool existed = NamespaceExists(ns);
            var ip = new IpCommand(ns);
            if (existed && !full && ip.GetLink(anchor, ct)?.Tag is OwnershipTag at && (at.StateId == null || at.BelongsTo(_store.StateId))) return;
            if (!existed)
            {
                var r = _root.Tools.Run("ip", new[] { "netns", "add", ns }, ct);
                if (!r.Succeeded && !NamespaceExists(ns)) throw NetTools.Failure(r, ns);
            }
            ip.CreateBridge(anchor, OwnershipTag.ForHost(_store.StateId, rec.Name), false, ct);
            ip.SetUp(anchor, ct);
            ip.SetAddresses(anchor, new[] { rec.UnderlayAddress + "/32" }, ct);
            ip.Tools.RunChecked("ip", new[] { "link", "set", "dev", "lo", "up" }, "lo", ct);
            SetNamespaceSysctls(ns, ct);
            if (!existed || full)
            {
                foreach (var pl in _store.ListPhysicalLinks().Where(p => Is(p.From, rec.Name) || Is(p.To, rec.Name)))
                    EnsurePhysicalLink(pl, ct);
                if (!existed) ApplyRouting(ct);
            }
        }

        /// <summary>A lab host's <c>net.ipv4.tcp_rmem</c> (min, default, max bytes): TCP receive buffers of at most 1 MB.</summary>
        internal const string UnderlayTcpReceiveBuffer = "4096 131072 1048576";

        /// <summary>A lab host's <c>net.ipv4.tcp_wmem</c> (min, default, max bytes): TCP send buffers of at most 256 KB.</summary>
        internal const string UnderlayTcpSendBuffer = "4096 16384 262144";

        /// <summary>The settings of a lab host's namespace (key, value), set at creation and checked by every underlay check.</summary>
        internal static readonly IReadOnlyList<KeyValuePair<string, string>> NamespaceSysctls = new[]
        {
            new KeyValuePair<string, string>("net.ipv4.ip_forward", "1"),
            new KeyValuePair<string, string>("net.ipv6.conf.all.forwarding", "1"),
            new KeyValuePair<string, string>("net.ipv4.conf.all.rp_filter", "0"),
            new KeyValuePair<string, string>("net.ipv4.conf.default.rp_filter", "0"),
            // A live migration's destination loads the stream more slowly than the source sends it; with the
            // default receive buffer (up to 6 MB) the backlog it still has to load when the source stops adds ~20 ms
            // to the router's blackout. 1 MB bounds it (docs/migration.md: blackout median 29 -> 16 ms).
            new KeyValuePair<string, string>("net.ipv4.tcp_rmem", UnderlayTcpReceiveBuffer),
            // The source's send buffer (autotuned up to 4 MB) is backlog too: 256 KB halved the blackout again
            // (docs/migration.md: median 18-20 -> 10-12 ms). Only TCP in the lab hosts (the migration stream) is affected:
            // the routers' links are VXLAN (UDP).
            new KeyValuePair<string, string>("net.ipv4.tcp_wmem", UnderlayTcpSendBuffer),
        };

        private static string SysctlPath() =>
            Util.ProcessRunner.FindExecutable("sysctl") ?? (File.Exists("/usr/sbin/sysctl") ? "/usr/sbin/sysctl" : "/sbin/sysctl");

        private static void SetNamespaceSysctls(string ns, CancellationToken ct)
        {
            // Inside the lab host's own namespace: these are its sysctls, not the machine's.
            var args = new List<string> { "netns", "exec", ns, SysctlPath(), "-q", "-w" };
            args.AddRange(NamespaceSysctls.Select(kv => kv.Key + "=" + kv.Value));
            var r = Util.ProcessRunner.Run(NetTools.Require("ip"), args, null, NetTools.DefaultTimeout, null, ct);
            if (!r.Succeeded) throw NetTools.Failure(r, ns);
        }

        /// <summary>The values of <see cref="NamespaceSysctls"/> inside <paramref name="ns"/> (whitespace normalised); null when they cannot be read.</summary>
        private static Dictionary<string, string>? ReadNamespaceSysctls(string ns, CancellationToken ct)
        {
            var args = new List<string> { "netns", "exec", ns, SysctlPath(), "-n" };
            args.AddRange(NamespaceSysctls.Select(kv => kv.Key));
            Util.ProcessResult r;
            try { r = Util.ProcessRunner.Run(NetTools.Require("ip"), args, null, NetTools.DefaultTimeout, null, ct); }
            catch (VirtualNetworksException) { return null; }
            if (!r.Succeeded) return null;
            var lines = r.StdOut.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).ToList();
            if (lines.Count != NamespaceSysctls.Count) return null;
            var map = new Dictionary<string, string>(StringComparer.Ordinal);
            for (int i = 0; i < lines.Count; i++) map[NamespaceSysctls[i].Key] = NormalizeSpaces(lines[i]);
            return map;
        }

        private static string NormalizeSpaces(string s) => string.Join(" ", s.Split(new[] { ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries));

        /// <summary>
        /// Removes lab host <paramref name="name"/>: its physical links, its namespace (only when the tagged anchor marks it
        /// as this host's) and its record; the other hosts' routes are recomputed. The caller checks that no router is on it.
        /// </summary>
        public void RemoveLabHost(string name, CancellationToken ct)
        {
            var rec = ReadHost(name);
            if (rec == null || rec.IsLocal)
                throw new VirtualNetworksException(ErrorIds.HostNotFound, ErrorKind.ObjectNotFound, name, $"No lab host named '{name}' exists.");
            foreach (var pl in _store.ListPhysicalLinks().Where(p => Is(p.From, rec.Name) || Is(p.To, rec.Name)).ToList())
                DeletePhysicalLink(pl, ct);
            var ns = InterfaceNames.Namespace(rec.Name);
            if (NamespaceExists(ns))
            {
                var owner = OwnerOfNamespace(ns, _store.StateId, ct);
                // A create interrupted between "ip netns add" and the anchor leaves an empty namespace the record (written
                // first) names: nothing in it but lo and no process inside, so nobody else's; it goes with the record.
                bool halfMade = owner == null && AnchorTagOfNamespace(ns, ct) == null && IsEmptyNamespace(ns, ct);
                if (!halfMade && (owner == null || !Is(owner, rec.Name)))
                    throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.InvalidOperation, name,
                        $"The network namespace {ns} is not marked as lab host '{rec.Name}' of this state directory (no tagged underlay anchor with its state id); it was left alone.");
                DeleteNamespace(ns, ct);
            }
            _store.DeleteHost(rec.Name);
            ReleaseLocalIfUnused(ct);
            ApplyRouting(tolerant: true, ct);
        }

        /// <summary>
        /// True when <paramref name="ns"/> holds no interface but <c>lo</c> and no process runs in it (<c>ip netns pids</c>
        /// lists none): an empty namespace nobody uses. False when in doubt.
        /// </summary>
        internal bool IsEmptyNamespace(string ns, CancellationToken ct)
        {
            try
            {
                if (new IpCommand(ns).ListLinks(ct).Any(l => l.Name != "lo")) return false;
                var r = _root.Tools.Run("ip", new[] { "netns", "pids", ns }, ct);
                return r.Succeeded && string.IsNullOrWhiteSpace(r.StdOut);
            }
            catch (VirtualNetworksException) { return false; }
        }

        /// <summary>Deletes a namespace (everything inside goes with it; veth peers elsewhere too).</summary>
        internal void DeleteNamespace(string ns, CancellationToken ct)
        {
            var r = _root.Tools.Run("ip", new[] { "netns", "del", ns }, ct);
            if (!r.Succeeded && NamespaceExists(ns)) throw NetTools.Failure(r, ns);
        }

        private string AllocateHostAddress()
        {
            var used = new HashSet<string>(_store.ListHosts().Select(h => h.UnderlayAddress), StringComparer.Ordinal);
            for (uint i = 1; i < 255; i++)
            {
                var a = ToAddress(HostBase + i);
                if (!used.Contains(a)) return a;
            }
            throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.LimitsExceeded, HostPool,
                $"The underlay host pool {HostPool} is exhausted (254 hosts).");
        }

        /// <summary>The local machine's host record, created (with an underlay address and anchor) when missing.</summary>
        private HostRecord EnsureLocalRecord(CancellationToken ct)
        {
            var rec = _store.ReadHost(LocalName);
            if (rec == null)
            {
                rec = new HostRecord { Name = LocalName, IsLocal = true, UnderlayAddress = AllocateHostAddress() };
                _store.WriteHost(rec);
            }
            EnsureHost(rec, full: true, ct);
            return rec;
        }

        /// <summary>Drops the local machine's anchor and record once no physical link touches it (root-namespace changes stay minimal).</summary>
        private void ReleaseLocalIfUnused(CancellationToken ct)
        {
            var rec = _store.ReadHost(LocalName);
            if (rec == null) return;
            if (_store.ListPhysicalLinks().Any(p => Is(p.From, LocalName) || Is(p.To, LocalName))) return;
            _root.Delete(InterfaceNames.Anchor(LocalName), ct);
            _store.DeleteHost(LocalName);
        }

        // ================================================================================================ physical links

        /// <summary>Creates (or repairs) the physical link between two hosts and recomputes the underlay routes.</summary>
        public PhysicalLinkRecord CreatePhysicalLink(string a, string b, CancellationToken ct)
        {
            string ha, hb;
            try
            {
                ha = Resolve(a);
                hb = Resolve(b);
            }
            catch (VirtualNetworksException ex) when (ex.ErrorId == ErrorIds.HostNotFound)
            {
                throw new VirtualNetworksException(ErrorIds.PhysicalLinkHostNotFound, ErrorKind.ObjectNotFound, ex.TargetName, "Cannot create the physical link " + a + "--" + b + ": " + ex.Message)
                { RecommendedAction = ex.RecommendedAction };
            }
            if (Is(ha, hb))
                throw new VirtualNetworksException(ErrorIds.InvalidName, ErrorKind.InvalidArgument, a, $"A physical link needs two different hosts; both ends are '{ha}'.");
            if (HostNames.IsLocalHost(ha) || HostNames.IsLocalHost(hb)) EnsureLocalRecord(ct);
            var (from, to) = StateStore.PhysicalLinkEnds(ha, hb);
            var rec = _store.ReadPhysicalLink(from, to);
            if (rec == null)
            {
                uint net = AllocateLinkSubnet();
                rec = new PhysicalLinkRecord
                {
                    From = from,
                    To = to,
                    FromDevice = InterfaceNames.Veth(from, to),
                    ToDevice = InterfaceNames.Veth(to, from),
                    FromAddress = ToAddress(net) + "/31",
                    ToAddress = ToAddress(net + 1) + "/31",
                    Mtu = UnderlayMtu,
                };
                _store.WritePhysicalLink(rec);
            }
            foreach (var h in new[] { rec.From, rec.To })
            {
                var hr = _store.ReadHost(h);
                if (hr != null) EnsureHost(hr, full: false, ct);
            }
            EnsurePhysicalLink(rec, ct);
            ApplyRouting(ct);
            return rec;
        }

        private void EnsurePhysicalLink(PhysicalLinkRecord rec, CancellationToken ct)
        {
            var ipFrom = IpFor(rec.From);
            var ipTo = IpFor(rec.To);
            if (!HostNames.IsLocalHost(rec.From) && !NamespaceExists(InterfaceNames.Namespace(rec.From))) return; // host drifted; its EnsureHost repairs
            if (!HostNames.IsLocalHost(rec.To) && !NamespaceExists(InterfaceNames.Namespace(rec.To))) return;
            ipFrom.CreateVethPair(rec.FromDevice, OwnershipTag.ForVeth(_store.StateId, rec.From, rec.To), ipTo, rec.ToDevice, OwnershipTag.ForVeth(_store.StateId, rec.To, rec.From), ct);
            ipFrom.SetMtu(rec.FromDevice, rec.Mtu, ct);
            ipTo.SetMtu(rec.ToDevice, rec.Mtu, ct);
            ipFrom.SetAddresses(rec.FromDevice, new[] { rec.FromAddress }, ct);
            ipTo.SetAddresses(rec.ToDevice, new[] { rec.ToAddress }, ct);
            // The local machine forwards between its veths only (IPv4 forwarding is decided per input device), never globally.
            if (HostNames.IsLocalHost(rec.From)) EnableDeviceForwarding(rec.FromDevice);
            if (HostNames.IsLocalHost(rec.To)) EnableDeviceForwarding(rec.ToDevice);
        }

        private static void EnableDeviceForwarding(string device)
        {
            InterfaceNames.EnsureValid(device);
            var path = "/proc/sys/net/ipv4/conf/" + device + "/forwarding";
            try { if (File.Exists(path) && File.ReadAllText(path).Trim() != "1") File.WriteAllText(path, "1"); }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.PermissionDenied, device,
                    $"Cannot enable IPv4 forwarding on {device} ({path}): {ex.Message}", ex);
            }
        }

        /// <summary>Removes the physical link between two hosts (both veth ends) and recomputes the routes; no-op when absent.</summary>
        public void RemovePhysicalLink(string a, string b, CancellationToken ct)
        {
            NameRules.Ensure(HostNames.Canonical(a), "host");
            NameRules.Ensure(HostNames.Canonical(b), "host");
            var rec = _store.ReadPhysicalLink(HostNames.Canonical(a), HostNames.Canonical(b))
                ?? throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.ObjectNotFound, a + "--" + b,
                    $"No physical link between '{a}' and '{b}' exists.");
            DeletePhysicalLink(rec, ct);
            ReleaseLocalIfUnused(ct);
            ApplyRouting(tolerant: true, ct);
        }

        private void DeletePhysicalLink(PhysicalLinkRecord rec, CancellationToken ct)
        {
            foreach (var (host, dev) in new[] { (rec.From, rec.FromDevice), (rec.To, rec.ToDevice) })
            {
                if (!HostNames.IsLocalHost(host) && !NamespaceExists(InterfaceNames.Namespace(host))) continue;
                IpFor(host).Delete(dev, ct); // deleting one end deletes the pair; the second call finds nothing
            }
            _store.DeletePhysicalLink(rec.From, rec.To);
        }

        private uint AllocateLinkSubnet()
        {
            var used = new HashSet<string>(_store.ListPhysicalLinks().Select(p => p.FromAddress), StringComparer.Ordinal);
            for (uint i = 0; i < MaxLinks; i++)
            {
                uint net = LinkBase + 2 * i;
                if (!used.Contains(ToAddress(net) + "/31")) return net;
            }
            throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.LimitsExceeded, LinkPool,
                $"The underlay link pool {LinkPool} is exhausted ({MaxLinks} physical links).");
        }

        // ================================================================================================ routing

        /// <summary>The underlay graph: host -> neighbour -> the physical link between them.</summary>
        private Dictionary<string, SortedDictionary<string, PhysicalLinkRecord>> Graph(IEnumerable<PhysicalLinkRecord> links)
        {
            var g = new Dictionary<string, SortedDictionary<string, PhysicalLinkRecord>>(StringComparer.OrdinalIgnoreCase);
            foreach (var p in links)
            {
                foreach (var (x, y) in new[] { (p.From, p.To), (p.To, p.From) })
                {
                    if (!g.TryGetValue(x, out var n)) g[x] = n = new SortedDictionary<string, PhysicalLinkRecord>(StringComparer.OrdinalIgnoreCase);
                    n[y] = p;
                }
            }
            return g;
        }

        private static Dictionary<string, int> Distances(Dictionary<string, SortedDictionary<string, PhysicalLinkRecord>> g, string to)
        {
            var d = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase) { [to] = 0 };
            var q = new Queue<string>();
            q.Enqueue(to);
            while (q.Count > 0)
            {
                var x = q.Dequeue();
                if (!g.TryGetValue(x, out var ns)) continue;
                foreach (var y in ns.Keys)
                    if (!d.ContainsKey(y)) { d[y] = d[x] + 1; q.Enqueue(y); }
            }
            return d;
        }

        /// <summary>Next hop from <paramref name="from"/> towards <paramref name="to"/>: the neighbour first in name order on a shortest path.</summary>
        private static string? NextHop(Dictionary<string, SortedDictionary<string, PhysicalLinkRecord>> g, Dictionary<string, int> distTo, string from)
        {
            if (!distTo.TryGetValue(from, out int d) || d == 0 || !g.TryGetValue(from, out var ns)) return null;
            return ns.Keys.FirstOrDefault(n => distTo.TryGetValue(n, out int dn) && dn == d - 1);
        }

        /// <summary>
        /// The hosts a packet crosses from <paramref name="from"/> to <paramref name="to"/> (both included) following the
        /// installed next hops; one element when they are the same host; empty when there is no underlay path.
        /// </summary>
        public IReadOnlyList<string> UnderlayPath(string from, string to)
        {
            from = HostNames.Canonical(from);
            to = HostNames.Canonical(to);
            if (Is(from, to)) return new[] { from };
            var g = Graph(_store.ListPhysicalLinks());
            var dist = Distances(g, to);
            var path = new List<string> { from };
            var x = from;
            while (!Is(x, to))
            {
                var n = NextHop(g, dist, x);
                if (n == null) return Array.Empty<string>();
                path.Add(n);
                x = n;
            }
            return path;
        }

        /// <summary>One underlay route a host should have: to another host's /32, via the neighbour's end of a physical link.</summary>
        private readonly struct WantedRoute
        {
            public WantedRoute(string via, string device, string deviceAddress)
            {
                Via = via; Device = device; DeviceAddress = deviceAddress;
            }

            public string Via { get; }
            public string Device { get; }
            /// <summary>The host's own /31 on <see cref="Device"/>: without it the gateway is not on-link and the kernel refuses the route.</summary>
            public string DeviceAddress { get; }
        }

        /// <summary>The routes each host with an underlay address should have (destination /32 -> next hop), by host name.</summary>
        private Dictionary<string, Dictionary<string, WantedRoute>> WantedRoutes(List<HostRecord> hosts, List<PhysicalLinkRecord> links)
        {
            var g = Graph(links);
            var distances = hosts.ToDictionary(h => h.Name, h => Distances(g, h.Name), StringComparer.OrdinalIgnoreCase);
            var all = new Dictionary<string, Dictionary<string, WantedRoute>>(StringComparer.OrdinalIgnoreCase);
            foreach (var h in hosts)
            {
                var want = new Dictionary<string, WantedRoute>(StringComparer.Ordinal);
                foreach (var d in hosts)
                {
                    if (Is(d.Name, h.Name)) continue;
                    var n = NextHop(g, distances[d.Name], h.Name);
                    if (n == null) continue;
                    var pl = g[h.Name][n];
                    bool hIsFrom = Is(pl.From, h.Name);
                    want[d.UnderlayAddress + "/32"] = new WantedRoute((hIsFrom ? pl.ToAddress : pl.FromAddress).Split('/')[0],
                        hIsFrom ? pl.FromDevice : pl.ToDevice, hIsFrom ? pl.FromAddress : pl.ToAddress);
                }
                all[h.Name] = want;
            }
            return all;
        }

        /// <summary>
        /// Installs on every host with an underlay address a route to every other reachable host's /32 via the first hop of
        /// a shortest path, and deletes our routes (proto 118) that are not wanted any more. Idempotent.
        /// </summary>
        public void ApplyRouting(CancellationToken ct) => ApplyRouting(tolerant: false, ct);

        /// <summary>
        /// <see cref="ApplyRouting(CancellationToken)"/>. Stale routes go first; a wanted route is installed only over a veth
        /// that exists, is up and carries its /31 (else its gateway is not on-link: the kernel refuses it with "Nexthop has
        /// invalid gateway"; the veth's repair installs it). With <paramref name="tolerant"/> (removals, which must finish
        /// over a half-configured underlay) a route the kernel still refuses is skipped instead of failing the removal.
        /// </summary>
        public void ApplyRouting(bool tolerant, CancellationToken ct)
        {
            var hosts = _store.ListHosts();
            var wanted = WantedRoutes(hosts, _store.ListPhysicalLinks());
            foreach (var h in hosts)
            {
                if (!h.IsLocal && !NamespaceExists(InterfaceNames.Namespace(h.Name))) continue;
                var ip = IpFor(h.IsLocal ? LocalName : h.Name);
                var want = wanted[h.Name];
                var have = ip.ListOwnedRoutes(ct);
                foreach (var stale in have.Keys.Where(k => !want.ContainsKey(k)).ToList())
                    ip.DeleteOwnedRoute(stale, ct);
                if (!want.Any(kv => !(have.TryGetValue(kv.Key, out var c) && c.Via == kv.Value.Via && c.Device == kv.Value.Device && c.Source == h.UnderlayAddress)))
                    continue;
                var (links, addresses) = ip.ListLinksWithAddresses(ct);
                var byName = links.ToDictionary(l => l.Name, StringComparer.Ordinal);
                foreach (var kv in want.OrderBy(k => k.Key, StringComparer.Ordinal))
                {
                    if (have.TryGetValue(kv.Key, out var cur) && cur.Via == kv.Value.Via && cur.Device == kv.Value.Device && cur.Source == h.UnderlayAddress) continue;
                    // The veth drifted away (recreated on repair), is down (the kernel dropped the routes over it and takes
                    // none until it is up again: the next call, e.g. the next Move-VirtualRouter, puts them back), or lacks its
                    // address (a create interrupted between the veth and its address; the physical link's repair adds it).
                    if (!byName.TryGetValue(kv.Value.Device, out var dev) || !dev.AdminUp) continue;
                    if (!addresses.TryGetValue(kv.Value.Device, out var own) || !own.Contains(kv.Value.DeviceAddress)) continue;
                    // src: what this host sends to another host (a tunnel, a migration stream) leaves from its /32, which
                    // every host has a route to (the /31s of physical links are known to their two ends only).
                    try { ip.ReplaceOwnedRoute(kv.Key, kv.Value.Via, kv.Value.Device, h.UnderlayAddress, ct); }
                    catch (VirtualNetworksException) when (tolerant) { }
                }
            }
            // The local machine without a record keeps no routes of ours.
            if (!hosts.Any(h => h.IsLocal))
            {
                foreach (var stale in _root.ListOwnedRoutes(ct).Keys.Where(IsUnderlayHostRoute).ToList())
                    _root.DeleteOwnedRoute(stale, ct);
            }
        }

        // ================================================================================================ drift

        /// <summary>What differs between the records and the kernel: problems per host and per physical link (by "a--b").</summary>
        public sealed class UnderlayDrift
        {
            public Dictionary<string, List<string>> Hosts { get; } = new Dictionary<string, List<string>>(StringComparer.OrdinalIgnoreCase);
            public Dictionary<string, List<string>> PhysicalLinks { get; } = new Dictionary<string, List<string>>(StringComparer.OrdinalIgnoreCase);
            public bool Any => Hosts.Count > 0 || PhysicalLinks.Count > 0;

            internal void AddHost(string host, string problem) => Add(Hosts, host, problem);
            internal void AddLink(string link, string problem) => Add(PhysicalLinks, link, problem);

            private static void Add(Dictionary<string, List<string>> map, string key, string problem)
            {
                if (!map.TryGetValue(key, out var l)) map[key] = l = new List<string>();
                l.Add(problem);
            }

            /// <summary>The problems of a host joined for a status line; null when none.</summary>
            public string? HostStatus(string host) => Hosts.TryGetValue(host, out var l) ? string.Join("; ", l) : null;
            public string? LinkStatus(string link) => PhysicalLinks.TryGetValue(link, out var l) ? string.Join("; ", l) : null;
        }

        /// <summary>One read of a host's underlay: devices with addresses and our routes; null parts could not be read.</summary>
        private sealed class HostView
        {
            public bool Present;
            public Dictionary<string, LinkInfo>? Links;
            public Dictionary<string, HashSet<string>> Addresses = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
            public Dictionary<string, (string? Via, string? Device, string? Source)>? Routes;
        }

        private HostView ReadView(string host, bool routes, CancellationToken ct)
        {
            var v = new HostView { Present = HostNames.IsLocalHost(host) || NamespaceExists(InterfaceNames.Namespace(host)) };
            if (!v.Present) return v;
            var ip = IpFor(host);
            try
            {
                var (links, addresses) = ip.ListLinksWithAddresses(ct);
                v.Links = links.GroupBy(l => l.Name, StringComparer.Ordinal).ToDictionary(x => x.Key, x => x.First(), StringComparer.Ordinal);
                v.Addresses = addresses;
                if (routes) v.Routes = ip.ListOwnedRoutes(ct);
            }
            catch (VirtualNetworksException) { /* unknown, not absent: nothing is reported for what could not be read */ }
            return v;
        }

        /// <summary>
        /// Checks every recorded host and physical link (only those of <paramref name="only"/> and the physical links touching
        /// them, when given) against the kernel, level-based: a lab host's namespace, its anchor (tagged ours, up, holding the
        /// host's /32), <c>lo</c> up, the namespace's settings (<see cref="NamespaceSysctls"/>); the local machine's anchor
        /// while it has a record; both veth ends of each physical link (present, ours, up, MTU, their /31, forwarding on a
        /// local end); and every host's underlay routes (proto 118: missing, different, stale). What cannot be read is not
        /// reported (unknown is not absent).
        /// </summary>
        public UnderlayDrift Inspect(ICollection<string>? only, CancellationToken ct)
        {
            var drift = new UnderlayDrift();
            var hosts = _store.ListHosts();
            var links = _store.ListPhysicalLinks();
            bool In(string h) => only == null || only.Any(o => Is(HostNames.Canonical(o), h));
            var views = new Dictionary<string, HostView>(StringComparer.OrdinalIgnoreCase);
            HostView View(string h) => views.TryGetValue(h, out var v) ? v : views[h] = ReadView(h, In(h), ct);

            foreach (var h in hosts.Where(x => In(x.Name)))
            {
                var name = h.IsLocal ? LocalName : h.Name;
                var v = View(name);
                if (!v.Present)
                {
                    drift.AddHost(h.Name, $"network namespace {InterfaceNames.Namespace(h.Name)} is missing");
                    continue;
                }
                if (v.Links == null) continue;
                var anchor = InterfaceNames.Anchor(h.Name);
                if (!v.Links.TryGetValue(anchor, out var a)) drift.AddHost(h.Name, $"underlay anchor {anchor} is missing");
                else if (a.Tag == null || !(a.Tag.StateId == null || a.Tag.BelongsTo(_store.StateId))) drift.AddHost(h.Name, $"underlay anchor {anchor} is not tagged as this state directory's");
                else
                {
                    if (!a.AdminUp) drift.AddHost(h.Name, $"underlay anchor {anchor} is down");
                    if (!(v.Addresses.TryGetValue(anchor, out var own) && own.Contains(h.UnderlayAddress + "/32")))
                        drift.AddHost(h.Name, $"underlay anchor {anchor} lacks the host's address {h.UnderlayAddress}/32");
                }
                if (h.IsLocal) continue;
                if (v.Links.TryGetValue("lo", out var lo) && !lo.AdminUp) drift.AddHost(h.Name, "lo is down");
                var settings = ReadNamespaceSysctls(InterfaceNames.Namespace(h.Name), ct);
                if (settings != null)
                    foreach (var kv in NamespaceSysctls)
                        if (settings.TryGetValue(kv.Key, out var have) && have != NormalizeSpaces(kv.Value))
                            drift.AddHost(h.Name, $"{kv.Key} is {have} (wants {kv.Value})");
            }

            foreach (var p in links.Where(x => In(x.From) || In(x.To)))
            {
                foreach (var (host, dev, address) in new[] { (p.From, p.FromDevice, p.FromAddress), (p.To, p.ToDevice, p.ToAddress) })
                {
                    var v = View(host);
                    string where = dev + " in " + host;
                    if (!v.Present) { drift.AddLink(p.Name, "missing: " + where + " (its host is missing)"); continue; }
                    if (v.Links == null) continue;
                    if (!v.Links.TryGetValue(dev, out var l)) { drift.AddLink(p.Name, "missing: " + where); continue; }
                    if (l.Tag == null || !(l.Tag.StateId == null || l.Tag.BelongsTo(_store.StateId))) { drift.AddLink(p.Name, where + " is not tagged as this state directory's"); continue; }
                    if (!l.AdminUp) drift.AddLink(p.Name, where + " is down");
                    if (l.Mtu != p.Mtu) drift.AddLink(p.Name, where + $" has MTU {l.Mtu} (wants {p.Mtu})");
                    if (!(v.Addresses.TryGetValue(dev, out var own) && own.Contains(address))) drift.AddLink(p.Name, where + " lacks its address " + address);
                    if (HostNames.IsLocalHost(host) && ReadDeviceForwarding(dev) == false) drift.AddLink(p.Name, where + ": IPv4 forwarding is off");
                }
            }

            var wanted = WantedRoutes(hosts, links);
            foreach (var h in hosts.Where(x => In(x.Name)))
            {
                var v = View(h.IsLocal ? LocalName : h.Name);
                if (!v.Present || v.Routes == null) continue;
                foreach (var kv in wanted[h.Name].OrderBy(k => k.Key, StringComparer.Ordinal))
                {
                    if (!v.Routes.TryGetValue(kv.Key, out var cur)) drift.AddHost(h.Name, $"underlay route to {kv.Key} is missing");
                    else if (cur.Via != kv.Value.Via || cur.Device != kv.Value.Device || cur.Source != h.UnderlayAddress)
                        drift.AddHost(h.Name, $"underlay route to {kv.Key} goes via {cur.Via} dev {cur.Device} src {cur.Source} (wants via {kv.Value.Via} dev {kv.Value.Device} src {h.UnderlayAddress})");
                }
                // Stale routes of ours; in the root namespace only those over this state directory's veths (another state
                // directory's lab may route there too).
                var veths = new HashSet<string>(links.SelectMany(p => new[] { (p.From, p.FromDevice), (p.To, p.ToDevice) })
                    .Where(e => Is(e.Item1, h.IsLocal ? LocalName : h.Name)).Select(e => e.Item2), StringComparer.Ordinal);
                foreach (var stale in v.Routes.Where(kv => !wanted[h.Name].ContainsKey(kv.Key) && (!h.IsLocal || (kv.Value.Device != null && veths.Contains(kv.Value.Device))))
                             .Select(kv => kv.Key).OrderBy(k => k, StringComparer.Ordinal))
                    drift.AddHost(h.Name, $"stale underlay route to {stale}");
            }
            return drift;
        }

        /// <summary>/proc/sys/net/ipv4/conf/&lt;device&gt;/forwarding of the local machine; null when it cannot be read.</summary>
        private static bool? ReadDeviceForwarding(string device)
        {
            if (!InterfaceNames.IsValid(device)) return null;
            try
            {
                var path = "/proc/sys/net/ipv4/conf/" + device + "/forwarding";
                return File.Exists(path) ? File.ReadAllText(path).Trim() == "1" : (bool?)null;
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException) { return null; }
        }

        /// <summary>
        /// Checks the underlay of <paramref name="hosts"/> (see <see cref="Inspect"/>) and repairs what drifted: a drifted
        /// host is re-ensured in full (namespace, anchor, address, settings, its physical links), a drifted physical link
        /// re-made (both ends, MTU, /31s), then every host's routes re-applied. What a router start and a move run first, so
        /// a router never starts or lands on a broken underlay. Returns the problems found (empty when none).
        /// </summary>
        public IReadOnlyList<string> Repair(ICollection<string> hosts, CancellationToken ct)
        {
            var drift = Inspect(hosts, ct);
            if (!drift.Any) return Array.Empty<string>();
            var found = drift.Hosts.SelectMany(kv => kv.Value.Select(p => kv.Key + ": " + p))
                .Concat(drift.PhysicalLinks.SelectMany(kv => kv.Value.Select(p => kv.Key + ": " + p))).ToList();
            foreach (var name in drift.Hosts.Keys.OrderBy(n => n, StringComparer.OrdinalIgnoreCase))
            {
                var rec = _store.ReadHost(name);
                if (rec != null) EnsureHost(rec, full: true, ct);
            }
            foreach (var name in drift.PhysicalLinks.Keys.OrderBy(n => n, StringComparer.OrdinalIgnoreCase))
            {
                var rec = _store.ListPhysicalLinks().FirstOrDefault(p => Is(p.Name, name));
                if (rec == null) continue;
                foreach (var h in new[] { rec.From, rec.To })
                    if (_store.ReadHost(h) is HostRecord hr) EnsureHost(hr, full: false, ct);
                EnsurePhysicalLink(rec, ct);
            }
            ApplyRouting(ct);
            return found;
        }

        /// <summary>True for a /32 inside <see cref="HostPool"/> (what our routes point at).</summary>
        internal static bool IsUnderlayHostRoute(string cidr)
        {
            var parts = cidr.Split('/');
            if (parts.Length != 2 || parts[1] != "32" || !IPAddress.TryParse(parts[0], out var a)) return false;
            uint v = ToUInt(a);
            return v > HostBase && v < HostBase + 255;
        }

        // ================================================================================================ inventory

        /// <summary>
        /// The hosts (local first) and physical links with their drift (<see cref="Inspect"/>) as status, for
        /// <see cref="VirtualNetworks.Backends.BackendInventory"/>: a deployment plans a repair for each one with a status.
        /// </summary>
        public (List<VirtualHost> Hosts, List<PhysicalLink> Links) Observe(CancellationToken ct)
        {
            var hostRecs = _store.ListHosts();
            var physical = _store.ListPhysicalLinks();
            var drift = Inspect(null, ct);
            var neighbours = new Dictionary<string, List<string>>(StringComparer.OrdinalIgnoreCase);
            foreach (var p in physical)
            {
                foreach (var (x, y) in new[] { (p.From, p.To), (p.To, p.From) })
                {
                    if (!neighbours.TryGetValue(x, out var l)) neighbours[x] = l = new List<string>();
                    l.Add(y);
                }
            }
            IReadOnlyList<string> Neighbours(string h) =>
                neighbours.TryGetValue(h, out var l) ? l.OrderBy(x => x, StringComparer.OrdinalIgnoreCase).ToList() : (IReadOnlyList<string>)Array.Empty<string>();

            var hosts = new List<VirtualHost>();
            var local = hostRecs.FirstOrDefault(h => h.IsLocal);
            string? localStatus = local == null ? null : drift.HostStatus(local.Name);
            hosts.Add(new VirtualHost
            {
                Name = LocalName, Kind = LinuxBackend.KindName, IsLabHost = false, UnderlayAddress = local?.UnderlayAddress,
                Neighbors = Neighbours(LocalName),
                Status = localStatus == null ? null : localStatus + " (Deploy-VirtualNetwork or a physical link change repairs it)",
            });
            foreach (var h in hostRecs.Where(h => !h.IsLocal).OrderBy(h => h.Name, StringComparer.OrdinalIgnoreCase))
            {
                var status = drift.HostStatus(h.Name);
                hosts.Add(new VirtualHost
                {
                    Name = h.Name, Kind = LinuxBackend.KindName, IsLabHost = true, CreatedByDeployment = h.CreatedByDeployment,
                    DeployedFor = h.DeployedFor?.ToArray() ?? Array.Empty<string>(),
                    UnderlayAddress = h.UnderlayAddress, Neighbors = Neighbours(h.Name),
                    Status = status == null ? null : status + " (Deploy-VirtualNetwork, New-VirtualLabHost or starting a router on the host repairs it)",
                });
            }
            var plinks = new List<PhysicalLink>();
            foreach (var p in physical.OrderBy(p => p.Name, StringComparer.OrdinalIgnoreCase))
            {
                var status = drift.LinkStatus(p.Name);
                plinks.Add(new PhysicalLink
                {
                    From = p.From, To = p.To, FromAddress = p.FromAddress, ToAddress = p.ToAddress, Id = p.FromDevice + "/" + p.ToDevice,
                    Status = status == null ? null : status + " (Deploy-VirtualNetwork, New-VirtualLabHost or starting a router on one of its hosts repairs it)",
                });
            }
            return (hosts, plinks);
        }

        // ================================================================================================ helpers

        private static bool Is(string a, string b) => string.Equals(a, b, StringComparison.OrdinalIgnoreCase);

        internal static uint ToUInt(IPAddress a)
        {
            var b = a.GetAddressBytes();
            return ((uint)b[0] << 24) | ((uint)b[1] << 16) | ((uint)b[2] << 8) | b[3];
        }

        internal static string ToAddress(uint v) =>
            string.Join(".", new[] { v >> 24, (v >> 16) & 255, (v >> 8) & 255, v & 255 }.Select(x => x.ToString(CultureInfo.InvariantCulture)));
    }
}
