using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using VirtualNetworks.Backends;
using VirtualNetworks.HyperV.Cim;
using VirtualNetworks.Topology;

namespace VirtualNetworks.HyperV
{
    /// <summary>
    /// Move-VirtualRouter on Hyper-V (docs/hyperv-backend.md §10): Msvm_VirtualSystemMigrationService
    /// .MigrateVirtualSystemToHost after a pre-flight (destination reachable, migration enabled on both hosts, switches,
    /// VLAN ids, the image for a storage move) and CheckVirtualSystemIsMigratableToHost; the router's links follow it
    /// between the private fabric switch (both ends on one host) and the external transport switch (ends on two hosts).
    /// </summary>
    public sealed partial class HyperVBackend
    {
        public const ushort MigrationTypeVirtualSystem = 32768;
        public const ushort MigrationTypeVirtualSystemAndStorage = 32771;

        /// <summary>
        /// A disk every host can open (no storage move needed): a UNC path (SMB share, <c>\\server\share\...</c>) or a
        /// cluster shared volume (<c>C:\ClusterStorage\...</c>). Anything else is local to its host and moves with the VM
        /// (MigrationType 32771).
        /// </summary>
        public static bool IsSharedStorage(string? path) =>
            path != null && (path.StartsWith(@"\\", StringComparison.Ordinal) ||
                             path.IndexOf(@":\ClusterStorage\", StringComparison.OrdinalIgnoreCase) == 1);

        /// <summary>One link of the router being moved, and where its other end is.</summary>
        private sealed class MovingLink
        {
            public string Name = "";
            public NicRecord Nic = null!;
            public HyperVHost? PeerHost;
            public VmRecord? Peer;
            public NicRecord? PeerNic;
            public bool PeerOnSource, PeerOnDestination;
        }

        public void MoveRouter(string name, string destinationHost, MigrationMode mode, IProgress<string>? progress, CancellationToken cancellationToken)
        {
            var ct = cancellationToken;
            string kind = mode == MigrationMode.Live ? "live" : "cold";
            var operation = $"Moving router '{name}' to '{destinationHost}' ({kind})";

            // ---------------------------------------------------------------- pre-flight: reads and checks only
            // The destination first: when it cannot be reached, say so (and not that some host failed a lookup).
            HyperVHost dest;
            HostOp dop;
            try
            {
                dest = Host(destinationHost);
                dop = dest.Op(operation, name);
                dest.Vsms(dop, ct);
            }
            catch (VirtualNetworksException ex) when (ex.Kind != ErrorKind.OperationStopped)
            {
                throw HyperVErrors.Error(HyperVErrorIds.MigrationFailed, ex.Kind, name,
                    $"{operation}: the destination host '{destinationHost}' cannot be reached ({ex.Message}). Nothing was changed; '{name}' stays where it is.",
                    "Check the host name, WinRM and the credentials (docs/hyperv-remoting.md).");
            }
            var (source, srcSnap, vm) = FindRouter(name, operation, ct, ReadParts.Features | ReadParts.Switch)!.Value;
            var sop = source.Op(operation, name);
            if (Same(dest.Name, source.Name))
            {
                progress?.Report($"{name} already runs on {source.Name}");
                return;
            }
            progress?.Report($"checking the migration of {name} from {source.Name} to {dest.Name}");

            // Migration service and settings on both hosts (os-win's check: enabled, and the destination listens).
            var (srcService, srcEnabled, _) = MigrationState(source, sop, ct);
            var (_, dstEnabled, dstAddresses) = MigrationState(dest, dop, ct);
            var disabled = new List<string>();
            if (!srcEnabled) disabled.Add(source.Name);
            if (!dstEnabled || dstAddresses.Count == 0) disabled.Add(dest.Name);
            if (disabled.Count > 0)
                throw HyperVErrors.Error(HyperVErrorIds.MigrationNotEnabled, ErrorKind.InvalidOperation, name,
                    $"{operation}: live migration is not enabled on {string.Join(" and ", disabled)} (Msvm_VirtualSystemMigrationServiceSettingData.EnableVirtualSystemMigration" +
                    (dstEnabled && dstAddresses.Count == 0 ? $", or {dest.Name} has no migration listener address" : "") + "). Nothing was changed.",
                    "On both hosts: Enable-VMMigration; Set-VMMigrationNetwork or Set-VMHost -UseAnyNetworkForMigration $true; Kerberos constrained delegation or CredSSP (docs/hyperv-remoting.md).");

            ushort state = vm.EnabledState;
            bool wasRunning = state == 2;
            if (mode == MigrationMode.Live && state != 2)
                throw HyperVErrors.Error(ErrorIds.InvalidStateTransition, ErrorKind.InvalidOperation, name,
                    $"{operation}: a live migration needs a running router, but '{name}' is {MapState(state)}. Nothing was changed.",
                    "Start it first, or move it with -Mode Cold.");
            if (mode == MigrationMode.Cold && state != 2 && state != 3 && state != 6 && state != 32769)
                throw HyperVErrors.Error(ErrorIds.InvalidStateTransition, ErrorKind.InvalidOperation, name,
                    $"{operation}: '{name}' is {MapState(state)}; a cold migration moves a running (stopped first), off or saved router. Nothing was changed.",
                    "Resume or stop it, then move it.");

            // Where the other end of each link is: the NICs vn:<link> on every known host (one query each) and their
            // owners' markers (one query each); then the peers on the two hosts concerned are read (targeted).
            var moving = vm.Nics.GroupBy(n => n.Link, StringComparer.OrdinalIgnoreCase).Select(g => new MovingLink { Name = g.Key, Nic = g.First() }).ToList();
            HostSnapshot dstSnap;
            HostSnapshot? srcPeers = null;
            if (moving.Count > 0)
            {
                var names = moving.Select(l => l.Name).ToList();
                var found = new List<(HyperVHost Host, string Link, string Owner)>();
                foreach (var h in KnownHosts().Concat(new[] { dest.Name }).Distinct(StringComparer.OrdinalIgnoreCase))
                {
                    HyperVHost host;
                    try { host = Host(h); }
                    catch (VirtualNetworksException ex) when (ex.Kind == ErrorKind.ConnectionError) { continue; }
                    var op = host.Op(operation, name);
                    List<(string InstanceId, string Link, string Owner)> nics;
                    try { nics = HostSnapshot.LinkNics(host, op, names, ct); }
                    catch (VirtualNetworksException ex) when (ex.Kind == ErrorKind.ConnectionError && !Same(h, dest.Name) && !Same(h, source.Name)) { continue; }
                    nics = nics.Where(n => !(Same(h, source.Name) && Same(n.Owner, vm.VssdInstanceId))).ToList();
                    var markers = HostSnapshot.Markers(host, op, nics.Select(n => n.Owner), ct);
                    foreach (var n in nics)
                        if (markers.TryGetValue(n.Owner, out var m) && !Same(m.Router, name)) found.Add((host, n.Link, n.Owner));
                }
                foreach (var l in moving)
                {
                    var ends = found.Where(f => Same(f.Link, l.Name)).ToList();
                    if (ends.Count != 1) continue; // not a complete link: its adapter moves disconnected (FindOrphans reports it)
                    l.PeerHost = ends[0].Host;
                    l.PeerOnSource = Same(ends[0].Host.Name, source.Name);
                    l.PeerOnDestination = Same(ends[0].Host.Name, dest.Name);
                }
                var srcOwners = found.Where(f => Same(f.Host.Name, source.Name)).Select(f => HostSnapshot.ById(f.Owner)).Distinct().ToList();
                if (srcOwners.Count > 0) srcPeers = HostSnapshot.ReadVms(source, sop, srcOwners, ReadParts.Features | ReadParts.Switch, ct);
                var dstOwners = found.Where(f => Same(f.Host.Name, dest.Name)).Select(f => HostSnapshot.ById(f.Owner)).Distinct().ToList();
                dstSnap = HostSnapshot.ReadVms(dest, dop, dstOwners, ReadParts.Features | ReadParts.Switch, ct);
                foreach (var l in moving.Where(x => x.PeerOnSource || x.PeerOnDestination))
                {
                    var snap = l.PeerOnSource ? srcPeers! : dstSnap;
                    foreach (var p in snap.Vms.Where(v => v.Complete))
                        if (p.Nics.FirstOrDefault(n => Same(n.Link, l.Name)) is NicRecord pn) { l.Peer = p; l.PeerNic = pn; }
                    if (l.PeerNic?.Epasd == null) { l.PeerHost = null; l.PeerOnSource = l.PeerOnDestination = false; }
                }
            }
            else dstSnap = HostSnapshot.ReadVms(dest, dop, Array.Empty<string>(), ReadParts.Switch, ct);

            // Switches: the transport switch on both hosts when a link crosses hosts after (or during) the move; the
            // fabric on the destination when a peer is there (created below, before anything else changes).
            bool needTransportDst = moving.Any(l => l.PeerHost != null && !l.PeerOnDestination);
            bool needTransportSrc = moving.Any(l => l.PeerOnSource);
            if ((needTransportDst || needTransportSrc) && string.IsNullOrEmpty(Options.TransportSwitchName))
                throw HyperVErrors.Error(HyperVErrorIds.CrossHostLink, ErrorKind.InvalidOperation, name,
                    $"{operation}: its links {string.Join(", ", moving.Where(l => l.PeerHost != null && !l.PeerOnDestination).Select(l => "'" + l.Name + "'"))} would join {source.Name} and {dest.Name}, " +
                    "which needs a transport switch, and the backend option TransportSwitchName is not set. Nothing was changed.",
                    "Create an external switch with the same name on every host and pass it as the Hyper-V backend option TransportSwitchName.");
            var missing = new List<string>();
            if (needTransportSrc && srcSnap.TransportGuid == null) missing.Add(source.Name);
            if (needTransportDst && dstSnap.TransportGuid == null) missing.Add(dest.Name);
            if (missing.Count > 0)
                throw HyperVErrors.Error(HyperVErrorIds.TransportSwitchMissing, ErrorKind.ObjectNotFound, name,
                    $"{operation}: the transport switch '{Options.TransportSwitchName}' does not exist on {string.Join(" and ", missing)}; the links of '{name}' need it there once it runs on {dest.Name}. Nothing was changed.",
                    $"Create the external switch '{Options.TransportSwitchName}' on {string.Join(" and ", missing)}; the module never creates external switches.");
            bool needFabricDst = moving.Any(l => l.PeerOnDestination);
            if (needFabricDst && dstSnap.FabricGuid != null && !dstSnap.FabricOwned)
                throw HyperVErrors.Error(HyperVErrorIds.SwitchNotOwned, ErrorKind.ResourceExists, name,
                    $"{operation}: a switch named '{Options.SwitchName}' exists on {dest.Name} but was not created by the module; it is never used. Nothing was changed.",
                    "Set the Hyper-V backend option SwitchName to another name.");

            // VLAN ids: each link keeps its id; on the destination no other port may use it (fabric and transport).
            foreach (var l in moving.Where(x => x.PeerHost != null && x.Nic.AccessVlan != null))
            {
                int v = l.Nic.AccessVlan!.Value;
                var clash = VlanPorts(dest, dop, v, ct).Where(p => l.PeerOnDestination ? !Same(p.InstanceId, l.PeerNic!.VlanInstanceId) : true).ToList();
                if (clash.Count > 0)
                    throw HyperVErrors.Error(HyperVErrorIds.VlanInUse, ErrorKind.ResourceExists, name,
                        $"{operation}: VLAN {v} of link '{l.Name}' is already used on {dest.Name} by another port; the link keeps its id when it moves. Nothing was changed.",
                        "Remove and recreate the link (New-VirtualLink allocates an id free on every host), then move the router.");
            }

            // Storage: a disk on shared storage stays where it is (32768); a local one moves with the VM (32771) to the
            // destination's disk directory, and its parent (the image) must be there already.
            bool moveStorage = !IsSharedStorage(vm.DiskPath);
            string? destDisk = null;
            if (moveStorage)
            {
                destDisk = dest.VhdDirectory(dop, ct) + "\\" + HyperVNames.DiskFileName(vm.Marker.Router);
                if (!ImageExists(dest, dop, vm.Marker.Image, ct))
                    throw HyperVErrors.Error(ErrorIds.ImageNotFound, ErrorKind.ObjectNotFound, name,
                        $"{operation}: the disk of '{name}' is a differencing disk on local storage ({vm.DiskPath}) and moves with it, but its parent image '{ResolveImage(vm.Marker.Image) ?? vm.Marker.Image}' does not exist on {dest.Name}. Nothing was changed.",
                        "Copy the router image to the same path on every host (option ImagePath), or keep the routers' disks on shared storage (option VirtualHardDiskPath = an SMB share).");
            }

            // What the migration sends: the settings, each connection re-pointed to its switch on the destination,
            // and for a storage move the disk's new path.
            var migrationSettings = new CimObject("Msvm_VirtualSystemMigrationSettingData")
                .Set("MigrationType", CimDataType.UInt16, false, moveStorage ? MigrationTypeVirtualSystemAndStorage : MigrationTypeVirtualSystem)
                .Set("TransportType", CimDataType.UInt16, false, (ushort)5)
                .Set("DestinationIPAddressList", CimDataType.String, true, dstAddresses.ToArray());
            var resources = new List<string>();
            var dstFabricPath = dstSnap.FabricGuid != null ? dest.SwitchRef(dstSnap.FabricGuid).ToPath() : null;
            var dstTransportPath = dstSnap.TransportGuid != null ? dest.SwitchRef(dstSnap.TransportGuid).ToPath() : null;
            string DestinationSwitch(MovingLink l) =>
                l.PeerHost == null ? "" : l.PeerOnDestination ? dstFabricPath! : dstTransportPath!;
            if (moveStorage && vm.DiskSettings != null)
                resources.Add(CimXml.Write(vm.DiskSettings.Clone().Set("HostResource", CimDataType.String, true, new[] { destDisk! })));

            // ---------------------------------------------------------------- the fabric on the destination, then the check
            if (needFabricDst && dstFabricPath == null)
            {
                lock (dest.Gate) dstFabricPath = dest.SwitchRef(CreateFabric(dest, dop, ct)).ToPath();
                progress?.Report($"created the fabric switch '{Options.SwitchName}' on {dest.Name}");
            }
            foreach (var l in moving.Where(x => x.Nic.Epasd != null))
                resources.Add(CimXml.Write(l.Nic.Epasd!.Clone().Set("HostResource", CimDataType.String, true,
                    DestinationSwitch(l).Length == 0 ? Array.Empty<string>() : new[] { DestinationSwitch(l) })));
            var vmRef = source.VmRef(vm.Guid);
            var parameters = new[]
            {
                CimMethodParameter.Reference("ComputerSystem", vmRef),
                CimMethodParameter.String("DestinationHost", dest.ConnectedName), // a name to connect to, not a path
                CimMethodParameter.String("MigrationSettingData", CimXml.Write(migrationSettings)),
                CimMethodParameter.Strings("NewResourceSettingData", resources),
            };
            var check = source.Invoke(sop, "CheckVirtualSystemIsMigratableToHost", srcService, "CheckVirtualSystemIsMigratableToHost", ct, parameters);
            if (!(check["IsMigratable"] is bool ok && ok))
            {
                // The synchronous check says only yes or no; the job variant gives the reasons (its Msvm_Errors).
                var reasons = new List<string>();
                try
                {
                    source.Invoke(sop, "CheckVirtualSystemIsMigratable (reasons)", srcService, "CheckVirtualSystemIsMigratable", ct, parameters);
                }
                catch (VirtualNetworksException ex) when (ex.InnerException is CimMethodException m)
                {
                    reasons.AddRange(m.Errors.Count > 0 ? m.Errors : new[] { m.JobErrorDescription ?? m.Message });
                }
                throw HyperVErrors.Error(HyperVErrorIds.NotMigratable, ErrorKind.InvalidOperation, name,
                    $"{operation}: Hyper-V reports that '{name}' cannot be migrated from {source.Name} to {dest.Name}" +
                    (reasons.Count > 0 ? ": " + string.Join(" ", reasons) : " (CheckVirtualSystemIsMigratableToHost returned false and gave no reason)") +
                    $" Nothing was changed; '{name}' stays on {source.Name}.",
                    "Fix what the reasons name (switches, storage, migration settings, processor compatibility), then run Move-VirtualRouter again.");
            }

            // ---------------------------------------------------------------- changes
            var toTransport = moving.Where(l => l.PeerOnSource).ToList();
            var srcFabricPath = srcSnap.FabricGuid != null ? source.SwitchRef(srcSnap.FabricGuid).ToPath() : null;
            var srcTransportPath = srcSnap.TransportGuid != null ? source.SwitchRef(srcSnap.TransportGuid).ToPath() : null;
            bool stopped = false;
            try
            {
                if (mode == MigrationMode.Cold && wasRunning)
                {
                    progress?.Report($"stopping {name} on {source.Name} (guest shutdown)");
                    GracefulStop(source, sop, vm, ct);
                    stopped = true;
                }
                // Links to peers that stay on the source move to the transport switch on both ends first: the link keeps
                // working through the whole migration (same VLAN, one L2 segment across the hosts).
                lock (source.Gate)
                    foreach (var l in toTransport)
                    {
                        Repoint(source, sop, vm.Marker.Router, l.Nic, srcTransportPath!, ct);
                        Repoint(source, sop, l.Peer!.Marker.Router, l.PeerNic!, srcTransportPath!, ct);
                    }
                progress?.Report($"{kind} migration of {name} to {dest.Name} ({(moveStorage ? "with its disk, MigrationType 32771" : "shared storage, MigrationType 32768")})");
                int last = -1;
                var policy = new CimJobPolicy { Timeout = Options.MigrationTimeout, FirstPoll = Options.JobFirstPoll, MaxPoll = Options.JobMaxPoll };
                sop.Call("MigrateVirtualSystemToHost", ct, () =>
                {
                    var r = source.Gateway.InvokeMethod(srcService, "MigrateVirtualSystemToHost", parameters, ct);
                    return source.Gateway.Complete(srcService, "MigrateVirtualSystemToHost", r, ct, policy, pc =>
                    {
                        if (pc == last) return;
                        last = pc;
                        progress?.Report($"migrating {name}: {pc.ToString(CultureInfo.InvariantCulture)}%");
                    });
                });
            }
            catch (VirtualNetworksException ex) when (ex.Kind != ErrorKind.OperationStopped)
            {
                throw RollBack(ex, operation, name, source, sop, vm, toTransport, srcFabricPath, stopped);
            }

            // ---------------------------------------------------------------- after: verify, start, links back on the fabric
            var arrived = dest.Get(dop, dest.VmRef(vm.Guid), "read the migrated VM", ct);
            if (arrived == null)
                throw HyperVErrors.Error(HyperVErrorIds.MigrationFailed, ErrorKind.InvalidResult, name,
                    $"{operation}: MigrateVirtualSystemToHost completed, but {dest.Name} has no virtual machine {vm.Guid}; " +
                    (source.Get(sop, vmRef, "read the source VM", ct) != null ? $"'{name}' is still on {source.Name}." : "it is on neither host; check Hyper-V Manager."));
            ushort arrivedState = arrived.GetUInt16("EnabledState") ?? 0;
            if (mode == MigrationMode.Live && arrivedState != 2)
                throw HyperVErrors.Error(HyperVErrorIds.MigrationFailed, ErrorKind.InvalidResult, name,
                    $"{operation}: '{name}' arrived on {dest.Name} in state {MapState(arrivedState)}, not running.");
            if (mode == MigrationMode.Cold && wasRunning)
            {
                progress?.Report($"starting {name} on {dest.Name}");
                RequestState(dest, dop, vm.Guid, 2, "RequestStateChange (2, start after the cold migration)", ct);
            }
            var back = moving.Where(l => l.PeerOnDestination).ToList();
            if (back.Count > 0)
            {
                // Both ends on the destination now: the peer's end leaves the transport switch for the fabric (the
                // router's own end was re-pointed by the migration itself).
                lock (dest.Gate)
                    foreach (var l in back)
                        Repoint(dest, dop, l.Peer!.Marker.Router, l.PeerNic!, dstFabricPath!, ct);
            }
            // Link states recorded in the Notes (they moved with the VM): re-applied on the destination, whatever the
            // migration kept of the port settings (EnabledState, ACLs); a no-op when everything arrived as it was.
            foreach (var kv in vm.LinkStates.Where(kv => kv.Value != LinkState.Up && moving.Any(l => l.PeerHost != null && Same(l.Name, kv.Key))))
            {
                progress?.Report($"re-applying link '{kv.Key}' {kv.Value} on {dest.Name}");
                SetLinkState(kv.Key, kv.Value, ct);
            }
            progress?.Report($"{name} runs on {dest.Name} ({MapState(mode == MigrationMode.Cold && wasRunning ? (ushort)2 : arrivedState)})");
        }

        /// <summary>The migration service's reference, EnableVirtualSystemMigration and the listener addresses (2 queries).</summary>
        private static (CimReference Service, bool Enabled, List<string> Addresses) MigrationState(HyperVHost host, HostOp op, CancellationToken ct)
        {
            var svc = host.Query(op, "SELECT * FROM Msvm_VirtualSystemMigrationService", ct).FirstOrDefault()
                      ?? throw op.Fail(HyperVErrorIds.NotInstalled, ErrorKind.NotInstalled, "Msvm_VirtualSystemMigrationService is missing on the host.");
            var settings = host.Query(op, "SELECT * FROM Msvm_VirtualSystemMigrationServiceSettingData", ct).FirstOrDefault();
            var addresses = svc.GetStrings("MigrationServiceListenerIPAddressList").Where(a => !string.IsNullOrWhiteSpace(a)).ToList();
            return (svc.ToReference().WithHost(host.PathHost), settings?.GetBoolean("EnableVirtualSystemMigration") ?? false, addresses);
        }

        /// <summary>One end of a link to another switch: ModifyResourceSettings of its connection with a new HostResource (the VLAN and bandwidth features stay).</summary>
        private static void Repoint(HyperVHost host, HostOp op, string router, NicRecord nic, string switchPath, CancellationToken ct)
        {
            var epasd = nic.Epasd!.Clone().Set("HostResource", CimDataType.String, true, new[] { switchPath });
            host.Invoke(op, $"ModifyResourceSettings (link '{nic.Link}' on router '{router}' to switch {CimReference.Parse(switchPath).Key("Name")})",
                host.Vsms(op, ct), "ModifyResourceSettings", ct, new[]
                {
                    CimMethodParameter.Strings("ResourceSettings", new[] { CimXml.Write(epasd) }),
                });
            nic.Epasd = epasd;
        }

        /// <summary>
        /// After a failed migration the router is still on the source (Hyper-V leaves it there): its links go back to the
        /// fabric and, for a cold move of a running router, it is started again. Returns the error to throw.
        /// </summary>
        private VirtualNetworksException RollBack(VirtualNetworksException cause, string operation, string name, HyperVHost source, HostOp sop, VmRecord vm,
            List<MovingLink> toTransport, string? srcFabricPath, bool stopped)
        {
            var notes = new List<string>();
            var none = CancellationToken.None;
            try
            {
                var current = source.Get(sop, source.VmRef(vm.Guid), "read the source VM", none);
                if (current == null)
                    return HyperVErrors.Error(HyperVErrorIds.MigrationFailed, cause.Kind, name,
                        $"{operation} failed: {cause.Message} The virtual machine {vm.Guid} is no longer on {source.Name}; check both hosts in Hyper-V Manager.");
                lock (source.Gate)
                    foreach (var l in toTransport)
                    {
                        if (l.Nic.Epasd != null && srcFabricPath != null) Repoint(source, sop, vm.Marker.Router, l.Nic, srcFabricPath, none);
                        if (l.PeerNic?.Epasd != null && srcFabricPath != null) Repoint(source, sop, l.Peer!.Marker.Router, l.PeerNic, srcFabricPath, none);
                    }
                if (toTransport.Count > 0) notes.Add($"its link(s) {string.Join(", ", toTransport.Select(l => "'" + l.Name + "'"))} are back on the fabric switch");
                if (stopped)
                {
                    RequestState(source, sop, vm.Guid, 2, "RequestStateChange (2, start again on the source)", none);
                    notes.Add("it was started again");
                }
                var state = source.Get(sop, source.VmRef(vm.Guid), "read the source VM", none)?.GetUInt16("EnabledState") ?? 0;
                notes.Insert(0, $"'{name}' is still on {source.Name} ({MapState(state).ToString().ToLowerInvariant()})");
            }
            catch (VirtualNetworksException again)
            {
                notes.Add("restoring it failed too: " + again.Message);
            }
            return new VirtualNetworksException(HyperVErrorIds.MigrationFailed, cause.Kind, name,
                $"{operation} failed: {cause.Message} {string.Join("; ", notes)}.", cause)
            {
                RecommendedAction = "Fix the cause named above (destination host, migration network, storage), then run Move-VirtualRouter again.",
            };
        }
    }
}
