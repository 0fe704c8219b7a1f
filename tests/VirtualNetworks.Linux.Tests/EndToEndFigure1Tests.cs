using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using VirtualNetworks.Linux.State;
using VirtualNetworks.Linux.Vm;
using Xunit;
using Xunit.Abstractions;

namespace VirtualNetworks.Linux.Tests
{
    /// <summary>
    /// The Figure 1 lab of one test class: examples/figure1.json with unique names, a private state directory, one
    /// runspace over the staged module. Started by the first fact that needs it (a class whose facts are skipped must not
    /// need root); on Dispose anything still deployed is removed, first through the module, then by force.
    /// </summary>
    public sealed class Figure1Lab : IDisposable
    {
        private readonly object _gate = new object();
        private EndToEndSession? _session;

        public Figure1Lab()
        {
            Prefix = EndToEndHost.NewPrefix();
            StateRoot = EndToEndHost.NewStateRoot();
            WorkDirectory = Path.Combine(Path.GetTempPath(), "vne2e-work-" + Prefix);
        }

        public string Prefix { get; }
        public string StateRoot { get; }
        public string WorkDirectory { get; }
        public Figure1Topology Topology { get; private set; } = null!;
        public bool Deployed { get; set; }
        public bool Removed { get; set; }

        public string NetworkA => Topology.Name("a");
        public string NetworkB => Topology.Name("b");

        public EndToEndSession Start(ITestOutputHelper log)
        {
            lock (_gate)
            {
                if (_session == null)
                {
                    EndToEndHost.RequireReady();
                    Topology = new Figure1Topology(Prefix, WorkDirectory);
                    _session = new EndToEndSession(StateRoot, log);
                }
                _session.Log = log;
                return _session;
            }
        }

        /// <summary>Fails the calling fact at once when the deployment of step 1 did not happen.</summary>
        public void RequireDeployed()
        {
            if (!Deployed) Assert.Fail("Figure 1 is not deployed (step 1 failed or did not run); this step depends on it.");
        }

        /// <summary>The run files of a router's active instance: run/, or run/m/ after a live migration (the record's run slot).</summary>
        public RouterRunPaths RunPaths(string router) => new StateStore(StateRoot).RunPaths(router);

        public int Pid(string router)
        {
            var file = RunPaths(router).PidFile;
            Assert.True(File.Exists(file), "no pidfile " + file);
            return int.Parse(File.ReadAllText(file).Trim(), NumberStyles.None, CultureInfo.InvariantCulture);
        }

        /// <summary>The guest's uptime, from its command channel ("ready").</summary>
        public long UptimeMilliseconds(string router) =>
            new GuestChannel(RunPaths(router).ChannelSocket, router).WaitReady(TimeSpan.FromSeconds(30)).UptimeMilliseconds;

