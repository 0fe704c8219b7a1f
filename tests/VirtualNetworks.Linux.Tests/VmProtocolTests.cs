using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Newtonsoft.Json.Linq;
using VirtualNetworks.Linux.Vm;
using Xunit;

namespace VirtualNetworks.Linux.Tests
{
    /// <summary>A one-client-at-a-time line server on a Unix socket, like a QEMU socket chardev.</summary>
    internal sealed class FakeLineServer : IDisposable
    {
        private readonly Socket _listener;
        private readonly Thread _thread;
        private volatile bool _stop;

        public FakeLineServer(string path, Action<StreamReader, StreamWriter, int> session)
        {
            Path = path;
            _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            _listener.Bind(new UnixSocketEndPoint(path));
            _listener.Listen(4);
            _thread = new Thread(() =>
            {
                int n = 0;
                while (!_stop)
                {
                    Socket c;
                    try
                    {
                        c = _listener.Accept();
                    }
                    catch (SocketException)
                    {
                        return;
                    }
                    catch (ObjectDisposedException)
                    {
                        return;
                    }
                    Interlocked.Increment(ref _connections);
                    using (c)
                    using (var ns = new NetworkStream(c, ownsSocket: false))
                    using (var r = new StreamReader(ns, new UTF8Encoding(false)))
                    using (var w = new StreamWriter(ns, new UTF8Encoding(false)) { AutoFlush = true, NewLine = "\n" })
                    {
                        try
                        {
                            session(r, w, n++);
                        }
                        catch (IOException)
                        {
                        }
                    }
                    Interlocked.Increment(ref _ended);
                }
            }) { IsBackground = true };
            _thread.Start();
        }

        private int _connections;
        public int Connections => Volatile.Read(ref _connections);
        private int _ended;
        /// <summary>Sessions that ended (the client closed its connection).</summary>
        public int Ended => Volatile.Read(ref _ended);
        public string Path { get; }

        public void Dispose()
        {
            _stop = true;
            _listener.Dispose();
            File.Delete(Path);
        }
    }

    public sealed class VmQmpClientTests : IDisposable
    {
        private readonly string _dir = VmTestHost.NewStateRoot();

        public VmQmpClientTests() => Directory.CreateDirectory(_dir);

        public void Dispose() => VmTestHost.DeleteTree(_dir);

        private static void Qmp(StreamReader r, StreamWriter w, Func<JObject, IEnumerable<string>> answer)
        {
            w.WriteLine("{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}}, \"capabilities\": [\"oob\"]}}");
            string? line;
            while ((line = r.ReadLine()) != null)
            {
                var req = JObject.Parse(line);
                foreach (var reply in answer(req)) w.WriteLine(reply);
            }
        }

        private static string Ret(JObject req, string ret) => "{\"return\": " + ret + ", \"id\": \"" + (string?)req["id"] + "\"}";

