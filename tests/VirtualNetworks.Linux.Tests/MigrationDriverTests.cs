using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using VirtualNetworks.Linux.State;
using VirtualNetworks.Linux.Vm;
using Xunit;
using Xunit.Abstractions;

namespace VirtualNetworks.Linux.Tests
{
    /// <summary>Reports progress synchronously on the calling thread (Progress&lt;T&gt; would post to the thread pool).</summary>
    internal sealed class InlineProgress : IProgress<string>
    {
        private readonly Action<string> _action;

        public InlineProgress(Action<string> action) => _action = action;

        public void Report(string value) => _action(value);
    }

    /// <summary>
    /// <see cref="MigrationDriver"/> with real QEMU processes: a router booted from the project's image (TCG) in one
    /// state directory (the "source host") and the same router started with "-incoming defer" in another (the
    /// "destination host"), migrated over TCP on 127.0.0.1. Failure cases: the destination killed mid-stream, a migration
    /// that cannot converge within its bound, a failing switch-over hook. Each test cleans up every process it started.
    /// </summary>
    [Collection(VmRealCollection.Name)]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public sealed class MigrationDriverTests : IClassFixture<VmImageFixture>, IDisposable
    {
        private readonly VmImageFixture _image;
        private readonly ITestOutputHelper _out;
        private readonly string _srcRoot = VmTestHost.NewStateRoot();
        private readonly string _dstRoot = VmTestHost.NewStateRoot();
        private VmManager? _src;
        private VmManager? _dst;
        private readonly string _name = "mig-" + VmTestHost.Hex(6);
        private readonly List<string> _log = new List<string>();

        public MigrationDriverTests(VmImageFixture image, ITestOutputHelper output)
        {
            _image = image;
            _out = output;
        }

        private void Setup()
        {
            VmTestHost.RequireRoot();
            _image.EnsureBuilt();
            var s = new StateStore(_srcRoot);
            s.EnsureLayout();
            var d = new StateStore(_dstRoot);
            d.EnsureLayout();
            _src = new VmManager(s, new QemuLauncher(s));
            _dst = new VmManager(d, new QemuLauncher(d));
        }

        private VmLaunchSpec Spec(string? incoming) => new VmLaunchSpec
        {
            Name = _name,
            MemoryMB = 128,
            ProcessorCount = 1,
            Accelerator = Accelerator.Tcg,
            Kernel = _image.Kernel,
            Initrd = _image.Initrd,
            Firmware = QemuLauncher.FindQboot(),
            ConfigText = "name " + _name + "\n",
            Incoming = incoming,
        };

        /// <summary>Destination first (it only waits), then the source booted to VN-READY; returns the source's uptime at ready.</summary>
        private long StartPair()
        {
            Setup();
            var clock = Stopwatch.StartNew();
            _dst!.Start(Spec("defer"));
            Assert.Equal(VmProcessState.Running, RouterProcess.Inspect(_dst.Paths(_name)).State);
            _src!.Start(Spec(null), TimeSpan.FromSeconds(90));
            var ready = _src.Channel(_name).WaitReady(TimeSpan.FromSeconds(30));
            Assert.Equal(_name, ready.Name);
            _out.WriteLine("source ready after " + clock.ElapsedMilliseconds + " ms, guest uptime " + ready.UptimeMilliseconds + " ms");
            return ready.UptimeMilliseconds;
        }

        private MigrationDriver Driver(QmpClient s, QmpClient d, MigrationOptions? options = null)
        {
            return new MigrationDriver(_name, s, d, new MigrationTarget("127.0.0.1"), options)
            {
                Progress = new InlineProgress(p =>
                {
                    lock (_log) _log.Add(p);
                    _out.WriteLine("progress: " + p);
                }),
                AbortDestination = () => RouterProcess.Kill(_dst!.Paths(_name), TimeSpan.FromSeconds(3)),
            };
        }

        private void AssertSourceServesAndDestinationGone(long uptimeBefore)
        {
            Assert.Equal("running", _src!.GetStatus(_name).QemuStatus);
            var ready = _src.Channel(_name).WaitReady(TimeSpan.FromSeconds(10));
            Assert.Equal(_name, ready.Name);
            Assert.True(ready.UptimeMilliseconds >= uptimeBefore, "the source router rebooted? uptime " + ready.UptimeMilliseconds + " < " + uptimeBefore);
            Assert.NotEqual(VmProcessState.Running, RouterProcess.Inspect(_dst!.Paths(_name)).State);
            Assert.Empty(VmTestHost.ProcessesMentioning(_dstRoot));
        }

        public void Dispose()
        {
            foreach (var vms in new[] { _src, _dst })
            {
                if (vms == null) continue;
                try
                {
                    vms.TurnOff(_name);
                }
                catch (Exception ex)
                {
                    _out.WriteLine("clean-up: " + ex.Message);
                }
            }
            foreach (var root in new[] { _srcRoot, _dstRoot })
            {
                foreach (var (pid, cmd) in VmTestHost.ProcessesMentioning(root))
                {
                    _out.WriteLine("leftover process " + pid + ": " + cmd);
                    try { Process.GetProcessById(pid).Kill(); } catch (Exception) { }
                }
                VmTestHost.DeleteTree(root);
            }
        }

        [Fact]
        public void Target_uri_brackets_ipv6_and_rejects_names()
        {
            Assert.Equal("tcp:10.0.0.2:4444", new MigrationTarget("10.0.0.2", 4444).Uri(4444));
            Assert.Equal("tcp:[fd00::2]:0", new MigrationTarget("fd00::2").Uri(0));
            Assert.Throws<ArgumentException>(() => new MigrationTarget("host.example"));
            Assert.Throws<ArgumentOutOfRangeException>(() => new MigrationTarget("10.0.0.2", 70000));
            Assert.Throws<ArgumentOutOfRangeException>(() => new MigrationOptions { DowntimeLimitMilliseconds = 0 }.Validate());
        }

        [VmRootFact]
        public void Live_migration_moves_a_running_router_without_reboot()
        {
            long uptime = StartPair();
            MigrationResult result;
            int hookCalls = 0;
            string? sourceAtHook = null;
            string? destinationAtHook = null;
            bool completionSawRunning = false;
            int afterContinueCalls = 0;
            bool afterContinueHookFirst = false;
            using (var s = _src!.Qmp(_name))
            using (var d = _dst!.Qmp(_name))
            {
                var driver = Driver(s, d);
                driver.BeforeSwitchover = ctx =>
                {
                    hookCalls++;
                    sourceAtHook = s.QueryStatus();
                    destinationAtHook = d.QueryStatus();
                    Assert.StartsWith("tcp:127.0.0.1:", ctx.Uri);
                };
                // Runs after migrate-continue: its failure is reported, not fatal (no way back any more).
                driver.AfterSwitchoverContinue = ctx =>
                {
                    afterContinueCalls++;
                    afterContinueHookFirst = hookCalls == 1;
                    throw new InvalidOperationException("waiting for the flips failed");
                };
                driver.AfterCompletion = r => completionSawRunning = d.QueryStatus() == "running";
                result = driver.Run();
                _out.WriteLine("result: " + result);
                Assert.Equal("postmigrate", s.QueryStatus());
                Assert.Equal("running", d.QueryStatus());
            }
            Assert.Equal(1, hookCalls);
            Assert.Equal(1, afterContinueCalls);
            Assert.True(afterContinueHookFirst);
            Assert.Contains("switch-over: waiting for the flips failed", _log);
            Assert.Equal("finish-migrate", sourceAtHook); // vCPUs stopped while the hook runs
            Assert.Equal("inmigrate", destinationAtHook);
            Assert.True(completionSawRunning);
            Assert.Equal("running", result.DestinationStatus);
            Assert.Equal("postmigrate", result.SourceStatus);
            Assert.True(result.Total < TimeSpan.FromSeconds(2), "total " + result.Total);
            Assert.True(result.RamTotalBytes > 100L * 1024 * 1024 && result.TransferredBytes > 0, result.ToString());
            Assert.True(result.QemuDowntimeMilliseconds >= 0 && result.QemuDowntimeMilliseconds < 1000, result.ToString());
            Assert.Contains(_log, l => l.StartsWith("destination listening on tcp:127.0.0.1:", StringComparison.Ordinal));
            Assert.Contains("switching over", _log);
            Assert.Contains(_log, l => l.StartsWith("completed", StringComparison.Ordinal));

            // The same guest, still up: it answers on the destination's channel with a larger uptime (no reboot).
            var ready = _dst.Channel(_name).WaitReady(TimeSpan.FromSeconds(10));
            Assert.Equal(_name, ready.Name);
            Assert.True(ready.UptimeMilliseconds >= uptime, "uptime after " + ready.UptimeMilliseconds + " < before " + uptime);
            _out.WriteLine("guest uptime before " + uptime + " ms, after " + ready.UptimeMilliseconds + " ms");

            // The caller ends the source.
            _src.TurnOff(_name);
            Assert.Empty(VmTestHost.ProcessesMentioning(_srcRoot));
        }

        [VmRootFact]
        public void Destination_killed_mid_migration_leaves_the_router_on_the_source()
        {
            long uptime = StartPair();
            int dstPid = RouterProcess.ReadPid(_dst!.Paths(_name).PidFile)!.Value;
            MigrationFailedException ex;
            var clock = Stopwatch.StartNew();
            using (var s = _src!.Qmp(_name))
            using (var d = _dst.Qmp(_name))
            {
                // 16 MB/s: the ~75 MB stream takes ~5 s, so the kill lands in the middle of it.
                var driver = Driver(s, d, new MigrationOptions { MaxBandwidthBytesPerSecond = 16L * 1024 * 1024, TotalTimeout = TimeSpan.FromSeconds(20) });
                bool killed = false;
                driver.Progress = new InlineProgress(p =>
                {
                    _out.WriteLine("progress: " + p);
                    if (!killed && p.StartsWith("transferred", StringComparison.Ordinal) && clock.ElapsedMilliseconds > 300)
                    {
                        killed = true;
                        _out.WriteLine("killing the destination QEMU " + dstPid);
                        Process.GetProcessById(dstPid).Kill();
                    }
                });
                ex = Assert.Throws<MigrationFailedException>(() => driver.Run());
                Assert.True(killed, "the migration ended before the destination could be killed");
            }
            _out.WriteLine(ex.Message + " (after " + clock.ElapsedMilliseconds + " ms)");
            Assert.Equal(MigrationFailureReason.Failed, ex.Reason);
            Assert.True(ex.RunsOnSource);
            Assert.Equal("running", ex.SourceStatus);
            Assert.Contains("QEMU reports the migration failed", ex.Message);
            Assert.Contains("keeps running on the source", ex.Message);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), "failure noticed after " + clock.Elapsed);
            AssertSourceServesAndDestinationGone(uptime);
        }

        [VmRootFact]
        public void Migration_that_cannot_converge_in_its_bound_is_cancelled()
        {
            long uptime = StartPair();
            MigrationFailedException ex;
            var clock = Stopwatch.StartNew();
            using (var s = _src!.Qmp(_name))
            using (var d = _dst!.Qmp(_name))
            {
                var driver = Driver(s, d, new MigrationOptions
                {
                    MaxBandwidthBytesPerSecond = 1024 * 1024,
                    DowntimeLimitMilliseconds = 1,
                    TotalTimeout = TimeSpan.FromSeconds(1.5),
                });
                ex = Assert.Throws<MigrationFailedException>(() => driver.Run());
                Assert.NotEqual("active", (string?)s.QueryMigrate()["status"]);
            }
            _out.WriteLine(ex.Message + " (after " + clock.ElapsedMilliseconds + " ms)");
            Assert.Equal(MigrationFailureReason.Timeout, ex.Reason);
            Assert.Equal(ErrorKind.OperationTimeout, ex.Kind);
            Assert.True(ex.RunsOnSource);
            Assert.Contains("did not complete within its bound of 1.5 s", ex.Message);
            Assert.Contains("keeps running on the source", ex.Message);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), "bounded run took " + clock.Elapsed);
            AssertSourceServesAndDestinationGone(uptime);
        }

        [VmRootFact]
        public void Failing_switchover_hook_cancels_and_resumes_the_source()
        {
            long uptime = StartPair();
            MigrationFailedException ex;
            using (var s = _src!.Qmp(_name))
            using (var d = _dst!.Qmp(_name))
            {
                var driver = Driver(s, d);
                driver.BeforeSwitchover = _ => throw new InvalidOperationException("tunnel on the destination missing");
                ex = Assert.Throws<MigrationFailedException>(() => driver.Run());
            }
            _out.WriteLine(ex.Message);
            Assert.Equal(MigrationFailureReason.SwitchoverHookFailed, ex.Reason);
            Assert.True(ex.RunsOnSource);
            Assert.Contains("tunnel on the destination missing", ex.Message);
            AssertSourceServesAndDestinationGone(uptime);
        }
    }
}

