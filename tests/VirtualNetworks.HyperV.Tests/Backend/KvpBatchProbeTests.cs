using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using VirtualNetworks.Backends;
using VirtualNetworks.HyperV.Simulator;
using Xunit;

namespace VirtualNetworks.HyperV.Tests.Backend
{
    /// <summary>
    /// Batched probes over KVP (<see cref="IBatchProbe"/> on Hyper-V; issue 15): one exchange per batch, requests split so
    /// that request and answer fit in a KVP value, the same results as single probes on the same simulated network
    /// (<see cref="SimulatedRouterAgent"/>), and clear errors naming the router when the guest is silent or talks garbage.
    /// </summary>
    public class KvpBatchProbeTests
    {
        private static readonly System.Threading.CancellationToken None = SimRig.None;

        /// <summary>
        /// Network A: a1 — a2 — a3 (IPv4 and IPv6 on each link), network B: b1 — b2 (IPv6); all running and configured,
        /// the simulated router agent answering. Each address is owned by exactly one router.
        /// </summary>
        internal sealed class Net : IDisposable
        {
            public readonly SimRig Rig = new SimRig();
            public readonly ConcurrentQueue<(string Vm, string Key, string Data)> Log = SimulatedRouterAgent.NewLog();
            public readonly Dictionary<string, List<string>> Owned = new Dictionary<string, List<string>>();

            public Net(bool ospf = false, int extraRoutes = 0)
            {
                Rig.Options.WaitIncludesGuestBound = false;
                foreach (var n in new[] { "a1", "a2", "a3", "b1", "b2" }) Rig.Backend.CreateRouter(SimRig.Router(n), None);
                var links = new[]
                {
                    ("a12", "a1", "a2", new[] { "10.0.12.0", "fd00:12::" }, new[] { "10.0.12.1", "fd00:12::1" }),
                    ("a23", "a2", "a3", new[] { "10.0.23.0", "fd00:23::" }, new[] { "10.0.23.1", "fd00:23::1" }),
                    ("b12", "b1", "b2", new[] { "fd00:b::" }, new[] { "fd00:b::1" }),
                };
                var cfg = new Dictionary<string, RouterConfiguration>();
                RouterConfiguration Cfg(string r) => cfg.TryGetValue(r, out var c) ? c : cfg[r] = new RouterConfiguration { RouterName = r, AddressFamily = NetworkAddressFamily.IPv4 };
                foreach (var (link, from, to, fa, ta) in links)
                {
                    Rig.Backend.CreateLink(SimRig.Link(link, from, to), None);
                    foreach (var (r, peer, mine, theirs) in new[] { (from, to, fa, ta), (to, from, ta, fa) })
                        for (int i = 0; i < mine.Length; i++)
                        {
                            Cfg(r).Interfaces.Add(new InterfaceConfiguration
                            {
                                LinkName = link, Address = mine[i] + (mine[i].Contains(':') ? "/127" : "/31"), PeerRouter = peer, PeerAddress = theirs[i],
                            });
                            if (!Owned.TryGetValue(r, out var list)) Owned[r] = list = new List<string>();
                            list.Add(mine[i]);
                        }
                }
                int id = 0;
                foreach (var c in cfg.Values)
                {
                    if (ospf)
                        c.Routing = new RoutingConfiguration
                        {
                            Protocol = RoutingProtocol.Ospf, RouterId = "10.255.0." + (++id).ToString(CultureInfo.InvariantCulture),
                            HelloIntervalSeconds = 1, DeadIntervalSeconds = 4, Bfd = true, BfdIntervalMilliseconds = 100, BfdMultiplier = 5,
                        };
                    if (c.RouterName == "a1")
                        for (int i = 0; i < extraRoutes; i++)
                            c.Routes.Add(new RouteConfiguration { Destination = "10.100." + i.ToString(CultureInfo.InvariantCulture) + ".0/24", NextHop = "10.0.12.1", LinkName = "a12" });
                    Rig.Backend.StartRouter(c.RouterName, None);
                    Rig.Backend.ConfigureRouter(c, None);
                }
                SimulatedRouterAgent.Install(Log, Rig.Sim);
            }

