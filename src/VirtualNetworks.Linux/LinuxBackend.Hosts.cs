using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using VirtualNetworks.Backends;
using VirtualNetworks.Linux.Net;
using VirtualNetworks.Linux.State;
using VirtualNetworks.Topology;

namespace VirtualNetworks.Linux
{
    /// <summary>Lab hosts, physical links and the wiring of links whose ends may be on different hosts (docs/linux-hosts.md).</summary>
    public sealed partial class LinuxBackend : ILabHostManager
    {
        /// <summary>The first VXLAN network identifier handed out; links get the lowest free one from here.</summary>
        public const int FirstVni = 10000;

        /// <summary>Lab hosts, physical links and underlay routing of this state directory.</summary>
        public LabNetwork Lab { get; }

        // ================================================================================================ ILabHostManager

        public void CreateLabHost(string name, bool byDeployment, CancellationToken cancellationToken) =>
            CreateLabHost(name, byDeployment, Array.Empty<string>(), cancellationToken);

        public void CreateLabHost(string name, bool byDeployment, IReadOnlyCollection<string> deployedFor, CancellationToken cancellationToken)
        {
            NameRules.Ensure(name, "host");
            foreach (var n in deployedFor ?? Array.Empty<string>()) NameRules.Ensure(n, "network");
            RequireLabFeatures(name);
            using var _ = Store.Lock(null, cancellationToken);
            Lab.CreateLabHost(name, byDeployment, deployedFor, cancellationToken);
            // Cross-host links whose devices went with a re-created namespace are wired again.
            RewireAllCrossHost(cancellationToken);
        }

        public void RemoveLabHost(string name, CancellationToken cancellationToken)
        {
            using var _ = Store.Lock(null, cancellationToken);
            var host = Lab.Resolve(name);
            if (HostNames.IsLocalHost(host))
                throw new VirtualNetworksException(ErrorIds.InvalidName, ErrorKind.InvalidArgument, name, $"'{name}' is the local machine, not a lab host.");
            var routers = Store.ListRouters().Where(r => Is(HostOf(r), host)).Select(r => r.Name).OrderBy(n => n, StringComparer.OrdinalIgnoreCase).ToList();
            var wired = Store.ListLinks().Where(l => EndpointsOf(l).Values.Any(hs => hs.Any(h => Is(h, host)))).Select(l => l.Name).ToList();
            if (routers.Count > 0 || wired.Count > 0)
                throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.ResourceUnavailable, host,
                    $"Lab host '{host}' still runs " + (routers.Count > 0 ? "routers: " + string.Join(", ", routers) : "link ends: " + string.Join(", ", wired)) +
                    "; remove or move them first.");
            Lab.RemoveLabHost(host, cancellationToken);
        }

        public void CreatePhysicalLink(PhysicalLinkSpec spec, CancellationToken cancellationToken)
        {
            if (spec == null) throw new ArgumentNullException(nameof(spec));
            RequireLabFeatures(spec.From + "--" + spec.To);
            using var _ = Store.Lock(null, cancellationToken);
            Lab.CreatePhysicalLink(spec.From, spec.To, cancellationToken);
            // Cross-host links whose tunnels could not be wired before (no underlay yet) get their devices now.
            RewireAllCrossHost(cancellationToken);
        }

        public void RemovePhysicalLink(string from, string to, CancellationToken cancellationToken)
        {
            using var _ = Store.Lock(null, cancellationToken);
            Lab.RemovePhysicalLink(from, to, cancellationToken);
        }

        private void RequireLabFeatures(string target)
        {
            var missing = LabFeatureProblems();
            if (missing.Count > 0)
                throw new VirtualNetworksException(ErrorIds.BackendNotAvailable, ErrorKind.NotInstalled, target,
                    "The Linux backend cannot build lab hosts or physical links here; missing: " + string.Join("; ", missing) + ".")
                {
                    RecommendedAction = "Use a kernel with network namespaces, veth and vxlan (modules veth, vxlan), and iproute2; run as root.",
                };
        }

