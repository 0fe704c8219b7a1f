using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Threading;
using VirtualNetworks.Backends;
using VirtualNetworks.Engine;
using VirtualNetworks.HyperV.Simulator;
using VirtualNetworks.Topology;

namespace VirtualNetworks.HyperV.Bench
{
    /// <summary>
    /// Counts the CIM operations the Hyper-V backend performs, in the in-memory WMI simulator: a full inventory of a host
    /// with 10, 100 and 1,000 routers, and the method calls and jobs of each kind of change. Counts are exact and
    /// deterministic (no timing is reported: simulator time says nothing about Hyper-V). Usage: [--sizes 10,100,1000].
    /// </summary>
    internal sealed class RunAll : Planning.IPlanObserver
    {
        public bool ShouldRun(Planning.PlanStep step) => true;
        public void OnStepStarting(Planning.PlanStep step, int index, int count) { }
    }

    internal static class Program
    {
        private const string Image = @"C:\Images\router.vhdx";

        private static int Main(string[] args)
        {
            var sizes = new[] { 10, 100, 1000 };
            for (int i = 0; i < args.Length; i++)
            {
                if (args[i] == "--sizes" && i + 1 < args.Length)
                    sizes = args[++i].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
                else { Console.Error.WriteLine("Usage: [--sizes 10,100,1000]"); return 2; }
            }

            Console.WriteLine("# Hyper-V backend: CIM operations, measured in the WMI simulator");
            Console.WriteLine();
            Console.WriteLine("- command: `dotnet run -c Release --project bench/VirtualNetworks.HyperV.Bench" + (args.Length > 0 ? " -- " + string.Join(" ", args) : "") + "`");
            Console.WriteLine("- simulator: tests/VirtualNetworks.HyperV.Simulator (jobs complete on their first poll: JobDuration 0)");
            Console.WriteLine();

            Console.WriteLine("## Full inventory of one host");
            Console.WriteLine();
            Console.WriteLine("| Routers | Links | Queries (enumerations) | Association walks | GetInstance | Method calls | Classes enumerated |");
            Console.WriteLine("| ---: | ---: | ---: | ---: | ---: | ---: | --- |");
            foreach (var n in sizes)
            {
                var (host, backend) = Build(n);
                host.Counters.Reset();
                var inventory = backend.GetInventory(CancellationToken.None);
                if (inventory.Routers.Count != n || inventory.Links.Count != n - 1)
                    throw new InvalidOperationException($"inventory saw {inventory.Routers.Count} routers / {inventory.Links.Count} links, expected {n} / {n - 1}");
                var c = host.Counters;
                Console.WriteLine($"| {n:N0} | {n - 1:N0} | {c.Queries} | {c.GetAssociated} | {c.GetInstance} | {c.InvokeMethod} | {string.Join(", ", ClassesQueried(c))} |");
                backend.Dispose();
            }
            Console.WriteLine();

            Console.WriteLine("## Per change (a host that already has 3 routers and 2 links)");
            Console.WriteLine();
            Console.WriteLine("| Operation | Method calls | of which jobs | Job polls | Queries | GetInstance | Methods |");
            Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: | --- |");
            var (h, b) = Build(3);
            var ct = CancellationToken.None;
            void Row(string name, Action act)
            {
                int jobsBefore = Jobs(h);
                h.Counters.Reset();
                act();
                var c = h.Counters;
                var methods = c.Methods.Where(m => m.Value > 0).OrderBy(m => m.Key, StringComparer.Ordinal).Select(m => m.Key + (m.Value > 1 ? " ×" + m.Value : ""));
                Console.WriteLine($"| {name} | {c.InvokeMethod} | {Jobs(h) - jobsBefore} | {c.JobPolls} | {c.Queries} | {c.GetInstance} | {string.Join(", ", methods)} |");
            }
            Row("Create router (Gen 2, differencing disk)", () => b.CreateRouter(new RouterSpec { Name = "x1", Image = Image, MemoryMB = 256 }, ct));
            Row("Create second router", () => b.CreateRouter(new RouterSpec { Name = "x2", Image = Image }, ct));
            Row("Create link (both ends, VLAN, 10 Mbit/s)", () => b.CreateLink(new LinkSpec { Name = "x1-x2", From = "x1", To = "x2", MaximumBandwidth = 10_000_000 }, ct));
            Row("Start router", () => b.StartRouter("x1", ct));
            Row("Change bandwidth of a link (live)", () => b.SetLinkBandwidth("x1-x2", 20_000_000, ct));
            Row("Suspend router", () => b.SuspendRouter("x1", ct));
            Row("Resume router", () => b.ResumeRouter("x1", ct));
            Row("Stop router (turn off)", () => b.StopRouter("x1", true, ct));
            Row("Remove link", () => b.RemoveLink("x1-x2", ct));
            Row("Remove router", () => b.RemoveRouter("x2", ct));
            b.Dispose();
            return 0;
        }

        private static IEnumerable<string> ClassesQueried(SimulatorCounters c) =>
            new[]
            {
                "Msvm_ComputerSystem", "Msvm_VirtualSystemSettingData", "CIM_ResourceAllocationSettingData",
                "Msvm_EthernetSwitchPortFeatureSettingData", "Msvm_KvpExchangeComponentSettingData", "Msvm_VirtualEthernetSwitchSettingData",
                "Msvm_VirtualEthernetSwitch", "Msvm_SyntheticEthernetPortSettingData", "Msvm_EthernetPortAllocationSettingData",
            }.Where(k => c.QueriesOf(k) > 0).Select(k => k + (c.QueriesOf(k) > 1 ? " ×" + c.QueriesOf(k) : ""));

        private static int Jobs(HyperVSimulator host) => host.Instances("CIM_ConcreteJob").Count;

        /// <summary>A host with <paramref name="n"/> routers in a chain (n-1 links, limited), deployed through the real engine.</summary>
        private static (HyperVSimulator, HyperVBackend) Build(int n)
        {
            var dc = new SimulatedDatacenter();
            var host = dc.AddHost(HostNames.LocalName);
            host.JobDuration = TimeSpan.Zero;
            host.AddFile(Image);
            HyperVBackend New() => new HyperVBackend(new BackendRequest(), h => dc.Connect(h),
                new HyperVBackendOptions { PollInterval = TimeSpan.FromMilliseconds(1) });
            var topology = new TopologySpec();
            for (int i = 0; i < n; i++) topology.Routers.Add(new RouterSpec { Name = "r" + i, Image = Image });
            for (int i = 1; i < n; i++) topology.Links.Add(new LinkSpec { Name = "l" + i, From = "r" + (i - 1), To = "r" + i, MaximumBandwidth = 100_000_000 });
            var sw = Stopwatch.StartNew();
            using (var service = new VirtualNetworkService(New()))
            {
                var plan = service.PlanDeployment(topology, force: false, CancellationToken.None);
                service.Apply(plan, new RunAll(), CancellationToken.None);
            }
            Console.Error.WriteLine($"(built {n} routers in the simulator in {sw.Elapsed.TotalSeconds:F1} s)");
            return (host, New());
        }
    }
}
