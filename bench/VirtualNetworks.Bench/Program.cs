using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Reflection;
using System.Runtime;
using System.Runtime.InteropServices;
using VirtualNetworks;
using VirtualNetworks.Backends;
using VirtualNetworks.Graph;
using VirtualNetworks.Planning;

namespace VirtualNetworks.Bench
{
    /// <summary>
    /// A small BenchmarkDotNet-style harness (Stopwatch, warm-up, N measured runs, median/min/max, memory) for grouping
    /// and planning at scale. Usage: --routers N --links M --runs R --seed S [--warmup W] [--only a,b,c,d].
    /// </summary>
    internal static class Program
    {
        private sealed class Options
        {
            public int Routers = 1_000_000;
            public int Links = 2_000_000;
            public int Runs = 7;
            public int Seed = 1;
            public int Warmup = 1;
            public HashSet<char> Only = new HashSet<char>("abcd");
        }

        private sealed class Measurement
        {
            public string Name = "";
            public List<double> Ms = new List<double>();
            public long AllocatedPerRun;      // bytes allocated during a run, all threads (median run)
            public long HeapAfterMax;         // GC.GetTotalMemory(false) right after a run, max over runs
            public long GcHeapSizeMax;        // GCMemoryInfo.HeapSizeBytes right after a run, max over runs
            public long PeakWorkingSet;       // Process.PeakWorkingSet64 after the phase (process-wide, monotonic)
            public int Gen0, Gen1, Gen2;      // collections during the measured runs
            public string Note = "";
        }

