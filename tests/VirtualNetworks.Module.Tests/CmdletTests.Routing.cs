using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using VirtualNetworks.Backends;
using Xunit;

namespace VirtualNetworks.Module.Tests
{
    /// <summary>Issue 14: OSPF networks, link state (Disable-/Enable-VirtualLink), Get-VirtualRoute, Get-VirtualRoutingStatus, Test-VirtualNetwork convergence.</summary>
    public sealed class RoutingCmdletTests : ModuleTestBase
    {
        private static string Ring(string networks, string linkState = "") => @"{
  ""defaults"": { ""network"": ""ring"" },
  ""routers"": [ { ""name"": ""r1"" }, { ""name"": ""r2"" }, { ""name"": ""r3"" }, { ""name"": ""r4"" } ],
  ""links"": [ { ""from"": ""r1"", ""to"": ""r2"" " + linkState + @"}, { ""from"": ""r2"", ""to"": ""r3"" }, { ""from"": ""r3"", ""to"": ""r4"" }, { ""from"": ""r4"", ""to"": ""r1"" } ],
  ""networks"": [ " + networks + @" ]
}";

        private const string Ospf = @"{ ""name"": ""ring"", ""routing"": ""ospf"", ""bfd"": true }";
        private const string Static = @"{ ""name"": ""ring"", ""routing"": ""static"" }";

        private string WriteTopology(string json)
        {
            var dir = Path.Combine(Path.GetTempPath(), "vn-routing-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(dir);
            var file = Path.Combine(dir, "t.json");
            File.WriteAllText(file, json);
            return file;
        }

        private DeploymentResult Deploy(string json) =>
            Assert.Single(RunOk("Deploy-VirtualNetwork -Path " + Q(WriteTopology(json)) + " -Confirm:$false").Objects<DeploymentResult>());

        private RoutingConfiguration RoutingOf(string router) => Backend.ConfigurationOf(router)!.Routing!;

        // ================================================================================================ deploy and planning

        [Fact]
        public void Deploy_OspfRing_ConfiguresOspf_WithoutStaticRoutes_UniqueIds_OneKey_AndAgainChangesNothing()
        {
            Deploy(Ring(Ospf));
            var configs = new[] { "r1", "r2", "r3", "r4" }.Select(r => Backend.ConfigurationOf(r)!).ToList();
            Assert.All(configs, c => Assert.Empty(c.Routes));
            Assert.All(configs, c => Assert.NotNull(c.Routing));
            Assert.Equal(4, configs.Select(c => c.Routing!.RouterId).Distinct().Count());
            Assert.Single(configs.Select(c => c.Routing!.AuthenticationKey).Distinct());
            Assert.Matches("^[0-9a-f]{64}$", configs[0].Routing!.AuthenticationKey);
            Assert.All(configs, c => Assert.True(c.Routing!.Bfd));

            var again = Deploy(Ring(Ospf));
            Assert.Equal(0, again.Changes);
            // Without the networks entry the network keeps what it runs (derived from the applied configurations).
            var without = Deploy(Ring(""));
            Assert.Equal(0, without.Changes);
            Assert.NotNull(RoutingOf("r1"));
        }

        [Fact]
        public void Deploy_StaticEntry_TurnsOspfOff_AndStaticRoutesComeBack()
        {
            Deploy(Ring(Ospf));
            var result = Deploy(Ring(Static));
            Assert.Equal(4, result.Changes);
            Assert.Null(Backend.ConfigurationOf("r1")!.Routing);
            Assert.NotEmpty(Backend.ConfigurationOf("r1")!.Routes);
        }

        [Fact]
        public void InteractiveCommands_KeepOspf_FromTheAppliedConfigurations()
        {
            Deploy(Ring(Ospf));
            var ids = new[] { "r1", "r2", "r3", "r4" }.ToDictionary(r => r, r => RoutingOf(r).RouterId);
            RunOk("$null = New-VirtualRouter -Name r5 -Network ring; $null = New-VirtualLink -From r4 -To r5");
            Assert.NotNull(RoutingOf("r5"));
            Assert.Empty(Backend.ConfigurationOf("r5")!.Routes);
            Assert.Equal(RoutingOf("r1").AuthenticationKey, RoutingOf("r5").AuthenticationKey);
            // Router ids of the routers that were there stay as they were.
            Assert.All(ids, kv => Assert.Equal(kv.Value, RoutingOf(kv.Key).RouterId));

            RunOk("Remove-VirtualLink -Name r1-r2 -Confirm:$false");
            Assert.NotNull(RoutingOf("r1"));
            Assert.Empty(Backend.ConfigurationOf("r1")!.Routes);
            // A re-deploy of the file without r1-r2 and r5 (which the deploy leaves alone) changes nothing.
            Assert.Equal(0, Deploy(Ring(Ospf).Replace(@"{ ""from"": ""r1"", ""to"": ""r2"" }, ", "")).Changes);
        }

        [Fact]
        public void Deploy_TwoNetworks_GetDifferentKeys_AndStayIsolated()
        {
            Deploy(@"{ ""routers"": [ { ""name"": ""a1"", ""network"": ""a"" }, { ""name"": ""a2"", ""network"": ""a"" },
                                     { ""name"": ""b1"", ""network"": ""b"" }, { ""name"": ""b2"", ""network"": ""b"" } ],
                       ""links"": [ { ""from"": ""a1"", ""to"": ""a2"" }, { ""from"": ""b1"", ""to"": ""b2"" } ],
                       ""networks"": [ { ""name"": ""a"", ""routing"": ""ospf"" }, { ""name"": ""b"", ""routing"": ""ospf"" } ] }");
            Assert.NotEqual(RoutingOf("a1").AuthenticationKey, RoutingOf("b1").AuthenticationKey);
            var report = Assert.Single(RunOk("Test-VirtualNetwork").Objects<VirtualNetworkTestReport>());
            Assert.True(report.Passed, report.ToString());
            Assert.True(report.Results.Any(r => r.Expected == ProbeExpectation.Unreachable));
        }

