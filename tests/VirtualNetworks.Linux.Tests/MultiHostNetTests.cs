using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using Newtonsoft.Json.Linq;
using VirtualNetworks.Backends;
using VirtualNetworks.Linux.Net;
using VirtualNetworks.Linux.State;
using VirtualNetworks.Topology;
using VirtualNetworks.Util;
using Xunit;
using Xunit.Abstractions;

namespace VirtualNetworks.Linux.Tests
{
    /// <summary>
    /// Lab hosts, physical links, underlay routing and VXLAN wiring of the Linux backend on the real kernel (no VMs):
    /// each test uses its own state directory and host names, and leaves nothing tagged behind.
    /// </summary>
    [Collection(NetHostCollection.Name)]
    public sealed class MultiHostNetTests : IDisposable
    {
        private readonly ITestOutputHelper _out;
        private readonly string _root = Path.Combine("/tmp", "vnmh-" + NetTestHost.Suffix(8));
        private readonly string _s = NetTestHost.Suffix(5);
        private LinuxBackend? _backend;

        public MultiHostNetTests(ITestOutputHelper output) => _out = output;

        private LinuxBackend Backend()
        {
            NetTestHost.RequireRoot();
            return _backend ??= new LinuxBackend(new BackendRequest
            {
                Options = new Dictionary<string, object?> { [LinuxBackend.StateDirectoryOption] = _root },
            });
        }

        private string H(int i) => "mh" + _s + "-h" + i;