        [Fact]
        public void Negotiates_runs_commands_and_keeps_events_aside()
        {
            var seen = new List<string>();
            using var server = new FakeLineServer(Path.Combine(_dir, "q.qmp"), (r, w, _) => Qmp(r, w, req =>
            {
                string cmd = (string)req["execute"]!;
                lock (seen) seen.Add(cmd);
                return cmd switch
                {
                    "qmp_capabilities" => new[] { Ret(req, "{}") },
                    "query-status" => new[] { "{\"event\": \"RESUME\", \"timestamp\": {\"seconds\": 1, \"microseconds\": 2}}", Ret(req, "{\"status\": \"running\", \"running\": true}") },
                    "stop" => new[] { Ret(req, "{}"), "{\"event\": \"STOP\"}" },
                    "system_powerdown" => new[] { "{\"event\": \"POWERDOWN\"}", Ret(req, "{}") },
                    "migrate" => new[] { Ret(req, "{}") },
                    _ => new[] { "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command " + cmd + " has not been found\"}, \"id\": \"" + (string?)req["id"] + "\"}" },
                };
            }));
            using (var q = QmpClient.Connect(server.Path, "r1", TimeSpan.FromSeconds(5)))
            {
                Assert.Equal(7, (int)q.Greeting["QMP"]!["version"]!["qemu"]!["major"]!);
                Assert.Equal("running", q.QueryStatus());
                q.Stop();
                q.SystemPowerdown();
                q.Migrate("tcp:10.0.0.2:4444");
                Assert.Contains(q.Events, e => (string?)e["event"] == "RESUME");
                Assert.Contains(q.Events, e => (string?)e["event"] == "POWERDOWN");
                var ex = Assert.Throws<VirtualNetworksException>(() => q.Execute("frobnicate"));
                Assert.Equal(ErrorIds.BackendOperationFailed, ex.ErrorId);
                Assert.Equal("r1", ex.TargetName);
                Assert.Contains("CommandNotFound", ex.Message);
                Assert.Contains("Router 'r1'", ex.Message);
            }
            Assert.Equal(new[] { "qmp_capabilities", "query-status", "stop", "system_powerdown", "migrate", "frobnicate" }, seen);
        }

        [Fact]
        public void A_silent_monitor_times_out_with_a_clear_error()
        {
            using var server = new FakeLineServer(Path.Combine(_dir, "q.qmp"), (r, w, _) => Thread.Sleep(3000));
            var ex = Assert.Throws<VirtualNetworksException>(() => QmpClient.Connect(server.Path, "r1", TimeSpan.FromMilliseconds(500)));
            Assert.Equal(ErrorKind.OperationTimeout, ex.Kind);
            Assert.Contains("greeting", ex.Message);
        }

        [Fact]
        public void A_missing_socket_says_the_router_is_not_running()
        {
            var ex = Assert.Throws<VirtualNetworksException>(() => QmpClient.Connect(Path.Combine(_dir, "none.qmp"), "r1", TimeSpan.FromMilliseconds(300)));
            Assert.Equal(ErrorKind.ConnectionError, ex.Kind);
            Assert.Contains("not running", ex.Message);
        }

        [Fact]
        public void Quit_tolerates_the_connection_closing()
        {
            using var server = new FakeLineServer(Path.Combine(_dir, "q.qmp"), (r, w, _) =>
            {
                w.WriteLine("{\"QMP\": {}}");
                var caps = JObject.Parse(r.ReadLine()!);
                w.WriteLine(Ret(caps, "{}"));
                r.ReadLine(); // quit: close without answering
            });
            using var q = QmpClient.Connect(server.Path, "r1", TimeSpan.FromSeconds(5));
            q.Quit();
        }

        [Fact]
        public async Task Sessions_of_this_process_on_one_socket_are_serialised()
        {
            int active = 0, maxActive = 0;
            using var server = new FakeLineServer(Path.Combine(_dir, "q.qmp"), (r, w, _) =>
            {
                int now = Interlocked.Increment(ref active);
                lock (this) maxActive = Math.Max(maxActive, now);
                try
                {
                    Qmp(r, w, req => new[] { Ret(req, "{\"status\": \"paused\"}") });
                }
                finally
                {
                    Interlocked.Decrement(ref active);
                }
            });
            var tasks = new List<Task>();
            for (int i = 0; i < 4; i++)
                tasks.Add(Task.Run(() =>
                {
                    using var q = QmpClient.Connect(server.Path, "r1", TimeSpan.FromSeconds(10));
                    Assert.Equal("paused", q.QueryStatus());
                    Thread.Sleep(50);
                }));
            await Task.WhenAll(tasks);
            Assert.Equal(1, maxActive);
            Assert.Equal(4, server.Connections);
        }
    }

    public sealed class VmGuestChannelTests : IDisposable
    {
        private readonly string _dir = VmTestHost.NewStateRoot();

        public VmGuestChannelTests()
        {
            Directory.CreateDirectory(_dir);
        }

