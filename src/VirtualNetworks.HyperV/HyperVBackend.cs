using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using VirtualNetworks.Backends;
using VirtualNetworks.HyperV.Cim;
using VirtualNetworks.Topology;

namespace VirtualNetworks.HyperV
{
    /// <summary>
    /// The Hyper-V backend: routers are Generation 2 VMs on differencing VHDX disks, links are pairs of synthetic NICs
    /// on a private fabric switch isolated by VLAN access ports, configuration and probes go through KVP.
    /// Everything goes through <see cref="ICimGateway"/> (one per host). See docs/hyperv-backend.md.
    /// </summary>
    public sealed partial class HyperVBackend : IVirtualizationBackend, IPreflightCheck, IOrphanCollector
    {
        public const string KindName = "HyperV";
        /// <summary>Documented adapter limit per router (synthetic NICs).</summary>
        public const int MaxAdapters = 8;
        /// <summary>
        /// Memory (MB) of a router that gives none (<see cref="BackendCapabilities.DefaultMemoryMB"/>). The project's
        /// router.vhdx (Debian's signed shim, GRUB and kernel) needs at least 384 MB: with 128, 192 or 256 MB GRUB stops with
        /// "cannot allocate kernel buffer" (measured under QEMU/OVMF). 512 MB leaves a margin above that floor and is a
        /// multiple of 128 MB, as Hyper-V recommends for Linux guests. Explicit smaller values stay allowed (other images may
        /// need less).
        /// </summary>
        public const int DefaultMemoryMB = 512;

        private readonly Func<string, ICimGateway> _connect;
        private readonly ConcurrentDictionary<string, Lazy<HyperVHost>> _hosts = new ConcurrentDictionary<string, Lazy<HyperVHost>>(StringComparer.OrdinalIgnoreCase);
        private readonly List<string> _declaredHosts;

        /// <summary>
        /// Production constructor: one Microsoft.Management.Infrastructure session per host
        /// (<see cref="Gateway.MiCimGateway.Connect"/>; -CimSession and -Credential arrive in the request's options).
        /// MI is only loaded when the first host is contacted.
        /// </summary>
        public HyperVBackend(BackendRequest request)
            : this(request, host => Gateway.MiCimGateway.Connect(host, request.Options), null)
        {
        }

        internal HyperVBackend(BackendRequest request, Func<string, ICimGateway> connect, HyperVBackendOptions? options = null)
        {
            if (request == null) throw new ArgumentNullException(nameof(request));
            _connect = connect ?? throw new ArgumentNullException(nameof(connect));
            Options = options ?? HyperVBackendOptions.From(request.Options);
            _declaredHosts = (request.ComputerName.Count == 0 ? new[] { "" } : request.ComputerName)
                .Select(HostNames.Canonical).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
            Capabilities = new BackendCapabilities
            {
                MaxAdaptersPerRouter = MaxAdapters,
                MinimumBandwidth = 8_000,
                MaximumBandwidth = 100_000_000_000,
                MinMemoryMB = 32,
                MaxMemoryMB = 1_048_576,
                DefaultMemoryMB = DefaultMemoryMB,
                MaxProcessorCount = 64,
                SupportsVlanTagging = true,
                BandwidthGranularity = 8,
                SupportsLiveMigration = true,
                SupportsColdMigration = true,
                SupportsRouterConfiguration = true,
                SupportsProbes = true,
            };
        }

        public string Kind => KindName;
        public BackendCapabilities Capabilities { get; }
        internal HyperVBackendOptions Options { get; }

        public void Dispose()
        {
            foreach (var h in _hosts.Values.Where(l => l.IsValueCreated))
            {
                try { h.Value.Dispose(); } catch (Exception) { }
            }
            _hosts.Clear();
        }

        // ================================================================================================ hosts

