using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using VirtualNetworks.Linux.State;

namespace VirtualNetworks.Linux.Vm
{
    /// <summary>A router VM's observed state: process (pidfile + /proc) and, when it runs, QEMU's own status (QMP).</summary>
    public sealed class VmRuntimeStatus
    {
        public VmRuntimeStatus(RouterState state, int? pid, string? qemuStatus, string detail, VmProcessState process)
        {
            State = state;
            Pid = pid;
            QemuStatus = qemuStatus;
            Detail = detail;
            Process = process;
        }

        /// <summary>Off, Running, Paused, Starting (incoming migration), Stopping, Saved (migrated away), Failed (drift), Unknown.</summary>
        public RouterState State { get; }
        public int? Pid { get; }
        /// <summary>QMP query-status "status" ("running", "paused", ...), when QMP answered.</summary>
        public string? QemuStatus { get; }
        public string Detail { get; }
        public VmProcessState Process { get; }
        /// <summary>True when the process is gone although a pidfile says it should run (dead or pid reused).</summary>
        public bool IsDrift => Process == VmProcessState.Dead || Process == VmProcessState.Foreign;

        public override string ToString() => State + ": " + Detail;
    }

    /// <summary>
    /// Lifecycle of router VMs on this host, built from <see cref="QemuLauncher"/>, <see cref="RouterProcess"/>,
    /// <see cref="QmpClient"/> and <see cref="GuestChannel"/>. It does not touch the state records or the network side;
    /// the backend does that around these calls (holding <see cref="StateStore.Lock"/>).
    /// </summary>
    public sealed class VmManager
    {
        public static readonly TimeSpan DefaultReadyTimeout = TimeSpan.FromSeconds(60);
        public static readonly TimeSpan DefaultShutdownTimeout = TimeSpan.FromSeconds(30);
        private static readonly TimeSpan QmpTimeout = TimeSpan.FromSeconds(10);

        public VmManager(StateStore store, QemuLauncher launcher)
        {
            Store = store ?? throw new ArgumentNullException(nameof(store));
            Launcher = launcher ?? throw new ArgumentNullException(nameof(launcher));
        }

        public StateStore Store { get; }
        public QemuLauncher Launcher { get; }

        public RouterRunPaths Paths(string name) => Store.RunPaths(name);

        /// <summary>A command-channel client for the router.</summary>
        public GuestChannel Channel(string name) => new GuestChannel(Paths(name).ChannelSocket, name);