        public void Dispose() => VmTestHost.DeleteTree(_dir);

        /// <summary>A fake guest agent: answers requests with the framing of docs/guest-contract.md.</summary>
        private static void Agent(StreamReader r, StreamWriter w, Func<string, string[], StreamReader, (int, string[])> handle, string? junkFirst = null)
        {
            if (junkFirst != null) w.Write(junkFirst);
            string? line;
            while ((line = r.ReadLine()) != null)
            {
                var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                string id = words[0];
                var (rc, output) = handle(words[1], words[2..], r);
                w.WriteLine(id + " BEGIN");
                foreach (var o in output) w.WriteLine(o);
                w.WriteLine(id + " END " + rc);
            }
        }

        private static (int, string[]) Standard(string cmd, string[] args, StreamReader r)
        {
            switch (cmd)
            {
                case "ready":
                    return (0, new[] { "name r1", "config ok", "uptime_ms 1234" });
                case "show":
                    return (0, new[] { "# name", "r1", "# forwarding", "ipv4 1 ipv6 1" });
                case "ping" when args[0] == "10.0.0.1":
                    return (0, new[] { "PING 10.0.0.1 (10.0.0.1): 56 data bytes", "", "--- 10.0.0.1 ping statistics ---",
                        "3 packets transmitted, 3 packets received, 0% packet loss", "round-trip min/avg/max = 0.512/0.734/1.020 ms" });
                case "ping" when args[0] == "10.0.0.2":
                    return (1, new[] { "--- 10.0.0.2 ping statistics ---", "3 packets transmitted, 1 packets received, 66% packet loss",
                        "round-trip min/avg/max = 2.000/2.000/2.000 ms" });
                case "ping":
                    return (1, new[] { "--- " + args[0] + " ping statistics ---", "3 packets transmitted, 0 packets received, 100% packet loss" });
                case "config":
                {
                    var body = new List<string>();
                    string? l;
                    while ((l = r.ReadLine()) != null && l != ".") body.Add(l);
                    if (body.Exists(x => x.StartsWith("if 00:", StringComparison.Ordinal))) return (2, new[] { "error: line 2: no interface with MAC", "configuration rejected, nothing changed" });
                    return (0, new[] { "lines " + body.Count, "routes 0" });
                }
                default:
                    return (127, new[] { "error: unknown command '" + cmd + "' (try help)" });
            }
        }

        [Fact]
        public void Ready_show_ping_and_config_follow_the_framing()
        {
            using var server = new FakeLineServer(Path.Combine(_dir, "g.chan"), (r, w, _) => Agent(r, w, Standard,
                // The tail of an answer meant for an earlier client that gave up: skipped.
                "old-1 BEGIN\nstale output\nold-1 END 0\n"));
            var ch = new GuestChannel(server.Path, "r1");
            var ready = ch.WaitReady(TimeSpan.FromSeconds(5));
            Assert.Equal("r1", ready.Name);
            Assert.Equal("ok", ready.ConfigState);
            Assert.Equal(1234, ready.UptimeMilliseconds);
            Assert.Contains("ipv4 1 ipv6 1", ch.Show());

            var up = ch.Ping("10.0.0.1", 3, TimeSpan.FromSeconds(2));
            Assert.True(up.Reachable);
            Assert.Equal(0.734, up.RoundTripMilliseconds!.Value, 3);
            var partial = ch.Ping("10.0.0.2");
            Assert.True(partial.Reachable); // exit code 1 but one reply came back
            var down = ch.Ping("10.0.0.9");
            Assert.False(down.Reachable);
            Assert.Null(down.RoundTripMilliseconds);
            Assert.Contains("100% packet loss", down.Detail);

            var applied = ch.PushConfig("name r1\nif 52:54:00:00:00:01 10.0.0.0/31\n");
            Assert.Equal("lines 2", applied.Lines[0]);
            var rejected = Assert.Throws<VirtualNetworksException>(() => ch.PushConfig("name r1\nif 00:11:22:33:44:55 10.0.0.0/31\n"));
            Assert.Contains("rejected", rejected.Message);
            Assert.Contains("no interface with MAC", rejected.Message);

            var unknown = ch.Run("frobnicate");
            Assert.Equal(127, unknown.ExitCode);
            // All of it on one kept connection.
            Assert.Equal(1, server.Connections);
        }

