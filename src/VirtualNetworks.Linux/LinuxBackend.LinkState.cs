using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Newtonsoft.Json.Linq;
using VirtualNetworks.Backends;
using VirtualNetworks.Routing;
using VirtualNetworks.Linux.Net;
using VirtualNetworks.Linux.State;
using VirtualNetworks.Linux.Vm;
using VirtualNetworks.Topology;

namespace VirtualNetworks.Linux
{
    /// <summary>
    /// Link states (Disable-/Enable-VirtualLink, issue 14) and the guest's routing (Get-VirtualRoute, Get-VirtualRoutingStatus).
    /// <para>A link's state is recorded in its record first (<see cref="LinkRecord.State"/>), then applied; whatever a
    /// command is killed in the middle of, the next one that touches the link or an end router applies it again from the
    /// record (level-based):</para>
    /// <list type="bullet">
    /// <item>CablePulled: QMP <c>set_link up=false</c> on the adapter of the link in each end's running QEMU, so the guest's
    /// virtio-net sees carrier down and QEMU passes no frame. A fresh QEMU starts with carrier up, so every start sets it
    /// again right after the launch (<see cref="FinishStart"/>), a hot-plug right after <c>device_add</c>; a live migration
    /// carries it (virtio-net derives the link state from its migrated status) and sets it on the source before the stream
    /// and on the destination after the switch.</item>
    /// <item>Silent: carrier stays up, every frame is dropped on the host by a filter on each tap's ingress
    /// (<see cref="SilentDrop"/>), put on by the wiring (<see cref="WireLinkLocked"/>) before a tap is attached and up, so a
    /// re-created tap, a migration's destination tap (standby) and a VXLAN link's remote tap get it before they forward.</item>
    /// </list>
    /// </summary>
    public sealed partial class LinuxBackend : ILinkStateControl, IRoutingReader
    {
        public void SetLinkState(string linkName, LinkState state, CancellationToken cancellationToken)
        {
            if (!Enum.IsDefined(typeof(LinkState), state))
                throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.InvalidArgument, linkName,
                    $"'{(int)state}' is not a link state (Up, CablePulled, Silent).");
            using var _ = Store.Lock(null, cancellationToken);
            var rec = Store.ReadLink(linkName) ?? throw NotFound(ErrorIds.LinkNotFound, "link", linkName);
            if (state == LinkState.Silent) RequireSilentDrop(rec.Name);
            // An end whose move was interrupted is settled first (one copy, wired where it runs): the state goes on that copy.
            bool reconciled = false;
            foreach (var end in rec.Taps.Keys.OrderBy(k => k, StringComparer.OrdinalIgnoreCase))
            {
                var r = Store.ReadRouter(end);
                if (r?.Migration == null) continue;
                ReconcileMigration(r, cancellationToken);
                reconciled = true;
            }
            if (reconciled) rec = Store.ReadLink(linkName) ?? throw NotFound(ErrorIds.LinkNotFound, "link", linkName);
            // Intent first: the record says what the link should be before anything changes, so a command killed while
            // applying it leaves a record that the next start, rewiring or reconcile applies.
            if (rec.State != state)
            {
                rec.State = state;
                Store.WriteLink(rec);
            }
            ApplyLinkStateLocked(rec, cancellationToken);
        }

        /// <summary>
        /// Applies <paramref name="rec"/>'s recorded state: the drop filters on every tap of the link that exists (a missing
        /// one gets it when the wiring makes it again), then the carrier in each end's running QEMU. Filters before carrier,
        /// so a change from CablePulled to Silent never forwards in between. The caller holds the state lock.
        /// </summary>
        private void ApplyLinkStateLocked(LinkRecord rec, CancellationToken ct)
        {
            foreach (var kv in EndpointsOf(rec).OrderBy(k => k.Key, StringComparer.OrdinalIgnoreCase))
            {
                if (!rec.Taps.TryGetValue(kv.Key, out var tap)) continue;
                foreach (var h in kv.Value)
                {
                    if (!HostNames.IsLocalHost(h) && !LabNetwork.NamespaceExists(InterfaceNames.Namespace(h))) continue;
                    var ip = Lab.IpFor(h);
                    var info = ip.GetLink(tap, ct);
                    if (info == null) continue;
                    RequireOurs(ip, info); // only taps this state directory made
                    var drop = new SilentDrop(ip);
                    if (rec.State == LinkState.Silent) drop.Apply(tap, ct);
                    else drop.Remove(tap, ct);
                }
            }
            foreach (var end in rec.Taps.Keys.OrderBy(k => k, StringComparer.OrdinalIgnoreCase))
                ApplyCarrier(end, new[] { rec }, onlyPulled: false, ct);
        }