        /// <summary>A QMP session with the router (dispose it promptly: QEMU serves one QMP client at a time).</summary>
        public QmpClient Qmp(string name, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
            QmpClient.Connect(Paths(name).QmpSocket, name, timeout ?? QmpTimeout, cancellationToken);

        /// <summary>Observes the router: Off, Failed (drift: dead or foreign pid), or QEMU's own status through QMP.</summary>
        public VmRuntimeStatus GetStatus(string name, CancellationToken cancellationToken = default)
        {
            var paths = Paths(name);
            var p = RouterProcess.Inspect(paths);
            switch (p.State)
            {
                case VmProcessState.NotRunning:
                    return new VmRuntimeStatus(RouterState.Off, null, null, "off", p.State);
                case VmProcessState.Dead:
                case VmProcessState.Foreign:
                    return new VmRuntimeStatus(RouterState.Failed, p.Pid, null, p.Detail, p.State);
            }
            try
            {
                using (var q = Qmp(name, TimeSpan.FromSeconds(5), cancellationToken))
                {
                    string s = q.QueryStatus(cancellationToken);
                    return new VmRuntimeStatus(MapStatus(s), p.Pid, s, p.Detail + ", QEMU status " + s, p.State);
                }
            }
            catch (VirtualNetworksException ex)
            {
                // The process runs but QMP did not answer (busy with another client, or QEMU just exiting).
                var again = RouterProcess.Inspect(paths);
                if (again.State != VmProcessState.Running)
                    return GetStatus(name, cancellationToken);
                return new VmRuntimeStatus(RouterState.Unknown, p.Pid, null, p.Detail + "; QMP did not answer: " + ex.Message, p.State);
            }
        }

        /// <summary>QMP RunState -> RouterState.</summary>
        public static RouterState MapStatus(string qemuStatus)
        {
            switch (qemuStatus)
            {
                case "running":
                    return RouterState.Running;
                case "paused":
                case "suspended":
                case "debug":
                case "watchdog":
                    return RouterState.Paused;
                case "inmigrate":
                case "prelaunch":
                case "restore-vm":
                    return RouterState.Starting;
                case "finish-migrate":
                case "postmigrate":
                case "save-vm":
                    return RouterState.Saved;
                case "shutdown":
                    return RouterState.Stopping;
                case "internal-error":
                case "io-error":
                case "guest-panicked":
                    return RouterState.Failed;
                default:
                    return RouterState.Unknown;
            }
        }

        /// <summary>
        /// Starts the router and (when <paramref name="readyTimeout"/> is positive) waits for "VN-READY &lt;name&gt;" on
        /// its console. A router that does not become ready in time is stopped again and the error quotes its console.
        /// Returns the QEMU pid.
        /// </summary>
        public int Start(VmLaunchSpec spec, TimeSpan? readyTimeout = null, CancellationToken cancellationToken = default)
        {
            int pid = Launcher.Launch(spec, cancellationToken);
            var limit = readyTimeout ?? DefaultReadyTimeout;
            if (limit <= TimeSpan.Zero || spec.Incoming != null) return pid;
            var paths = Paths(spec.Name);
            bool ready;
            try
            {
                ready = RouterProcess.WaitForReady(paths, limit, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                RouterProcess.Kill(paths, TimeSpan.FromSeconds(3));
                throw;
            }
            if (!ready)
            {
                string tail = RouterProcess.ConsoleSummary(paths);
                RouterProcess.Kill(paths, TimeSpan.FromSeconds(3));
                throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.OperationTimeout, spec.Name,
                    "Router '" + spec.Name + "' did not report VN-READY within " + limit.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture) +
                    " s and was stopped. End of its console: " + tail);
            }
            return pid;
        }

        /// <summary>
        /// Launches several routers' QEMU processes at the same time (one thread each, so their start-up overlaps) and
        /// waits for all of them; no readiness wait. Each launch is exactly <see cref="QemuLauncher.Launch"/>, with its
        /// checks and its clean-up of a QEMU that failed. <paramref name="launched"/> (given the spec's index) runs on the
        /// launching thread right after a successful launch, overlapping the other launches; what it throws counts as that
        /// router's failure. Returns one entry per spec, in order: null when that router's QEMU runs (and
        /// <paramref name="launched"/> succeeded), else the exception (naming the router) that stopped it.
        /// </summary>
        public IReadOnlyList<Exception?> LaunchAll(IReadOnlyList<VmLaunchSpec> specs, Action<int>? launched = null, CancellationToken cancellationToken = default)
        {
            if (specs == null) throw new ArgumentNullException(nameof(specs));
            var errors = new Exception?[specs.Count];
            void LaunchOne(int k)
            {
                try
                {
                    Launcher.Launch(specs[k], cancellationToken);
                    launched?.Invoke(k);
                }
                catch (Exception ex)
                {
                    errors[k] = ex; // every exception: one escaping a thread would end the process
                }
            }
            if (specs.Count == 1)
            {
                LaunchOne(0);
                return errors;
            }
            var threads = new List<Thread>(specs.Count);
            for (int i = 0; i < specs.Count; i++)
            {
                int k = i;
                var t = new Thread(() => LaunchOne(k)) { IsBackground = true, Name = "vn-launch " + specs[k].Name };
                try
                {
                    t.Start();
                    threads.Add(t);
                }
                catch (OutOfMemoryException)
                {
                    LaunchOne(k); // no thread to be had: launch it on this one
                }
            }
            foreach (var t in threads) t.Join();
            return errors;
        }

