using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Threading;
using Newtonsoft.Json.Linq;

namespace VirtualNetworks.Linux.Vm
{
    /// <summary>
    /// Live migration of one router's QEMU from a running source to a destination QEMU started with the same
    /// arguments plus "-incoming defer", over QMP on both (docs/migration.md).
    /// </summary>
    /// <remarks>
    /// <para>Steps: check both sides (source "running" or "paused", destination "inmigrate"); capabilities on both
    /// (events; multifd when asked; pause-before-switchover on the source when a <see cref="BeforeSwitchover"/> hook is
    /// set); destination "migrate-incoming" on <see cref="MigrationTarget"/> (port 0: QEMU picks one); source
    /// parameters (downtime-limit, max-bandwidth); "migrate"; then MIGRATION events and query-migrate polls until
    /// "completed" — calling the hook and "migrate-continue" at "pre-switchover" — and the destination reports
    /// "running" ("cont" when it stays paused although the source ran). The source is left "postmigrate": the caller
    /// ends it.</para>
    /// <para>Failure (QEMU reports "failed", the bound <see cref="MigrationOptions.TotalTimeout"/> passes, the token
    /// fires, the hook throws, the destination does not start): "migrate_cancel" if still under way, the destination
    /// is ended (<see cref="AbortDestination"/>, else QMP "quit"), the source resumed ("cont") if it ran before, and a
    /// <see cref="MigrationFailedException"/> says why and in which state the source is. The driver does not own the
    /// QMP clients: the caller disposes them.</para>
    /// <para>The before-switch-over hook runs while the source's vCPUs are stopped and before the destination's start:
    /// its duration adds to the data-plane gap, so it must be quick (repointing tunnel FDB entries takes a few ms).</para>
    /// </remarks>
    public sealed class MigrationDriver
    {
        private static readonly HashSet<string> InProgress = new HashSet<string>(StringComparer.Ordinal)
        {
            "setup", "active", "pre-switchover", "device", "wait-unplug", "cancelling",
        };

        private readonly Stopwatch _clock = new Stopwatch();
        private bool _sourceWasRunning;
        private string _uri = "";
        private JObject _last = new JObject();

        public MigrationDriver(string routerName, QmpClient source, QmpClient destination, MigrationTarget target, MigrationOptions? options = null)
        {
            RouterName = routerName ?? throw new ArgumentNullException(nameof(routerName));
            Source = source ?? throw new ArgumentNullException(nameof(source));
            Destination = destination ?? throw new ArgumentNullException(nameof(destination));
            Target = target ?? throw new ArgumentNullException(nameof(target));
            Options = options ?? new MigrationOptions();
            Options.Validate();
        }

        public string RouterName { get; }
        public QmpClient Source { get; }
        public QmpClient Destination { get; }
        public MigrationTarget Target { get; }
        public MigrationOptions Options { get; }

        /// <summary>
        /// Called at the switch-over: the source is stopped, RAM is (nearly) all sent, the destination is not yet
        /// running. Enables QEMU's pause-before-switchover. Throwing cancels the migration (the source resumes).
        /// </summary>
        public Action<MigrationSwitchoverContext>? BeforeSwitchover { get; set; }

        /// <summary>
        /// Called right after "migrate-continue" (the source sends its last state while this runs): the place to wait for
        /// work <see cref="BeforeSwitchover"/> only started, so the stopped guest does not wait for it. There is no way back
        /// here: an exception is reported as a progress line ("switch-over: ...") and the migration goes on.
        /// </summary>
        public Action<MigrationSwitchoverContext>? AfterSwitchoverContinue { get; set; }

        /// <summary>Called once the destination runs. Throwing gives <see cref="MigrationFailureReason.CompletionHookFailed"/> (no way back).</summary>
        public Action<MigrationResult>? AfterCompletion { get; set; }

        /// <summary>Ends the destination QEMU after a failure (e.g. kill its verified process); null = QMP "quit" on it.</summary>
        public Action? AbortDestination { get; set; }

