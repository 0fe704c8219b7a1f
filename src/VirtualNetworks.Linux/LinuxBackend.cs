using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using Newtonsoft.Json.Linq;
using VirtualNetworks.Backends;
using VirtualNetworks.Linux.Net;
using VirtualNetworks.Linux.State;
using VirtualNetworks.Linux.Vm;
using VirtualNetworks.Topology;
using VirtualNetworks.Util;

namespace VirtualNetworks.Linux
{
    /// <summary>
    /// The Linux backend: one QEMU process per router, one tagged bridge per link with one tagged tap per router
    /// adapter, tbf shaping on the taps (changed in place), QMP for lifecycle and a framed guest channel for
    /// configuration and probes. Truth is read from the kernel and QEMU; the state directory holds each router's and
    /// link's definition so routers can be started again. Every change runs under the state lock.
    /// </summary>
    public sealed partial class LinuxBackend : IVirtualizationBackend, IPreflightCheck, ILinkMeter, IOrphanCollector, IRouterBatchStarter, IRouterBatchStopper, IExclusiveAccess,
        IImageCatalog
    {
        public const string KindName = "Linux";
        /// <summary>
        /// Memory (MB) of a router that gives none (<see cref="BackendCapabilities.DefaultMemoryMB"/>). Measured 2026-12-07
        /// with the project's router image (contract 2, BIRD 2; docs/benchmarks.md "Density"): the guest's own use
        /// (MemTotal − MemAvailable) is about 18 MB after boot, with OSPF + BFD and under Test-VirtualNetwork alike, and the
        /// smallest memory it boots in is <see cref="MinMemoryMB"/> (unpacking the initramfs is the peak). 64 MB is that
        /// floor plus 24 MB (60 %): it leaves about 35 MB MemAvailable in a running router, twice the guest's own use, for
        /// what the measurement did not cover (more adapters, bigger routing tables, TCP buffers of a throughput test).
        /// </summary>
        public const int DefaultMemoryMB = 64;
        /// <summary>
        /// The least memory (MB) a router may be given (<see cref="BackendCapabilities.MinMemoryMB"/>): the project's image
        /// booted and passed OSPF + BFD and Test-VirtualNetwork with 40 MB in every run, and with 36 MB and 32 MB every boot
        /// panicked ("System is deadlocked on memory", "No working init found") while unpacking the initramfs.
        /// </summary>
        public const int MinMemoryMB = 40;
        /// <summary>Backend option naming the state directory (overrides $VIRTUALNETWORKS_STATE_DIR).</summary>
        public const string StateDirectoryOption = "StateDirectory";

        private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(90);
        private static readonly TimeSpan GracefulStopTimeout = TimeSpan.FromSeconds(15);

        private readonly IpCommand _ip;
        private readonly TrafficShaper _shaper;
        private readonly ImageLocator _images;
        private LinuxCapabilityReport? _features;
        private QemuLauncher? _launcher;
        private VmManager? _vms;
        private BackendCapabilities? _capabilities;

        public LinuxBackend(BackendRequest request)
        {
            string? root = null;
            if (request.Options.TryGetValue(StateDirectoryOption, out var r) && r is string s && s.Length > 0) root = s;
            Store = new StateStore(root);
            _ip = new IpCommand();
            _shaper = new TrafficShaper(_ip);
            _images = new ImageLocator(Store.Root);
            Lab = new LabNetwork(Store, _ip);
            // The local machine, or a lab host of this state directory (a network namespace standing in for a machine).
            // Hosts a deployment is about to create are accepted by name; operations on them still need them to exist.
            foreach (var host in request.ComputerName)
            {
                if (request.HostsMayNotExistYet && !Lab.IsKnown(host))
                    NameRules.Ensure(host, "host");
                else
                    Lab.Resolve(host);
            }
        }

        public StateStore Store { get; }
        public string Kind => KindName;

        public BackendCapabilities Capabilities => _capabilities ??= new BackendCapabilities
        {
            MaxAdaptersPerRouter = QemuArguments.MaxAdapters,
            MinimumBandwidth = TrafficShaper.MinimumRate,
            MaximumBandwidth = TrafficShaper.MaximumRate,
            MinMemoryMB = MinMemoryMB,
            MaxMemoryMB = 65_536,
            DefaultMemoryMB = DefaultMemoryMB,
            MaxProcessorCount = 16,
            SupportsVlanTagging = VlanFiltering,
            SupportsLiveMigration = true,
            SupportsColdMigration = true,
            SupportsRouterConfiguration = true,
            SupportsProbes = true,
        };

        private LinuxCapabilityReport Features => _features ??= LinuxCapabilities.Probe();

        /// <summary>
        /// TEST SEAM, not a feature: when set, stands in for the probe's answer on bridge VLAN filtering (the tagged link
        /// path), so a test can run that path on a kernel without it, together with <see cref="NetTools.InterceptCommands"/>
        /// for the commands such a kernel refuses. Set it before the first use of <see cref="Capabilities"/>. Nothing in
        /// the product sets it.
        /// </summary>
        internal bool? BridgeVlanFilteringOverride { get; set; }

        /// <summary>
        /// TEST SEAM, not a feature: starts routers with NICs that offer guest announce, as versions before
        /// <see cref="Vm.QemuArguments.NoGuestAnnounce"/> did, so a test can check that such a running router still migrates
        /// live. Nothing in the product sets it.
        /// </summary>
        internal bool StartNicsWithGuestAnnounce { get; set; }

        /// <summary>True when links with a VLAN id get it as a real port tag (bridge VLAN filtering).</summary>
        private bool VlanFiltering => BridgeVlanFilteringOverride ?? Features.BridgeVlanFiltering;
        private QemuLauncher Launcher => _launcher ??= new QemuLauncher(Store);
        private VmManager Vms => _vms ??= new VmManager(Store, Launcher);
        private static string LocalHost => HostNames.LocalName;

        public void Dispose()
        {
        }

        // ================================================================================================ exclusive access

        /// <summary>Environment variable: how many seconds a command waits for another one's state lock (default 600).</summary>
        public const string LockTimeoutVariable = "VIRTUALNETWORKS_LOCK_TIMEOUT";

        /// <summary>How long a command waits for the state lock another command holds: a whole deployment may hold it for minutes.</summary>
        internal static TimeSpan ExclusiveTimeout()
        {
            var text = Environment.GetEnvironmentVariable(LockTimeoutVariable);
            if (string.IsNullOrWhiteSpace(text)) return TimeSpan.FromSeconds(600);
            if (!int.TryParse(text!.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int seconds) || seconds > 86_400)
                throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.InvalidArgument, LockTimeoutVariable,
                    $"The environment variable {LockTimeoutVariable} must be a whole number of seconds from 0 to 86400; it is '{text}'.");
            return TimeSpan.FromSeconds(seconds);
        }

        /// <summary>
        /// The state directory's lock for the caller's scope (re-entrant on this backend instance): the engine holds it from
        /// a command's first observation to its last change, so a concurrent command waits, then sees this one's result.
        /// </summary>
        public IDisposable AcquireExclusive(CancellationToken cancellationToken)
        {
            bool outermost = !Store.HoldsLock;
            var held = Store.Lock(ExclusiveTimeout(), cancellationToken);
            // Level-based upkeep every state-changing command does first: scratch files of KVM probes whose process was
            // killed mid-probe (named by their owner's pid) go.
            if (outermost) KvmProbe.SweepStale(Store.RunDirectory);
            return held;
        }

