using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading;
using VirtualNetworks.Backends;
using VirtualNetworks.Engine;
using VirtualNetworks.Linux.Vm;
using Xunit;
using Xunit.Abstractions;

namespace VirtualNetworks.Linux.Tests
{
    /// <summary>
    /// Issue 15 on real routers: Test-VirtualNetwork batched (the guest's <c>probe</c> command through
    /// <see cref="LinuxBackend.ProbeMany"/>), with an IPv4 ring and an IPv6 line side by side, so that reachability,
    /// isolation and both families are checked in one run.
    /// </summary>
    [Collection(EndToEndCollection.Name)]
    public sealed class EndToEndBatchProbeTests
    {
        /// <summary>
        /// A router image folder (vmlinuz, initramfs.cpio.gz) to boot instead of out/images/router: for trying a guest
        /// built elsewhere (images/router/build.sh &lt;dir&gt;) before it is the project's image.
        /// </summary>
        public const string ImageOverrideVariable = "VIRTUALNETWORKS_TEST_ROUTER_IMAGE";

        private readonly ITestOutputHelper _out;

        public EndToEndBatchProbeTests(ITestOutputHelper output) => _out = output;

        private static TopologySpec Topology(CrashRun run) => new TopologySpec
        {
            Routers =
            {
                new RouterSpec { Name = run.N("v1"), Image = "router", MemoryMB = 96, NetworkLabel = run.N("v4") },
                new RouterSpec { Name = run.N("v2"), Image = "router", MemoryMB = 96, NetworkLabel = run.N("v4") },
                new RouterSpec { Name = run.N("v3"), Image = "router", MemoryMB = 96, NetworkLabel = run.N("v4") },
                new RouterSpec { Name = run.N("s1"), Image = "router", MemoryMB = 96, NetworkLabel = run.N("v6"), AddressFamily = NetworkAddressFamily.IPv6 },
                new RouterSpec { Name = run.N("s2"), Image = "router", MemoryMB = 96, NetworkLabel = run.N("v6"), AddressFamily = NetworkAddressFamily.IPv6 },
            },
            Links =
            {
                new LinkSpec { Name = run.N("v12"), From = run.N("v1"), To = run.N("v2") },
                new LinkSpec { Name = run.N("v23"), From = run.N("v2"), To = run.N("v3") },
                new LinkSpec { Name = run.N("v31"), From = run.N("v3"), To = run.N("v1") },
                new LinkSpec { Name = run.N("s12"), From = run.N("s1"), To = run.N("s2") },
            },
        };