        /// <summary>
        /// Sets the carrier of <paramref name="routerName"/>'s adapters on <paramref name="links"/> as their records want
        /// (QMP <c>set_link</c> on the NIC with the adapter's MAC; up unless CablePulled). Nothing when the router's QEMU does
        /// not run or has no NIC for a link (its hot-plug sets it). <paramref name="onlyPulled"/>: only pulled cables (a
        /// fresh QEMU's NICs are up). Idempotent: QEMU tells the guest only when the status changes.
        /// </summary>
        private void ApplyCarrier(string routerName, IReadOnlyList<LinkRecord> links, bool onlyPulled, CancellationToken ct)
        {
            var router = Store.ReadRouter(routerName);
            if (router == null) return;
            var wanted = links.Where(l => router.Macs.ContainsKey(l.Name) && (!onlyPulled || l.State == LinkState.CablePulled)).ToList();
            if (wanted.Count == 0) return;
            var paths = Store.RunPaths(router.Name, router.RunSlot);
            if (!RouterProcess.Inspect(paths).IsRunning) return;
            using var qmp = QmpClient.Connect(paths.QmpSocket, router.Name, TimeSpan.FromSeconds(5), ct);
            var nics = NicNamesByMac(qmp, ct);
            foreach (var l in wanted)
            {
                if (!nics.TryGetValue(MacAddresses.Normalize(router.Macs[l.Name]), out var nic)) continue;
                qmp.Execute("set_link", new JObject { ["name"] = nic, ["up"] = l.State != LinkState.CablePulled }, null, ct);
            }
        }

        /// <summary>The links of <paramref name="routerName"/> (records naming it), for <see cref="ApplyCarrier"/>.</summary>
        private List<LinkRecord> LinksNaming(string routerName) =>
            Store.LinksNaming(routerName);

        /// <summary>The QEMU net client name of each virtio-net NIC, by its normalized MAC (QMP query-rx-filter).</summary>
        private static Dictionary<string, string> NicNamesByMac(QmpClient qmp, CancellationToken ct)
        {
            var map = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            if (qmp.Execute("query-rx-filter", null, null, ct) is JArray filters)
                foreach (var f in filters.OfType<JObject>())
                    if ((string?)f["main-mac"] is string mac && mac.Length > 0 && (string?)f["name"] is string name && name.Length > 0)
                        map[MacAddresses.Normalize(mac)] = name;
            return map;
        }

        /// <summary>Throws (BackendNotAvailable, NotInstalled) when this kernel cannot drop a tap's frames (<see cref="LinuxFeature.IngressDrop"/>).</summary>
        private void RequireSilentDrop(string linkName)
        {
            if (Features.IngressDrop) return;
            var missing = Features.Missing.FirstOrDefault(m => m.Feature == LinuxFeature.IngressDrop);
            throw new VirtualNetworksException(ErrorIds.BackendNotAvailable, ErrorKind.NotInstalled, linkName,
                $"Link '{linkName}' cannot fail silently on this machine: the Linux backend drops its frames with a clsact qdisc and a " +
                $"classic-BPF filter on its taps, and the kernel refused them ({missing?.Detail ?? "not probed"}).")
            {
                RecommendedAction = SilentDrop.Remedy + " Or disable the link with -Failure CablePulled, which needs nothing of the host kernel.",
            };
        }

        // ================================================================================================ guest contract

