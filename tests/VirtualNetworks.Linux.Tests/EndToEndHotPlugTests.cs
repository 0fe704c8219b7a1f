using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using VirtualNetworks.Backends;
using VirtualNetworks.Engine;
using VirtualNetworks.Linux.Vm;
using VirtualNetworks.Planning;
using VirtualNetworks.Topology;
using Xunit;
using Xunit.Abstractions;

namespace VirtualNetworks.Linux.Tests
{
    /// <summary>
    /// A link added to (and removed from) routers while they run, through <see cref="VirtualNetworkService"/> with the real
    /// backend and QEMU: the adapter is hot-plugged (QMP device_add), the guest kernel must see the new NIC (ACPI PCI
    /// hotplug) and the link must carry traffic; removing the link unplugs it again. Three routers on this machine.
    /// </summary>
    [Collection(EndToEndCollection.Name)]
    public sealed class EndToEndHotPlugTests : IDisposable
    {
        private readonly ITestOutputHelper _out;
        private readonly string _root = EndToEndHost.NewStateRoot();
        private readonly string _p = EndToEndHost.NewPrefix();
        private LinuxBackend? _backend;

        public EndToEndHotPlugTests(ITestOutputHelper output) => _out = output;

        public void Dispose() => EndToEndHost.CleanUpOwn(_backend, _p, _root, Array.Empty<string>(), _out);

        private string R(int i) => _p + "-r" + i;

        private string AddressOn(string router, string link) =>
            _backend!.Store.ReadRouter(router)!.Configuration!.Interfaces
                .Single(i => string.Equals(i.LinkName, link, StringComparison.OrdinalIgnoreCase)).Address.Split('/')[0];

        private GuestChannel Channel(string router) => new GuestChannel(_backend!.Store.RunPaths(router).ChannelSocket, router);

        /// <summary>Waits up to 20 s for the guest's interfaces (<c>ip link</c> in its <c>show</c>) to include (or no longer include) <paramref name="mac"/>.</summary>
        private bool GuestShows(string router, string mac, bool present)
        {
            var until = DateTime.UtcNow.AddSeconds(20);
            while (true)
            {
                bool has = LinuxBackend.GuestLinks(Channel(router).Show()).Contains(mac, StringComparison.OrdinalIgnoreCase);
                if (has == present) return true;
                if (DateTime.UtcNow > until) return false;
                Thread.Sleep(250);
            }
        }

        private bool Reachable(string from, string address)
        {
            // The guest applies the new configuration when the NIC appears: allow it a few seconds.
            var until = DateTime.UtcNow.AddSeconds(20);
            while (true)
            {
                if (_backend!.Probe(from, address, CancellationToken.None).Reachable) return true;
                if (DateTime.UtcNow > until) return false;
                Thread.Sleep(250);
            }
        }

        [EndToEndFact]
        public void A_link_added_to_running_routers_is_hot_plugged_carries_traffic_and_is_unplugged_when_removed()
        {
            _backend = EndToEndHost.NewBackend(_root);
            using var service = new VirtualNetworkService(_backend);
            var topology = new TopologySpec
            {
                Routers = { new RouterSpec { Name = R(1), Image = "router", MemoryMB = 128, NetworkLabel = _p }, new RouterSpec { Name = R(2), Image = "router", MemoryMB = 128, NetworkLabel = _p } },
                Links = { new LinkSpec { Name = _p + "-l12", From = R(1), To = R(2) } },
            };
            var deployed = service.Apply(service.PlanDeployment(topology, false, CancellationToken.None), new ApplyAllSteps(), CancellationToken.None);
            Assert.True(deployed.Success, "deploy failed at " + deployed.Failed + ": " + deployed.Error);
            var uptime = Channel(R(1)).WaitReady(TimeSpan.FromSeconds(60)).UptimeMilliseconds;
            Channel(R(2)).WaitReady(TimeSpan.FromSeconds(60));

            // ---- A second link between the running routers: hot-plugged on both, configured, carries traffic.
            string extra = _p + "-lx";
            var sw = System.Diagnostics.Stopwatch.StartNew();
            var link = service.NewLink(new LinkSpec { Name = extra, From = R(1), To = R(2), MaximumBandwidth = 10_000_000 }, false, CancellationToken.None);
            _out.WriteLine($"New-VirtualLink on two running routers (hot-plug, guests list the NIC, reconfigure): {sw.ElapsedMilliseconds} ms");
            Assert.Equal(extra, link.Name);
            foreach (var r in new[] { R(1), R(2) })
            {
                var rec = _backend.Store.ReadRouter(r)!;
                Assert.True(rec.AdaptersChanged);
                var mac = rec.Macs[extra];
                Assert.True(GuestShows(r, mac, true), r + "'s guest never saw the hot-plugged NIC " + mac + ":\n" + Channel(r).Show());
            }
            string r2OnExtra = AddressOn(R(2), extra);
            Assert.True(Reachable(R(1), r2OnExtra), "r1 -> r2 over the hot-plugged link (" + r2OnExtra + ")");
            Assert.True(Channel(R(1)).WaitReady(TimeSpan.FromSeconds(10)).UptimeMilliseconds > uptime, "r1 rebooted");

            // ---- Removed again while they run: unplugged from both guests, the first link still works.
            var macs = new[] { R(1), R(2) }.ToDictionary(r => r, r => _backend.Store.ReadRouter(r)!.Macs[extra]);
            sw.Restart();
            service.RemoveLink(extra, CancellationToken.None);
            _out.WriteLine($"Remove-VirtualLink (unplug, DEVICE_DELETED, reconfigure): {sw.ElapsedMilliseconds} ms");
            foreach (var r in new[] { R(1), R(2) })
                Assert.True(GuestShows(r, macs[r], false), r + "'s guest still shows the unplugged NIC " + macs[r] + ":\n" + Channel(r).Show());
            Assert.True(Reachable(R(1), AddressOn(R(2), _p + "-l12")), "r1 -> r2 over the first link after the removal");

            var snapshot = service.Observe(CancellationToken.None);
            var removed = service.Apply(service.PlanRemoval(snapshot, snapshot.Networks.ToList()), new ApplyAllSteps(), CancellationToken.None);
            Assert.True(removed.Success, "removal failed at " + removed.Failed + ": " + removed.Error);
        }
    }
}
