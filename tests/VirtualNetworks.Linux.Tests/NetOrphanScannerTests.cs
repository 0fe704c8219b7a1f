using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading;
using VirtualNetworks.Backends;
using VirtualNetworks.Linux.Net;
using Xunit;

namespace VirtualNetworks.Linux.Tests
{
    [Collection(NetHostCollection.Name)]
    public class NetOrphanScannerTests
    {
        [RootFact]
        public void Tagged_leftovers_are_found_by_object_and_removed_untagged_and_other_state_directories_ones_are_not_listed()
        {
            NetTestHost.RequireRoot();
            string s = NetTestHost.Suffix();
            // A private namespace: the scan sees exactly what this test made.
            string ns = "vntest-orph-" + s;
            NetTestHost.Run("ip", "netns", "add", ns);
            try
            {
                var ip = new IpCommand(ns);
                string l1 = "vntest-l1-" + s, l2 = "vntest-l2-" + s, ra = "vntest-ra-" + s, rb = "vntest-rb-" + s;
                ip.CreateBridge(InterfaceNames.Bridge(l1), OwnershipTag.ForBridge(NetTestHost.StateId, l1));
                ip.CreateTap(InterfaceNames.Tap(ra, l1), OwnershipTag.ForTap(NetTestHost.StateId, ra, l1));
                ip.CreateTap(InterfaceNames.Tap(rb, l1), OwnershipTag.ForTap(NetTestHost.StateId, rb, l1));
                ip.SetMaster(InterfaceNames.Tap(ra, l1), InterfaceNames.Bridge(l1));
                ip.CreateBridge(InterfaceNames.Bridge(l2), OwnershipTag.ForBridge(NetTestHost.StateId, l2));
                ip.CreateTap(InterfaceNames.Tap(rb, l2), OwnershipTag.ForTap(NetTestHost.StateId, rb, l2));
                NetTestHost.Run("ip", "-netns", ns, "link", "add", "name", "vntest-untag", "type", "bridge");
                NetTestHost.Run("ip", "-netns", ns, "link", "add", "name", "vntest-other", "type", "bridge");
                NetTestHost.Run("ip", "-netns", ns, "link", "set", "dev", "vntest-other", "alias", "somebody else's bridge");
                // Another state directory's bridge and tap (a test run next to a user's lab): never listed, never removed.
                string lx = "vntest-lx-" + s;
                ip.CreateBridge(InterfaceNames.Bridge(lx), OwnershipTag.ForBridge("0ther1d0", lx));
                ip.CreateTap(InterfaceNames.Tap(ra, lx), OwnershipTag.ForTap("0ther1d0", ra, lx));
                // A v1 bridge (before state ids): only a full reset (includeLegacy) lists it.
                string lv = "vntest-lv-" + s;
                NetTestHost.Run("ip", "-netns", ns, "link", "add", "name", InterfaceNames.Bridge(lv), "type", "bridge");
                NetTestHost.Run("ip", "-netns", ns, "link", "set", "dev", InterfaceNames.Bridge(lv), "alias", "virtualnetworks:v1:bridge:" + lv);

                var all = NetworkOrphanScanner.FindOwned(ip, NetTestHost.StateId);
                Assert.Equal(5, all.Count);
                Assert.DoesNotContain(all, o => o.Tag.LinkName == lx || o.Tag.LinkName == lv);
                Assert.Equal(2, NetworkOrphanScanner.FindOwned(ip, "0ther1d0").Count);
                Assert.Empty(NetworkOrphanScanner.FindOwned(ip, null, new[] { lx }));
                var withLegacy = NetworkOrphanScanner.FindOwned(ip, NetTestHost.StateId, includeLegacy: true);
                Assert.Equal(6, withLegacy.Count);
                Assert.Contains(withLegacy, o => o.Name == InterfaceNames.Bridge(lv) && o.Tag.StateId == null);
                Assert.DoesNotContain(withLegacy, o => o.Tag.LinkName == lx);
                // Re-creating an object of another state directory under the same name is refused, not adopted.
                Assert.ThrowsAny<VirtualNetworksException>(() => ip.CreateBridge(InterfaceNames.Bridge(lx), OwnershipTag.ForBridge(NetTestHost.StateId, lx)));
                Assert.Equal("0ther1d0", ip.GetLink(InterfaceNames.Bridge(lx))!.Tag!.StateId);
                // A v1 device of the same object is adopted (re-tagged with this state id).
                Assert.False(ip.CreateBridge(InterfaceNames.Bridge(lv), OwnershipTag.ForBridge(NetTestHost.StateId, lv)));
                Assert.Equal(OwnershipTag.ForBridge(NetTestHost.StateId, lv).Alias, ip.GetLink(InterfaceNames.Bridge(lv))!.Alias);
                NetTestHost.Run("ip", "-netns", ns, "link", "del", "dev", InterfaceNames.Bridge(lv));
                Assert.All(all, o => Assert.True(o.NameMatchesTag));
                Assert.All(all, o => Assert.Equal(ns, o.NetworkNamespace));
                Assert.DoesNotContain(all, o => o.Name.StartsWith("vntest-"));

                var ofRouterA = NetworkOrphanScanner.FindOwned(ip, NetTestHost.StateId, new[] { ra.ToUpperInvariant() });
                Assert.Equal(new[] { InterfaceNames.Tap(ra, l1) }, ofRouterA.Select(o => o.Name));

                var ofLink2 = NetworkOrphanScanner.FindOwned(ip, NetTestHost.StateId, new[] { l2 });
                Assert.Equal(2, ofLink2.Count);

                var bridges = NetworkOrphanScanner.FindOwned(ip, NetTestHost.StateId, null, new[] { OwnedRole.Bridge });
                Assert.Equal(2, bridges.Count);

                // A tag moved to a device with another name is reported as not matching.
                string odd = "vntest-odd";
                NetTestHost.Run("ip", "-netns", ns, "link", "add", "name", odd, "type", "bridge");
                NetTestHost.Run("ip", "-netns", ns, "link", "set", "dev", odd, "alias", OwnershipTag.ForBridge(NetTestHost.StateId, "vntest-elsewhere").Alias);
                var oddOne = Assert.Single(NetworkOrphanScanner.FindOwned(ip, NetTestHost.StateId, new[] { "vntest-elsewhere" }));
                Assert.False(oddOne.NameMatchesTag);

                var removed = NetworkOrphanScanner.Remove(ip, NetworkOrphanScanner.FindOwned(ip, NetTestHost.StateId));
                Assert.Equal(6, removed.Count);
                Assert.Empty(NetworkOrphanScanner.FindOwned(ip, NetTestHost.StateId));
                var names = ip.ListLinks().Select(l => l.Name).ToList();
                Assert.Contains("vntest-untag", names);
                Assert.Contains("vntest-other", names);
                // The other state directory's devices survived this state directory's clean-up.
                Assert.Contains(InterfaceNames.Bridge(lx), names);
                Assert.Contains(InterfaceNames.Tap(ra, lx), names);
            }
            finally
            {
                NetTestHost.RunQuietly("ip", "netns", "del", ns);
            }
        }