        /// <summary>
        /// TEST SEAM, not a feature: called with "streaming" (the source accepted "migrate"), "pre-switchover" (the source is
        /// stopped at pre-switchover and <see cref="BeforeSwitchover"/> ran; "migrate-continue" not sent yet) and
        /// "switched-over" ("migrate-continue" sent, completion not seen yet). It runs outside the driver's recovery: an
        /// exception it throws leaves the driver at once, as a crash of the process would (tests of the backend's crash
        /// recovery). Nothing in the product sets it.
        /// </summary>
        internal Action<string>? CrashPoint { get; set; }

        /// <summary>Human-readable progress: "transferred X of Y MB", "switching over", ...</summary>
        public IProgress<string>? Progress { get; set; }

        /// <summary>Runs the migration; returns its timings or throws <see cref="MigrationFailedException"/>.</summary>
        public MigrationResult Run(CancellationToken cancellationToken = default)
        {
            _clock.Restart();
            var o = Options;

            // 1. Both ends must be in the right state; nothing has been changed yet.
            string srcStatus;
            try
            {
                srcStatus = Source.QueryStatus();
            }
            catch (VirtualNetworksException ex)
            {
                throw new MigrationFailedException(RouterName, MigrationFailureReason.SourceNotReady, ErrorKind.ConnectionError,
                    Head() + "the source QEMU does not answer on QMP: " + ex.Message, false, null, null, ex);
            }
            if (srcStatus != "running" && srcStatus != "paused")
                throw new MigrationFailedException(RouterName, MigrationFailureReason.SourceNotReady, ErrorKind.InvalidOperation,
                    Head() + "the source is '" + srcStatus + "', not running or paused; nothing was changed.", srcStatus == "running", srcStatus, null);
            _sourceWasRunning = srcStatus == "running";

            string dstStatus;
            try
            {
                dstStatus = Destination.QueryStatus();
            }
            catch (VirtualNetworksException ex)
            {
                throw Fail(MigrationFailureReason.DestinationNotReady, ErrorKind.ConnectionError, "the destination QEMU does not answer on QMP: " + ex.Message, null, ex);
            }
            if (dstStatus != "inmigrate")
                throw Fail(MigrationFailureReason.DestinationNotReady, ErrorKind.InvalidOperation,
                    "the destination QEMU is '" + dstStatus + "', not waiting for a migration (start it with -incoming defer)", null, null);

            // 2. Destination listens; source tuned.
            bool multifd = o.MultifdChannels > 0;
            int port;
            try
            {
                var dcaps = new List<KeyValuePair<string, bool>> { Cap("events", true) };
                if (multifd) dcaps.Add(Cap("multifd", true));
                Destination.MigrateSetCapabilities(dcaps);
                if (multifd) Destination.MigrateSetParameters(new JObject { ["multifd-channels"] = o.MultifdChannels });
                Destination.MigrateIncoming(Target.Uri(Target.Port));
                port = Target.Port != 0 ? Target.Port : Destination.IncomingPort() ??
                    throw Fail(MigrationFailureReason.DestinationNotReady, ErrorKind.InvalidResult,
                        "the destination QEMU did not say which port it listens on (give a fixed port)", null, null);
            }
            catch (VirtualNetworksException ex) when (!(ex is MigrationFailedException))
            {
                throw Fail(MigrationFailureReason.DestinationNotReady, ErrorKind.ConnectionError,
                    "the destination cannot listen on " + Target.Uri(Target.Port) + ": " + ex.Message, QemuWords(ex), ex);
            }
            _uri = Target.Uri(port);
            Report("destination listening on " + _uri);

            try
            {
                Source.MigrateSetCapabilities(new[]
                {
                    Cap("events", true),
                    Cap("pause-before-switchover", BeforeSwitchover != null),
                    Cap("multifd", multifd),
                });
                var p = new JObject
                {
                    ["downtime-limit"] = o.DowntimeLimitMilliseconds,
                    ["max-bandwidth"] = o.MaxBandwidthBytesPerSecond,
                };
                if (multifd) p["multifd-channels"] = o.MultifdChannels;
                Source.MigrateSetParameters(p);
            }
            catch (VirtualNetworksException ex)
            {
                throw Fail(MigrationFailureReason.SourceNotReady, ErrorKind.InvalidOperation, "the source refused the migration settings: " + ex.Message, QemuWords(ex), ex);
            }

            // 3. Migrate and watch.
            var result = new MigrationResult { RouterName = RouterName, Uri = _uri, Preparation = _clock.Elapsed };
            int eventIndex = Source.Events.Count;
            try
            {
                Source.Migrate(_uri);
            }
            catch (VirtualNetworksException ex)
            {
                throw Fail(MigrationFailureReason.Failed, ErrorKind.ConnectionError, "QEMU did not start the migration: " + ex.Message, QemuWords(ex), ex);
            }
            var migrateStarted = _clock.Elapsed;
            CrashPoint?.Invoke("streaming");
            var lastProgress = TimeSpan.FromDays(-1);
            bool switching = false;
            while (true)
            {
                if (cancellationToken.IsCancellationRequested)
                    throw Fail(MigrationFailureReason.Cancelled, ErrorKind.OperationStopped, "it was cancelled by the caller after " + Secs(_clock.Elapsed) + " (" + Describe(_last) + ")", null, null);
                var left = o.TotalTimeout - _clock.Elapsed;
                if (left <= TimeSpan.Zero)
                    throw Fail(MigrationFailureReason.Timeout, ErrorKind.OperationTimeout, "it did not complete within its bound of " + Secs(o.TotalTimeout) + " and was cancelled (" +
                        Describe(_last) + "; downtime-limit " + o.DowntimeLimitMilliseconds.ToString(CultureInfo.InvariantCulture) + " ms, max-bandwidth " +
                        Mb(o.MaxBandwidthBytesPerSecond) + " MB/s)", null, null);
                string status;
                try
                {
                    Source.WaitForEvent("MIGRATION", null, eventIndex, left < o.PollInterval ? left : o.PollInterval);
                    bool atSwitchover = false;
                    for (int i = eventIndex; i < Source.Events.Count; i++)
                        if ((string?)Source.Events[i]["event"] == "MIGRATION" && (string?)Source.Events[i]["data"]?["status"] == "pre-switchover") atSwitchover = true;
                    eventIndex = Source.Events.Count;
                    if (atSwitchover && !switching && BeforeSwitchover != null)
                    {
                        // QEMU holds the stopped source at pre-switchover until migrate-continue: no query needed (the
                        // guest is stopped, every millisecond counts).
                        status = "pre-switchover";
                    }
                    else
                    {
                        _last = Source.QueryMigrate();
                        status = (string?)_last["status"] ?? "";
                    }
                }
                catch (VirtualNetworksException ex)
                {
                    throw Fail(MigrationFailureReason.Failed, ex.Kind, "the source's QMP connection failed during the migration: " + ex.Message, null, ex);
                }

                if (status == "completed") break;
                if (status == "failed")
                {
                    string desc = (string?)_last["error-desc"] ?? "QEMU gave no reason";
                    throw Fail(MigrationFailureReason.Failed, ErrorKind.ConnectionError,
                        "QEMU reports the migration failed: " + desc + " (did the destination or the underlay fail?)", desc, null);
                }
                if (status == "cancelled" || status == "cancelling")
                    throw Fail(MigrationFailureReason.Cancelled, ErrorKind.OperationStopped, "it was cancelled outside this driver (migrate_cancel)", null, null);
                if (status == "pre-switchover")
                {
                    if (!switching) Report("switching over");
                    switching = true;
                    var hookClock = Stopwatch.StartNew();
                    try
                    {
                        BeforeSwitchover?.Invoke(new MigrationSwitchoverContext(RouterName, _uri, _clock.Elapsed, Long(_last, "ram", "transferred")));
                    }
                    catch (Exception ex) when (!(ex is OutOfMemoryException))
                    {
                        throw Fail(MigrationFailureReason.SwitchoverHookFailed, ErrorKind.InvalidOperation,
                            "the preparation before the switch-over failed, so the migration was cancelled: " + ex.Message, null, ex);
                    }
                    result.SwitchoverHook = hookClock.Elapsed;
                    CrashPoint?.Invoke("pre-switchover");
                    try
                    {
                        Source.MigrateContinue("pre-switchover");
                    }
                    catch (VirtualNetworksException ex)
                    {
                        throw Fail(MigrationFailureReason.Failed, ErrorKind.InvalidOperation, "migrate-continue failed: " + ex.Message, QemuWords(ex), ex);
                    }
                    if (AfterSwitchoverContinue != null)
                    {
                        try
                        {
                            AfterSwitchoverContinue(new MigrationSwitchoverContext(RouterName, _uri, _clock.Elapsed, Long(_last, "ram", "transferred")));
                        }
                        catch (Exception ex) when (!(ex is OutOfMemoryException))
                        {
                            Report("switch-over: " + ex.Message);
                        }
                    }
                    CrashPoint?.Invoke("switched-over");
                    continue;
                }
                if (status == "device")
                {
                    if (!switching) Report("switching over");
                    switching = true;
                    continue;
                }
                if (status != "setup" && status != "active" && status != "wait-unplug" && status != "none")
                    throw Fail(MigrationFailureReason.Failed, ErrorKind.InvalidResult, "QEMU reports the unexpected migration status '" + status + "'", null, null);
                if (status == "active" && _clock.Elapsed - lastProgress >= o.ProgressInterval)
                {
                    lastProgress = _clock.Elapsed;
                    Report("transferred " + Mb(Long(_last, "ram", "transferred")) + " of " + Mb(Long(_last, "ram", "total")) + " MB (pass " +
                           Long(_last, "ram", "dirty-sync-count").ToString(CultureInfo.InvariantCulture) + ", remaining " + Mb(Long(_last, "ram", "remaining")) + " MB)");
                }
            }

            result.QemuSetupMilliseconds = Long(_last, "setup-time");
            result.QemuTotalMilliseconds = Long(_last, "total-time");
            result.QemuDowntimeMilliseconds = Long(_last, "downtime");
            result.RamTotalBytes = Long(_last, "ram", "total");
            result.TransferredBytes = Long(_last, "ram", "transferred");
            result.Passes = Long(_last, "ram", "dirty-sync-count");

            // 4. The destination must run (QEMU starts it by itself unless it was started with -S / the source was paused).
            var startBound = Stopwatch.StartNew();
            string dst = "";
            try
            {
                while (true)
                {
                    dst = Destination.QueryStatus();
                    if (dst == "running") break;
                    if ((dst == "paused" || dst == "prelaunch") && _sourceWasRunning)
                    {
                        Destination.Cont();
                        continue;
                    }
                    if ((dst == "paused" || dst == "prelaunch") && !_sourceWasRunning) break;
                    if (dst != "inmigrate" && dst != "finish-migrate" && dst != "restore-vm")
                        throw Fail(MigrationFailureReason.DestinationDidNotStart, ErrorKind.InvalidResult,
                            "the transfer completed but the destination QEMU is '" + dst + "' instead of running", null, null);
                    if (startBound.Elapsed > o.DestinationStartTimeout)
                        throw Fail(MigrationFailureReason.DestinationDidNotStart, ErrorKind.OperationTimeout,
                            "the transfer completed but the destination was still '" + dst + "' after " + Secs(o.DestinationStartTimeout), null, null);
                    Thread.Sleep(2);
                }
            }
            catch (VirtualNetworksException ex) when (!(ex is MigrationFailedException))
            {
                throw Fail(MigrationFailureReason.DestinationDidNotStart, ex.Kind, "the transfer completed but the destination failed to start: " + ex.Message, QemuWords(ex), ex);
            }
            result.MigrateToRunning = _clock.Elapsed - migrateStarted;
            result.DestinationStatus = dst;
            result.GuestBlackoutMilliseconds = Blackout(Source.Events, Destination.Events);
            result.SourceStoppedAtUnixMilliseconds = LastStamp(Source.Events, "STOP");
            result.DestinationResumedAtUnixMilliseconds = LastStamp(Destination.Events, "RESUME");
            // QEMU sets "completed" a moment before it fills total-time and downtime: read them again if still zero.
            try
            {
                for (int i = 0; i < 20 && Long(_last, "total-time") == 0; i++)
                {
                    if (i > 0) Thread.Sleep(5);
                    _last = Source.QueryMigrate();
                }
                result.QemuSetupMilliseconds = Long(_last, "setup-time");
                result.QemuTotalMilliseconds = Long(_last, "total-time");
                result.QemuDowntimeMilliseconds = Long(_last, "downtime");
            }
            catch (VirtualNetworksException)
            {
                // Statistics only.
            }
            try
            {
                result.SourceStatus = Source.QueryStatus();
            }
            catch (VirtualNetworksException)
            {
                result.SourceStatus = "unknown";
            }
            result.Total = _clock.Elapsed;
            Report("completed: destination " + dst + " (" + result + ")");

            if (AfterCompletion != null)
            {
                try
                {
                    AfterCompletion(result);
                }
                catch (Exception ex) when (!(ex is OutOfMemoryException))
                {
                    throw new MigrationFailedException(RouterName, MigrationFailureReason.CompletionHookFailed, ErrorKind.InvalidOperation,
                        Head() + "the router now runs on the destination, but the work after the switch-over failed: " + ex.Message, false, result.SourceStatus, null, ex);
                }
            }
            return result;
        }

