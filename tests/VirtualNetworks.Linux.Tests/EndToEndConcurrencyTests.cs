using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using VirtualNetworks.Engine;
using VirtualNetworks.Planning;
using VirtualNetworks.Topology;
using Xunit;
using Xunit.Abstractions;

namespace VirtualNetworks.Linux.Tests
{
    /// <summary>
    /// Two commands at once on one state directory, each with its own backend instance (as two processes or runspaces
    /// have): the state lock is held from planning to the last step, so the second waits and plans against the first's
    /// result.
    /// </summary>
    [Collection(EndToEndCollection.Name)]
    public sealed class EndToEndConcurrencyTests
    {
        private readonly ITestOutputHelper _out;

        public EndToEndConcurrencyTests(ITestOutputHelper output) => _out = output;

        private static TopologySpec Pair(CrashRun run, string tag) => new TopologySpec
        {
            Routers =
            {
                new RouterSpec { Name = run.N(tag + "1"), Image = "router", MemoryMB = 96, NetworkLabel = run.N(tag) },
                new RouterSpec { Name = run.N(tag + "2"), Image = "router", MemoryMB = 96, NetworkLabel = run.N(tag) },
                new RouterSpec { Name = run.N(tag + "3"), Image = "router", MemoryMB = 96, NetworkLabel = run.N(tag) },
            },
            Links =
            {
                new LinkSpec { Name = run.N(tag + "12"), From = run.N(tag + "1"), To = run.N(tag + "2") },
                new LinkSpec { Name = run.N(tag + "23"), From = run.N(tag + "2"), To = run.N(tag + "3") },
            },
        };

        /// <summary>Deploys on a backend of its own (a separate command); the result, or the exception.</summary>
        private static Task<(ApplyResult? Result, Exception? Error, int Planned)> DeployConcurrently(string root, TopologySpec topology, Barrier start) =>
            Task.Factory.StartNew(() =>
            {
                using var backend = new LinuxBackend(new Backends.BackendRequest
                {
                    Options = new Dictionary<string, object?> { [LinuxBackend.StateDirectoryOption] = root },
                });
                using var service = new VirtualNetworkService(backend);
                start.SignalAndWait();
                try
                {
                    using var exclusive = service.Exclusive(CancellationToken.None); // as Deploy-VirtualNetwork holds it
                    var plan = service.PlanDeployment(topology, false, CancellationToken.None);
                    return ((ApplyResult?)service.Apply(plan, new ApplyAllSteps(), CancellationToken.None), (Exception?)null, plan.Steps.Count);
                }
                catch (Exception ex)
                {
                    return (null, ex, -1);
                }
            }, TaskCreationOptions.LongRunning);

        [EndToEndFact]
        public void Two_deploys_of_different_topologies_at_once_get_distinct_addresses_and_both_pass_their_test()
        {
            EndToEndHost.RequireReady();
            using var run = new CrashRun(_out);
            var x = Pair(run, "x");
            var y = Pair(run, "y");
            var start = new Barrier(2);
            var tx = DeployConcurrently(run.Root, x, start);
            var ty = DeployConcurrently(run.Root, y, start);
            Task.WaitAll(new Task[] { tx, ty }, TimeSpan.FromMinutes(10));
            foreach (var (t, name) in new[] { (tx, "x"), (ty, "y") })
            {
                Assert.True(t.Result.Error == null, "deploy " + name + " threw: " + t.Result.Error);
                Assert.True(t.Result.Result!.Success, "deploy " + name + " failed at " + t.Result.Result.Failed + ": " + t.Result.Result.Error);
            }

            var snapshot = run.Service.Observe(CancellationToken.None);
            var addresses = snapshot.Links.SelectMany(l => new[] { l.FromAddress, l.ToAddress }).ToList();
            Assert.DoesNotContain(addresses, a => string.IsNullOrEmpty(a));
            var duplicates = addresses.GroupBy(a => a!.Split('/')[0]).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
            Assert.True(duplicates.Count == 0, "addresses handed out twice: " + string.Join(", ", duplicates));
            var report = NetworkTester.Run(run.Backend, snapshot, new[] { run.N("x"), run.N("y") }, null, CancellationToken.None);
            _out.WriteLine($"Test-VirtualNetwork: {report.ProbeCount} probes, {report.ReachabilityFailures} reachability and {report.IsolationFailures} isolation failures");
            Assert.Equal(0, report.IsolationFailures);
            Assert.True(report.Passed, "Test-VirtualNetwork failed: " + string.Join("; ", report.Results.Where(r => !r.Passed)
                .Select(r => $"{r.Source} -> {r.Destination} {r.DestinationAddress} expected {r.Expected}: {r.Detail}")));
        }

        [EndToEndFact]
        public void The_same_topology_deployed_twice_at_once_is_built_once_and_the_second_plans_nothing()
        {
            EndToEndHost.RequireReady();
            using var run = new CrashRun(_out);
            var x = Pair(run, "x");
            var start = new Barrier(2);
            var t1 = DeployConcurrently(run.Root, x, start);
            var t2 = DeployConcurrently(run.Root, x, start);
            Task.WaitAll(new Task[] { t1, t2 }, TimeSpan.FromMinutes(10));
            var outcomes = new[] { t1.Result, t2.Result };
            foreach (var o in outcomes) Assert.True(o.Error == null && o.Result!.Success, "a deploy failed: " + (o.Error?.ToString() ?? o.Result!.Error?.ToString()));
            // One of them built everything, the other planned against its result: nothing to do.
            Assert.Contains(outcomes, o => o.Planned == 0);
            Assert.Contains(outcomes, o => o.Planned > 0);
            Assert.All(run.QemuPerRouter().Values, n => Assert.Equal(1, n));
            Assert.Equal(3, run.QemuPerRouter().Count);
            CrashInjector.AssertConverged(run, x, "after two concurrent deploys of one topology");
        }
    }
}