        /// <summary>A fake guest with the probe command of docs/guest-contract.md: addresses ending in 1 answer, others are lost.</summary>
        private static (int, string[]) Prober(string cmd, string[] args, StreamReader r, List<string[]> requests)
        {
            if (cmd != "probe") return Standard(cmd, args, r);
            lock (requests) requests.Add(args);
            if (args.Length < 3 || args.Length > 66) return (2, new[] { "usage: probe <count 1..10> <deadline s 1..30> <address>..." });
            var lines = new List<string>();
            int rc = 0;
            for (int i = 2; i < args.Length; i++)
            {
                if (args[i].EndsWith("1", StringComparison.Ordinal)) lines.Add(args[i] + " ok 0." + i.ToString("000", System.Globalization.CultureInfo.InvariantCulture));
                else { lines.Add(args[i] + " lost"); rc = 1; }
            }
            return (rc, lines.ToArray());
        }

        [Fact]
        public void Probe_many_sends_at_most_64_addresses_a_request_and_keeps_their_order()
        {
            var requests = new List<string[]>();
            using var server = new FakeLineServer(Path.Combine(_dir, "g.chan"), (r, w, _) => Agent(r, w, (c, a, rd) => Prober(c, a, rd, requests)));
            var ch = new GuestChannel(server.Path, "r1");
            var addresses = new List<string>();
            for (int i = 0; i < 70; i++) addresses.Add(i % 2 == 0 ? "10.0." + i + ".1" : "fd00:0:0:" + i.ToString("x") + "::2");
            addresses.Add("10.0.0.1"); // the same address twice: answered twice
            var results = ch.ProbeMany(addresses, 2, 3)!;

            Assert.Equal(71, results.Count);
            Assert.Equal(new[] { 66, 9 }, requests.ConvertAll(x => x.Length)); // 64 + 7 addresses, each after "2 3"
            Assert.All(requests, x => Assert.Equal(new[] { "2", "3" }, x[..2]));
            for (int i = 0; i < 71; i++)
                Assert.Equal(addresses[i].EndsWith("1", StringComparison.Ordinal), results[i].Reachable);
            Assert.Equal(0.002, results[0].RoundTripMilliseconds!.Value, 6);
            Assert.Equal(0.008, results[70].RoundTripMilliseconds!.Value, 6); // 10.0.0.1, 7th of the second request
            Assert.Null(results[1].RoundTripMilliseconds);
            Assert.Equal("no reply to 2 echo request(s) within 3 s", results[1].Detail);
            Assert.Empty(ch.ProbeMany(Array.Empty<string>(), 2, 3)!);
            Assert.Equal(1, server.Connections);

            // Smaller requests on demand (the backend's second pass): 20 addresses in requests of 8, 8 and 4, in order.
            requests.Clear();
            var twenty = addresses.GetRange(0, 20);
            var small = ch.ProbeMany(twenty, 2, 3, default, 8)!;
            Assert.Equal(new[] { 10, 10, 6 }, requests.ConvertAll(x => x.Length));
            Assert.Equal(twenty, requests.SelectMany(x => x[2..]).ToList());
            for (int i = 0; i < 20; i++) Assert.Equal(twenty[i].EndsWith("1", StringComparison.Ordinal), small[i].Reachable);
            Assert.Throws<ArgumentOutOfRangeException>(() => ch.ProbeMany(twenty, 2, 3, default, 0));
            Assert.Throws<ArgumentOutOfRangeException>(() => ch.ProbeMany(twenty, 2, 3, default, GuestChannel.MaxProbeAddresses + 1));
        }