        [Fact]
        public void Deploy_EntryNamingNoNetwork_IsNetworkEntryNotFound_AndTouchesNothing()
        {
            var r = Run("Deploy-VirtualNetwork -Path " + Q(WriteTopology(Ring(@"{ ""name"": ""rign"", ""routing"": ""ospf"" }"))) + " -Confirm:$false");
            AssertError(r, Fqid(ErrorIds.NetworkEntryNotFound, "DeployVirtualNetworkCommand"), terminating: true);
            Assert.Contains("ring", r.TerminatingError!.Exception.Message);
            Assert.Contains("networks[0]", r.TerminatingError!.Exception.Message);
            Assert.Equal(0, Backend.MutatingCallCount);
        }

        [Fact]
        public void Deploy_BfdWithStatic_IsBfdWithoutOspf_BeforeABackendIsTouched()
        {
            var r = Run("Deploy-VirtualNetwork -Path " + Q(WriteTopology(Ring(@"{ ""name"": ""ring"", ""bfd"": true }"))) + " -Confirm:$false");
            AssertError(r, Fqid(ErrorIds.BfdWithoutOspf, "DeployVirtualNetworkCommand"), terminating: true);
            Assert.Equal(0, Backend.MutatingCallCount);
        }

        // ================================================================================================ link state

