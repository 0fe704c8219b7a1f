using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using VirtualNetworks.Backends;
using VirtualNetworks.Linux.State;
using VirtualNetworks.Linux.Vm;
using Xunit;
using Xunit.Abstractions;

namespace VirtualNetworks.Linux.Tests
{
    /// <summary>
    /// The Linux backend's admission arithmetic (Admission) and its check (LinuxBackend.Admit): /proc/meminfo parsed, the
    /// host's reserve, guest memory + QEMU overhead of the routers a change starts against what the machine can give, the
    /// router count against 32 per core, records counted per machine, routers already running not counted twice.
    /// </summary>
    [Collection(VmRealCollection.Name)]
    public sealed class AdmissionTests : IDisposable
    {
        private static readonly CancellationToken None = CancellationToken.None;
        private readonly string _root = VmTestHost.NewStateRoot();
        private readonly ITestOutputHelper _out;

        public AdmissionTests(ITestOutputHelper output) => _out = output;

        public void Dispose() => VmTestHost.DeleteTree(_root);

        /// <summary>/proc/meminfo as the kernel writes it (this machine's, abridged), with the given totals in MB.</summary>
        private static string MemInfo(long totalMB, long availableMB) =>
            "MemTotal:       " + (totalMB * 1024).ToString(CultureInfo.InvariantCulture) + " kB\n" +
            "MemFree:        22771204 kB\n" +
            "MemAvailable:   " + (availableMB * 1024).ToString(CultureInfo.InvariantCulture) + " kB\n" +
            "Buffers:           52528 kB\n" +
            "Cached:          1111896 kB\n" +
            "HugePages_Total:       0\n" +
            "Hugepagesize:       2048 kB\n";

        [Fact]
        public void MemInfo_is_parsed_from_the_kernels_text_and_from_this_machine()
        {
            var info = Admission.ParseMemInfo(MemInfo(24_105, 23_291))!.Value;
            Assert.Equal(24_105L * 1024, info.TotalKB);
            Assert.Equal(23_291L * 1024, info.AvailableKB);
            Assert.Equal(24_105, info.TotalMB);
            Assert.Equal(23_291, info.AvailableMB);

            var real = Admission.ParseMemInfo(File.ReadAllText("/proc/meminfo"));
            Assert.NotNull(real);
            Assert.InRange(real!.Value.AvailableKB, 1, real.Value.TotalKB);
        }

        [Theory]
        [InlineData("MemTotal: 1000 kB\n")]                                    // no MemAvailable (kernels before 3.14)
        [InlineData("MemAvailable: 1000 kB\n")]                                // no MemTotal
        [InlineData("MemTotal: 1000 kB\nMemAvailable: lots kB\n")]             // not a number
        [InlineData("MemTotal: 1000 kB\nMemAvailable: -5 kB\n")]               // negative
        [InlineData("MemTotal: 1000 MB\nMemAvailable: 900 kB\n")]              // another unit
        [InlineData("")]
        public void Unusable_meminfo_gives_nothing(string text) => Assert.Null(Admission.ParseMemInfo(text));

        [Theory]
        [InlineData(1_024, 512)]     // 10 % is 102 MB: the floor
        [InlineData(5_120, 512)]     // exactly at the floor
        [InlineData(24_105, 2_410)]  // this machine: 10 %
        [InlineData(262_144, 26_214)]
        public void The_reserve_is_the_larger_of_512_MB_and_10_percent_of_MemTotal(long totalMB, long reserveMB) =>
            Assert.Equal(reserveMB, Admission.ReserveMB(totalMB));

        [Fact]
        public void Memory_fits_up_to_MemAvailable_minus_the_reserve_and_counts_the_QEMU_overhead_per_router()
        {
            var info = Admission.ParseMemInfo(MemInfo(10_000, 5_000))!.Value; // reserve 1000: 4000 MB for routers
            Assert.Equal(4_000, Admission.UsableMB(info));
            Assert.Equal(64, Admission.QemuOverheadMB);
            // 4 × (936 + 64) = 4000: fits exactly.
            var fits = Enumerable.Range(1, 4).Select(i => ("r" + i, 936)).ToList();
            Assert.Null(Admission.CheckMemory("m", fits, info));
            // One MB more guest memory does not: the overhead is counted per router.
            var over = fits.Take(3).Append(("r4", 937)).ToList();
            var ex = Admission.CheckMemory("m", over, info);
            Assert.NotNull(ex);
            Assert.Equal(ErrorIds.InsufficientHostMemory, ex!.ErrorId);
            Assert.Equal(ErrorKind.ResourceUnavailable, ex.Kind);
            Assert.Equal("m", ex.TargetName);
            _out.WriteLine(ex.Message);
            Assert.Contains("needs 4,001 MB", ex.Message);
            Assert.Contains("3,745 MB guest memory + 4 × 64 MB QEMU overhead", ex.Message);
            Assert.Contains("it has 4,000 MB for routers", ex.Message);
            Assert.Contains("MemAvailable 5,000 MB", ex.Message);
            Assert.Contains("reserve of 1,000 MB", ex.Message);
            Assert.Contains("r4 937 MB", ex.Message);
        }