        [Fact]
        public void Probe_many_returns_null_from_a_guest_without_the_command_and_refuses_bad_arguments_before_sending()
        {
            using (var old = new FakeLineServer(Path.Combine(_dir, "old.chan"), (r, w, _) => Agent(r, w, Standard)))
                Assert.Null(new GuestChannel(old.Path, "r1").ProbeMany(new[] { "10.0.0.1" }, 2, 3));

            var requests = new List<string[]>();
            using var server = new FakeLineServer(Path.Combine(_dir, "g.chan"), (r, w, _) => Agent(r, w, (c, a, rd) => Prober(c, a, rd, requests)));
            var ch = new GuestChannel(server.Path, "r1");
            foreach (var bad in new[] { "10.0.0.1 10.0.0.2", "10.0.0.0/24", "fe80::1%eth0", "host.example", "", "10.0.0.1\nreboot" })
                Assert.Equal(ErrorIds.InvalidAddress, Assert.Throws<VirtualNetworksException>(() => ch.ProbeMany(new[] { "10.0.0.1", bad }, 2, 3)).ErrorId);
            Assert.Throws<ArgumentOutOfRangeException>(() => ch.ProbeMany(new[] { "10.0.0.1" }, 0, 3));
            Assert.Throws<ArgumentOutOfRangeException>(() => ch.ProbeMany(new[] { "10.0.0.1" }, 11, 3));
            Assert.Throws<ArgumentOutOfRangeException>(() => ch.ProbeMany(new[] { "10.0.0.1" }, 2, 31));
            Assert.Equal(0, server.Connections);
            // Normalised before sending: the guest sees the canonical form.
            Assert.True(ch.ProbeMany(new[] { "FD00:0000::0001" }, 1, 1)![0].Reachable);
            Assert.Equal("fd00::1", requests[0][2]);
        }

        [Fact]
        public void Probe_answers_are_parsed_strictly_in_order()
        {
            var asked = new[] { "10.0.0.1", "10.0.0.2", "fd00::1", "10.0.0.4" };
            var r = new GuestCommandResult("probe", 124, new[]
            {
                "10.0.0.1 ok 1.5",
                "garbage line",
                "10.0.0.9 ok 2",        // not the next address asked: skipped
                "10.0.0.2 lost",
                "fd00::1 ok 12",
                "vn: timed out after 13 s",
            });
            var results = GuestChannel.ParseProbe(asked, r, 2, 3);
            Assert.Equal(new[] { true, false, true, false }, results.Select(x => x.Reachable));
            Assert.Equal(1.5, results[0].RoundTripMilliseconds);
            Assert.Equal(12, results[2].RoundTripMilliseconds);
            Assert.Contains("timed out in the guest", results[3].Detail);
            var odd = GuestChannel.ParseProbe(new[] { "10.0.0.1" }, new GuestCommandResult("probe", 0, new[] { "10.0.0.1 ok -1", "10.0.0.1 ok 1e3", "10.0.0.1 maybe" }), 2, 3);
            Assert.False(odd[0].Reachable);
            Assert.Contains("no line for this address (exit code 0)", odd[0].Detail);
        }

        [Fact]
        public void Arguments_that_would_split_or_inject_are_refused_before_sending()
        {
            using var server = new FakeLineServer(Path.Combine(_dir, "g.chan"), (r, w, _) => Agent(r, w, Standard));
            var ch = new GuestChannel(server.Path, "r1");
            Assert.Throws<ArgumentException>(() => ch.Run("ping", new[] { "10.0.0.1 ; poweroff" }));
            Assert.Throws<ArgumentException>(() => ch.Run("ping", new[] { "10.0.0.1\npoweroff" }));
            Assert.Throws<ArgumentException>(() => ch.Run("Ping"));
            Assert.Throws<ArgumentException>(() => ch.Run("x y"));
            Assert.Throws<ArgumentException>(() => ch.PushConfig("name r1\n.\nroute default via 1.1.1.1\n"));
            Assert.Throws<VirtualNetworksException>(() => ch.Ping("10.0.0.1;poweroff"));
            Assert.Throws<VirtualNetworksException>(() => ch.Ping("10.0.0.0/24"));
            Assert.Equal(0, server.Connections);
        }