        [Fact]
        public void Deploy_DeclaredState_SetsItRightAfterCreation_AgainNothing_ThenUpIsOneChange()
        {
            var whatIf = RunOk("Deploy-VirtualNetwork -Path " + Q(WriteTopology(Ring(Ospf, @", ""state"": ""cablePulled"" "))) + " -WhatIf");
            Assert.Contains(whatIf.HostLines, line => line.Contains("Disable virtual link (cable pulled)") && line.Contains("r1-r2"));
            Assert.Equal(0, Backend.MutatingCallCount);

            Deploy(Ring(Ospf, @", ""state"": ""cablePulled"" "));
            Assert.Equal(LinkState.CablePulled, Backend.LinkStateOf("r1-r2"));
            var calls = Backend.Calls.ToList();
            Assert.Equal(calls.IndexOf("CreateLink r1-r2") + 1, calls.IndexOf("SetLinkState r1-r2 CablePulled"));
            Assert.Equal(0, Deploy(Ring(Ospf, @", ""state"": ""cablePulled"" ")).Changes);
            Assert.Equal(0, Deploy(Ring(Ospf)).Changes); // undeclared: keeps the observed state
            Assert.Equal(LinkState.CablePulled, Backend.LinkStateOf("r1-r2"));
            Assert.Equal(1, Deploy(Ring(Ospf, @", ""state"": ""up"" ")).Changes);
            Assert.Equal(LinkState.Up, Backend.LinkStateOf("r1-r2"));
        }

        [Fact]
        public void DisableEnable_ByName_Pipeline_PassThru_AndGetShowsState()
        {
            Deploy(Ring(Ospf));
            Assert.Empty(RunOk("Disable-VirtualLink -Name r1-r2").Objects<VirtualLink>());
            Assert.Equal(LinkState.CablePulled, Backend.LinkStateOf("r1-r2"));
            var silent = Assert.Single(RunOk("Get-VirtualLink r2-r3 | Disable-VirtualLink -Failure Silent -PassThru").Objects<VirtualLink>());
            Assert.Equal(LinkState.Silent, silent.State);
            Assert.Equal(LinkState.Silent, Assert.Single(RunOk("Get-VirtualLink r2-r3").Objects<VirtualLink>()).State);
            var enabled = RunOk("'r1-r2', 'r2-r3' | Enable-VirtualLink -PassThru").Objects<VirtualLink>();
            Assert.All(enabled, l => Assert.Equal(LinkState.Up, l.State));
            Assert.Equal(2, enabled.Count);
            Assert.Equal(LinkState.Up, Backend.LinkStateOf("r2-r3"));
        }

        [Fact]
        public void Disable_WhatIf_ChangesNothing_AndUnknownLinkIsLinkNotFound()
        {
            Deploy(Ring(Ospf));
            int before = Backend.MutatingCallCount;
            var w = RunOk("Disable-VirtualLink -Name r1-* -WhatIf");
            Assert.Contains(w.HostLines, line => line.Contains("r1-r2") && line.Contains("cable pulled"));
            Assert.Equal(before, Backend.MutatingCallCount);
            var r = Run("Disable-VirtualLink -Name nope, r1-r2");
            AssertError(r, Fqid(ErrorIds.LinkNotFound, "DisableVirtualLinkCommand"), terminating: false);
            Assert.Equal(LinkState.CablePulled, Backend.LinkStateOf("r1-r2"));
            var up = Run("Disable-VirtualLink -Name r1-r2 -Failure Up");
            Assert.True(up.HadTerminatingError || up.Errors.Count > 0);
        }

        [Fact]
        public void LinkState_OnABackendWithoutIt_IsOperationNotSupported()
        {
            Deploy(Ring(Static));
            BackendRegistry.TestOverride = _ => new PlainBackend(Backend);
            AssertError(Run("Disable-VirtualLink -Name r1-r2"), Fqid(ErrorIds.OperationNotSupported, "DisableVirtualLinkCommand"), terminating: false);
            AssertError(Run("Enable-VirtualLink -Name r1-r2"), Fqid(ErrorIds.OperationNotSupported, "EnableVirtualLinkCommand"), terminating: false);
            AssertError(Run("Get-VirtualRoute r1"), Fqid(ErrorIds.OperationNotSupported, "GetVirtualRouteCommand"), terminating: false);
            AssertError(Run("Get-VirtualRoutingStatus r1"), Fqid(ErrorIds.OperationNotSupported, "GetVirtualRoutingStatusCommand"), terminating: false);
            var d = Run("Deploy-VirtualNetwork -Path " + Q(WriteTopology(Ring(Static, @", ""state"": ""silent"" "))) + " -Confirm:$false");
            AssertError(d, Fqid(ErrorIds.OperationNotSupported, "DeployVirtualNetworkCommand"), terminating: true);
            Assert.Equal(LinkState.Up, Backend.LinkStateOf("r1-r2"));
        }

