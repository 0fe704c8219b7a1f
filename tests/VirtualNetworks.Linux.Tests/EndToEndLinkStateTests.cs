using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using VirtualNetworks.Backends;
using VirtualNetworks.Engine;
using VirtualNetworks.Linux.Net;
using VirtualNetworks.Linux.Vm;
using VirtualNetworks.Planning;
using VirtualNetworks.Topology;
using VirtualNetworks.Util;
using Xunit;
using Xunit.Abstractions;

namespace VirtualNetworks.Linux.Tests
{
    /// <summary>
    /// Disable-/Enable-VirtualLink on the Linux backend for real (issue 14): two lab hosts h1—h2, routers a and b on h1
    /// joined by one link (static routing, the current image). A pulled cable takes the carrier away in both guests and
    /// stops a ping; Up brings both back; a silent failure stops the ping while both guests keep their carrier. The state
    /// holds through a live migration of b to h2 and back (the link becomes a VXLAN link and a bridge link again), through
    /// a stop and start of b and a cold move, for a link hot-plugged disabled, and the record is written before anything is applied (a crash right after it is repaired by
    /// the next command). Two VMs (TCG).
    /// </summary>
    [Collection(EndToEndCollection.Name)]
    public sealed class EndToEndLinkStateTests : IDisposable
    {
        private readonly ITestOutputHelper _out;
        private readonly string _root = EndToEndHost.NewStateRoot();
        private readonly string _p = EndToEndHost.NewPrefix();
        private LinuxBackend? _backend;

        public EndToEndLinkStateTests(ITestOutputHelper output) => _out = output;

        private string H(int i) => _p + "-h" + i;
        private string A => _p + "-a";
        private string B => _p + "-b";
        private string L => _p + "-ab";
        private static CancellationToken None => CancellationToken.None;

        public void Dispose()
        {
            VirtualNetworks.Util.CrashPoint.Disarm();
            EndToEndHost.CleanUpOwn(_backend, _p, _root, new[] { H(1), H(2) }, _out);
        }

        private TopologySpec Topology() => new TopologySpec
        {
            Hosts = { new HostSpec { Name = H(1) }, new HostSpec { Name = H(2) } },
            PhysicalLinks = { new PhysicalLinkSpec { From = H(1), To = H(2) } },
            Routers =
            {
                new RouterSpec { Name = A, Host = H(1), Image = "router", MemoryMB = 96, NetworkLabel = _p },
                new RouterSpec { Name = B, Host = H(1), Image = "router", MemoryMB = 96, NetworkLabel = _p },
            },
            Links = { new LinkSpec { Name = L, From = A, To = B } },
        };

        private string AddressOf(string router) =>
            _backend!.Store.ReadRouter(router)!.Configuration!.Interfaces.Single(i => string.Equals(i.LinkName, L, StringComparison.OrdinalIgnoreCase)).Address.Split('/')[0];

        private void WaitReady(string router)
        {
            var r = _backend!.WaitUntilReady(router, TimeSpan.FromSeconds(120), None);
            Assert.True(r.Ready, router + " did not become ready: " + r.LastSeen);
        }

        private bool Ping() => _backend!.Probe(A, AddressOf(B), None).Reachable;

        /// <summary>Pings until one gets through (a guest may need a moment after its carrier came back).</summary>
        private bool PingsWithin(TimeSpan bound)
        {
            var clock = Stopwatch.StartNew();
            do
            {
                if (Ping()) return true;
            } while (clock.Elapsed < bound);
            return false;
        }

        private string GuestAdapter(string router, string? link = null) => GuestLinks.Adapter(_backend!, router, link ?? L, _out);

        private bool CarrierDown(string router, string? link = null) => GuestAdapter(router, link).Contains("NO-CARRIER", StringComparison.Ordinal);

        /// <summary>The carrier as the guest reports it, waited for (bounded) since QEMU tells the guest through an interrupt.</summary>
        private void AssertCarrier(string router, bool up, string when, string? link = null)
        {
            var clock = Stopwatch.StartNew();
            while (CarrierDown(router, link) == up && clock.Elapsed < TimeSpan.FromSeconds(10)) Thread.Sleep(300);
            Assert.True(CarrierDown(router, link) != up, $"{when}: {router}'s guest should see carrier {(up ? "up" : "down")}:\n{GuestAdapter(router, link)}");
        }

        private LinkState InventoryState() => _backend!.GetInventory(None).Links.Single(l => l.Name == L).State;

        private bool FilteredOn(string host, string router)
        {
            var tap = _backend!.Store.ReadLink(L)!.Taps[router];
            return new SilentDrop(new IpCommand(InterfaceNames.Namespace(host), TimeSpan.FromSeconds(10))).IsApplied(tap, None);
        }

