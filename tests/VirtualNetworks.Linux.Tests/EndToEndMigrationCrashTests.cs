using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using VirtualNetworks.Backends;
using VirtualNetworks.Engine;
using VirtualNetworks.Linux.State;
using VirtualNetworks.Linux.Vm;
using VirtualNetworks.Topology;
using VirtualNetworks.Util;
using Xunit;
using Xunit.Abstractions;

namespace VirtualNetworks.Linux.Tests
{
    /// <summary>
    /// Crash recovery of Move-VirtualRouter (issue 11, defect 4; docs/migration.md "Crash recovery"). Two lab hosts h1—h2,
    /// routers r1@h1, r2@h1, r3@h2, links r1-r2 and r2-r3, so r1 reaches r3 only through r2; r2 is the router that moves.
    /// A crash is injected at every phase boundary of a live and of a cold migration (the seam
    /// <see cref="LinuxBackend.MigrationCrashPoint"/> throws <see cref="SimulatedCrashException"/>, which nothing in the
    /// migration path catches, so none of its recovery code runs), and in a child pwsh killed with SIGKILL while its live
    /// move holds the source QEMU at pre-switchover. After each, one ordinary command (Start-VirtualRouter, Deploy of the same
    /// topology, or the same Move again) must leave exactly one QEMU of r2, running on one host with its links wired there,
    /// r1 reaching r3 through it, no journal and no orphan; teardown leaves nothing.
    /// </summary>
    [Collection(EndToEndCollection.Name)]
    public sealed class EndToEndMigrationCrashTests : IDisposable
    {
        private readonly ITestOutputHelper _out;
        private readonly string _root = EndToEndHost.NewStateRoot();
        private readonly string _p = EndToEndHost.NewPrefix();
        private LinuxBackend? _backend;

        public EndToEndMigrationCrashTests(ITestOutputHelper output) => _out = output;

        private string H(int i) => _p + "-h" + i;
        private string R(int i) => _p + "-r" + i;
        private string L12 => _p + "-l12";
        private string L23 => _p + "-l23";

        public void Dispose()
        {
            LinuxBackend.MigrationCrashPoint = null;
            try { File.Delete(_root + "-at-switchover"); } catch (IOException) { }
            EndToEndHost.CleanUpOwn(_backend, _p, _root, new[] { H(1), H(2) }, _out);
        }

        private TopologySpec Topology() => new TopologySpec
        {
            Hosts = { new HostSpec { Name = H(1) }, new HostSpec { Name = H(2) } },
            PhysicalLinks = { new PhysicalLinkSpec { From = H(1), To = H(2) } },
            Routers =
            {
                new RouterSpec { Name = R(1), Host = H(1), Image = "router", MemoryMB = 128, NetworkLabel = _p },
                new RouterSpec { Name = R(2), Host = H(1), Image = "router", MemoryMB = 128, NetworkLabel = _p },
                new RouterSpec { Name = R(3), Host = H(2), Image = "router", MemoryMB = 128, NetworkLabel = _p },
            },
            Links =
            {
                new LinkSpec { Name = L12, From = R(1), To = R(2) },
                new LinkSpec { Name = L23, From = R(2), To = R(3) },
            },
        };

        private VirtualNetworkService Deploy()
        {
            _backend = EndToEndHost.NewBackend(_root);
            var service = new VirtualNetworkService(_backend);
            var plan = service.PlanDeployment(Topology(), false, CancellationToken.None);
            var result = service.Apply(plan, new ApplyAllSteps(), CancellationToken.None);
            Assert.True(result.Success, "deploy failed at " + result.Failed + ": " + result.Error);
            return service;
        }

        private string R3Address() =>
            _backend!.Store.ReadRouter(R(3))!.Configuration!.Interfaces.Single(i => string.Equals(i.LinkName, L23, StringComparison.OrdinalIgnoreCase)).Address.Split('/')[0];

        private List<string> QemusOf(string router) =>
            EndToEndHost.QemuProcesses(_root).Values.Where(c => c.Contains("-name " + router + ",", StringComparison.Ordinal)).ToList();

        private bool Ours(OrphanResource o) =>
            (o.Owner != null && o.Owner.StartsWith(_p + "-", StringComparison.OrdinalIgnoreCase)) || o.Name.StartsWith(_root + "/", StringComparison.Ordinal);

        private long Uptime(string router) =>
            new GuestChannel(_backend!.Store.RunPaths(router).ChannelSocket, router).WaitReady(TimeSpan.FromSeconds(60)).UptimeMilliseconds;

