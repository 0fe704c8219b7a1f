using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using VirtualNetworks.Backends;
using VirtualNetworks.Engine;
using VirtualNetworks.Planning;
using VirtualNetworks.Topology;
using VirtualNetworks.Util;
using Xunit;
using Xunit.Abstractions;

namespace VirtualNetworks.Linux.Tests
{
    /// <summary>
    /// One state directory, backend and engine service of a crash-injection run, with the test's unique name prefix and
    /// lab hosts; disposing removes whatever the run left (only its own objects).
    /// </summary>
    internal sealed class CrashRun : IDisposable
    {
        private readonly ITestOutputHelper _out;

        public CrashRun(ITestOutputHelper output, IReadOnlyList<string>? labHosts = null)
        {
            _out = output;
            Prefix = EndToEndHost.NewPrefix();
            Root = EndToEndHost.NewStateRoot();
            Backend = EndToEndHost.NewBackend(Root);
            Net.LinuxCapabilities.Probe(); // the process-wide capability probe runs once, before any boundary is counted
            Service = new VirtualNetworkService(Backend);
            LabHosts = (labHosts ?? Array.Empty<string>()).Select(h => Prefix + "-" + h).ToList();
        }

        public string Prefix { get; }
        public string Root { get; }
        public LinuxBackend Backend { get; private set; }
        public VirtualNetworkService Service { get; private set; }
        /// <summary>The run's lab host names (prefixed).</summary>
        public IReadOnlyList<string> LabHosts { get; }

        public string N(string name) => Prefix + "-" + name;

        /// <summary>A scratch folder beside the state directory (topology files), deleted with the run.</summary>
        public string Work => Root + "-work";

        /// <summary>A fresh backend on the same state directory: what the next command (a new process) would use.</summary>
        public void NewProcess()
        {
            Service = new VirtualNetworkService(Backend = new LinuxBackend(new BackendRequest
            {
                Options = new Dictionary<string, object?> { [LinuxBackend.StateDirectoryOption] = Root },
            }));
        }

        public ApplyResult Deploy(TopologySpec topology) =>
            Service.Apply(Service.PlanDeployment(topology, false, CancellationToken.None), new ApplyAllSteps(), CancellationToken.None);

        /// <summary>Remove-VirtualNetwork of every network holding one of this run's routers.</summary>
        public ApplyResult Remove()
        {
            using var exclusive = Service.Exclusive(CancellationToken.None);
            var snapshot = Service.Observe(CancellationToken.None);
            var ours = snapshot.Networks.Where(n => n.Routers.Any(r => r.StartsWith(Prefix + "-", StringComparison.OrdinalIgnoreCase))).ToList();
            return Service.Apply(Service.PlanRemoval(snapshot, ours), new ApplyAllSteps(), CancellationToken.None);
        }

        public bool IsOurs(string alias) => EndToEndHost.TagNamesPrefix(alias, Prefix) || LabHosts.Any(h => alias.IndexOf(h, StringComparison.OrdinalIgnoreCase) >= 0);

        /// <summary>What is left of the run's objects (the router image linked into the state directory by the test is not).</summary>
        public List<string> Leftovers() =>
            EndToEndHost.Leftovers(Root, IsOurs, LabHosts).Where(l => !l.StartsWith("state file " + Root + "/images/", StringComparison.Ordinal)).ToList();

        /// <summary>Router name -> number of its QEMU processes (by the pidfile under this state directory's run/).</summary>
        public Dictionary<string, int> QemuPerRouter()
        {
            var counts = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
            foreach (var cmd in EndToEndHost.QemuProcesses(Root).Values)
            {
                var args = cmd.Split(' ');
                int i = Array.IndexOf(args, "-pidfile");
                if (i < 0 || i + 1 >= args.Length) continue;
                var router = Path.GetFileNameWithoutExtension(args[i + 1]);
                counts[router] = counts.TryGetValue(router, out var c) ? c + 1 : 1;
            }
            return counts;
        }