        [Fact]
        public void The_memory_refusal_says_how_many_routers_of_the_smallest_size_fit()
        {
            var info = Admission.ParseMemInfo(MemInfo(10_000, 5_000))!.Value; // 4000 MB for routers
            var ex = Admission.CheckMemory("m", new[] { ("big", 3_000), ("small", 936), ("x", 2_000) }, info);
            Assert.NotNull(ex);
            _out.WriteLine(ex!.Message);
            // 4000 / (936 + overhead) routers of the smallest size asked for.
            Assert.Contains("room for " + (4_000 / (936 + Admission.QemuOverheadMB)).ToString(CultureInfo.InvariantCulture) + " router(s) of 936 MB", ex.Message);
        }

        [Theory]
        [InlineData(10_000, 5_000, 2, 0, 64, 4_000 / (64 + Admission.QemuOverheadMB))] // memory is the bound
        [InlineData(100_000, 90_000, 1, 0, 64, Admission.RoutersPerCore)]              // the router limit is the bound
        [InlineData(100_000, 90_000, 1, 30, 64, Admission.RoutersPerCore - 30)]        // routers the machine has count
        [InlineData(100_000, 90_000, 1, 40, 64, 0)]                                    // over the limit already: 0, not negative
        [InlineData(4_096, 300, 4, 0, 64, 0)]                                          // less available than the reserve
        public void Capacity_is_the_fewer_of_memory_room_and_router_limit(long totalMB, long availableMB, int cores, int existing, int memoryMB, int expected)
        {
            var info = Admission.ParseMemInfo(MemInfo(totalMB, availableMB))!.Value;
            Assert.Equal(expected, Admission.Capacity(info, memoryMB, existing, cores));
        }

        [Fact]
        public void The_backend_refuses_less_memory_than_its_image_was_measured_to_boot_in_naming_the_router()
        {
            var caps = Backend(24_000, 12_000, cores: 2).Capabilities;
            Assert.Equal(40, caps.MinMemoryMB);
            Assert.Equal(64, caps.DefaultMemoryMB);
            Assert.True(caps.DefaultMemoryMB >= caps.MinMemoryMB + 24); // the documented margin over the floor
            var spec = new TopologySpec();
            spec.Routers.Add(new RouterSpec { Name = "tiny", Image = "router", MemoryMB = 36 });
            spec.Routers.Add(new RouterSpec { Name = "least", Image = "router", MemoryMB = 40 });
            var errors = Topology.TopologyValidator.Validate(spec, new Topology.ValidationContext { Capabilities = caps });
            var e = Assert.Single(errors);
            Assert.Equal(ErrorIds.InvalidMemory, e.ErrorId);
            Assert.Equal("tiny", e.Target);
            Assert.Contains("40", e.Message);
        }

        [Fact]
        public void A_machine_with_less_available_than_its_reserve_can_give_nothing()
        {
            var info = Admission.ParseMemInfo(MemInfo(4_096, 300))!.Value;
            Assert.Equal(0, Admission.UsableMB(info));
            Assert.NotNull(Admission.CheckMemory("m", new[] { ("r", 64) }, info));
        }

        [Fact]
        public void The_router_count_is_32_per_core_existing_plus_new()
        {
            Assert.Equal(64, Admission.RouterLimit(2));
            Assert.Equal(32, Admission.RouterLimit(0)); // never below one core
            Assert.Null(Admission.CheckCount("m", 60, 4, 2));
            var ex = Admission.CheckCount("m", 60, 5, 2);
            Assert.NotNull(ex);
            Assert.Equal(ErrorIds.TooManyRouters, ex!.ErrorId);
            Assert.Equal(ErrorKind.LimitsExceeded, ex.Kind);
            Assert.Equal("m", ex.TargetName);
            Assert.Contains("65 routers", ex.Message);
            Assert.Contains("60 existing + 5 new", ex.Message);
            Assert.Contains("limit is 64 (32 per CPU core × 2 core(s)", ex.Message);
        }

        // ------------------------------------------------------------------------------------------------ the backend

        private LinuxBackend Backend(long totalMB, long availableMB, int cores)
        {
            var b = new LinuxBackend(new BackendRequest { Options = new Dictionary<string, object?> { [LinuxBackend.StateDirectoryOption] = _root } });
            b.MemInfoOverride = () => MemInfo(totalMB, availableMB);
            b.ProcessorCountOverride = cores;
            return b;
        }

