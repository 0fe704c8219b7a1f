using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using VirtualNetworks.Backends;
using VirtualNetworks.Linux.Net;
using VirtualNetworks.Linux.State;
using VirtualNetworks.Linux.Vm;
using VirtualNetworks.Topology;

namespace VirtualNetworks.Linux
{
    /// <summary>
    /// Finds and removes what the module left behind after a crash: QEMU processes started with our state directory's
    /// pidfiles, interfaces tagged with our ifalias, run files, overlays, temporary and record files in our state
    /// directory. Only tagged things are ever listed (processes by their -pidfile under our run directory, interfaces
    /// by alias, files by location and owner marker), so nothing else can be removed.
    /// <para>Lab hosts: a namespace <c>vnh-...</c> counts as ours only when its tagged underlay anchor names the host
    /// whose namespace name it is; one without a host record is listed whole (<c>netns:&lt;ns&gt;</c>; removing it removes
    /// everything inside), and in one with a record the tagged interfaces nothing uses are listed as
    /// <c>&lt;ns&gt;:&lt;interface&gt;</c>. Underlay routes of ours (<c>proto 118</c> to a /32 of the host pool) in this
    /// namespace that no host record wants are listed as <c>route:&lt;cidr&gt;</c>.</para>
    /// </summary>
    internal sealed class OrphanCollector
    {
        private readonly StateStore _store;
        private readonly IpCommand _ip;

        public OrphanCollector(StateStore store, IpCommand ip)
        {
            _store = store;
            _ip = ip;
        }