namespace VirtualNetworks.Linux.Tests
{
    /// <summary>ICMP echo probes every <c>interval</c> from the host (raw socket, root), recording send and reply times.</summary>
    internal sealed class IcmpProber : IDisposable
    {
        private readonly System.Net.Sockets.Socket _socket;
        private readonly System.Net.IPEndPoint _target;
        private readonly TimeSpan _interval;
        private readonly ushort _id = (ushort)Random.Shared.Next(1, 65535);
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private readonly System.Collections.Concurrent.ConcurrentDictionary<int, double> _sent = new System.Collections.Concurrent.ConcurrentDictionary<int, double>();
        private readonly System.Collections.Concurrent.ConcurrentDictionary<int, double> _received = new System.Collections.Concurrent.ConcurrentDictionary<int, double>();
        private volatile bool _stop;
        private readonly Thread _sender;
        private readonly Thread _receiver;

        public IcmpProber(string address, TimeSpan interval)
        {
            _target = new System.Net.IPEndPoint(System.Net.IPAddress.Parse(address), 0);
            _interval = interval;
            _socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Raw, System.Net.Sockets.ProtocolType.Icmp);
            _socket.ReceiveTimeout = 100;
            _sender = new Thread(Send) { IsBackground = true, Priority = ThreadPriority.Highest };
            _receiver = new Thread(Receive) { IsBackground = true, Priority = ThreadPriority.Highest };
            _receiver.Start();
            _sender.Start();
        }