        /// <summary>
        /// Graceful stop: presses the ACPI power button (resuming a paused router first, or it could not react) and
        /// waits up to <paramref name="timeout"/> for QEMU to exit. True when it is off (also when it was not running);
        /// false when it still runs after the timeout (the caller may then <see cref="TurnOff"/>).
        /// </summary>
        public bool Shutdown(string name, TimeSpan? timeout = null, CancellationToken cancellationToken = default, bool untilReaped = false)
        {
            var paths = Paths(name);
            var p = RouterProcess.Inspect(paths);
            if (p.State != VmProcessState.Running)
            {
                RouterProcess.RemoveRunFiles(paths, includeConsole: false);
                return true;
            }
            long? start = RouterProcess.StartTicks(p.Pid!.Value);
            using (var q = Qmp(name, null, cancellationToken))
            {
                string s = q.QueryStatus(cancellationToken);
                if (MapStatus(s) == RouterState.Paused) q.Cont(cancellationToken);
                q.SystemPowerdown(cancellationToken);
            }
            if (!RouterProcess.WaitForExit(p.Pid!.Value, timeout ?? DefaultShutdownTimeout, cancellationToken)) return false;
            if (untilReaped) RouterProcess.WaitUntilReaped(p.Pid!.Value, start, RouterProcess.ReapTimeout, cancellationToken);
            RouterProcess.RemoveRunFiles(paths, includeConsole: false);
            return true;
        }

        /// <summary>
        /// Hard power-off: QMP "quit", and SIGTERM/SIGKILL of the verified process if that does not end it. Idempotent. With
        /// <paramref name="untilReaped"/> it returns only once the process is gone from the process table as well (bounded,
        /// <see cref="RouterProcess.WaitUntilReaped"/>): what Stop-VirtualRouter and the Remove-* cmdlets promise.
        /// </summary>
        public void TurnOff(string name, CancellationToken cancellationToken = default, bool untilReaped = false)
        {
            var paths = Paths(name);
            var p = RouterProcess.Inspect(paths);
            if (p.State == VmProcessState.Running)
            {
                long? start = RouterProcess.StartTicks(p.Pid!.Value);
                try
                {
                    using (var q = Qmp(name, TimeSpan.FromSeconds(5), cancellationToken))
                        q.Quit(cancellationToken);
                }
                catch (VirtualNetworksException)
                {
                    // QMP busy or broken: signals below.
                }
                if (!RouterProcess.WaitForExit(p.Pid!.Value, TimeSpan.FromSeconds(5), cancellationToken))
                    RouterProcess.Kill(paths, TimeSpan.FromSeconds(5), cancellationToken);
                if (untilReaped) RouterProcess.WaitUntilReaped(p.Pid!.Value, start, RouterProcess.ReapTimeout, cancellationToken);
            }
            RouterProcess.RemoveRunFiles(paths, includeConsole: false);
        }

