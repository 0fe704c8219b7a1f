using System;
using System.Diagnostics;
using VirtualNetworks.Linux.State;
using Xunit;
using View = VirtualNetworks.Linux.LinuxBackend.InstanceView;

namespace VirtualNetworks.Linux.Tests
{
    /// <summary>
    /// The migration journal (its place in the router record, its round trip through the state file format), the decision
    /// table that keeps one copy of an interrupted live migration (docs/migration.md, "Crash recovery") and how inventory
    /// reports an interrupted migration. The end-to-end behaviour is in <see cref="EndToEndMigrationCrashTests"/>.
    /// </summary>
    public sealed class MigrationJournalTests
    {
        private static View Up(string? status, string? migration = null) => new View(null) { Alive = true, Status = status, Migration = migration };
        private static View Down() => new View(null);

        [Theory]
        // destination loaded the stream, source gave it away (or is gone): the destination
        [InlineData("running", "postmigrate", false, "Destination")]
        [InlineData("running", null, false, "Destination")] // source QMP silent: it completed the stream anyway
        [InlineData("running", "-", false, "Destination")] // source gone
        [InlineData("paused", "postmigrate", false, "Destination")] // a paused router's destination
        // both run the guest: the record decides
        [InlineData("running", "running", false, "Source")]
        [InlineData("running", "running", true, "Destination")]
        // the destination never took over: the source, whatever it is doing
        [InlineData("inmigrate", "pre-switchover", false, "Source")]
        [InlineData("inmigrate", "finish-migrate", false, "Source")]
        [InlineData("inmigrate", "running", false, "Source")]
        [InlineData("inmigrate", "paused", false, "Source")]
        [InlineData("-", "postmigrate", false, "Source")] // completed, destination died: the only copy
        [InlineData("-", "postmigrate", true, "Source")]
        [InlineData("-", "running", false, "Source")]
        // nothing to keep, or nothing known
        [InlineData("-", "-", false, "None")]
        [InlineData("inmigrate", "-", true, "None")]
        [InlineData("inmigrate", "internal-error", false, "None")]
        [InlineData("inmigrate", null, false, "Undecided")]
        [InlineData("-", null, false, "Undecided")]
        public void Decision_keeps_exactly_one_copy(string destination, string? source, bool committed, string expected)
        {
            var dst = destination == "-" ? Down() : Up(destination);
            var src = source == "-" ? Down() : Up(source);
            Assert.Equal(expected, LinuxBackend.DecideSurvivor(src, dst, committed).ToString());
        }

        [Fact]
        public void The_journal_round_trips_through_the_router_record_and_is_absent_by_default()
        {
            var rec = new RouterRecord
            {
                Name = "r2", Image = "router", Host = "h1", RunSlot = null,
                Migration = new MigrationJournal
                {
                    Mode = MigrationJournal.Live, Phase = MigrationJournal.LiveMigrating, Source = "h1", Destination = "h2",
                    SourceSlot = null, DestinationSlot = StateStore.MigrationSlot, WasRunning = true, WasPaused = false,
                    DesiredState = RouterState.Running, ProcessId = 4242, ProcessStart = 123456,
                },
            };
            string text = StateStore.Serialize(rec);
            Assert.Contains("\"migration\"", text, StringComparison.Ordinal);
            var back = StateStore.Parse<RouterRecord>(text, "r2.json", "router");
            var j = Assert.IsType<MigrationJournal>(back.Migration);
            Assert.Equal((MigrationJournal.Live, MigrationJournal.LiveMigrating, "h1", "h2", (string?)null, StateStore.MigrationSlot, true, false, 4242, (long?)123456),
                (j.Mode, j.Phase, j.Source, j.Destination, j.SourceSlot, j.DestinationSlot, j.WasRunning, j.WasPaused, j.ProcessId, j.ProcessStart));
            Assert.False(back.Extra.ContainsKey("migration"));

            rec.Migration = null;
            text = StateStore.Serialize(rec);
            Assert.DoesNotContain("migration", text, StringComparison.Ordinal);
            Assert.Null(StateStore.Parse<RouterRecord>(text, "r2.json", "router").Migration);
        }

        [Fact]
        public void Inventory_reports_an_interrupted_migration_as_failed_but_not_one_under_way_in_a_live_process()
        {
            var rec = new RouterRecord { Name = "r2" };
            Assert.Null(LinuxBackend.InterruptedMigrationState(rec));

            // The process that wrote the journal is gone: interrupted.
            using var gone = Process.Start(new ProcessStartInfo("/bin/true") { UseShellExecute = false })!;
            gone.WaitForExit();
            rec.Migration = new MigrationJournal { Source = "h1", Destination = "h2", Phase = MigrationJournal.LivePreparing, ProcessId = gone.Id };
            var shown = LinuxBackend.InterruptedMigrationState(rec);
            Assert.NotNull(shown);
            Assert.Equal(RouterState.Failed, shown!.Value.State);
            Assert.Contains("interrupted at 'preparing'", shown.Value.Status, StringComparison.Ordinal);
            Assert.Contains("Start-", shown.Value.Status, StringComparison.Ordinal);

            // A live process with the recorded start time runs the move: shown as observed.
            using var sleeper = Process.Start(new ProcessStartInfo("/bin/sleep", "30") { UseShellExecute = false })!;
            try
            {
                long? start = LinuxBackend.ProcessStartTime(sleeper.Id);
                Assert.NotNull(start);
                rec.Migration.ProcessId = sleeper.Id;
                rec.Migration.ProcessStart = start;
                Assert.Null(LinuxBackend.InterruptedMigrationState(rec));
                // The same pid with another start time is a reused pid: interrupted.
                rec.Migration.ProcessStart = start + 1;
                Assert.NotNull(LinuxBackend.InterruptedMigrationState(rec));
            }
            finally
            {
                sleeper.Kill();
                sleeper.WaitForExit();
            }
        }
    }
}
