using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using Xunit;
using Xunit.Abstractions;

namespace VirtualNetworks.Linux.Tests
{
    /// <summary>
    /// The randomized kill -9 soak is a measurement run by hand (docs/reliability.md), not a CI test: it runs only when
    /// VN_KILL_SOAK is a positive number, else it is skipped with that reason.
    /// </summary>
    public sealed class SoakFactAttribute : FactAttribute
    {
        public SoakFactAttribute()
        {
            if (!int.TryParse(Environment.GetEnvironmentVariable("VN_KILL_SOAK"), NumberStyles.None, CultureInfo.InvariantCulture, out int kills) || kills <= 0)
                Skip = "measurement (docs/reliability.md, 100 kills take ~18 min): set VN_KILL_SOAK=<n> and run as root";
        }
    }

    /// <summary>A command run in a child pwsh (its own process, as a scheduled script would be) that a test may SIGKILL.</summary>
    internal sealed class ChildCommand : IDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _output = new StringBuilder();

        public ChildCommand(string stateRoot, string command)
        {
            var start = EndToEndHost.PwshStartInfo(stateRoot, command);
            _process = new Process { StartInfo = start };
            _process.OutputDataReceived += (_, e) => { lock (_output) _output.AppendLine(e.Data); };
            _process.ErrorDataReceived += (_, e) => { lock (_output) _output.AppendLine(e.Data); };
            _process.Start();
            _process.StandardInput.Close();
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
            Clock = Stopwatch.StartNew();
        }

        public Stopwatch Clock { get; }
        public bool HasExited => _process.HasExited;
        public int ExitCode => _process.ExitCode;

        public string Output
        {
            get { lock (_output) return _output.ToString(); }
        }

        /// <summary>Waits until <paramref name="condition"/> holds or the process ends; then SIGKILLs it if it still runs. True when killed.</summary>
        public bool KillWhen(Func<bool> condition, TimeSpan limit)
        {
            while (Clock.Elapsed < limit && !_process.HasExited && !condition()) Thread.Sleep(5);
            return Kill();
        }

        /// <summary>SIGKILL (no finally blocks, no StopProcessing); true when it was still running.</summary>
        public bool Kill()
        {
            if (_process.HasExited) return false;
            _process.Kill(); // SIGKILL
            _process.WaitForExit(30_000);
            return true;
        }

        public bool WaitForExit(TimeSpan limit) => _process.WaitForExit((int)limit.TotalMilliseconds);

