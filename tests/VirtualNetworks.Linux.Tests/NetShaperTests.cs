using System;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using VirtualNetworks.Linux.Net;
using VirtualNetworks.Util;
using Xunit;
using Xunit.Abstractions;

namespace VirtualNetworks.Linux.Tests
{
    /// <summary>tbf on real devices: add, change in place, read back, remove; ownership of the qdisc.</summary>
    [Collection(NetHostCollection.Name)]
    public class NetShaperTests : IClassFixture<NetnsPairFixture>
    {
        private readonly NetnsPairFixture _pair;
        private readonly ITestOutputHelper _output;

        public NetShaperTests(NetnsPairFixture pair, ITestOutputHelper output)
        {
            _pair = pair;
            _output = output;
        }

        [RootFact]
        public void Shaper_is_added_changed_in_place_read_back_and_removed_on_a_tap()
        {
            NetTestHost.RequireRoot();
            var ip = new IpCommand();
            var shaper = new TrafficShaper(ip);
            string s = NetTestHost.Suffix();
            string link = "vntest-ls-" + s, router = "vntest-rs-" + s;
            string tap = InterfaceNames.Tap(router, link);
            try
            {
                ip.CreateTap(tap, OwnershipTag.ForTap(NetTestHost.StateId, router, link));
                // A tap that is down has no qdisc at all yet: adding works there too.
                Assert.Null(shaper.GetRoot(tap));
                var first = shaper.SetRate(tap, 5_000_000);
                Assert.Equal(ShaperAction.Added, first.Action);
                Assert.True(shaper.Remove(tap));

                ip.SetUp(tap);
                var root = shaper.GetRoot(tap);
                Assert.NotNull(root);
                Assert.True(root!.IsDefault, "an up tap starts with the kernel's default qdisc, got " + root);
                Assert.Null(shaper.Get(tap));

                var added = shaper.SetRate(tap, 10_000_000);
                Assert.Equal(ShaperAction.Added, added.Action);
                Assert.True(added.State.IsOurs);
                Assert.Equal(TrafficShaper.Handle, added.State.Handle);
                Assert.Equal(10_000_000, added.State.RateBitsPerSecond);
                Assert.Equal(6250, added.State.BurstBytes);
                _output.WriteLine("added:   " + added.State + " (requested " + added.Requested + ")");

                var again = shaper.SetRate(tap, 10_000_000);
                Assert.Equal(ShaperAction.Unchanged, again.Action);

                var changed = shaper.SetRate(tap, 20_000_000);
                Assert.Equal(ShaperAction.Changed, changed.Action);
                Assert.Equal(TrafficShaper.Handle, changed.State.Handle); // same qdisc, changed in place
                Assert.Equal(20_000_000, changed.State.RateBitsPerSecond);
                Assert.Equal(12500, changed.State.BurstBytes);
                Assert.Equal(20_000_000, shaper.Get(tap)!.RateBitsPerSecond);
                _output.WriteLine("changed: " + changed.State);

                var slow = shaper.SetRate(tap, 1_000_000);
                Assert.Equal(ShaperAction.Changed, slow.Action);
                Assert.Equal(1_000_000, slow.State.RateBitsPerSecond);
                Assert.Equal(3036, slow.State.BurstBytes);

                Assert.True(shaper.Remove(tap));
                Assert.True(shaper.GetRoot(tap)!.IsDefault);
                Assert.Null(shaper.Get(tap));
                Assert.False(shaper.Remove(tap));

                // A root qdisc somebody else put on our device is neither replaced nor removed.
                NetTestHost.Run("tc", "qdisc", "add", "dev", tap, "root", "handle", "5:", "tbf", "rate", "1mbit", "burst", "4000", "limit", "10000");
                var set = Assert.ThrowsAny<VirtualNetworksException>(() => shaper.SetRate(tap, 2_000_000));
                Assert.Equal(ErrorKind.InvalidOperation, set.Kind);
                Assert.Contains("not installed by VirtualNetworks", set.Message);
                Assert.ThrowsAny<VirtualNetworksException>(() => shaper.Remove(tap));
                var foreign = shaper.GetRoot(tap)!;
                Assert.Equal("5:", foreign.Handle);
                Assert.Equal(1_000_000, foreign.RateBitsPerSecond);
                NetTestHost.Run("tc", "qdisc", "del", "dev", tap, "root");

                var missing = Assert.ThrowsAny<VirtualNetworksException>(() => shaper.SetRate("vntest-nosuch", 1_000_000));
                Assert.Equal(ErrorKind.ObjectNotFound, missing.Kind);
                Assert.False(shaper.Remove("vntest-nosuch")); // removing from a device that is gone: nothing to do
            }
            finally
            {
                try { ip.Delete(tap); } catch (VirtualNetworksException) { }
            }
        }