        /// <summary>The source's last STOP event to the destination's last RESUME event, from QEMU's timestamps (ms); null if either is missing.</summary>
        internal static double? Blackout(IReadOnlyList<JObject> sourceEvents, IReadOnlyList<JObject> destinationEvents)
        {
            var stop = LastStamp(sourceEvents, "STOP");
            var resume = LastStamp(destinationEvents, "RESUME");
            return stop.HasValue && resume.HasValue && resume.Value >= stop.Value ? resume.Value - stop.Value : (double?)null;
        }

        /// <summary>QEMU's timestamp (Unix time, ms) of the last event named <paramref name="name"/>; null if none or unstamped.</summary>
        internal static double? LastStamp(IReadOnlyList<JObject> events, string name)
        {
            for (int i = events.Count - 1; i >= 0; i--)
            {
                if (!string.Equals((string?)events[i]["event"], name, StringComparison.Ordinal)) continue;
                var t = events[i]["timestamp"];
                long? s = (long?)t?["seconds"], us = (long?)t?["microseconds"];
                return s.HasValue && us.HasValue ? s.Value * 1000.0 + us.Value / 1000.0 : (double?)null;
            }
            return null;
        }

        /// <summary>Recovers (cancel, end the destination, resume the source) and builds the exception saying why and how it ended.</summary>
        private MigrationFailedException Fail(MigrationFailureReason reason, ErrorKind kind, string why, string? qemuError, Exception? inner)
        {
            var notes = new List<string>();
            var recovery = Stopwatch.StartNew();
            // Cancel what is still under way; QEMU resumes a source it stopped for the switch-over by itself.
            try
            {
                var m = Source.QueryMigrate();
                string st = (string?)m["status"] ?? "";
                if (InProgress.Contains(st) && st != "cancelling") Source.MigrateCancel();
                while (InProgress.Contains(st) && recovery.Elapsed < Options.RecoveryTimeout)
                {
                    Thread.Sleep(10);
                    st = (string?)Source.QueryMigrate()["status"] ?? "";
                }
                if (InProgress.Contains(st)) notes.Add("the source's migration was still '" + st + "' " + Secs(Options.RecoveryTimeout) + " after migrate_cancel");
            }
            catch (VirtualNetworksException ex)
            {
                notes.Add("cancelling on the source failed: " + ex.Message);
            }

            // End the destination before resuming the source: never two copies of the router running.
            try
            {
                if (AbortDestination != null) AbortDestination();
                else Destination.Quit();
            }
            catch (Exception ex) when (!(ex is OutOfMemoryException))
            {
                notes.Add("ending the destination QEMU failed: " + ex.Message);
            }

            string? srcStatus = null;
            bool runs = false;
            try
            {
                srcStatus = Source.QueryStatus();
                while (srcStatus == "finish-migrate" && recovery.Elapsed < Options.RecoveryTimeout)
                {
                    Thread.Sleep(10);
                    srcStatus = Source.QueryStatus();
                }
                if (_sourceWasRunning && srcStatus != "running")
                {
                    Source.Cont();
                    srcStatus = Source.QueryStatus();
                }
                runs = _sourceWasRunning ? srcStatus == "running" : srcStatus == "paused" || srcStatus == "running";
            }
            catch (VirtualNetworksException ex)
            {
                notes.Add("resuming the source failed: " + ex.Message);
            }

            string outcome = runs
                ? " The router keeps running on the source (status " + srcStatus + ")" + (_sourceWasRunning ? "" : ", paused as before") + "; the destination QEMU was ended."
                : " The router could NOT be resumed on the source (status " + (srcStatus ?? "unknown") + ").";
            string extra = notes.Count == 0 ? "" : " Recovery: " + string.Join("; ", notes) + ".";
            return new MigrationFailedException(RouterName, reason, kind, Head() + why + "." + outcome + extra, runs, srcStatus, qemuError, inner);
        }