        public double NowMs => _clock.Elapsed.TotalMilliseconds;

        private void Send()
        {
            int seq = 0;
            var packet = new byte[16];
            while (!_stop)
            {
                double due = seq * _interval.TotalMilliseconds;
                double wait = due - NowMs;
                if (wait > 1.5) Thread.Sleep((int)(wait - 1));
                while (NowMs < due) Thread.SpinWait(50);
                packet[0] = 8; packet[1] = 0; packet[2] = 0; packet[3] = 0;
                packet[4] = (byte)(_id >> 8); packet[5] = (byte)_id;
                packet[6] = (byte)(seq >> 8); packet[7] = (byte)seq;
                int sum = 0;
                for (int i = 0; i < packet.Length; i += 2) sum += (packet[i] << 8) | packet[i + 1];
                while ((sum >> 16) != 0) sum = (sum & 0xffff) + (sum >> 16);
                ushort ck = (ushort)~sum;
                packet[2] = (byte)(ck >> 8); packet[3] = (byte)ck;
                _sent[seq] = NowMs;
                try { _socket.SendTo(packet, _target); } catch (System.Net.Sockets.SocketException) { }
                seq = (seq + 1) & 0xffff;
            }
        }

        private void Receive()
        {
            var buf = new byte[1500];
            while (!_stop)
            {
                int n;
                try { n = _socket.Receive(buf); } catch (System.Net.Sockets.SocketException) { continue; } catch (ObjectDisposedException) { return; }
                int ihl = (buf[0] & 0x0f) * 4;
                if (n < ihl + 8 || buf[ihl] != 0) continue;
                int id = (buf[ihl + 4] << 8) | buf[ihl + 5];
                if (id != _id) continue;
                int seq = (buf[ihl + 6] << 8) | buf[ihl + 7];
                _received.TryAdd(seq, NowMs);
            }
        }