        private static RouterRecord Record(string name, string host, int memoryMB) => new RouterRecord
        {
            Name = name, Host = host, Image = "router", MemoryMB = memoryMB, ProcessorCount = 1, DesiredState = RouterState.Off,
        };

        private static RouterSpec Spec(string name, int memoryMB, string host = "") => new RouterSpec { Name = name, Image = "router", MemoryMB = memoryMB, Host = host };

        [Fact]
        public void Admit_counts_the_records_of_every_host_of_the_machine_and_a_damaged_record_as_a_router()
        {
            var b = Backend(24_000, 20_000, cores: 1); // limit 32
            for (int i = 0; i < 20; i++) b.Store.WriteRouter(Record("loc" + i, "", 64));
            for (int i = 0; i < 10; i++) b.Store.WriteRouter(Record("lab" + i, "h1", 64)); // a lab host: the same machine
            var two = new AdmissionRequest { Creates = { Spec("n1", 64), Spec("n2", 64, "h2") } };
            b.Admit(two, None); // 30 + 2 = 32

            File.WriteAllText(Path.Combine(b.Store.RoutersDirectory, "broken.json"), "{ not json");
            var ex = Assert.Throws<VirtualNetworksException>(() => b.Admit(two, None)); // 31 + 2 = 33
            Assert.Equal(ErrorIds.TooManyRouters, ex.ErrorId);
            Assert.Equal(Topology.HostNames.LocalName, ex.TargetName);
            Assert.Contains("31 existing + 2 new", ex.Message);

            // A create of a name that already has a record adds no router.
            b.Admit(new AdmissionRequest { Creates = { Spec("loc1", 64), Spec("n1", 64) } }, None);
        }

        [Fact]
        public void Inventory_shows_every_host_of_the_machine_how_many_default_routers_it_can_still_start()
        {
            var b = Backend(24_000, 12_000, cores: 1); // reserve 2400: 9600 MB for routers; limit 32
            for (int i = 0; i < 5; i++) b.Store.WriteRouter(Record("loc" + i, "", 64));
            var inv = b.GetInventory(None);
            var local = Assert.Single(inv.Hosts);
            int need = LinuxBackend.DefaultMemoryMB + Admission.QemuOverheadMB;
            Assert.Equal(need, local.MemoryPerRouterMB);
            Assert.Equal(9_600, local.MemoryForRoutersMB);
            Assert.Equal(Math.Min(9_600 / need, 32 - 5), local.RouterCapacity);
            // The same figure as admission: that many more default routers are admitted, one more is not.
            var fits = new AdmissionRequest();
            for (int i = 0; i < local.RouterCapacity; i++) { fits.Creates.Add(new RouterSpec { Name = "n" + i, Image = "router" }); fits.Starts.Add(new RouterSpec { Name = "n" + i, Image = "router" }); }
            b.Admit(fits, None);
            fits.Creates.Add(new RouterSpec { Name = "one-more", Image = "router" });
            fits.Starts.Add(new RouterSpec { Name = "one-more", Image = "router" });
            Assert.Throws<VirtualNetworksException>(() => b.Admit(fits, None));

            // Memory as the bound: little available.
            b.MemInfoOverride = () => MemInfo(24_000, 2_400 + 3 * need + need / 2);
            Assert.Equal(3, Assert.Single(b.GetInventory(None).Hosts).RouterCapacity);

            // Unreadable meminfo: no figure rather than a wrong one.
            b.MemInfoOverride = () => "garbage";
            var h = Assert.Single(b.GetInventory(None).Hosts);
            Assert.Null(h.RouterCapacity);
            Assert.Null(h.MemoryForRoutersMB);
        }

        [Fact]
        public void Admit_uses_an_existing_routers_recorded_memory_and_reads_meminfo_only_for_starts()
        {
            var b = Backend(10_000, 5_000, cores: 2); // 4000 MB for routers
            b.Store.WriteRouter(Record("big", "", 3_000));
            // The request says 64 MB, but the record (what the router is launched with) says 3000.
            b.Admit(new AdmissionRequest { Starts = { Spec("big", 64), Spec("new", 800) } }, None); // 3064 + 864 = 3928
            var ex = Assert.Throws<VirtualNetworksException>(() =>
                b.Admit(new AdmissionRequest { Starts = { Spec("big", 64), Spec("new", 900) } }, None)); // 3064 + 964 = 4028
            Assert.Equal(ErrorIds.InsufficientHostMemory, ex.ErrorId);
            Assert.Contains("needs 4,028 MB", ex.Message);

            // Creating only (no start): memory is not asked, so an unreadable meminfo does not matter.
            b.MemInfoOverride = () => "garbage";
            b.Admit(new AdmissionRequest { Creates = { Spec("x", 60_000) } }, None);
            var unreadable = Assert.Throws<VirtualNetworksException>(() => b.Admit(new AdmissionRequest { Starts = { Spec("x", 64) } }, None));
            Assert.Equal(ErrorIds.InsufficientHostMemory, unreadable.ErrorId);
            Assert.Contains("/proc/meminfo", unreadable.Message);
        }