        public void Dispose()
        {
            Kill();
            _process.Dispose();
        }
    }

    /// <summary>
    /// Real kill -9 of a separate process running a command, at sampled moments; then the same command run again
    /// converges and teardown leaves nothing. $VN_KILL_SOAK=N runs N random kills across deploy, live move and remove
    /// (the randomized soak of docs/reliability.md; not in CI).
    /// </summary>
    [Collection(EndToEndCollection.Name)]
    public sealed class EndToEndKillTests
    {
        private readonly ITestOutputHelper _out;

        public EndToEndKillTests(ITestOutputHelper output) => _out = output;

        /// <summary>A topology file of three routers: a, b on h1 and c on h2 (lab hosts) when <paramref name="labHosts"/>, else all here.</summary>
        private static string WriteTopology(CrashRun run, bool labHosts)
        {
            string H(int i) => run.LabHosts[i];
            var hosts = labHosts
                ? $"\"hosts\": [ {{ \"name\": \"{H(0)}\" }}, {{ \"name\": \"{H(1)}\" }} ], \"physicalLinks\": [ {{ \"from\": \"{H(0)}\", \"to\": \"{H(1)}\" }} ],"
                : "";
            string At(int i) => labHosts ? $", \"host\": \"{H(i)}\"" : "";
            var text = "{ \"defaults\": { \"image\": \"router\", \"memoryMB\": 96 }, " + hosts +
                       $" \"routers\": [ {{ \"name\": \"{run.N("a")}\", \"network\": \"{run.Prefix}\"{At(0)} }}, {{ \"name\": \"{run.N("b")}\", \"network\": \"{run.Prefix}\"{At(0)} }}, {{ \"name\": \"{run.N("c")}\", \"network\": \"{run.Prefix}\"{At(1)} }} ]," +
                       $" \"links\": [ {{ \"name\": \"{run.N("ab")}\", \"from\": \"{run.N("a")}\", \"to\": \"{run.N("b")}\" }}, {{ \"name\": \"{run.N("bc")}\", \"from\": \"{run.N("b")}\", \"to\": \"{run.N("c")}\", \"maximumBandwidth\": \"20Mbps\" }} ] }}";
            Directory.CreateDirectory(run.Work);
            var path = Path.Combine(run.Work, "topology.json");
            File.WriteAllText(path, text);
            return path;
        }

        private static string Deploy(string path) => "Deploy-VirtualNetwork -Path " + EndToEndHost.Q(path) + " -Confirm:$false | Out-Null";

        /// <summary>Runs a command in a child to its end; fails the test when it fails.</summary>
        private void Complete(CrashRun run, string command, string what)
        {
            using var child = new ChildCommand(run.Root, command + "; if (-not $?) { exit 3 }");
            Assert.True(child.WaitForExit(TimeSpan.FromMinutes(5)), what + " did not finish in 5 minutes:\n" + child.Output);
            Assert.True(child.ExitCode == 0, what + " failed (exit " + child.ExitCode + "):\n" + child.Output);
        }

        /// <summary>Everything of the run's network converged: further Deploy plans nothing, the test passes, one QEMU per router, no wanted QEMU is an orphan.</summary>
        private static void AssertHealthy(CrashRun run, string path, string context)
        {
            run.NewProcess();
            var read = Topology.TopologyReader.ReadFile(path);
            Assert.True(read.Spec != null && read.Errors.Count == 0, "the test's topology file does not read");
            Assert.DoesNotContain(run.Backend.FindOrphans(false, CancellationToken.None), o => o.Kind == OrphanKind.Process);
            Assert.All(run.QemuPerRouter(), kv => Assert.True(kv.Value == 1, context + ": " + kv.Key + " has " + kv.Value + " QEMU processes"));
            CrashInjector.AssertConverged(run, read.Spec!, context);
        }

        [EndToEndFact]
        public void A_deploy_killed_while_routers_start_leaves_routers_that_orphan_clean_up_keeps_and_a_rerun_finishes()
        {
            EndToEndHost.RequireReady();
            using var run = new CrashRun(_out);
            var path = WriteTopology(run, labHosts: false);
            using (var child = new ChildCommand(run.Root, Deploy(path)))
            {
                bool killed = child.KillWhen(() => EndToEndHost.QemuProcesses(run.Root).Count > 0, TimeSpan.FromMinutes(3));
                Assert.True(killed, "the deploy ended before any router started:\n" + child.Output);
                _out.WriteLine($"killed after {child.Clock.ElapsedMilliseconds} ms");
            }
            Thread.Sleep(1000); // QEMU daemonizes: let the ones being started settle
            var running = EndToEndHost.QemuProcesses(run.Root).Keys.ToList();
            Assert.NotEmpty(running);

            // The documented clean-up (without -All) must not touch a router the records want.
            using (var ps = new EndToEndSession(run.Root, _out))
            {
                var removed = ps.Invoke("Remove-VirtualNetworkOrphan -Confirm:$false -PassThru").Ok("Remove-VirtualNetworkOrphan");
                Assert.DoesNotContain(removed.Output, o => EndToEndSession.Text(o, "Kind") == "Process");
            }
            Assert.All(running, pid => Assert.True(Directory.Exists("/proc/" + pid.ToString(CultureInfo.InvariantCulture)), "router QEMU " + pid + " was killed by clean-up"));

            Complete(run, Deploy(path), "the re-run deploy");
            AssertHealthy(run, path, "after the killed deploy and a re-run");
            Assert.True(run.Remove().Success);
            Assert.Empty(run.Leftovers());
        }

        /// <summary>Kills the command at a random moment of its usual duration; returns when it was killed (ms), or -1 when it ended first.</summary>
        private long KillAtRandom(CrashRun run, string command, long typicalMs, Random random)
        {
            // pwsh needs ~1 s to start and import the module: the command's own work begins after that.
            long at = 900 + (long)(random.NextDouble() * Math.Max(300, typicalMs));
            using var child = new ChildCommand(run.Root, command);
            bool killed = child.KillWhen(() => child.Clock.ElapsedMilliseconds >= at, TimeSpan.FromMinutes(5));
            return killed ? child.Clock.ElapsedMilliseconds : -1;
        }

        [EndToEndFact]
        public void Deploy_and_remove_killed_at_random_moments_converge_when_run_again()
        {
            EndToEndHost.RequireReady();
            int samples = int.TryParse(Environment.GetEnvironmentVariable("VN_KILL_SAMPLES"), out var n) && n > 0 ? n : 2;
            var random = new Random(Environment.TickCount);
            for (int i = 0; i < samples; i++)
            {
                using var run = new CrashRun(_out);
                var path = WriteTopology(run, labHosts: false);
                long killedAt = KillAtRandom(run, Deploy(path), 3000, random);
                _out.WriteLine($"deploy {i}: killed at {killedAt} ms");
                Complete(run, Deploy(path), "the re-run deploy");
                AssertHealthy(run, path, $"deploy killed at {killedAt} ms, then run again");

                killedAt = KillAtRandom(run, "Remove-VirtualNetwork -Name " + EndToEndHost.Q(run.Prefix) + " -Confirm:$false -Force", 1500, random);
                _out.WriteLine($"remove {i}: killed at {killedAt} ms");
                // Gone already (the removal ended before its kill) is fine: NotFound is silenced, what is left is checked.
                Complete(run, "Remove-VirtualNetwork -Name " + EndToEndHost.Q(run.Prefix) + " -Confirm:$false -Force -ErrorAction SilentlyContinue; " +
                              "if (Get-VirtualRouter | Where-Object Name -like " + EndToEndHost.Q(run.Prefix + "-*") + ") { exit 4 }", "the re-run removal");
                var left = run.Leftovers();
                Assert.True(left.Count == 0, $"remove killed at {killedAt} ms and run again left:\n" + string.Join("\n", left));
            }
        }

        /// <summary>
        /// Disable-/Enable-VirtualLink (issue 14) killed with SIGKILL, half of the time at a random moment of the command
        /// and half of the time right after its intent reached the link record (before anything is applied), through
        /// every transition (Up, Silent, CablePulled, Silent directly from CablePulled, Up). Each kill is followed by the
        /// same command run to its end; then the record, the host (the drop filter on both taps exactly when Silent), the
        /// guests (carrier down exactly when CablePulled) and the forwarding (a reaches b only when Up) agree. At the end
        /// the network is healthy and a removal leaves nothing. $VN_KILL_SAMPLES rounds (default 1).
        /// </summary>
        [EndToEndFact]
        public void Link_state_commands_killed_at_any_moment_are_applied_by_a_rerun()
        {
            EndToEndHost.RequireReady();
            int rounds = int.TryParse(Environment.GetEnvironmentVariable("VN_KILL_SAMPLES"), out var n) && n > 0 ? n : 1;
            var random = new Random(Environment.TickCount);
            using var run = new CrashRun(_out);
            var path = WriteTopology(run, labHosts: false);
            Complete(run, Deploy(path), "the deploy");
            string link = run.N("ab"), a = run.N("a"), b = run.N("b");
            string Q(string s) => EndToEndHost.Q(s);
            var steps = new (string Command, LinkState State)[]
            {
                ("Disable-VirtualLink -Name " + Q(link) + " -Failure Silent -Confirm:$false", LinkState.Silent),
                ("Enable-VirtualLink -Name " + Q(link) + " -Confirm:$false", LinkState.Up),
                ("Disable-VirtualLink -Name " + Q(link) + " -Failure CablePulled -Confirm:$false", LinkState.CablePulled),
                ("Disable-VirtualLink -Name " + Q(link) + " -Failure Silent -Confirm:$false", LinkState.Silent),
                ("Enable-VirtualLink -Name " + Q(link) + " -Confirm:$false", LinkState.Up),
            };
            for (int round = 0; round < rounds; round++)
            {
                for (int i = 0; i < steps.Length; i++)
                {
                    var (command, state) = steps[i];
                    long killedAt;
                    string moment;
                    if ((round + i) % 2 == 0)
                    {
                        killedAt = KillAtRandom(run, command, 800, random);
                        moment = "at random";
                    }
                    else
                    {
                        // Right after the intent is on disk: the record says the new state, nothing of it is applied yet.
                        using var child = new ChildCommand(run.Root, command);
                        bool killed = child.KillWhen(() => RecordedState(run, link) == state, TimeSpan.FromMinutes(3));
                        killedAt = killed ? child.Clock.ElapsedMilliseconds : -1;
                        moment = "after the record";
                    }
                    string context = $"round {round}, {state} killed {moment} at {killedAt} ms, then run again";
                    _out.WriteLine(context);
                    Complete(run, command, "the re-run of " + command);
                    AssertLinkState(run, link, a, b, state, context);
                }
            }
            AssertHealthy(run, path, "after the link state kills");
            Assert.True(run.Remove().Success);
            Assert.Empty(run.Leftovers());
        }

        private static LinkState? RecordedState(CrashRun run, string link)
        {
            try
            {
                return run.Backend.Store.ReadLink(link)?.State;
            }
            catch (VirtualNetworksException)
            {
                return null; // being replaced this very moment
            }
        }

        /// <summary>Record, host, guests and forwarding all show <paramref name="state"/> for the link a—b (both ends on this host).</summary>
        private void AssertLinkState(CrashRun run, string link, string a, string b, LinkState state, string context)
        {
            run.NewProcess();
            var record = run.Backend.Store.ReadLink(link)!;
            Assert.True(record.State == state, $"{context}: the record says {record.State}");
            Assert.Equal(state, run.Backend.GetInventory(CancellationToken.None).Links.Single(l => l.Name == link).State);
            var drop = new Net.SilentDrop(new Net.IpCommand(null, TimeSpan.FromSeconds(10)));
            foreach (var end in new[] { a, b })
            {
                Assert.True(drop.IsApplied(record.Taps[end], CancellationToken.None) == (state == LinkState.Silent),
                    $"{context}: {end}'s tap {(state == LinkState.Silent ? "lacks" : "still carries")} the drop filter");
                bool down = false;
                var clock = Stopwatch.StartNew();
                do
                {
                    // QEMU tells the guest of a carrier change through an interrupt: wait for it, bounded.
                    down = GuestLinks.CarrierDown(run.Backend, end, link, _out);
                    if (down == (state == LinkState.CablePulled)) break;
                    Thread.Sleep(300);
                } while (clock.Elapsed < TimeSpan.FromSeconds(10));
                Assert.True(down == (state == LinkState.CablePulled), $"{context}: {end}'s guest sees carrier {(down ? "down" : "up")}");
            }
            var target = run.Backend.Store.ReadRouter(b)!.Configuration!.Interfaces
                .Single(x => string.Equals(x.LinkName, link, StringComparison.OrdinalIgnoreCase)).Address.Split('/')[0];
            bool reached = false;
            var wait = Stopwatch.StartNew();
            do
            {
                reached = run.Backend.Probe(a, target, CancellationToken.None).Reachable;
            } while (!reached && state == LinkState.Up && wait.Elapsed < TimeSpan.FromSeconds(20));
            Assert.True(reached == (state == LinkState.Up), $"{context}: a {(reached ? "reaches" : "does not reach")} b across the link");
        }

        /// <summary>
        /// The randomized soak: $VN_KILL_SOAK kills of deploy, live move and remove over two lab hosts, each followed by the
        /// same command run to its end and a health check. Appends its counts to $VN_RELIABILITY_LOG.
        /// </summary>
        [SoakFact]
        public void Soak_random_kills_across_deploy_move_and_remove()
        {
            int kills = int.Parse(Environment.GetEnvironmentVariable("VN_KILL_SOAK")!, CultureInfo.InvariantCulture);
            EndToEndHost.RequireReady();
            var random = new Random(Environment.TickCount);
            int done = 0, converged = 0, endedFirst = 0;
            var failures = new List<string>();
            var clock = Stopwatch.StartNew();
            while (done < kills)
            {
                using var run = new CrashRun(_out, new[] { "h1", "h2" });
                var path = WriteTopology(run, labHosts: true);
                string b = run.N("b");
                var steps = new (string What, string Command, string Recover, long Typical)[]
                {
                    ("deploy", Deploy(path), Deploy(path), 5000),
                    ("live move", $"Move-VirtualRouter -Name {b} -DestinationHost {run.LabHosts[1]} -Mode Live -Confirm:$false",
                        $"$r = Get-VirtualRouter -Name {b}; if ($r.ComputerName -ne '{run.LabHosts[1]}' -or $r.State -eq 'Failed') {{ Move-VirtualRouter -Name {b} -DestinationHost {run.LabHosts[1]} -Mode Live -Confirm:$false }}", 1500),
                    ("cold move", $"Move-VirtualRouter -Name {b} -DestinationHost {run.LabHosts[0]} -Mode Cold -Confirm:$false",
                        $"$r = Get-VirtualRouter -Name {b}; if ($r.ComputerName -ne '{run.LabHosts[0]}' -or $r.State -eq 'Failed') {{ Move-VirtualRouter -Name {b} -DestinationHost {run.LabHosts[0]} -Mode Cold -Confirm:$false }}", 4000),
                    ("remove", $"Remove-VirtualNetwork -Name {run.Prefix} -Confirm:$false -Force",
                        $"Remove-VirtualNetwork -Name {run.Prefix} -Confirm:$false -Force -ErrorAction SilentlyContinue; if (Get-VirtualRouter | Where-Object Name -like '{run.Prefix}-*') {{ exit 4 }}", 2500),
                };
                foreach (var step in steps)
                {
                    if (done >= kills) break;
                    try
                    {
                        long at = KillAtRandom(run, step.Command, step.Typical, random);
                        if (at < 0) endedFirst++; // ended before its kill: not counted as a kill
                        else done++;
                        Complete(run, step.Recover, step.What + " run again");
                        if (step.What == "remove")
                        {
                            var left = run.Leftovers();
                            Assert.True(left.Count == 0, "left:\n" + string.Join("\n", left));
                        }
                        else
                        {
                            AssertHealthy(run, path, $"{step.What} killed at {at} ms, then run again");
                        }
                        converged++;
                        _out.WriteLine($"[{clock.Elapsed.TotalMinutes:0.0} min] kill {done}: {step.What} " + (at < 0 ? "ended before its kill" : $"killed at {at} ms") + ": converged");
                    }
                    catch (Exception ex)
                    {
                        failures.Add($"kill {done}: {step.What}: {ex.Message}");
                        _out.WriteLine($"kill {done}: {step.What}: FAILED: {ex}");
                        break; // this run's state is unknown: start a fresh one
                    }
                }
            }
            var log = Environment.GetEnvironmentVariable("VN_RELIABILITY_LOG");
            if (!string.IsNullOrEmpty(log))
                File.AppendAllText(log, $"{{\"when\":\"{DateTime.UtcNow:o}\",\"operation\":\"soak\",\"kills\":{done},\"converged\":{converged},\"endedBeforeKill\":{endedFirst},\"failures\":{failures.Count},\"seconds\":{clock.Elapsed.TotalSeconds:0}}}\n");
            _out.WriteLine($"soak: {done} kills, {converged} converged, {endedFirst} commands ended before their kill, {failures.Count} failures, {clock.Elapsed.TotalMinutes:0.0} min");
            Assert.True(failures.Count == 0, string.Join("\n", failures));
        }
    }
}
