using System;
using System.Collections.Generic;
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
    public sealed class LinuxBackend : IVirtualizationBackend, IPreflightCheck, ILinkMeter, IOrphanCollector
    {
        public const string KindName = "Linux";
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
            foreach (var host in request.ComputerName)
                if (!HostNames.IsLocalHost(host))
                    throw new VirtualNetworksException(ErrorIds.HostNotFound, ErrorKind.ObjectNotFound, host,
                        $"The Linux backend manages the local machine only; '{host}' is not this machine ({HostNames.LocalName}).");
            string? root = null;
            if (request.Options.TryGetValue(StateDirectoryOption, out var r) && r is string s && s.Length > 0) root = s;
            Store = new StateStore(root);
            _ip = new IpCommand();
            _shaper = new TrafficShaper(_ip);
            _images = new ImageLocator(Store.Root);
        }

        public StateStore Store { get; }
        public string Kind => KindName;

        public BackendCapabilities Capabilities => _capabilities ??= new BackendCapabilities
        {
            MaxAdaptersPerRouter = QemuArguments.MaxAdapters,
            MinimumBandwidth = TrafficShaper.MinimumRate,
            MaximumBandwidth = TrafficShaper.MaximumRate,
            MinMemoryMB = 64,
            MaxMemoryMB = 65_536,
            MaxProcessorCount = 16,
            SupportsVlanTagging = Features.BridgeVlanFiltering,
            SupportsLiveMigration = false,
            SupportsColdMigration = false,
            SupportsRouterConfiguration = true,
            SupportsProbes = true,
        };

        private LinuxCapabilityReport Features => _features ??= LinuxCapabilities.Probe();
        private QemuLauncher Launcher => _launcher ??= new QemuLauncher(Store);
        private VmManager Vms => _vms ??= new VmManager(Store, Launcher);
        private static string LocalHost => HostNames.LocalName;

        public void Dispose()
        {
        }

        // ================================================================================================ preflight

        public void EnsureReady(TopologySpec desired, CancellationToken cancellationToken)
        {
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
                        missing.Add($"router image '{image}' (searched {string.Join(", ", _images.SearchPath)}; build it with images/router/build.sh)");
            }
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

        // ================================================================================================ inventory

        public BackendInventory GetInventory(CancellationToken cancellationToken)
        {
            var inventory = new BackendInventory();
            inventory.Hosts.Add(new VirtualHost { Name = LocalHost, Kind = KindName });
            var routers = Store.ListRouters();
            var links = Store.ListLinks();
            IReadOnlyList<LinkInfo> kernelLinks = Array.Empty<LinkInfo>();
            if (links.Count > 0)
            {
                try { kernelLinks = _ip.ListLinks(cancellationToken); }
                catch (VirtualNetworksException) { /* reported as drift below */ }
            }
            var devices = new HashSet<string>(kernelLinks.Select(k => k.Name), StringComparer.Ordinal);

            foreach (var rec in routers.OrderBy(x => x.Name, StringComparer.OrdinalIgnoreCase))
            {
                cancellationToken.ThrowIfCancellationRequested();
                var (state, status) = ObserveState(rec, cancellationToken);
                inventory.Routers.Add(new VirtualRouter
                {
                    Name = rec.Name,
                    ComputerName = LocalHost,
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
                var missing = new[] { rec.Bridge }.Concat(rec.Taps.Values).Where(d => !devices.Contains(d)).ToList();
                var link = new VirtualLink
                {
                    Name = rec.Name,
                    From = rec.From,
                    To = rec.To,
                    FromComputerName = LocalHost,
                    ToComputerName = LocalHost,
                    MaximumBandwidth = rec.MaximumBandwidth,
                    VlanId = rec.VlanId,
                    Transport = rec.Transport,
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

        private (RouterState, string?) ObserveState(RouterRecord rec, CancellationToken cancellationToken)
        {
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
            if (Store.ReadRouter(spec.Name) != null)
                throw new VirtualNetworksException(ErrorIds.RouterAlreadyExists, ErrorKind.ResourceExists, spec.Name,
                    $"A virtual router named '{spec.Name}' already exists.");
            var rec = new RouterRecord
            {
                Name = spec.Name,
                Host = LocalHost,
                Image = spec.Image,
                ProcessorCount = spec.ProcessorCount,
                MemoryMB = spec.MemoryMB,
                NetworkLabel = string.IsNullOrEmpty(spec.NetworkLabel) ? null : spec.NetworkLabel,
                AddressFamily = spec.AddressFamily,
                DesiredState = RouterState.Off,
            };
            // Adapters of links that already name this router (a link may be declared before a re-created router).
            foreach (var l in Store.ListLinks().Where(l => Is(l.From, spec.Name) || Is(l.To, spec.Name)))
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
            var rec = RequireRouter(name);
            var paths = Store.RunPaths(rec.Name);
            Vms.TurnOff(rec.Name, cancellationToken);
            // Taps of links that still name this router (the engine removes links first; this covers drift).
            foreach (var l in Store.ListLinks().Where(l => Is(l.From, rec.Name) || Is(l.To, rec.Name)))
                if (l.Taps.TryGetValue(rec.Name, out var tap)) DeleteOwned(tap, cancellationToken);
            RouterProcess.RemoveRunFiles(paths, includeConsole: true);
            if (rec.Disk != null && File.Exists(rec.Disk)) File.Delete(rec.Disk);
            Store.DeleteRouter(rec.Name);
        }

        public void StartRouter(string name, CancellationToken cancellationToken)
        {
            using var _ = Store.Lock(null, cancellationToken);
            var rec = RequireRouter(name);
            var paths = Store.RunPaths(rec.Name);
            if (RouterProcess.Inspect(paths).IsRunning)
            {
                rec.DesiredState = RouterState.Running;
                Store.WriteRouter(rec);
                return; // already running: nothing to do
            }
            var image = _images.Require(rec.Image, rec.Name);
            var links = Store.ListLinks().Where(l => Is(l.From, rec.Name) || Is(l.To, rec.Name))
                .OrderBy(l => l.Name, StringComparer.OrdinalIgnoreCase).ToList();
            var adapters = new List<VmAdapter>();
            foreach (var link in links)
            {
                EnsureLinkDevices(link, cancellationToken); // recreates what drifted away
                var mac = rec.Macs.TryGetValue(link.Name, out var m) ? m : (rec.Macs[link.Name] = MacAddresses.ForAdapter(rec.Name, link.Name));
                adapters.Add(new VmAdapter(link.Taps[rec.Name], mac));
            }
            var accel = Launcher.ChooseAccelerator(image.Kernel, cancellationToken);
            var spec = new VmLaunchSpec
            {
                Name = rec.Name,
                MemoryMB = rec.MemoryMB,
                ProcessorCount = rec.ProcessorCount,
                Accelerator = accel.Accelerator,
                Kernel = image.Kernel,
                Initrd = image.Initrd,
                Disk = rec.Disk,
                Firmware = image.Kernel != null ? QemuLauncher.FindQboot() : null,
                Adapters = adapters,
                ConfigText = GuestConfigText.Render(rec.Name, rec.Configuration, rec.Macs),
            };
            Vms.Start(spec, TimeSpan.Zero, cancellationToken); // readiness is awaited by whoever needs the guest
            rec.Accelerator = accel.Accelerator.ToString();
            rec.DesiredState = RouterState.Running;
            rec.LastStartedUtc = DateTime.UtcNow;
            rec.ConfigText = spec.ConfigText;
            Store.WriteRouter(rec);
        }

        public void StopRouter(string name, bool turnOff, CancellationToken cancellationToken)
        {
            using var _ = Store.Lock(null, cancellationToken);
            var rec = RequireRouter(name);
            rec.DesiredState = RouterState.Off;
            if (turnOff)
            {
                Vms.TurnOff(rec.Name, cancellationToken);
            }
            else if (!Vms.Shutdown(rec.Name, GracefulStopTimeout, cancellationToken))
            {
                throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.OperationTimeout, rec.Name,
                    $"Router '{rec.Name}' did not power off within {GracefulStopTimeout.TotalSeconds:0} s of the ACPI power button.")
                { RecommendedAction = "Use Stop-VirtualRouter -TurnOff to power it off hard." };
            }
            Store.WriteRouter(rec);
        }

        public void SuspendRouter(string name, CancellationToken cancellationToken) => Pause(name, pause: true, cancellationToken);

        public void ResumeRouter(string name, CancellationToken cancellationToken) => Pause(name, pause: false, cancellationToken);

        private void Pause(string name, bool pause, CancellationToken cancellationToken)
        {
            using var _ = Store.Lock(null, cancellationToken);
            var rec = RequireRouter(name);
            if (pause) Vms.Suspend(rec.Name, cancellationToken);
            else Vms.Resume(rec.Name, cancellationToken);
            rec.DesiredState = pause ? RouterState.Paused : RouterState.Running;
            Store.WriteRouter(rec);
        }

        public void ConfigureRouter(RouterConfiguration configuration, CancellationToken cancellationToken)
        {
            using var _ = Store.Lock(null, cancellationToken);
            var rec = RequireRouter(configuration.RouterName);
            rec.Configuration = configuration;
            var text = GuestConfigText.Render(rec.Name, configuration, rec.Macs);
            var paths = Store.RunPaths(rec.Name);
            if (RouterProcess.Inspect(paths).IsRunning && rec.DesiredState != RouterState.Paused && text != rec.ConfigText)
            {
                var channel = Vms.Channel(rec.Name);
                channel.WaitReady(ReadyTimeout, cancellationToken);
                channel.PushConfig(text, null, cancellationToken); // throws when the guest rejects it
            }
            rec.ConfigText = text;
            Store.WriteRouter(rec);
            if (File.Exists(paths.ConfigFile) || RouterProcess.Inspect(paths).IsRunning)
                AtomicFile.WriteAllText(paths.ConfigFile, text, QemuLauncher.PrivateFileMode);
        }

        public void MoveRouter(string name, string destinationHost, MigrationMode mode, IProgress<string>? progress, CancellationToken cancellationToken) =>
            throw new VirtualNetworksException(ErrorIds.OperationNotSupported, ErrorKind.NotImplemented, name,
                $"{mode} migration is not supported by the Linux backend yet.");

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
            bool tagged = spec.VlanId.HasValue && Features.BridgeVlanFiltering;
            var rec = new LinkRecord
            {
                Name = spec.Name,
                From = from.Name,
                To = to.Name,
                MaximumBandwidth = Planning.Planner.Normalize(spec.MaximumBandwidth),
                VlanId = spec.VlanId,
                Bridge = InterfaceNames.Bridge(spec.Name),
                Transport = tagged ? LinkTransport.TaggedBridge : LinkTransport.Bridge,
            };
            rec.Taps[from.Name] = InterfaceNames.Tap(from.Name, spec.Name);
            rec.Taps[to.Name] = InterfaceNames.Tap(to.Name, spec.Name);
            // Write the record first: a crash after this point leaves tagged devices that the record names, which
            // Remove-VirtualLink or orphan clean-up removes; a crash before it leaves nothing.
            Store.WriteLink(rec);
            EnsureLinkDevices(rec, cancellationToken);
            foreach (var router in new[] { from, to })
            {
                router.Macs[rec.Name] = MacAddresses.ForAdapter(router.Name, rec.Name);
                Store.WriteRouter(router);
                HotPlug(router, rec, cancellationToken);
            }
        }

        /// <summary>Creates (or re-creates) the link's bridge and taps, enslaves and raises them, applies VLAN and shaping.</summary>
        private void EnsureLinkDevices(LinkRecord rec, CancellationToken ct)
        {
            var existing = _ip.ListLinks(ct).ToDictionary(l => l.Name, StringComparer.Ordinal);
            if (!existing.ContainsKey(rec.Bridge))
                _ip.CreateBridge(rec.Bridge, OwnershipTag.ForBridge(rec.Name), rec.Transport == LinkTransport.TaggedBridge, ct);
            _ip.SetUp(rec.Bridge, ct);
            foreach (var kv in rec.Taps.OrderBy(k => k.Key, StringComparer.OrdinalIgnoreCase))
            {
                if (!existing.TryGetValue(kv.Value, out var info))
                    _ip.CreateTap(kv.Value, OwnershipTag.ForTap(kv.Key, rec.Name), ct);
                if (info?.Master != rec.Bridge) _ip.SetMaster(kv.Value, rec.Bridge, ct);
                _ip.SetUp(kv.Value, ct);
                if (rec.Transport == LinkTransport.TaggedBridge && rec.VlanId.HasValue) _ip.SetPortVlan(kv.Value, rec.VlanId.Value, ct);
                if (rec.MaximumBandwidth.HasValue) _shaper.SetRate(kv.Value, rec.MaximumBandwidth.Value, ct);
                else _shaper.Remove(kv.Value, ct);
            }
        }

        /// <summary>Adds the link's adapter to a running router (QMP netdev_add + device_add); a no-op when off.</summary>
        private void HotPlug(RouterRecord router, LinkRecord link, CancellationToken ct)
        {
            var paths = Store.RunPaths(router.Name);
            if (!RouterProcess.Inspect(paths).IsRunning) return;
            var id = AdapterId(link.Name);
            using var qmp = Vms.Qmp(router.Name, TimeSpan.FromSeconds(5), ct);
            qmp.Execute("netdev_add", new JObject
            {
                ["type"] = "tap", ["id"] = "n" + id, ["ifname"] = link.Taps[router.Name], ["script"] = "no", ["downscript"] = "no",
            }, null, ct);
            qmp.Execute("device_add", new JObject
            {
                ["driver"] = "virtio-net-pci", ["id"] = "d" + id, ["netdev"] = "n" + id, ["mac"] = router.Macs[link.Name], ["romfile"] = "",
                ["host_tso4"] = false, ["host_tso6"] = false, // see QemuArguments.NicOffloads
            }, null, ct);
        }

        /// <summary>Removes a link's adapter from a running router; best effort (the tap is deleted afterwards anyway).</summary>
        private void HotUnplug(string routerName, string linkName, CancellationToken ct)
        {
            var paths = Store.RunPaths(routerName);
            if (!RouterProcess.Inspect(paths).IsRunning) return;
            var id = AdapterId(linkName);
            try
            {
                using var qmp = Vms.Qmp(routerName, TimeSpan.FromSeconds(5), ct);
                try { qmp.Execute("device_del", new JObject { ["id"] = "d" + id }, null, ct); } catch (VirtualNetworksException) { }
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
            var rec = Store.ReadLink(name) ?? throw NotFound(ErrorIds.LinkNotFound, "link", name);
            foreach (var kv in rec.Taps)
            {
                HotUnplug(kv.Key, rec.Name, cancellationToken);
                DeleteOwned(kv.Value, cancellationToken);
                var router = Store.ReadRouter(kv.Key);
                if (router != null && router.Macs.Remove(rec.Name)) Store.WriteRouter(router);
            }
            DeleteOwned(rec.Bridge, cancellationToken);
            Store.DeleteLink(rec.Name);
        }

        public void SetLinkBandwidth(string name, long? bitsPerSecond, CancellationToken cancellationToken)
        {
            using var _ = Store.Lock(null, cancellationToken);
            var rec = Store.ReadLink(name) ?? throw NotFound(ErrorIds.LinkNotFound, "link", name);
            var rate = Planning.Planner.Normalize(bitsPerSecond);
            foreach (var tap in rec.Taps.Values.OrderBy(t => t, StringComparer.Ordinal))
            {
                if (_ip.GetLink(tap, cancellationToken) == null) continue; // re-applied when the devices are recreated
                if (rate.HasValue) _shaper.SetRate(tap, rate.Value, cancellationToken);
                else _shaper.Remove(tap, cancellationToken);
            }
            rec.MaximumBandwidth = rate;
            Store.WriteLink(rec);
        }

        private void DeleteOwned(string device, CancellationToken ct)
        {
            var info = _ip.GetLink(device, ct);
            if (info == null) return;
            if (info.Tag == null)
                throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.PermissionDenied, device,
                    $"Interface '{device}' is not tagged as created by VirtualNetworks; it was left alone.");
            _ip.Delete(device, ct);
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

        public IReadOnlyList<OrphanResource> FindOrphans(bool includeOwned, CancellationToken cancellationToken) =>
            new OrphanCollector(Store, _ip).Find(includeOwned, cancellationToken);

        public void RemoveOrphan(OrphanResource resource, CancellationToken cancellationToken)
        {
            using var _ = Store.Lock(null, cancellationToken);
            new OrphanCollector(Store, _ip).Remove(resource, cancellationToken);
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