        public void Dispose()
        {
            if (_session != null)
            {
                if (Deployed && !Removed)
                {
                    try
                    {
                        _session.Log = null;
                        _session.Invoke("Get-VirtualNetwork | Remove-VirtualNetwork -Force -Confirm:$false", TimeSpan.FromMinutes(2));
                    }
                    catch (Exception)
                    {
                        // the forced clean-up below still runs
                    }
                }
                _session.Dispose();
                EndToEndHost.ForceCleanUp(StateRoot, Prefix, Topology.Hosts);
            }
            try
            {
                if (Directory.Exists(WorkDirectory)) Directory.Delete(WorkDirectory, true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>
    /// The paper's Figure 1 end to end on the real Linux backend, in steps that share one deployment: deploy over three lab
    /// hosts in a chain and test, redeploy without changes, measure and reshape the two-hop VXLAN link live, pause and
    /// resume the transit router, recover a killed QEMU, live-migrate the transit router with Move-VirtualRouter, remove
    /// and leave nothing tagged behind (lab hosts included).
    /// </summary>
    [Collection(EndToEndCollection.Name)]
    [TestCaseOrderer(StepOrderer.TypeName, StepOrderer.AssemblyName)]
    public sealed class EndToEndFigure1Tests : IClassFixture<Figure1Lab>
    {
        /// <summary>Loose CI bound for Measure-VirtualLink against the limit (the benchmark reports the real accuracy).</summary>
        private const double Tolerance = 0.15;

        private readonly Figure1Lab _lab;
        private readonly ITestOutputHelper _output;

        public EndToEndFigure1Tests(Figure1Lab lab, ITestOutputHelper output)
        {
            _lab = lab;
            _output = output;
        }

        private static string Q(string s) => EndToEndHost.Q(s);

        /// <summary>a2-a3: a2 on h1, a3 on h3, so the link is a VXLAN tunnel across h1 > h2 > h3 (figure1.json).</summary>
        private string ShapedLink => _lab.Topology.Link("a2", "a3");
        private string Transit => _lab.Topology.Name("a2");
        private string H(int i) => _lab.Topology.Name("h" + i.ToString(CultureInfo.InvariantCulture));

        [EndToEndFact]
        [Step(1)]
        public void Step1_Figure1_Deploys_AndTestVirtualNetworkPasses()
        {
            var ps = _lab.Start(_output);
            // The file's lab hosts do not exist before this deployment creates them (as in the demo): the plain form must work.
            var deploy = ps.Invoke("Deploy-VirtualNetwork -Path " + Q(_lab.Topology.Path) + " -Confirm:$false", TimeSpan.FromMinutes(5));
            _lab.Deployed = true; // whatever happened, later steps and Dispose clean up
            deploy.Ok("Deploy-VirtualNetwork");
            var summary = deploy.Single();
            Assert.True(Convert.ToInt32(EndToEndSession.Prop(summary, "Changes"), CultureInfo.InvariantCulture) > 0, "the first deployment made no change");

            var networks = ps.Invoke("Get-VirtualNetwork").Ok("Get-VirtualNetwork").Output;
            Assert.Equal(new[] { _lab.NetworkA, _lab.NetworkB }, networks.Select(n => EndToEndSession.Text(n, "Name")).ToArray());
            var a = networks[0];
            var b = networks[1];
            Assert.Equal(4, EndToEndSession.Items(a, "Routers").Count);
            Assert.Equal(3, EndToEndSession.Items(b, "Routers").Count);
            Assert.Equal("IPv4", EndToEndSession.Text(a, "AddressFamily"));
            Assert.Equal("IPv6", EndToEndSession.Text(b, "AddressFamily"));
            // The hosts each network spans: a on h1 and h3 (h2 only carries its tunnel), b on all three.
            Assert.Equal(new[] { H(1), H(3) }, EndToEndSession.Items(a, "Hosts").Select(h => h.ToString()).ToArray());
            Assert.Equal(new[] { H(1), H(2), H(3) }, EndToEndSession.Items(b, "Hosts").Select(h => h.ToString()).ToArray());

            // Three lab hosts in a chain, created by this deployment, each with the routers the file places on it.
            var hosts = ps.Invoke("Get-VirtualHost").Ok("Get-VirtualHost").Output
                .Where(h => _lab.Topology.Hosts.Contains(EndToEndSession.Text(h, "Name"))).ToList();
            Assert.Equal(_lab.Topology.Hosts.ToArray(), hosts.Select(h => EndToEndSession.Text(h, "Name")).ToArray());
            Assert.All(hosts, h => Assert.True((bool)EndToEndSession.Prop(h, "IsLabHost")! && (bool)EndToEndSession.Prop(h, "CreatedByDeployment")!, EndToEndSession.Text(h, "Name")));
            foreach (var h in hosts)
            {
                var name = EndToEndSession.Text(h, "Name");
                Assert.Equal(_lab.Topology.Placement.Where(p => p.Value == name).Select(p => p.Key).OrderBy(r => r, StringComparer.OrdinalIgnoreCase),
                    EndToEndSession.Items(h, "Routers").Select(r => r.ToString()!).OrderBy(r => r, StringComparer.OrdinalIgnoreCase));
            }
            Assert.Equal(new[] { H(2) }, EndToEndSession.Items(hosts[0], "Neighbors").Select(n => n.ToString()).ToArray());
            Assert.Equal(new[] { H(1), H(3) }, EndToEndSession.Items(hosts[1], "Neighbors").Select(n => n.ToString()).ToArray());

            var routers = ps.Invoke("Get-VirtualRouter").Ok("Get-VirtualRouter").Output;
            Assert.Equal(_lab.Topology.Routers.OrderBy(r => r, StringComparer.OrdinalIgnoreCase), routers.Select(r => EndToEndSession.Text(r, "Name")));
            Assert.All(routers, r => Assert.Equal("Running", EndToEndSession.Text(r, "State")));
            Assert.Equal(_lab.Topology.Routers.Count, EndToEndHost.QemuProcesses(_lab.StateRoot).Count);

            var links = ps.Invoke("Get-VirtualLink").Ok("Get-VirtualLink").Output;
            Assert.Equal(_lab.Topology.Links.OrderBy(l => l, StringComparer.OrdinalIgnoreCase), links.Select(l => EndToEndSession.Text(l, "Name")));
            var shaped = links.Single(l => EndToEndSession.Text(l, "Name") == ShapedLink);
            Assert.Equal(10_000_000L, Convert.ToInt64(EndToEndSession.Prop(shaped, "MaximumBandwidth"), CultureInfo.InvariantCulture));
            // The two-hop link: VXLAN between h1 and h3, whose path crosses h2; the links inside one host stay bridges.
            Assert.Equal("Vxlan", EndToEndSession.Text(shaped, "Transport"));
            Assert.NotNull(EndToEndSession.Prop(shaped, "TunnelId"));
            Assert.Equal(new[] { H(1), H(2), H(3) }, EndToEndSession.Items(shaped, "UnderlayPath").Select(h => h.ToString()).ToArray());
            var local = links.Single(l => EndToEndSession.Text(l, "Name") == _lab.Topology.Link("a1", "a2"));
            Assert.Equal("Bridge", EndToEndSession.Text(local, "Transport"));
            Assert.Equal(new[] { H(1) }, EndToEndSession.Items(local, "UnderlayPath").Select(h => h.ToString()).ToArray());

            // Test-VirtualNetwork waits for each probe's source to be ready, not for its destination: wait until every
            // guest has booted (VN-READY on its console), or a probe towards a router still booting under TCG fails.
            var boot = Stopwatch.StartNew();
            var pending = _lab.Topology.Routers.ToList();
            while (pending.Count > 0 && boot.Elapsed < TimeSpan.FromSeconds(120))
            {
                pending.RemoveAll(r => ConsoleSays(_lab.RunPaths(r).ConsoleLog, "VN-READY " + r));
                if (pending.Count > 0) Thread.Sleep(100);
            }
            Assert.True(pending.Count == 0, "not booted (no VN-READY) 120 s after the deployment: " + string.Join(", ", pending));
            _output.WriteLine("every guest ready {0:0} ms after Deploy-VirtualNetwork returned", boot.Elapsed.TotalMilliseconds);

            var test = ps.Invoke("Test-VirtualNetwork", TimeSpan.FromMinutes(4));
            var report = test.Single();
            var failed = EndToEndSession.Items(report, "Results").Where(r => !(bool)EndToEndSession.Prop(r, "Passed")!).ToList();
            Assert.True((bool)EndToEndSession.Prop(report, "Passed")! && test.Errors.Count == 0,
                "Test-VirtualNetwork failed:" + Environment.NewLine + string.Join(Environment.NewLine, failed.Select(DescribeProbe)) + Environment.NewLine + test.Describe());
            var rows = EndToEndSession.Items(report, "Results");
            // Reachability inside each network and isolation between them were both probed.
            Assert.Contains(rows, r => EndToEndSession.Text(r, "Expected") == "Reachable" && EndToEndSession.Text(r, "SourceNetwork") == _lab.NetworkA);
            Assert.Contains(rows, r => EndToEndSession.Text(r, "Expected") == "Reachable" && EndToEndSession.Text(r, "SourceNetwork") == _lab.NetworkB);
            Assert.Contains(rows, r => EndToEndSession.Text(r, "Expected") == "Unreachable" && EndToEndSession.Text(r, "SourceNetwork") == _lab.NetworkA);
            Assert.Contains(rows, r => EndToEndSession.Text(r, "Expected") == "Unreachable" && EndToEndSession.Text(r, "SourceNetwork") == _lab.NetworkB);
            _output.WriteLine("Test-VirtualNetwork: {0} probes, {1}", rows.Count, EndToEndSession.Prop(report, "Duration"));
        }

        [EndToEndFact]
        [Step(2)]
        public void Step2_RedeployingTheUnchangedFile_MakesNoChange()
        {
            var ps = _lab.Start(_output);
            _lab.RequireDeployed();
            var pids = _lab.Topology.Routers.ToDictionary(r => r, _lab.Pid);
            var again = ps.Invoke("Deploy-VirtualNetwork -Path " + Q(_lab.Topology.Path) + " -Confirm:$false").Ok("Deploy-VirtualNetwork (again)");
            var summary = again.Single();
            Assert.True(Convert.ToInt32(EndToEndSession.Prop(summary, "Changes"), CultureInfo.InvariantCulture) == 0,
                "redeploying the unchanged file made changes: " + string.Join("; ", EndToEndSession.Items(summary, "Steps").Select(s => s.ToString())));
            Assert.Equal(0, Convert.ToInt32(EndToEndSession.Prop(summary, "Planned"), CultureInfo.InvariantCulture));
            Assert.Equal(pids, _lab.Topology.Routers.ToDictionary(r => r, _lab.Pid)); // nothing restarted
            _output.WriteLine("redeploy: {0:0} ms", again.Duration.TotalMilliseconds);
        }

        [EndToEndFact]
        [Step(3)]
        public void Step3_Bandwidth_IsMeasured_AndChangedLive()
        {
            var ps = _lab.Start(_output);
            _lab.RequireDeployed();
            var from = _lab.Topology.Name("a2");
            var to = _lab.Topology.Name("a3");
            var pids = new[] { from, to }.ToDictionary(r => r, _lab.Pid);
            try
            {
                var first = ps.Invoke("Measure-VirtualLink -Name " + Q(ShapedLink)).Ok("Measure-VirtualLink").Single();
                AssertRate(first, 10_000_000);

                ps.Invoke("Set-VirtualLink -Name " + Q(ShapedLink) + " -MaximumBandwidth 5Mbps").Ok("Set-VirtualLink");
                var link = ps.Invoke("Get-VirtualLink -Name " + Q(ShapedLink)).Ok("Get-VirtualLink").Single();
                Assert.Equal(5_000_000L, Convert.ToInt64(EndToEndSession.Prop(link, "MaximumBandwidth"), CultureInfo.InvariantCulture));

                var second = ps.Invoke("Measure-VirtualLink -Name " + Q(ShapedLink)).Ok("Measure-VirtualLink (after the change)").Single();
                AssertRate(second, 5_000_000);
                // Live: the routers at both ends kept running through the change (same QEMU processes).
                Assert.Equal(pids, new[] { from, to }.ToDictionary(r => r, _lab.Pid));
            }
            finally
            {
                // Back to the file's value, so the lab stays what figure1.json describes.
                ps.Invoke("Set-VirtualLink -Name " + Q(ShapedLink) + " -MaximumBandwidth 10Mbps");
            }
        }

        private void AssertRate(object measurement, long limit)
        {
            Assert.Equal(limit, Convert.ToInt64(EndToEndSession.Prop(measurement, "MaximumBandwidth"), CultureInfo.InvariantCulture));
            long measured = Convert.ToInt64(EndToEndSession.Prop(measurement, "MeasuredBandwidth"), CultureInfo.InvariantCulture);
            double ratio = (double)measured / limit;
            _output.WriteLine("Measure-VirtualLink at {0} bit/s: measured {1} bit/s, ratio {2:0.000}", limit, measured, ratio);
            Assert.True(Math.Abs(ratio - 1) <= Tolerance,
                $"measured {measured} bit/s through a {limit} bit/s limit (ratio {ratio:0.000}, allowed 1 ± {Tolerance}); goodput {EndToEndSession.Prop(measurement, "Goodput")}, " +
                $"{EndToEndSession.Prop(measurement, "Bytes")} bytes in {EndToEndSession.Prop(measurement, "Duration")}");
        }

        [EndToEndFact]
        [Step(4)]
        public void Step4_PausingTheTransitRouter_StopsForwarding_AndResumeRestoresIt()
        {
            var ps = _lab.Start(_output);
            _lab.RequireDeployed();
            string a1 = _lab.Topology.Name("a1"), a3 = _lab.Topology.Name("a3"), a4 = _lab.Topology.Name("a4");
            bool resumed = false;
            try
            {
                ps.Invoke("Suspend-VirtualRouter -Name " + Q(Transit)).Ok("Suspend-VirtualRouter");
                Assert.Equal("Paused", EndToEndSession.Text(ps.Invoke("Get-VirtualRouter -Name " + Q(Transit)).Ok("Get-VirtualRouter").Single(), "State"));

                var test = ps.Invoke("Test-VirtualNetwork -Name " + Q(_lab.NetworkA) + " -ErrorAction SilentlyContinue", TimeSpan.FromMinutes(3));
                var report = test.Single();
                var rows = EndToEndSession.Items(report, "Results");
                Assert.False((bool)EndToEndSession.Prop(report, "Passed")!, "Test-VirtualNetwork passed although the transit router " + Transit + " is paused");
                // a1 reaches a3 and a4 only through a2: every such probe must fail, in both directions.
                var through = rows.Where(r => (EndToEndSession.Text(r, "Source") == a1 && (EndToEndSession.Text(r, "Destination") == a3 || EndToEndSession.Text(r, "Destination") == a4))
                                              || ((EndToEndSession.Text(r, "Source") == a3 || EndToEndSession.Text(r, "Source") == a4) && EndToEndSession.Text(r, "Destination") == a1)).ToList();
                Assert.NotEmpty(through);
                Assert.All(through, r => Assert.False((bool)EndToEndSession.Prop(r, "Reachable")!, "forwarded through the paused router: " + DescribeProbe(r)));
                // Traffic that does not cross a2 still flows: only the paused router stopped forwarding.
                var around = rows.Where(r => (EndToEndSession.Text(r, "Source") == a3 && EndToEndSession.Text(r, "Destination") == a4)
                                             || (EndToEndSession.Text(r, "Source") == a4 && EndToEndSession.Text(r, "Destination") == a3)).ToList();
                Assert.NotEmpty(around);
                Assert.All(around, r => Assert.True((bool)EndToEndSession.Prop(r, "Reachable")!, "a probe that does not cross the paused router failed: " + DescribeProbe(r)));

                var clock = Stopwatch.StartNew();
                ps.Invoke("Resume-VirtualRouter -Name " + Q(Transit)).Ok("Resume-VirtualRouter");
                resumed = true;
                Assert.Equal("Running", EndToEndSession.Text(ps.Invoke("Get-VirtualRouter -Name " + Q(Transit)).Ok("Get-VirtualRouter").Single(), "State"));
                var quiet = ps.Invoke("Test-VirtualNetwork -Name " + Q(_lab.NetworkA) + " -Quiet", TimeSpan.FromMinutes(3)).Ok("Test-VirtualNetwork -Quiet");
                Assert.True(quiet.Single().BaseObject is true, "network a does not pass Test-VirtualNetwork after " + Transit + " was resumed");
                _output.WriteLine("Test-VirtualNetwork -Quiet passed {0:0} ms after Resume-VirtualRouter", clock.Elapsed.TotalMilliseconds);
            }
            finally
            {
                if (!resumed) ps.Invoke("Resume-VirtualRouter -Name " + Q(Transit));
            }
        }

        [EndToEndFact]
        [Step(5)]
        public void Step5_AKilledQemu_IsReportedFailed_AndStartVirtualRouterRecoversIt()
        {
            var ps = _lab.Start(_output);
            _lab.RequireDeployed();
            var victim = _lab.Topology.Name("a3");
            int pid = _lab.Pid(victim);
            using (var process = Process.GetProcessById(pid))
            {
                process.Kill(); // SIGKILL
                Assert.True(process.WaitForExit(10_000), "QEMU " + pid + " did not die after SIGKILL");
            }

            var failed = ps.Invoke("Get-VirtualRouter -Name " + Q(victim)).Ok("Get-VirtualRouter").Single();
            Assert.Equal("Failed", EndToEndSession.Text(failed, "State"));
            _output.WriteLine("after kill -9: State {0}, Status {1}", EndToEndSession.Text(failed, "State"), EndToEndSession.Text(failed, "Status"));

            ps.Invoke("Start-VirtualRouter -Name " + Q(victim)).Ok("Start-VirtualRouter");
            var running = ps.Invoke("Get-VirtualRouter -Name " + Q(victim)).Ok("Get-VirtualRouter").Single();
            Assert.Equal("Running", EndToEndSession.Text(running, "State"));
            Assert.NotEqual(pid, _lab.Pid(victim));

            // "After it boots": the guest prints VN-READY <name> on its console once its configuration is applied
            // (docs/guest-contract.md section 4). Test-VirtualNetwork waits for each probe's source to be ready, not for
            // its destination, so probes towards a router still booting would fail.
            var console = _lab.RunPaths(victim).ConsoleLog;
            var booted = Stopwatch.StartNew();
            while (booted.Elapsed < TimeSpan.FromSeconds(90) && !ConsoleSays(console, "VN-READY " + victim)) Thread.Sleep(100);
            Assert.True(ConsoleSays(console, "VN-READY " + victim), victim + " did not print VN-READY within 90 s of Start-VirtualRouter; console: " + ReadShared(console));
            _output.WriteLine("{0} ready {1:0} ms after Start-VirtualRouter returned", victim, booted.Elapsed.TotalMilliseconds);

            var test = ps.Invoke("Test-VirtualNetwork", TimeSpan.FromMinutes(4));
            var report = test.Single();
            var bad = EndToEndSession.Items(report, "Results").Where(r => !(bool)EndToEndSession.Prop(r, "Passed")!).ToList();
            Assert.True((bool)EndToEndSession.Prop(report, "Passed")!,
                "Test-VirtualNetwork failed after Start-VirtualRouter recovered " + victim + ":" + Environment.NewLine + string.Join(Environment.NewLine, bad.Select(DescribeProbe)));
        }

        [EndToEndFact]
        [Step(6)]
        public void Step6_TheTransitRouter_MigratesLive_WithItsAddressesUptimeAndLinks()
        {
            var ps = _lab.Start(_output);
            _lab.RequireDeployed();
            var before = ps.Invoke("Get-VirtualRouter -Name " + Q(Transit)).Ok("Get-VirtualRouter").Single();
            Assert.Equal(H(1), EndToEndSession.Text(before, "ComputerName"));
            var addresses = EndToEndSession.Items(before, "Addresses").Select(x => x.ToString()).ToArray();
            int pid = _lab.Pid(Transit);
            long uptime = _lab.UptimeMilliseconds(Transit);

            var clock = Stopwatch.StartNew();
            var moved = ps.Invoke("Move-VirtualRouter -Name " + Q(Transit) + " -DestinationHost " + Q(H(2)) + " -Mode Live -Confirm:$false -PassThru", TimeSpan.FromMinutes(3))
                .Ok("Move-VirtualRouter -Mode Live").Single();
            _output.WriteLine("Move-VirtualRouter -Mode Live {0} -> {1}: {2:0} ms", H(1), H(2), clock.Elapsed.TotalMilliseconds);
            Assert.Equal(H(2), EndToEndSession.Text(moved, "ComputerName"));
            Assert.Equal("Running", EndToEndSession.Text(moved, "State"));
            Assert.Equal(addresses, EndToEndSession.Items(moved, "Addresses").Select(x => x.ToString()).ToArray());
            Assert.NotEqual(pid, _lab.Pid(Transit)); // another QEMU process, on h2 ...
            long after = _lab.UptimeMilliseconds(Transit);
            Assert.True(after > uptime, $"guest uptime {after} ms after the move, {uptime} ms before: {Transit} rebooted"); // ... the same guest

            // The links followed: a1-a2 is now a tunnel h1 > h2, a2-a3 one hop h2 > h3 with its limit; nothing of a2 is left on h1.
            var links = ps.Invoke("Get-VirtualLink -RouterName " + Q(Transit)).Ok("Get-VirtualLink").Output;
            var a12 = links.Single(l => EndToEndSession.Text(l, "Name") == _lab.Topology.Link("a1", "a2"));
            var a23 = links.Single(l => EndToEndSession.Text(l, "Name") == ShapedLink);
            Assert.Equal("Vxlan", EndToEndSession.Text(a12, "Transport"));
            Assert.Equal(new[] { H(1), H(2) }, EndToEndSession.Items(a12, "UnderlayPath").Select(h => h.ToString()).ToArray());
            Assert.Equal(new[] { H(2), H(3) }, EndToEndSession.Items(a23, "UnderlayPath").Select(h => h.ToString()).ToArray());
            Assert.Equal(10_000_000L, Convert.ToInt64(EndToEndSession.Prop(a23, "MaximumBandwidth"), CultureInfo.InvariantCulture));
            var onSource = EndToEndHost.TaggedInterfaces(VirtualNetworks.Linux.Net.InterfaceNames.Namespace(H(1)))
                .Where(i => i.Value.Contains(":tap:" + Transit + "/", StringComparison.OrdinalIgnoreCase) || EndToEndHost.TagObjectNames(i.Value).Contains(ShapedLink, StringComparer.OrdinalIgnoreCase))
                .Select(i => i.Key + " (" + i.Value + ")").ToList();
            Assert.True(onSource.Count == 0, "left on " + H(1) + " after the move: " + string.Join(", ", onSource));

            var test = ps.Invoke("Test-VirtualNetwork", TimeSpan.FromMinutes(4));
            var report = test.Single();
            var bad = EndToEndSession.Items(report, "Results").Where(r => !(bool)EndToEndSession.Prop(r, "Passed")!).ToList();
            Assert.True((bool)EndToEndSession.Prop(report, "Passed")!,
                "Test-VirtualNetwork failed after " + Transit + " moved to " + H(2) + ":" + Environment.NewLine + string.Join(Environment.NewLine, bad.Select(DescribeProbe)));
        }

        [EndToEndFact]
        [Step(7)]
        public void Step7_RemoveVirtualNetwork_LeavesNothingTagged_AndRemovesTheLabHosts()
        {
            var ps = _lab.Start(_output);
            _lab.RequireDeployed();
            ps.Invoke("Remove-VirtualNetwork -Name " + Q(_lab.NetworkA) + ", " + Q(_lab.NetworkB) + " -Force -Confirm:$false", TimeSpan.FromMinutes(3))
                .Ok("Remove-VirtualNetwork");
            _lab.Removed = true;
            Assert.Empty(ps.Invoke("Get-VirtualRouter").Ok("Get-VirtualRouter").Output);
            Assert.Empty(ps.Invoke("Get-VirtualLink").Ok("Get-VirtualLink").Output);

            // The lab hosts the deployment created went with the last network that used them.
            Assert.DoesNotContain(ps.Invoke("Get-VirtualHost").Ok("Get-VirtualHost").Output, h => _lab.Topology.Hosts.Contains(EndToEndSession.Text(h, "Name")));

            // QEMU exits asynchronously after the kill; give the kernel a moment before scanning.
            bool Ours(string alias) => EndToEndHost.TagNamesPrefix(alias, _lab.Prefix);
            var leftovers = EndToEndHost.Leftovers(_lab.StateRoot, Ours, _lab.Topology.Hosts);
            for (int i = 0; i < 20 && leftovers.Count > 0; i++)
            {
                Thread.Sleep(250);
                leftovers = EndToEndHost.Leftovers(_lab.StateRoot, Ours, _lab.Topology.Hosts);
            }
            Assert.True(leftovers.Count == 0,
                LeftoverReport.Format("after Remove-VirtualNetwork", leftovers, EndToEndHost.DescribeScan(_lab.StateRoot, "an object '" + _lab.Prefix + "-*' of this test") +
                    "; the network namespaces of the lab hosts " + string.Join(", ", _lab.Topology.Hosts) + " and the tagged interfaces in them"));
        }

        private static bool ConsoleSays(string path, string line) =>
            ReadShared(path).Split('\n').Any(l => l.TrimEnd('\r') == line);

        private static string ReadShared(string path)
        {
            try
            {
                using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                using var reader = new StreamReader(stream);
                return reader.ReadToEnd();
            }
            catch (IOException)
            {
                return "";
            }
        }

        private static string DescribeProbe(object r) =>
            $"{EndToEndSession.Text(r, "Source")} -> {EndToEndSession.Text(r, "Destination")} {EndToEndSession.Text(r, "DestinationAddress")} " +
            $"expected {EndToEndSession.Text(r, "Expected")}, reachable {EndToEndSession.Text(r, "Reachable")} ({EndToEndSession.Text(r, "Detail")})";
    }
}