        private static int Main(string[] args)
        {
            Options o;
            try { o = Parse(args); }
            catch (Exception e) { Console.Error.WriteLine(e.Message); return 2; }

            var optimized = typeof(NetworkGrouper).Assembly.GetCustomAttribute<DebuggableAttribute>()?.IsJITOptimizerDisabled != true
                && typeof(Program).Assembly.GetCustomAttribute<DebuggableAttribute>()?.IsJITOptimizerDisabled != true;

            Console.WriteLine("# VirtualNetworks grouping and planning benchmark");
            Console.WriteLine();
            Console.WriteLine("- command: `" + string.Join(" ", Environment.GetCommandLineArgs().Skip(1).Prepend("VirtualNetworks.Bench")) + "`");
            Console.WriteLine("- runtime: " + RuntimeInformation.FrameworkDescription + ", " + RuntimeInformation.OSDescription + ", " + RuntimeInformation.ProcessArchitecture
                + ", " + Environment.ProcessorCount + " logical CPUs, GC " + (GCSettings.IsServerGC ? "server" : "workstation") + (optimized ? "" : ", **DEBUG BUILD: numbers are meaningless**"));
            Console.WriteLine("- graph: " + o.Routers.ToString("N0", CultureInfo.InvariantCulture) + " routers, " + o.Links.ToString("N0", CultureInfo.InvariantCulture)
                + " links, uniform random ends (no self links), seed " + o.Seed + "; warm-up " + o.Warmup + ", measured runs " + o.Runs);

            var sw = Stopwatch.StartNew();
            Generate(o, out var from, out var to);
            Console.WriteLine("- generated int graph in " + sw.ElapsedMilliseconds + " ms");

            var results = new List<Measurement>();
            int[]? componentsResult = null;
            int[]? oracleResult = null;
            int componentCount = 0, oracleCount = 0;

            if (o.Only.Contains('a'))
                results.Add(Measure("(a) NetworkGrouper.Components (int arrays)", o, () => { componentsResult = NetworkGrouper.Components(o.Routers, from, to, out componentCount); }));

            if (o.Only.Contains('b'))
            {
                results.Add(Measure("(b) BFS oracle, CSR build + BFS", o, () => { oracleResult = BfsOracle(o.Routers, from, to, out oracleCount); }));
                BuildCsr(o.Routers, from, to, out var start, out var adj);
                results.Add(Measure("(b') BFS oracle, BFS only (CSR prebuilt)", o, () => { Bfs(o.Routers, start, adj, out _); }));
            }

            bool allOk = true;
            if (componentsResult != null && oracleResult != null)
            {
                bool same = componentCount == oracleCount && componentsResult.AsSpan().SequenceEqual(oracleResult);
                Console.WriteLine("- check Components == BFS oracle (" + componentCount.ToString("N0", CultureInfo.InvariantCulture) + " components): " + (same ? "OK" : "MISMATCH"));
                allOk &= same;
            }

            if (o.Only.Contains('c'))
            {
                long heapBefore = GC.GetTotalMemory(true);
                sw.Restart();
                var (routers, links) = MakeObjects(o, from, to);
                long elapsed = sw.ElapsedMilliseconds;
                long footprint = GC.GetTotalMemory(true) - heapBefore;
                Console.WriteLine("- built " + routers.Length.ToString("N0", CultureInfo.InvariantCulture) + " VirtualRouter and " + links.Length.ToString("N0", CultureInfo.InvariantCulture)
                    + " VirtualLink objects in " + elapsed + " ms (not timed below); they occupy " + Mb(footprint) + " MB of GC heap");
                GroupingResult? grouping = null;
                results.Add(Measure("(c) NetworkGrouper.Group (objects, names)", o, () => { grouping = NetworkGrouper.Group(routers, links); }));

                oracleResult ??= BfsOracle(o.Routers, from, to, out oracleCount);
                bool same = SamePartition(grouping!, oracleResult, oracleCount, routers, out string why);
                Console.WriteLine("- check Group networks == BFS oracle components (" + grouping!.Networks.Count.ToString("N0", CultureInfo.InvariantCulture)
                    + " networks, largest " + grouping.Networks.Max(n => n.Routers.Count).ToString("N0", CultureInfo.InvariantCulture) + " routers): " + (same ? "OK" : "MISMATCH: " + why));
                allOk &= same;
                grouping = null;
            }

            if (o.Only.Contains('d'))
            {
                long heapBefore = GC.GetTotalMemory(true);
                sw.Restart();
                var (desired, observed, expected) = MakePlanningInput(o, from, to);
                long elapsed = sw.ElapsedMilliseconds;
                long footprint = GC.GetTotalMemory(true) - heapBefore;
                Console.WriteLine("- built desired spec and observed inventory in " + elapsed + " ms (not timed below; " + Mb(footprint)
                    + " MB of GC heap); observed lacks 1% of routers and links, 1% of links differ in bandwidth");
                Planning.DeploymentPlan? plan = null;
                var m = Measure("(d) Planner.Plan (desired vs observed diff)", o, () => { plan = Planner.Plan(desired, observed); });
                m.Note = plan!.Steps.Count.ToString("N0", CultureInfo.InvariantCulture) + " steps";
                results.Add(m);
                bool same = plan.Steps.Count == expected;
                Console.WriteLine("- check plan size: " + plan.Steps.Count.ToString("N0", CultureInfo.InvariantCulture) + " steps, expected " + expected.ToString("N0", CultureInfo.InvariantCulture) + ": " + (same ? "OK" : "MISMATCH"));
                allOk &= same;
            }

            Console.WriteLine();
            Console.WriteLine("| Measurement | Median (ms) | Min (ms) | Max (ms) | Allocated/run (MB) | GC heap after run, max (MB) | GC heap size, max (MB) | Peak working set after phase (MB) | GCs gen0/1/2 | Note |");
            Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |");
            foreach (var m in results)
            {
                var s = m.Ms.OrderBy(x => x).ToList();
                Console.WriteLine("| " + m.Name + " | " + F(Median(s)) + " | " + F(s[0]) + " | " + F(s[s.Count - 1]) + " | " + Mb(m.AllocatedPerRun) + " | " + Mb(m.HeapAfterMax)
                    + " | " + Mb(m.GcHeapSizeMax) + " | " + Mb(m.PeakWorkingSet) + " | " + m.Gen0 + "/" + m.Gen1 + "/" + m.Gen2 + " | " + m.Note + " |");
            }
            Console.WriteLine();
            var info = GC.GetGCMemoryInfo();
            Console.WriteLine("- process peak working set: " + Mb(Process.GetCurrentProcess().PeakWorkingSet64) + " MB; GC total available memory: "
                + Mb(info.TotalAvailableMemoryBytes) + " MB; total GC pause: " + GC.GetTotalPauseDuration().TotalMilliseconds.ToString("F0", CultureInfo.InvariantCulture) + " ms");
            Console.WriteLine("- every run: " + string.Join("; ", results.Select(m => m.Name.Split(' ')[0] + " " + string.Join(", ", m.Ms.Select(F)))));
            Console.WriteLine("- verification: " + (allOk ? "OK" : "FAILED"));
            return allOk ? 0 : 1;
        }

        // ---- harness -----------------------------------------------------------------------------------------------