        [EndToEndFact]
        public void Pulled_cable_and_silent_failure_stop_the_link_and_survive_migration_and_restart()
        {
            EndToEndHost.RequireReady();
            _backend = EndToEndHost.NewBackend(_root);
            var service = new VirtualNetworkService(_backend);
            var deploy = service.Apply(service.PlanDeployment(Topology(), false, None), new ApplyAllSteps(), None);
            Assert.True(deploy.Success, "deploy failed at " + deploy.Failed + ": " + deploy.Error);
            WaitReady(A);
            WaitReady(B);
            Assert.True(PingsWithin(TimeSpan.FromSeconds(20)), "a does not reach b before any link state change");
            Assert.Equal(LinkState.Up, InventoryState());
            AssertCarrier(A, up: true, "deployed");

            // Pulled cable: carrier down in both guests, nothing gets through.
            var clock = Stopwatch.StartNew();
            _backend.SetLinkState(L, LinkState.CablePulled, None);
            _out.WriteLine($"CablePulled applied in {clock.ElapsedMilliseconds} ms");
            Assert.Equal(LinkState.CablePulled, InventoryState());
            AssertCarrier(A, up: false, "cable pulled");
            AssertCarrier(B, up: false, "cable pulled");
            Assert.False(Ping(), "a reaches b through a pulled cable");

            // Up again.
            _backend.SetLinkState(L, LinkState.Up, None);
            Assert.Equal(LinkState.Up, InventoryState());
            AssertCarrier(A, up: true, "enabled");
            AssertCarrier(B, up: true, "enabled");
            Assert.True(PingsWithin(TimeSpan.FromSeconds(15)), "a does not reach b after the link was enabled again");

            // Silent: carrier stays up, frames dropped on the host.
            clock.Restart();
            _backend.SetLinkState(L, LinkState.Silent, None);
            _out.WriteLine($"Silent applied in {clock.ElapsedMilliseconds} ms");
            Assert.Equal(LinkState.Silent, InventoryState());
            Assert.False(Ping(), "a reaches b through a silently failed link");
            AssertCarrier(A, up: true, "silent failure");
            AssertCarrier(B, up: true, "silent failure");
            Assert.True(FilteredOn(H(1), A) && FilteredOn(H(1), B), "the taps carry no drop filter");

            // Live migration of b to h2: the link becomes a VXLAN link; b's new tap on h2 gets the filter before it forwards.
            _backend.MoveRouter(B, H(2), MigrationMode.Live, null, None);
            Assert.Equal(H(2), _backend.GetInventory(None).Routers.Single(r => r.Name == B).ComputerName);
            Assert.Equal(LinkState.Silent, InventoryState());
            Assert.True(FilteredOn(H(2), B), "b's tap on h2 carries no drop filter after the migration");
            Assert.False(Ping(), "a reaches b through the silently failed link after b moved to h2");
            AssertCarrier(B, up: true, "silent failure after the migration");

            // Pulled cable across hosts, then b back to h1 live: the destination resumes with carrier down.
            _backend.SetLinkState(L, LinkState.CablePulled, None);
            Assert.False(FilteredOn(H(2), B) || FilteredOn(H(1), A), "a pulled cable left a silent failure's filter behind");
            AssertCarrier(B, up: false, "cable pulled across hosts");
            _backend.MoveRouter(B, H(1), MigrationMode.Live, null, None);
            AssertCarrier(B, up: false, "cable pulled, after the migration back");
            AssertCarrier(A, up: false, "cable pulled, after b's migration back");
            Assert.False(Ping(), "a reaches b through a pulled cable after b moved back");

            // Stop and start of an end: a fresh QEMU has carrier; the start pulls the cable again.
            _backend.StopRouter(B, true, None);
            _backend.StartRouter(B, None);
            WaitReady(B);
            AssertCarrier(B, up: false, "cable pulled, after b's restart");
            Assert.False(Ping(), "a reaches b through a pulled cable after b restarted");

            // A cold move of an end (stop, rewire, start on the other host) keeps it pulled too.
            _backend.MoveRouter(B, H(2), MigrationMode.Cold, null, None);
            WaitReady(B);
            AssertCarrier(B, up: false, "cable pulled, after b's cold move to h2");
            Assert.False(Ping(), "a reaches b through a pulled cable after b's cold move");
            _backend.MoveRouter(B, H(1), MigrationMode.Cold, null, None);
            WaitReady(B);

            // Silent on a stopped end: the start wires its tap with the filter before QEMU runs.
            _backend.StopRouter(B, true, None);
            _backend.SetLinkState(L, LinkState.Silent, None);
            _backend.StartRouter(B, None);
            WaitReady(B);
            Assert.True(FilteredOn(H(1), B), "b's tap carries no drop filter after its start");
            AssertCarrier(B, up: true, "silent, after b's restart");
            Assert.False(Ping(), "a reaches b through a silently failed link after b restarted");

            _backend.SetLinkState(L, LinkState.Up, None);
            Assert.False(FilteredOn(H(1), A) || FilteredOn(H(1), B), "Up left a drop filter behind");
            Assert.True(PingsWithin(TimeSpan.FromSeconds(15)), "a does not reach b after the link was enabled at the end");

            // Intent first: the link record is the first thing written, before any QMP command or tc run ...
            var plan = VirtualNetworks.Util.CrashPoint.Arm(0);
            _backend.SetLinkState(L, LinkState.CablePulled, None);
            VirtualNetworks.Util.CrashPoint.Disarm();
            var trace = plan.Trace;
            _out.WriteLine("boundaries of SetLinkState(CablePulled): " + string.Join(" | ", trace));
            int written = trace.ToList().FindIndex(t => t.StartsWith("write ", StringComparison.Ordinal) && t.EndsWith("/links/" + L + ".json", StringComparison.Ordinal));
            Assert.True(written >= 0, "the link record was not written");
            int firstApply = trace.ToList().FindIndex(t => t.StartsWith("qmp set_link", StringComparison.Ordinal) || t.StartsWith("run tc", StringComparison.Ordinal));
            Assert.True(firstApply > written, $"something was applied (boundary {firstApply}) before the link record was written (boundary {written})");
            AssertCarrier(A, up: false, "cable pulled (traced)");
            _backend.SetLinkState(L, LinkState.Up, None);
            AssertCarrier(A, up: true, "enabled (traced)");

            // ... so a command killed right after it leaves a record the next command applies (here: Start-VirtualRouter of a running end).
            VirtualNetworks.Util.CrashPoint.Arm(written + 2); // the boundary right after the record write
            var crash = Record.Exception(() => _backend.SetLinkState(L, LinkState.CablePulled, None));
            VirtualNetworks.Util.CrashPoint.Disarm();
            Assert.True(crash is SimulatedCrashException, "expected the simulated crash, got " + crash);
            Assert.Equal(LinkState.CablePulled, _backend.Store.ReadLink(L)!.State);
            Assert.False(CarrierDown(A), "the crash came before the cable was pulled, yet a's carrier is down");
            var next = new LinuxBackend(new BackendRequest { Options = new Dictionary<string, object?> { [LinuxBackend.StateDirectoryOption] = _root } });
            next.StartRouter(A, None);
            AssertCarrier(A, up: false, "after the next command reconciled the crashed Disable");
            AssertCarrier(B, up: false, "after the next command reconciled the crashed Disable (the other end)");

            // Removing a disabled link works as usual.
            _backend.RemoveLink(L, None);
            Assert.DoesNotContain(_backend.GetInventory(None).Links, l => l.Name == L);

            // A link created disabled between running routers: hot-plugged with its cable already pulled.
            string l2 = _p + "-ab2";
            _backend.CreateLink(new LinkSpec { Name = l2, From = A, To = B, State = LinkState.CablePulled }, None);
            Assert.Equal(LinkState.CablePulled, _backend.GetInventory(None).Links.Single(l => l.Name == l2).State);
            // The guest shows a carrier only on adapters it brought up: give both ends an address there.
            foreach (var (router, peer, own) in new[] { (A, B, "10.254.99.0"), (B, A, "10.254.99.1") })
            {
                var cfg = _backend.Store.ReadRouter(router)!.Configuration!;
                cfg.Interfaces.RemoveAll(i => string.Equals(i.LinkName, L, StringComparison.OrdinalIgnoreCase)); // removed above
                cfg.Routes.RemoveAll(r => string.Equals(r.LinkName, L, StringComparison.OrdinalIgnoreCase));
                cfg.Interfaces.Add(new InterfaceConfiguration { LinkName = l2, Address = own + "/31", PeerRouter = peer, PeerAddress = own == "10.254.99.0" ? "10.254.99.1" : "10.254.99.0" });
                _backend.ConfigureRouter(cfg, None);
            }
            AssertCarrier(A, up: false, "hot-plugged with the cable pulled", l2);
            AssertCarrier(B, up: false, "hot-plugged with the cable pulled", l2);
            _backend.SetLinkState(l2, LinkState.Up, None);
            AssertCarrier(A, up: true, "hot-plugged link enabled", l2);
            _backend.RemoveLink(l2, None);
            _backend.RemoveRouter(A, None);
            _backend.RemoveRouter(B, None);
        }
    }
}