        [Fact]
        public void Export_OfTheObservedState_WritesRoutingAndDisabledLinks_AndRedeployChangesNothing()
        {
            Deploy(Ring(@"{ ""name"": ""ring"", ""routing"": ""ospf"", ""bfd"": true, ""bfdMultiplier"": 3 }"));
            RunOk("Disable-VirtualLink -Name r3-r4 -Failure Silent");
            var file = Path.Combine(Path.GetDirectoryName(WriteTopology("{}"))!, "export.json");
            RunOk("Export-VirtualNetwork -Path " + Q(file));
            var text = File.ReadAllText(file);
            Assert.Contains("\"state\": \"silent\"", text);
            Assert.Contains("\"routing\": \"ospf\"", text);
            Assert.Contains("\"bfdMultiplier\": 3", text);
            var again = Assert.Single(RunOk("Deploy-VirtualNetwork -Path " + Q(file) + " -Confirm:$false").Objects<DeploymentResult>());
            Assert.Equal(0, again.Changes);

            // On an empty backend the exported file rebuilds the same thing.
            Backend = new InMemoryBackend();
            RunOk("Deploy-VirtualNetwork -Path " + Q(file) + " -Confirm:$false");
            Assert.Equal(LinkState.Silent, Backend.LinkStateOf("r3-r4"));
            Assert.Equal(3, RoutingOf("r1").BfdMultiplier);
        }

        [Fact]
        public void Export_Dot_DrawsDisabledLinksDotted()
        {
            Deploy(Ring(Static));
            RunOk("Disable-VirtualLink -Name r1-r2");
            var dot = string.Join("\n", RunOk("Export-VirtualNetwork -Format Dot").Objects<string>());
            var line = dot.Split('\n').Single(l => l.Contains("r1-r2"));
            Assert.Contains("style=\"dotted\"", line);
            Assert.Contains("DOWN (cable pulled)", line);
            Assert.DoesNotContain("dotted", dot.Split('\n').Single(l => l.Contains("r2-r3")));
        }

        // ================================================================================================ routes and status

        [Fact]
        public void GetVirtualRoute_ReadsOspfRoutes_Filters_AndBindsRoutersFromThePipeline()
        {
            Deploy(Ring(Ospf));
            var routes = RunOk("Get-VirtualRoute -RouterName r1").Objects<VirtualRoute>();
            Assert.Equal(2, routes.Count(r => r.Protocol == "connected"));
            Assert.Equal(2, routes.Count(r => r.Protocol == "ospf"));
            Assert.All(routes, r => Assert.Equal("r1", r.RouterName));
            var ospf = RunOk("Get-VirtualRoute r1 -Protocol OSPF -AddressFamily IPv4").Objects<VirtualRoute>();
            Assert.Equal(2, ospf.Count);
            Assert.All(ospf, r => Assert.NotNull(r.NextHop));
            Assert.Empty(RunOk("Get-VirtualRoute r1 -AddressFamily IPv6").Objects<VirtualRoute>());
            var all = RunOk("Get-VirtualRouter | Get-VirtualRoute -Protocol ospf").Objects<VirtualRoute>();
            Assert.Equal(new[] { "r1", "r2", "r3", "r4" }, all.Select(r => r.RouterName).Distinct().OrderBy(n => n));

            RunOk("Stop-VirtualRouter -Name r2 -TurnOff -Confirm:$false");
            var stopped = Run("Get-VirtualRoute r2, r3");
            AssertError(stopped, Fqid(ErrorIds.RouterNotRunning, "GetVirtualRouteCommand"), terminating: false);
            Assert.NotEmpty(stopped.Objects<VirtualRoute>()); // r3 still answered
            AssertError(Run("Get-VirtualRoute nope"), Fqid(ErrorIds.RouterNotFound, "GetVirtualRouteCommand"), terminating: false);
        }