        private static Measurement Measure(string name, Options o, Action body)
        {
            var m = new Measurement { Name = name };
            for (int i = 0; i < o.Warmup; i++) body();
            int g0 = 0, g1 = 0, g2 = 0;
            var allocs = new List<long>();
            for (int i = 0; i < o.Runs; i++)
            {
                GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
                GC.WaitForPendingFinalizers();
                GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
                int c0 = GC.CollectionCount(0), c1 = GC.CollectionCount(1), c2 = GC.CollectionCount(2);
                long before = GC.GetTotalAllocatedBytes(precise: true); // process-wide: Group may use a second thread
                var sw = Stopwatch.StartNew();
                body();
                sw.Stop();
                long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
                m.HeapAfterMax = Math.Max(m.HeapAfterMax, GC.GetTotalMemory(false));
                m.GcHeapSizeMax = Math.Max(m.GcHeapSizeMax, GC.GetGCMemoryInfo(GCKind.Any).HeapSizeBytes);
                g0 += GC.CollectionCount(0) - c0; g1 += GC.CollectionCount(1) - c1; g2 += GC.CollectionCount(2) - c2;
                m.Ms.Add(sw.Elapsed.TotalMilliseconds);
                allocs.Add(allocated);
            }
            allocs.Sort();
            m.AllocatedPerRun = allocs[allocs.Count / 2];
            m.Gen0 = g0; m.Gen1 = g1; m.Gen2 = g2;
            m.PeakWorkingSet = Process.GetCurrentProcess().PeakWorkingSet64;
            Console.WriteLine("- measured " + name + ": median " + F(Median(m.Ms.OrderBy(x => x).ToList())) + " ms");
            return m;
        }

        private static double Median(List<double> sorted) =>
            sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;

        private static string F(double ms) => ms.ToString(ms < 10 ? "F2" : "F0", CultureInfo.InvariantCulture);
        private static string Mb(long bytes)
        {
            double mb = bytes / (1024.0 * 1024.0);
            return mb.ToString(mb < 100 ? "F1" : "F0", CultureInfo.InvariantCulture);
        }

