using System;
using System.Globalization;

namespace VirtualNetworks.Linux.Vm
{
    /// <summary>How a live migration is tuned and bounded (see docs/migration.md for the measured effect of each value).</summary>
    public sealed class MigrationOptions
    {
        /// <summary>
        /// Bound on the whole migration, from the first QMP command to the destination running. When it passes the
        /// migration is cancelled and the router keeps running on the source. Default 30 s (a 128 MB router needs
        /// about 0.55 s on one machine; the bound is for an underlay that is slow or cut).
        /// </summary>
        public TimeSpan TotalTimeout { get; set; } = TimeSpan.FromSeconds(30);

        /// <summary>
        /// QEMU "downtime-limit" in ms: the stop-and-copy phase starts once the remaining dirty memory can be sent in
        /// this time. QEMU's default is 300 ms; an idle router dirties little, so 50 ms converges at once.
        /// </summary>
        public int DowntimeLimitMilliseconds { get; set; } = 50;

        /// <summary>
        /// QEMU "max-bandwidth" in bytes/s; default 128 MiB/s (QEMU 7.2's own default, set explicitly so it does not
        /// depend on the QEMU version): a 128 MB router moves in ~0.55 s. Unlimited (8 GiB/s) moves it in ~0.15 s but
        /// widened the data-plane gap's tail on a 2-core machine (p95 55 vs 41 ms, docs/migration.md): the migration
        /// thread then competes with the vCPUs and the packet path for the CPUs.
        /// </summary>
        public long MaxBandwidthBytesPerSecond { get; set; } = 128L * 1024 * 1024;

        /// <summary>"As fast as possible" for <see cref="MaxBandwidthBytesPerSecond"/> (8 GiB/s).</summary>
        public const long Unlimited = 8L * 1024 * 1024 * 1024;

        /// <summary>
        /// Multifd channels (0 = off, the default). Multifd sends RAM over several TCP connections with their own
        /// threads: 3-4x faster transfer on loopback here, but no smaller gap and a wider tail (docs/migration.md). It must be
        /// enabled on both sides before "migrate-incoming", which this driver does.
        /// </summary>
        public int MultifdChannels { get; set; }

        /// <summary>How long to wait for a migration event before polling query-migrate again (progress reports).</summary>
        public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(50);

        /// <summary>How often at most a "transferred X of Y MB" progress line is reported.</summary>
        public TimeSpan ProgressInterval { get; set; } = TimeSpan.FromMilliseconds(200);

        /// <summary>
        /// After QEMU reports "completed": how long the destination may take to report "running" (it normally does
        /// within a few ms). Counted inside <see cref="TotalTimeout"/> as well.
        /// </summary>
        public TimeSpan DestinationStartTimeout { get; set; } = TimeSpan.FromSeconds(5);

        /// <summary>
        /// After a failure or timeout: how long "migrate_cancel" may take to bring the source back (outside
        /// <see cref="TotalTimeout"/>: recovery always gets its chance).
        /// </summary>
        public TimeSpan RecoveryTimeout { get; set; } = TimeSpan.FromSeconds(10);

        internal void Validate()
        {
            if (TotalTimeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(TotalTimeout), "The migration bound must be positive.");
            if (DowntimeLimitMilliseconds < 1 || DowntimeLimitMilliseconds > 2000000)
                throw new ArgumentOutOfRangeException(nameof(DowntimeLimitMilliseconds), "downtime-limit must be 1..2000000 ms.");
            if (MaxBandwidthBytesPerSecond < 1) throw new ArgumentOutOfRangeException(nameof(MaxBandwidthBytesPerSecond), "max-bandwidth must be positive.");
            if (MultifdChannels < 0 || MultifdChannels > 255) throw new ArgumentOutOfRangeException(nameof(MultifdChannels), "multifd channels must be 0..255.");
            if (PollInterval <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(PollInterval));
            if (DestinationStartTimeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(DestinationStartTimeout));
            if (RecoveryTimeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(RecoveryTimeout));
        }
    }

