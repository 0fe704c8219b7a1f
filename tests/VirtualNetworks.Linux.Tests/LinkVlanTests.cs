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
    /// Records every ip/tc/bridge command of the backend and fakes ONLY what a kernel without bridge VLAN filtering cannot
    /// do: <c>vlan_filtering 1</c> is stripped from a bridge creation (which then runs for real), and <c>bridge vlan add/del</c>
    /// is answered as a success without running. Everything else runs for real. A test double: it lives under tests/ only.
    /// </summary>
    internal sealed class VlanKernelFake : ICommandInterceptor
    {
        private readonly bool _fakeVlanCommands;
        private readonly object _sync = new object();

        public VlanKernelFake(bool fakeVlanCommands) => _fakeVlanCommands = fakeVlanCommands;

        /// <summary>Every command as the backend issued it (before any change): tool, then its arguments.</summary>
        public List<string[]> Issued { get; } = new List<string[]>();

        /// <summary>The commands that were answered without running.</summary>
        public List<string[]> Faked { get; } = new List<string[]>();

        public ProcessResult? Intercept(string tool, string? networkNamespace, List<string> arguments)
        {
            var issued = new[] { tool }.Concat(arguments).ToArray();
            lock (_sync) Issued.Add(issued);
            if (!_fakeVlanCommands) return null;
            if (tool == "bridge" && arguments.Count >= 2 && arguments[0] == "vlan" && (arguments[1] == "add" || arguments[1] == "del"))
            {
                lock (_sync) Faked.Add(issued);
                return new ProcessResult(tool, arguments.ToArray(), 0, "", "", TimeSpan.Zero);
            }
            int at = arguments.IndexOf("vlan_filtering");
            if (tool == "ip" && arguments.Contains("add") && arguments.Contains("bridge") && at >= 0 && at + 1 < arguments.Count)
                arguments.RemoveRange(at, 2); // the bridge itself is made for real, without the feature this kernel lacks
            return null;
        }

        public IEnumerable<string[]> MentioningVlan() =>
            Issued.Where(c => c.Any(a => a.IndexOf("vlan", StringComparison.OrdinalIgnoreCase) >= 0));
    }

    /// <summary>
    /// A link's VLAN id (issue 3): applied as the segment's tag where the kernel has bridge VLAN filtering (Transport
    /// TaggedBridge), else kept as data (Transport Bridge). This machine's kernel lacks the feature, so the tagged path is
    /// forced through the backend's test seam and only the commands the kernel refuses are faked (<see cref="VlanKernelFake"/>);
    /// bridges, taps and ports are real.
    /// </summary>
    [Collection(VmRealCollection.Name)]
    public sealed class LinkVlanTests : IClassFixture<VmImageFixture>, IDisposable
    {
        private static readonly CancellationToken None = CancellationToken.None;
        private readonly VmImageFixture _image;
        private readonly ITestOutputHelper _out;
        private readonly string _root = VmTestHost.NewStateRoot();
        private readonly string _p = "vl" + VmTestHost.Hex(4);
        private LinuxBackend? _backend;

        public LinkVlanTests(VmImageFixture image, ITestOutputHelper output)
        {
            _image = image;
            _out = output;
        }

        private string N(string s) => _p + "-" + s;

        private LinuxBackend Backend(bool vlanFiltering)
        {
            VmTestHost.RequireRoot();
            _image.EnsureBuilt();
            Directory.CreateDirectory(Path.Combine(_root, "images"));
            Directory.CreateSymbolicLink(Path.Combine(_root, "images", "router"), _image.ImageDirectory);
            _backend = new LinuxBackend(new BackendRequest
            {
                Options = new Dictionary<string, object?> { [LinuxBackend.StateDirectoryOption] = _root },
            }) { BridgeVlanFilteringOverride = vlanFiltering };
            foreach (var r in new[] { "r1", "r2" })
                _backend.CreateRouter(new RouterSpec { Name = N(r), Image = "router", MemoryMB = 128, ProcessorCount = 1 }, None);
            return _backend;
        }

        private void Log(VlanKernelFake fake)
        {
            foreach (var c in fake.Issued) _out.WriteLine((fake.Faked.Contains(c) ? "faked: " : "ran:   ") + string.Join(" ", c));
        }

        [VmRootFact]
        public void With_vlan_filtering_the_bridge_filters_and_each_tap_gets_the_id_as_untagged_pvid()
        {
            var b = Backend(vlanFiltering: true);
            Assert.True(b.Capabilities.SupportsVlanTagging);
            var fake = new VlanKernelFake(fakeVlanCommands: true);
            using (NetTools.InterceptCommands(fake))
                b.CreateLink(new LinkSpec { Name = N("l"), From = N("r1"), To = N("r2"), VlanId = 42 }, None);
            Log(fake);

            var rec = b.Store.ReadLink(N("l"))!;
            string tap1 = rec.Taps[N("r1")], tap2 = rec.Taps[N("r2")];
            var vlanCommands = fake.MentioningVlan().Select(c => string.Join(" ", c)).ToList();
            Assert.Equal(new[]
            {
                "ip link add name " + rec.Bridge + " type bridge stp_state 0 forward_delay 0 vlan_filtering 1",
                "bridge vlan add dev " + tap1 + " vid 42 pvid untagged",
                "bridge vlan del dev " + tap1 + " vid 1",
                "bridge vlan add dev " + tap2 + " vid 42 pvid untagged",
                "bridge vlan del dev " + tap2 + " vid 1",
            }, vlanCommands);
            Assert.Equal(4, fake.Faked.Count); // only the bridge vlan commands; the bridge and taps are real

            // Real devices: the bridge (made without the flag here) and both taps as its ports.
            var ip = new IpCommand();
            Assert.True(ip.GetLink(rec.Bridge)!.IsBridge);
            Assert.Equal(rec.Bridge, ip.GetLink(tap1)!.Master);
            Assert.Equal(rec.Bridge, ip.GetLink(tap2)!.Master);

            var link = b.GetInventory(None).Links.Single(l => l.Name == N("l"));
            Assert.Equal(LinkTransport.TaggedBridge, link.Transport);
            Assert.Equal(42, link.VlanId);
            Assert.Null(link.Status);
        }

        [VmRootFact]
        public void Without_vlan_filtering_no_vlan_command_is_issued_and_the_id_is_kept_as_data()
        {
            var b = Backend(vlanFiltering: false);
            Assert.False(b.Capabilities.SupportsVlanTagging);
            var fake = new VlanKernelFake(fakeVlanCommands: false); // records only: every command runs for real
            using (NetTools.InterceptCommands(fake))
                b.CreateLink(new LinkSpec { Name = N("l"), From = N("r1"), To = N("r2"), VlanId = 42 }, None);
            Log(fake);

            var rec = b.Store.ReadLink(N("l"))!;
            Assert.Contains(fake.Issued, c => string.Join(" ", c) == "ip link add name " + rec.Bridge + " type bridge stp_state 0 forward_delay 0");
            Assert.Contains(fake.Issued, c => c[0] == "ip" && c.Contains(rec.Taps[N("r1")]));
            Assert.Empty(fake.MentioningVlan());

            var link = b.GetInventory(None).Links.Single(l => l.Name == N("l"));
            Assert.Equal(LinkTransport.Bridge, link.Transport);
            Assert.Equal(42, link.VlanId);
            Assert.Null(link.Status);
        }

        public void Dispose()
        {
            if (_backend != null)
            {
                try { _backend.RemoveLink(N("l"), None); }
                catch (Exception ex) { _out.WriteLine("clean-up link: " + ex.Message); }
                foreach (var r in new[] { "r1", "r2" })
                {
                    try { _backend.RemoveRouter(N(r), None); }
                    catch (Exception ex) { _out.WriteLine("clean-up " + r + ": " + ex.Message); }
                }
            }
            VmTestHost.DeleteTree(_root);
        }
    }
}