        /// <summary>What a recovered router must look like: one QEMU, Running on <paramref name="expectedHost"/>, links complete, r1 -> r3 through it, no journal, no orphan.</summary>
        private void AssertOneRunningCopy(string what, string? expectedHost)
        {
            string r2 = R(2);
            var qemus = QemusOf(r2);
            Assert.True(qemus.Count == 1, what + ": " + qemus.Count + " QEMU processes of r2: " + string.Join(" | ", qemus));
            var rec = _backend!.Store.ReadRouter(r2)!;
            Assert.Equal(3, EndToEndHost.QemuProcesses(_root).Count);
            var inv = _backend.GetInventory(CancellationToken.None);
            var router = inv.Routers.Single(r => r.Name == r2);
            Assert.True(router.State == RouterState.Running, what + ": r2 is " + router.State + " (" + router.Status + ")");
            Assert.True(expectedHost == null || expectedHost == router.ComputerName, what + ": r2 runs on " + router.ComputerName + ", expected " + expectedHost);
            Assert.True(router.ComputerName == H(1) || router.ComputerName == H(2), what + ": r2 runs on " + router.ComputerName);
            foreach (var l in inv.Links) Assert.True(l.Status == null, what + ": link " + l.Name + ": " + l.Status);
            Assert.True(rec.Migration == null, what + ": the journal is still there: " + rec.Migration?.Describe());
            var inactive = _backend.Store.RunPaths(r2, StateStore.OtherRunSlot(rec.RunSlot));
            Assert.All(inactive.All, f => Assert.False(File.Exists(f), what + ": " + f + " is left"));
            var until = DateTime.UtcNow.AddSeconds(15);
            ProbeResult probe;
            while (!(probe = _backend.Probe(R(1), R3Address(), CancellationToken.None)).Reachable && DateTime.UtcNow < until) Thread.Sleep(250);
            Assert.True(probe.Reachable, what + ": r1 -> r3 through r2: " + probe.Detail);
            var orphans = _backend.FindOrphans(false, CancellationToken.None).Where(Ours).ToList();
            Assert.True(orphans.Count == 0, what + ": orphans: " + string.Join("; ", orphans.Select(o => o.Kind + " " + o.Name + " (" + o.Reason + ")")));
        }

        private enum Recovery { Start, Deploy, Move, Resume, StopThenStart }

