using System;
using System.Globalization;
using System.IO;
using System.Linq;
using VirtualNetworks.Linux.State;
using Xunit;
using Xunit.Abstractions;

namespace VirtualNetworks.Linux.Tests
{
    /// <summary>
    /// The public guest cmdlets on real QEMU routers, through the staged module: Deploy-VirtualNetwork -Wait,
    /// Wait-VirtualRouter (ready, not running, timeout), Resume-/Start-VirtualRouter -Wait and the guest's uptime they report,
    /// Test-VirtualRouterConnection (also while another command holds the state lock: it must not wait for it), and that
    /// Stop-VirtualRouter and Remove-VirtualNetwork return only once the QEMU processes are gone from the process table.
    /// One chain of three routers r1 - r2 - r3 (r2 the transit router).
    /// </summary>
    [Collection(EndToEndCollection.Name)]
    public sealed class EndToEndGuestCmdletTests : IDisposable
    {
        private readonly ITestOutputHelper _out;
        private readonly string _root = EndToEndHost.NewStateRoot();
        private readonly string _p = EndToEndHost.NewPrefix();

        public EndToEndGuestCmdletTests(ITestOutputHelper output) => _out = output;

        public void Dispose()
        {
            EndToEndHost.ForceCleanUp(_root, _p);
            File.Delete(TopologyFile);
        }

        private string TopologyFile => Path.Combine(Path.GetTempPath(), _p + "-chain.json");

        private string R(int i) => _p + "-r" + i.ToString(CultureInfo.InvariantCulture);

        private static string Q(string s) => EndToEndHost.Q(s);

        private static bool ProcessExists(int pid) => Directory.Exists("/proc/" + pid.ToString(CultureInfo.InvariantCulture));

        private static int PidOf(string root, string router) =>
            int.Parse(File.ReadAllText(new StateStore(root).RunPaths(router).PidFile).Trim(), CultureInfo.InvariantCulture);