        public void Dispose()
        {
            if (_backend != null)
            {
                try
                {
                    // Only this test's things (its host names, its state directory): never another run's lab.
                    foreach (var o in _backend.FindOrphans(true, CancellationToken.None).Where(o =>
                                 (o.Owner != null && o.Owner.StartsWith("mh" + _s + "-", StringComparison.OrdinalIgnoreCase)) ||
                                 o.Name.StartsWith(_root + "/", StringComparison.Ordinal) || o.Name.Contains("mh" + _s + "-")))
                    {
                        try { _backend.RemoveOrphan(o, CancellationToken.None); }
                        catch (Exception ex) { _out.WriteLine("clean-up " + o + ": " + ex.Message); }
                    }
                }
                catch (Exception ex)
                {
                    _out.WriteLine("orphan scan: " + ex.Message);
                }
                foreach (var i in new[] { 1, 2, 3 })
                    NetTestHost.RunQuietly("ip", "netns", "del", InterfaceNames.Namespace(H(i)));
            }
            try { Directory.Delete(_root, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }

        private void Chain()
        {
            var b = Backend();
            foreach (var i in new[] { 1, 2, 3 }) b.CreateLabHost(H(i), true, CancellationToken.None);
            b.CreatePhysicalLink(new PhysicalLinkSpec { From = H(1), To = H(2) }, CancellationToken.None);
            b.CreatePhysicalLink(new PhysicalLinkSpec { From = H(2), To = H(3) }, CancellationToken.None);
        }

        private static string UnderlayOf(BackendInventory inv, string host) => inv.Hosts.Single(h => h.Name == host).UnderlayAddress!;

        /// <summary>A TCP connection from <paramref name="fromNs"/> (bound to <paramref name="fromAddress"/>) to a listener in <paramref name="toNs"/>.</summary>
        private static bool TcpWorks(string? fromNs, string fromAddress, string? toNs, string toAddress)
        {
            static T In<T>(string? ns, Func<T> f) => ns == null ? f() : Netns.RunIn(ns, f);
            var listener = In(toNs, () =>
            {
                var l = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                l.Bind(new IPEndPoint(IPAddress.Parse(toAddress), 0));
                l.Listen(1);
                return l;
            });
            using (listener)
            {
                int port = ((IPEndPoint)listener.LocalEndPoint!).Port;
                var accept = listener.AcceptAsync();
                bool ok = In(fromNs, () =>
                {
                    using var c = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    c.Bind(new IPEndPoint(IPAddress.Parse(fromAddress), 0));
                    var t = c.ConnectAsync(new IPEndPoint(IPAddress.Parse(toAddress), port));
                    if (!t.Wait(TimeSpan.FromSeconds(5))) return false;
                    c.Send(new byte[] { 42 });
                    return true;
                });
                if (!ok || !accept.Wait(TimeSpan.FromSeconds(5))) return false;
                using var s = accept.Result;
                var buf = new byte[1];
                s.ReceiveTimeout = 5000;
                return s.Receive(buf) == 1 && buf[0] == 42;
            }
        }

        private static string Ip(string ns, params string[] args)
        {
            var all = new List<string> { "-netns", ns };
            all.AddRange(args);
            return NetTestHost.Run("ip", all.ToArray()).StdOut;
        }

        [RootFact]
        public void Lab_hosts_are_tagged_namespaces_with_forwarding_and_an_underlay_address()
        {
            var b = Backend();
            b.CreateLabHost(H(1), true, CancellationToken.None);
            b.CreateLabHost(H(1), true, CancellationToken.None); // idempotent
            var ns = InterfaceNames.Namespace(H(1));
            Assert.Matches("^vnh-[0-9a-f]{10}$", ns);
            Assert.True(LabNetwork.NamespaceExists(ns));
            Assert.Equal(H(1), LabNetwork.OwnerOfNamespace(ns, b.Store.StateId, CancellationToken.None));
            var anchor = new IpCommand(ns).GetLink(InterfaceNames.Anchor(H(1)))!;
            Assert.Equal("virtualnetworks:v2:" + b.Store.StateId + ":host:" + H(1), anchor.Alias);
            Assert.Null(LabNetwork.OwnerOfNamespace(ns, "0ther1d0", CancellationToken.None)); // another state directory's view
            var inv = b.GetInventory(CancellationToken.None);
            var host = inv.Hosts.Single(h => h.Name == H(1));
            Assert.True(host.IsLabHost);
            Assert.True(host.CreatedByDeployment);
            Assert.StartsWith("198.19.255.", host.UnderlayAddress);
            Assert.Null(host.Status);
            Assert.Contains(inv.Hosts, h => !h.IsLabHost && h.Name == HostNames.LocalName);
            Assert.Contains(host.UnderlayAddress + "/32", new IpCommand(ns).ListAddresses(anchor.Name));
            var fw = NetTestHost.Run("ip", "netns", "exec", ns, "sysctl", "-n", "net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding").StdOut;
            Assert.Equal("1\n1", fw.Trim());
            var rmem = NetTestHost.Run("ip", "netns", "exec", ns, "sysctl", "-n", "net.ipv4.tcp_rmem").StdOut;
            Assert.Equal(LabNetwork.UnderlayTcpReceiveBuffer.Split(' '), rmem.Split(new[] { ' ', '\t', '\n' }, StringSplitOptions.RemoveEmptyEntries));
            var wmem = NetTestHost.Run("ip", "netns", "exec", ns, "sysctl", "-n", "net.ipv4.tcp_wmem").StdOut;
            Assert.Equal(LabNetwork.UnderlayTcpSendBuffer.Split(' '), wmem.Split(new[] { ' ', '\t', '\n' }, StringSplitOptions.RemoveEmptyEntries));

            // The backend accepts the lab host as a ComputerName; an unknown one is HostNotFound.
            using (new LinuxBackend(new BackendRequest { ComputerName = new[] { H(1) }, Options = new Dictionary<string, object?> { ["StateDirectory"] = _root } })) { }
            var ex = Assert.Throws<VirtualNetworksException>(() => new LinuxBackend(new BackendRequest
            {
                ComputerName = new[] { "nosuch" + _s }, Options = new Dictionary<string, object?> { ["StateDirectory"] = _root },
            }));
            Assert.Equal(ErrorIds.HostNotFound, ex.ErrorId);

            // Drift: the namespace deleted behind the module's back shows as the host's status; re-creating repairs it.
            NetTestHost.Run("ip", "netns", "del", ns);
            Assert.Contains("missing", b.GetInventory(CancellationToken.None).Hosts.Single(h => h.Name == H(1)).Status);
            b.CreateLabHost(H(1), true, CancellationToken.None);
            Assert.Null(b.GetInventory(CancellationToken.None).Hosts.Single(h => h.Name == H(1)).Status);

            b.RemoveLabHost(H(1), CancellationToken.None);
            Assert.False(LabNetwork.NamespaceExists(ns));
            Assert.DoesNotContain(b.GetInventory(CancellationToken.None).Hosts, h => h.Name == H(1));
        }

        /// <summary>
        /// What a create killed between a veth and its address leaves (issue 11, defect 5): h2's end towards h3 has no /31 and
        /// h2 has no route to h3 (it was never installed). Returns h2's device and address.
        /// </summary>
        private (string Device, string Address) HalfMadeUnderlay(LinuxBackend b)
        {
            var pl = b.Store.ListPhysicalLinks().Single(p => p.Name == PhysicalLink.NameOf(H(2), H(3)));
            bool h2IsFrom = string.Equals(pl.From, H(2), StringComparison.OrdinalIgnoreCase);
            var (dev, address) = h2IsFrom ? (pl.FromDevice, pl.FromAddress) : (pl.ToDevice, pl.ToAddress);
            var ns2 = InterfaceNames.Namespace(H(2));
            Assert.True(NetTestHost.Run("ip", "-n", ns2, "addr", "del", address, "dev", dev).Succeeded);
            NetTestHost.RunQuietly("ip", "-n", ns2, "route", "del", b.Store.ReadHost(H(3))!.UnderlayAddress + "/32", "proto", "118");
            return (dev, address);
        }

        [RootFact]
        public void Removal_finishes_over_a_half_made_underlay()
        {
            Chain();
            var b = Backend();
            HalfMadeUnderlay(b);
            // Removing h1--h2 re-applies the routes of the hosts left: h2's route to h3 cannot go over a veth without its
            // address ("Nexthop has invalid gateway" before the fix); the removal must finish all the same.
            b.RemovePhysicalLink(H(1), H(2), CancellationToken.None);
            foreach (var i in new[] { 1, 2, 3 }) b.RemoveLabHost(H(i), CancellationToken.None);
            Assert.Empty(b.Store.ListHosts());
            Assert.Empty(b.Store.ListPhysicalLinks());
            foreach (var i in new[] { 1, 2, 3 }) Assert.False(LabNetwork.NamespaceExists(InterfaceNames.Namespace(H(i))));
        }

        [RootFact]
        public void A_half_made_underlay_is_seen_as_drift_and_repaired_before_a_router_starts_on_the_host()
        {
            Chain();
            var b = Backend();
            var (dev, address) = HalfMadeUnderlay(b);
            var h3 = b.Store.ReadHost(H(3))!.UnderlayAddress;
            var inv = b.GetInventory(CancellationToken.None);
            var link = inv.PhysicalLinks.Single(p => p.Name == PhysicalLink.NameOf(H(2), H(3)));
            Assert.Contains(dev + " in " + H(2) + " lacks its address " + address, link.Status);
            Assert.Contains("underlay route to " + h3 + "/32 is missing", inv.Hosts.Single(h => h.Name == H(2)).Status);
            Assert.Null(inv.Hosts.Single(h => h.Name == H(1)).Status);
            bool broken;
            try { broken = !TcpWorks(InterfaceNames.Namespace(H(1)), UnderlayOf(inv, H(1)), InterfaceNames.Namespace(H(3)), h3); }
            catch (InvalidOperationException) { broken = true; } // "Network is unreachable" on the way back
            Assert.True(broken, "h1 -> h3 works over the half-made underlay: the test breaks nothing");

            // The settings of a namespace are part of the check too.
            NetTestHost.Run("ip", "netns", "exec", InterfaceNames.Namespace(H(3)), "sysctl", "-q", "-w", "net.ipv4.ip_forward=0");
            Assert.Contains("net.ipv4.ip_forward is 0 (wants 1)", b.Lab.Inspect(null, CancellationToken.None).HostStatus(H(3)));

            // What a router start (or a move) runs first: the host's underlay checked and repaired.
            var found = b.Lab.Repair(new[] { H(2), H(3) }, CancellationToken.None);
            Assert.NotEmpty(found);
            Assert.False(b.Lab.Inspect(null, CancellationToken.None).Any, "drift left after the repair");
            Assert.Contains(address, new IpCommand(InterfaceNames.Namespace(H(2))).ListAddresses(dev));
            inv = b.GetInventory(CancellationToken.None);
            Assert.All(inv.Hosts, h => Assert.Null(h.Status));
            Assert.All(inv.PhysicalLinks, p => Assert.Null(p.Status));
            Assert.True(TcpWorks(InterfaceNames.Namespace(H(1)), UnderlayOf(inv, H(1)), InterfaceNames.Namespace(H(3)), h3), "h1 -> h3 after the repair");
        }

        [RootFact]
        public void A_lab_host_an_interrupted_create_left_without_its_anchor_is_removed_but_a_namespace_in_use_is_not()
        {
            var b = Backend();
            b.CreateLabHost(H(1), true, CancellationToken.None);
            var ns = InterfaceNames.Namespace(H(1));
            // What a create killed right after "ip netns add" leaves: the record (written first) and an empty namespace.
            Assert.True(NetTestHost.Run("ip", "-n", ns, "link", "del", InterfaceNames.Anchor(H(1))).Succeeded);
            Assert.Contains("underlay anchor " + InterfaceNames.Anchor(H(1)) + " is missing", b.Lab.Inspect(null, CancellationToken.None).HostStatus(H(1)));
            // Something in it that is not ours: left alone.
            Assert.True(NetTestHost.Run("ip", "-n", ns, "link", "add", "foreign0", "type", "bridge").Succeeded);
            Assert.Throws<VirtualNetworksException>(() => b.RemoveLabHost(H(1), CancellationToken.None));
            Assert.True(LabNetwork.NamespaceExists(ns));
            NetTestHost.Run("ip", "-n", ns, "link", "del", "foreign0");
            b.RemoveLabHost(H(1), CancellationToken.None);
            Assert.False(LabNetwork.NamespaceExists(ns));
            Assert.Null(b.Store.ReadHost(H(1)));
        }

        [RootFact]
        public void A_deploy_records_its_networks_on_the_lab_host_before_creating_it_and_adds_later_ones()
        {
            var b = Backend();
            b.CreateLabHost(H(1), true, new[] { "x" }, CancellationToken.None);
            Assert.Equal(new[] { "x" }, b.Store.ReadHost(H(1))!.DeployedFor);
            b.CreateLabHost(H(1), false, new[] { "y", "X" }, CancellationToken.None);
            var rec = b.Store.ReadHost(H(1))!;
            Assert.Equal(new[] { "x", "y" }, rec.DeployedFor);
            Assert.True(rec.CreatedByDeployment); // an existing host keeps how it was made
            Assert.Equal(new[] { "x", "y" }, b.GetInventory(CancellationToken.None).Hosts.Single(h => h.Name == H(1)).DeployedFor);
            Assert.Equal(ErrorIds.InvalidName, Assert.Throws<VirtualNetworksException>(() => b.CreateLabHost(H(1), true, new[] { "bad;name" }, CancellationToken.None)).ErrorId);
        }

        [RootFact]
        public void An_untagged_namespace_of_the_same_name_is_never_touched()
        {
            var b = Backend();
            var ns = InterfaceNames.Namespace(H(2));
            NetTestHost.Run("ip", "netns", "add", ns);
            try
            {
                var ex = Assert.Throws<VirtualNetworksException>(() => b.CreateLabHost(H(2), false, CancellationToken.None));
                Assert.Contains("left alone", ex.Message);
                Assert.DoesNotContain(b.FindOrphans(true, CancellationToken.None), o => o.Name.Contains(ns));
                Assert.True(LabNetwork.NamespaceExists(ns));
            }
            finally
            {
                NetTestHost.RunQuietly("ip", "netns", "del", ns);
            }
        }

        [RootFact]
        public void Chain_of_three_hosts_routes_between_non_adjacent_hosts_via_the_middle_one()
        {
            Chain();
            var b = Backend();
            var inv = b.GetInventory(CancellationToken.None);
            Assert.Equal(2, inv.PhysicalLinks.Count);
            Assert.All(inv.PhysicalLinks, p => Assert.Null(p.Status));
            var p12 = inv.PhysicalLinks.Single(p => p.Name == PhysicalLink.NameOf(H(1), H(2)));
            Assert.EndsWith("/31", p12.FromAddress);
            Assert.StartsWith("198.19.", p12.FromAddress);
            Assert.Equal(new[] { H(1), H(3) }, inv.Hosts.Single(h => h.Name == H(2)).Neighbors.OrderBy(x => x));

            string ns1 = InterfaceNames.Namespace(H(1)), ns2 = InterfaceNames.Namespace(H(2)), ns3 = InterfaceNames.Namespace(H(3));
            string a1 = UnderlayOf(inv, H(1)), a2 = UnderlayOf(inv, H(2)), a3 = UnderlayOf(inv, H(3));
            // h1 reaches h3's /32 through h2 (the next hop is h2's end of the h1--h2 veth), marked proto 118.
            var routes = new IpCommand(ns1).ListOwnedRoutes();
            Assert.Equal(p12.ToAddress!.Split('/')[0], routes[a3 + "/32"].Via);
            Assert.Equal(a1, routes[a3 + "/32"].Source);
            Assert.Equal(new[] { H(1), H(2), H(3) }, b.Lab.UnderlayPath(H(1), H(3)));
            Assert.True(TcpWorks(ns1, a1, ns3, a3), "h1 -> h3 over two hops");
            Assert.True(TcpWorks(ns3, a3, ns1, a1), "h3 -> h1 over two hops");
            Assert.True(TcpWorks(ns2, a2, ns1, a1), "h2 -> h1");

            // Recomputed on change: a direct h1--h3 link makes the route direct; removing it restores the two-hop path.
            b.CreatePhysicalLink(new PhysicalLinkSpec { From = H(3), To = H(1) }, CancellationToken.None);
            Assert.Equal(new[] { H(1), H(3) }, b.Lab.UnderlayPath(H(1), H(3)));
            Assert.Equal(InterfaceNames.Veth(H(1), H(3)), new IpCommand(ns1).ListOwnedRoutes()[a3 + "/32"].Device);
            b.RemovePhysicalLink(H(1), H(3), CancellationToken.None);
            Assert.Equal(InterfaceNames.Veth(H(1), H(2)), new IpCommand(ns1).ListOwnedRoutes()[a3 + "/32"].Device);
            Assert.True(TcpWorks(ns1, a1, ns3, a3));

            // Nothing unused is reported as an orphan while everything is recorded.
            Assert.Empty(b.FindOrphans(false, CancellationToken.None));

            // Removing the middle host takes its physical links and the routes through it.
            b.RemoveLabHost(H(2), CancellationToken.None);
            Assert.Empty(new IpCommand(ns1).ListOwnedRoutes());
            Assert.Empty(b.GetInventory(CancellationToken.None).PhysicalLinks);
        }

        [RootFact]
        public void Vxlan_link_between_hosts_two_hops_apart_and_rewired_to_another_host()
        {
            Chain();
            var b = Backend();
            string r1 = "mr" + _s + "a", r3 = "mr" + _s + "b", link = "ml" + _s;
            b.Store.WriteRouter(new RouterRecord { Name = r1, Host = H(1), Image = "router" });
            b.Store.WriteRouter(new RouterRecord { Name = r3, Host = H(3), Image = "router" });
            var rec = new LinkRecord { Name = link, From = r1, To = r3, Bridge = InterfaceNames.Bridge(link), Mtu = 1450, MaximumBandwidth = 8_000_000 };
            rec.Taps[r1] = InterfaceNames.Tap(r1, link);
            rec.Taps[r3] = InterfaceNames.Tap(r3, link);
            b.Store.WriteLink(rec);
            b.WireLink(link, null, CancellationToken.None);
            int vxIndex = new IpCommand(InterfaceNames.Namespace(H(1))).GetLink(InterfaceNames.Vxlan(link))!.Index;
            int tapIndex = new IpCommand(InterfaceNames.Namespace(H(1))).GetLink(rec.Taps[r1])!.Index;
            b.WireLink(link, null, CancellationToken.None); // idempotent: nothing is made again
            Assert.Equal(vxIndex, new IpCommand(InterfaceNames.Namespace(H(1))).GetLink(InterfaceNames.Vxlan(link))!.Index);
            Assert.Equal(tapIndex, new IpCommand(InterfaceNames.Namespace(H(1))).GetLink(rec.Taps[r1])!.Index);

            var inv = b.GetInventory(CancellationToken.None);
            string ns1 = InterfaceNames.Namespace(H(1)), ns2 = InterfaceNames.Namespace(H(2)), ns3 = InterfaceNames.Namespace(H(3));
            string a1 = UnderlayOf(inv, H(1)), a2 = UnderlayOf(inv, H(2)), a3 = UnderlayOf(inv, H(3));
            var l = inv.Links.Single(x => x.Name == link);
            Assert.Equal(LinkTransport.Vxlan, l.Transport);
            Assert.True(l.TunnelId >= LinuxBackend.FirstVni);
            Assert.Equal(new[] { H(1), H(2), H(3) }, l.UnderlayPath);
            Assert.Equal(H(1), l.FromComputerName);
            Assert.Equal(H(3), l.ToComputerName);
            Assert.Null(l.Status);

            var vx = InterfaceNames.Vxlan(link);
            foreach (var (ns, local, peer) in new[] { (ns1, a1, a3), (ns3, a3, a1) })
            {
                var info = JArray.Parse(Ip(ns, "-j", "-d", "link", "show", "dev", vx))[0];
                Assert.Equal(l.TunnelId, (int?)info["linkinfo"]!["info_data"]!["id"]);
                Assert.Equal(local, (string?)info["linkinfo"]!["info_data"]!["local"]);
                Assert.Equal(4789, (int?)info["linkinfo"]!["info_data"]!["port"]);
                Assert.Equal(1450, (int?)info["mtu"]);
                Assert.Equal(InterfaceNames.Bridge(link), (string?)info["master"]);
                Assert.False((bool?)info["linkinfo"]!["info_slave_data"]!["learning"]); // no MAC learned behind the tunnel
                Assert.Equal(new[] { peer }, new IpCommand(ns).ListDefaultDestinations(vx));
                Assert.Equal(1450, new IpCommand(ns).GetLink(InterfaceNames.Bridge(link))!.Mtu);
            }
            Assert.Equal(1450, new IpCommand(ns1).GetLink(rec.Taps[r1])!.Mtu);
            Assert.NotNull(new TrafficShaper(new IpCommand(ns1)).GetRoot(rec.Taps[r1])?.IsOurs == true ? 1 : (int?)null);
            Assert.Null(new IpCommand(ns1).GetLink(rec.Taps[r3]));
            Assert.Null(new IpCommand(ns2).GetLink(vx));

            // L2 across the tunnel (two underlay hops): addresses on the two bridges (test only), TCP between them.
            Ip(ns1, "addr", "add", "10.254.77.1/24", "dev", InterfaceNames.Bridge(link));
            Ip(ns3, "addr", "add", "10.254.77.3/24", "dev", InterfaceNames.Bridge(link));
            Assert.True(TcpWorks(ns1, "10.254.77.1", ns3, "10.254.77.3"), "over the VXLAN tunnel");

            // Rewire as a migration would: r3 on h3 and h2 (destination prepared, its tap on standby: down), then on h2 only.
            b.WireLinkLocked(b.Store.ReadLink(link)!, new Dictionary<string, IReadOnlyCollection<string>> { [r3] = new[] { H(3), H(2) } }, CancellationToken.None, (r3, H(2)));
            Assert.Equal(new[] { a2, a3 }, new IpCommand(ns1).ListDefaultDestinations(vx).OrderBy(x => x));
            Assert.False(new IpCommand(ns2).GetLink(rec.Taps[r3])!.AdminUp);
            Assert.Equal(InterfaceNames.Bridge(link), new IpCommand(ns2).GetLink(rec.Taps[r3])!.Master);
            Assert.True(new IpCommand(ns3).GetLink(rec.Taps[r3])!.AdminUp);
            b.Store.WriteRouter(new RouterRecord { Name = r3, Host = H(2), Image = "router" });
            b.WireLink(link, null, CancellationToken.None);
            Assert.True(new IpCommand(ns2).GetLink(rec.Taps[r3])!.AdminUp);
            Assert.Equal(new[] { a2 }, new IpCommand(ns1).ListDefaultDestinations(vx));
            Assert.Null(new IpCommand(ns3).GetLink(vx));
            Assert.Null(new IpCommand(ns3).GetLink(InterfaceNames.Bridge(link)));
            Assert.Equal(new[] { H(1), H(2) }, b.GetInventory(CancellationToken.None).Links.Single(x => x.Name == link).UnderlayPath);
            Assert.Empty(b.FindOrphans(false, CancellationToken.None));

            // A device left on a host the link does not use is an orphan (only tagged ones are listed).
            new IpCommand(ns3).CreateVxlan(vx, OwnershipTag.ForVxlan(b.Store.StateId, link), new VxlanOptions { Vni = 4242, Local = a3 });
            var orphan = Assert.Single(b.FindOrphans(false, CancellationToken.None));
            Assert.Equal(ns3 + ":" + vx, orphan.Name);
            b.RemoveOrphan(orphan, CancellationToken.None);
            Assert.Null(new IpCommand(ns3).GetLink(vx));

            b.RemoveLink(link, CancellationToken.None);
            Assert.Null(new IpCommand(ns1).GetLink(vx));
            Assert.Null(new IpCommand(ns2).GetLink(InterfaceNames.Bridge(link)));
        }

        [RootFact]
        public void Orphan_clean_up_never_takes_another_state_directorys_devices_or_lab_hosts()
        {
            var a = Backend();
            var ct = CancellationToken.None;
            string otherRoot = _root + "-other";
            var other = new LinuxBackend(new BackendRequest { Options = new Dictionary<string, object?> { [LinuxBackend.StateDirectoryOption] = otherRoot } });
            string linkA = "mh" + _s + "-la", linkB = "mh" + _s + "-lb";
            string mine = InterfaceNames.Bridge(linkA), theirs = InterfaceNames.Bridge(linkB);
            string ns = InterfaceNames.Namespace(H(1));
            var ip = new IpCommand();
            try
            {
                Assert.Matches("^[0-9a-f]{8}$", a.Store.StateId);
                Assert.NotEqual(a.Store.StateId, other.Store.StateId);
                Assert.Equal(a.Store.StateId, File.ReadAllText(a.Store.StateIdPath).Trim()); // stored, so it survives a move
                // The other state directory's lab host and an unrecorded bridge of each state directory.
                other.CreateLabHost(H(1), true, ct);
                ip.CreateBridge(mine, OwnershipTag.ForBridge(a.Store.StateId, linkA));
                ip.CreateBridge(theirs, OwnershipTag.ForBridge(other.Store.StateId, linkB));

                foreach (var full in new[] { false, true })
                {
                    var found = a.FindOrphans(full, ct);
                    Assert.Contains(found, o => o.Name == mine);
                    Assert.DoesNotContain(found, o => o.Name == theirs);
                    Assert.DoesNotContain(found, o => o.Name.Contains(ns) || string.Equals(o.Owner, H(1), StringComparison.OrdinalIgnoreCase));
                }
                // Even when asked directly, this state directory removes neither.
                Assert.ThrowsAny<VirtualNetworksException>(() => a.RemoveOrphan(
                    new OrphanResource { Kind = OrphanKind.Interface, Name = theirs, ComputerName = HostNames.LocalName }, ct));
                Assert.ThrowsAny<VirtualNetworksException>(() => a.RemoveOrphan(
                    new OrphanResource { Kind = OrphanKind.Interface, Name = "netns:" + ns, ComputerName = H(1) }, ct));
                a.RemoveOrphan(a.FindOrphans(false, ct).Single(o => o.Name == mine), ct);
                Assert.Null(ip.GetLink(mine));
                Assert.NotNull(ip.GetLink(theirs));
                Assert.True(LabNetwork.NamespaceExists(ns));
                Assert.Null(LabNetwork.OwnerOfNamespace(ns, a.Store.StateId, ct));
                Assert.Equal(H(1), LabNetwork.OwnerOfNamespace(ns, other.Store.StateId, ct));
                // Creating a lab host of the same name here is refused (the namespace is the other state directory's).
                Assert.ThrowsAny<VirtualNetworksException>(() => a.CreateLabHost(H(1), true, ct));
                Assert.DoesNotContain(a.Store.ListHosts(), h => !h.IsLocal);

                // The other state directory still sees its own bridge as an orphan and takes it.
                var theirsOrphan = other.FindOrphans(false, ct).Single(o => o.Name == theirs);
                other.RemoveOrphan(theirsOrphan, ct);
                Assert.Null(ip.GetLink(theirs));
            }
            finally
            {
                NetTestHost.RunQuietly("ip", "link", "del", "dev", mine);
                NetTestHost.RunQuietly("ip", "link", "del", "dev", theirs);
                try { other.RemoveLabHost(H(1), ct); }
                catch (Exception ex) { _out.WriteLine("clean-up of the other state directory: " + ex.Message); }
                NetTestHost.RunQuietly("ip", "netns", "del", ns);
                other.Dispose();
                try { Directory.Delete(otherRoot, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            }
        }

        [RootFact]
        public void Removing_a_host_with_a_router_is_refused_and_full_orphan_cleanup_leaves_nothing()
        {
            Chain();
            var b = Backend();
            string r = "mr" + _s + "c";
            b.Store.WriteRouter(new RouterRecord { Name = r, Host = H(2), Image = "router" });
            var ex = Assert.Throws<VirtualNetworksException>(() => b.RemoveLabHost(H(2), CancellationToken.None));
            Assert.Contains(r, ex.Message);
            b.Store.DeleteRouter(r);

            var all = b.FindOrphans(true, CancellationToken.None);
            Assert.Equal(3, all.Count(o => o.Name.StartsWith("netns:", StringComparison.Ordinal)));
            foreach (var o in all) b.RemoveOrphan(o, CancellationToken.None);
            foreach (var i in new[] { 1, 2, 3 }) Assert.False(LabNetwork.NamespaceExists(InterfaceNames.Namespace(H(i))));
            Assert.Empty(b.Store.ListHosts());
            Assert.Empty(b.Store.ListPhysicalLinks());
            Assert.Empty(b.FindOrphans(true, CancellationToken.None));
        }

        [RootFact]
        public void The_local_machine_as_an_end_of_a_physical_link_gets_a_tagged_anchor_that_goes_with_the_link()
        {
            var b = Backend();
            b.CreateLabHost(H(1), true, CancellationToken.None);
            b.CreatePhysicalLink(new PhysicalLinkSpec { From = "localhost", To = H(1) }, CancellationToken.None);
            var inv = b.GetInventory(CancellationToken.None);
            var local = inv.Hosts.Single(h => !h.IsLabHost);
            Assert.NotNull(local.UnderlayAddress);
            var anchor = new IpCommand().GetLink(InterfaceNames.Anchor(HostNames.LocalName))!;
            Assert.Equal("virtualnetworks:v2:" + b.Store.StateId + ":host:" + HostNames.LocalName, anchor.Alias);
            var veth = InterfaceNames.Veth(HostNames.LocalName, H(1));
            Assert.Equal("1", File.ReadAllText("/proc/sys/net/ipv4/conf/" + veth + "/forwarding").Trim());
            Assert.True(new IpCommand().ListOwnedRoutes().ContainsKey(UnderlayOf(inv, H(1)) + "/32"));
            Assert.True(TcpWorks(InterfaceNames.Namespace(H(1)), UnderlayOf(inv, H(1)), null, local.UnderlayAddress!));

            b.RemovePhysicalLink(H(1), HostNames.LocalName, CancellationToken.None);
            Assert.Null(new IpCommand().GetLink(InterfaceNames.Anchor(HostNames.LocalName)));
            Assert.Null(new IpCommand().GetLink(veth));
            Assert.DoesNotContain(new IpCommand().ListOwnedRoutes().Keys, LabNetwork.IsUnderlayHostRoute);
            Assert.Null(b.GetInventory(CancellationToken.None).Hosts.Single(h => !h.IsLabHost).UnderlayAddress);
        }
    }
}