        /// <summary>
        /// Stops several routers at once, as <see cref="Shutdown"/> (graceful: a paused one resumed, then the ACPI power
        /// button) or <see cref="TurnOff"/> (<paramref name="turnOff"/>: QMP quit, SIGTERM/SIGKILL of the verified process
        /// when that does not end it) does each, with <c>untilReaped</c>: every router is asked first (one QMP session each),
        /// then the exits are awaited together (graceful: up to <paramref name="gracefulTimeout"/> for all; turn-off: 5 s,
        /// then the signals), then the reaps together, then the run files of those that exited go. The time is that of the
        /// slowest router, not the sum (a graceful stop of a TCG guest takes about 2 s). Returns one entry per name: Off
        /// true when the router is off now; else the error that stopped it, or none when a graceful stop timed out (the
        /// caller may turn it off).
        /// </summary>
        public IReadOnlyList<(bool Off, Exception? Error)> StopAll(IReadOnlyList<string> names, bool turnOff, TimeSpan gracefulTimeout,
            CancellationToken cancellationToken = default)
        {
            if (names == null) throw new ArgumentNullException(nameof(names));
            var results = new (bool Off, Exception? Error)[names.Count];
            var asked = new List<(int Index, RouterRunPaths Paths, int Pid, long? Start)>();
            for (int i = 0; i < names.Count; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var paths = Paths(names[i]);
                var p = RouterProcess.Inspect(paths);
                if (p.State != VmProcessState.Running)
                {
                    try
                    {
                        RouterProcess.RemoveRunFiles(paths, includeConsole: false);
                        results[i] = (true, null);
                    }
                    catch (VirtualNetworksException ex)
                    {
                        results[i] = (false, ex);
                    }
                    continue;
                }
                int pid = p.Pid!.Value;
                long? start = RouterProcess.StartTicks(pid);
                try
                {
                    if (turnOff)
                    {
                        try
                        {
                            using (var q = Qmp(names[i], TimeSpan.FromSeconds(5), cancellationToken))
                                q.Quit(cancellationToken);
                        }
                        catch (VirtualNetworksException)
                        {
                            // QMP busy or broken: signals below.
                        }
                    }
                    else
                    {
                        using (var q = Qmp(names[i], null, cancellationToken))
                        {
                            string s = q.QueryStatus(cancellationToken);
                            if (MapStatus(s) == RouterState.Paused) q.Cont(cancellationToken);
                            q.SystemPowerdown(cancellationToken);
                        }
                    }
                    asked.Add((i, paths, pid, start));
                }
                catch (VirtualNetworksException ex)
                {
                    results[i] = (false, ex);
                }
            }
            var deadline = Deadline.After(turnOff ? TimeSpan.FromSeconds(5) : gracefulTimeout);
            var alive = new List<(int Index, RouterRunPaths Paths, int Pid, long? Start)>(asked);
            while (true)
            {
                alive.RemoveAll(r => !RouterProcess.IsAlive(r.Pid));
                if (alive.Count == 0 || deadline.Expired) break;
                if (cancellationToken.WaitHandle.WaitOne(20)) cancellationToken.ThrowIfCancellationRequested();
            }
            var exited = new List<(int Index, RouterRunPaths Paths, int Pid, long? Start)>();
            foreach (var r in asked)
            {
                if (!alive.Contains(r))
                {
                    exited.Add(r);
                    continue;
                }
                if (!turnOff) continue; // still running after the power button: Off false, no error
                try
                {
                    RouterProcess.Kill(r.Paths, TimeSpan.FromSeconds(5), cancellationToken);
                    exited.Add(r);
                }
                catch (VirtualNetworksException ex)
                {
                    results[r.Index] = (false, ex);
                }
            }
            AwaitReaps(exited.Select(r => (r.Pid, r.Start)).ToList(), cancellationToken);
            foreach (var r in exited)
            {
                try
                {
                    RouterProcess.RemoveRunFiles(r.Paths, includeConsole: false);
                    results[r.Index] = (true, null);
                }
                catch (VirtualNetworksException ex)
                {
                    results[r.Index] = (false, ex);
                }
            }
            return results;
        }