        /// <summary>
        /// The error when a router's guest implements an older contract than its configuration or a command needs: names the
        /// image (and where it was found) and says to rebuild it.
        /// </summary>
        private VirtualNetworksException GuestContractTooOld(RouterRecord rec, int guestContract, string what)
        {
            string where = "";
            try
            {
                var image = _images.Find(rec.Image);
                if (image != null) where = " (" + (image.Kernel ?? image.Disk ?? image.Directory) + ")";
            }
            catch (VirtualNetworksException)
            {
            }
            return new VirtualNetworksException(ErrorIds.GuestContractTooOld, ErrorKind.NotImplemented, rec.Name,
                $"Router '{rec.Name}': {what} needs guest contract {GuestConfigText.RoutingContract}, but its image '{rec.Image}'{where} implements " +
                $"contract {guestContract} (built before dynamic routing: no BIRD, no 'routing' directive, no 'routes'/'routing' commands). " +
                "Rebuild the image with images/router/build.sh, then restart the router.")
            {
                RecommendedAction = "Run images/router/build.sh (./build.sh demo builds it too), then Stop-VirtualRouter and Start-VirtualRouter -Wait.",
            };
        }

        /// <summary>Throws <see cref="GuestContractTooOld"/> when <paramref name="text"/> needs more than <paramref name="ready"/>'s contract.</summary>
        private void EnsureContract(RouterRecord rec, GuestReadyInfo ready, string? text)
        {
            int needed = GuestConfigText.RequiredContract(text);
            if (ready.Contract < needed) throw GuestContractTooOld(rec, ready.Contract, "its configuration has dynamic routing (a 'routing' line), which");
        }

        // ================================================================================================ routing reader

        /// <summary>How long the guest's <c>routes</c>/<c>routing</c> may take (the guest bounds them at 10 s).</summary>
        private static readonly TimeSpan RoutingCommandTimeout = TimeSpan.FromSeconds(25);

        public IReadOnlyList<VirtualRoute> GetRoutes(string routerName, CancellationToken cancellationToken)
        {
            var (rec, result) = RunRoutingCommand(routerName, "routes", cancellationToken);
            return GuestRouting.ParseRoutes(rec.Name, result.Lines, GuestRouting.LinksByMac(rec.Macs));
        }

        public RoutingStatus GetRoutingStatus(string routerName, CancellationToken cancellationToken)
        {
            var (rec, result) = RunRoutingCommand(routerName, "routing", cancellationToken);
            return GuestRouting.ParseRoutingStatus(rec.Name, result.Lines, GuestRouting.LinksByMac(rec.Macs));
        }

        /// <summary>
        /// Runs a contract-2 read-only command in a running router's guest (no state lock: like probes it reads the record
        /// and talks to the guest). Not running or paused: RouterNotRunning; a guest that does not know the command (exit
        /// code 127: an image of contract 1): GuestContractTooOld; any other failure: BackendOperationFailed.
        /// </summary>
        private (RouterRecord, GuestCommandResult) RunRoutingCommand(string routerName, string command, CancellationToken ct)
        {
            var rec = RequireRouter(routerName);
            var paths = Store.RunPaths(rec.Name, rec.RunSlot);
            var process = RouterProcess.Inspect(paths);
            if (!process.IsRunning || rec.DesiredState == RouterState.Paused)
                throw new VirtualNetworksException(ErrorIds.RouterNotRunning, ErrorKind.InvalidOperation, rec.Name,
                    $"Cannot read the routing of virtual router '{rec.Name}': it is {(process.IsRunning ? "paused" : "not running (" + process.Detail + ")")}.")
                { RecommendedAction = process.IsRunning ? "Resume-VirtualRouter -Name " + rec.Name : "Start-VirtualRouter -Name " + rec.Name + " -Wait" };
            var channel = new GuestChannel(paths.ChannelSocket, rec.Name);
            var ready = channel.WaitReady(ReadyTimeout, ct);
            if (ready.Contract < GuestConfigText.RoutingContract)
                throw GuestContractTooOld(rec, ready.Contract, $"the '{command}' command");
            var result = channel.Run(command, null, RoutingCommandTimeout, ct);
            if (result.ExitCode == 127) throw GuestContractTooOld(rec, ready.Contract, $"the '{command}' command");
            if (!result.Succeeded)
                throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.InvalidResult, rec.Name,
                    $"Router '{rec.Name}': the guest's '{command}' failed with exit code {result.ExitCode}" +
                    (result.ExitCode == 124 ? " (timed out in the guest)" : "") + ": " + string.Join(" | ", result.Lines.Take(5)));
            return (rec, result);
        }
    }
}