        /// <summary>Counts ip/tc processes (a test interceptor that runs every command).</summary>
        private sealed class ProcessCounter : ICommandInterceptor
        {
            public int Count;
            public ProcessResult? Intercept(string tool, string? networkNamespace, System.Collections.Generic.List<string> arguments)
            {
                Interlocked.Increment(ref Count);
                return null;
            }
        }

        [RootFact]
        public void A_view_of_named_devices_reads_them_as_the_full_view_does_in_two_processes()
        {
            NetTestHost.RequireRoot();
            var ip = new IpCommand();
            var shaper = new TrafficShaper(ip);
            string s = NetTestHost.Suffix();
            string link = "vntest-lv-" + s;
            string shaped = InterfaceNames.Tap("vntest-ra-" + s, link), dropping = InterfaceNames.Tap("vntest-rb-" + s, link);
            string absent = InterfaceNames.Tap("vntest-rc-" + s, link);
            try
            {
                ip.CreateTap(shaped, OwnershipTag.ForTap(NetTestHost.StateId, "vntest-ra-" + s, link));
                ip.CreateTap(dropping, OwnershipTag.ForTap(NetTestHost.StateId, "vntest-rb-" + s, link));
                ip.SetUp(shaped);
                ip.SetUp(dropping);
                shaper.SetRate(shaped, 10_000_000);
                NetTestHost.Run("tc", "qdisc", "add", "dev", dropping, "clsact");
                var names = new[] { dropping, absent, shaped };
                var counter = new ProcessCounter();
                HostDeviceView scoped;
                using (NetTools.InterceptCommands(counter)) scoped = HostDeviceView.ReadDevices(ip, names, CancellationToken.None);
                Assert.Equal(2, counter.Count); // one ip -batch, one tc -batch: nothing else of the host is listed
                var full = HostDeviceView.Read(ip, CancellationToken.None);
                foreach (var n in names)
                {
                    Assert.Equal(full.Link(n)?.ToString(), scoped.Link(n)?.ToString());
                    Assert.Equal(full.Link(n)?.Tag, scoped.Link(n)?.Tag);
                    Assert.Equal(full.Link(n)?.Mtu, scoped.Link(n)?.Mtu);
                    Assert.Equal(full.Root(n)?.ToString(), scoped.Root(n)?.ToString());
                    Assert.Equal(full.HasClsact(n), scoped.HasClsact(n));
                }
                Assert.Null(scoped.Link(absent));
                Assert.True(scoped.Root(shaped)!.IsOurs);
                Assert.Equal(10_000_000, scoped.Root(shaped)!.RateBitsPerSecond);
                Assert.True(scoped.HasClsact(dropping));
                Assert.False(scoped.HasClsact(shaped));
                Assert.Null(scoped.Link("lo")); // not asked for
                Assert.NotNull(full.Link("lo"));
            }
            finally
            {
                try { ip.Delete(shaped); } catch (VirtualNetworksException) { }
                try { ip.Delete(dropping); } catch (VirtualNetworksException) { }
            }
        }