            public IReadOnlyList<string> AllAddresses => Owned.Values.SelectMany(a => a).Concat(new[] { "10.9.9.9", "fd00:99::9" }).ToList();

            public void Dispose() => Rig.Dispose();
        }

        [Fact]
        public void ProbeMany_OneKvpExchangePerBatch_AndTheSameResultsAsSingleProbes_ReachabilityIsolationBothFamilies()
        {
            using var net = new Net();
            var targets = net.AllAddresses;
            foreach (var source in new[] { "a1", "a3", "b2" })
            {
                net.Rig.Sim.Counters.Reset();
                while (net.Log.TryDequeue(out _)) { }
                var batch = net.Rig.Backend.ProbeMany(source, targets, None);

                // One exchange for the whole batch: one AddKvpItems, one RemoveKvpItems, one probe request in the guest.
                Assert.Equal(1, net.Rig.Sim.Counters.Method("AddKvpItems"));
                Assert.Equal(1, net.Rig.Sim.Counters.Method("RemoveKvpItems"));
                var seen = net.Log.ToList();
                var probe = Assert.Single(seen);
                Assert.Equal(source, probe.Vm);
                Assert.Equal("probe 1 2 " + string.Join(" ", targets), probe.Data);

                // What the model says: inside a network every address answers, across networks none, unowned ones never.
                string net0 = source.Substring(0, 1);
                Assert.Equal(targets.Count, batch.Count);
                for (int i = 0; i < targets.Count; i++)
                {
                    string? owner = net.Owned.FirstOrDefault(o => o.Value.Contains(targets[i])).Key;
                    bool expected = owner != null && owner.StartsWith(net0, StringComparison.Ordinal);
                    Assert.True(expected == batch[i].Reachable, $"{source} -> {targets[i]}: {batch[i].Detail}");
                    if (expected) Assert.Equal(0.412, batch[i].RoundTripMilliseconds);
                }

                // The single-probe path on the same network gives the same answers.
                net.Rig.Sim.Counters.Reset();
                var singles = targets.Select(t => net.Rig.Backend.Probe(source, t, None)).ToList();
                Assert.Equal(targets.Count, net.Rig.Sim.Counters.Method("AddKvpItems"));
                Assert.Equal(singles.Select(s => s.Reachable), batch.Select(b => b.Reachable));
            }
            // Nothing is left behind in pool 0 or pool 1.
            Assert.DoesNotContain(net.Rig.Sim.Guest("a1").HostItems.Keys, k => k.StartsWith(KvpConfig.ProbePrefix, StringComparison.Ordinal));
            Assert.DoesNotContain(net.Rig.Sim.Guest("a1").GuestItems.Keys, k => k.StartsWith(KvpConfig.ProbePrefix, StringComparison.Ordinal));
        }

        [Fact]
        public void ProbeMany_FollowsTheSimulatedNetwork_PausedAndUnpluggedRouters()
        {
            using var net = new Net();
            var a3 = net.Owned["a3"];
            Assert.All(net.Rig.Backend.ProbeMany("a1", a3, None), r => Assert.True(r.Reachable, r.Detail));

            net.Rig.Backend.SetLinkState("a23", LinkState.CablePulled, None);
            Assert.All(net.Rig.Backend.ProbeMany("a1", a3, None), r => Assert.False(r.Reachable));
            Assert.All(net.Rig.Backend.ProbeMany("a1", net.Owned["a2"], None), r => Assert.True(r.Reachable, r.Detail));
            net.Rig.Backend.SetLinkState("a23", LinkState.Up, None);

            net.Rig.Backend.SuspendRouter("a1", None);
            int calls = net.Rig.Sim.Counters.Method("AddKvpItems");
            var paused = net.Rig.Backend.ProbeMany("a1", a3, None);
            Assert.All(paused, r => { Assert.False(r.Reachable); Assert.Contains("'a1' is not running", r.Detail); });
            Assert.Equal(calls, net.Rig.Sim.Counters.Method("AddKvpItems")); // a router that does not run is not asked
        }

