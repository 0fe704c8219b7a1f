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
using VirtualNetworks.Util;

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

        /// <summary>
        /// TEST SEAM, not a feature: called with the name of each phase boundary of a live or cold migration
        /// (<see cref="LiveCrashPoints"/>, <see cref="ColdCrashPoints"/>). A test makes it throw
        /// <see cref="SimulatedCrashException"/> (which nothing in the migration path catches, so no recovery code runs, as
        /// after a SIGKILL), or block in a child process that it then kills with SIGKILL. Process-wide (static) so that a test
        /// can set it in a child pwsh through reflection. Nothing in the product sets it.
        /// </summary>
        internal static Action<string>? MigrationCrashPoint { get; set; }

        /// <summary>The phase boundaries of a live migration, in order, as <see cref="MigrationCrashPoint"/> names them.</summary>
        internal static readonly IReadOnlyList<string> LiveCrashPoints = new[]
        {
            "live:journaled", "live:destination-wired", "live:destination-launched", "live:streaming", "live:pre-switchover",
            "live:switched-over", "live:completed", "live:committed", "live:source-ended", "live:links-rewired",
        };

        /// <summary>The phase boundaries of a cold migration, in order, as <see cref="MigrationCrashPoint"/> names them.</summary>
        internal static readonly IReadOnlyList<string> ColdCrashPoints = new[]
        {
            "cold:journaled", "cold:stopped", "cold:host-recorded", "cold:placed", "cold:started",
        };

        private static void CrashPoint(string point) => MigrationCrashPoint?.Invoke(point);

        public void MoveRouter(string name, string destinationHost, MigrationMode mode, IProgress<string>? progress, CancellationToken cancellationToken)
        {
            using var _ = Store.Lock(null, cancellationToken);
            // An earlier move of this router that was interrupted is finished or undone first (one copy, wired where it runs).
            var rec = ReconcileMigration(RequireRouter(name), cancellationToken, progress);
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
            Store.LinksNaming(rec.Name);

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
            // The links' states on the source first (level-based; a Disable-VirtualLink killed before it applied them):
            // virtio-net migrates its link status, so the destination resumes with the same carrier, and the destination's
            // taps get the silent failures' drop filters from the wiring below while still on standby.
            ApplyCarrier(name, links, onlyPulled: false, ct);
            var sourcePaths = Store.RunPaths(name, rec.RunSlot);
            var targetSlot = StateStore.OtherRunSlot(rec.RunSlot);
            var targetPaths = Store.RunPaths(name, targetSlot);
            var clock = Stopwatch.StartNew();
            bool committed = false;
            MigrationResult? result = null;
            var flips = new List<PreparedIpBatch>();
            progress?.Report($"preparing {links.Count} link(s) of {name} on {destination}");
            // Intent first: the journal names both instances before anything is touched, so whichever phase a crash hits,
            // the next command finds both copies and keeps exactly one (ReconcileMigration).
            var journal = rec.Migration = new MigrationJournal
            {
                Mode = MigrationJournal.Live, Phase = MigrationJournal.LivePreparing, Source = source, Destination = destination,
                SourceSlot = rec.RunSlot, DestinationSlot = targetSlot, WasRunning = true, WasPaused = status.State == RouterState.Paused,
                DesiredState = rec.DesiredState, ProcessId = CurrentProcessId, ProcessStart = ProcessStartTime(CurrentProcessId),
            };
            Store.WriteRouter(rec);
            CrashPoint("live:journaled");
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
                CrashPoint("live:destination-wired");

                // 2. The destination QEMU: the same launch as the source's, in the destination's namespace and the other run slot.
                var adapters = links.Select(l => new VmAdapter(l.Taps[name], rec.Macs[l.Name])).ToList();
                var spec = LaunchSpecFor(rec, image, adapters, accelerator, destination,
                    rec.ConfigText ?? GuestConfigText.Render(name, rec.Configuration, rec.Macs, MtusOf(rec)));
                spec.RunDirectory = targetPaths.RunDirectory;
                spec.Incoming = "defer";
                progress?.Report($"starting the destination QEMU of {name} on {destination} (-incoming defer)");
                Launcher.Launch(spec, ct);
                journal.Phase = MigrationJournal.LiveMigrating;
                rec.Migration = journal;
                Store.WriteRouter(rec);
                MigrationStageHook?.Invoke("launched", targetPaths);
                CrashPoint("live:destination-launched");

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
                        CrashPoint = MigrationCrashPoint == null ? null : (Action<string>)(point => CrashPoint("live:" + point)),
                    };
                    if (flips.Count > 0)
                    {
                        // Handed over while the source is stopped, waited for while it sends its last state: the guest
                        // does not wait for the ip processes (the destination needs several ms more before it resumes).
                        driver.BeforeSwitchover = _ => SendSwitchoverFlips(flips);
                        driver.AfterSwitchoverContinue = _ => WaitSwitchoverFlips(flips);
                    }
                    result = driver.Run(ct);
                    CrashPoint("live:completed");

                    // 4. The destination runs the router: one record write switches host and run slot (Get/Stop/Suspend
                    //    and the guest channel now use the destination's pidfile and sockets) and the journal's phase.
                    rec.Host = destination;
                    rec.RunSlot = targetSlot;
                    journal.Phase = MigrationJournal.LiveCommitted;
                    rec.Migration = journal;
                    Store.WriteRouter(rec);
                    committed = true;
                    CrashPoint("live:committed");
                    try { src.Quit(CancellationToken.None); } catch (VirtualNetworksException) { /* killed below */ }
                }
            }
            catch (Exception ex) when (!committed && !(ex is SimulatedCrashException))
            {
                DisposeAll(flips);
                var left = RollBackLive(name, source, destination, links, targetPaths);
                // The journal goes only when the router verifiably runs on the source alone; otherwise the next command
                // reconciles what is left.
                if (left.Count == 0 && RouterProcess.Inspect(sourcePaths).IsRunning) ClearJournal(name);
                if (ex is OperationCanceledException) throw;
                throw LiveFailure(name, source, destination, ex, left, clock.Elapsed);
            }
            finally
            {
                DisposeAll(flips); // what the kernel does to a crashed process's pipes: the ip processes end
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
            CrashPoint("live:source-ended");
            try { ApplyCarrier(name, LinksOf(rec), onlyPulled: false, CancellationToken.None); } // on the destination (the record names it now)
            catch (VirtualNetworksException ex) { problems.Add("link states on the destination: " + ex.Message); }
            progress?.Report($"{name} runs on {destination}; moving its links' tunnels there");
            foreach (var link in links)
            {
                try { WireLinkLocked(Store.ReadLink(link.Name) ?? link, null, CancellationToken.None); }
                catch (VirtualNetworksException ex) { problems.Add("link " + link.Name + ": " + ex.Message); }
            }
            RemoveSlotDirectoryIfEmpty(sourcePaths.RunDirectory);
            CrashPoint("live:links-rewired");
            if (problems.Count == 0) ClearJournal(name); // else the next command on the router repairs what is left
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
                EnsureContract(r, channel.WaitReady(ReadyTimeout, ct), text);
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
            // Intent first (see MoveLive): a crash between the stop and the start on the destination is finished by the next
            // command on the router (ReconcileMigration), so the router is never left off on the way.
            rec.Migration = new MigrationJournal
            {
                Mode = MigrationJournal.Cold, Phase = MigrationJournal.ColdStopping, Source = source, Destination = destination,
                SourceSlot = rec.RunSlot, DestinationSlot = null, WasRunning = wasRunning, WasPaused = wasPaused, DesiredState = desired,
                ProcessId = CurrentProcessId, ProcessStart = ProcessStartTime(CurrentProcessId),
            };
            Store.WriteRouter(rec);
            CrashPoint("cold:journaled");
            if (wasRunning)
            {
                progress?.Report($"stopping {name} on {source} (ACPI power button)");
                if (!Vms.Shutdown(name, GracefulStopTimeout, ct))
                {
                    ClearJournal(name);
                    throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.OperationTimeout, name,
                        $"Cold migration of router '{name}' from {source} to {destination} did not start: the router did not power off within " +
                        $"{GracefulStopTimeout.TotalSeconds:0} s of the ACPI power button and still runs on {source}.")
                    { RecommendedAction = "Stop it with Stop-VirtualRouter -TurnOff, then move it." };
                }
            }
            else if (status.State == RouterState.Failed)
            {
                Vms.TurnOff(name, ct); // drift (dead QEMU): clear its run files
            }
            rec.Migration.Phase = MigrationJournal.ColdStopped;
            Store.WriteRouter(rec);
            CrashPoint("cold:stopped");
            FinishCold(rec, rec.Migration, progress, ct);
            progress?.Report($"cold migration of {name} done in {clock.ElapsedMilliseconds.ToString(CultureInfo.InvariantCulture)} ms");
        }

        /// <summary>
        /// The second half of a cold move, with the router off: the record names the destination and its links are wired
        /// there, the router starts there (when it ran before) and the journal goes. When the start fails the router is
        /// placed back on the source and started there. Also what <see cref="ReconcileMigration"/> runs for an interrupted
        /// cold move (it is idempotent).
        /// </summary>
        private void FinishCold(RouterRecord rec, MigrationJournal j, IProgress<string>? progress, CancellationToken ct)
        {
            string name = rec.Name, source = j.Source, destination = j.Destination;
            bool wasRunning = j.WasRunning, wasPaused = j.WasPaused;
            try
            {
                progress?.Report($"moving {name}'s links to {destination}");
                j.Phase = MigrationJournal.ColdPlaced;
                rec.Migration = j;
                PlaceCold(rec, destination, ct);
                CrashPoint("cold:placed");
                if (wasRunning)
                {
                    progress?.Report($"starting {name} on {destination}");
                    StartAndWait(rec, wasPaused, ct);
                }
                else
                {
                    rec = RequireRouter(name);
                    rec.DesiredState = j.DesiredState;
                    Store.WriteRouter(rec);
                }
                CrashPoint("cold:started");
                ClearJournal(name);
            }
            catch (Exception ex) when (!(ex is SimulatedCrashException))
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
                    ClearJournal(name);
                }
                catch (Exception again) when (again is VirtualNetworksException || again is IOException)
                {
                    back = $"moving it back to {source} failed too: {again.Message}; the next Start-VirtualRouter finishes or undoes the move";
                }
                if (ex is OperationCanceledException) throw;
                throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ex is VirtualNetworksException v ? v.Kind : ErrorKind.InvalidResult, name,
                    $"Cold migration of router '{name}' from {source} to {destination} failed: {ex.Message} ({back}).", ex);
            }
        }

        /// <summary>
        /// Records <paramref name="host"/> as the (stopped) router's host and wires its links for it. The record is written
        /// first (with the journal, which names the move): a crash before the wiring is done is finished by the next command.
        /// </summary>
        private void PlaceCold(RouterRecord rec, string host, CancellationToken ct)
        {
            var previousRun = Store.RunPaths(rec.Name, rec.RunSlot);
            if (!RouterProcess.Inspect(previousRun).IsRunning) RouterProcess.RemoveRunFiles(previousRun, includeConsole: true);
            RemoveSlotDirectoryIfEmpty(previousRun.RunDirectory);
            rec.Host = host;
            rec.RunSlot = null;
            Store.WriteRouter(rec);
            CrashPoint("cold:host-recorded");
            foreach (var link in LinksOf(rec)) WireLinkLocked(link, null, ct);
        }

        /// <summary>Removes the migration journal from the router's record (the router runs in one place, wired there).</summary>
        private void ClearJournal(string name)
        {
            var r = Store.ReadRouter(name);
            if (r?.Migration == null) return;
            r.Migration = null;
            Store.WriteRouter(r);
        }

        /// <summary>Field 22 of /proc/&lt;pid&gt;/stat (start time in clock ticks since boot); null when the process is gone or unreadable.</summary>
        internal static long? ProcessStartTime(int pid)
        {
            try
            {
                string stat = File.ReadAllText("/proc/" + pid.ToString(CultureInfo.InvariantCulture) + "/stat");
                int close = stat.LastIndexOf(')'); // comm may contain spaces and parentheses; fields 3.. follow the last ')'
                if (close < 0) return null;
                var fields = stat.Substring(close + 2).Split(' ');
                return fields.Length > 19 && long.TryParse(fields[19], NumberStyles.None, CultureInfo.InvariantCulture, out long t) ? t : (long?)null;
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                return null;
            }
        }

        private static int CurrentProcessId
        {
            get
            {
                using var p = Process.GetCurrentProcess();
                return p.Id;
            }
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
    
        // ================================================================================================ crash recovery

        /// <summary>
        /// Reconciles an interrupted migration of <paramref name="rec"/> (its record still carries a
        /// <see cref="MigrationJournal"/>: the command that ran it was killed, or failed half-way) and returns the router's
        /// record as it is afterwards; a record without a journal is returned as it is, at no cost. Level-based: the decision
        /// comes from what both instances say now (process, QMP query-status and query-migrate), the record's host and run
        /// slot, and the journal for what cannot be observed. Afterwards exactly one copy of the router runs (or none, when
        /// both QEMUs died: then the record stays as it wants the router and the next start boots it), the record names it,
        /// its links are wired where it runs, and the journal is gone. Live: the destination is kept when it holds the guest
        /// (its QEMU loaded the stream: running/paused) and the source does not run the guest, or when the record already
        /// names it; otherwise the destination QEMU is ended first and the source resumed (migrate_cancel while a migration
        /// is still under way, then cont; a "postmigrate" source whose destination died holds the only copy and is
        /// continued). Cold: the move is finished (stop, place on the destination, start) or, when the router does not
        /// power off, undone (it stays on the source). The caller holds the state lock; called at the start of every
        /// command that touches a router (Start, Stop, Suspend, Resume, Remove, Move; Deploy through its start step).
        /// </summary>
        /// <param name="forStop">The command ends the router (Stop-, Remove-VirtualRouter): an interrupted cold move is finished
        /// without starting the router on the destination, and when a live one cannot be decided (the source QEMU runs but
        /// its QMP does not answer) both copies are ended instead of refusing.</param>
        internal RouterRecord ReconcileMigration(RouterRecord rec, CancellationToken ct, IProgress<string>? progress = null, HostDeviceViews? views = null,
            bool forStop = false)
        {
            var j = rec.Migration;
            if (j == null) return rec;
            views?.Clear(); // devices change below
            progress?.Report($"{rec.Name}: recovering the {j.Describe()}");
            try
            {
                if (string.Equals(j.Mode, MigrationJournal.Cold, StringComparison.Ordinal)) ReconcileCold(rec, j, progress, forStop, ct);
                else ReconcileLive(rec, j, progress, forStop, ct);
                // The surviving copy's adapters as the links' records want them (the interrupted command may not have set them).
                // Best effort: the recovery stands either way, and every start, reconfiguration and move applies them again.
                if (!forStop)
                {
                    try { ApplyCarrier(rec.Name, LinksOf(RequireRouter(rec.Name)), onlyPulled: false, ct); }
                    catch (VirtualNetworksException ex) { progress?.Report($"{rec.Name}: link states not applied yet: {ex.Message}"); }
                }
            }
            catch (VirtualNetworksException ex) when (ex.ErrorId != ErrorIds.MigrationRecoveryFailed)
            {
                throw new VirtualNetworksException(ErrorIds.MigrationRecoveryFailed, ex.Kind, rec.Name,
                    $"Router '{rec.Name}': recovering the {j.Describe()} failed: {ex.Message} The journal is kept; the next command on the router tries again.", ex)
                { RecommendedAction = "Check the hosts (Get-VirtualHost) and run Start-VirtualRouter again; Stop-VirtualRouter -TurnOff or Remove-VirtualRouter end both copies." };
            }
            return RequireRouter(rec.Name);
        }

        /// <summary>
        /// How inventory shows a router whose record carries a migration journal: null when none (or when the process that
        /// runs the migration is alive: a move under way in another process), else Failed with a status that says what was
        /// interrupted and what recovers it (so that Deploy plans a start, which reconciles it).
        /// </summary>
        internal static (RouterState State, string Status)? InterruptedMigrationState(RouterRecord rec)
        {
            var j = rec.Migration;
            if (j == null) return null;
            if (j.ProcessId > 1 && j.ProcessId != CurrentProcessId && RouterProcess.IsAlive(j.ProcessId) &&
                (j.ProcessStart == null || ProcessStartTime(j.ProcessId) == j.ProcessStart)) return null;
            return (RouterState.Failed, j.Describe() + "; the next Start-/Stop-/Resume-/Move-VirtualRouter or Deploy-VirtualNetwork recovers it " +
                                        "(one copy of the router is kept, with its links wired where it runs).");
        }

        /// <summary>What one instance (run slot) of a router says now.</summary>
        internal sealed class InstanceView
        {
            public InstanceView(RouterRunPaths? paths) => Paths = paths;
            public RouterRunPaths? Paths { get; }
            /// <summary>The verified QEMU process runs.</summary>
            public bool Alive { get; set; }
            /// <summary>query-status (null when not alive or QMP did not answer).</summary>
            public string? Status { get; set; }
            /// <summary>query-migrate's status (null when none or unknown).</summary>
            public string? Migration { get; set; }
            public string Detail { get; set; } = "";
            /// <summary>The guest is loaded and can run here (the destination took the stream over, or the source never gave it away).</summary>
            public bool HoldsGuest => Alive && (Status == "running" || Status == "paused" || Status == "suspended");
            public override string ToString() => Alive ? (Status ?? "QMP silent") + (Migration == null ? "" : ", migration " + Migration) : "not running";
        }

        private static readonly HashSet<string> MigrationUnderWay = new HashSet<string>(StringComparer.Ordinal)
        {
            "setup", "active", "pre-switchover", "device", "wait-unplug", "cancelling", "postcopy-active",
        };

        private static InstanceView ObserveInstance(RouterRunPaths paths, CancellationToken ct)
        {
            var v = new InstanceView(paths);
            var p = RouterProcess.Inspect(paths);
            v.Detail = p.Detail;
            if (!p.IsRunning) return v;
            v.Alive = true;
            try
            {
                using var q = QmpClient.Connect(paths.QmpSocket, paths.RouterName, TimeSpan.FromSeconds(5), ct);
                v.Status = q.QueryStatus(ct);
                v.Migration = (string?)q.QueryMigrate(ct)["status"];
            }
            catch (VirtualNetworksException ex)
            {
                v.Detail += "; QMP: " + ex.Message;
                v.Alive = RouterProcess.Inspect(paths).IsRunning;
            }
            return v;
        }

        private void ReconcileLive(RouterRecord rec, MigrationJournal j, IProgress<string>? progress, bool forStop, CancellationToken ct)
        {
            string name = rec.Name;
            var srcPaths = Store.RunPaths(name, j.SourceSlot);
            var dstPaths = Store.RunPaths(name, j.DestinationSlot);
            bool committed = j.Phase == MigrationJournal.LiveCommitted ||
                             (Is(HostOf(rec), j.Destination) && string.Equals(rec.RunSlot ?? "", j.DestinationSlot ?? "", StringComparison.Ordinal));
            var src = ObserveInstance(srcPaths, ct);
            var dst = ObserveInstance(dstPaths, ct);
            // The source completed the stream and the destination is still loading its last part: it runs in a moment.
            var settle = Stopwatch.StartNew();
            while (src.Migration == "completed" && dst.Alive && dst.Status == "inmigrate" && settle.Elapsed < TimeSpan.FromSeconds(3))
            {
                ct.WaitHandle.WaitOne(TimeSpan.FromMilliseconds(50));
                dst = ObserveInstance(dstPaths, ct);
            }
            progress?.Report($"{name}: source on {j.Source}: {src}; destination on {j.Destination}: {dst}; record names {HostOf(rec)}");

            var keep = DecideSurvivor(src, dst, committed);
            if (keep == Survivor.Undecided && forStop) keep = Survivor.None; // the router is being ended anyway
            if (keep == Survivor.Undecided)
                throw new VirtualNetworksException(ErrorIds.MigrationRecoveryFailed, ErrorKind.ResourceUnavailable, name,
                    $"Router '{name}': the {j.Describe()} cannot be decided: the destination does not hold the guest ({dst}) and the source QEMU " +
                    $"on {j.Source} runs but does not answer on QMP ({src.Detail}). Nothing was changed.")
                { RecommendedAction = "Try again in a moment (another program may be connected to the source QEMU's QMP socket); Stop-VirtualRouter -TurnOff ends both copies." };

            string survivorHost;
            string? survivorSlot;
            RouterRunPaths loser;
            if (keep == Survivor.Destination)
            {
                // Never two copies: the source's QEMU (postmigrate, or running a guest the record no longer names) ends first.
                KillInstance(srcPaths, ct);
                if (!j.WasPaused && dst.Status != "running")
                {
                    using var q = QmpClient.Connect(dstPaths.QmpSocket, name, TimeSpan.FromSeconds(5), ct);
                    q.Cont(ct);
                }
                survivorHost = j.Destination;
                survivorSlot = j.DestinationSlot;
                loser = srcPaths;
            }
            else if (keep == Survivor.Source)
            {
                KillInstance(dstPaths, ct);
                ResumeSource(name, srcPaths, j, ct);
                survivorHost = j.Source;
                survivorSlot = j.SourceSlot;
                loser = dstPaths;
            }
            else
            {
                // Both QEMUs are gone: the guest's state is lost with them. The record keeps wanting the router, so the next
                // start (Start-VirtualRouter, Deploy) boots it afresh on the host the record names.
                KillInstance(dstPaths, ct);
                KillInstance(srcPaths, ct); // gone already, or a QEMU whose guest cannot run any more (internal-error, ...)
                survivorHost = committed ? j.Destination : j.Source;
                survivorSlot = null;
                loser = dstPaths;
            }
            progress?.Report(keep == Survivor.None ? $"{name}: neither copy holds the guest any more; the next start boots it on {survivorHost}"
                : $"{name}: kept the {keep.ToString().ToLowerInvariant()} copy on {survivorHost}");

            // The record names the survivor (the journal stays until its links are wired there), then the links follow it.
            rec = RequireRouter(name);
            rec.Host = survivorHost;
            rec.RunSlot = survivorSlot;
            Store.WriteRouter(rec);
            foreach (var link in LinksOf(rec)) WireLinkLocked(link, null, ct);
            RemoveSlotDirectoryIfEmpty(loser.RunDirectory);
            ClearJournal(name);
        }

        /// <summary>Which instance an interrupted live migration keeps.</summary>
        internal enum Survivor
        {
            /// <summary>The source QEMU runs but QMP does not answer and the destination does not hold the guest: nothing is changed.</summary>
            Undecided,
            Source,
            Destination,
            /// <summary>Neither holds a guest that can run (both gone): the next start boots the router afresh.</summary>
            None,
        }

        /// <summary>
        /// The decision table of docs/migration.md ("Crash recovery"): the destination when it loaded the stream and the
        /// source does not run the guest (or the record already names the destination); else the source while its QEMU is
        /// alive with a usable status (running, paused, pre-switchover, finish-migrate, postmigrate, ...); Undecided when the
        /// source runs but its status is unknown; None when neither holds a guest that can run.
        /// </summary>
        internal static Survivor DecideSurvivor(InstanceView src, InstanceView dst, bool committed)
        {
            if (dst.HoldsGuest && (committed || !(src.Alive && src.Status == "running"))) return Survivor.Destination;
            if (src.Alive && src.Status == null) return Survivor.Undecided;
            if (src.Alive && !GuestGone.Contains(src.Status!)) return Survivor.Source;
            return Survivor.None;
        }

        /// <summary>QEMU run states in which the guest cannot be continued.</summary>
        private static readonly HashSet<string> GuestGone = new HashSet<string>(StringComparer.Ordinal)
        {
            "shutdown", "internal-error", "guest-panicked", "io-error",
        };

        /// <summary>Ends an instance's verified QEMU (if it runs) and removes its run files.</summary>
        private static void KillInstance(RouterRunPaths paths, CancellationToken ct)
        {
            RouterProcess.Kill(paths, TimeSpan.FromSeconds(3), ct);
            RouterProcess.RemoveRunFiles(paths, includeConsole: true);
        }

        /// <summary>
        /// Brings the source instance back after an interrupted live migration whose destination did not take over:
        /// migrate_cancel while QEMU still migrates (it leaves pre-switchover/active), then cont unless the router was paused
        /// (a "postmigrate" source — the stream completed, the destination died — holds the only copy of the guest and is
        /// continued too). Checks the result.
        /// </summary>
        private static void ResumeSource(string name, RouterRunPaths paths, MigrationJournal j, CancellationToken ct)
        {
            using var q = QmpClient.Connect(paths.QmpSocket, name, TimeSpan.FromSeconds(5), ct);
            var bound = Stopwatch.StartNew();
            string m = (string?)q.QueryMigrate(ct)["status"] ?? "";
            if (MigrationUnderWay.Contains(m) && m != "cancelling") q.MigrateCancel(ct);
            while (MigrationUnderWay.Contains(m) && bound.Elapsed < TimeSpan.FromSeconds(10))
            {
                ct.WaitHandle.WaitOne(TimeSpan.FromMilliseconds(20));
                m = (string?)q.QueryMigrate(ct)["status"] ?? "";
            }
            string st = q.QueryStatus(ct);
            while ((st == "finish-migrate" || MigrationUnderWay.Contains(m)) && bound.Elapsed < TimeSpan.FromSeconds(10))
            {
                ct.WaitHandle.WaitOne(TimeSpan.FromMilliseconds(20));
                st = q.QueryStatus(ct);
            }
            if (!j.WasPaused && st != "running") q.Cont(ct);
            else if (j.WasPaused && st == "postmigrate")
            {
                q.Cont(ct); // postmigrate cannot go to paused directly: a moment of running, then paused as it was
                q.Stop(ct);
            }
            st = q.QueryStatus(ct);
            bool ok = j.WasPaused ? st == "paused" : st == "running";
            if (!ok)
                throw new VirtualNetworksException(ErrorIds.MigrationRecoveryFailed, ErrorKind.InvalidResult, name,
                    $"Router '{name}': after the interrupted live migration its source QEMU is '{st}' (migration '{m}') instead of " +
                    (j.WasPaused ? "paused" : "running") + " after migrate_cancel and cont.");
        }

        private void ReconcileCold(RouterRecord rec, MigrationJournal j, IProgress<string>? progress, bool forStop, CancellationToken ct)
        {
            string name = rec.Name;
            var st = Vms.GetStatus(name, ct);
            bool alive = st.Process == VmProcessState.Running;
            if (alive && Is(HostOf(rec), j.Destination))
            {
                // Started on the destination before the crash: only the wiring and the journal are left to finish.
                progress?.Report($"{name}: runs on {j.Destination} already; finishing its links");
                foreach (var link in LinksOf(rec)) WireLinkLocked(link, null, ct);
                ClearJournal(name);
                return;
            }
            if (alive)
            {
                // Still on the source: the graceful stop had not finished. Finish it (the move is what was asked); a router that
                // does not power off stays where it is, wired there, and the move is dropped.
                progress?.Report($"{name}: still runs on {HostOf(rec)}; stopping it to finish the cold move");
                if (!Vms.Shutdown(name, GracefulStopTimeout, ct))
                {
                    foreach (var link in LinksOf(rec)) WireLinkLocked(link, null, ct);
                    ClearJournal(name);
                    progress?.Report($"{name} did not power off: the cold move to {j.Destination} was dropped; it runs on {HostOf(rec)}");
                    return;
                }
            }
            else if (st.State == RouterState.Failed)
            {
                Vms.TurnOff(name, ct); // a dead QEMU's run files
            }
            progress?.Report($"{name}: finishing the cold move to {j.Destination}");
            if (forStop) j.WasRunning = false; // it is being stopped or removed: placed on the destination, not started there
            FinishCold(RequireRouter(name), j, progress, ct);
        }
}
}