        [RootFact]
        public void A_rate_change_keeps_queued_packets_and_counters()
        {
            NetTestHost.RequireRoot();
            _pair.EnsureCreated();
            var shaper = new TrafficShaper(new IpCommand(_pair.NamespaceA));
            string dev = _pair.DeviceA;
            try
            {
                Assert.Equal(ShaperAction.Added, shaper.SetRate(dev, 1_000_000).Action);
                using var receiver = Netns.RunIn(_pair.NamespaceB, () =>
                {
                    var r = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                    r.Bind(new IPEndPoint(IPAddress.Parse(_pair.AddressB), 0));
                    return r;
                });
                using var sender = Netns.RunIn(_pair.NamespaceA, () => new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp));
                receiver.ReceiveTimeout = 3000;
                var target = receiver.LocalEndPoint!;
                var payload = new byte[1200];

                // 15 datagrams of 1242 frame bytes at once: 2 leave on the burst, the rest wait (~100 ms of queue at 1 Mbit/s).
                const int count = 15;
                for (int i = 0; i < count; i++)
                {
                    payload[0] = (byte)i;
                    sender.SendTo(payload, target);
                }
                var before = shaper.GetStatistics(dev)!;
                var change = shaper.SetRate(dev, 2_000_000);
                var after = shaper.GetStatistics(dev)!;
                _output.WriteLine("before change: backlog " + before.BacklogBytes + " B, " + before.QueueLength + " packets queued, sent " + before.Packets);
                _output.WriteLine("after change:  backlog " + after.BacklogBytes + " B, sent " + after.Packets + ", drops " + after.Drops);

                Assert.Equal(ShaperAction.Changed, change.Action);
                Assert.True(before.QueueLength > 0, "the test needs packets waiting in the queue when the rate changes");
                Assert.True(after.Packets >= before.Packets, "counters must not restart: the qdisc was changed, not replaced");

                int received = 0;
                var buffer = new byte[2048];
                while (received < count)
                {
                    try
                    {
                        receiver.Receive(buffer);
                        received++;
                    }
                    catch (SocketException)
                    {
                        break;
                    }
                }
                var end = shaper.GetStatistics(dev)!;
                Assert.Equal(count, received);
                Assert.Equal(0, end.Drops);
                Assert.Equal(0, end.BacklogBytes);
            }
            finally
            {
                try { shaper.Remove(dev); } catch (VirtualNetworksException) { }
            }
        }

        /// <summary>
        /// The real thing: TCP through a tbf-limited veth between two namespaces at 1, 5, 10, 20 Mbit/s. The frame rate (L2
        /// bytes the qdisc sent) is what MaximumBandwidth means; TCP goodput is lower by the headers. Loose CI bound: ±15 %.
        /// </summary>
        [RootFact]
        public void Measured_throughput_matches_the_configured_rate()
        {
            NetTestHost.RequireRoot();
            _pair.EnsureCreated();
            var shaper = new TrafficShaper(new IpCommand(_pair.NamespaceA));
            var table = new StringBuilder();
            table.AppendLine("configured  | frames (L2)        | TCP goodput        | goodput x 1514/1448");
            var failures = new StringBuilder();
            try
            {
                foreach (long rate in new long[] { 1_000_000, 5_000_000, 10_000_000, 20_000_000 })
                {
                    shaper.SetRate(_pair.DeviceA, rate);
                    using var flow = TcpFlow.Start(_pair);
                    WaitForSteadyState(shaper);
                    var a = Sample(shaper, flow);
                    Thread.Sleep(3000);
                    var b = Sample(shaper, flow);
                    double seconds = (b.Time - a.Time).TotalSeconds;
                    double l2 = (b.QdiscBytes - a.QdiscBytes) * 8 / seconds;
                    double goodput = (b.Received - a.Received) * 8 / seconds;
                    double corrected = goodput * 1514 / 1448;
                    table.AppendLine(string.Format(CultureInfo.InvariantCulture, "{0,6:0} Mbit | {1,6:0.000} ({2,5} %) | {3,6:0.000} ({4,5} %) | {5,6:0.000} ({6,5} %)",
                        rate / 1e6, l2 / 1e6, Pct(Err(l2, rate)), goodput / 1e6, Pct(Err(goodput, rate)), corrected / 1e6, Pct(Err(corrected, rate))));
                    if (Math.Abs(Err(l2, rate)) > 15 || Math.Abs(Err(corrected, rate)) > 15)
                        failures.AppendLine("at " + rate + " bit/s: frames " + l2.ToString("0", CultureInfo.InvariantCulture) + ", corrected goodput " + corrected.ToString("0", CultureInfo.InvariantCulture));
                }
            }
            finally
            {
                try { shaper.Remove(_pair.DeviceA); } catch (VirtualNetworksException) { }
                _output.WriteLine(table.ToString());
            }
            Assert.True(failures.Length == 0, "Measured rate off by more than 15 %:\n" + failures + table);
        }