        [Fact]
        public void A_dead_kept_connection_is_replaced_and_the_request_sent_again()
        {
            // Session 0 answers one request and hangs up (QEMU restarted); session 1 serves normally.
            using var server = new FakeLineServer(Path.Combine(_dir, "g.chan"), (r, w, n) =>
            {
                if (n == 0)
                {
                    var line = r.ReadLine()!;
                    string id = line.Split(' ')[0];
                    w.WriteLine(id + " BEGIN");
                    w.WriteLine("name r1");
                    w.WriteLine(id + " END 0");
                    return;
                }
                Agent(r, w, Standard);
            });
            var ch = new GuestChannel(server.Path, "r1");
            Assert.Equal(0, ch.Run("ready").ExitCode);
            Thread.Sleep(100);
            Assert.Contains("ipv4 1 ipv6 1", ch.Show());
            Assert.Equal(2, server.Connections);
        }

        [Fact]
        public void A_guest_that_does_not_answer_times_out_and_the_connection_is_not_reused()
        {
            using var server = new FakeLineServer(Path.Combine(_dir, "g.chan"), (r, w, n) =>
            {
                if (n == 0)
                {
                    r.ReadLine();
                    Thread.Sleep(1500); // paused guest
                    return;
                }
                Agent(r, w, Standard);
            });
            var ch = new GuestChannel(server.Path, "r1");
            var ex = Assert.Throws<VirtualNetworksException>(() => ch.Run("ready", null, TimeSpan.FromMilliseconds(400)));
            Assert.Equal(ErrorKind.OperationTimeout, ex.Kind);
            Assert.Contains("paused", ex.Message);
            Assert.Equal("r1", ch.WaitReady(TimeSpan.FromSeconds(5)).Name);
            Assert.Equal(2, server.Connections);
        }

        [Fact]
        public async Task WaitReady_waits_for_the_socket_to_appear()
        {
            string path = Path.Combine(_dir, "late.chan");
            var ch = new GuestChannel(path, "r1");
            FakeLineServer? server = null;
            var starter = Task.Run(() =>
            {
                Thread.Sleep(500);
                server = new FakeLineServer(path, (r, w, _) => Agent(r, w, Standard));
            });
            try
            {
                var clock = System.Diagnostics.Stopwatch.StartNew();
                Assert.Equal("r1", ch.WaitReady(TimeSpan.FromSeconds(5)).Name);
                Assert.InRange(clock.ElapsedMilliseconds, 400, 5000);
            }
            finally
            {
                await starter;
                ch.Disconnect();
                server?.Dispose();
            }
        }

        [Fact]
        public void An_idle_connection_is_closed_so_other_clients_get_their_turn()
        {
            var saved = GuestChannel.IdleClose;
            GuestChannel.IdleClose = TimeSpan.FromMilliseconds(200);
            try
            {
                using var server = new FakeLineServer(Path.Combine(_dir, "g.chan"), (r, w, _) => Agent(r, w, Standard));
                var ch = new GuestChannel(server.Path, "r1");
                ch.Run("ready");
                ch.Run("ready");
                // The channel's timer closes the idle connection (the server sees it end) without any further call; a
                // loaded machine may run the timer late, so wait for it (bounded) rather than for a fixed time.
                var clock = System.Diagnostics.Stopwatch.StartNew();
                while (server.Ended == 0 && clock.Elapsed < TimeSpan.FromSeconds(20)) Thread.Sleep(20);
                Assert.Equal(1, server.Ended);
                ch.Run("ready");
                Assert.Equal(2, server.Connections);
            }
            finally
            {
                GuestChannel.IdleClose = saved;
            }
        }
    }
}
