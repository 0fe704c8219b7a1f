using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using VirtualNetworks.Backends;
using VirtualNetworks.Linux.Vm;
using Xunit;
using Xunit.Abstractions;

namespace VirtualNetworks.Linux.Tests
{
    /// <summary>
    /// The guest contract check (issue 14) with one real router of the built image: a configuration with dynamic routing
    /// and the routing reader need contract 2. On an image of contract 1 (built before BIRD) each of them fails with
    /// GuestContractTooOld naming the image; on an image of contract 2 they work. The test asks the guest which it is
    /// and checks the matching behaviour, so it holds before and after the image is rebuilt. One VM (TCG).
    /// </summary>
    [Collection(EndToEndCollection.Name)]
    public sealed class EndToEndGuestContractTests : IDisposable
    {
        private readonly ITestOutputHelper _out;
        private readonly string _root = EndToEndHost.NewStateRoot();
        private readonly string _p = EndToEndHost.NewPrefix();
        private LinuxBackend? _backend;

        public EndToEndGuestContractTests(ITestOutputHelper output) => _out = output;

        private string R => _p + "-r";
        private static CancellationToken None => CancellationToken.None;

        public void Dispose() => EndToEndHost.CleanUpOwn(_backend, _p, _root, Array.Empty<string>(), _out);

        private RouterConfiguration Config(bool ospf) => new RouterConfiguration
        {
            RouterName = R,
            Routing = ospf ? new RoutingConfiguration { RouterId = "10.255.0.1", AuthenticationKey = new string('7', 64) } : null,
        };

        private static void AssertTooOld(Action action, string router, string what)
        {
            var ex = Assert.Throws<VirtualNetworksException>(action);
            Assert.True(ex.ErrorId == ErrorIds.GuestContractTooOld, what + ": expected GuestContractTooOld, got " + ex.ErrorId + ": " + ex.Message);
            Assert.Equal(ErrorKind.NotImplemented, ex.Kind);
            Assert.Equal(router, ex.TargetName);
            Assert.Contains("'router'", ex.Message);              // the image by name
            Assert.Contains("images/router/build.sh", ex.Message); // and how to rebuild it
        }

        [EndToEndFact]
        public void Dynamic_routing_and_the_routing_reader_need_guest_contract_2()
        {
            EndToEndHost.RequireReady();
            _backend = EndToEndHost.NewBackend(_root);
            _backend.CreateRouter(new RouterSpec { Name = R, Image = "router", MemoryMB = 96 }, None);

            // Not running: the reader says so.
            var off = Assert.Throws<VirtualNetworksException>(() => _backend.GetRoutes(R, None));
            Assert.Equal(ErrorIds.RouterNotRunning, off.ErrorId);
            Assert.Equal(ErrorIds.RouterNotRunning, Assert.Throws<VirtualNetworksException>(() => _backend.GetRoutingStatus(R, None)).ErrorId);

            _backend.ConfigureRouter(Config(ospf: false), None);
            _backend.StartRouter(R, None);
            Assert.True(_backend.WaitUntilReady(R, TimeSpan.FromSeconds(120), None).Ready);
            var paths = _backend.Store.RunPaths(R);
            int contract = new GuestChannel(paths.ChannelSocket, R).WaitReady(TimeSpan.FromSeconds(30), None).Contract;
            _out.WriteLine("the image's guest contract: " + contract);
            var staticText = _backend.Store.ReadRouter(R)!.ConfigText;

            if (contract < GuestConfigText.RoutingContract)
            {
                AssertTooOld(() => _backend.GetRoutes(R, None), R, "routes on a contract-1 guest");
                AssertTooOld(() => _backend.GetRoutingStatus(R, None), R, "routing on a contract-1 guest");
                // A routing line is refused before it is pushed: the old guest would ignore it and report success.
                AssertTooOld(() => _backend.ConfigureRouter(Config(ospf: true), None), R, "configuring OSPF on a running contract-1 guest");
                Assert.Equal(staticText, _backend.Store.ReadRouter(R)!.ConfigText);
                // Configured while off, it boots with the line, and the readiness wait fails clearly instead of reporting ready.
                _backend.StopRouter(R, true, None);
                _backend.ConfigureRouter(Config(ospf: true), None);
                _backend.StartRouter(R, None);
                AssertTooOld(() => _backend.WaitUntilReady(R, TimeSpan.FromSeconds(120), None), R, "booting OSPF on a contract-1 guest");
            }
            else
            {
                var status = _backend.GetRoutingStatus(R, None);
                Assert.Equal(RoutingProtocol.Static, status.Protocol);
                Assert.All(_backend.GetRoutes(R, None), r => Assert.Equal(R, r.RouterName));
                _backend.ConfigureRouter(Config(ospf: true), None);
                Assert.Equal(RoutingProtocol.Ospf, _backend.GetRoutingStatus(R, None).Protocol);
            }
            _backend.RemoveRouter(R, None);
        }
    }
}
