using System;
using System.Collections.Generic;
using System.Diagnostics;
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
    /// Move-VirtualRouter on Linux (docs/migration.md): live migration of a router's QEMU between hosts with its links
    /// following it (VROOM), and cold migration (stop, rewire, start). The whole move runs under the state lock (the
    /// wiring uses <see cref="WireLinkLocked"/>); a live move of a 128 MB router holds it for about a second.
    /// </summary>
    public sealed partial class LinuxBackend
    {
        /// <summary>Tuning and bound of live migrations (see <see cref="MigrationOptions"/>); tests and the bench may change it.</summary>
        public MigrationOptions LiveMigrationOptions { get; set; } = new MigrationOptions();

        /// <summary>How long the switch-over may take to flip the router's taps (both hosts together); the guest is stopped meanwhile.</summary>
        public TimeSpan SwitchoverTimeout { get; set; } = TimeSpan.FromSeconds(2);

        /// <summary>Timings of the last live migration this backend completed (null before the first).</summary>
        public MigrationResult? LastLiveMigration { get; private set; }

        /// <summary>
        /// Test hook: called with ("launched", destination run paths) right after the destination QEMU started and with
        /// ("transferring", ...) at the first progress line of the stream. Lets tests kill the destination or cut the underlay.
        /// </summary>
        internal Action<string, RouterRunPaths>? MigrationStageHook { get; set; }

        public void MoveRouter(string name, string destinationHost, MigrationMode mode, IProgress<string>? progress, CancellationToken cancellationToken)
        {
            using var _ = Store.Lock(null, cancellationToken);
            var rec = RequireRouter(name);
            var source = HostOf(rec);
            var destination = Lab.Resolve(destinationHost);
            if (Is(source, destination))
            {
                progress?.Report($"{rec.Name} already runs on {destination}");
                return;
            }
            EnsureHostReady(destination, cancellationToken);
            // Underlay routes the kernel dropped while a physical link was down (admin down deletes them) come back first.
            Lab.ApplyRouting(cancellationToken);
            if (mode == MigrationMode.Live) MoveLive(rec, source, destination, progress, cancellationToken);
            else MoveCold(rec, source, destination, progress, cancellationToken);
        }

        private List<LinkRecord> LinksOf(RouterRecord rec) =>
            Store.ListLinks().Where(l => Is(l.From, rec.Name) || Is(l.To, rec.Name)).OrderBy(l => l.Name, StringComparer.OrdinalIgnoreCase).ToList();

        // ================================================================================================ live

        private void MoveLive(RouterRecord rec, string source, string destination, IProgress<string>? progress, CancellationToken ct)
        {
            string name = rec.Name;
            var status = Vms.GetStatus(name, ct);
            if (status.State != RouterState.Running && status.State != RouterState.Paused)
                throw new VirtualNetworksException(ErrorIds.InvalidStateTransition, ErrorKind.InvalidOperation, name,
                    $"Router '{name}' cannot be migrated live: it is {status.State.ToString().ToLowerInvariant()} ({status.Detail}); " +
                    "a live migration needs a running (or paused) router.")
                { RecommendedAction = "Start it first, or move it with -Mode Cold." };
            if (rec.AdaptersChanged)
                throw new VirtualNetworksException(ErrorIds.InvalidStateTransition, ErrorKind.InvalidOperation, name,
                    $"Router '{name}' cannot be migrated live: links were added or removed while it ran, so its QEMU devices differ " +
                    "from a fresh start and the destination could not match them.")
                { RecommendedAction = "Restart the router (Stop-/Start-VirtualRouter) or move it with -Mode Cold." };
            var targetAddress = Lab.UnderlayAddressOf(destination);
            if (targetAddress == null || Lab.UnderlayAddressOf(source) == null)
                throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.InvalidOperation, name,
                    $"Router '{name}' cannot be migrated live from {source} to {destination}: " +
                    $"{(targetAddress == null ? destination : source)} has no underlay address (no physical link), so neither the " +
                    "migration stream nor the router's tunnels can reach it.")
                { RecommendedAction = "Give the host a physical link to the others (New-VirtualLabHost -ConnectedTo, or physicalLinks in the topology)." };
            var image = _images.Require(rec.Image, name);
            var accelerator = ParseAccelerator(rec.Accelerator);
            var links = LinksOf(rec);
            var sourcePaths = Store.RunPaths(name, rec.RunSlot);
            var targetSlot = StateStore.OtherRunSlot(rec.RunSlot);
            var targetPaths = Store.RunPaths(name, targetSlot);
            var clock = Stopwatch.StartNew();
            bool committed = false;
            MigrationResult? result = null;
            var flips = new List<PreparedIpBatch>();
            progress?.Report($"preparing {links.Count} link(s) of {name} on {destination}");
            // An instance left in the destination slot by an interrupted earlier attempt is not the router's: end it.
            RouterProcess.Kill(targetPaths, TimeSpan.FromSeconds(3), ct);
            RouterProcess.RemoveRunFiles(targetPaths, includeConsole: true);
            try
            {
                // 1. Destination wiring before anything moves: taps, bridges and tunnels on the destination; the peers'
                //    tunnels send to both hosts meanwhile. The destination's taps stay down (standby) until the switch-over.
                bool mtuLowered = false;
                var both = new Dictionary<string, IReadOnlyCollection<string>>(StringComparer.OrdinalIgnoreCase) { [name] = new[] { source, destination } };
                foreach (var link in links) mtuLowered |= WireLinkLocked(link, both, ct, (name, destination));
                if (mtuLowered)
                {
                    progress?.Report("link MTU lowered to " + LabNetwork.TunnelMtu + " for the tunnels: configurations pushed again");
                    foreach (var r in links.SelectMany(l => new[] { l.From, l.To }).Distinct(StringComparer.OrdinalIgnoreCase))
                        RefreshGuestConfiguration(r, ct);
                    rec = RequireRouter(name);
                }

                // 2. The destination QEMU: the same launch as the source's, in the destination's namespace and the other run slot.
                var adapters = links.Select(l => new VmAdapter(l.Taps[name], rec.Macs[l.Name])).ToList();
                var spec = LaunchSpecFor(rec, image, adapters, accelerator, destination,
                    rec.ConfigText ?? GuestConfigText.Render(name, rec.Configuration, rec.Macs, MtusOf(rec)));
                spec.RunDirectory = targetPaths.RunDirectory;
                spec.Incoming = "defer";
                progress?.Report($"starting the destination QEMU of {name} on {destination} (-incoming defer)");
                Launcher.Launch(spec, ct);
                MigrationStageHook?.Invoke("launched", targetPaths);

                // 3. The stream, over the underlay to the destination's address. At the switch-over (source stopped, destination
                //    not yet running) the prepared flips run: the destination's taps up, the source's down (which also
                //    drops what the source's bridges learned on them), so the first frame after the switch-over finds the
                //    router where it now runs.
                flips = PrepareSwitchoverFlips(links, name, source, destination);
                bool transferring = false;
                var relay = new Relay(line =>
                {
                    progress?.Report(line);
                    if (!transferring && line.StartsWith("transferred", StringComparison.Ordinal))
                    {
                        transferring = true;
                        MigrationStageHook?.Invoke("transferring", targetPaths);
                    }
                });
                using (var src = QmpClient.Connect(sourcePaths.QmpSocket, name, TimeSpan.FromSeconds(10), ct))
                using (var dst = QmpClient.Connect(targetPaths.QmpSocket, name, TimeSpan.FromSeconds(10), ct))
                {
                    var driver = new MigrationDriver(name, src, dst, new MigrationTarget(targetAddress), LiveMigrationOptions)
                    {
                        Progress = relay,
                        AbortDestination = () => RouterProcess.Kill(targetPaths, TimeSpan.FromSeconds(3)),
                    };
                    if (flips.Count > 0)
                    {
                        // Handed over while the source is stopped, waited for while it sends its last state: the guest
                        // does not wait for the ip processes (the destination needs several ms more before it resumes).
                        driver.BeforeSwitchover = _ => SendSwitchoverFlips(flips);
                        driver.AfterSwitchoverContinue = _ => WaitSwitchoverFlips(flips);
                    }
                    result = driver.Run(ct);

                    // 4. The destination runs the router: one record write switches host and run slot (Get/Stop/Suspend
                    //    and the guest channel now use the destination's pidfile and sockets).
                    rec.Host = destination;
                    rec.RunSlot = targetSlot;
                    Store.WriteRouter(rec);
                    committed = true;
                    try { src.Quit(CancellationToken.None); } catch (VirtualNetworksException) { /* killed below */ }
                }
            }
            catch (Exception ex) when (!committed)
            {
                DisposeAll(flips);
                var left = RollBackLive(name, source, destination, links, targetPaths);
                if (ex is OperationCanceledException) throw;
                throw LiveFailure(name, source, destination, ex, left, clock.Elapsed);
            }

            // 5. After completion: the source's QEMU (postmigrate) ends, the links follow the router (peers' FDB to the
            //    destination only, the source's taps/tunnels/bridges go), the source's run files go.
            LastLiveMigration = result;
            DisposeAll(flips);
            var problems = new List<string>();
            try
            {
                if (RouterProcess.Inspect(sourcePaths).Pid is int pid && !RouterProcess.WaitForExit(pid, TimeSpan.FromSeconds(3), CancellationToken.None))
                    RouterProcess.Kill(sourcePaths, TimeSpan.FromSeconds(3));
                RouterProcess.RemoveRunFiles(sourcePaths, includeConsole: true);
            }
            catch (Exception ex) when (ex is VirtualNetworksException || ex is IOException)
            {
                problems.Add("stopping the source QEMU: " + ex.Message);
            }
            progress?.Report($"{name} runs on {destination}; moving its links' tunnels there");
            foreach (var link in links)
            {
                try { WireLinkLocked(Store.ReadLink(link.Name) ?? link, null, CancellationToken.None); }
                catch (VirtualNetworksException ex) { problems.Add("link " + link.Name + ": " + ex.Message); }
            }
            RemoveSlotDirectoryIfEmpty(sourcePaths.RunDirectory);
            progress?.Report($"live migration of {name} done in {clock.ElapsedMilliseconds.ToString(CultureInfo.InvariantCulture)} ms: {result}");
            if (problems.Count > 0)
                throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.InvalidResult, name,
                    $"Router '{name}' was migrated live to {destination} and runs there, but cleaning up after it failed: " + string.Join("; ", problems) + ".")
                { RecommendedAction = "Start-VirtualRouter / Remove-VirtualNetworkOrphan repair what is left over." };
        }

        /// <summary>
        /// After a failed live migration: the destination QEMU, its run files and everything wired for it on the destination
        /// go; the links are wired for the source alone again (peers' FDB back to the source). Returns what could not be undone.
        /// </summary>
        private List<string> RollBackLive(string name, string source, string destination, List<LinkRecord> links, RouterRunPaths targetPaths)
        {
            var left = new List<string>();
            try
            {
                RouterProcess.Kill(targetPaths, TimeSpan.FromSeconds(3));
                RouterProcess.RemoveRunFiles(targetPaths, includeConsole: true);
            }
            catch (Exception ex) when (ex is VirtualNetworksException || ex is IOException)
            {
                left.Add("destination QEMU: " + ex.Message);
            }
            foreach (var link in links)
            {
                try { WireLinkLocked(Store.ReadLink(link.Name) ?? link, null, CancellationToken.None); }
                catch (VirtualNetworksException ex) { left.Add("link " + link.Name + " on " + destination + ": " + ex.Message); }
            }
            RemoveSlotDirectoryIfEmpty(targetPaths.RunDirectory);
            return left;
        }

        private VirtualNetworksException LiveFailure(string name, string source, string destination, Exception ex, List<string> left, TimeSpan elapsed)
        {
            var st = Vms.GetStatus(name, CancellationToken.None);
            string where = st.State == RouterState.Running || st.State == RouterState.Paused
                ? $"The router still runs on {source} ({st.QemuStatus ?? st.State.ToString().ToLowerInvariant()}) with its links wired there"
                : $"The router is NOT running on {source} after the failure ({st.Detail}); Start-VirtualRouter recovers it";
            string cleaned = left.Count == 0 ? $"what was prepared on {destination} (QEMU, taps, tunnels, forwarding entries, run files) was removed"
                : "not everything prepared on " + destination + " could be removed: " + string.Join("; ", left);
            string why = ex is MigrationFailedException mf ? $"{mf.Reason}: {mf.Message}"
                : ex is OperationCanceledException ? "cancelled" : ex.Message;
            var kind = ex is MigrationFailedException m2 ? m2.Kind : ex is OperationCanceledException ? ErrorKind.OperationStopped
                : ex is VirtualNetworksException v ? v.Kind : ErrorKind.InvalidResult;
            return new VirtualNetworksException(ErrorIds.BackendOperationFailed, kind, name,
                $"Live migration of router '{name}' from {source} to {destination} failed after {elapsed.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s ({why}). " +
                where + "; " + cleaned + ".", ex)
            {
                RecommendedAction = ex is MigrationFailedException f && f.Reason == MigrationFailureReason.Timeout
                    ? "Check the underlay between the hosts (Get-VirtualHost, physical links), or allow more time."
                    : "Check the destination host and its physical links, then try again.",
            };
        }

        /// <summary>Renders a router's configuration again (e.g. after an MTU change) and pushes it when it runs.</summary>
        private void RefreshGuestConfiguration(string routerName, CancellationToken ct)
        {
            var r = Store.ReadRouter(routerName);
            if (r == null) return;
            var text = GuestConfigText.Render(r.Name, r.Configuration, r.Macs, MtusOf(r));
            if (text == r.ConfigText) return;
            var paths = Store.RunPaths(r.Name, r.RunSlot);
            if (RouterProcess.Inspect(paths).IsRunning && r.DesiredState != RouterState.Paused)
            {
                var channel = new GuestChannel(paths.ChannelSocket, r.Name);
                channel.WaitReady(ReadyTimeout, ct);
                channel.PushConfig(text, null, ct);
            }
            r.ConfigText = text;
            Store.WriteRouter(r);
            if (File.Exists(paths.ConfigFile)) AtomicFile.WriteAllText(paths.ConfigFile, text, QemuLauncher.PrivateFileMode);
        }

        private void RemoveSlotDirectoryIfEmpty(string directory)
        {
            if (string.Equals(directory.TrimEnd('/'), Store.RunDirectory.TrimEnd('/'), StringComparison.Ordinal)) return;
            try
            {
                if (Directory.Exists(directory) && !Directory.EnumerateFileSystemEntries(directory).Any()) Directory.Delete(directory);
            }
            catch (IOException) { /* another router's instance arrived meanwhile */ }
        }

        /// <summary>
        /// The switch-over's two prepared <c>ip -batch</c> processes (started now, run by the hook): on the destination
        /// <c>link set dev TAP up</c> for each of the router's taps (standby until then), on the source <c>link set dev TAP
        /// down</c>.
        /// </summary>
        private List<PreparedIpBatch> PrepareSwitchoverFlips(List<LinkRecord> links, string router, string source, string destination)
        {
            var flips = new List<PreparedIpBatch>();
            try
            {
                var taps = links.Where(l => l.Taps.ContainsKey(router)).Select(l => l.Taps[router]).ToList();
                if (taps.Count == 0) return flips;
                flips.Add(PreparedIpBatch.Start(Lab.IpFor(destination).NetworkNamespace, taps.Select(t => (IReadOnlyList<string>)new[] { "link", "set", "dev", t, "up" })));
                flips.Add(PreparedIpBatch.Start(Lab.IpFor(source).NetworkNamespace, taps.Select(t => (IReadOnlyList<string>)new[] { "link", "set", "dev", t, "down" })));
                return flips;
            }
            catch
            {
                DisposeAll(flips);
                throw;
            }
        }

        /// <summary>
        /// Hands the flips to both hosts' processes (they run at the same time). A process that cannot take them cancels the
        /// migration (the driver resumes the source and the rollback rewires it).
        /// </summary>
        private void SendSwitchoverFlips(List<PreparedIpBatch> flips)
        {
            foreach (var f in flips)
            {
                string? error = f.Send();
                if (error != null) throw FlipFailure(f, error);
            }
        }

        /// <summary>
        /// Waits (bounded by <see cref="SwitchoverTimeout"/>) for the flips handed over by <see cref="SendSwitchoverFlips"/>.
        /// Runs after migrate-continue, so a failure cannot cancel any more: it is reported, and the rewiring after the
        /// completion sets every tap as it must be (the destination's up, the source's gone).
        /// </summary>
        private void WaitSwitchoverFlips(List<PreparedIpBatch> flips)
        {
            var bound = Stopwatch.StartNew();
            foreach (var f in flips)
            {
                var left = SwitchoverTimeout - bound.Elapsed;
                string? error = f.Wait(left > TimeSpan.Zero ? left : TimeSpan.Zero);
                if (error != null) throw FlipFailure(f, error + " (the rewiring after the switch-over repairs the taps)");
            }
        }

        private static VirtualNetworksException FlipFailure(PreparedIpBatch f, string error) =>
            new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.InvalidResult, f.NetworkNamespace ?? "ip",
                "Flipping the router's taps at the switch-over failed" + (f.NetworkNamespace == null ? "" : " in " + f.NetworkNamespace) + ": " + error);

        private static void DisposeAll(List<PreparedIpBatch> batches)
        {
            foreach (var b in batches) b.Dispose();
            batches.Clear();
        }

        private static Accelerator ParseAccelerator(string? value) =>
            value != null && Enum.TryParse<Accelerator>(value, true, out var a) ? a : Accelerator.Tcg;

        /// <summary>Progress relay that runs synchronously on the reporting thread (Progress&lt;T&gt; would post to a pool thread).</summary>
        private sealed class Relay : IProgress<string>
        {
            private readonly Action<string> _action;
            public Relay(Action<string> action) => _action = action;
            public void Report(string value) => _action(value);
        }

        // ================================================================================================ cold

        /// <summary>
        /// Cold move: graceful stop on the source, the record names the destination, the links are wired there (the source's
        /// leftovers go), the router starts on the destination and is waited for. Lab hosts share the machine's file
        /// system, so a router's overlay disk (disks/&lt;name&gt;.qcow2) and state stay where they are; kernel+initrd routers
        /// have none. When the start on the destination fails the router is moved back and started on the source.
        /// </summary>
        private void MoveCold(RouterRecord rec, string source, string destination, IProgress<string>? progress, CancellationToken ct)
        {
            string name = rec.Name;
            var clock = Stopwatch.StartNew();
            var status = Vms.GetStatus(name, ct);
            bool wasRunning = status.State == RouterState.Running || status.State == RouterState.Paused || status.State == RouterState.Starting;
            bool wasPaused = status.State == RouterState.Paused || rec.DesiredState == RouterState.Paused;
            var desired = rec.DesiredState;
            if (wasRunning)
            {
                progress?.Report($"stopping {name} on {source} (ACPI power button)");
                if (!Vms.Shutdown(name, GracefulStopTimeout, ct))
                    throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.OperationTimeout, name,
                        $"Cold migration of router '{name}' from {source} to {destination} did not start: the router did not power off within " +
                        $"{GracefulStopTimeout.TotalSeconds:0} s of the ACPI power button and still runs on {source}.")
                    { RecommendedAction = "Stop it with Stop-VirtualRouter -TurnOff, then move it." };
            }
            else if (status.State == RouterState.Failed)
            {
                Vms.TurnOff(name, ct); // drift (dead QEMU): clear its run files
            }
            try
            {
                progress?.Report($"moving {name}'s links to {destination}");
                PlaceCold(rec, destination, ct);
                if (wasRunning)
                {
                    progress?.Report($"starting {name} on {destination}");
                    StartAndWait(rec, wasPaused, ct);
                }
                else
                {
                    rec.DesiredState = desired;
                    Store.WriteRouter(rec);
                }
            }
            catch (Exception ex)
            {
                // Back to the source, running as before.
                string back;
                try
                {
                    try { Vms.TurnOff(name, CancellationToken.None); } catch (VirtualNetworksException) { }
                    rec = RequireRouter(name);
                    PlaceCold(rec, source, CancellationToken.None);
                    if (wasRunning) StartAndWait(rec, wasPaused, CancellationToken.None);
                    back = wasRunning ? $"it was started on {source} again" : $"it stays on {source}";
                }
                catch (Exception again) when (again is VirtualNetworksException || again is IOException)
                {
                    back = $"moving it back to {source} failed too: {again.Message}";
                }
                if (ex is OperationCanceledException) throw;
                throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ex is VirtualNetworksException v ? v.Kind : ErrorKind.InvalidResult, name,
                    $"Cold migration of router '{name}' from {source} to {destination} failed: {ex.Message} ({back}).", ex);
            }
            progress?.Report($"cold migration of {name} done in {clock.ElapsedMilliseconds.ToString(CultureInfo.InvariantCulture)} ms");
        }

        /// <summary>Records <paramref name="host"/> as the (stopped) router's host and wires its links for it.</summary>
        private void PlaceCold(RouterRecord rec, string host, CancellationToken ct)
        {
            var previousRun = Store.RunPaths(rec.Name, rec.RunSlot);
            if (!RouterProcess.Inspect(previousRun).IsRunning) RouterProcess.RemoveRunFiles(previousRun, includeConsole: true);
            RemoveSlotDirectoryIfEmpty(previousRun.RunDirectory);
            rec.Host = host;
            rec.RunSlot = null;
            Store.WriteRouter(rec);
            foreach (var link in LinksOf(rec)) WireLinkLocked(link, null, ct);
        }

        private void StartAndWait(RouterRecord rec, bool paused, CancellationToken ct)
        {
            StartRouterLocked(RequireRouter(rec.Name), ct);
            Vms.Channel(rec.Name).WaitReady(ReadyTimeout, ct);
            if (paused)
            {
                Vms.Suspend(rec.Name, ct);
                var r = RequireRouter(rec.Name);
                r.DesiredState = RouterState.Paused;
                Store.WriteRouter(r);
            }
        }
    }
}