        /// <summary>A live change on a loaded link takes effect at once (the bar: within 100 ms).</summary>
        [RootFact]
        public void A_live_rate_change_takes_effect_immediately()
        {
            NetTestHost.RequireRoot();
            _pair.EnsureCreated();
            var shaper = new TrafficShaper(new IpCommand(_pair.NamespaceA));
            try
            {
                shaper.SetRate(_pair.DeviceA, 5_000_000);
                using var flow = TcpFlow.Start(_pair);
                WaitForSteadyState(shaper);
                var a = Sample(shaper, flow);
                Thread.Sleep(1000);
                var b = Sample(shaper, flow);
                var clock = Stopwatch.StartNew();
                var change = shaper.SetRate(_pair.DeviceA, 20_000_000);
                double changeMs = clock.Elapsed.TotalMilliseconds;
                Thread.Sleep(100);
                var c = Sample(shaper, flow);
                Thread.Sleep(1000);
                var d = Sample(shaper, flow);
                double before = (b.QdiscBytes - a.QdiscBytes) * 8 / (b.Time - a.Time).TotalSeconds;
                double after = (d.QdiscBytes - c.QdiscBytes) * 8 / (d.Time - c.Time).TotalSeconds;
                _output.WriteLine(string.Format(CultureInfo.InvariantCulture,
                    "5 -> 20 Mbit/s: before {0:0.000} Mbit/s, SetRate took {1:0} ms, from 100 ms after the change {2:0.000} Mbit/s",
                    before / 1e6, changeMs, after / 1e6));
                Assert.Equal(ShaperAction.Changed, change.Action);
                Assert.InRange(before, 5_000_000 * 0.85, 5_000_000 * 1.15);
                Assert.InRange(after, 20_000_000 * 0.85, 20_000_000 * 1.15);
            }
            finally
            {
                try { shaper.Remove(_pair.DeviceA); } catch (VirtualNetworksException) { }
            }
        }

        private static double Err(double measured, long configured) => (measured - configured) * 100.0 / configured;

        private static string Pct(double value)
        {
            string text = value.ToString("0.0", CultureInfo.InvariantCulture);
            return text.StartsWith("-") ? text : "+" + text;
        }

        private readonly struct FlowSample
        {
            public FlowSample(TimeSpan time, long qdiscBytes, long received)
            {
                Time = time;
                QdiscBytes = qdiscBytes;
                Received = received;
            }

            public TimeSpan Time { get; }
            public long QdiscBytes { get; }
            public long Received { get; }
        }