        // ================================================================================================ preflight

        public void EnsureReady(TopologySpec desired, CancellationToken cancellationToken)
        {
            // An unsafe or damaged state directory is refused before anything is planned or created.
            Store.Verify(cancellationToken);
            var missing = new List<string>();
            if (!LinuxCapabilities.IsRoot())
                missing.Add("root privileges (CAP_NET_ADMIN) to create bridges and taps: run as root");
            var features = Features;
            if (!features.CanBuildLinks)
                missing.Add(features.Describe());
            if (desired.Routers.Count > 0)
            {
                try { QemuLauncher.FindQemu(); }
                catch (VirtualNetworksException ex) { missing.Add(ex.Message); }
                foreach (var image in desired.Routers.Select(x => x.Image).Distinct(StringComparer.OrdinalIgnoreCase))
                    if (_images.Find(image) == null)
                        missing.Add($"router image '{image}' ({_images.DescribeSearch(image)}; {ImageLocator.HowToInstall(image)})");
            }
            bool severalHosts = desired.Hosts.Any(h => !HostNames.IsLocalHost(h.Name)) || desired.PhysicalLinks.Count > 0 ||
                                desired.Routers.Any(x => !HostNames.IsLocalHost(x.Host));
            if (severalHosts) missing.AddRange(LabFeatureProblems());
            if (desired.Links.Any(l => Planning.Planner.Normalize(l.MaximumBandwidth).HasValue) && !features.Tbf)
                missing.Add("the tbf queueing discipline (kernel module sch_tbf) for bandwidth limits");
            if (missing.Count > 0)
                throw new VirtualNetworksException(ErrorIds.BackendNotAvailable, ErrorKind.NotInstalled, KindName,
                    "The Linux backend cannot build this topology; missing: " + string.Join("; ", missing) + ".")
                {
                    RecommendedAction = "Install the Debian packages qemu-system-x86 and iproute2 and build the router image (./build.sh demo does all of it).",
                };
        }

        public bool ImageExists(string image, string host) => _images.Find(image) != null;

        // Lab hosts share the machine's disk: one search path for every host of this backend.
        public IReadOnlyList<string> ImageSearchPath => _images.SearchPath;

        public IReadOnlyList<KeyValuePair<string, string>> ListImages() => _images.List();

        public ImageSearchReport DescribeMissingImage(string image) => _images.Report(image);

        // ================================================================================================ inventory

        public BackendInventory GetInventory(CancellationToken cancellationToken)
        {
            var inventory = new BackendInventory();
            var (hosts, physical) = Lab.Observe(cancellationToken);
            inventory.Hosts.AddRange(hosts);
            inventory.PhysicalLinks.AddRange(physical);
            var problems = new List<string>();
            var routers = Store.ListRouters(problems);
            SetCapacity(hosts, routers.Count + problems.Count);
            var links = Store.ListLinks(problems);
            foreach (var p in problems)
                inventory.Warnings.Add(p + " What it describes is not shown, and Remove-VirtualNetworkOrphan leaves it alone; restore the file " +
                                       "(or move it away once nothing of it runs).");
            var recorded = new HashSet<string>(routers.Select(r => r.Name), StringComparer.OrdinalIgnoreCase);
            foreach (var l in links.OrderBy(l => l.Name, StringComparer.OrdinalIgnoreCase))
                foreach (var end in new[] { l.From, l.To }.Where(e => !recorded.Contains(e)).Distinct(StringComparer.OrdinalIgnoreCase))
                    inventory.Warnings.Add($"Link '{l.Name}' names router '{end}', which has no record in {Store.RoutersDirectory}: the router is not shown " +
                                           "and its QEMU, if any, is left alone; restore the record, or remove the link with Remove-VirtualLink.");
            var deviceCache = new Dictionary<string, HashSet<string>>(StringComparer.OrdinalIgnoreCase);
            HashSet<string> DevicesOn(string host)
            {
                if (deviceCache.TryGetValue(host, out var set)) return set;
                set = new HashSet<string>(StringComparer.Ordinal);
                if (HostNames.IsLocalHost(host) || LabNetwork.NamespaceExists(InterfaceNames.Namespace(host)))
                {
                    try { set.UnionWith(Lab.IpFor(host).ListLinks(cancellationToken).Select(k => k.Name)); }
                    catch (VirtualNetworksException) { /* reported as drift below */ }
                }
                return deviceCache[host] = set;
            }
            var hostOf = routers.ToDictionary(x => x.Name, HostOf, StringComparer.OrdinalIgnoreCase);

            var ordered = routers.OrderBy(x => x.Name, StringComparer.OrdinalIgnoreCase).ToList();
            var observed = ObserveStates(ordered, cancellationToken);
            for (int i = 0; i < ordered.Count; i++)
            {
                var rec = ordered[i];
                var (state, status) = observed[i];
                inventory.Routers.Add(new VirtualRouter
                {
                    Name = rec.Name,
                    ComputerName = HostOf(rec),
                    State = state,
                    Status = status,
                    NetworkLabel = rec.NetworkLabel,
                    AddressFamily = rec.AddressFamily,
                    Image = rec.Image,
                    ProcessorCount = rec.ProcessorCount,
                    MemoryMB = rec.MemoryMB,
                    Id = rec.Name,
                    Backend = KindName,
                });
                if (rec.Configuration != null) inventory.Configurations[rec.Name] = rec.Configuration;
            }

            foreach (var rec in links.OrderBy(x => x.Name, StringComparer.OrdinalIgnoreCase))
            {
                var fromHost = hostOf.TryGetValue(rec.From, out var fh) ? fh : LocalHost;
                var toHost = hostOf.TryGetValue(rec.To, out var th) ? th : LocalHost;
                var endpoints = EndpointsOf(rec);
                var placed = endpoints.Values.SelectMany(x => x).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
                bool cross = placed.Count > 1;
                var missing = new List<string>();
                foreach (var h in placed)
                {
                    var devs = DevicesOn(h);
                    var expected = new List<string> { rec.Bridge };
                    expected.AddRange(endpoints.Where(e => e.Value.Any(x => Is(x, h))).Select(e => rec.Taps.TryGetValue(e.Key, out var t) ? t : null).Where(t => t != null)!);
                    if (cross) expected.Add(InterfaceNames.Vxlan(rec.Name));
                    foreach (var d in expected.Where(d => !devs.Contains(d)))
                        missing.Add(HostNames.IsLocalHost(h) ? d : d + " on " + h);
                }
                var link = new VirtualLink
                {
                    Name = rec.Name,
                    From = rec.From,
                    To = rec.To,
                    FromComputerName = fromHost,
                    ToComputerName = toHost,
                    MaximumBandwidth = rec.MaximumBandwidth,
                    VlanId = rec.VlanId,
                    State = rec.State,
                    Transport = rec.Transport,
                    TunnelId = cross ? rec.Vni : null,
                    UnderlayPath = Lab.UnderlayPath(fromHost, toHost),
                    Id = rec.Bridge,
                    Status = missing.Count == 0 ? null : "missing interfaces: " + string.Join(", ", missing) + " (start a router of the link to recreate them)",
                };
                AddressOf(inventory, rec.From, rec.Name, out var fromAddress);
                AddressOf(inventory, rec.To, rec.Name, out var toAddress);
                link.FromAddress = fromAddress;
                link.ToAddress = toAddress;
                inventory.Links.Add(link);
            }
            return inventory;
        }