        [Fact]
        public void GetVirtualRoutingStatus_ShowsNeighbors_AndCountsChanges()
        {
            Deploy(Ring(Ospf));
            var status = Assert.Single(RunOk("Get-VirtualRoutingStatus -RouterName r1").Objects<RoutingStatus>());
            Assert.Equal(RoutingProtocol.Ospf, status.Protocol);
            Assert.Equal(2, status.Neighbors.Count);
            Assert.All(status.Neighbors, n => Assert.Equal("full", n.State));
            Assert.Equal(new[] { RoutingOf("r2").RouterId, RoutingOf("r4").RouterId }.OrderBy(x => x), status.Neighbors.Select(n => n.RouterId).OrderBy(x => x));
            Assert.Equal(2, status.BfdSessions.Count);
            RunOk("Disable-VirtualLink r1-r2");
            var after = Assert.Single(RunOk("Get-VirtualRouter r1 | Get-VirtualRoutingStatus").Objects<RoutingStatus>());
            Assert.Single(after.Neighbors);
            Assert.Equal(1, after.NeighborStateChanges);
            Assert.Equal(1, after.BfdSessionDowns);
        }

        // ================================================================================================ Test-VirtualNetwork

        [Fact]
        public void Test_OspfRing_ReroutesAroundADisabledLink()
        {
            Deploy(Ring(Ospf));
            RunOk("Disable-VirtualLink r1-r2");
            var report = Assert.Single(RunOk("Test-VirtualNetwork").Objects<VirtualNetworkTestReport>());
            Assert.True(report.Passed, report.ToString());
            Assert.Equal(0, report.PartitionedCount - report.Results.Count(r => r.Detail == Engine.NetworkTester.DisabledLinkDetail));
        }

        [Fact]
        public void Test_StaticRing_WithADisabledLink_IsAReachabilityFailure_NotNotConverged()
        {
            Deploy(Ring(Static));
            RunOk("Disable-VirtualLink r1-r2");
            var r = Run("Test-VirtualNetwork");
            var report = Assert.Single(r.Objects<VirtualNetworkTestReport>());
            Assert.True(report.ReachabilityFailures > 0);
            Assert.Equal(0, report.ConvergenceFailures);
            Assert.Contains(Fqid(ErrorIds.ReachabilityFailed, "TestVirtualNetworkCommand"), r.ErrorIds);
            Assert.DoesNotContain(Fqid(ErrorIds.RoutingNotConverged, "TestVirtualNetworkCommand"), r.ErrorIds);
        }

        [Fact]
        public void Test_APartitionedNetwork_IsNoFailure()
        {
            Deploy(Ring(Ospf));
            RunOk("Disable-VirtualLink r1-r2, r3-r4");
            var report = Assert.Single(RunOk("Test-VirtualNetwork").Objects<VirtualNetworkTestReport>());
            Assert.True(report.Passed, report.ToString());
            Assert.Contains(report.Results, r => r.Source == "r1" && r.Destination == "r2" && r.Outcome == ProbeOutcome.Partitioned);
            Assert.True(report.PartitionedCount > 0);
        }