        /// <summary>
        /// The qdisc's byte counter and the bytes received, at one moment. The counter is read by a tc process, and the
        /// kernel's snapshot falls somewhere inside that run: a run that took long (process start on a busy 2-core machine
        /// can take hundreds of ms) would blur the time, so such samples are taken again.
        /// </summary>
        private FlowSample Sample(TrafficShaper shaper, TcpFlow flow)
        {
            for (int attempt = 0; ; attempt++)
            {
                var t0 = flow.Clock.Elapsed;
                long received0 = flow.Received;
                long bytes = shaper.GetStatistics(_pair.DeviceA)!.Bytes;
                var t1 = flow.Clock.Elapsed;
                long received1 = flow.Received;
                if ((t1 - t0).TotalMilliseconds <= 30 || attempt >= 10)
                    return new FlowSample(t0 + TimeSpan.FromTicks((t1 - t0).Ticks / 2), bytes, (received0 + received1) / 2);
            }
        }

        /// <summary>
        /// Waits past TCP's start: slow start overshoots the queue, and the losses it causes hold data back in the
        /// receiver's reordering queue until the retransmissions arrive. Steady state = no new drops for 700 ms.
        /// </summary>
        private void WaitForSteadyState(TrafficShaper shaper)
        {
            var clock = Stopwatch.StartNew();
            Thread.Sleep(1000);
            long drops = shaper.GetStatistics(_pair.DeviceA)!.Drops;
            while (clock.Elapsed < TimeSpan.FromSeconds(6))
            {
                Thread.Sleep(700);
                long now = shaper.GetStatistics(_pair.DeviceA)!.Drops;
                if (now == drops) return;
                drops = now;
            }
        }

        /// <summary>A bulk TCP transfer from namespace A to namespace B (sockets created inside each namespace).</summary>
        private sealed class TcpFlow : IDisposable
        {
            private Socket? _listener, _client, _server;
            private Thread? _sendThread, _receiveThread;
            private long _received;
            private volatile bool _stop;

            public Stopwatch Clock { get; } = Stopwatch.StartNew();
            public long Received => Interlocked.Read(ref _received);

            public static TcpFlow Start(NetnsPairFixture pair)
            {
                var flow = new TcpFlow();
                try
                {
                    flow._listener = Netns.RunIn(pair.NamespaceB, () =>
                    {
                        var l = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                        l.Bind(new IPEndPoint(IPAddress.Parse(pair.AddressB), 0));
                        l.Listen(1);
                        return l;
                    });
                    flow._client = Netns.RunIn(pair.NamespaceA, () => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
                    flow._client.SendTimeout = 500;
                    flow._client.Connect(flow._listener.LocalEndPoint!);
                    flow._server = flow._listener.Accept();
                    flow._receiveThread = new Thread(flow.ReceiveLoop) { IsBackground = true, Name = "vntest receive" };
                    flow._sendThread = new Thread(flow.SendLoop) { IsBackground = true, Name = "vntest send" };
                    flow._receiveThread.Start();
                    flow._sendThread.Start();
                    return flow;
                }
                catch
                {
                    flow.Dispose();
                    throw;
                }
            }

            private void SendLoop()
            {
                var buffer = new byte[65536];
                while (!_stop)
                {
                    try
                    {
                        _client!.Send(buffer);
                    }
                    catch (SocketException ex) when (ex.SocketErrorCode == SocketError.TimedOut || ex.SocketErrorCode == SocketError.WouldBlock)
                    {
                    }
                    catch (Exception)
                    {
                        return;
                    }
                }
            }

            private void ReceiveLoop()
            {
                var buffer = new byte[65536];
                try
                {
                    int n;
                    while ((n = _server!.Receive(buffer)) > 0) Interlocked.Add(ref _received, n);
                }
                catch (Exception)
                {
                }
            }

            public void Dispose()
            {
                _stop = true;
                _sendThread?.Join(2000);
                try { _client?.Close(0); } catch (Exception) { }
                try { _server?.Close(0); } catch (Exception) { }
                _receiveThread?.Join(2000);
                _listener?.Dispose();
            }
        }
    }
}