        internal HyperVHost Host(string? name)
        {
            var canonical = HostNames.Canonical(name);
            var lazy = _hosts.GetOrAdd(canonical, n => new Lazy<HyperVHost>(() =>
            {
                try { return new HyperVHost(n, _connect(n), Options); }
                catch (CimGatewayException ex) { throw HyperVErrors.Translate(ex, "Connecting to host " + n, "connect", n, n); }
                catch (Exception ex) when (ex is System.IO.FileNotFoundException || ex is System.IO.FileLoadException ||
                                           ex is TypeLoadException || ex is DllNotFoundException || ex is PlatformNotSupportedException ||
                                           ex is EntryPointNotFoundException || ex is BadImageFormatException)
                {
                    // MI is compile-time only: the PowerShell host supplies it. Where it is missing or a stub (Linux), say so.
                    throw new VirtualNetworksException(ErrorIds.BackendNotAvailable, ErrorKind.NotInstalled, n,
                        "Hyper-V hosts are managed through CIM (Microsoft.Management.Infrastructure), which is not usable in this process (" +
                        ex.GetType().Name + ": " + ex.Message + "). Run the module in Windows PowerShell 5.1 or PowerShell 7 on Windows.", ex);
                }
            }, LazyThreadSafetyMode.ExecutionAndPublication));
            try { return lazy.Value; }
            catch (Exception)
            {
                _hosts.TryRemove(canonical, out _);
                throw;
            }
        }

        private IEnumerable<string> KnownHosts() => _declaredHosts.Concat(_hosts.Keys).Distinct(StringComparer.OrdinalIgnoreCase).ToList();

        // ================================================================================================ inventory

        public BackendInventory GetInventory(CancellationToken cancellationToken)
        {
            var hosts = KnownHosts().ToList();
            var tasks = hosts.Select(h => Task.Run(() =>
            {
                var host = Host(h);
                var snap = HostSnapshot.Read(host, host.Op("Reading the inventory", h), cancellationToken);
                return (host, snap);
            }, cancellationToken)).ToArray();
            try { Task.WaitAll(tasks, cancellationToken); }
            catch (AggregateException ex)
            {
                var first = ex.Flatten().InnerExceptions.FirstOrDefault(e => e is VirtualNetworksException) ?? ex.Flatten().InnerExceptions.First();
                if (first is OperationCanceledException oce) throw oce;
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(first).Throw();
            }
            var inventory = new BackendInventory();
            var ends = new List<(string Host, VmRecord Vm, NicRecord Nic)>();
            foreach (var t in tasks)
            {
                var (host, snap) = t.Result;
                inventory.Hosts.Add(new VirtualHost { Name = host.Name, Kind = KindName });
                AddToInventory(inventory, host, snap);
                ends.AddRange(TransportEnds(host.Name, snap));
            }
            // Links across hosts: one end on each host's transport switch, joined here.
            foreach (var l in CrossHostLinks(ends))
            {
                if (inventory.Configurations.TryGetValue(l.From, out var fc)) l.FromAddress = fc.Interfaces.FirstOrDefault(i => Same(i.LinkName, l.Name))?.Address;
                if (inventory.Configurations.TryGetValue(l.To, out var tc)) l.ToAddress = tc.Interfaces.FirstOrDefault(i => Same(i.LinkName, l.Name))?.Address;
                inventory.Links.Add(l);
                foreach (var r in inventory.Routers.Where(r => (Same(r.Name, l.From) && Same(r.ComputerName, l.FromComputerName)) ||
                                                              (Same(r.Name, l.To) && Same(r.ComputerName, l.ToComputerName))))
                    r.Links = r.Links.Append(l.Name).OrderBy(n => n, StringComparer.OrdinalIgnoreCase).ToList();
            }
            return inventory;
        }