        [Fact]
        public void Test_NotConverged_IsDistinct_AndTheWaitSeesItConverge()
        {
            Deploy(Ring(Ospf));
            Backend.ConvergenceDelay = TimeSpan.FromSeconds(2);
            RunOk("Disable-VirtualLink r1-r2 -Failure Silent");
            var r = Run("Test-VirtualNetwork");
            var report = Assert.Single(r.Objects<VirtualNetworkTestReport>());
            Assert.False(report.Passed);
            Assert.True(report.ConvergenceFailures > 0);
            Assert.Equal(0, report.ReachabilityFailures);
            Assert.Contains(report.Results, x => x.Outcome == ProbeOutcome.NotConverged && x.NotConverged);
            Assert.Contains(Fqid(ErrorIds.RoutingNotConverged, "TestVirtualNetworkCommand"), r.ErrorIds);
            Assert.DoesNotContain(Fqid(ErrorIds.ReachabilityFailed, "TestVirtualNetworkCommand"), r.ErrorIds);

            var waited = Assert.Single(RunOk("Test-VirtualNetwork -ConvergenceTimeoutSec 20").Objects<VirtualNetworkTestReport>());
            Assert.True(waited.Passed, waited.ToString());
            Assert.NotNull(waited.ConvergenceTime);
            Assert.False(waited.ConvergenceTimedOut);
        }

        [Fact]
        public void Test_ConvergenceWait_IsBounded()
        {
            Deploy(Ring(Ospf));
            Backend.ConvergenceDelay = TimeSpan.FromSeconds(60);
            RunOk("Disable-VirtualLink r1-r2 -Failure Silent");
            var started = DateTime.UtcNow;
            var report = Assert.Single(Run("Test-VirtualNetwork -ConvergenceTimeoutSec 1").Objects<VirtualNetworkTestReport>());
            Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(20));
            Assert.True(report.ConvergenceTimedOut);
            Assert.Null(report.ConvergenceTime);
            Assert.True(report.ConvergenceFailures > 0);
            AssertError(Run("Test-VirtualNetwork -ConvergenceTimeoutSec 99999"), "ParameterArgumentValidationError,VirtualNetworks.Commands.TestVirtualNetworkCommand", terminating: true);
        }

        private sealed class PlainBackend : IVirtualizationBackend
        {
            private readonly InMemoryBackend _b;
            public PlainBackend(InMemoryBackend b) { _b = b; }
            public string Kind => _b.Kind;
            public BackendCapabilities Capabilities => _b.Capabilities;
            public BackendInventory GetInventory(CancellationToken ct) => _b.GetInventory(ct);
            public bool ImageExists(string image, string host) => _b.ImageExists(image, host);
            public void CreateRouter(RouterSpec spec, CancellationToken ct) => _b.CreateRouter(spec, ct);
            public void RemoveRouter(string name, CancellationToken ct) => _b.RemoveRouter(name, ct);
            public void StartRouter(string name, CancellationToken ct) => _b.StartRouter(name, ct);
            public void StopRouter(string name, bool turnOff, CancellationToken ct) => _b.StopRouter(name, turnOff, ct);
            public void SuspendRouter(string name, CancellationToken ct) => _b.SuspendRouter(name, ct);
            public void ResumeRouter(string name, CancellationToken ct) => _b.ResumeRouter(name, ct);
            public void ConfigureRouter(RouterConfiguration configuration, CancellationToken ct) => _b.ConfigureRouter(configuration, ct);
            public void MoveRouter(string name, string destinationHost, MigrationMode mode, IProgress<string>? progress, CancellationToken ct) =>
                _b.MoveRouter(name, destinationHost, mode, progress, ct);
            public void CreateLink(LinkSpec spec, CancellationToken ct) => _b.CreateLink(spec, ct);
            public void RemoveLink(string name, CancellationToken ct) => _b.RemoveLink(name, ct);
            public void SetLinkBandwidth(string name, long? bitsPerSecond, CancellationToken ct) => _b.SetLinkBandwidth(name, bitsPerSecond, ct);
            public ProbeResult Probe(string fromRouter, string address, CancellationToken ct) => _b.Probe(fromRouter, address, ct);
            public void Dispose() => _b.Dispose();
        }
    }
}
