using System;
using System.Globalization;
using Newtonsoft.Json;
using Newtonsoft.Json.Converters;

namespace VirtualNetworks.Linux.State
{
    /// <summary>
    /// The phase journal of a router's migration (docs/migration.md, "Crash recovery"), kept in the router's record
    /// (<see cref="RouterRecord.Migration"/>) so that the host/run-slot switch and the journal's phase change in one atomic
    /// record write. Written before the migration touches anything, advanced at each phase that changes what a crash leaves
    /// behind, and removed once the router runs in exactly one place with its links wired there. A record that still carries
    /// it after the command ended means the command was killed (or failed half-way): the next command that touches the
    /// router reconciles it (<c>LinuxBackend.ReconcileMigration</c>) from what both QEMUs and the record say, using the
    /// journal for what cannot be observed (where the router came from and went to, which run slot each instance uses,
    /// whether it was paused).
    /// </summary>
    public sealed class MigrationJournal
    {
        /// <summary><see cref="Live"/> or <see cref="Cold"/>.</summary>
        [JsonProperty("mode")]
        public string Mode { get; set; } = Live;

        /// <summary>The last phase reached (one of the constants below).</summary>
        [JsonProperty("phase")]
        public string Phase { get; set; } = "";

        /// <summary>The host the router was on when the migration started.</summary>
        [JsonProperty("source")]
        public string Source { get; set; } = "";

        /// <summary>The host it is being moved to.</summary>
        [JsonProperty("destination")]
        public string Destination { get; set; } = "";

        /// <summary>The source instance's run slot (null = run/).</summary>
        [JsonProperty("sourceSlot", NullValueHandling = NullValueHandling.Include)]
        public string? SourceSlot { get; set; }

        /// <summary>The destination instance's run slot (live: the other slot; cold: null, a fresh start uses run/).</summary>
        [JsonProperty("destinationSlot", NullValueHandling = NullValueHandling.Include)]
        public string? DestinationSlot { get; set; }

        /// <summary>True when the router ran (or was paused) when the migration started: a cold move starts it again.</summary>
        [JsonProperty("wasRunning")]
        public bool WasRunning { get; set; }

        /// <summary>True when the router was paused when the migration started: it stays paused wherever it ends up.</summary>
        [JsonProperty("wasPaused")]
        public bool WasPaused { get; set; }

        /// <summary>The router's desired state when the migration started.</summary>
        [JsonProperty("desiredState")]
        [JsonConverter(typeof(StringEnumConverter))]
        public RouterState DesiredState { get; set; } = RouterState.Running;

        /// <summary>When the migration started (UTC).</summary>
        [JsonProperty("started")]
        public DateTime StartedUtc { get; set; } = DateTime.UtcNow;

        /// <summary>The process that ran the migration (for messages: which run was interrupted).</summary>
        [JsonProperty("pid")]
        public int ProcessId { get; set; }

        /// <summary>
        /// That process's start time (field 22 of /proc/&lt;pid&gt;/stat, clock ticks since boot), so that a reused pid is not
        /// taken for the process still running the migration; null when unknown.
        /// </summary>
        [JsonProperty("processStart", NullValueHandling = NullValueHandling.Ignore)]
        public long? ProcessStart { get; set; }

        // ------------------------------------------------------------------------------------------------ modes

        public const string Live = "live";
        public const string Cold = "cold";

        // ------------------------------------------------------------------------------------------------ live phases

        /// <summary>Journal written; the destination's wiring and QEMU are being prepared (the source runs the router).</summary>
        public const string LivePreparing = "preparing";

        /// <summary>The destination QEMU (-incoming defer) was launched; the stream and the switch-over follow.</summary>
        public const string LiveMigrating = "migrating";

        /// <summary>
        /// The destination runs the router and the record names it (host and run slot switched in the same write); the
        /// source QEMU's end and the links' rewiring follow.
        /// </summary>
        public const string LiveCommitted = "committed";

        // ------------------------------------------------------------------------------------------------ cold phases

        /// <summary>Journal written; the router is being powered off on the source.</summary>
        public const string ColdStopping = "stopping";

        /// <summary>The router is off; the record is about to name the destination and its links to be wired there.</summary>
        public const string ColdStopped = "stopped";

        /// <summary>The record names the destination (links wired or being wired); the router is (re)started there.</summary>
        public const string ColdPlaced = "placed";

        /// <summary>"live migration h1 -> h2 interrupted at 'migrating' (pid 1234, 2026-12-07 14:00:00 UTC)".</summary>
        public string Describe() =>
            Mode + " migration " + Source + " -> " + Destination + " interrupted at '" + Phase + "' (pid " +
            ProcessId.ToString(CultureInfo.InvariantCulture) + ", started " + StartedUtc.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) + " UTC)";
    }
}