        public void Dispose()
        {
            CrashPoint.Disarm();
            try
            {
                if (Leftovers().Count > 0) Remove();
            }
            catch (Exception ex)
            {
                _out.WriteLine("clean-up removal: " + ex.Message);
            }
            // Everything this run's state directory owns (its tags carry its own state id, so nothing of another run or
            // state directory is listed): also what is not named after the prefix, such as the local machine's underlay
            // anchor and routes when a lab host was linked to it.
            try
            {
                NewProcess();
                foreach (var o in Backend.FindOrphans(true, CancellationToken.None))
                {
                    try { Backend.RemoveOrphan(o, CancellationToken.None); }
                    catch (Exception ex) { _out.WriteLine("clean-up " + o + ": " + ex.Message); }
                }
            }
            catch (Exception ex)
            {
                _out.WriteLine("clean-up scan: " + ex.Message);
            }
            EndToEndHost.CleanUpOwn(Backend, Prefix, Root, LabHosts, _out);
            try { if (Directory.Exists(Work)) Directory.Delete(Work, true); } catch (IOException) { }
        }
    }

    /// <summary>What one crash-injected operation came to: boundaries, points tried, re-runs that converged.</summary>
    internal sealed class CrashTally
    {
        public string Operation { get; set; } = "";
        public int Boundaries { get; set; }
        public List<int> Tried { get; } = new List<int>();
        public int Converged { get; set; }
        public int OrphanProcessesWanted { get; set; }
        public int DuplicateQemus { get; set; }
        public int Leftovers { get; set; }
        public List<string> Failures { get; } = new List<string>();
        public TimeSpan Duration { get; set; }

        public override string ToString() =>
            $"{Operation}: {Boundaries} boundaries, {Tried.Count} crash points tried ({string.Join(",", Tried)}), {Converged} re-runs converged, " +
            $"wanted QEMUs listed as orphans {OrphanProcessesWanted}, duplicate QEMUs {DuplicateQemus}, leftovers after teardown {Leftovers}, " +
            $"{Duration.TotalSeconds:0} s";

        /// <summary>Appends one JSON line to $VN_RELIABILITY_LOG when set (the figures of docs/reliability.md).</summary>
        public void Log()
        {
            var path = Environment.GetEnvironmentVariable("VN_RELIABILITY_LOG");
            if (string.IsNullOrEmpty(path)) return;
            var o = new Newtonsoft.Json.Linq.JObject
            {
                ["when"] = DateTime.UtcNow.ToString("o", CultureInfo.InvariantCulture),
                ["operation"] = Operation,
                ["boundaries"] = Boundaries,
                ["tried"] = Tried.Count,
                ["converged"] = Converged,
                ["wantedQemusListedAsOrphans"] = OrphanProcessesWanted,
                ["duplicateQemus"] = DuplicateQemus,
                ["leftovers"] = Leftovers,
                ["failures"] = Failures.Count,
                ["seconds"] = Math.Round(Duration.TotalSeconds),
            };
            File.AppendAllText(path, o.ToString(Newtonsoft.Json.Formatting.None) + "\n");
        }
    }

    /// <summary>
    /// Runs an operation with a simulated crash (<see cref="CrashPoint"/>) at chosen step boundaries, each in a fresh
    /// state directory: set up, run the operation armed to die at boundary k, then — as a new process would — run the
    /// recovery (the same command again), check the world converged, tear down, check nothing tagged is left.
    /// </summary>
    internal static class CrashInjector
    {
        /// <summary>
        /// How many crash points per operation: every boundary when $VN_CRASH_POINTS is "all", else at most this many,
        /// spread evenly over the boundaries (the first and the last always among them).
        /// </summary>
        public static int MaxPoints(int defaultPoints)
        {
            var v = Environment.GetEnvironmentVariable("VN_CRASH_POINTS");
            if (string.Equals(v, "all", StringComparison.OrdinalIgnoreCase)) return int.MaxValue;
            return int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n > 0 ? n : defaultPoints;
        }

        /// <summary>Boundaries 1..n, thinned to at most <paramref name="max"/> evenly spaced ones.</summary>
        public static List<int> Choose(int n, int max)
        {
            if (n <= max) return Enumerable.Range(1, n).ToList();
            var chosen = new SortedSet<int>();
            for (int i = 0; i < max; i++) chosen.Add(1 + (int)Math.Round(i * (n - 1) / (double)(max - 1)));
            return chosen.ToList();
        }