    /// <summary>Where the destination listens for the migration stream.</summary>
    public sealed class MigrationTarget
    {
        /// <param name="address">The destination host's underlay address (IPv4 or IPv6 literal) the stream is sent to.</param>
        /// <param name="port">TCP port; 0 lets the destination QEMU choose a free one (read back through query-migrate).</param>
        public MigrationTarget(string address, int port = 0)
        {
            if (string.IsNullOrWhiteSpace(address)) throw new ArgumentException("No destination address.", nameof(address));
            if (!System.Net.IPAddress.TryParse(address, out var ip))
                throw new ArgumentException("The destination address '" + address + "' is not an IP address literal.", nameof(address));
            if (port < 0 || port > 65535) throw new ArgumentOutOfRangeException(nameof(port));
            Address = ip.ToString();
            IsIPv6 = ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;
            Port = port;
        }

        public string Address { get; }
        public int Port { get; }
        public bool IsIPv6 { get; }

        /// <summary>"tcp:10.0.0.2:4444" or "tcp:[fd00::2]:4444".</summary>
        public string Uri(int port) => "tcp:" + (IsIPv6 ? "[" + Address + "]" : Address) + ":" + port.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>What the before-switch-over hook is told: the source is stopped, the destination not yet running.</summary>
    public sealed class MigrationSwitchoverContext
    {
        internal MigrationSwitchoverContext(string routerName, string uri, TimeSpan elapsed, long transferredBytes)
        {
            RouterName = routerName;
            Uri = uri;
            Elapsed = elapsed;
            TransferredBytes = transferredBytes;
        }

        public string RouterName { get; }
        public string Uri { get; }
        /// <summary>Time since the migration started.</summary>
        public TimeSpan Elapsed { get; }
        public long TransferredBytes { get; }
    }

    /// <summary>Timings and volumes of a completed migration.</summary>
    public sealed class MigrationResult
    {
        public string RouterName { get; internal set; } = "";
        /// <summary>The stream's URI ("tcp:&lt;ip&gt;:&lt;port&gt;").</summary>
        public string Uri { get; internal set; } = "";
        /// <summary>Wall time of the whole call: capabilities, migrate-incoming, transfer, switch-over, destination running.</summary>
        public TimeSpan Total { get; internal set; }
        /// <summary>Wall time before "migrate" was sent (destination listening, capabilities, parameters).</summary>
        public TimeSpan Preparation { get; internal set; }
        /// <summary>Wall time from "migrate" until the destination reported "running".</summary>
        public TimeSpan MigrateToRunning { get; internal set; }
        /// <summary>QEMU's "setup-time" (ms).</summary>
        public long QemuSetupMilliseconds { get; internal set; }
        /// <summary>QEMU's "total-time" (ms): from "migrate" to completion on the source.</summary>
        public long QemuTotalMilliseconds { get; internal set; }
        /// <summary>
        /// QEMU's "downtime" (ms): source vCPUs stopped until the last byte was sent — includes the before-switch-over
        /// hook, excludes the destination's start and the network's reaction (see docs/migration.md).
        /// </summary>
        public long QemuDowntimeMilliseconds { get; internal set; }
        /// <summary>
        /// The guest's blackout as QEMU stamped it (ms): the source's last STOP event until the destination's RESUME event
        /// (both processes stamp events with the same host clock). Null when an event is missing (e.g. a paused router).
        /// </summary>
        public double? GuestBlackoutMilliseconds { get; internal set; }
        /// <summary>The source's last STOP event as QEMU stamped it (Unix time, ms; the host's wall clock); null if missing.</summary>
        public double? SourceStoppedAtUnixMilliseconds { get; internal set; }
        /// <summary>The destination's last RESUME event as QEMU stamped it (Unix time, ms; the host's wall clock); null if missing.</summary>
        public double? DestinationResumedAtUnixMilliseconds { get; internal set; }
        /// <summary>Time the before-switch-over hook took (the guest is stopped meanwhile); zero without a hook.</summary>
        public TimeSpan SwitchoverHook { get; internal set; }
        public long RamTotalBytes { get; internal set; }
        public long TransferredBytes { get; internal set; }
        /// <summary>RAM passes (QEMU's dirty-sync-count).</summary>
        public long Passes { get; internal set; }
        /// <summary>The destination's status at the end ("running", or "paused" when the source was paused).</summary>
        public string DestinationStatus { get; internal set; } = "";
        /// <summary>The source's status at the end ("postmigrate"): the caller stops it.</summary>
        public string SourceStatus { get; internal set; } = "";