        /// <summary>A child process that runs until killed (a probe owner that is alive, then gone).</summary>
        internal static Process Sleeper() => Process.Start(new ProcessStartInfo("sleep", "600") { UseShellExecute = false })!;

        /// <summary>The identity of a process that has ended (started, read, killed, reaped).</summary>
        internal static ProbeOwner DeadOwner()
        {
            using var p = Sleeper();
            var owner = ProbeOwner.Of(p.Id)!;
            p.Kill();
            p.WaitForExit();
            Assert.Equal(ProbeOwnerState.Gone, owner.State());
            return owner;
        }

        /// <summary>
        /// Issue 11, defect 8: probe devices carry their owner process; orphan clean-up (from any state directory) takes one
        /// only when that process is gone. A live owner's device (this test process, a sleep child) is never listed, nor one
        /// whose owner is in another pid namespace; one without owner (older versions) only in a full reset.
        /// </summary>
        [RootFact]
        public void Probe_devices_are_removed_only_when_their_owner_process_is_gone()
        {
            NetTestHost.RequireRoot();
            string s = NetTestHost.Suffix();
            string ns = "vntest-prb-" + s;
            NetTestHost.Run("ip", "netns", "add", ns);
            using var sleeper = Sleeper();
            try
            {
                var ip = new IpCommand(ns);
                var self = ProbeOwner.Current!;
                var child = ProbeOwner.Of(sleeper.Id)!;
                Assert.Equal(ProbeOwnerState.Alive, child.State());
                var dead = DeadOwner();
                var reused = new ProbeOwner(self.PidNamespace, self.Pid, self.StartTime + 1); // our pid, another start: a reused pid
                var foreign = new ProbeOwner(self.PidNamespace + 1, self.Pid, self.StartTime); // another pid namespace: cannot tell
                string Make(string letter, ProbeOwner? owner)
                {
                    string id = "vnp" + s + letter + "0";
                    ip.CreateBridge(id + "b", OwnershipTag.ForProbe(id, owner));
                    return id + "b";
                }
                string mine = Make("a", self), childs = Make("b", child), deads = Make("c", dead), reuseds = Make("d", reused),
                       foreigns = Make("e", foreign), legacy = Make("f", null);

                var listed = NetworkOrphanScanner.FindOwned(ip, NetTestHost.StateId).Select(o => o.Name).OrderBy(n => n).ToList();
                Assert.Equal(new[] { deads, reuseds }.OrderBy(n => n), listed);
                var full = NetworkOrphanScanner.FindOwned(ip, NetTestHost.StateId, includeLegacy: true).Select(o => o.Name).OrderBy(n => n).ToList();
                Assert.Equal(new[] { deads, reuseds, legacy }.OrderBy(n => n), full);
                // Another state directory's clean-up (or one with no state id) sees the same: probes belong to none.
                Assert.Equal(listed, NetworkOrphanScanner.FindOwned(ip, null).Select(o => o.Name).OrderBy(n => n).ToList());

                // Remove re-checks the owner: a list made earlier does not take a device whose owner runs.
                var everything = ip.ListLinks().Where(l => l.Tag?.Role == OwnedRole.Probe).Select(l => new OwnedInterface(l, ns)).ToList();
                Assert.Equal(6, everything.Count);
                var removed = NetworkOrphanScanner.Remove(ip, everything).OrderBy(n => n).ToList();
                Assert.Equal(new[] { deads, reuseds, legacy }.OrderBy(n => n), removed);
                var left = ip.ListLinks().Select(l => l.Name).ToList();
                Assert.Contains(mine, left);
                Assert.Contains(childs, left);
                Assert.Contains(foreigns, left);

                // Once the child ends, its device is a leftover.
                sleeper.Kill();
                sleeper.WaitForExit();
                Assert.Equal(new[] { childs }, NetworkOrphanScanner.FindOwned(ip, NetTestHost.StateId).Select(o => o.Name));
                // The next probe in that namespace removes it by itself (a killed run's leftovers do not pile up).
                Assert.Equal(1, LinuxCapabilities.RemoveLeftovers(ip));
                left = ip.ListLinks().Select(l => l.Name).ToList();
                Assert.DoesNotContain(childs, left);
                Assert.Contains(mine, left);
                Assert.Contains(foreigns, left);
            }
            finally
            {
                try { if (!sleeper.HasExited) sleeper.Kill(); } catch (System.InvalidOperationException) { }
                NetTestHost.RunQuietly("ip", "netns", "del", ns);
            }
        }