        private static void AddToInventory(BackendInventory inventory, HyperVHost host, HostSnapshot snap)
        {
            var routers = snap.RoutersByName();
            var links = CompleteLinks(snap);
            foreach (var kv in routers.OrderBy(k => k.Key, StringComparer.OrdinalIgnoreCase))
            {
                var vm = kv.Value[0];
                RouterConfiguration? cfg = null;
                var text = KvpConfig.Assemble(vm.HostKvp);
                if (text != null) cfg = KvpConfig.Parse(text);
                if (cfg != null) inventory.Configurations[vm.Marker.Router] = cfg;
                string? status = null;
                if (kv.Value.Count > 1)
                    status = $"{kv.Value.Count} virtual machines ({string.Join(", ", kv.Value.Select(v => v.Guid))}) carry the marker of router '{kv.Key}'; " +
                             "remove the wrong one in Hyper-V Manager (nothing is guessed).";
                else if (!string.Equals(vm.ElementName, vm.Marker.Router, StringComparison.Ordinal))
                    status = $"the VM was renamed to '{vm.ElementName}'";
                inventory.Routers.Add(new VirtualRouter
                {
                    Name = vm.Marker.Router,
                    ComputerName = host.Name,
                    State = kv.Value.Count > 1 ? RouterState.Unknown : MapState(vm.EnabledState),
                    NetworkLabel = vm.Marker.Label,
                    AddressFamily = vm.Marker.Family,
                    Image = vm.Marker.Image,
                    ProcessorCount = vm.Processors,
                    MemoryMB = vm.MemoryMB,
                    Id = string.Join(",", kv.Value.Select(v => v.Guid)),
                    Backend = KindName,
                    Links = links.Where(l => Same(l.From, kv.Key) || Same(l.To, kv.Key)).Select(l => l.Name).OrderBy(n => n, StringComparer.OrdinalIgnoreCase).ToList(),
                    Addresses = cfg?.Interfaces.Select(i => i.Address).ToList() ?? new List<string>(),
                    Status = status,
                });
            }
            foreach (var l in links)
            {
                l.FromComputerName = host.Name;
                l.ToComputerName = host.Name;
                if (inventory.Configurations.TryGetValue(l.From, out var fc)) l.FromAddress = fc.Interfaces.FirstOrDefault(i => Same(i.LinkName, l.Name))?.Address;
                if (inventory.Configurations.TryGetValue(l.To, out var tc)) l.ToAddress = tc.Interfaces.FirstOrDefault(i => Same(i.LinkName, l.Name))?.Address;
                inventory.Links.Add(l);
            }
        }

        /// <summary>
        /// Links whose two ends are complete: each end router is a unique complete router with exactly one NIC vn:&lt;link&gt;,
        /// connected to the owned fabric switch, both ports in VLAN access mode with the same id. Anything less is a
        /// leftover (reported by the orphan scan, removed by the next CreateLink of that name).
        /// </summary>
        internal static List<VirtualLink> CompleteLinks(HostSnapshot snap)
        {
            var result = new List<VirtualLink>();
            var routers = snap.RoutersByName().Where(k => k.Value.Count == 1).ToDictionary(k => k.Key, k => k.Value[0], StringComparer.OrdinalIgnoreCase);
            var ends = new Dictionary<string, List<(VmRecord Vm, NicRecord Nic)>>(StringComparer.OrdinalIgnoreCase);
            foreach (var vm in routers.Values)
                foreach (var nic in vm.Nics)
                {
                    if (!ends.TryGetValue(nic.Link, out var l)) ends[nic.Link] = l = new List<(VmRecord, NicRecord)>();
                    l.Add((vm, nic));
                }
            foreach (var kv in ends.OrderBy(k => k.Key, StringComparer.OrdinalIgnoreCase))
            {
                var e = kv.Value;
                if (e.Count != 2 || e[0].Vm == e[1].Vm) continue;
                if (!snap.FabricOwned || snap.FabricGuid == null) continue;
                if (e.Any(x => x.Nic.SwitchGuid == null || !string.Equals(x.Nic.SwitchGuid, snap.FabricGuid, StringComparison.OrdinalIgnoreCase))) continue;
                if (e.Any(x => x.Nic.AccessVlan == null) || e[0].Nic.AccessVlan != e[1].Nic.AccessVlan) continue;
                var link = MakeLink(kv.Key, e[0], e[1]);
                link.Id = snap.FabricGuid + "/vlan" + link.VlanId!.Value.ToString(CultureInfo.InvariantCulture);
                result.Add(link);
            }
            return result;
        }