        /// <summary>Stops and returns (sent, received, longest time without a reply arriving, ms; worst round trip, ms) over [fromMs, toMs].</summary>
        public (int Sent, int Received, double MaxGapMs, double MaxRttMs) Stop(double fromMs, double toMs)
        {
            _stop = true;
            _sender.Join();
            Thread.Sleep(300);
            _receiver.Join();
            var sent = _sent.Where(kv => kv.Value >= fromMs && kv.Value <= toMs).ToList();
            int rx = 0;
            double rtt = 0;
            var arrivals = new List<double>();
            foreach (var kv in sent)
            {
                if (!_received.TryGetValue(kv.Key, out double at)) continue;
                rx++;
                rtt = Math.Max(rtt, at - kv.Value);
                arrivals.Add(at);
            }
            arrivals.Sort();
            double gap = 0;
            for (int i = 1; i < arrivals.Count; i++) gap = Math.Max(gap, arrivals[i] - arrivals[i - 1]);
            return (sent.Count, rx, gap, rtt);
        }

        public void Dispose()
        {
            _stop = true;
            _socket.Dispose();
        }
    }

    /// <summary>
    /// Not a CI test: the data-plane gap experiment of docs/migration.md. Runs only with VN_MIGRATION_GAP_RUNS=&lt;n&gt; (as
    /// root). One router on a host bridge (two taps, one per "host"), pinged from the host every 10 ms while it is
    /// migrated back and forth n times per configuration; prints lost probes and the longest time without a reply.
    /// </summary>
    [Collection(VmRealCollection.Name)]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public sealed class MigrationDriverGapExperiment : IClassFixture<VmImageFixture>, IDisposable
    {
        private readonly VmImageFixture _image;
        private readonly ITestOutputHelper _out;
        private readonly string[] _roots = { VmTestHost.NewStateRoot(), VmTestHost.NewStateRoot() };
        private readonly string[] _taps = { "vnmg" + VmTestHost.Hex(4) + "a", "vnmg" + VmTestHost.Hex(4) + "b" };
        private readonly string _bridge = "vnmgbr" + VmTestHost.Hex(4);
        private readonly string _name = "gap-" + VmTestHost.Hex(6);
        private VmManager[]? _vms;

        public MigrationDriverGapExperiment(VmImageFixture image, ITestOutputHelper output)
        {
            _image = image;
            _out = output;
        }

        public sealed class GapFactAttribute : FactAttribute
        {
            public GapFactAttribute()
            {
                if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("VN_MIGRATION_GAP_RUNS"))) Skip = "experiment: set VN_MIGRATION_GAP_RUNS=<n> (root)";
            }
        }

        private static void Ip(params string[] args)
        {
            var r = VmTestHost.Run(args[0], args.Skip(1).ToArray());
            Assert.True(r.Succeeded, string.Join(" ", args) + ": " + r.StdErr);
        }

        [GapFact]
        public void Data_plane_gap_during_live_migration()
        {
            VmTestHost.RequireRoot();
            _image.EnsureBuilt();
            int runs = int.Parse(Environment.GetEnvironmentVariable("VN_MIGRATION_GAP_RUNS")!, CultureInfo.InvariantCulture);
            string only = Environment.GetEnvironmentVariable("VN_MIGRATION_GAP_CONFIGS") ?? "";
            Ip("ip", "link", "add", _bridge, "type", "bridge");
            Ip("ip", "addr", "add", "10.98.0.1/24", "dev", _bridge);
            Ip("ip", "link", "set", _bridge, "up");
            foreach (var t in _taps)
            {
                Ip("ip", "tuntap", "add", "dev", t, "mode", "tap");
                Ip("ip", "link", "set", t, "master", _bridge);
                Ip("ip", "link", "set", t, "up");
            }
            _vms = _roots.Select(r => { var s = new StateStore(r); s.EnsureLayout(); return new VmManager(s, new QemuLauncher(s)); }).ToArray();
            string mac = MacAddresses.ForAdapter(_name, "l1");
            VmLaunchSpec Spec(int side, string? incoming) => new VmLaunchSpec
            {
                Name = _name, MemoryMB = 128, ProcessorCount = 1, Accelerator = Accelerator.Tcg,
                Kernel = _image.Kernel, Initrd = _image.Initrd, Firmware = QemuLauncher.FindQboot(),
                ConfigText = "name " + _name + "\nif " + mac + " 10.98.0.2/24\n",
                Adapters = { new VmAdapter(_taps[side], mac) },
                Incoming = incoming,
            };
            int cur = 0;
            _vms[0].Start(Spec(0, null), TimeSpan.FromSeconds(90));
            _vms[0].Channel(_name).WaitReady(TimeSpan.FromSeconds(30));

            var configs = new (string Name, MigrationOptions Options, bool Hook)[]
            {
                ("qemu-defaults", new MigrationOptions { DowntimeLimitMilliseconds = 300, MaxBandwidthBytesPerSecond = 128L << 20 }, false),
                ("driver-default", new MigrationOptions(), false),
                ("tuned", new MigrationOptions { MaxBandwidthBytesPerSecond = MigrationOptions.Unlimited }, false),
                ("tuned-bw512", new MigrationOptions { MaxBandwidthBytesPerSecond = 512L << 20 }, false),
                ("tuned+multifd2", new MigrationOptions { MaxBandwidthBytesPerSecond = MigrationOptions.Unlimited, MultifdChannels = 2 }, false),
                ("tuned+fdb-hook", new MigrationOptions { MaxBandwidthBytesPerSecond = MigrationOptions.Unlimited }, true),
                ("driver-default+fdb-hook", new MigrationOptions(), true),
            };
            var summary = new List<string>();
            foreach (var (cname, options, hook) in configs)
            {
                if (only.Length > 0 && !only.Split(',').Contains(cname)) continue;
                var gaps = new List<double>();
                var losses = new List<int>();
                var totals = new List<double>();
                var downs = new List<long>();
                for (int i = 0; i < runs; i++)
                {
                    int next = 1 - cur;
                    _vms[next].Start(Spec(next, "defer"));
                    using var prober = new IcmpProber("10.98.0.2", TimeSpan.FromMilliseconds(10));
                    Thread.Sleep(400);
                    double from = prober.NowMs;
                    MigrationResult r;
                    using (var s = _vms[cur].Qmp(_name))
                    using (var d = _vms[next].Qmp(_name))
                    {
                        var drv = new MigrationDriver(_name, s, d, new MigrationTarget("127.0.0.1"), options)
                        {
                            AbortDestination = () => RouterProcess.Kill(_vms[next].Paths(_name), TimeSpan.FromSeconds(3)),
                        };
                        string nextTap = _taps[next];
                        if (hook) drv.BeforeSwitchover = _ => Ip("bridge", "fdb", "replace", mac, "dev", nextTap, "master", "dynamic");
                        r = drv.Run();
                    }
                    Thread.Sleep(700);
                    var (sent, rx, gap, rtt) = prober.Stop(from, prober.NowMs - 300);
                    _vms[cur].TurnOff(_name);
                    cur = next;
                    gaps.Add(gap);
                    losses.Add(sent - rx);
                    totals.Add(r.Total.TotalMilliseconds);
                    downs.Add(r.QemuDowntimeMilliseconds);
                    _out.WriteLine(cname + " run " + (i + 1) + ": sent " + sent + ", lost " + (sent - rx) + ", longest gap " + gap.ToString("0", CultureInfo.InvariantCulture) +
                                   " ms, worst rtt " + rtt.ToString("0", CultureInfo.InvariantCulture) + " ms; " + r);
                }
                string line = cname + ": runs " + runs + ", gap ms median " + Pct(gaps, 50) + " p95 " + Pct(gaps, 95) + " max " + gaps.Max().ToString("0", CultureInfo.InvariantCulture) +
                              "; lost probes median " + Pct(losses.Select(x => (double)x).ToList(), 50) + " max " + losses.Max() +
                              "; total ms median " + Pct(totals, 50) + " max " + totals.Max().ToString("0", CultureInfo.InvariantCulture) +
                              "; QEMU downtime ms median " + Pct(downs.Select(x => (double)x).ToList(), 50) + " max " + downs.Max();
                summary.Add(line);
            }
            foreach (var l in summary) _out.WriteLine("SUMMARY " + l);
        }

        private static string Pct(List<double> xs, int p)
        {
            var s = xs.OrderBy(x => x).ToList();
            int i = (int)Math.Ceiling(p / 100.0 * s.Count) - 1;
            return s[Math.Max(0, Math.Min(s.Count - 1, i))].ToString("0", CultureInfo.InvariantCulture);
        }

        public void Dispose()
        {
            if (_vms != null)
                foreach (var v in _vms)
                    try { v.TurnOff(_name); } catch (Exception ex) { _out.WriteLine("clean-up: " + ex.Message); }
            foreach (var root in _roots)
            {
                foreach (var (pid, _) in VmTestHost.ProcessesMentioning(root))
                    try { Process.GetProcessById(pid).Kill(); } catch (Exception) { }
                VmTestHost.DeleteTree(root);
            }
            foreach (var t in _taps) VmTestHost.Run("ip", "link", "del", t);
            VmTestHost.Run("ip", "link", "del", _bridge);
        }
    }
}