        [Fact]
        public void ProbeMany_SplitsABatchAtTheKvpValueLimit_StillOneExchange_ResultsInOrder()
        {
            using var net = new Net();
            // 150 long IPv6 addresses (39 characters each), every 7th one an address of a2 (reachable from a1).
            var reachable = net.Owned["a2"].Concat(net.Owned["a3"]).ToList();
            var targets = Enumerable.Range(0, 150)
                .Select(i => i % 7 == 0 ? reachable[i / 7 % reachable.Count] : "fd00:1234:5678:9abc:def0:1234:5678:" + i.ToString("x4", CultureInfo.InvariantCulture))
                .ToList();
            net.Rig.Sim.Counters.Reset();

            var results = net.Rig.Backend.ProbeMany("a1", targets, None);

            var requests = net.Log.Where(l => l.Data.StartsWith("probe ", StringComparison.Ordinal)).Select(l => l.Data).ToList();
            Assert.True(requests.Count > 2, $"{requests.Count} request(s)");
            Assert.All(requests, r => Assert.True(r.Length <= KvpCommand.ValueBudget, $"request of {r.Length} characters"));
            // Every address asked once, in order, with at most 64 per request.
            var asked = requests.SelectMany(r => r.Split(' ').Skip(3)).ToList();
            Assert.Equal(targets, asked);
            Assert.All(requests, r => Assert.InRange(r.Split(' ').Length - 3, 1, KvpCommand.MaxProbeAddresses));
            // The longest possible answer of each request fits in a KVP value too (an IPv6 line: addr + " ok 29999.999\n").
            Assert.All(requests, r => Assert.True("code 1\n".Length + r.Split(' ').Skip(3).Sum(a => a.Length + 14) <= KvpCommand.ValueBudget));
            // Still one exchange: all request items in one AddKvpItems call.
            Assert.Equal(1, net.Rig.Sim.Counters.Method("AddKvpItems"));
            Assert.Equal(1, net.Rig.Sim.Counters.Method("RemoveKvpItems"));
            for (int i = 0; i < targets.Count; i++)
                Assert.True(reachable.Contains(targets[i]) == results[i].Reachable, $"{targets[i]}: {results[i].Detail}");
        }

        [Fact]
        public void ProbeRequests_FitRequestAndWorstAnswer_IPv4AllowsMorePerRequestThanIPv6()
        {
            var v4 = Enumerable.Range(0, 200).Select(i => "10.200." + (i / 250).ToString(CultureInfo.InvariantCulture) + "." + (i % 250).ToString(CultureInfo.InvariantCulture)).ToList();
            var v6 = Enumerable.Range(0, 200).Select(i => "fd00:1234:5678:9abc:def0:1234:5678:" + i.ToString("x4", CultureInfo.InvariantCulture)).ToList();
            var r4 = KvpCommand.ProbeRequests(v4);
            var r6 = KvpCommand.ProbeRequests(v6);
            foreach (var (list, reqs) in new[] { (v4, r4), (v6, r6) })
            {
                Assert.Equal(list.Count, reqs.Sum(r => r.Count));
                Assert.Equal(Enumerable.Range(0, reqs.Count).Select(k => reqs.Take(k).Sum(r => r.Count)), reqs.Select(r => r.First));
                Assert.All(reqs, r => Assert.True(r.Request.Length <= KvpCommand.ValueBudget));
            }
            Assert.True(r4[0].Count > r6[0].Count, $"{r4[0].Count} IPv4 vs {r6[0].Count} IPv6 addresses per request");
            Assert.Single(KvpCommand.ProbeRequests(v4.Take(5).ToList()));
        }

        [Fact]
        public void ASilentGuest_GivesAClearTimeoutErrorNamingTheRouter()
        {
            using var net = new Net();
            net.Rig.Sim.GuestAgentReplies = (ctx, key, data) => null;
            var ex = Assert.Throws<VirtualNetworksException>(() => net.Rig.Backend.ProbeMany("a1", net.Owned["a2"], None));
            Assert.Equal(HyperVErrorIds.GuestNoAnswer, ex.ErrorId);
            Assert.Equal(ErrorKind.OperationTimeout, ex.Kind);
            Assert.Equal("a1", ex.TargetName);
            Assert.Contains("no answer from the guest agent of 'a1'", ex.Message);
            // The request items are removed afterwards.
            Assert.DoesNotContain(net.Rig.Sim.Guest("a1").HostItems.Keys, k => k.StartsWith(KvpConfig.ProbePrefix, StringComparison.Ordinal));
        }