        /// <summary>What lab hosts, physical links and cross-host links need that this machine lacks (empty = all there).</summary>
        internal List<string> LabFeatureProblems()
        {
            var missing = new List<string>();
            if (!System.IO.File.Exists("/proc/self/ns/net"))
                missing.Add("network namespaces (/proc/self/ns/net does not exist: kernel without CONFIG_NET_NS)");
            var f = Features;
            if (!f.Veth) missing.Add("veth (kernel module veth) for physical links");
            if (!f.Vxlan) missing.Add("vxlan (kernel module vxlan) for links between hosts");
            if (!f.IpTool) missing.Add("the ip program (iproute2)");
            if (!f.BridgeTool) missing.Add("the bridge program (iproute2) for VXLAN forwarding entries");
            return missing;
        }

        // ================================================================================================ hosts of routers

        /// <summary>The canonical host of a router record (the local machine's name for "" and local aliases).</summary>
        internal static string HostOf(RouterRecord rec) => HostNames.IsLocalHost(rec.Host) ? HostNames.LocalName : rec.Host;

        private string HostOfRouter(string router)
        {
            var rec = Store.ReadRouter(router);
            return rec == null ? HostNames.LocalName : HostOf(rec);
        }

        /// <summary>Where a link is wired now: the record's endpoints, or (older records) each end on its router's host.</summary>
        internal Dictionary<string, List<string>> EndpointsOf(LinkRecord rec)
        {
            if (rec.Endpoints != null && rec.Endpoints.Count > 0)
                return new Dictionary<string, List<string>>(rec.Endpoints, StringComparer.OrdinalIgnoreCase);
            var d = new Dictionary<string, List<string>>(StringComparer.OrdinalIgnoreCase);
            foreach (var r in rec.Taps.Keys) d[r] = new List<string> { HostOfRouter(r) };
            return d;
        }

        /// <summary>
        /// The MTU a new link gets: <see cref="LabNetwork.TunnelMtu"/> (1450) when an end is on a lab host, the ends are on
        /// different hosts, or the local machine has a physical link (any router of it may then be moved across hosts);
        /// 1500 for a lab on one machine only. Kept for the link's life, so a migration never changes a guest's MTU.
        /// </summary>
        private int MtuForNewLink(string fromHost, string toHost)
        {
            bool tunnel = !Is(fromHost, toHost) || !HostNames.IsLocalHost(fromHost) || !HostNames.IsLocalHost(toHost) ||
                          Lab.UnderlayAddressOf(HostNames.LocalName) != null;
            return tunnel ? LabNetwork.TunnelMtu : LabNetwork.UnderlayMtu;
        }

        /// <summary>MTU of each of the router's links, by link name (for the guest configuration's mtu lines).</summary>
        private Dictionary<string, int> MtusOf(RouterRecord rec) => MtusOf(Store.LinksNaming(rec.Name));

        /// <summary>MTU of each of <paramref name="links"/> (a router's links), by link name.</summary>
        private static Dictionary<string, int> MtusOf(IEnumerable<LinkRecord> links)
        {
            var d = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
            foreach (var l in links) d[l.Name] = l.Mtu ?? LabNetwork.UnderlayMtu;
            return d;
        }