        [EndToEndFact]
        public void A_crash_at_every_phase_boundary_of_a_live_and_a_cold_move_is_recovered_by_the_next_command()
        {
            using var service = Deploy();
            string r2 = R(2);
            var total = Stopwatch.StartNew();
            AssertOneRunningCopy("after the deployment", H(1));
            // Which ordinary command recovers each crash (a mix; "Move again" where the router's record still
            // names the source: after the commit the engine refuses a move to the host the router is on).
            var plan = new List<(MigrationMode Mode, string Point, Recovery By)>
            {
                (MigrationMode.Live, "live:journaled", Recovery.Move),
                (MigrationMode.Live, "live:destination-wired", Recovery.Start),
                (MigrationMode.Live, "live:destination-launched", Recovery.Deploy),
                (MigrationMode.Live, "live:streaming", Recovery.Resume),
                (MigrationMode.Live, "live:pre-switchover", Recovery.Start),
                (MigrationMode.Live, "live:switched-over", Recovery.Deploy),
                (MigrationMode.Live, "live:completed", Recovery.Move),
                (MigrationMode.Live, "live:committed", Recovery.Start),
                (MigrationMode.Live, "live:source-ended", Recovery.Deploy),
                (MigrationMode.Live, "live:links-rewired", Recovery.StopThenStart),
                (MigrationMode.Cold, "cold:journaled", Recovery.Move),
                (MigrationMode.Cold, "cold:stopped", Recovery.Deploy),
                (MigrationMode.Cold, "cold:host-recorded", Recovery.Start),
                (MigrationMode.Cold, "cold:placed", Recovery.StopThenStart),
                (MigrationMode.Cold, "cold:started", Recovery.Start),
            };
            Assert.Equal(LinuxBackend.LiveCrashPoints.Concat(LinuxBackend.ColdCrashPoints), plan.Select(x => x.Point));
            int completedIndex = LinuxBackend.LiveCrashPoints.ToList().IndexOf("live:completed");

            foreach (var (mode, point, by) in plan)
            {
                var clock = Stopwatch.StartNew();
                string from = _backend!.Store.ReadRouter(r2)!.Host;
                string to = from == H(1) ? H(2) : H(1);
                long uptime = Uptime(r2);
                bool fired = false;
                LinuxBackend.MigrationCrashPoint = p =>
                {
                    if (p != point || fired) return;
                    fired = true;
                    throw new SimulatedCrashException(p);
                };
                try
                {
                    var crash = Assert.Throws<SimulatedCrashException>(() => service.MoveRouter(r2, to, mode, null, CancellationToken.None));
                    Assert.Equal(point, crash.Point);
                }
                finally
                {
                    LinuxBackend.MigrationCrashPoint = null;
                }

                // What the crash left: the journal, and an inventory that says so (Deploy then plans a start, not 0 changes).
                var left = _backend.Store.ReadRouter(r2)!;
                Assert.True(left.Migration != null, point + ": no journal after the crash");
                Assert.Equal(mode == MigrationMode.Live ? MigrationJournal.Live : MigrationJournal.Cold, left.Migration!.Mode);
                var shown = _backend.GetInventory(CancellationToken.None).Routers.Single(r => r.Name == r2);
                Assert.Equal(RouterState.Failed, shown.State);
                Assert.Contains("interrupted", shown.Status ?? "", StringComparison.Ordinal);
                _out.WriteLine($"{point}: crashed after {clock.ElapsedMilliseconds} ms; QEMUs of r2: {QemusOf(r2).Count}; record host {left.Host}, journal phase {left.Migration.Phase}");

                clock.Restart();
                switch (by)
                {
                    case Recovery.Start:
                        service.StartRouter(r2, CancellationToken.None);
                        break;
                    case Recovery.Deploy:
                        var deploy = service.PlanDeployment(Topology(), false, CancellationToken.None);
                        Assert.True(deploy.Steps.Count > 0, point + ": Deploy planned 0 changes for an interrupted migration");
                        var applied = service.Apply(deploy, new ApplyAllSteps(), CancellationToken.None);
                        Assert.True(applied.Success, point + ": Deploy failed at " + applied.Failed + ": " + applied.Error);
                        break;
                    case Recovery.Resume:
                        service.ResumeRouter(r2, CancellationToken.None);
                        break;
                    case Recovery.StopThenStart:
                        // A graceful stop of the interrupted router must not time out (it did: the source was stopped in
                        // pre-switchover); the start afterwards boots it where the reconciliation left it.
                        Assert.Equal(RouterState.Off, service.StopRouter(r2, false, CancellationToken.None).State);
                        Assert.Empty(QemusOf(r2));
                        service.StartRouter(r2, CancellationToken.None);
                        uptime = 0; // rebooted on purpose
                        break;
                    case Recovery.Move:
                        var moved = service.MoveRouter(r2, to, mode, null, CancellationToken.None);
                        Assert.Equal(to, moved.ComputerName);
                        break;
                }
                // Live: the source keeps the router until the destination took it over (it completed); then the destination
                // does. A move run again goes to the destination anyway. Cold: the move is finished.
                bool live = mode == MigrationMode.Live;
                int index = LinuxBackend.LiveCrashPoints.ToList().IndexOf(point);
                // Right after migrate-continue the source finishes the stream by itself: which copy holds the guest when the
                // next command looks depends on timing (either is right, one of them must be kept).
                string? expected = point == "live:switched-over" ? null : !live || by == Recovery.Move || index >= completedIndex ? to : from;
                AssertOneRunningCopy(point + " then " + by, expected);
                _out.WriteLine($"{point}: recovered by {by} in {clock.ElapsedMilliseconds} ms; r2 on {_backend.Store.ReadRouter(r2)!.Host}");
                if (live)
                {
                    // The guest's state survived (no reboot) wherever it was kept.
                    long now = Uptime(r2);
                    Assert.True(now > uptime, $"{point}: r2's uptime {now} ms <= {uptime} ms before: the guest rebooted");
                }
            }
            _out.WriteLine($"{plan.Count} crash points in {total.Elapsed.TotalSeconds:0.0} s");

            RemoveAndAssertNothingLeft(service);
        }

        /// <summary>
        /// Runs Move-VirtualRouter in a child pwsh whose seam blocks at <paramref name="point"/>, and kills the child with
        /// SIGKILL once it is there (no finally, no recovery code, the kernel closes its sockets and pipes).
        /// </summary>
        private void KillChildMovingAt(string point, string router, string destination, MigrationMode mode)
        {
            string marker = _root + "-at-switchover"; // outside the state directory (its files count as leftovers)
            File.Delete(marker);
            string script = string.Join(Environment.NewLine, new[]
            {
                "$null = Get-VirtualRouter",
                "$type = $null",
                "foreach ($a in [AppDomain]::CurrentDomain.GetAssemblies()) { if ($a.GetName().Name -eq 'VirtualNetworks.Linux') { $type = $a.GetType('VirtualNetworks.Linux.LinuxBackend') } }",
                "if ($null -eq $type) { throw 'VirtualNetworks.Linux is not loaded' }",
                "$seam = $type.GetProperty('MigrationCrashPoint', [Reflection.BindingFlags]'NonPublic,Static')",
                "$seam.SetValue($null, [Action[string]]{ param($p) if ($p -eq " + EndToEndHost.Q(point) + ") { [IO.File]::WriteAllText(" + EndToEndHost.Q(marker) +
                    ", $p); [Threading.Thread]::Sleep(600000) } })",
                "Move-VirtualRouter -Name " + router + " -DestinationHost " + destination + " -Mode " + mode + " -Confirm:$false",
            });
            using var child = new ChildCommand(_root, script);
            bool reached = false;
            child.KillWhen(() => reached = File.Exists(marker), TimeSpan.FromMinutes(2)); // SIGKILL once the point is reached
            reached = File.Exists(marker);
            File.Delete(marker);
            string text = child.Output;
            var clock = child.Clock;
            Assert.True(reached, "the child's move never reached " + point + ":" + Environment.NewLine + text);
            _out.WriteLine($"killed pwsh at {point} after {clock.ElapsedMilliseconds} ms");
        }