        public static IEnumerable<object[]> Garbage() => new[]
        {
            new object[] { "hello", "not a KVP command answer" },
            new object[] { "code 0\n10.0.12.1 ok 0.4\n", "1 answer line(s) for 2 address(es)" },
            new object[] { "code 0\n10.0.12.1 ok 0.4\n10.0.99.1 ok 0.4\n", "does not answer for" },
            new object[] { "code 1\n10.0.12.1 maybe\nfd00:12::1 lost\n", "neither" },
            new object[] { "code 124\n", "time limit" },
            new object[] { "code 2 parts 0", "number of parts" },
        };

        [Theory]
        [MemberData(nameof(Garbage))]
        public void AGuestAnsweringGarbage_GivesAClearErrorNamingTheRouter(string answer, string expected)
        {
            using var net = new Net();
            net.Rig.Sim.GuestAgentReplies = (ctx, key, data) => new[] { new KeyValuePair<string, string>(key, answer) };
            var ex = Assert.Throws<VirtualNetworksException>(() => net.Rig.Backend.ProbeMany("a1", new[] { "10.0.12.1", "fd00:12::1" }, None));
            Assert.Equal(HyperVErrorIds.GuestAnswerInvalid, ex.ErrorId);
            Assert.Equal(ErrorKind.InvalidResult, ex.Kind);
            Assert.Equal("a1", ex.TargetName);
            Assert.Contains("'a1'", ex.Message);
            Assert.Contains(expected, ex.Message);
        }

        [Fact]
        public void AnAgentOlderThanBatchedProbes_GetsSingleProbes_WithTheSameResults()
        {
            using var net = new Net();
            var modern = net.Rig.Sim.GuestAgentReplies!;
            // The agent before this change: `ping` only, anything else "code 2 error bad probe request".
            net.Rig.Sim.GuestAgentReplies = (ctx, key, data) => data.StartsWith("ping ", StringComparison.Ordinal)
                ? modern(ctx, key, data)
                : new[] { new KeyValuePair<string, string>(key, "code 2 error bad probe request") };
            var targets = net.AllAddresses;
            var results = net.Rig.Backend.ProbeMany("a2", targets, None);
            Assert.Equal(targets.Select(t => net.Owned.Any(o => o.Key.StartsWith("a", StringComparison.Ordinal) && o.Value.Contains(t))), results.Select(r => r.Reachable));
        }

        [Fact]
        public void AnswersInParts_AreAssembled_AndIncompleteOnesWaitedFor()
        {
            var items = new Dictionary<string, string> { ["k"] = "code 0 parts 2", ["k-0"] = "route 10.0.0.0/31 - 00:15:5d:00:00:01 conn", ["k-1"] = "ected 0\n" };
            var a = KvpCommand.TryAnswer(items, "k")!;
            Assert.Equal(0, a.Code);
            Assert.Equal(new[] { "route 10.0.0.0/31 - 00:15:5d:00:00:01 connected 0" }, a.Lines);
            items.Remove("k-1");
            Assert.Null(KvpCommand.TryAnswer(items, "k"));
            Assert.Null(KvpCommand.TryAnswer(items, "missing"));
            Assert.Throws<FormatException>(() => KvpCommand.TryAnswer(new Dictionary<string, string> { ["k"] = "code 0 parts 2\nextra" }, "k"));
            var legacy = KvpCommand.TryAnswer(new Dictionary<string, string> { ["k"] = "code 2 error bad probe request" }, "k")!;
            Assert.True(KvpCommand.IsUnknownCommand(legacy));
            Assert.True(KvpCommand.IsUnknownCommand(KvpCommand.TryAnswer(new Dictionary<string, string> { ["k"] = "code 127\nunknown command 'x'\n" }, "k")!));
        }
    }
}