        public IReadOnlyList<OrphanResource> Find(bool includeOwned, CancellationToken ct)
        {
            var host = HostNames.LocalName;
            var found = new List<OrphanResource>();
            var routers = _store.ListRouters().ToDictionary(r => r.Name, StringComparer.OrdinalIgnoreCase);
            var links = _store.ListLinks().ToDictionary(l => l.Name, StringComparer.OrdinalIgnoreCase);
            var hosts = _store.ListHosts().ToDictionary(h => h.Name, StringComparer.OrdinalIgnoreCase);
            var physical = _store.ListPhysicalLinks();
            // Unknown is not absent: a record file that cannot be read (damaged, truncated, not ours) may describe anything
            // of its kind by its name; what it may describe is never listed (except in a full reset).
            _unknown = StateUnknowns.Find(_store, routers.Keys, links.Keys, hosts.Keys, physical.Select(p => p.Name));
            var unknown = _unknown;
            // Routers that something still wants although they have no record: a link record names them (a router record
            // deleted by hand or lost): its QEMU, run files and disk are not orphans.
            var namedByLinks = new HashSet<string>(links.Values.SelectMany(l => new[] { l.From, l.To }), StringComparer.OrdinalIgnoreCase);
            bool RouterMayBeWanted(string name) =>
                routers.ContainsKey(name) || unknown.Routers.Contains(name) || namedByLinks.Contains(name) || unknown.Links.Count > 0;

            // QEMU processes whose pidfile lies in our run directory (run/ or a run slot such as run/m/). A QEMU whose router
            // has a record is never an orphan, whatever the record says (a router whose start was interrupted, one that
            // should be off, an instance of an interrupted live migration): the commands that touch the router reconcile
            // it. Only a full reset takes those.
            foreach (var (pid, router, pidFile) in OurProcesses())
            {
                if (includeOwned || !RouterMayBeWanted(router))
                    found.Add(new OrphanResource
                    {
                        Kind = OrphanKind.Process, Name = pid.ToString(CultureInfo.InvariantCulture), Owner = router, ComputerName = host,
                        Reason = includeOwned ? OwnedReason : "no router record, and no link record names the router",
                    });
            }

            // The id in this state directory's tags; null when it never tagged anything (then only legacy v1 tags and
            // probe leftovers can be ours). Devices and namespaces of other state directories are never listed.
            var stateId = _store.ExistingStateId;

            // Tagged interfaces of this namespace (the local machine).
            if (File.Exists("/sys/class/net/lo/ifindex") || Directory.Exists("/sys/class/net"))
                ScanInterfaces(_ip, host, null, includeOwned, stateId, links, hosts, physical, found, ct);

            // Lab hosts' namespaces: whole when unrecorded (or a full reset), else their unused tagged interfaces.
            foreach (var ns in LabNetwork.ListCandidateNamespaces())
            {
                var anchor = LabNetwork.AnchorTagOfNamespace(ns, ct);
                if (anchor?.HostName == null) continue; // not the module's: never listed
                bool legacy = anchor.StateId == null;
                if (!legacy && !anchor.BelongsTo(stateId)) continue; // another state directory's lab host: never listed
                var owner = anchor.HostName;
                if (!includeOwned && unknown.Hosts.Contains(owner)) continue; // its record cannot be read: unknown, left alone
                bool recorded = hosts.TryGetValue(owner, out var hr) && !hr.IsLocal;
                // A legacy (v1) namespace no record names may be another state directory's: only a full reset takes it.
                if (includeOwned || (!recorded && !legacy))
                {
                    found.Add(new OrphanResource
                    {
                        Kind = OrphanKind.Interface, Name = NamespacePrefix + ns, Owner = owner, ComputerName = owner,
                        Reason = includeOwned ? "owned by the module (lab host network namespace)" : "lab host network namespace without a host record",
                    });
                    continue;
                }
                if (!recorded) continue;
                ScanInterfaces(new IpCommand(ns), owner, ns, false, stateId, links, hosts, physical, found, ct);
            }

            // Our underlay routes here that no host record wants.
            var wantedRoutes = new HashSet<string>(hosts.Values.Where(h => !h.IsLocal).Select(h => h.UnderlayAddress + "/32"), StringComparer.Ordinal);
            bool localRecorded = hosts.Values.Any(h => h.IsLocal);
            try
            {
                if (!includeOwned && unknown.Hosts.Count > 0) throw new UnknownStateSkip(); // which routes it wants is unknown
                var routes = _ip.ListOwnedRoutes(ct);
                var rootLinks = _ip.ListLinks(ct).ToDictionary(l => l.Name, StringComparer.Ordinal);
                foreach (var dst in routes.Keys.Where(LabNetwork.IsUnderlayHostRoute).OrderBy(d => d, StringComparer.Ordinal))
                {
                    // A route through another state directory's device is that state directory's.
                    var dev = routes[dst].Device;
                    if (dev != null && rootLinks.TryGetValue(dev, out var via) && via.Tag?.StateId != null && !via.Tag.BelongsTo(stateId)) continue;
                    if (includeOwned || !localRecorded || !wantedRoutes.Contains(dst))
                        found.Add(new OrphanResource
                        {
                            Kind = OrphanKind.Interface, Name = RoutePrefix + dst, ComputerName = host,
                            Reason = includeOwned ? "owned by the module (underlay route)" : "underlay route no host record wants",
                        });
                }
            }
            catch (VirtualNetworksException)
            {
                // no routing table to read (no ip program): nothing of ours either
            }
            catch (UnknownStateSkip)
            {
            }

            // Files in run/ and its run slots (sockets, pidfiles, console logs, configs). A router's files in the slot it
            // does not use belong to an instance that ended (a finished or interrupted live migration) unless it still runs.
            foreach (var slot in new[] { (string?)null, StateStore.MigrationSlot })
            {
                var dir = _store.RunSlotDirectory(slot);
                if (!Directory.Exists(dir)) continue;
                foreach (var f in Directory.GetFiles(dir).OrderBy(f => f, StringComparer.Ordinal))
                {
                    var router = Path.GetFileNameWithoutExtension(f);
                    bool stale = AtomicFile.IsTemporaryName(Path.GetFileName(f));
                    bool known = routers.TryGetValue(router, out var rr);
                    bool otherSlot = known && rr!.Migration == null && !string.Equals(rr!.RunSlot ?? "", slot ?? "", StringComparison.Ordinal) &&
                                     (SafeRunPaths(router, slot) is RouterRunPaths sp && !RouterProcess.Inspect(sp).IsRunning);
                    // Files of a router without a record that may still be wanted, or whose QEMU still runs: left alone.
                    bool running = !known && SafeRunPaths(router, slot) is RouterRunPaths rp && RouterProcess.Inspect(rp).IsRunning;
                    if (!includeOwned && !stale && !known && (RouterMayBeWanted(router) || running)) continue;
                    if (includeOwned || stale || !known || otherSlot)
                        found.Add(new OrphanResource
                        {
                            Kind = f.EndsWith(".qmp", StringComparison.Ordinal) || f.EndsWith(".chan", StringComparison.Ordinal) ? OrphanKind.Socket : OrphanKind.RunFile,
                            Name = f, Owner = router, ComputerName = host,
                            Reason = includeOwned ? OwnedReason : stale ? "temporary file of an interrupted write" : !known ? "no router record"
                                : "run file of an instance the router no longer uses (after a live migration)",
                        });
                }
            }

            // Overlays.
            if (Directory.Exists(_store.DisksDirectory))
            {
                foreach (var f in Directory.GetFiles(_store.DisksDirectory).OrderBy(f => f, StringComparer.Ordinal))
                {
                    var router = Path.GetFileNameWithoutExtension(f);
                    if (includeOwned || !RouterMayBeWanted(router))
                        found.Add(new OrphanResource { Kind = OrphanKind.Disk, Name = f, Owner = router, ComputerName = host, Reason = includeOwned ? OwnedReason : "no router record" });
                }
            }

            // State: interrupted writes always; records only in a full reset.
            foreach (var f in _store.FindStaleTemporaryFiles().Where(f => !f.StartsWith(_store.RunDirectory + "/", StringComparison.Ordinal)))
                found.Add(new OrphanResource { Kind = OrphanKind.StateFile, Name = f, ComputerName = host, Reason = "temporary file of an interrupted write" });
            if (includeOwned)
            {
                foreach (var r in routers.Values.OrderBy(r => r.Name, StringComparer.OrdinalIgnoreCase))
                    found.Add(new OrphanResource { Kind = OrphanKind.StateFile, Name = _store.RouterPath(r.Name), Owner = r.Name, ComputerName = host, Reason = "owned by the module" });
                foreach (var l in links.Values.OrderBy(l => l.Name, StringComparer.OrdinalIgnoreCase))
                    found.Add(new OrphanResource { Kind = OrphanKind.StateFile, Name = _store.LinkPath(l.Name), Owner = l.Name, ComputerName = host, Reason = "owned by the module" });
                foreach (var p in physical.OrderBy(p => p.Name, StringComparer.OrdinalIgnoreCase))
                    found.Add(new OrphanResource { Kind = OrphanKind.StateFile, Name = _store.PhysicalLinkPath(p.From, p.To), Owner = p.Name, ComputerName = host, Reason = "owned by the module" });
                foreach (var h in hosts.Values.OrderBy(h => h.Name, StringComparer.OrdinalIgnoreCase))
                    found.Add(new OrphanResource { Kind = OrphanKind.StateFile, Name = _store.HostPath(h.Name), Owner = h.Name, ComputerName = host, Reason = "owned by the module" });
                if (File.Exists(_store.KvmProbePath))
                    found.Add(new OrphanResource { Kind = OrphanKind.StateFile, Name = _store.KvmProbePath, ComputerName = host, Reason = "owned by the module (cached accelerator probe)" });
            }
            // Records are never clean-up's to delete outside a full reset: a record naming a router or host that has none is
            // reported by Get-* as a warning (the user restores the missing record or removes the object with Remove-*).

            // Processes first, then interfaces (a running QEMU holds its taps), then files.
            return found.OrderBy(o => (int)o.Kind).ToList();
        }