        /// <summary>The next ordinary command in a fresh runspace of the staged module: Get-VirtualRouter tells, <paramref name="command"/> recovers.</summary>
        private void RecoverInRunspace(string router, string command)
        {
            using var ps = new EndToEndSession(_root, _out);
            var shown = ps.Invoke("Get-VirtualRouter -Name " + router).Ok("Get-VirtualRouter").Single();
            Assert.Equal("Failed", EndToEndSession.Text(shown, "State"));
            Assert.Contains("interrupted", EndToEndSession.Text(shown, "Status"), StringComparison.Ordinal);
            ps.Invoke(command + " -Name " + router).Ok(command);
        }

        [EndToEndFact]
        public void A_pwsh_killed_during_a_live_or_cold_move_is_recovered_by_the_next_command()
        {
            EndToEndHost.RequireReady();
            var service = Deploy();
            string r2 = R(2);

            // ---- Killed while its live move holds the source at pre-switchover (the reported defect): the source QEMU is
            //      stopped there, the destination has all but the last state, the taps were flipped. Start keeps the source.
            long uptime = Uptime(r2);
            KillChildMovingAt("live:pre-switchover", r2, H(2), MigrationMode.Live);
            Assert.Equal(2, QemusOf(r2).Count);
            using (var q = QmpClient.Connect(_backend!.Store.RunPaths(r2, null).QmpSocket, r2, TimeSpan.FromSeconds(5)))
            {
                Assert.Equal("pre-switchover", (string?)q.QueryMigrate()["status"]);
                Assert.NotEqual("running", q.QueryStatus());
            }
            RecoverInRunspace(r2, "Start-VirtualRouter");
            AssertOneRunningCopy("pwsh killed at live:pre-switchover, then Start-VirtualRouter", H(1));
            Assert.True(Uptime(r2) > uptime, "r2 rebooted: the guest's state was lost");

            // ---- Killed right after the commit (the record names the destination; the source QEMU is postmigrate and both
            //      hosts still carry the links): Resume keeps the destination and removes the rest.
            uptime = Uptime(r2);
            KillChildMovingAt("live:committed", r2, H(2), MigrationMode.Live);
            Assert.Equal(2, QemusOf(r2).Count);
            using (var q = QmpClient.Connect(_backend.Store.RunPaths(r2, null).QmpSocket, r2, TimeSpan.FromSeconds(5)))
                Assert.Equal("postmigrate", q.QueryStatus());
            RecoverInRunspace(r2, "Resume-VirtualRouter");
            AssertOneRunningCopy("pwsh killed at live:committed, then Resume-VirtualRouter", H(2));
            Assert.True(Uptime(r2) > uptime, "r2 rebooted: the guest's state was lost");

            // ---- Killed between the graceful stop and the start on the destination of a cold move: the router is off, the
            //      record still names the source. Start finishes the move.
            KillChildMovingAt("cold:stopped", r2, H(1), MigrationMode.Cold);
            Assert.Empty(QemusOf(r2));
            RecoverInRunspace(r2, "Start-VirtualRouter");
            AssertOneRunningCopy("pwsh killed at cold:stopped, then Start-VirtualRouter", H(1));

            RemoveAndAssertNothingLeft(service);
        }

        private void RemoveAndAssertNothingLeft(VirtualNetworkService service)
        {
            var snapshot = service.Observe(CancellationToken.None);
            var removed = service.Apply(service.PlanRemoval(snapshot, snapshot.Networks.ToList()), new ApplyAllSteps(), CancellationToken.None);
            Assert.True(removed.Success, "removal failed at " + removed.Failed + ": " + removed.Error);
            var images = Path.Combine(_root, "images") + "/";
            var left = EndToEndHost.Leftovers(_root, a => EndToEndHost.TagNamesPrefix(a, _p), new[] { H(1), H(2) })
                .Where(x => !x.Contains(images, StringComparison.Ordinal)).ToList();
            Assert.True(left.Count == 0, "left after teardown: " + string.Join("; ", left));
        }
    }
}