        /// <summary>
        /// Hard power-off of several routers at once, for their removal: each verified QEMU gets SIGTERM (QEMU's "terminating
        /// on signal 15", as clean an exit as QMP quit) right away, then all exits are awaited together (SIGKILL for one still
        /// alive after <paramref name="grace"/>), then all reaps, then the run files go (console logs stay). The time is that
        /// of the slowest exit, not the sum: measured, 8 routers one QMP quit after the other on 8 threads took 1.4 s of a
        /// 3.6 s Remove-VirtualNetwork. Returns one entry per name: null when that router is off now, else why not.
        /// <para>The reaps are what take long where PID 1 reaps late (measured here: QEMU a zombie 5 ms after SIGTERM, reaped
        /// 1.3-1.7 s later): with <paramref name="reapLater"/> they are not awaited here but added to it (pid and start time),
        /// for the caller to await with <see cref="AwaitReaps"/> once its other work is done.</para>
        /// </summary>
        public IReadOnlyList<Exception?> TurnOffAll(IReadOnlyList<string> names, TimeSpan grace, CancellationToken cancellationToken = default,
            ICollection<(int Pid, long? Start)>? reapLater = null)
        {
            if (names == null) throw new ArgumentNullException(nameof(names));
            var errors = new Exception?[names.Count];
            var running = new List<(int Index, RouterRunPaths Paths, int Pid, long? Start)>();
            for (int i = 0; i < names.Count; i++)
            {
                var paths = Paths(names[i]);
                var p = RouterProcess.Inspect(paths);
                if (p.State != VmProcessState.Running) continue;
                int pid = p.Pid!.Value;
                running.Add((i, paths, pid, RouterProcess.StartTicks(pid)));
                Posix.Kill(pid, Posix.SIGTERM); // Inspect just verified it is this router's QEMU
            }
            var deadline = Deadline.After(grace);
            var alive = new List<(int Index, RouterRunPaths Paths, int Pid, long? Start)>(running);
            bool killed = false;
            var hardDeadline = Deadline.After(grace + TimeSpan.FromSeconds(10));
            while (true)
            {
                alive.RemoveAll(r => !RouterProcess.IsAlive(r.Pid));
                if (alive.Count == 0) break;
                if (!killed && deadline.Expired)
                {
                    foreach (var r in alive)
                        if (RouterProcess.IsOurs(r.Pid, r.Paths)) Posix.Kill(r.Pid, Posix.SIGKILL);
                    killed = true;
                }
                if (killed && hardDeadline.Expired)
                {
                    foreach (var r in alive)
                        errors[r.Index] = new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.OperationTimeout, r.Paths.RouterName,
                            "The QEMU process " + r.Pid.ToString(CultureInfo.InvariantCulture) + " of router '" + r.Paths.RouterName + "' did not exit after SIGKILL.");
                    break;
                }
                if (cancellationToken.WaitHandle.WaitOne(20)) cancellationToken.ThrowIfCancellationRequested();
            }
            var exited = running.Where(r => errors[r.Index] == null).ToList();
            if (reapLater != null)
            {
                lock (reapLater)
                    foreach (var r in exited) reapLater.Add((r.Pid, r.Start));
            }
            else
            {
                AwaitReaps(exited.Select(r => (r.Pid, r.Start)).ToList(), cancellationToken);
            }
            foreach (var r in exited)
            {
                try { RouterProcess.RemoveRunFiles(r.Paths, includeConsole: false); }
                catch (VirtualNetworksException ex) { errors[r.Index] = ex; }
            }
            return errors;
        }

        /// <summary>
        /// Waits (bounded by <see cref="RouterProcess.ReapTimeout"/> for all together) until every exited process of
        /// <paramref name="exited"/> is reaped (<see cref="RouterProcess.WaitUntilReaped"/>).
        /// </summary>
        public static void AwaitReaps(IReadOnlyCollection<(int Pid, long? Start)> exited, CancellationToken cancellationToken = default)
        {
            var reapDeadline = Deadline.After(RouterProcess.ReapTimeout);
            foreach (var r in exited)
                RouterProcess.WaitUntilReaped(r.Pid, r.Start, reapDeadline.Remaining, cancellationToken);
        }

        /// <summary>Pauses the router's vCPUs (QMP stop) and checks QEMU reports "paused".</summary>
        public void Suspend(string name, CancellationToken cancellationToken = default) => SetRunning(name, false, cancellationToken);

        /// <summary>Resumes the router's vCPUs (QMP cont) and checks QEMU reports "running".</summary>
        public void Resume(string name, CancellationToken cancellationToken = default) => SetRunning(name, true, cancellationToken);

        private void SetRunning(string name, bool run, CancellationToken cancellationToken)
        {
            var p = RouterProcess.Inspect(Paths(name));
            if (p.State != VmProcessState.Running)
                throw new VirtualNetworksException(ErrorIds.InvalidStateTransition, ErrorKind.InvalidOperation, name,
                    "Router '" + name + "' cannot be " + (run ? "resumed" : "suspended") + ": " + p.Detail + ".");
            using (var q = Qmp(name, null, cancellationToken))
            {
                if (run) q.Cont(cancellationToken);
                else q.Stop(cancellationToken);
                string s = q.QueryStatus(cancellationToken);
                var expected = run ? RouterState.Running : RouterState.Paused;
                if (MapStatus(s) != expected)
                    throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.InvalidResult, name,
                        "Router '" + name + "': QEMU reports '" + s + "' after " + (run ? "cont" : "stop") + ".");
            }
        }
    }
}