        public void Remove(OrphanResource resource, CancellationToken ct)
        {
            switch (resource.Kind)
            {
                case OrphanKind.Process:
                    if (!int.TryParse(resource.Name, NumberStyles.None, CultureInfo.InvariantCulture, out int pid)) return;
                    var match = OurProcesses().FirstOrDefault(p => p.Pid == pid);
                    if (match.Router == null) return; // gone, or no longer ours: leave it alone
                    var paths = new RouterRunPaths(Path.GetDirectoryName(match.PidFile)!, match.Router);
                    if (resource.Reason != OwnedReason && File.Exists(_store.RouterPath(match.Router)))
                        return; // the router got a record since it was listed (readable or not): no longer an orphan
                    if (RouterProcess.IsOurs(pid, paths)) RouterProcess.Kill(paths, TimeSpan.FromSeconds(3), ct, untilReaped: true);
                    else
                    {
                        long? start = RouterProcess.StartTicks(pid);
                        Posix.Kill(pid, Posix.SIGKILL);
                        if (RouterProcess.WaitForExit(pid, TimeSpan.FromSeconds(10), ct))
                            RouterProcess.WaitUntilReaped(pid, start, RouterProcess.ReapTimeout, ct);
                    }
                    return;
                case OrphanKind.Interface:
                    if (resource.Name.StartsWith(NamespacePrefix, StringComparison.Ordinal))
                    {
                        var ns = resource.Name.Substring(NamespacePrefix.Length);
                        InterfaceNames.EnsureValidNamespaceName(ns);
                        if (!ns.StartsWith(InterfaceNames.NamespacePrefix, StringComparison.Ordinal) || !LabNetwork.NamespaceExists(ns)) return;
                        if (LabNetwork.OwnerOfNamespace(ns, _store.ExistingStateId, ct) == null)
                            throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.PermissionDenied, ns,
                                $"Network namespace {ns} has no tagged underlay anchor of this state directory (not created by VirtualNetworks, " +
                                "or another state directory's); it was left alone.");
                        new LabNetwork(_store, _ip).DeleteNamespace(ns, ct);
                        return;
                    }
                    if (resource.Name.StartsWith(RoutePrefix, StringComparison.Ordinal))
                    {
                        var dst = resource.Name.Substring(RoutePrefix.Length);
                        if (LabNetwork.IsUnderlayHostRoute(dst)) _ip.DeleteOwnedRoute(dst, ct);
                        return;
                    }
                    var ipc = _ip;
                    var name = resource.Name;
                    int colon = name.IndexOf(':');
                    if (colon > 0)
                    {
                        var ns = name.Substring(0, colon);
                        name = name.Substring(colon + 1);
                        InterfaceNames.EnsureValidNamespaceName(ns);
                        if (!LabNetwork.NamespaceExists(ns)) return;
                        ipc = new IpCommand(ns);
                    }
                    var info = ipc.GetLink(name, ct);
                    if (info?.Tag == null) return;
                    if (info.Tag.Role == OwnedRole.Probe && !NetworkOrphanScanner.IsProbeLeftover(info.Tag, includeLegacy: true)) return; // its owner runs (again): in use
                    if (info.Tag.StateId != null && !info.Tag.BelongsTo(_store.ExistingStateId))
                        throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.PermissionDenied, resource.Name,
                            $"Interface '{resource.Name}' ({info.Tag.Alias}) belongs to another state directory; it was left alone.");
                    ipc.Delete(name, ct);
                    return;
                default:
                    var full = Path.GetFullPath(resource.Name);
                    if (!full.StartsWith(_store.Root.TrimEnd('/') + "/", StringComparison.Ordinal))
                        throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.PermissionDenied, resource.Name,
                            $"'{resource.Name}' is outside the state directory {_store.Root}; it was left alone.");
                    if (File.Exists(full)) File.Delete(full);
                    return;
            }
        }

        private const string NamespacePrefix = "netns:";
        private const string RoutePrefix = "route:";

        /// <summary>Lists the tagged interfaces of one namespace (<paramref name="ns"/> null = this one) that nothing uses.</summary>
        /// <remarks>
        /// Only devices of state directory <paramref name="stateId"/> are considered, plus probe leftovers (no state
        /// directory) and, in a full reset (<paramref name="includeOwned"/>), legacy v1 tags; another state directory's
        /// devices are never listed.
        /// </remarks>
        private void ScanInterfaces(IpCommand ip, string host, string? ns, bool includeOwned, string? stateId, Dictionary<string, LinkRecord> links,
            Dictionary<string, HostRecord> hosts, List<PhysicalLinkRecord> physical, List<OrphanResource> found, CancellationToken ct)
        {
            IReadOnlyList<OwnedInterface> owned;
            try { owned = NetworkOrphanScanner.FindOwned(ip, stateId, includeLegacy: includeOwned, cancellationToken: ct); }
            catch (VirtualNetworksException) { return; }
            foreach (var o in owned)
            {
                var tag = o.Tag;
                string? reason = includeOwned ? OwnedReason : Unused(tag, o.Name, host, links, hosts, physical);
                if (reason != null)
                    found.Add(new OrphanResource
                    {
                        Kind = OrphanKind.Interface, Name = ns == null ? o.Name : ns + ":" + o.Name, Owner = tag.ObjectName, Reason = reason,
                        ComputerName = host,
                    });
            }
        }

        /// <summary>Why a tagged interface found on <paramref name="host"/> is unused; null when a record wants it there.</summary>
        private string? Unused(OwnershipTag tag, string device, string host, Dictionary<string, LinkRecord> links,
            Dictionary<string, HostRecord> hosts, List<PhysicalLinkRecord> physical)
        {
            bool Is(string a, string b) => string.Equals(a, b, StringComparison.OrdinalIgnoreCase);
            switch (tag.Role)
            {
                case OwnedRole.Host:
                    if (_unknown.Hosts.Contains(tag.HostName!)) return null; // its record cannot be read: unknown
                    if (!Is(tag.HostName!, host) || !hosts.ContainsKey(tag.HostName!)) return "underlay anchor of a host without a record";
                    return device == InterfaceNames.Anchor(tag.HostName!) ? null : "not the host's underlay anchor";
                case OwnedRole.Veth:
                    if (_unknown.Hosts.Contains(tag.HostName!) || _unknown.Hosts.Contains(tag.PeerHostName!) ||
                        _unknown.PhysicalLinks.Contains(StateStore.PhysicalLinkEnds(tag.HostName!, tag.PeerHostName!).From + "--" +
                                                         StateStore.PhysicalLinkEnds(tag.HostName!, tag.PeerHostName!).To)) return null;
                    if (!Is(tag.HostName!, host)) return "veth end of another host";
                    var p = physical.FirstOrDefault(x => (Is(x.From, tag.HostName!) && Is(x.To, tag.PeerHostName!)) || (Is(x.To, tag.HostName!) && Is(x.From, tag.PeerHostName!)));
                    if (p == null) return "no physical link record";
                    return device == InterfaceNames.Veth(tag.HostName!, tag.PeerHostName!) ? null : "not the physical link's veth";
                case OwnedRole.Bridge:
                case OwnedRole.Tap:
                case OwnedRole.Vxlan:
                    if (tag.LinkName != null && _unknown.Links.Contains(tag.LinkName)) return null; // its record cannot be read: unknown
                    if (tag.LinkName == null || !links.TryGetValue(tag.LinkName, out var link)) return "no link record";
                    Dictionary<string, List<string>> endpoints;
                    try { endpoints = EndpointsOf(link); }
                    catch (VirtualNetworksException) { return null; } // a router record it needs cannot be read: unknown
                    var placed = endpoints.Values.SelectMany(x => x).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
                    if (!placed.Any(h => Is(h, host))) return "the link is not wired on this host";
                    if (tag.Role == OwnedRole.Bridge) return link.Bridge == device ? null : "not the link's bridge";
                    if (tag.Role == OwnedRole.Vxlan)
                        return placed.Count > 1 && device == InterfaceNames.Vxlan(link.Name) ? null : "tunnel of a link that does not cross hosts";
                    if (tag.RouterName == null || !link.Taps.TryGetValue(tag.RouterName, out var tap) || tap != device) return "not one of the link's taps";
                    return endpoints.TryGetValue(tag.RouterName, out var hs) && hs.Any(h => Is(h, host)) ? null : "the router's end is not on this host";
                default:
                    // Listed by the scanner only when its owner process is gone (or, without owner, in a full reset).
                    return tag.ProbeOwner != null ? "capability-probe device of a process that ended (" + tag.ProbeOwner + ")" : "capability-probe device of an older version (no owner recorded)";
            }
        }

        private Dictionary<string, List<string>> EndpointsOf(LinkRecord rec)
        {
            if (rec.Endpoints != null && rec.Endpoints.Count > 0) return new Dictionary<string, List<string>>(rec.Endpoints, StringComparer.OrdinalIgnoreCase);
            var d = new Dictionary<string, List<string>>(StringComparer.OrdinalIgnoreCase);
            foreach (var r in rec.Taps.Keys)
            {
                var rr = _store.ReadRouter(r);
                d[r] = new List<string> { rr == null ? HostNames.LocalName : LinuxBackend.HostOf(rr) };
            }
            return d;
        }

        private StateUnknowns _unknown = StateUnknowns.None;

        /// <summary>The reason of everything a full reset (-All) lists.</summary>
        private const string OwnedReason = "owned by the module";

        /// <summary>Thrown inside <see cref="Find"/> to skip a part whose wanted set depends on an unreadable record.</summary>
        private sealed class UnknownStateSkip : Exception
        {
        }

        private RouterRunPaths? SafeRunPaths(string router, string? slot)
        {
            try { return _store.RunPaths(router, slot); }
            catch (Exception ex) when (ex is VirtualNetworksException || ex is ArgumentException) { return null; }
        }

        /// <summary>QEMU processes whose -pidfile lies in our run directory (or a run slot under it), with the router name taken from it.</summary>
        private IEnumerable<(int Pid, string Router, string PidFile)> OurProcesses()
        {
            if (!Directory.Exists("/proc")) yield break;
            var prefix = _store.RunDirectory.TrimEnd('/') + "/";
            foreach (var dir in Directory.GetDirectories("/proc"))
            {
                if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out int pid)) continue;
                IReadOnlyList<string> args;
                try { args = RouterProcess.ReadCommandLine(pid); }
                catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException) { continue; }
                if (args.Count == 0 || Path.GetFileName(args[0]).IndexOf("qemu-system", StringComparison.Ordinal) < 0) continue;
                for (int i = 1; i + 1 < args.Count; i++)
                {
                    if (args[i] != "-pidfile") continue;
                    var pidfile = args[i + 1];
                    if (pidfile.StartsWith(prefix, StringComparison.Ordinal) && pidfile.EndsWith(".pid", StringComparison.Ordinal))
                    {
                        var router = Path.GetFileNameWithoutExtension(pidfile);
                        if (NameRules.IsValid(router)) yield return (pid, router, pidfile);
                    }
                    break;
                }
            }
        }
    }
}
