using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using VirtualNetworks.Backends;
using VirtualNetworks.Linux.Net;
using VirtualNetworks.Util;
using Xunit;
using Xunit.Abstractions;

namespace VirtualNetworks.Linux.Tests
{
    /// <summary>
    /// A batch removal of links costs O(1) ip processes per link: one listing of the host's interfaces for the whole batch,
    /// then each link's deletes (its two taps and its bridge), never a look at every device of every link. Real bridges and
    /// taps (the routers are not started: no QEMU).
    /// </summary>
    [Collection(VmRealCollection.Name)]
    public sealed class LinearRemovalTests : IClassFixture<VmImageFixture>, IDisposable
    {
        private static readonly CancellationToken None = CancellationToken.None;
        private readonly VmImageFixture _image;
        private readonly ITestOutputHelper _out;
        private readonly string _root = VmTestHost.NewStateRoot();
        private readonly string _p = "lr" + VmTestHost.Hex(4);
        private readonly List<string> _routers = new List<string>();
        private LinuxBackend? _backend;

        public LinearRemovalTests(VmImageFixture image, ITestOutputHelper output)
        {
            _image = image;
            _out = output;
        }

        private sealed class Counter : ICommandInterceptor
        {
            public readonly List<string> Commands = new List<string>();

            public ProcessResult? Intercept(string tool, string? networkNamespace, List<string> arguments)
            {
                lock (Commands) Commands.Add(tool + " " + string.Join(" ", arguments));
                return null; // run it
            }
        }

        /// <summary>A ring of <paramref name="n"/> routers (not started); returns the ip/tc commands its batch link removal ran.</summary>
        private List<string> RemoveRing(LinuxBackend b, string tag, int n)
        {
            var routers = Enumerable.Range(1, n).Select(i => _p + "-" + tag + "r" + i).ToList();
            foreach (var r in routers)
            {
                b.CreateRouter(new RouterSpec { Name = r, Image = "router", MemoryMB = 128, ProcessorCount = 1 }, None);
                _routers.Add(r);
            }
            var links = new List<string>();
            for (int i = 0; i < n; i++)
            {
                var l = _p + "-" + tag + "l" + i;
                b.CreateLink(new LinkSpec { Name = l, From = routers[i], To = routers[(i + 1) % n] }, None);
                links.Add(l);
            }
            var counter = new Counter();
            IReadOnlyList<Exception?> outcomes;
            using (NetTools.InterceptCommands(counter))
                outcomes = b.RemoveLinks(links, routers, None);
            Assert.All(outcomes, Assert.Null);
            foreach (var l in links) Assert.Null(b.Store.ReadLink(l));
            var ip = new IpCommand();
            foreach (var l in links) Assert.Null(ip.GetLink(InterfaceNames.Bridge(l)));
            Assert.All(b.RemoveRouters(routers, None), Assert.Null);
            return counter.Commands;
        }

        [VmRootFact]
        public void Removing_n_links_runs_one_listing_and_three_deletes_per_link()
        {
            VmTestHost.RequireRoot();
            _image.EnsureBuilt();
            Directory.CreateDirectory(Path.Combine(_root, "images"));
            Directory.CreateSymbolicLink(Path.Combine(_root, "images", "router"), _image.ImageDirectory);
            var b = _backend = new LinuxBackend(new BackendRequest
            {
                Options = new Dictionary<string, object?> { [LinuxBackend.StateDirectoryOption] = _root },
            });
            var three = RemoveRing(b, "a", 3);
            var six = RemoveRing(b, "b", 6);
            _out.WriteLine("3 links: " + three.Count + " commands\n  " + string.Join("\n  ", three));
            _out.WriteLine("6 links: " + six.Count + " commands");
            foreach (var (n, commands) in new[] { (3, three), (6, six) })
            {
                Assert.Equal(1, commands.Count(c => c.StartsWith("ip ", StringComparison.Ordinal) && c.Contains(" link show") && !c.Contains(" dev ")));
                Assert.Equal(0, commands.Count(c => c.Contains(" show dev "))); // no look at single devices
                Assert.Equal(3 * n, commands.Count(c => c.Contains("link del dev ")));
                Assert.Equal(1 + 3 * n, commands.Count);
            }
        }

        public void Dispose()
        {
            if (_backend != null && _routers.Count > 0)
            {
                try
                {
                    foreach (var l in _backend.Store.ListLinks()) _backend.RemoveLink(l.Name, None);
                    foreach (var r in _routers.Where(r => _backend.Store.ReadRouter(r) != null)) _backend.RemoveRouter(r, None);
                }
                catch (Exception ex) { _out.WriteLine("clean-up: " + ex.Message); }
            }
            VmTestHost.DeleteTree(_root);
        }
    }
}
