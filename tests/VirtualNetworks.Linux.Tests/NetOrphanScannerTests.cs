using System.Linq;
using VirtualNetworks.Linux.Net;
using Xunit;

namespace VirtualNetworks.Linux.Tests
{
    [Collection(NetHostCollection.Name)]
    public class NetOrphanScannerTests
    {
        [RootFact]
        public void Tagged_leftovers_are_found_by_object_and_removed_untagged_ones_are_not_listed()
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
                ip.CreateBridge(InterfaceNames.Bridge(l1), OwnershipTag.ForBridge(l1));
                ip.CreateTap(InterfaceNames.Tap(ra, l1), OwnershipTag.ForTap(ra, l1));
                ip.CreateTap(InterfaceNames.Tap(rb, l1), OwnershipTag.ForTap(rb, l1));
                ip.SetMaster(InterfaceNames.Tap(ra, l1), InterfaceNames.Bridge(l1));
                ip.CreateBridge(InterfaceNames.Bridge(l2), OwnershipTag.ForBridge(l2));
                ip.CreateTap(InterfaceNames.Tap(rb, l2), OwnershipTag.ForTap(rb, l2));
                NetTestHost.Run("ip", "-netns", ns, "link", "add", "name", "vntest-untag", "type", "bridge");
                NetTestHost.Run("ip", "-netns", ns, "link", "add", "name", "vntest-other", "type", "bridge");
                NetTestHost.Run("ip", "-netns", ns, "link", "set", "dev", "vntest-other", "alias", "somebody else's bridge");

                var all = NetworkOrphanScanner.FindOwned(ip);
                Assert.Equal(5, all.Count);
                Assert.All(all, o => Assert.True(o.NameMatchesTag));
                Assert.All(all, o => Assert.Equal(ns, o.NetworkNamespace));
                Assert.DoesNotContain(all, o => o.Name.StartsWith("vntest-"));

                var ofRouterA = NetworkOrphanScanner.FindOwned(ip, new[] { ra.ToUpperInvariant() });
                Assert.Equal(new[] { InterfaceNames.Tap(ra, l1) }, ofRouterA.Select(o => o.Name));

                var ofLink2 = NetworkOrphanScanner.FindOwned(ip, new[] { l2 });
                Assert.Equal(2, ofLink2.Count);

                var bridges = NetworkOrphanScanner.FindOwned(ip, null, new[] { OwnedRole.Bridge });
                Assert.Equal(2, bridges.Count);

                // A tag moved to a device with another name is reported as not matching.
                string odd = "vntest-odd";
                NetTestHost.Run("ip", "-netns", ns, "link", "add", "name", odd, "type", "bridge");
                NetTestHost.Run("ip", "-netns", ns, "link", "set", "dev", odd, "alias", OwnershipTag.ForBridge("vntest-elsewhere").Alias);
                var oddOne = Assert.Single(NetworkOrphanScanner.FindOwned(ip, new[] { "vntest-elsewhere" }));
                Assert.False(oddOne.NameMatchesTag);

                var removed = NetworkOrphanScanner.Remove(ip, NetworkOrphanScanner.FindOwned(ip));
                Assert.Equal(6, removed.Count);
                Assert.Empty(NetworkOrphanScanner.FindOwned(ip));
                var names = ip.ListLinks().Select(l => l.Name).ToList();
                Assert.Contains("vntest-untag", names);
                Assert.Contains("vntest-other", names);
            }
            finally
            {
                NetTestHost.RunQuietly("ip", "netns", "del", ns);
            }
        }
    }
}
