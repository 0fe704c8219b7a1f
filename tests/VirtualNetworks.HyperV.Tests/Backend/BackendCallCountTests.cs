using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Text;
using VirtualNetworks.HyperV.Simulator;
using Xunit;
using Xunit.Abstractions;

namespace VirtualNetworks.HyperV.Tests.Backend
{
    /// <summary>
    /// Call counts of the Hyper-V backend measured on the simulator: the inventory is a fixed number of enumerations
    /// whatever the number of routers, and <see cref="MeasuredCallsPerOperation_Table"/> prints the numbers that
    /// docs/benchmarks.md and docs/hyperv-backend.md §3 quote.
    /// </summary>
    public class BackendCallCountTests
    {
        private static readonly System.Threading.CancellationToken None = SimRig.None;
        private readonly ITestOutputHelper _out;

        public BackendCallCountTests(ITestOutputHelper output) => _out = output;

        /// <summary>
        /// n routers and min(n/2, 50) links between consecutive pairs (every other one with a bandwidth limit), built
        /// through the backend with instant jobs (the linked routers first). Seeded once per size and shared by the tests of
        /// this class.
        /// </summary>
        internal static SimRig Seeded(int n) => SeededRigs.GetOrAdd(n, k => new Lazy<SimRig>(() => Seed(k))).Value;

        private static readonly System.Collections.Concurrent.ConcurrentDictionary<int, Lazy<SimRig>> SeededRigs =
            new System.Collections.Concurrent.ConcurrentDictionary<int, Lazy<SimRig>>();

        internal static int LinksFor(int n) => Math.Min(n / 2, 50);

        private static SimRig Seed(int n)
        {
            var rig = new SimRig();
            int linked = 2 * LinksFor(n);
            for (int i = 0; i < linked; i++) rig.Backend.CreateRouter(SimRig.Router("r" + i), None);
            for (int i = 0; i + 1 < linked; i += 2)
                rig.Backend.CreateLink(SimRig.Link("l" + i, "r" + i, "r" + (i + 1), bw: i % 4 == 0 ? 1_000_000 : (long?)null), None);
            for (int i = linked; i < n; i++) rig.Backend.CreateRouter(SimRig.Router("r" + i), None);
            return rig;
        }

        private static (int Queries, int Associated) InventoryCalls(SimRig rig, out int routers, out int links)
        {
            var b = rig.NewBackend(); // no caches
            rig.Sim.Counters.Reset();
            var inv = b.GetInventory(None);
            routers = inv.Routers.Count;
            links = inv.Links.Count;
            return (rig.Sim.Counters.Queries, rig.Sim.Counters.GetAssociated);
        }

        [Fact]
        public void Inventory_IsAFixedNumberOfEnumerations_For10_100_1000Routers()
        {
            var calls = new List<int>();
            foreach (var n in new[] { 10, 100, 1000 })
            {
                var clock = Stopwatch.StartNew();
                var rig = Seeded(n);
                var seeded = clock.Elapsed;
                var (q, a) = InventoryCalls(rig, out var routers, out var links);
                Assert.Equal(n, routers);
                Assert.Equal(LinksFor(n), links);
                Assert.Equal(0, rig.Sim.Counters.InvokeMethod);
                Assert.Equal(0, rig.Sim.Counters.GetInstance);
                _out.WriteLine($"{n} routers / {links} links: inventory {q} queries + {a} associations (seeded in {seeded.TotalSeconds:0.0} s, or earlier by another test)");
                calls.Add(q + a);
            }
            Assert.All(calls, c => Assert.Equal(calls[0], c));
            Assert.True(calls[0] <= 6, $"{calls[0]} enumerations");
            Assert.Equal(HostSnapshot.FullQueries.Length, calls[0]);
        }

        private sealed class Row
        {
            public string Operation = "";
            public int Methods, Jobs, Queries, Associated, Gets, Polls;
            public string Detail = "";
        }

        private static Row Measure(SimRig rig, string operation, Action action)
        {
            int jobsBefore = rig.Sim.Instances("CIM_ConcreteJob").Count;
            rig.Sim.Counters.Reset();
            action();
            var c = rig.Sim.Counters;
            return new Row
            {
                Operation = operation,
                Methods = c.InvokeMethod,
                Jobs = rig.Sim.Instances("CIM_ConcreteJob").Count - jobsBefore,
                Queries = c.Queries,
                Associated = c.GetAssociated,
                Gets = c.GetInstance - c.JobPolls,
                Polls = c.JobPolls,
                Detail = string.Join(", ", c.Methods.OrderBy(m => m.Key).Select(m => m.Key + (m.Value > 1 ? " ×" + m.Value : ""))),
            };
        }