        private static Options Parse(string[] args)
        {
            var o = new Options();
            for (int i = 0; i < args.Length; i++)
            {
                string a = args[i];
                string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException("Missing value after " + a);
                int Int() => int.TryParse(Next(), NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v >= 0 ? v : throw new ArgumentException("Bad number after " + a);
                switch (a)
                {
                    case "--routers": o.Routers = Int(); break;
                    case "--links": o.Links = Int(); break;
                    case "--runs": o.Runs = Math.Max(1, Int()); break;
                    case "--seed": o.Seed = Int(); break;
                    case "--warmup": o.Warmup = Int(); break;
                    case "--only": o.Only = new HashSet<char>(Next().Where(char.IsLetter).Select(char.ToLowerInvariant)); break;
                    default: throw new ArgumentException("Unknown argument " + a + ". Usage: --routers N --links M --runs R --seed S [--warmup W] [--only abcd]");
                }
            }
            if (o.Routers < 2 && o.Links > 0) throw new ArgumentException("Links need at least two routers.");
            return o;
        }

        // ---- inputs ------------------------------------------------------------------------------------------------

        private static void Generate(Options o, out int[] from, out int[] to)
        {
            var rng = new Random(o.Seed);
            from = new int[o.Links];
            to = new int[o.Links];
            for (int e = 0; e < o.Links; e++)
            {
                int a = rng.Next(o.Routers), b = rng.Next(o.Routers - 1);
                if (b >= a) b++; // no self links
                from[e] = a; to[e] = b;
            }
        }

        private static string RouterName(int i) => "r" + i.ToString(CultureInfo.InvariantCulture);
        private static string LinkName(int e) => "l" + e.ToString(CultureInfo.InvariantCulture);
        private static string HostName(int i) => "host" + (i % 8).ToString(CultureInfo.InvariantCulture);

        private static (VirtualRouter[] Routers, VirtualLink[] Links) MakeObjects(Options o, int[] from, int[] to)
        {
            var names = new string[o.Routers];
            var hosts = Enumerable.Range(0, 8).Select(HostName).ToArray();
            var routers = new VirtualRouter[o.Routers];
            for (int i = 0; i < routers.Length; i++)
            {
                names[i] = RouterName(i);
                routers[i] = new VirtualRouter { Name = names[i], ComputerName = hosts[i % 8], State = RouterState.Running };
            }
            var links = new VirtualLink[o.Links];
            for (int e = 0; e < links.Length; e++)
                // Ends are separate string instances, as in an inventory read back from hosts.
                links[e] = new VirtualLink { Name = LinkName(e), From = RouterName(from[e]), To = RouterName(to[e]), FromComputerName = hosts[from[e] % 8], ToComputerName = hosts[to[e] % 8] };
            return (routers, links);
        }

        /// <summary>Desired = the whole graph; observed lacks every 100th router and link, every 100th+50 link has another bandwidth.</summary>
        private static (TopologySpec Desired, BackendInventory Observed, int ExpectedSteps) MakePlanningInput(Options o, int[] from, int[] to)
        {
            var (routers, links) = MakeObjects(o, from, to);
            var desired = new TopologySpec();
            var observed = new BackendInventory();
            int expected = 0;
            for (int i = 0; i < routers.Length; i++)
            {
                var r = routers[i];
                desired.Routers.Add(new RouterSpec { Name = r.Name, Host = r.ComputerName, Image = "", ProcessorCount = r.ProcessorCount, MemoryMB = r.MemoryMB, AddressFamily = r.AddressFamily });
                if (i % 100 == 0) expected += 2; // create + start
                else observed.Routers.Add(r);
            }
            for (int e = 0; e < links.Length; e++)
            {
                var l = links[e];
                desired.Links.Add(new LinkSpec { Name = l.Name, From = l.From, To = l.To, MaximumBandwidth = 10_000_000 });
                if (e % 100 == 0) { expected++; continue; }
                l.MaximumBandwidth = e % 100 == 50 ? 20_000_000 : 10_000_000;
                if (e % 100 == 50) expected++;
                observed.Links.Add(l);
            }
            return (desired, observed, expected);
        }

        // ---- BFS oracle (CSR adjacency) ----------------------------------------------------------------------------

        private static void BuildCsr(int n, int[] from, int[] to, out int[] start, out int[] adj)
        {
            start = new int[n + 1];
            for (int e = 0; e < from.Length; e++) { start[from[e] + 1]++; start[to[e] + 1]++; }
            for (int v = 0; v < n; v++) start[v + 1] += start[v];
            adj = new int[2 * from.Length];
            var fill = new int[n];
            Array.Copy(start, fill, n);
            for (int e = 0; e < from.Length; e++)
            {
                adj[fill[from[e]]++] = to[e];
                adj[fill[to[e]]++] = from[e];
            }
        }

        private static int[] Bfs(int n, int[] start, int[] adj, out int count)
        {
            var label = new int[n];
            Array.Fill(label, -1);
            var queue = new int[n];
            count = 0;
            for (int s = 0; s < n; s++)
            {
                if (label[s] >= 0) continue;
                int head = 0, tail = 0;
                label[s] = count;
                queue[tail++] = s;
                while (head < tail)
                {
                    int v = queue[head++];
                    for (int p = start[v]; p < start[v + 1]; p++)
                    {
                        int u = adj[p];
                        if (label[u] < 0) { label[u] = count; queue[tail++] = u; }
                    }
                }
                count++;
            }
            return label;
        }

        private static int[] BfsOracle(int n, int[] from, int[] to, out int count)
        {
            BuildCsr(n, from, to, out var start, out var adj);
            return Bfs(n, start, adj, out count);
        }

        /// <summary>Group's networks (by router name r{i}) form exactly the oracle's partition of vertex ids.</summary>
        private static bool SamePartition(GroupingResult g, int[] oracle, int oracleCount, VirtualRouter[] routers, out string why)
        {
            why = "";
            if (g.Networks.Count != oracleCount) { why = g.Networks.Count + " networks vs " + oracleCount + " components"; return false; }
            var seen = new bool[oracleCount];
            int total = 0;
            foreach (var n in g.Networks)
            {
                int label = -1;
                foreach (var name in n.Routers)
                {
                    int v = int.Parse(name.AsSpan(1), NumberStyles.Integer, CultureInfo.InvariantCulture);
                    if (label < 0) label = oracle[v];
                    else if (oracle[v] != label) { why = "network " + n.Name + " spans two components"; return false; }
                    total++;
                }
                if (seen[label]) { why = "component " + label + " split"; return false; }
                seen[label] = true;
            }
            if (total != routers.Length) { why = total + " routers in networks vs " + routers.Length; return false; }
            for (int i = 0; i < routers.Length; i++)
                if (!string.Equals(routers[i].NetworkName, g.NetworkOfRouter[routers[i].Name], StringComparison.Ordinal)) { why = "NetworkName of " + routers[i].Name; return false; }
            return true;
        }
    }
}