        private int AllocateVni()
        {
            var used = new HashSet<int>(Store.ListLinks().Where(l => l.Vni.HasValue).Select(l => l.Vni!.Value));
            for (int v = FirstVni; v <= 0xFFFFFF; v++)
                if (!used.Contains(v)) return v;
            throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.LimitsExceeded, "vni", "No free VXLAN network identifier is left.");
        }

        // ================================================================================================ wiring

        /// <summary>
        /// Wires link <paramref name="linkName"/> for the given placement of its ends, idempotently (takes the state lock).
        /// See <see cref="WireLinkLocked"/>.
        /// </summary>
        public bool WireLink(string linkName, IReadOnlyDictionary<string, IReadOnlyCollection<string>>? endpointHosts, CancellationToken cancellationToken)
        {
            using var _ = Store.Lock(null, cancellationToken);
            var rec = Store.ReadLink(linkName) ?? throw NotFound(ErrorIds.LinkNotFound, "link", linkName);
            return WireLinkLocked(rec, endpointHosts, cancellationToken);
        }

        /// <summary>
        /// The (re)wiring function of a link, for creation, start, repair and migration. Caller holds the state lock.
        /// <para><paramref name="endpointHosts"/> gives, per router end, the hosts that must hold its tap (null, or a router
        /// missing from it = the router record's host). A live migration passes {moving router: [source, destination]}
        /// before the switch-over (both taps exist; the tunnels carry the link to both) and then calls it again without
        /// override once the router record names the destination: the source's leftovers go, the peers' default FDB
        /// entries are repointed (<c>bridge fdb append/del</c>; no device is re-created).</para>
        /// <para>On every host H in the placement: the link's bridge (same name on every host), the taps of the ends placed
        /// on H (MTU, bandwidth limit), and when the placement spans several hosts a VXLAN device (VNI of the link,
        /// allocated on first need; <c>local</c> = H's underlay address; dstport 4789; nolearning) on the bridge with one
        /// default FDB entry per other host of the placement. Devices on hosts no longer in the placement are deleted (tagged
        /// ones only). Records the placement in the link record.</para>
        /// <para>The VXLAN port of the bridge does not learn MACs (frames for a MAC not learned on a local tap are flooded, which
        /// on a point-to-point segment means: into the tunnel), so no bridge ever remembers a router behind a tunnel it has
        /// just moved away from.</para>
        /// <para><paramref name="standby"/> (a live migration's destination): that router's tap on that host is made and
        /// attached but kept DOWN, so it receives nothing (no stale frames queued for a QEMU that does not read yet); the
        /// switch-over brings it up.</para>
        /// Returns true when the link's MTU had to be lowered to <see cref="LabNetwork.TunnelMtu"/> (a link created at 1500
        /// now crossing hosts): the caller pushes the routers' configurations again (their mtu lines changed).
        /// </summary>
        internal bool WireLinkLocked(LinkRecord rec, IReadOnlyDictionary<string, IReadOnlyCollection<string>>? endpointHosts, CancellationToken ct,
            (string Router, string Host)? standby = null)
        {
            var desired = new Dictionary<string, List<string>>(StringComparer.OrdinalIgnoreCase);
            foreach (var router in rec.Taps.Keys.OrderBy(k => k, StringComparer.OrdinalIgnoreCase))
            {
                IReadOnlyCollection<string>? given = null;
                if (endpointHosts != null)
                    foreach (var kv in endpointHosts)
                        if (Is(kv.Key, router)) given = kv.Value;
                var hosts = given != null && given.Count > 0
                    ? given.Select(h => Lab.Resolve(h)).Distinct(StringComparer.OrdinalIgnoreCase).ToList()
                    : new List<string> { HostOfRouter(router) };
                desired[router] = hosts;
            }
            var used = desired.Values.SelectMany(h => h).Distinct(StringComparer.OrdinalIgnoreCase).OrderBy(h => h, StringComparer.OrdinalIgnoreCase).ToList();
            bool cross = used.Count > 1;
            bool mtuLowered = false;
            var underlay = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            if (cross)
            {
                foreach (var h in used)
                {
                    var a = Lab.UnderlayAddressOf(h);
                    if (a == null)
                        throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.InvalidOperation, rec.Name,
                            $"Link '{rec.Name}' joins routers on different hosts ({string.Join(", ", used)}) but host '{h}' has no underlay address: " +
                            "give it a physical link to the other hosts first.");
                    underlay[h] = a;
                }
                if (!rec.Vni.HasValue) rec.Vni = AllocateVni();
                if ((rec.Mtu ?? LabNetwork.UnderlayMtu) > LabNetwork.TunnelMtu)
                {
                    rec.Mtu = LabNetwork.TunnelMtu;
                    mtuLowered = true;
                }
            }
            bool tagged = rec.VlanId.HasValue && VlanFiltering;
            rec.Transport = cross ? LinkTransport.Vxlan : tagged ? LinkTransport.TaggedBridge : LinkTransport.Bridge;
            int mtu = rec.Mtu ?? LabNetwork.UnderlayMtu;
            var previous = EndpointsOf(rec);
            rec.Endpoints = desired;
            Store.WriteLink(rec); // the placement is recorded before devices change: a crash leaves devices the record names

            foreach (var h in used)
            {
                ct.ThrowIfCancellationRequested();
                EnsureHostPresent(h, ct);
                var ip = Lab.IpFor(h);
                var shaper = new TrafficShaper(ip);
                var vx = InterfaceNames.Vxlan(rec.Name);
                var here = desired.Where(d => d.Value.Any(x => Is(x, h))).Select(d => d.Key).ToList();
                // Pass 1: one look at the link's own devices on this host (one ip process; not a listing of every interface,
                // so wiring N links costs O(N)), then what is missing is made (each create tags its device).
                var mine = new List<string> { rec.Bridge, vx };
                mine.AddRange(here.Select(r => rec.Taps[r]));
                var existing = ip.GetLinks(mine, ct);
                bool created = false;
                if (!existing.ContainsKey(rec.Bridge))
                    created |= ip.CreateBridge(rec.Bridge, OwnershipTag.ForBridge(Store.StateId, rec.Name), tagged && !cross, ct);
                var freshTaps = new HashSet<string>(StringComparer.Ordinal);
                foreach (var router in here)
                    if (!existing.ContainsKey(rec.Taps[router]))
                    {
                        created |= ip.CreateTap(rec.Taps[router], OwnershipTag.ForTap(Store.StateId, router, rec.Name), ct);
                        freshTaps.Add(rec.Taps[router]);
                    }
                if (cross)
                {
                    if (existing.TryGetValue(vx, out var vinfo) && IsOurs(vinfo.Tag) && (vinfo.VxlanId != rec.Vni!.Value || vinfo.VxlanLocal != underlay[h]))
                    {
                        ip.Delete(vx, ct); // different VNI or local address (host re-addressed): make it again
                        vinfo = null;
                    }
                    if (vinfo == null)
                        created |= ip.CreateVxlan(vx, OwnershipTag.ForVxlan(Store.StateId, rec.Name), new VxlanOptions
                        {
                            Vni = rec.Vni!.Value, Local = underlay[h], Remote = null, DestinationPort = LabNetwork.VxlanPort,
                        }, ct);
                }
                if (created) existing = ip.GetLinks(mine, ct);
                LinkInfo Known(string device) => existing.TryGetValue(device, out var i) ? i
                    : throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.InvalidResult, device,
                        $"Interface '{device}' of link '{rec.Name}' vanished on {h} while it was being wired.");

                // Pass 2: each device brought to its state in at most one command (none when it is so already).
                var bridge = Known(rec.Bridge);
                ip.Configure(rec.Bridge, bridge, mtu, null, true, ct);
                // A silent failure's drop filter goes on each tap before the tap is attached and up; one look at the host's
                // qdiscs tells which taps of a forwarding link still carry one.
                var drop = new SilentDrop(ip);
                HashSet<string>? clsact = rec.State == LinkState.Silent ? null
                    : here.All(r => freshTaps.Contains(rec.Taps[r])) ? new HashSet<string>(StringComparer.Ordinal) // made just now: no qdisc yet
                    : SilentDrop.ParseClsactDevices(ip.Tools.RunChecked("tc", new[] { "-j", "qdisc", "show" }, ip.NetworkNamespace ?? "tc", ct).StdOut);
                if (rec.State == LinkState.Silent) RequireSilentDrop(rec.Name);
                foreach (var router in here)
                {
                    var tap = rec.Taps[router];
                    var info = Known(tap);
                    RequireOurs(ip, info);
                    if (rec.State == LinkState.Silent) drop.Apply(tap, ct);
                    else drop.Remove(tap, ct, clsact!.Contains(tap));
                    ip.CheckAttach(tap, info.Tag!, bridge);
                    bool standing = standby is (string sr, string sh) && Is(sr, router) && Is(sh, h);
                    ip.Configure(tap, info, mtu, rec.Bridge, !standing, ct);
                    if (!cross && tagged && rec.VlanId.HasValue) ip.SetPortVlan(tap, rec.VlanId.Value, ct);
                    if (rec.MaximumBandwidth.HasValue) shaper.SetRate(tap, rec.MaximumBandwidth.Value, ct, mtu);
                    else shaper.Remove(tap, ct, ownershipChecked: true);
                }
                // Taps of ends that are no longer placed here (a migration's source after the switch-over).
                foreach (var kv in previous)
                {
                    if (!kv.Value.Any(x => Is(x, h))) continue;
                    if (desired.TryGetValue(kv.Key, out var now) && now.Any(x => Is(x, h))) continue;
                    if (rec.Taps.TryGetValue(kv.Key, out var stale)) DeleteOwned(ip, stale, ct);
                }
                if (cross)
                {
                    var vinfo = Known(vx);
                    RequireOurs(ip, vinfo);
                    ip.CheckAttach(vx, vinfo.Tag!, bridge);
                    ip.Configure(vx, vinfo, mtu, rec.Bridge, true, ct);
                    // No MAC is learned behind the tunnel (see the summary): frames for MACs not on a local tap are flooded into it.
                    if (vinfo.BridgePortLearning != false || !string.Equals(vinfo.Master, rec.Bridge, StringComparison.Ordinal))
                        ip.SetPortLearningOfOwnedPort(vx, false, ct);
                    ip.SetDefaultDestinations(vx, used.Where(o => !Is(o, h)).Select(o => underlay[o]).ToList(), ct);
                }
                else if (existing.TryGetValue(vx, out var leftover) && IsOurs(leftover.Tag))
                {
                    ip.Delete(vx, ct);
                }
            }
            // Hosts the link has left entirely: its taps, tunnel and bridge there go.
            foreach (var h in previous.Values.SelectMany(x => x).Distinct(StringComparer.OrdinalIgnoreCase).Where(h => !used.Any(u => Is(u, h))))
                RemoveLinkDevicesOn(rec, h, ct);
            return mtuLowered;
        }

        /// <summary>Deletes the link's taps, VXLAN device and bridge on <paramref name="host"/> (tagged ones; a missing namespace has none).</summary>
        private void RemoveLinkDevicesOn(LinkRecord rec, string host, CancellationToken ct, IReadOnlyDictionary<string, Dictionary<string, LinkInfo>?>? listed = null)
        {
            if (listed != null && listed.TryGetValue(host, out var devices))
            {
                // A batch removal listed the host's interfaces once (under the state lock): only the deletes remain.
                if (devices == null) return; // the lab host's namespace is gone
                var nsIp = Lab.IpFor(host);
                foreach (var d in rec.Taps.Values.Append(InterfaceNames.Vxlan(rec.Name)).Append(rec.Bridge))
                {
                    if (!devices.TryGetValue(d, out var seen)) continue;
                    RequireOurs(nsIp, seen);
                    nsIp.DeleteSeen(seen, ct);
                }
                return;
            }
            if (!HostNames.IsLocalHost(host) && !LabNetwork.NamespaceExists(InterfaceNames.Namespace(host))) return;
            var ip = Lab.IpFor(host);
            foreach (var tap in rec.Taps.Values) DeleteOwned(ip, tap, ct);
            DeleteOwned(ip, InterfaceNames.Vxlan(rec.Name), ct);
            DeleteOwned(ip, rec.Bridge, ct);
        }

        /// <summary>
        /// One listing of the interfaces of each of <paramref name="hosts"/> (null for a lab host whose namespace is gone), for a
        /// batch removal: O(1) ip processes per host instead of a look at every device of every link.
        /// </summary>
        private Dictionary<string, Dictionary<string, LinkInfo>?> ListDevicesOf(IEnumerable<string> hosts, CancellationToken ct)
        {
            var result = new Dictionary<string, Dictionary<string, LinkInfo>?>(StringComparer.OrdinalIgnoreCase);
            foreach (var h in hosts)
            {
                if (result.ContainsKey(h)) continue;
                if (!HostNames.IsLocalHost(h) && !LabNetwork.NamespaceExists(InterfaceNames.Namespace(h)))
                {
                    result[h] = null;
                    continue;
                }
                var map = new Dictionary<string, LinkInfo>(StringComparer.Ordinal);
                foreach (var l in Lab.IpFor(h).ListLinks(ct)) map[l.Name] = l;
                result[h] = map;
            }
            return result;
        }

        /// <summary>A lab host's namespace and anchor exist (recreated after drift, with its physical links and routes).</summary>
        private void EnsureHostPresent(string host, CancellationToken ct)
        {
            if (HostNames.IsLocalHost(host)) return;
            var rec = Store.ReadHost(host);
            if (rec != null) Lab.EnsureHost(rec, full: false, ct);
        }

        /// <summary>
        /// Before a router starts or moves on <paramref name="host"/>: its underlay is checked level-based (namespace, anchor
        /// and address, settings, both ends of its physical links with their addresses, underlay routes;
        /// <see cref="LabNetwork.Inspect"/>) and what drifted is repaired, so a router never starts on a host it cannot be
        /// reached on. The local machine is checked only while it has an underlay (a host record).
        /// </summary>
        private void EnsureHostReady(string host, CancellationToken ct)
        {
            var name = HostNames.IsLocalHost(host) ? HostNames.LocalName : host;
            var rec = Store.ReadHost(name);
            if (rec == null) return;
            if (Lab.Repair(new[] { name }, ct).Count > 0 && !HostNames.IsLocalHost(host))
                RewireAllCrossHost(ct); // a re-created namespace lost the links' devices on it
        }

        /// <summary>Re-wires every link whose ends are on different hosts (after the underlay changed). Errors are left for the link's own operations.</summary>
        private void RewireAllCrossHost(CancellationToken ct)
        {
            foreach (var l in Store.ListLinks())
            {
                var e = EndpointsOf(l);
                if (e.Values.SelectMany(x => x).Distinct(StringComparer.OrdinalIgnoreCase).Count() < 2) continue;
                var ends = new[] { l.From, l.To }.Select(r => Store.ReadRouter(r)).ToList();
                if (ends.Any(r => r == null)) continue;
                try { WireLinkLocked(l, null, ct); }
                catch (VirtualNetworksException) { }
            }
        }

        private void DeleteOwned(IpCommand ip, string device, CancellationToken ct)
        {
            var info = ip.GetLink(device, ct);
            if (info == null) return;
            RequireOurs(ip, info);
            ip.Delete(device, ct);
        }

        /// <summary>Throws (PermissionDenied) unless <paramref name="info"/> carries this state directory's tag (or a legacy v1 tag).</summary>
        private void RequireOurs(IpCommand ip, LinkInfo info)
        {
            string device = info.Name;
            if (info.Tag == null)
                throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.PermissionDenied, device,
                    $"Interface '{device}'" + (ip.NetworkNamespace == null ? "" : " in " + ip.NetworkNamespace) + " is not tagged as created by VirtualNetworks; it was left alone.");
            if (!IsOurs(info.Tag))
                throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.PermissionDenied, device,
                    $"Interface '{device}'" + (ip.NetworkNamespace == null ? "" : " in " + ip.NetworkNamespace) + $" ({info.Tag.Alias}) belongs to another " +
                    $"state directory (this one's id is {Store.StateId}); it was left alone.");
        }

        /// <summary>A tag of this state directory, or a legacy v1 tag (no state id); false for untagged devices and other state directories'.</summary>
        private bool IsOurs(OwnershipTag? tag) => tag != null && (tag.StateId == null || tag.BelongsTo(Store.StateId));
    }
}