        private string Head() =>
            "Live migration of router '" + RouterName + "'" + (_uri.Length > 0 ? " to " + _uri : "") + " failed: ";

        private void Report(string text) => Progress?.Report(text);

        private static KeyValuePair<string, bool> Cap(string name, bool on) => new KeyValuePair<string, bool>(name, on);

        private static string? QemuWords(VirtualNetworksException ex)
        {
            int i = ex.Message.IndexOf("failed: ", StringComparison.Ordinal);
            return i < 0 ? null : ex.Message.Substring(i + 8).TrimEnd('.');
        }

        private static long Long(JObject o, params string[] path)
        {
            JToken? t = o;
            foreach (var p in path) t = t is JObject jo ? jo[p] : null;
            if (t == null) return 0;
            try
            {
                return t.Type == JTokenType.Float ? (long)(double)t : (long)t;
            }
            catch (Exception ex) when (ex is FormatException || ex is InvalidCastException || ex is OverflowException || ex is ArgumentException)
            {
                return 0;
            }
        }

        private static string Describe(JObject m)
        {
            if (m.Count == 0) return "no progress reported";
            var s = "status " + ((string?)m["status"] ?? "?") + ", " + Mb(Long(m, "ram", "transferred")) + " of " + Mb(Long(m, "ram", "total")) + " MB sent, " +
                    Mb(Long(m, "ram", "remaining")) + " MB remaining, pass " + Long(m, "ram", "dirty-sync-count").ToString(CultureInfo.InvariantCulture);
            if (m["ram"]?["dirty-pages-rate"] != null) s += ", dirty rate " + Long(m, "ram", "dirty-pages-rate").ToString(CultureInfo.InvariantCulture) + " pages/s";
            if (m["expected-downtime"] != null) s += ", expected downtime " + Long(m, "expected-downtime").ToString(CultureInfo.InvariantCulture) + " ms";
            return s;
        }

        private static string Mb(long bytes) => (bytes / 1048576.0).ToString("0.0", CultureInfo.InvariantCulture);

        private static string Secs(TimeSpan t) => t.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + " s";
    }
}