        public override string ToString() =>
            "total " + Ms(Total) + " ms (preparation " + Ms(Preparation) + ", migrate-to-running " + Ms(MigrateToRunning) + "), QEMU setup " +
            QemuSetupMilliseconds.ToString(CultureInfo.InvariantCulture) + " ms, total " + QemuTotalMilliseconds.ToString(CultureInfo.InvariantCulture) +
            " ms, downtime " + QemuDowntimeMilliseconds.ToString(CultureInfo.InvariantCulture) + " ms" +
            (GuestBlackoutMilliseconds is double b ? ", guest blackout " + b.ToString("0.0", CultureInfo.InvariantCulture) + " ms" : "") + ", hook " + Ms(SwitchoverHook) + " ms, " +
            (TransferredBytes / 1048576.0).ToString("0.0", CultureInfo.InvariantCulture) + " of " + (RamTotalBytes / 1048576.0).ToString("0.0", CultureInfo.InvariantCulture) +
            " MB in " + Passes.ToString(CultureInfo.InvariantCulture) + " passes";

        private static string Ms(TimeSpan t) => t.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture);
    }

    /// <summary>Why a migration did not complete.</summary>
    public enum MigrationFailureReason
    {
        /// <summary>The destination QEMU is not waiting for a migration (not "-incoming defer", dead, or its QMP broke).</summary>
        DestinationNotReady = 1,
        /// <summary>The source is not in a state that can migrate (not running or paused).</summary>
        SourceNotReady,
        /// <summary>QEMU reported the migration failed (destination died, stream cut, load error on the destination).</summary>
        Failed,
        /// <summary>No completion within <see cref="MigrationOptions.TotalTimeout"/> (e.g. it cannot converge): cancelled.</summary>
        Timeout,
        /// <summary>The caller's cancellation token fired: cancelled.</summary>
        Cancelled,
        /// <summary>The before-switch-over hook threw: cancelled.</summary>
        SwitchoverHookFailed,
        /// <summary>QEMU completed the transfer but the destination did not report "running": the source was resumed.</summary>
        DestinationDidNotStart,
        /// <summary>The after-completion hook threw; the router runs on the destination (there is no way back).</summary>
        CompletionHookFailed,
    }

    /// <summary>
    /// A live migration that did not complete. <see cref="RunsOnSource"/> says whether the router was left running on
    /// the source (true for every reason except <see cref="MigrationFailureReason.CompletionHookFailed"/>, unless the
    /// recovery itself failed, which the message then says).
    /// </summary>
    [Serializable]
    public sealed class MigrationFailedException : VirtualNetworksException
    {
        public MigrationFailedException(string router, MigrationFailureReason reason, ErrorKind kind, string message, bool runsOnSource,
            string? sourceStatus, string? qemuError, Exception? inner = null)
            : base(ErrorIds.BackendOperationFailed, kind, router, message, inner)
        {
            Reason = reason;
            RunsOnSource = runsOnSource;
            SourceStatus = sourceStatus;
            QemuError = qemuError;
        }

        public MigrationFailureReason Reason { get; }
        /// <summary>True when the router is running (or paused, as it was before) on the source after the failure.</summary>
        public bool RunsOnSource { get; }
        /// <summary>The source's QEMU status after recovery, when known.</summary>
        public string? SourceStatus { get; }
        /// <summary>QEMU's own words ("error-desc" of query-migrate, or the QMP error), when there were any.</summary>
        public string? QemuError { get; }
    }
}