        /// <summary>
        /// The same through the backend's orphan clean-up (Remove-VirtualNetworkOrphan): in a lab host of this state
        /// directory, a dead owner's probe device is listed and removed, the live owners' (this process, a sleep child) are
        /// listed by neither the normal nor the full (-All) clean-up, and removing one by name leaves it alone.
        /// </summary>
        [RootFact]
        public void Orphan_clean_up_takes_a_dead_probes_device_and_never_a_live_ones()
        {
            NetTestHost.RequireRoot();
            string s = NetTestHost.Suffix();
            string root = Path.Combine("/tmp", "vnpo-" + NetTestHost.Suffix(8));
            string host = "po" + s + "-h1";
            var ct = CancellationToken.None;
            var backend = new LinuxBackend(new BackendRequest { Options = new Dictionary<string, object?> { [LinuxBackend.StateDirectoryOption] = root } });
            using var sleeper = Sleeper();
            string ns = InterfaceNames.Namespace(host);
            try
            {
                backend.CreateLabHost(host, true, ct);
                var ip = new IpCommand(ns);
                string dead = "vnp" + s + "d0b", child = "vnp" + s + "c0b", mine = "vnp" + s + "m0b";
                ip.CreateBridge(dead, OwnershipTag.ForProbe("vnp" + s + "d0", DeadOwner()));
                ip.CreateBridge(child, OwnershipTag.ForProbe("vnp" + s + "c0", ProbeOwner.Of(sleeper.Id)));
                ip.CreateBridge(mine, OwnershipTag.ForProbe("vnp" + s + "m0"));

                foreach (var all in new[] { false, true })
                {
                    var found = backend.FindOrphans(all, ct).Where(o => o.Name.StartsWith(ns + ":", System.StringComparison.Ordinal)).ToList();
                    Assert.DoesNotContain(found, o => o.Name == ns + ":" + child || o.Name == ns + ":" + mine);
                    if (!all)
                    {
                        var d = Assert.Single(found, o => o.Name == ns + ":" + dead);
                        Assert.Contains("process that ended", d.Reason);
                    }
                }
                backend.RemoveOrphan(backend.FindOrphans(false, ct).Single(o => o.Name == ns + ":" + dead), ct);
                Assert.Null(ip.GetLink(dead));
                // Asked by name (a list made before its owner started, a typo): a live owner's device stays.
                backend.RemoveOrphan(new OrphanResource { Kind = OrphanKind.Interface, Name = ns + ":" + child, ComputerName = host }, ct);
                Assert.NotNull(ip.GetLink(child));
                Assert.NotNull(ip.GetLink(mine));
            }
            finally
            {
                try { if (!sleeper.HasExited) sleeper.Kill(); } catch (System.InvalidOperationException) { }
                try { backend.RemoveLabHost(host, ct); } catch (System.Exception) { }
                NetTestHost.RunQuietly("ip", "netns", "del", ns);
                backend.Dispose();
                try { Directory.Delete(root, true); } catch (IOException) { }
            }
        }
    }
}