        /// <summary>
        /// A router whose QEMU runs already uses its memory (MemAvailable leaves it out): starting it again (the engine asks
        /// for routers it believes off, e.g. a record that lags) must not count it a second time.
        /// </summary>
        [VmRootFact]
        public void Admit_does_not_count_a_router_whose_QEMU_already_runs()
        {
            VmTestHost.RequireRoot();
            var b = EndToEndHost.NewBackend(_root);
            var p = "ad" + VmTestHost.Hex(4);
            try
            {
                b.CreateRouter(Spec(p + "-run", 900), None);
                b.CreateRouter(Spec(p + "-off", 900), None);
                b.StartRouter(p + "-run", None);
                Assert.True(RouterProcess.Inspect(b.Store.RunPaths(p + "-run")).IsRunning);
                b.MemInfoOverride = () => MemInfo(10_000, 2_000); // 1000 MB for routers: room for one 900 MB router
                var both = new AdmissionRequest { Starts = { Spec(p + "-run", 900), Spec(p + "-off", 900) } };
                b.Admit(both, None); // only -off counts: 964 MB

                b.StopRouter(p + "-run", true, None);
                var ex = Assert.Throws<VirtualNetworksException>(() => b.Admit(both, None)); // both count now: 1928 MB
                Assert.Equal(ErrorIds.InsufficientHostMemory, ex.ErrorId);
                Assert.Contains("needs 1,928 MB", ex.Message);
            }
            finally
            {
                foreach (var r in new[] { p + "-run", p + "-off" })
                {
                    try { b.RemoveRouter(r, None); }
                    catch (Exception ex) { _out.WriteLine("clean-up " + r + ": " + ex.Message); }
                }
                b.Dispose();
            }
        }
    }
}

namespace VirtualNetworks.Linux.Tests
{
    /// <summary>LinuxBackend.RunBounded, the scheduler of batch removals: bounded threads, never two items with a router in common at once.</summary>
    public sealed class BatchRemovalSchedulingTests
    {
        [Fact]
        public void Items_sharing_a_router_never_run_at_once_the_rest_overlap_and_failures_stay_per_item()
        {
            // A chain of 40 links: link i joins r{i} and r{i+1}; neighbours share a router.
            const int count = 40;
            var busy = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
            int running = 0, maxRunning = 0, clashes = 0;
            var outcomes = new Exception?[count];
            LinuxBackend.RunBounded(count, 8, i => i == 7 ? null : new[] { "r" + i, "r" + (i + 1) }, i =>
            {
                foreach (var r in new[] { "r" + i, "r" + (i + 1) })
                    if (busy.AddOrUpdate(r, 1, (_, n) => n + 1) > 1) Interlocked.Increment(ref clashes);
                int now = Interlocked.Increment(ref running);
                int seen;
                while ((seen = Volatile.Read(ref maxRunning)) < now && Interlocked.CompareExchange(ref maxRunning, now, seen) != seen) { }
                Thread.Sleep(20);
                Interlocked.Decrement(ref running);
                foreach (var r in new[] { "r" + i, "r" + (i + 1) }) busy.AddOrUpdate(r, 0, (_, n) => n - 1);
                if (i == 13) throw new InvalidOperationException("boom 13");
            }, outcomes, CancellationToken.None);

            Assert.Equal(0, clashes);
            Assert.InRange(maxRunning, 2, 8);
            Assert.Equal("boom 13", Assert.IsType<InvalidOperationException>(outcomes[13]).Message);
            Assert.Null(outcomes[7]); // skipped (null routers): not run, no outcome
            Assert.Equal(1, outcomes.Count(o => o != null));
        }

        [Fact]
        public void After_cancellation_the_items_not_started_are_canceled()
        {
            using var cts = new CancellationTokenSource();
            var outcomes = new Exception?[10];
            int ran = 0;
            LinuxBackend.RunBounded(10, 1, i => new[] { "r" + i }, i =>
            {
                if (Interlocked.Increment(ref ran) == 3) cts.Cancel();
            }, outcomes, cts.Token);
            Assert.Equal(3, ran);
            Assert.All(outcomes.Skip(3), o => Assert.IsType<OperationCanceledException>(o));
            Assert.All(outcomes.Take(3), Assert.Null);
        }
    }
}
