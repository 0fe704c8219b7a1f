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
            bool RouterWanted(string name) => routers.TryGetValue(name, out var r) && r.DesiredState != RouterState.Off;

            // QEMU processes whose pidfile lies in our run directory.
            foreach (var (pid, router) in OurProcesses())
            {
                if (includeOwned || !RouterWanted(router))
                    found.Add(new OrphanResource
                    {
                        Kind = OrphanKind.Process, Name = pid.ToString(CultureInfo.InvariantCulture), Owner = router, ComputerName = host,
                        Reason = includeOwned ? "owned by the module" : (routers.ContainsKey(router) ? "router is off but its QEMU runs" : "no router record"),
                    });
            }

            // Tagged interfaces.
            if (File.Exists("/sys/class/net/lo/ifindex") || Directory.Exists("/sys/class/net"))
            {
                foreach (var owned in NetworkOrphanScanner.FindOwned(_ip, null, null, ct))
                {
                    var tag = owned.Tag;
                    string? reason = null;
                    if (includeOwned) reason = "owned by the module";
                    else if (tag.LinkName == null || !links.TryGetValue(tag.LinkName, out var link)) reason = "no link record";
                    else if (tag.Role == OwnedRole.Bridge && link.Bridge != owned.Name) reason = "not the link's bridge";
                    else if (tag.Role == OwnedRole.Tap && (tag.RouterName == null || !link.Taps.TryGetValue(tag.RouterName, out var tap) || tap != owned.Name))
                        reason = "not one of the link's taps";
                    else if (tag.Role != OwnedRole.Bridge && tag.Role != OwnedRole.Tap) reason = "probe or tunnel leftover";
                    if (reason != null)
                        found.Add(new OrphanResource { Kind = OrphanKind.Interface, Name = owned.Name, Owner = tag.ObjectName, Reason = reason, ComputerName = host });
                }
            }

            // Files in run/ (sockets, pidfiles, console logs, configs).
            if (Directory.Exists(_store.RunDirectory))
            {
                foreach (var f in Directory.GetFiles(_store.RunDirectory).OrderBy(f => f, StringComparer.Ordinal))
                {
                    var router = Path.GetFileNameWithoutExtension(f);
                    bool stale = AtomicFile.IsTemporaryName(Path.GetFileName(f));
                    if (includeOwned || stale || !routers.ContainsKey(router))
                        found.Add(new OrphanResource
                        {
                            Kind = f.EndsWith(".qmp", StringComparison.Ordinal) || f.EndsWith(".chan", StringComparison.Ordinal) ? OrphanKind.Socket : OrphanKind.RunFile,
                            Name = f, Owner = router, ComputerName = host,
                            Reason = includeOwned ? "owned by the module" : stale ? "temporary file of an interrupted write" : "no router record",
                        });
                }
            }

            // Overlays.
            if (Directory.Exists(_store.DisksDirectory))
            {
                foreach (var f in Directory.GetFiles(_store.DisksDirectory).OrderBy(f => f, StringComparer.Ordinal))
                {
                    var router = Path.GetFileNameWithoutExtension(f);
                    if (includeOwned || !routers.ContainsKey(router))
                        found.Add(new OrphanResource { Kind = OrphanKind.Disk, Name = f, Owner = router, ComputerName = host, Reason = includeOwned ? "owned by the module" : "no router record" });
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
                if (File.Exists(_store.KvmProbePath))
                    found.Add(new OrphanResource { Kind = OrphanKind.StateFile, Name = _store.KvmProbePath, ComputerName = host, Reason = "owned by the module (cached accelerator probe)" });
            }
            else
            {
                // A link record whose routers are gone cannot be used again.
                foreach (var l in links.Values.Where(l => !routers.ContainsKey(l.From) || !routers.ContainsKey(l.To)).OrderBy(l => l.Name, StringComparer.OrdinalIgnoreCase))
                    found.Add(new OrphanResource { Kind = OrphanKind.StateFile, Name = _store.LinkPath(l.Name), Owner = l.Name, ComputerName = host, Reason = "link record names a router that does not exist" });
            }

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
                    var paths = _store.RunPaths(match.Router);
                    if (RouterProcess.IsOurs(pid, paths)) RouterProcess.Kill(paths, TimeSpan.FromSeconds(3), ct);
                    else
                    {
                        Posix.Kill(pid, Posix.SIGKILL);
                        RouterProcess.WaitForExit(pid, TimeSpan.FromSeconds(10), ct);
                    }
                    return;
                case OrphanKind.Interface:
                    var info = _ip.GetLink(resource.Name, ct);
                    if (info?.Tag != null) _ip.Delete(resource.Name, ct);
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

        /// <summary>QEMU processes whose -pidfile lies in our run directory, with the router name taken from it.</summary>
        private IEnumerable<(int Pid, string Router)> OurProcesses()
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
                        if (NameRules.IsValid(router)) yield return (pid, router);
                    }
                    break;
                }
            }
        }
    }
}