        private static void AddressOf(BackendInventory inventory, string router, string link, out string? address)
        {
            address = null;
            if (inventory.Configurations.TryGetValue(router, out var cfg))
                address = cfg.Interfaces.FirstOrDefault(i => string.Equals(i.LinkName, link, StringComparison.OrdinalIgnoreCase))?.Address;
        }

        /// <summary>Most routers' states are observed at the same time (a QMP round trip each; a booting guest under TCG answers slowly).</summary>
        private const int ObserveThreads = 8;

        /// <summary><see cref="ObserveState"/> of every record, in order, on up to <see cref="ObserveThreads"/> threads.</summary>
        private (RouterState, string?)[] ObserveStates(IReadOnlyList<RouterRecord> records, CancellationToken cancellationToken)
        {
            var results = new (RouterState, string?)[records.Count];
            int threads = Math.Min(ObserveThreads, records.Count);
            if (threads <= 1)
            {
                for (int i = 0; i < records.Count; i++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    results[i] = ObserveState(records[i], cancellationToken);
                }
                return results;
            }
            _ = Vms; // made once, before the threads share it
            int next = -1;
            System.Runtime.ExceptionServices.ExceptionDispatchInfo? failure = null;
            void Work()
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < records.Count && Volatile.Read(ref failure) == null)
                {
                    try
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        results[i] = ObserveState(records[i], cancellationToken);
                    }
                    catch (Exception ex)
                    {
                        Interlocked.CompareExchange(ref failure, System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(ex), null);
                    }
                }
            }
            var workers = new List<Thread>();
            for (int t = 1; t < threads; t++)
            {
                var th = new Thread(Work) { IsBackground = true, Name = "vn-observe" };
                th.Start();
                workers.Add(th);
            }
            Work(); // this thread takes part too
            foreach (var th in workers) th.Join();
            failure?.Throw();
            return results;
        }

        private (RouterState, string?) ObserveState(RouterRecord rec, CancellationToken cancellationToken)
        {
            if (InterruptedMigrationState(rec) is (RouterState, string) interrupted) return interrupted;
            var status = Vms.GetStatus(rec.Name, cancellationToken);
            if (status.State == RouterState.Off && (rec.DesiredState == RouterState.Running || rec.DesiredState == RouterState.Paused))
                return (RouterState.Failed, "QEMU is not running although the router should be " + rec.DesiredState.ToString().ToLowerInvariant() +
                                            "; Start-VirtualRouter recovers it.");
            if (status.State == RouterState.Failed)
                return (RouterState.Failed, status.Detail + "; Start-VirtualRouter recovers it.");
            return (status.State, status.State == RouterState.Unknown ? status.Detail : null);
        }

        // ================================================================================================ routers

        public void CreateRouter(RouterSpec spec, CancellationToken cancellationToken)
        {
            NameRules.Ensure(spec.Name, "router");
            var image = _images.Require(spec.Image, spec.Name);
            using var _ = Store.Lock(null, cancellationToken);
            var host = Lab.Resolve(spec.Host);
            if (Store.ReadRouter(spec.Name) != null)
                throw new VirtualNetworksException(ErrorIds.RouterAlreadyExists, ErrorKind.ResourceExists, spec.Name,
                    $"A virtual router named '{spec.Name}' already exists.");
            var rec = new RouterRecord
            {
                Name = spec.Name,
                Host = host,
                Image = spec.Image,
                ProcessorCount = spec.ProcessorCount,
                MemoryMB = spec.MemoryMB ?? DefaultMemoryMB, // the engine resolves it; a direct caller may leave it to us
                NetworkLabel = string.IsNullOrEmpty(spec.NetworkLabel) ? null : spec.NetworkLabel,
                AddressFamily = spec.AddressFamily,
                DesiredState = RouterState.Off,
            };
            // Adapters of links that already name this router (a link may be declared before a re-created router).
            foreach (var l in Store.LinksNaming(spec.Name))
                rec.Macs[l.Name] = MacAddresses.ForAdapter(spec.Name, l.Name);
            if (image.Disk != null)
            {
                var overlay = Store.DiskPath(spec.Name);
                CreateOverlay(image.Disk, overlay, spec.Name, cancellationToken);
                rec.Disk = overlay;
            }
            Store.WriteRouter(rec);
        }

        private static void CreateOverlay(string baseImage, string overlay, string router, CancellationToken ct)
        {
            var qemuImg = ProcessRunner.FindExecutable("qemu-img") ?? throw new VirtualNetworksException(ErrorIds.BackendNotAvailable,
                ErrorKind.NotInstalled, "qemu-img", "qemu-img is needed for disk images; install the Debian package qemu-utils.");
            Directory.CreateDirectory(Path.GetDirectoryName(overlay)!);
            ProcessRunner.RunChecked(qemuImg, new[] { "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", baseImage, overlay }, router, null, TimeSpan.FromSeconds(60), ct);
        }

        public void RemoveRouter(string name, CancellationToken cancellationToken)
        {
            using var _ = Store.Lock(null, cancellationToken);
            // An interrupted move of this router is settled first (one copy, the other slot ended), then it goes.
            RemoveRouterLocked(ReconcileMigration(RequireRouter(name), cancellationToken, forStop: true), Store.ListLinks(), cancellationToken);
        }

        /// <summary>
        /// Turns the router off and deletes it: taps of <paramref name="links"/> that still name it, run files (both run
        /// slots), overlay, record. The caller holds the state lock; routers may be removed on several threads at once.
        /// </summary>
        private void RemoveRouterLocked(RouterRecord rec, IReadOnlyList<LinkRecord> links, CancellationToken cancellationToken)
        {
            var paths = Store.RunPaths(rec.Name);
            Vms.TurnOff(rec.Name, cancellationToken, untilReaped: true); // the pid is gone when Remove-* returns
            // Taps of links that still name this router (the engine removes links first; this covers drift).
            foreach (var l in links.Where(l => Is(l.From, rec.Name) || Is(l.To, rec.Name)))
            {
                if (!l.Taps.TryGetValue(rec.Name, out var tap)) continue;
                var placed = EndpointsOf(l).TryGetValue(rec.Name, out var hs) ? hs : new List<string>();
                foreach (var h in placed.Append(HostOf(rec)).Distinct(StringComparer.OrdinalIgnoreCase))
                    if (HostNames.IsLocalHost(h) || LabNetwork.NamespaceExists(InterfaceNames.Namespace(h))) DeleteOwned(Lab.IpFor(h), tap, cancellationToken);
            }
            RouterProcess.RemoveRunFiles(paths, includeConsole: true);
            // The other run slot (an instance of an interrupted live migration).
            var other = Store.RunPaths(rec.Name, StateStore.OtherRunSlot(rec.RunSlot));
            RouterProcess.Kill(other, TimeSpan.FromSeconds(3), cancellationToken, untilReaped: true);
            RouterProcess.RemoveRunFiles(other, includeConsole: true);
            if (rec.Disk != null && File.Exists(rec.Disk)) File.Delete(rec.Disk);
            Store.DeleteRouter(rec.Name);
        }

        public void StartRouter(string name, CancellationToken cancellationToken)
        {
            using var _ = Store.Lock(null, cancellationToken);
            StartRouterLocked(ReconcileMigration(RequireRouter(name), cancellationToken), cancellationToken);
        }

        /// <summary>
        /// Starts several routers under one state lock: first every router's links are checked (one read of each host's
        /// interfaces and qdiscs; only links that drifted are rewired) and its launch prepared, one router after the
        /// other; then all QEMU processes are launched together (one thread each), each launch is checked as
        /// <see cref="StartRouter"/> checks it and the record of a router whose QEMU runs is written. A router that fails
        /// does not stop the others; its entry is the exception, naming the router.
        /// </summary>
        public IReadOnlyList<Exception?> StartRouters(IReadOnlyList<string> names, CancellationToken cancellationToken)
        {
            if (names == null) throw new ArgumentNullException(nameof(names));
            var outcomes = new Exception?[names.Count];
            using var _ = Store.Lock(null, cancellationToken);
            var views = new HostDeviceViews(Lab.IpFor);
            var prepared = new List<(int Index, PreparedStart Start)>();
            // The link records are read once for the whole batch (O(N) reads, not one full listing per router); a link
            // rewired on the way is read again.
            var linkIndex = new LinkIndex(Store.ListLinks());
            for (int i = 0; i < names.Count; i++)
            {
                if (cancellationToken.IsCancellationRequested)
                {
                    outcomes[i] = new OperationCanceledException(cancellationToken);
                    continue;
                }
                try
                {
                    var rec = RequireRouter(names[i]);
                    if (rec.Migration != null)
                    {
                        rec = ReconcileMigration(rec, cancellationToken, null, views);
                        linkIndex = new LinkIndex(Store.ListLinks()); // the recovery may have rewired its links
                    }
                    var p = PrepareStart(rec, views, cancellationToken, linkIndex);
                    if (p != null) prepared.Add((i, p));
                }
                catch (Exception ex)
                {
                    outcomes[i] = ex;
                }
            }
            // Paced, supervised boots (LinuxBackend.Boot.cs): each record is written on its boot slot's thread as soon as that
            // QEMU runs; the call returns once every guest booted or was reported.
            var launched = BootPaced(prepared.Select(p => p.Start).ToList(), cancellationToken);
            for (int k = 0; k < prepared.Count; k++)
                if (launched[k] != null) outcomes[prepared[k].Index] = launched[k];
            return outcomes;
        }

        /// <summary>Starts the router's QEMU on its record's host (wiring its links first); the caller holds the state lock.</summary>
        private void StartRouterLocked(RouterRecord rec, CancellationToken cancellationToken)
        {
            var p = PrepareStart(rec, new HostDeviceViews(Lab.IpFor), cancellationToken);
            if (p == null) return;
            // A paced, supervised boot (LinuxBackend.Boot.cs): returns once the guest's console says ready (a failed boot is
            // restarted, then reported); the configuration's own readiness is awaited by whoever needs the guest.
            var failed = BootPaced(new[] { p }, cancellationToken)[0];
            if (failed != null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failed).Throw();
        }

        /// <summary>A router whose QEMU is about to be launched: its record and the launch.</summary>
        private sealed class PreparedStart
        {
            public PreparedStart(RouterRecord record, VmLaunchSpec spec, Accelerator accelerator, IReadOnlyList<LinkRecord> pulledLinks)
            {
                Record = record;
                Spec = spec;
                Accelerator = accelerator;
                PulledLinks = pulledLinks;
            }

            public RouterRecord Record { get; }
            public VmLaunchSpec Spec { get; }
            public Accelerator Accelerator { get; }
            /// <summary>The router's links whose cable is pulled (<see cref="LinkState.CablePulled"/>): set so right after the launch.</summary>
            public IReadOnlyList<LinkRecord> PulledLinks { get; }
        }

        /// <summary>
        /// Everything of a start before the QEMU launch: run slot, image, the host, the router's links (rewired unless
        /// <paramref name="views"/> shows them intact), adapters, accelerator, guest configuration. Null when the router
        /// already runs (its record then says Running). The caller holds the state lock.
        /// </summary>
        private PreparedStart? PrepareStart(RouterRecord rec, HostDeviceViews views, CancellationToken cancellationToken, LinkIndex? linkIndex = null)
        {
            var paths = Store.RunPaths(rec.Name);
            if (RouterProcess.Inspect(paths).IsRunning)
            {
                rec.DesiredState = RouterState.Running;
                Store.WriteRouter(rec);
                // Level-based: its links' states as recorded (a Disable-VirtualLink killed before it applied them).
                foreach (var link in LinksNaming(rec.Name)) ApplyLinkStateLocked(link, cancellationToken);
                return null; // already running: nothing else to do
            }
            if (rec.RunSlot != null)
            {
                // Last run after a live migration in run/m/: a fresh start goes back to run/.
                RouterProcess.RemoveRunFiles(paths, includeConsole: true);
                rec.RunSlot = null;
                Store.WriteRouter(rec);
            }
            var image = _images.Require(rec.Image, rec.Name);
            linkIndex ??= new LinkIndex(Store.ListLinks());
            var links = linkIndex.Of(rec.Name);
            var host = HostOf(rec);
            EnsureHostReady(host, cancellationToken);
            var adapters = new List<VmAdapter>();
            foreach (var link in links)
            {
                if (!LinkIntact(link, host, views, cancellationToken))
                {
                    views.Clear(); // the rewiring changes devices (on every host the link touches)
                    WireLinkLocked(link, null, cancellationToken); // recreates what drifted away
                    linkIndex.Refresh(Store, link.Name);
                }
                var mac = rec.Macs.TryGetValue(link.Name, out var m) ? m : (rec.Macs[link.Name] = MacAddresses.ForAdapter(rec.Name, link.Name));
                adapters.Add(new VmAdapter(link.Taps[rec.Name], mac));
            }
            var accel = Launcher.ChooseAccelerator(image.Kernel, cancellationToken);
            var spec = LaunchSpecFor(rec, image, adapters, accel.Accelerator, host,
                GuestConfigText.Render(rec.Name, rec.Configuration, rec.Macs, MtusOf(linkIndex.Of(rec.Name))));
            spec.GuestAnnounce = StartNicsWithGuestAnnounce; // a fresh start: our NIC options (FinishStart records them)
            // Intent before action: the record says the router should run (and with which NIC options) before its QEMU is
            // launched, so a command killed during the launch leaves a record that wants the QEMU it finds running, never
            // one that says Off (which clean-up would take for an orphan). A launch that fails leaves the router Failed,
            // which Start-VirtualRouter recovers.
            rec.DesiredState = RouterState.Running;
            rec.NicGuestAnnounce = spec.GuestAnnounce;
            Store.WriteRouter(rec);
            return new PreparedStart(rec, spec, accel.Accelerator, links.Where(l => l.State == LinkState.CablePulled).ToList());
        }

        /// <summary>
        /// The link records of a batch, read once and indexed by router, so each router's links cost O(its links), not a
        /// read of every link record (a start of N routers read 2·N² link files before).
        /// </summary>
        internal sealed class LinkIndex
        {
            private readonly Dictionary<string, LinkRecord> _byName = new Dictionary<string, LinkRecord>(StringComparer.OrdinalIgnoreCase);
            private readonly Dictionary<string, List<string>> _byRouter = new Dictionary<string, List<string>>(StringComparer.OrdinalIgnoreCase);

            public LinkIndex(IEnumerable<LinkRecord> links)
            {
                foreach (var l in links)
                {
                    _byName[l.Name] = l;
                    foreach (var r in new[] { l.From, l.To }.Distinct(StringComparer.OrdinalIgnoreCase))
                    {
                        if (!_byRouter.TryGetValue(r, out var list)) _byRouter[r] = list = new List<string>();
                        list.Add(l.Name);
                    }
                }
            }

            /// <summary>The links that name <paramref name="router"/> (as <c>From</c> or <c>To</c>), ordered by name.</summary>
            public List<LinkRecord> Of(string router) =>
                _byRouter.TryGetValue(router, out var names)
                    ? names.Where(n => _byName.ContainsKey(n)).Select(n => _byName[n]).OrderBy(l => l.Name, StringComparer.OrdinalIgnoreCase).ToList()
                    : new List<LinkRecord>();

            /// <summary>Reads one link's record again (after it was rewired).</summary>
            public void Refresh(StateStore store, string link)
            {
                var fresh = store.ReadLink(link);
                if (fresh == null) _byName.Remove(link);
                else _byName[link] = fresh;
            }
        }

        /// <summary>After a successful launch: the record says the router runs with this configuration.</summary>
        private void FinishStart(PreparedStart p)
        {
            var rec = p.Record;
            rec.Accelerator = p.Accelerator.ToString();
            rec.DesiredState = RouterState.Running;
            rec.LastStartedUtc = DateTime.UtcNow;
            rec.ConfigText = p.Spec.ConfigText;
            rec.AdaptersChanged = false;
            rec.NicGuestAnnounce = p.Spec.GuestAnnounce;
            Store.WriteRouter(rec);
            // A fresh QEMU's NICs have carrier; pulled cables are pulled again at once (the guest is still booting its
            // kernel then). A silent link's taps got their drop filter from the wiring before the launch.
            if (p.PulledLinks.Count > 0) ApplyCarrier(rec.Name, p.PulledLinks, onlyPulled: true, CancellationToken.None);
        }

        /// <summary>
        /// True when <see cref="WireLinkLocked"/> would change nothing on a link whose ends are all on <paramref name="host"/>:
        /// its recorded placement is that host, it is a plain bridge link (no VLAN port, no tunnel) and
        /// <paramref name="views"/> shows the bridge and both taps carrying this state directory's tags, up, at the link's
        /// MTU, the taps on the bridge, no VXLAN device of the link, and the taps' root qdiscs as the link's limit wants
        /// them (our tbf at that rate, or none of ours). Anything else (or any doubt) is false: the caller rewires.
        /// </summary>
        private bool LinkIntact(LinkRecord link, string host, HostDeviceViews views, CancellationToken ct)
        {
            if (link.Endpoints == null || link.Endpoints.Count != link.Taps.Count) return false;
            foreach (var router in link.Taps.Keys)
            {
                if (!Is(HostOfRouter(router), host)) return false;
                if (!link.Endpoints.TryGetValue(router, out var placed) || placed.Count != 1 || !Is(placed[0], host)) return false;
            }
            if (link.Transport != LinkTransport.Bridge || (link.VlanId.HasValue && VlanFiltering)) return false;
            if (link.State == LinkState.Silent) return false; // the rewiring checks (and puts back) the taps' drop filters
            int mtu = link.Mtu ?? LabNetwork.UnderlayMtu;
            var view = views.Of(host, ct);
            var bridge = view.Link(link.Bridge);
            if (bridge == null || !bridge.IsBridge || !bridge.AdminUp || bridge.Mtu != mtu ||
                !OwnershipTag.ForBridge(Store.StateId, link.Name).Equals(bridge.Tag)) return false;
            if (view.Link(InterfaceNames.Vxlan(link.Name)) != null) return false;
            foreach (var kv in link.Taps)
            {
                var tap = view.Link(kv.Value);
                if (tap == null || !tap.IsTap || !tap.AdminUp || tap.Mtu != mtu || tap.Master != link.Bridge ||
                    !OwnershipTag.ForTap(Store.StateId, kv.Key, link.Name).Equals(tap.Tag)) return false;
                if (view.HasClsact(tap.Name)) return false; // a drop filter left from a silent failure: the rewiring removes it
                var root = view.Root(tap.Name);
                if (link.MaximumBandwidth.HasValue)
                {
                    // TrafficShaper.SetRate's own test for "already applied".
                    var wanted = TrafficShaper.ComputeParameters(link.MaximumBandwidth.Value, tap.Mtu);
                    if (root == null || !root.IsOurs || root.RateBitsPerSecond != wanted.RateBitsPerSecond || !root.BurstBytes.HasValue ||
                        Math.Abs(root.BurstBytes.Value - wanted.BurstBytes) > wanted.BurstBytes / 50) return false;
                }
                else if (root != null && !root.IsDefault)
                {
                    return false; // ours is removed by the rewiring; a foreign one is reported by it
                }
            }
            return true;
        }

        /// <summary>
        /// The launch of a router's QEMU: what a start uses, and exactly what a live migration's destination repeats (same
        /// devices in the same order, MACs, firmware, kernel, accelerator), so the two must not diverge.
        /// </summary>
        private VmLaunchSpec LaunchSpecFor(RouterRecord rec, RouterImage image, List<VmAdapter> adapters, Accelerator accelerator, string host, string configText) =>
            new VmLaunchSpec
            {
                Name = rec.Name,
                MemoryMB = rec.MemoryMB,
                ProcessorCount = rec.ProcessorCount,
                Accelerator = accelerator,
                Kernel = image.Kernel,
                Initrd = image.Initrd,
                Disk = rec.Disk,
                Firmware = image.Kernel != null ? QemuLauncher.FindQboot() : null,
                Adapters = adapters,
                ConfigText = configText,
                NetworkNamespace = Lab.NamespaceOf(host),
                // What the running instance offers (a migration's destination must match it); a start sets false.
                GuestAnnounce = rec.NicGuestAnnounce ?? true,
            };

        public void StopRouter(string name, bool turnOff, CancellationToken cancellationToken)
        {
            var failed = StopRouters(new[] { name }, turnOff, cancellationToken)[0];
            if (failed != null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failed).Throw();
        }

        /// <summary>
        /// Stops several routers under one state lock: each record first says the router should be off (intent first: a
        /// stop killed midway leaves records that want the routers off), an interrupted migration of it recovered first;
        /// then all are stopped at once (<see cref="VmManager.StopAll"/>: every power button pressed, or every QEMU quit,
        /// then the exits and reaps awaited together), so N graceful stops take about as long as one. A router that fails,
        /// or does not power off within <see cref="GracefulStopTimeout"/>, does not stop the others; its entry is the
        /// exception, naming the router.
        /// </summary>
        public IReadOnlyList<Exception?> StopRouters(IReadOnlyList<string> names, bool turnOff, CancellationToken cancellationToken)
        {
            if (names == null) throw new ArgumentNullException(nameof(names));
            var outcomes = new Exception?[names.Count];
            using var _ = Store.Lock(null, cancellationToken);
            var stopping = new List<(int Index, RouterRecord Record)>();
            for (int i = 0; i < names.Count; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                try
                {
                    var rec = ReconcileMigration(RequireRouter(names[i]), cancellationToken, forStop: true);
                    rec.DesiredState = RouterState.Off;
                    Store.WriteRouter(rec); // intent first: a stop killed midway leaves a record that wants the router off
                    stopping.Add((i, rec));
                }
                catch (VirtualNetworksException ex)
                {
                    outcomes[i] = ex;
                }
            }
            var stopped = Vms.StopAll(stopping.Select(s => s.Record.Name).ToList(), turnOff, GracefulStopTimeout, cancellationToken);
            for (int k = 0; k < stopping.Count; k++)
            {
                var (index, rec) = stopping[k];
                var (off, error) = stopped[k];
                if (error != null)
                {
                    outcomes[index] = error;
                    continue;
                }
                if (!off)
                {
                    outcomes[index] = new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.OperationTimeout, rec.Name,
                        $"Router '{rec.Name}' did not power off within {GracefulStopTimeout.TotalSeconds:0} s of the ACPI power button.")
                    { RecommendedAction = "Use Stop-VirtualRouter -TurnOff to power it off hard." };
                    continue;
                }
                Store.WriteRouter(rec);
            }
            return outcomes;
        }

        public void SuspendRouter(string name, CancellationToken cancellationToken) => Pause(name, pause: true, cancellationToken);

        public void ResumeRouter(string name, CancellationToken cancellationToken) => Pause(name, pause: false, cancellationToken);

        private void Pause(string name, bool pause, CancellationToken cancellationToken)
        {
            using var _ = Store.Lock(null, cancellationToken);
            var rec = ReconcileMigration(RequireRouter(name), cancellationToken);
            if (pause) Vms.Suspend(rec.Name, cancellationToken);
            else Vms.Resume(rec.Name, cancellationToken);
            rec.DesiredState = pause ? RouterState.Paused : RouterState.Running;
            Store.WriteRouter(rec);
        }

        public void ConfigureRouter(RouterConfiguration configuration, CancellationToken cancellationToken)
        {
            using var _ = Store.Lock(null, cancellationToken);
            var rec = EnsureAdaptersLocked(RequireRouter(configuration.RouterName), cancellationToken, out var ownLinks);
            rec.Configuration = configuration;
            // The router's links as the adapter check just read them (one listing of the link records per configuration, not two).
            var text = GuestConfigText.Render(rec.Name, configuration, rec.Macs, MtusOf(ownLinks.Select(l => Store.ReadLink(l.Name) ?? l)));
            var paths = Store.RunPaths(rec.Name);
            if (RouterProcess.Inspect(paths).IsRunning && rec.DesiredState != RouterState.Paused && text != rec.ConfigText)
            {
                var channel = Vms.Channel(rec.Name);
                EnsureContract(rec, channel.WaitReady(ReadyTimeout, cancellationToken), text); // an older image would ignore a routing line
                channel.PushConfig(text, null, cancellationToken); // throws when the guest rejects it
            }
            rec.ConfigText = text;
            Store.WriteRouter(rec);
            if (File.Exists(paths.ConfigFile) || RouterProcess.Inspect(paths).IsRunning)
                AtomicFile.WriteAllText(paths.ConfigFile, text, QemuLauncher.PrivateFileMode);
        }

        // ================================================================================================ links

        public void CreateLink(LinkSpec spec, CancellationToken cancellationToken)
        {
            NameRules.Ensure(spec.Name, "link");
            using var _ = Store.Lock(null, cancellationToken);
            if (Store.ReadLink(spec.Name) != null)
                throw new VirtualNetworksException(ErrorIds.LinkAlreadyExists, ErrorKind.ResourceExists, spec.Name,
                    $"A virtual link named '{spec.Name}' already exists.");
            var from = RequireRouter(spec.From);
            var to = RequireRouter(spec.To);
            if (spec.State == LinkState.Silent) RequireSilentDrop(spec.Name);
            bool tagged = spec.VlanId.HasValue && VlanFiltering;
            int mtu = MtuForNewLink(HostOf(from), HostOf(to));
            var rec = new LinkRecord
            {
                Name = spec.Name,
                From = from.Name,
                To = to.Name,
                MaximumBandwidth = Planning.Planner.Normalize(spec.MaximumBandwidth),
                VlanId = spec.VlanId,
                Bridge = InterfaceNames.Bridge(spec.Name),
                Transport = tagged ? LinkTransport.TaggedBridge : LinkTransport.Bridge,
                Mtu = mtu == LabNetwork.UnderlayMtu ? (int?)null : mtu,
                // A link declared disabled never forwards: the wiring puts a silent failure's filters on its taps before
                // they are up, the hot-plug pulls the cable before the guest sees the adapter.
                State = spec.State ?? LinkState.Up,
            };
            rec.Taps[from.Name] = InterfaceNames.Tap(from.Name, spec.Name);
            rec.Taps[to.Name] = InterfaceNames.Tap(to.Name, spec.Name);
            // Intent first, in this order: each router's adapter MAC, then the link record, then the devices, then the
            // hot-plug. A crash after the records leaves tagged devices the record names (rewired by the next start or
            // configuration of either router, removed by Remove-VirtualLink); a crash before the link record leaves an
            // unused MAC entry, dropped when the router's adapters are next reconciled. Every later configuration of a
            // running router re-checks its adapters (EnsureAdaptersLocked), so a hot-plug that never happened is done then.
            foreach (var router in new[] { from, to })
            {
                router.Macs[rec.Name] = MacAddresses.ForAdapter(router.Name, rec.Name);
                Store.WriteRouter(router);
            }
            Store.WriteLink(rec);
            WireLinkLocked(rec, null, cancellationToken);
            foreach (var router in new[] { from, to })
            {
                HotPlug(router, rec, cancellationToken);
            }
        }

        /// <summary>
        /// Level-based repair of a router's adapters, from its link records: a MAC for every link that names it (the MAC is
        /// a function of router and link, so a record that lost it gets the same one back), the link's devices rewired when
        /// they drifted, and, when the router runs, a NIC for every link (hot-plugged when QEMU has none with that MAC: a
        /// New-VirtualLink killed before its hot-plug). Returns the (re-read) record. The caller holds the state lock.
        /// </summary>
        private RouterRecord EnsureAdaptersLocked(RouterRecord rec, CancellationToken ct, out List<LinkRecord> ownLinks)
        {
            var problems = new List<string>();
            var links = Store.LinksNaming(rec.Name, problems); // O(its links) under the lock, not a read of every link record
            ownLinks = links;
            bool changed = false;
            foreach (var l in links)
            {
                if (rec.Macs.ContainsKey(l.Name)) continue;
                rec.Macs[l.Name] = MacAddresses.ForAdapter(rec.Name, l.Name);
                changed = true;
            }
            // MACs of links that have no record (a New-VirtualLink killed before its record): unused; dropped only when every
            // link record could be read (an unreadable one may be that link).
            if (problems.Count == 0)
                foreach (var stale in rec.Macs.Keys.Where(k => !links.Any(l => Is(l.Name, k))).ToList())
                {
                    rec.Macs.Remove(stale);
                    changed = true;
                }
            if (changed) Store.WriteRouter(rec);
            var paths = Store.RunPaths(rec.Name);
            if (links.Count == 0 || !RouterProcess.Inspect(paths).IsRunning) return rec;
            // Only this router's links' devices are read (bridges, taps of both ends, the VXLAN names LinkIntact checks are
            // absent): O(its links) per router, so a batch that configures N running routers is O(N), not N listings of
            // every interface and qdisc of the host.
            var views = new HostDeviceViews(Lab.IpFor, DevicesOf(links));
            var host = HostOf(rec);
            HashSet<string> nics;
            using (var qmp = Vms.Qmp(rec.Name, TimeSpan.FromSeconds(5), ct))
                nics = NicMacs(qmp, ct);
            foreach (var l in links)
            {
                if (!LinkIntact(l, host, views, ct))
                {
                    views.Clear();
                    WireLinkLocked(l, null, ct);
                }
                if (!nics.Contains(MacAddresses.Normalize(rec.Macs[l.Name])))
                {
                    HotPlug(rec, l, ct);
                    rec = Store.ReadRouter(rec.Name) ?? rec;
                }
            }
            ApplyCarrier(rec.Name, links, onlyPulled: false, ct); // level-based: each adapter's carrier as its link's record wants
            return rec;
        }

        /// <summary>Every interface <see cref="LinkIntact"/> looks at for <paramref name="links"/>: each bridge, VXLAN device name and tap.</summary>
        private static List<string> DevicesOf(IEnumerable<LinkRecord> links)
        {
            var names = new List<string>();
            foreach (var l in links)
            {
                names.Add(l.Bridge);
                names.Add(InterfaceNames.Vxlan(l.Name));
                names.AddRange(l.Taps.Values);
            }
            return names.Distinct(StringComparer.Ordinal).ToList();
        }

        /// <summary>The MACs of the running instance's NICs (QMP query-rx-filter: one entry per virtio-net device), normalized.</summary>
        private static HashSet<string> NicMacs(QmpClient qmp, CancellationToken ct)
        {
            var set = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            if (qmp.Execute("query-rx-filter", null, null, ct) is JArray filters)
                foreach (var f in filters.OfType<JObject>())
                    if ((string?)f["main-mac"] is string mac && mac.Length > 0) set.Add(MacAddresses.Normalize(mac));
            return set;
        }

        /// <summary>Adds the link's adapter to a running router (QMP netdev_add + device_add); a no-op when off.</summary>
        private void HotPlug(RouterRecord router, LinkRecord link, CancellationToken ct)
        {
            var paths = Store.RunPaths(router.Name);
            if (!RouterProcess.Inspect(paths).IsRunning) return;
            var id = AdapterId(link.Name);
            using var qmp = Vms.Qmp(router.Name, TimeSpan.FromSeconds(5), ct);
            // A hot-plug interrupted between netdev_add and device_add left the netdev behind (its id would clash): drop it.
            try { qmp.Execute("netdev_del", new JObject { ["id"] = "n" + id }, null, ct); } catch (VirtualNetworksException) { }
            qmp.Execute("netdev_add", new JObject
            {
                ["type"] = "tap", ["id"] = "n" + id, ["ifname"] = link.Taps[router.Name], ["script"] = "no", ["downscript"] = "no",
            }, null, ct);
            qmp.Execute("device_add", new JObject
            {
                ["driver"] = "virtio-net-pci", ["id"] = "d" + id, ["netdev"] = "n" + id, ["mac"] = router.Macs[link.Name], ["romfile"] = "",
                ["host_tso4"] = false, ["host_tso6"] = false, // see QemuArguments.NicOffloads
                ["guest_announce"] = router.NicGuestAnnounce ?? true, // as the instance's other NICs (QemuArguments.NoGuestAnnounce)
            }, null, ct);
            if (link.State == LinkState.CablePulled)
                qmp.Execute("set_link", new JObject { ["name"] = "d" + id, ["up"] = false }, null, ct); // before the guest sees the NIC
            router.AdaptersChanged = true; // its devices now differ from a fresh launch (live migration refuses)
            Store.WriteRouter(router);
            // The guest learns of the new NIC through ACPI (PCI hotplug) a moment later; the configuration that follows
            // names its MAC, so wait until the guest lists it. A paused guest does it once resumed.
            if (router.DesiredState != RouterState.Paused) WaitForGuestAdapter(router.Name, link.Name, router.Macs[link.Name], ct);
        }

        /// <summary>
        /// How long a running guest may take to list a hot-plugged adapter, or to eject an unplugged one. Measured under TCG:
        /// a whole New-VirtualLink on two running routers (both plugs, both waits, the reconfiguration) 0.52-0.66 s.
        /// </summary>
        internal TimeSpan HotPlugTimeout { get; set; } = TimeSpan.FromSeconds(15);

        /// <summary>Waits until the guest's <c>show</c> lists an interface with <paramref name="mac"/> (its "# links" part).</summary>
        private void WaitForGuestAdapter(string routerName, string linkName, string mac, CancellationToken ct)
        {
            var channel = Vms.Channel(routerName);
            var bound = Stopwatch.StartNew();
            while (true)
            {
                if (GuestLinks(channel.Show(TimeSpan.FromSeconds(10), ct)).IndexOf(mac, StringComparison.OrdinalIgnoreCase) >= 0) return;
                if (bound.Elapsed > HotPlugTimeout)
                    throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.OperationTimeout, routerName,
                        $"Router '{routerName}' got the adapter of link '{linkName}' (MAC {mac}) plugged in, but its guest did not list it within " +
                        $"{HotPlugTimeout.TotalSeconds:0} s: the guest kernel may lack ACPI PCI hotplug (CONFIG_HOTPLUG_PCI_ACPI).")
                    { RecommendedAction = "Restart the router (Stop-VirtualRouter, Start-VirtualRouter): a fresh start gives it every link's adapter." };
                ct.WaitHandle.WaitOne(TimeSpan.FromMilliseconds(100));
                ct.ThrowIfCancellationRequested();
            }
        }

        /// <summary>The "# links" part of the guest's <c>show</c> output (<c>ip link</c>).</summary>
        internal static string GuestLinks(string show)
        {
            int start = show.IndexOf("# links\n", StringComparison.Ordinal);
            if (start < 0) return "";
            start += "# links\n".Length;
            int end = show.IndexOf("\n# ", start - 1, StringComparison.Ordinal);
            if (end < 0) return show.Substring(start);
            return end < start ? "" : show.Substring(start, end - start);
        }

        /// <summary>Removes a link's adapter from a running router; best effort (the tap is deleted afterwards anyway).</summary>
        private void HotUnplug(string routerName, string linkName, CancellationToken ct)
        {
            var paths = Store.RunPaths(routerName);
            if (!RouterProcess.Inspect(paths).IsRunning) return;
            var id = AdapterId(linkName);
            var rec = Store.ReadRouter(routerName);
            if (rec != null && !rec.AdaptersChanged)
            {
                rec.AdaptersChanged = true;
                Store.WriteRouter(rec);
            }
            try
            {
                using var qmp = Vms.Qmp(routerName, TimeSpan.FromSeconds(5), ct);
                int from = qmp.Events.Count;
                bool asked = false;
                try
                {
                    qmp.Execute("device_del", new JObject { ["id"] = "d" + id }, null, ct);
                    asked = true;
                }
                catch (VirtualNetworksException) { }
                // The guest ejects the device (ACPI) a moment later; QEMU then says DEVICE_DELETED. Until then the device id
                // is taken (a link of the same name added again would clash), so wait for it, bounded (a paused guest
                // ejects it once resumed).
                if (asked && rec?.DesiredState != RouterState.Paused)
                    qmp.WaitForEvent("DEVICE_DELETED", e => (string?)e["data"]?["device"] == "d" + id, from, HotPlugTimeout, ct);
                try { qmp.Execute("netdev_del", new JObject { ["id"] = "n" + id }, null, ct); } catch (VirtualNetworksException) { }
            }
            catch (VirtualNetworksException)
            {
            }
        }

        /// <summary>QEMU device ids for hot-plugged adapters: a short hash of the link name (ids allow only [A-Za-z0-9._-]).</summary>
        private static string AdapterId(string linkName) => "vn" + InterfaceNames.Bridge(linkName).Substring(3);

        public void RemoveLink(string name, CancellationToken cancellationToken)
        {
            using var _ = Store.Lock(null, cancellationToken);
            RemoveLinkLocked(Store.ReadLink(name) ?? throw NotFound(ErrorIds.LinkNotFound, "link", name), cancellationToken);
        }

        /// <summary>
        /// Unplugs the link's adapters from running routers, deletes its devices on every host and its record. The caller
        /// holds the state lock; links without a router in common may be removed on several threads at once.
        /// </summary>
        private void RemoveLinkLocked(LinkRecord rec, CancellationToken cancellationToken,
            IReadOnlyDictionary<string, Dictionary<string, LinkInfo>?>? listed = null, ICollection<string>? routersRemovedNext = null)
        {
            foreach (var kv in rec.Taps)
            {
                HotUnplug(kv.Key, rec.Name, cancellationToken);
                // A router the same command deletes next keeps the MAC entry (one record write less per end; a crash in
                // between leaves an unused entry, which the router's next adapter reconciliation drops).
                if (routersRemovedNext != null && routersRemovedNext.Contains(kv.Key)) continue;
                var router = Store.ReadRouter(kv.Key);
                if (router != null && router.Macs.Remove(rec.Name)) Store.WriteRouter(router);
            }
            foreach (var h in PlacedHosts(rec)) RemoveLinkDevicesOn(rec, h, cancellationToken, listed);
            Store.DeleteLink(rec.Name);
        }

        /// <summary>Every host a link has (or may have) devices on: its recorded endpoints and its routers' hosts.</summary>
        private List<string> PlacedHosts(LinkRecord rec) =>
            EndpointsOf(rec).Values.SelectMany(x => x).Concat(rec.Taps.Keys.Select(HostOfRouter))
                .Distinct(StringComparer.OrdinalIgnoreCase).ToList();

        public void SetLinkBandwidth(string name, long? bitsPerSecond, CancellationToken cancellationToken)
        {
            using var _ = Store.Lock(null, cancellationToken);
            var rec = Store.ReadLink(name) ?? throw NotFound(ErrorIds.LinkNotFound, "link", name);
            var rate = Planning.Planner.Normalize(bitsPerSecond);
            foreach (var kv in EndpointsOf(rec).OrderBy(k => k.Key, StringComparer.OrdinalIgnoreCase))
            {
                if (!rec.Taps.TryGetValue(kv.Key, out var tap)) continue;
                foreach (var h in kv.Value)
                {
                    if (!HostNames.IsLocalHost(h) && !LabNetwork.NamespaceExists(InterfaceNames.Namespace(h))) continue;
                    var ip = Lab.IpFor(h);
                    if (ip.GetLink(tap, cancellationToken) == null) continue; // re-applied when the devices are recreated
                    var shaper = new TrafficShaper(ip);
                    if (rate.HasValue) shaper.SetRate(tap, rate.Value, cancellationToken);
                    else shaper.Remove(tap, cancellationToken);
                }
            }
            rec.MaximumBandwidth = rate;
            Store.WriteLink(rec);
        }

        // ================================================================================================ probes

        public ProbeResult Probe(string fromRouter, string address, CancellationToken cancellationToken)
        {
            var rec = RequireRouter(fromRouter);
            var paths = Store.RunPaths(rec.Name);
            if (!RouterProcess.Inspect(paths).IsRunning)
                return new ProbeResult { Reachable = false, Detail = $"router '{rec.Name}' is not running" };
            var channel = Vms.Channel(rec.Name);
            if (rec.DesiredState == RouterState.Paused)
                return new ProbeResult { Reachable = false, Detail = $"router '{rec.Name}' is paused" };
            channel.WaitReady(ReadyTimeout, cancellationToken);
            // A router that is still booting does not answer yet: wait for the one that owns the address as well.
            var owner = Store.ListRouters().FirstOrDefault(r => r.Configuration != null && r.Configuration.Interfaces
                .Any(i => string.Equals(i.Address.Split('/')[0], address, StringComparison.OrdinalIgnoreCase)));
            if (owner != null && !Is(owner.Name, rec.Name) && owner.DesiredState == RouterState.Running && Vms.GetStatus(owner.Name, cancellationToken).State == RouterState.Running)
                Vms.Channel(owner.Name).WaitReady(ReadyTimeout, cancellationToken);
            return channel.Ping(address, 2, TimeSpan.FromSeconds(3), cancellationToken);
        }

        public LinkMeasurement MeasureLink(string linkName, bool reverse, TimeSpan duration, CancellationToken cancellationToken)
        {
            var link = Store.ReadLink(linkName) ?? throw NotFound(ErrorIds.LinkNotFound, "link", linkName);
            var sender = RequireRouter(reverse ? link.To : link.From);
            var receiver = RequireRouter(reverse ? link.From : link.To);
            var receiverAddress = receiver.Configuration?.Interfaces
                .FirstOrDefault(i => string.Equals(i.LinkName, link.Name, StringComparison.OrdinalIgnoreCase))?.Address;
            if (string.IsNullOrEmpty(receiverAddress))
                throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.InvalidOperation, link.Name,
                    $"Router '{receiver.Name}' has no address on link '{link.Name}' to measure through.");
            var target = receiverAddress!.Split('/')[0];
            return LinkMeter.Measure(link, sender, receiver, target,
                Vms.Channel(sender.Name), Vms.Channel(receiver.Name),
                duration, ReadyTimeout, cancellationToken);
        }

        // ================================================================================================ orphans

        public IReadOnlyList<OrphanResource> FindOrphans(bool includeOwned, CancellationToken cancellationToken)
        {
            Store.Verify(cancellationToken); // an unsafe or damaged state directory lists nothing (it is refused)
            return new OrphanCollector(Store, _ip).Find(includeOwned, cancellationToken);
        }

        public void RemoveOrphan(OrphanResource resource, CancellationToken cancellationToken)
        {
            using var _ = Store.Lock(null, cancellationToken);
            try
            {
                new OrphanCollector(Store, _ip).Remove(resource, cancellationToken);
            }
            finally
            {
                Store.ForgetCachedRecords(); // -All deletes record files beside the store's own writes
            }
        }

        // ================================================================================================ helpers

        private RouterRecord RequireRouter(string name) =>
            Store.ReadRouter(name) ?? throw NotFound(ErrorIds.RouterNotFound, "router", name);

        private static VirtualNetworksException NotFound(string id, string what, string name) =>
            new VirtualNetworksException(id, ErrorKind.ObjectNotFound, name, $"No virtual {what} named '{name}' exists on this host.");

        private static bool Is(string a, string b) => string.Equals(a, b, StringComparison.OrdinalIgnoreCase);

        internal static string Invariant(long v) => v.ToString(CultureInfo.InvariantCulture);
    }
}