        /// <summary>
        /// Prints the CIM calls per operation (steady state: templates cached, fabric switch present, jobs instant) and the
        /// inventory calls at 10/100/1000 routers. Copy the table into docs/benchmarks.md.
        /// </summary>
        [Fact]
        public void MeasuredCallsPerOperation_Table()
        {
            var rows = new List<Row>();
            using (var rig = new SimRig())
            {
                var b = rig.Backend;
                rows.Add(Measure(rig, "CreateRouter (first on a fresh backend: services, templates)", () => b.CreateRouter(SimRig.Router("r0"), None)));
                rows.Add(Measure(rig, "CreateRouter", () => b.CreateRouter(SimRig.Router("r1"), None)));
                b.CreateRouter(SimRig.Router("r2"), None);
                b.CreateRouter(SimRig.Router("r3"), None);
                rows.Add(Measure(rig, "CreateLink (first: creates the fabric switch)", () => b.CreateLink(SimRig.Link("a", "r0", "r1", bw: 1_000_000), None)));
                rows.Add(Measure(rig, "CreateLink (with bandwidth)", () => b.CreateLink(SimRig.Link("b", "r1", "r2", bw: 1_000_000), None)));
                rows.Add(Measure(rig, "CreateLink (no bandwidth)", () => b.CreateLink(SimRig.Link("c", "r2", "r3"), None)));
                rows.Add(Measure(rig, "SetLinkBandwidth (change)", () => b.SetLinkBandwidth("a", 2_000_000, None)));
                rows.Add(Measure(rig, "SetLinkBandwidth (remove)", () => b.SetLinkBandwidth("a", null, None)));
                rows.Add(Measure(rig, "SetLinkBandwidth (add)", () => b.SetLinkBandwidth("a", 4_000_000, None)));
                var cfg = new RouterConfiguration
                {
                    RouterName = "r1",
                    Interfaces =
                    {
                        new InterfaceConfiguration { LinkName = "a", Address = "10.200.0.1/31", PeerAddress = "10.200.0.0", PeerRouter = "r0" },
                        new InterfaceConfiguration { LinkName = "b", Address = "10.200.0.2/31", PeerAddress = "10.200.0.3", PeerRouter = "r2" },
                    },
                };
                rows.Add(Measure(rig, "ConfigureRouter (first push)", () => b.ConfigureRouter(cfg, None)));
                cfg.Routes.Add(new RouteConfiguration { Destination = "0.0.0.0/0", NextHop = "10.200.0.3", LinkName = "b" });
                rows.Add(Measure(rig, "ConfigureRouter (change)", () => b.ConfigureRouter(cfg, None)));
                rows.Add(Measure(rig, "StartRouter", () => b.StartRouter("r1", None)));
                rows.Add(Measure(rig, "SuspendRouter", () => b.SuspendRouter("r1", None)));
                rows.Add(Measure(rig, "ResumeRouter", () => b.ResumeRouter("r1", None)));
                rig.Reachable["10.200.0.0"] = true;
                rows.Add(Measure(rig, "Probe", () => b.Probe("r1", "10.200.0.0", None)));
                rows.Add(Measure(rig, "StopRouter (graceful)", () => b.StopRouter("r1", false, None)));
                b.StartRouter("r1", None);
                rows.Add(Measure(rig, "StopRouter -TurnOff", () => b.StopRouter("r1", true, None)));
                rows.Add(Measure(rig, "RemoveLink", () => b.RemoveLink("c", None)));
                b.StartRouter("r1", None);
                rows.Add(Measure(rig, "RemoveRouter (running, 2 links)", () => b.RemoveRouter("r1", None)));
                rows.Add(Measure(rig, "RemoveRouter (off, no links)", () => b.RemoveRouter("r3", None)));
            }
            foreach (var n in new[] { 10, 100, 1000 })
            {
                var rig = Seeded(n);
                var b = rig.NewBackend();
                rows.Add(Measure(rig, $"GetInventory ({n} routers, {LinksFor(n)} links)", () => b.GetInventory(None)));
            }

            var sb = new StringBuilder();
            sb.AppendLine("| Operation | Methods | Jobs | Queries | Associations | GetInstance (excl. job polls) | Job polls | Methods called |");
            sb.AppendLine("|---|---|---|---|---|---|---|---|");
            foreach (var r in rows)
                sb.AppendLine($"| {r.Operation} | {r.Methods} | {r.Jobs} | {r.Queries} | {r.Associated} | {r.Gets} | {r.Polls} | {r.Detail} |");
            _out.WriteLine(sb.ToString());
            Assert.Equal(6, rows.Single(r => r.Operation.StartsWith("GetInventory (1000")).Queries);
        }
    }
}