        public static CrashTally Run(
            string operation,
            ITestOutputHelper output,
            Func<CrashRun> newRun,
            Action<CrashRun> setup,
            Action<CrashRun> operate,
            Action<CrashRun> recover,
            Action<CrashRun> verify,
            int defaultPoints,
            Action<CrashRun>? teardown = null)
        {
            var clock = Stopwatch.StartNew();
            var tally = new CrashTally { Operation = operation };

            // 1. Count the boundaries of an uninterrupted run (and check the operation works at all).
            using (var run = newRun())
            {
                setup(run);
                var plan = CrashPoint.Arm(0);
                try { operate(run); }
                finally { CrashPoint.Disarm(); }
                tally.Boundaries = plan.Hits;
                output.WriteLine($"{operation}: {plan.Hits} step boundaries");
                verify(run);
            }

            // 2. Crash at each chosen boundary, recover, verify, tear down.
            foreach (int k in Choose(tally.Boundaries, MaxPoints(defaultPoints)))
            {
                tally.Tried.Add(k);
                using var run = newRun();
                string at = "?";
                try
                {
                    setup(run);
                    var plan = CrashPoint.Arm(k);
                    try
                    {
                        operate(run);
                    }
                    catch (Exception ex) when (plan.Dead)
                    {
                        _ = ex; // the simulated crash (or what it caused on its way out)
                    }
                    finally
                    {
                        CrashPoint.Disarm();
                    }
                    var trace = plan.Trace;
                    at = k <= trace.Count ? trace[k - 1] : "(not reached)";
                    run.NewProcess();
                    recover(run);
                    // Nothing a record wants may be taken by orphan clean-up; one QEMU per router.
                    var wanted = run.Backend.FindOrphans(false, CancellationToken.None).Where(o => o.Kind == OrphanKind.Process).ToList();
                    tally.OrphanProcessesWanted += wanted.Count;
                    Assert.True(wanted.Count == 0, $"crash at {k} ({at}): orphan clean-up would kill " + string.Join(", ", wanted.Select(o => o.Owner + " (" + o.Reason + ")")));
                    var dup = run.QemuPerRouter().Where(kv => kv.Value > 1).ToList();
                    tally.DuplicateQemus += dup.Count;
                    Assert.True(dup.Count == 0, $"crash at {k} ({at}): more than one QEMU for " + string.Join(", ", dup.Select(d => d.Key + " x" + d.Value)));
                    verify(run);
                    tally.Converged++;
                    var removed = run.Remove();
                    Assert.True(removed.Success, $"crash at {k} ({at}): teardown failed at {removed.Failed}: {removed.Error}");
                    teardown?.Invoke(run);
                    var left = run.Leftovers();
                    tally.Leftovers += left.Count;
                    Assert.True(left.Count == 0, $"crash at {k} ({at}): left after teardown:\n" + string.Join("\n", left));
                    output.WriteLine($"{operation}: crash at {k}/{tally.Boundaries} ({at}): recovered ({clock.Elapsed.TotalSeconds:0} s)");
                }
                catch (Exception ex)
                {
                    tally.Failures.Add($"crash at {k}/{tally.Boundaries} ({at}): {ex.Message}");
                    output.WriteLine($"{operation}: crash at {k}/{tally.Boundaries} ({at}): FAILED: {ex}");
                }
            }
            tally.Duration = clock.Elapsed;
            output.WriteLine(tally.ToString());
            tally.Log();
            Assert.True(tally.Failures.Count == 0, operation + ": " + tally.Failures.Count + " of " + tally.Tried.Count + " crash points did not recover:\n" +
                                                  string.Join("\n", tally.Failures));
            return tally;
        }

        /// <summary>Deploy again plans nothing, and every network passes its test (reachability inside, isolation between).</summary>
        public static void AssertConverged(CrashRun run, TopologySpec topology, string context)
        {
            var plan = run.Service.PlanDeployment(topology, false, CancellationToken.None);
            Assert.True(plan.Steps.Count == 0, context + ": a further Deploy still plans " + string.Join("; ", plan.Steps.Select(s => s.ToString())));
            var snapshot = run.Service.Observe(CancellationToken.None);
            var ours = snapshot.Networks.Where(n => n.Routers.Any(r => r.StartsWith(run.Prefix + "-", StringComparison.OrdinalIgnoreCase))).Select(n => n.Name).ToList();
            var report = NetworkTester.Run(run.Backend, snapshot, ours, null, CancellationToken.None);
            Assert.True(report.Passed, context + ": Test-VirtualNetwork failed: " +
                                       string.Join("; ", report.Results.Where(r => !r.Passed).Select(r => $"{r.Source} -> {r.Destination} {r.DestinationAddress} expected {r.Expected}: {r.Detail}")));
            foreach (var r in topology.Routers)
            {
                var seen = snapshot.FindRouter(r.Name);
                Assert.True(seen != null && seen.State == RouterState.Running, context + ": router " + r.Name + " is " + (seen?.State.ToString() ?? "missing"));
            }
        }
    }
}