        [EndToEndFact]
        public void Readiness_probe_streams_and_process_exit_through_the_public_cmdlets()
        {
            var file = TopologyFile;
            File.WriteAllText(file, "{ \"defaults\": { \"image\": \"router\", \"memoryMB\": 96 },\n" +
                                    "  \"routers\": [ " + string.Join(", ", Enumerable.Range(1, 3).Select(i => "{ \"name\": \"" + R(i) + "\", \"network\": \"" + _p + "\" }")) + " ],\n" +
                                    "  \"links\": [ { \"from\": \"" + R(1) + "\", \"to\": \"" + R(2) + "\" }, { \"from\": \"" + R(2) + "\", \"to\": \"" + R(3) + "\" } ] }\n");
            using var s = new EndToEndSession(_root, _out);

            // 1. Deploy -Wait: when it returns, every guest forwards (r1 reaches r3 through r2 at once, no retry).
            var deployed = s.Invoke("Deploy-VirtualNetwork -Path " + Q(file) + " -Wait -TimeoutSec 180").Ok("Deploy-VirtualNetwork -Wait").Single();
            _out.WriteLine("deployed and ready in " + EndToEndSession.Text(deployed, "Duration"));
            var first = s.Invoke("Test-VirtualRouterConnection -Name " + R(1) + " -TargetName " + R(3) + " -Count 5 -IntervalMilliseconds 100").Ok("first probes").Single();
            Assert.Equal(5, (int)EndToEndSession.Prop(first, "Received")!);

            // 2. Wait-VirtualRouter -PassThru: every router, with its guest's uptime.
            var ready = s.Invoke("Wait-VirtualRouter -NetworkName " + Q(_p) + " -PassThru").Ok("Wait-VirtualRouter").Output;
            Assert.Equal(new[] { R(1), R(2), R(3) }, ready.Select(o => EndToEndSession.Text(o, "Name")));
            var uptime = ready.ToDictionary(o => EndToEndSession.Text(o, "Name"), o => (TimeSpan)EndToEndSession.Prop(o, "GuestUptime")!);
            Assert.All(uptime.Values, u => Assert.True(u > TimeSpan.Zero));

            // 3. Probes and readiness while another command holds the state lock (a live migration holds it for its whole
            //    run): neither waits for it.
            using (new StateStore(_root).Lock(TimeSpan.FromSeconds(10)))
            {
                var locked = s.Invoke("Test-VirtualRouterConnection -Name " + R(1) + " -TargetName " + R(3) + " -Count 50 -IntervalMilliseconds 20",
                    TimeSpan.FromSeconds(90)).Ok("probe stream under a held state lock");
                var r = locked.Single();
                _out.WriteLine("under the lock: sent {0}, received {1}, max rtt {2} ms, in {3:0.0} s", EndToEndSession.Prop(r, "Sent"),
                    EndToEndSession.Prop(r, "Received"), EndToEndSession.Prop(r, "MaximumRoundTripMilliseconds"), locked.Duration.TotalSeconds);
                Assert.Equal(50, (int)EndToEndSession.Prop(r, "Sent")!);
                Assert.True((int)EndToEndSession.Prop(r, "Received")! >= 48, "lost more than 2 of 50 probes on an idle chain: " + locked.Describe());
                Assert.True(locked.Duration < TimeSpan.FromSeconds(30), "the probe stream took " + locked.Duration);
                var waited = s.Invoke("Wait-VirtualRouter -Name " + R(2) + " -PassThru", TimeSpan.FromSeconds(60)).Ok("Wait-VirtualRouter under a held state lock");
                Assert.Single(waited.Output);
            }

            // 4. The transit router paused: every probe through it is lost, and waiting for it is an error at once.
            s.Invoke("Suspend-VirtualRouter -Name " + R(2)).Ok("Suspend-VirtualRouter");
            var cut = s.Invoke("Test-VirtualRouterConnection -Name " + R(1) + " -TargetName " + R(3) + " -Count 10 -IntervalMilliseconds 50").Ok("probes through a paused router").Single();
            Assert.Equal(0, (int)EndToEndSession.Prop(cut, "Received")!);
            Assert.Equal(10, (int)EndToEndSession.Prop(cut, "LongestLossRun")!);
            var paused = s.Invoke("Wait-VirtualRouter -Name " + R(2) + " -TimeoutSec 60");
            Assert.Equal(ErrorIds.RouterNotRunning + ",VirtualNetworks.Commands.WaitVirtualRouterCommand", Assert.Single(paused.Errors).FullyQualifiedErrorId);
            Assert.True(paused.Duration < TimeSpan.FromSeconds(10), "waited " + paused.Duration);
            var resumed = s.Invoke("Resume-VirtualRouter -Name " + R(2) + " -Wait -PassThru").Ok("Resume-VirtualRouter -Wait").Single();
            Assert.True((TimeSpan)EndToEndSession.Prop(resumed, "GuestUptime")! > uptime[R(2)], "r2's guest was restarted: uptime " +
                EndToEndSession.Prop(resumed, "GuestUptime") + " after the pause, " + uptime[R(2)] + " before");

            // 5. Stop -TurnOff returns once r3's QEMU is gone from the process table (not a zombie); waiting for it is an error.
            int pid3 = PidOf(_root, R(3));
            s.Invoke("Stop-VirtualRouter -Name " + R(3) + " -TurnOff").Ok("Stop-VirtualRouter -TurnOff");
            Assert.False(ProcessExists(pid3), "QEMU pid " + pid3 + " of " + R(3) + " still exists after Stop-VirtualRouter returned");
            var off = s.Invoke("Wait-VirtualRouter -Name " + R(3) + " -TimeoutSec 60");
            Assert.Equal(ErrorIds.RouterNotRunning + ",VirtualNetworks.Commands.WaitVirtualRouterCommand", Assert.Single(off.Errors).FullyQualifiedErrorId);
            Assert.Contains("not running", off.Errors[0].Exception.Message);
            Assert.True(off.Duration < TimeSpan.FromSeconds(10), "waited " + off.Duration);

            // 6. Boots are paced and supervised (issue 15): Start-VirtualRouter returns once the guest's console printed its
            //    ready line, so even without -Wait a short wait finds it ready at once. (RouterNotReady's message, naming the
            //    router and what was seen last, is covered by the cmdlet tests over the in-memory backend.)
            var started = System.Diagnostics.Stopwatch.StartNew();
            s.Invoke("Start-VirtualRouter -Name " + R(3)).Ok("Start-VirtualRouter");
            _out.WriteLine("Start-VirtualRouter returned after " + started.Elapsed);
            var early = s.Invoke("Wait-VirtualRouter -Name " + R(3) + " -TimeoutSec 5 -PassThru").Ok("Wait-VirtualRouter right after the start");
            Assert.Single(early.Output);
            Assert.True(early.Duration < TimeSpan.FromSeconds(5), "waited " + early.Duration + " for a guest Start-VirtualRouter reported booted");
            var rebooted = s.Invoke("Wait-VirtualRouter -Name " + R(3) + " -TimeoutSec 120 -PassThru").Ok("Wait-VirtualRouter after the start").Single();
            var r1Now = s.Invoke("Wait-VirtualRouter -Name " + R(1) + " -PassThru").Ok("Wait-VirtualRouter r1").Single();
            Assert.True((TimeSpan)EndToEndSession.Prop(rebooted, "GuestUptime")! < (TimeSpan)EndToEndSession.Prop(r1Now, "GuestUptime")!,
                "r3 was restarted, so its guest must have been up for less time than r1's");

            // 7. Remove-VirtualNetwork returns once every QEMU of the network is gone from the process table.
            var pids = EndToEndHost.QemuProcesses(_root).Keys.ToList();
            Assert.Equal(3, pids.Count);
            s.Invoke("Remove-VirtualNetwork -Name " + Q(_p) + " -Force -Confirm:$false").Ok("Remove-VirtualNetwork");
            var left = pids.Where(ProcessExists).Select(p => p + ": " + File.ReadAllText("/proc/" + p + "/stat")).ToList();
            Assert.True(left.Count == 0, "QEMU processes still in the process table after Remove-VirtualNetwork returned:\n" + string.Join("\n", left));
            var leftovers = EndToEndHost.Leftovers(_root, alias => EndToEndHost.TagNamesPrefix(alias, _p)).ToList();
            Assert.True(leftovers.Count == 0, LeftoverReport.Format("after Remove-VirtualNetwork", leftovers, EndToEndHost.DescribeScan(_root, "the test's objects")));
        }
    }
}
