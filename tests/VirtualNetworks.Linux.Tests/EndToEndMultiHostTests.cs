using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading;
using VirtualNetworks.Backends;
using VirtualNetworks.Engine;
using VirtualNetworks.Linux.Net;
using VirtualNetworks.Linux.State;
using VirtualNetworks.Planning;
using VirtualNetworks.Topology;
using Xunit;
using Xunit.Abstractions;

namespace VirtualNetworks.Linux.Tests
{
    /// <summary>
    /// Several hosts for real: three lab hosts in a chain h1—h2—h3, a router on h1 and one on h3 joined by a virtual link
    /// whose VXLAN tunnel crosses two physical hops, deployed and removed through <see cref="VirtualNetworkService"/>
    /// with the real Linux backend and QEMU (TCG). Two VMs: about 10 s of the CI's time.
    /// </summary>
    [Collection(EndToEndCollection.Name)]
    public sealed class EndToEndMultiHostTests : IDisposable
    {
        private readonly ITestOutputHelper _out;
        private readonly string _root = EndToEndHost.NewStateRoot();
        private readonly string _p = EndToEndHost.NewPrefix();
        private LinuxBackend? _backend;

        public EndToEndMultiHostTests(ITestOutputHelper output) => _out = output;

        private string H(int i) => _p + "-h" + i;

        public void Dispose() => EndToEndHost.CleanUpOwn(_backend, _p, _root, new[] { H(1), H(2), H(3) }, _out);

        private TopologySpec Topology() => new TopologySpec
        {
            Hosts = { new HostSpec { Name = H(1) }, new HostSpec { Name = H(2) }, new HostSpec { Name = H(3) } },
            PhysicalLinks = { new PhysicalLinkSpec { From = H(1), To = H(2) }, new PhysicalLinkSpec { From = H(2), To = H(3) } },
            Routers =
            {
                new RouterSpec { Name = _p + "-r1", Host = H(1), Image = "router", MemoryMB = 128, NetworkLabel = _p },
                new RouterSpec { Name = _p + "-r3", Host = H(3), Image = "router", MemoryMB = 128, NetworkLabel = _p },
            },
            Links = { new LinkSpec { Name = _p + "-l13", From = _p + "-r1", To = _p + "-r3", MaximumBandwidth = 20_000_000 } },
        };

        [EndToEndFact]
        public void Two_hop_vxlan_link_between_routers_on_lab_hosts_deploys_pings_shapes_and_leaves_nothing()
        {
            _backend = EndToEndHost.NewBackend(_root);
            using var service = new VirtualNetworkService(_backend);
            var clock = Stopwatch.StartNew();

            var plan = service.PlanDeployment(Topology(), false, CancellationToken.None);
            var result = service.Apply(plan, new ApplyAllSteps(_out), CancellationToken.None);
            Assert.True(result.Success, "deploy failed at " + result.Failed + ": " + result.Error);
            _out.WriteLine("deployed in " + clock.ElapsedMilliseconds + " ms");

            string r1 = _p + "-r1", r3 = _p + "-r3", link = _p + "-l13";
            var inv = _backend.GetInventory(CancellationToken.None);
            Assert.Equal(H(1), inv.Routers.Single(r => r.Name == r1).ComputerName);
            Assert.Equal(H(3), inv.Routers.Single(r => r.Name == r3).ComputerName);
            var l = inv.Links.Single(x => x.Name == link);
            Assert.Equal(LinkTransport.Vxlan, l.Transport);
            Assert.NotNull(l.TunnelId);
            Assert.Equal(new[] { H(1), H(2), H(3) }, l.UnderlayPath);
            Assert.Null(l.Status);
            Assert.Equal(3, inv.Hosts.Count(h => h.IsLabHost && h.CreatedByDeployment));

            // The guests are told the tunnel MTU; the taps carry the limit (in their hosts' namespaces).
            var rec1 = _backend.Store.ReadRouter(r1)!;
            Assert.Contains("mtu " + rec1.Macs[link] + " 1450", rec1.ConfigText);
            var ns1 = new IpCommand(InterfaceNames.Namespace(H(1)));
            var tap1 = InterfaceNames.Tap(r1, link);
            Assert.Equal(1450, ns1.GetLink(tap1)!.Mtu);
            var tbf = new TrafficShaper(ns1).GetRoot(tap1);
            Assert.True(tbf?.IsOurs, "tbf on " + tap1);
            Assert.Equal(20_000_000, tbf!.RateBitsPerSecond);

            // A ping from r1 to r3 through the guest channel: VXLAN over h1 -> h2 -> h3.
            var r3Address = inv.Configurations[r3].Interfaces.Single().Address.Split('/')[0];
            var probe = _backend.Probe(r1, r3Address, CancellationToken.None);
            Assert.True(probe.Reachable, "r1 -> r3 (" + r3Address + "): " + probe.Detail);
            _out.WriteLine("ping r1 -> r3: " + probe.RoundTripMilliseconds + " ms");

            // A bandwidth change in place on both taps, in two namespaces.
            service.SetLinkBandwidth(link, 10_000_000, CancellationToken.None);
            Assert.Equal(10_000_000, new TrafficShaper(new IpCommand(InterfaceNames.Namespace(H(3)))).GetRoot(InterfaceNames.Tap(r3, link))!.RateBitsPerSecond);
            Assert.Empty(_backend.FindOrphans(false, CancellationToken.None));

            // Removal through the engine: routers, the link, and the lab hosts the deployment created.
            var snapshot = service.Observe(CancellationToken.None);
            var removal = service.PlanRemoval(snapshot, snapshot.Networks.ToList());
            var removed = service.Apply(removal, new ApplyAllSteps(_out), CancellationToken.None);
            Assert.True(removed.Success, "removal failed at " + removed.Failed + ": " + removed.Error);
            _out.WriteLine("deploy + checks + removal in " + clock.ElapsedMilliseconds + " ms");

            foreach (var i in new[] { 1, 2, 3 }) Assert.False(LabNetwork.NamespaceExists(InterfaceNames.Namespace(H(i))), "namespace of " + H(i));
            Assert.DoesNotContain(EndToEndHost.TaggedInterfaces().Values, a => a.Contains(_p));
            Assert.DoesNotContain(new IpCommand().ListOwnedRoutes().Keys, LabNetwork.IsUnderlayHostRoute);
            Assert.Empty(_backend.Store.ListHosts());
            Assert.Empty(_backend.Store.ListPhysicalLinks());
            Assert.DoesNotContain(_backend.FindOrphans(true, CancellationToken.None), o => o.Kind != OrphanKind.StateFile);
        }
    }
}