        [EndToEndFact]
        public void A_ring_and_an_IPv6_line_are_tested_in_batches_with_the_same_rows_as_single_probes()
        {
            EndToEndHost.RequireReady();
            using var run = new CrashRun(_out);
            var image = Environment.GetEnvironmentVariable(ImageOverrideVariable);
            if (!string.IsNullOrEmpty(image))
            {
                var link = Path.Combine(run.Root, "images", "router");
                File.Delete(link);
                Directory.CreateSymbolicLink(link, image!);
                _out.WriteLine("router image: " + image);
            }
            try
            {
                var deployed = run.Deploy(Topology(run));
                Assert.True(deployed.Success, "deploy failed at " + deployed.Failed + ": " + deployed.Error);
                var snapshot = run.Service.Observe(CancellationToken.None);
                var networks = new[] { run.N("v4"), run.N("v6") };

                // Does this guest have the probe command (the project's image since issue 15)? An older one answers 127 and the
                // backend falls back to one ping per address: the rows must be the same either way.
                var probeAnswer = Channel(run, run.N("v1")).Run("probe", new[] { "1", "1", "127.0.0.1" }, TimeSpan.FromSeconds(30));
                bool guestBatches = probeAnswer.ExitCode != 127;
                _out.WriteLine("guest probe command: " + (guestBatches ? "yes (" + string.Join(" | ", probeAnswer.Lines) + ")" : "no (127): fallback to ping"));
                if (guestBatches)
                {
                    Assert.Equal(0, probeAnswer.ExitCode);
                    Assert.Equal(new[] { "127.0.0.1" }, probeAnswer.Lines.Select(l => l.Split(' ')[0]));
                    Assert.StartsWith("127.0.0.1 ok ", probeAnswer.Lines[0], StringComparison.Ordinal);
                    // Strict arguments: bad usage is code 2 and nothing is pinged.
                    var ch = Channel(run, run.N("v1"));
                    foreach (var bad in new[] { new[] { "0", "3", "10.0.0.1" }, new[] { "2", "31", "10.0.0.1" }, new[] { "2", "3" },
                                 new[] { "02", "3", "10.0.0.1" }, new[] { "2", "3", "10.0.0.1/31" }, new[] { "2", "3", "host.example" },
                                 new[] { "2", "3" }.Concat(Enumerable.Repeat("10.0.0.1", 65)).ToArray() })
                        Assert.Equal(2, ch.Run("probe", bad, TimeSpan.FromSeconds(30)).ExitCode);
                }

                var clock = Stopwatch.StartNew();
                var batched = NetworkTester.Run(run.Backend, snapshot, networks, null, CancellationToken.None);
                clock.Stop();
                _out.WriteLine("batched: " + batched.Summary + " " + batched);
                Assert.True(batched.Batched);
                Assert.True(batched.Passed, "batched Test-VirtualNetwork failed: " + string.Join("; ", batched.Results.Where(r => !r.Passed)
                    .Select(r => $"{r.Source} -> {r.Destination} {r.DestinationAddress} expected {r.Expected}: {r.Detail}")));
                // 3 routers x 2 addresses (IPv4) and 2 x 1 (IPv6): from each v4 router 4 own + 2 foreign, from each v6 router
                // 1 own + 6 foreign addresses.
                Assert.Equal(3 * (4 + 2) + 2 * (1 + 6), batched.ProbeCount);
                Assert.Equal(batched.ProbeCount, batched.ProbesSent);
                Assert.Equal(5, batched.SourceRouters);
                Assert.Equal(3 * 2 + 2 * 6, batched.Results.Count(r => r.Expected == ProbeExpectation.Unreachable));
                Assert.Contains(batched.Results, r => r.Expected == ProbeExpectation.Reachable && r.DestinationAddress.Contains(':'));
                Assert.All(batched.Results.Where(r => r.Reachable), r => Assert.True(r.RoundTripMilliseconds > 0, "no round trip for " + r.DestinationAddress));

                // The old path (one Probe per address, the owner's readiness checked each time) gives the same verdicts.
                var single = NetworkTester.Run(new SingleProbes(run.Backend), snapshot, networks, null, CancellationToken.None);
                _out.WriteLine("single: " + single.Summary + $" (batched took {clock.Elapsed.TotalSeconds:0.0} s)");
                Assert.False(single.Batched);
                Assert.Equal(single.Results.Select(r => r.Source + ">" + r.DestinationAddress + "=" + r.Reachable),
                    batched.Results.Select(r => r.Source + ">" + r.DestinationAddress + "=" + r.Reachable));

                // ProbeMany keeps the order, answers a repeated address twice and tells an address nobody has from one that answers.
                var v1 = run.N("v1");
                var own = snapshot.Routers.Where(r => r.NetworkName == run.N("v4") && r.Name != v1).SelectMany(r => NetworkTester.AddressesOf(snapshot, r)).ToList();
                var foreign = NetworkTester.AddressesOf(snapshot, snapshot.FindRouter(run.N("s2"))!)[0];
                var asked = new List<string> { own[0], "10.254.254.254", foreign, own[1], own[0] };
                var answers = run.Backend.ProbeMany(v1, asked, CancellationToken.None);
                Assert.Equal(new[] { true, false, false, true, true }, answers.Select(a => a.Reachable));
                Assert.Contains(guestBatches ? "no reply" : "unreachable", answers[1].Detail);
                Assert.Equal(ErrorIds.InvalidAddress, Assert.Throws<VirtualNetworksException>(() =>
                    run.Backend.ProbeMany(v1, new[] { own[0], "10.0.0.1;poweroff" }, CancellationToken.None)).ErrorId);
            }
            finally
            {
                var removed = run.Remove();
                Assert.True(removed.Success, "remove failed: " + removed.Error);
            }
        }

        private static GuestChannel Channel(CrashRun run, string router) =>
            new GuestChannel(new State.StateStore(run.Root).RunPaths(router).ChannelSocket, router);

        /// <summary>The backend seen without <see cref="Backends.IBatchProbe"/>: what Test-VirtualNetwork did before issue 15.</summary>
        private sealed class SingleProbes : Backends.IVirtualizationBackend
        {
            private readonly LinuxBackend _inner;
            public SingleProbes(LinuxBackend inner) => _inner = inner;
            public string Kind => _inner.Kind;
            public Backends.BackendCapabilities Capabilities => _inner.Capabilities;
            public ProbeResult Probe(string fromRouter, string address, CancellationToken cancellationToken) => _inner.Probe(fromRouter, address, cancellationToken);
            public BackendInventory GetInventory(CancellationToken cancellationToken) => _inner.GetInventory(cancellationToken);
            public bool ImageExists(string image, string host) => throw new NotSupportedException();
            public void CreateRouter(RouterSpec spec, CancellationToken cancellationToken) => throw new NotSupportedException();
            public void RemoveRouter(string name, CancellationToken cancellationToken) => throw new NotSupportedException();
            public void StartRouter(string name, CancellationToken cancellationToken) => throw new NotSupportedException();
            public void StopRouter(string name, bool turnOff, CancellationToken cancellationToken) => throw new NotSupportedException();
            public void SuspendRouter(string name, CancellationToken cancellationToken) => throw new NotSupportedException();
            public void ResumeRouter(string name, CancellationToken cancellationToken) => throw new NotSupportedException();
            public void ConfigureRouter(RouterConfiguration configuration, CancellationToken cancellationToken) => throw new NotSupportedException();
            public void MoveRouter(string name, string destinationHost, MigrationMode mode, IProgress<string>? progress, CancellationToken cancellationToken) => throw new NotSupportedException();
            public void CreateLink(LinkSpec spec, CancellationToken cancellationToken) => throw new NotSupportedException();
            public void RemoveLink(string name, CancellationToken cancellationToken) => throw new NotSupportedException();
            public void SetLinkBandwidth(string name, long? bitsPerSecond, CancellationToken cancellationToken) => throw new NotSupportedException();
            public void Dispose() { }
        }
    }
}