        /// <summary>
        /// A link from its two ends (same VLAN checked by the caller): From/To told apart by the MACs (lowest bit 0 at
        /// the From end), drift (MACs changed, bandwidth differing) in Status. Id and hosts are the caller's.
        /// </summary>
        private static VirtualLink MakeLink(string name, (VmRecord Vm, NicRecord Nic) e0, (VmRecord Vm, NicRecord Nic) e1)
        {
            string a = e0.Vm.Marker.Router, b = e1.Vm.Marker.Router;
            string from = a, to = b;
            string? status = null;
            var (fromEnd, toEnd) = (e0, e1);
            if (e0.Nic.Mac == HyperVNames.Mac(name, a, b, true) && e1.Nic.Mac == HyperVNames.Mac(name, a, b, false)) { }
            else if (e1.Nic.Mac == HyperVNames.Mac(name, b, a, true) && e0.Nic.Mac == HyperVNames.Mac(name, b, a, false))
            {
                from = b; to = a; (fromEnd, toEnd) = (e1, e0);
            }
            else
            {
                if (string.Compare(a, b, StringComparison.OrdinalIgnoreCase) > 0) { from = b; to = a; (fromEnd, toEnd) = (e1, e0); }
                status = "the adapters' MAC addresses were changed outside the module";
            }
            if (fromEnd.Nic.Limit != toEnd.Nic.Limit)
                status = (status == null ? "" : status + "; ") +
                         $"bandwidth differs between the ends ({Bandwidth.Format(fromEnd.Nic.Limit)} at {from}, {Bandwidth.Format(toEnd.Nic.Limit)} at {to}); Set-VirtualLink re-applies it";
            var (state, stateStatus) = ReadLinkState(name, fromEnd, toEnd);
            if (stateStatus != null) status = (status == null ? "" : status + "; ") + stateStatus;
            return new VirtualLink
            {
                Name = name,
                From = from,
                To = to,
                MaximumBandwidth = fromEnd.Nic.Limit,
                VlanId = fromEnd.Nic.AccessVlan,
                Transport = LinkTransport.Vlan,
                State = state,
                Status = status,
            };
        }

        /// <summary>
        /// The ends of links across hosts on one host: NICs vn:&lt;link&gt; of unique complete routers connected to the
        /// transport switch (option TransportSwitchName) in VLAN access mode.
        /// </summary>
        internal static List<(string Host, VmRecord Vm, NicRecord Nic)> TransportEnds(string host, HostSnapshot snap)
        {
            var result = new List<(string, VmRecord, NicRecord)>();
            if (snap.TransportGuid == null) return result;
            foreach (var kv in snap.RoutersByName().Where(k => k.Value.Count == 1))
                foreach (var nic in kv.Value[0].Nics)
                    if (nic.AccessVlan != null && string.Equals(nic.SwitchGuid, snap.TransportGuid, StringComparison.OrdinalIgnoreCase))
                        result.Add((host, kv.Value[0], nic));
            return result;
        }

        /// <summary>
        /// Links across hosts, joined from the transport ends of every host read: exactly two ends of one link name, on
        /// two different hosts, in the same VLAN. Transport Vlan; UnderlayPath = the two hosts.
        /// </summary>
        internal List<VirtualLink> CrossHostLinks(IEnumerable<(string Host, VmRecord Vm, NicRecord Nic)> ends)
        {
            var result = new List<VirtualLink>();
            foreach (var g in ends.GroupBy(e => e.Nic.Link, StringComparer.OrdinalIgnoreCase).OrderBy(g => g.Key, StringComparer.OrdinalIgnoreCase))
            {
                var e = g.ToList();
                if (e.Count != 2 || Same(e[0].Host, e[1].Host) || e[0].Nic.AccessVlan != e[1].Nic.AccessVlan) continue;
                var link = MakeLink(g.Key, (e[0].Vm, e[0].Nic), (e[1].Vm, e[1].Nic));
                var fromEnd = Same(link.From, e[0].Vm.Marker.Router) ? e[0] : e[1];
                var toEnd = ReferenceEquals(fromEnd.Nic, e[0].Nic) ? e[1] : e[0];
                link.FromComputerName = fromEnd.Host;
                link.ToComputerName = toEnd.Host;
                link.UnderlayPath = new[] { fromEnd.Host, toEnd.Host };
                link.Id = "transport:" + Options.TransportSwitchName + "/vlan" + link.VlanId!.Value.ToString(CultureInfo.InvariantCulture);
                result.Add(link);
            }
            return result;
        }

        internal static RouterState MapState(ushort enabledState) => enabledState switch
        {
            2 => RouterState.Running,
            3 => RouterState.Off,
            4 => RouterState.Stopping,
            6 => RouterState.Saved,
            9 => RouterState.Paused,
            10 => RouterState.Starting,
            11 => RouterState.Starting,
            32768 => RouterState.Paused,
            32769 => RouterState.Saved,
            32773 => RouterState.Stopping,
            32776 => RouterState.Paused,
            32777 => RouterState.Starting,
            32779 => RouterState.Saved,
            32780 => RouterState.Stopping,
            _ => RouterState.Unknown,
        };

        private static bool Same(string? a, string? b) => string.Equals(a ?? "", b ?? "", StringComparison.OrdinalIgnoreCase);

        // ================================================================================================ lookups

        /// <summary>
        /// The one complete VM of router <paramref name="name"/>: a targeted read (VSSD by ElementName, then that VM's
        /// devices, features and KVP settings) on each known host. Only when no host has it under that name (renamed in
        /// Hyper-V Manager) are the markers of all VSSDs scanned before "not found" is reported.
        /// </summary>
        private (HyperVHost Host, HostSnapshot Snap, VmRecord Vm)? FindRouter(string name, string operation, CancellationToken ct, ReadParts parts = ReadParts.Core, bool required = true)
        {
            var found = new List<(HyperVHost, HostSnapshot, VmRecord)>();
            foreach (var h in KnownHosts())
            {
                var host = Host(h);
                var snap = HostSnapshot.ReadVms(host, host.Op(operation, name), new[] { HostSnapshot.ByName(name) }, parts, ct);
                foreach (var vm in snap.Vms.Where(v => v.Complete && Same(v.Marker.Router, name))) found.Add((host, snap, vm));
            }
            if (found.Count == 0)
                foreach (var h in KnownHosts())
                {
                    var host = Host(h);
                    var op = host.Op(operation, name);
                    var renamed = HostSnapshot.ScanMarkers(host, op, new[] { name }, ct);
                    if (renamed.Count == 0) continue;
                    var snap = HostSnapshot.ReadVms(host, op, renamed, parts, ct);
                    foreach (var vm in snap.Vms.Where(v => v.Complete && Same(v.Marker.Router, name))) found.Add((host, snap, vm));
                }
            if (found.Count == 1) return found[0];
            if (found.Count > 1)
                throw HyperVErrors.Error(HyperVErrorIds.AmbiguousRouter, ErrorKind.InvalidData, name,
                    $"{operation}: {found.Count} virtual machines ({string.Join(", ", found.Select(f => f.Item1.Name + "/" + f.Item3.Guid))}) carry the marker of router '{name}'; nothing is guessed.",
                    "Remove the wrong virtual machine in Hyper-V Manager, then run the command again.");
            if (!required) return null;
            throw HyperVErrors.Error(ErrorIds.RouterNotFound, ErrorKind.ObjectNotFound, name, $"{operation}: no virtual router named '{name}' exists on {string.Join(", ", KnownHosts())}.");
        }

    }
}
