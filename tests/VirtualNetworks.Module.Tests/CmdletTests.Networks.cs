using System;
using System.IO;
using System.Linq;
using System.Threading;
using Xunit;

namespace VirtualNetworks.Module.Tests
{
    /// <summary>Deploy-/Get-/Test-/Remove-/Export-VirtualNetwork on the good topology.</summary>
    public sealed class NetworkTests : ModuleTestBase
    {
        private static string Good => Fixture("good.json");

        [Fact]
        public void Deploy_CreatesAndStartsEverything_AndReportsTheChanges()
        {
            var r = DeployGood();
            var result = Assert.Single(r.Objects<DeploymentResult>());
            Assert.True(result.Changes > 0);
            Assert.Equal(new[] { "a", "b" }, result.Networks.OrderBy(n => n));
            Assert.Equal(4, Backend.LinkNames.Count);
            Assert.All(Backend.RouterNames, n => Assert.Equal(RouterState.Running, Backend.StateOf(n)));
            Assert.Contains("a1-a2", Backend.LinkNames);
            Assert.Contains("a1-a2-2", Backend.LinkNames);
            Assert.Contains("b-link", Backend.LinkNames);
            Assert.Contains("b2-b1", Backend.LinkNames);
            Assert.Equal(2, Backend.ConfigurationOf("b1")!.Interfaces.Count);
        }

        [Fact]
        public void Deploy_ThenGetVirtualNetwork_ShowsNetworksAAndB_WithTheirMembers()
        {
            DeployGood();
            var nets = RunOk("Get-VirtualNetwork").Objects<VirtualNetwork>().OrderBy(n => n.Name).ToList();
            Assert.Equal(new[] { "a", "b" }, nets.Select(n => n.Name));
            Assert.Equal(new[] { "a1", "a2" }, nets[0].Routers.OrderBy(n => n));
            Assert.Equal(new[] { "b1", "b2" }, nets[1].Routers.OrderBy(n => n));
            Assert.Equal(new[] { "a1-a2", "a1-a2-2" }, nets[0].Links.OrderBy(n => n));
            Assert.Equal(new[] { "b-link", "b2-b1" }, nets[1].Links.OrderBy(n => n));
            Assert.Equal(NetworkAddressFamily.IPv4, nets[0].AddressFamily);
            Assert.Equal(NetworkAddressFamily.IPv6, nets[1].AddressFamily);

            var links = RunOk("Get-VirtualLink").Objects<VirtualLink>().ToDictionary(l => l.Name);
            Assert.Equal(100_000_000, links["a1-a2"].MaximumBandwidth);
            Assert.Equal(10_000_000, links["a1-a2-2"].MaximumBandwidth);
            Assert.Equal(10, links["a1-a2-2"].VlanId);
            Assert.Null(links["b-link"].MaximumBandwidth);
            Assert.Equal(1_500_000, links["b2-b1"].MaximumBandwidth);
            Assert.All(links.Values, l => Assert.Equal(l.From.Substring(0, 1), l.NetworkName));
            Assert.StartsWith("fd", links["b-link"].FromAddress);
            Assert.StartsWith("10.", links["a1-a2"].FromAddress);

            Assert.Equal("b", Assert.Single(RunOk("Get-VirtualNetwork -Name B").Objects<VirtualNetwork>()).Name);
            Assert.Empty(RunOk("Get-VirtualNetwork -Name z*").Output);
            var missing = Run("Get-VirtualNetwork -Name nope");
            Assert.False(missing.HadTerminatingError, missing.Describe());
            Assert.Equal(new[] { Fqid(ErrorIds.NetworkNotFound, "GetVirtualNetworkCommand") }, missing.ErrorIds);
        }

        [Fact]
        public void Deploy_Again_ChangesNothing()
        {
            DeployGood();
            int before = Backend.MutatingCallCount;
            var r = RunOk("Deploy-VirtualNetwork -Path " + Q(Good) + " -Confirm:$false");
            Assert.Equal(0, Assert.Single(r.Objects<DeploymentResult>()).Changes);
            Assert.Equal(before, Backend.MutatingCallCount);
        }

        [Fact]
        public void Deploy_AfterDrift_RepairsOnlyWhatDrifted()
        {
            DeployGood();
            Backend.StopRouter("a2", turnOff: true, CancellationToken.None);
            Backend.SetLinkBandwidth("b2-b1", 64_000, CancellationToken.None);
            int before = Backend.MutatingCallCount;
            var r = RunOk("Deploy-VirtualNetwork -Path " + Q(Good) + " -Confirm:$false");
            Assert.Equal(2, Assert.Single(r.Objects<DeploymentResult>()).Changes);
            Assert.Equal(before + 2, Backend.MutatingCallCount);
            Assert.Equal(RouterState.Running, Backend.StateOf("a2"));
            Assert.Equal(1_500_000, Backend.BandwidthOf("b2-b1"));
        }

        [Fact]
        public void Deploy_WhatIf_PrintsThePlan_AndChangesNothing()
        {
            var r = Run("Deploy-VirtualNetwork -Path " + Q(Good) + " -WhatIf");
            Assert.False(r.HadTerminatingError, r.Describe());
            Assert.Empty(r.Errors);
            Assert.Equal(0, Backend.MutatingCallCount);
            Assert.Empty(Backend.RouterNames);
            var whatIf = r.HostLines.Where(l => l.StartsWith("What if:", StringComparison.Ordinal)).ToList();
            // 4 routers created + 4 links + 4 configurations + 4 starts.
            Assert.Equal(16, whatIf.Count);
            foreach (var target in new[] { "a1", "a2", "b1", "b2", "a1-a2", "a1-a2-2", "b-link", "b2-b1" })
                Assert.Contains(whatIf, l => l.Contains("\"" + target + "\""));
            Assert.Contains(whatIf, l => l.Contains("Create virtual router"));
            Assert.Contains(whatIf, l => l.Contains("Create virtual link"));
            Assert.Contains(whatIf, l => l.Contains("Start virtual router"));
        }

        [Fact]
        public void Deploy_PassesTheRouterSettingsThrough()
        {
            DeployGood();
            var routers = RunOk("Get-VirtualRouter").Objects<VirtualRouter>().ToDictionary(v => v.Name);
            Assert.Equal(2, routers["b1"].ProcessorCount);
            Assert.Equal(128, routers["a1"].MemoryMB);
            Assert.Equal("a", routers["a1"].NetworkLabel);
            Assert.Equal("a", routers["a1"].NetworkName);
            Assert.Equal(NetworkAddressFamily.IPv6, routers["b2"].AddressFamily);
            Assert.Equal(new[] { "a1-a2", "a1-a2-2" }, routers["a1"].Links.OrderBy(n => n));
            Assert.Equal(2, routers["a1"].Addresses.Count);
        }

        [Fact]
        public void Test_OnTheDeployedNetworks_Passes()
        {
            DeployGood();
            var r = RunOk("Test-VirtualNetwork");
            var report = Assert.Single(r.Objects<VirtualNetworkTestReport>());
            Assert.True(report.Passed, report.ToString() + " " + string.Join("; ", report.Results.Where(x => !x.Passed).Select(x => x.Source + "->" + x.DestinationAddress + ": " + x.Detail)));
            Assert.True(report.ProbeCount > 0);
            Assert.Contains(report.Results, x => x.Expected == ProbeExpectation.Reachable);
            Assert.Contains(report.Results, x => x.Expected == ProbeExpectation.Unreachable);
            Assert.Equal(new[] { "a", "b" }, report.Networks.OrderBy(n => n));
        }

        [Fact]
        public void Test_Verbose_GivesTheSummary_ProbesSentAndDuration()
        {
            DeployGood();
            var r = RunOk("Test-VirtualNetwork -Verbose");
            var report = Assert.Single(r.Objects<VirtualNetworkTestReport>());
            Assert.Equal(report.ProbeCount, report.ProbesSent); // nothing partitioned, no address missing: every row probed once
            Assert.Equal(Backend.CallCount(nameof(InMemoryBackend.Probe)), report.ProbesSent);
            Assert.False(report.Batched); // the in-memory backend has no IBatchProbe
            var summary = Assert.Single(r.Verbose.Select(v => v.Message), m => m.StartsWith(report.ProbesSent + " probe(s) from ", StringComparison.Ordinal));
            Assert.Equal(report.Summary, summary);
            Assert.Contains(" router(s) in ", summary);
            Assert.EndsWith("(one probe per request); " + report.PassedCount + "/" + report.ProbeCount + " rows as expected.", summary);
        }

        [Fact]
        public void Test_DoesNotChangeAnything()
        {
            DeployGood();
            int before = Backend.MutatingCallCount;
            RunOk("Test-VirtualNetwork");
            Assert.Equal(before, Backend.MutatingCallCount);
            Assert.True(Backend.CallCount(nameof(InMemoryBackend.Probe)) > 0, "Test-VirtualNetwork must probe through the backend");
        }

        [Fact]
        public void Test_OneNetworkByName()
        {
            DeployGood();
            var report = Assert.Single(RunOk("Test-VirtualNetwork -Name a").Objects<VirtualNetworkTestReport>());
            Assert.True(report.Passed, report.ToString());
            Assert.Equal(new[] { "a" }, report.Networks);
            Assert.All(report.Results, x => Assert.Equal("a", x.SourceNetwork));
        }

        [Fact]
        public void Test_WithASuspendedRouter_ReportsReachabilityFailed()
        {
            DeployGood();
            RunOk("Suspend-VirtualRouter -Name a2");
            var r = Run("Test-VirtualNetwork");
            Assert.False(r.HadTerminatingError, r.Describe());
            var id = Fqid(ErrorIds.ReachabilityFailed, "TestVirtualNetworkCommand");
            Assert.NotEmpty(r.Errors);
            Assert.All(r.ErrorIds, e => Assert.Equal(id, e));
            var report = Assert.Single(r.Objects<VirtualNetworkTestReport>());
            Assert.False(report.Passed);
            Assert.True(report.ReachabilityFailures > 0);
            Assert.Equal(0, report.IsolationFailures);
            Assert.All(report.Results.Where(x => !x.Passed), x => Assert.True(x.Source == "a2" || x.Destination == "a2",
                "unexpected failure " + x.Source + " -> " + x.Destination));
            Assert.All(report.Results.Where(x => x.SourceNetwork == "b"), x => Assert.True(x.Passed));

            RunOk("Resume-VirtualRouter -Name a2");
            Assert.True(Assert.Single(RunOk("Test-VirtualNetwork").Objects<VirtualNetworkTestReport>()).Passed);
        }

        [Fact]
        public void Test_UnknownNetwork_IsNetworkNotFound()
        {
            DeployGood();
            AssertFails(Run("Test-VirtualNetwork -Name nope"), Fqid(ErrorIds.NetworkNotFound, "TestVirtualNetworkCommand"));
        }

        [Fact]
        public void Remove_AllNetworks_LeavesTheBackendEmpty()
        {
            DeployGood();
            RunOk("Get-VirtualNetwork | Remove-VirtualNetwork -Confirm:$false");
            Assert.Empty(Backend.RouterNames);
            Assert.Empty(Backend.LinkNames);
            Assert.Empty(RunOk("Get-VirtualNetwork").Output);
        }

        [Fact]
        public void Remove_OneNetwork_LeavesTheOther()
        {
            DeployGood();
            RunOk("Remove-VirtualNetwork -Name a -Confirm:$false");
            Assert.Equal(new[] { "b1", "b2" }, Backend.RouterNames);
            Assert.Equal(new[] { "b-link", "b2-b1" }, Backend.LinkNames);
        }

        [Fact]
        public void Remove_WhatIf_PrintsEveryStep_AndChangesNothing()
        {
            DeployGood();
            int before = Backend.MutatingCallCount;
            var r = RunOk("Remove-VirtualNetwork -Name a, b -WhatIf");
            Assert.Equal(before, Backend.MutatingCallCount);
            Assert.Equal(8, r.HostLines.Count(l => l.StartsWith("What if:", StringComparison.Ordinal)));
        }

        [Fact]
        public void Remove_UnknownNetwork_IsNonTerminatingNetworkNotFound()
        {
            DeployGood();
            int before = Backend.MutatingCallCount;
            var r = Run("Remove-VirtualNetwork -Name nope -Confirm:$false");
            Assert.False(r.HadTerminatingError, r.Describe());
            Assert.Equal(new[] { Fqid(ErrorIds.NetworkNotFound, "RemoveVirtualNetworkCommand") }, r.ErrorIds);
            Assert.Equal(before, Backend.MutatingCallCount);
        }

        [Fact]
        public void ExportJson_RoundTrips_ToAFreshBackend()
        {
            DeployGood();
            var file = Path.Combine(TempDirectory(), "exported.json");
            RunOk("Export-VirtualNetwork -Format Json -Path " + Q(file));
            Assert.True(File.Exists(file), "Export-VirtualNetwork -Path wrote no file");

            var first = Backend.GetInventory(CancellationToken.None);
            Backend = new InMemoryBackend();
            RunOk("Deploy-VirtualNetwork -Path " + Q(file) + " -Confirm:$false");
            var second = Backend.GetInventory(CancellationToken.None);

            string R(VirtualRouter v) => $"{v.Name}|{v.Image}|{v.ProcessorCount}|{v.MemoryMB}|{v.AddressFamily}|{v.NetworkLabel}|{v.State}";
            string L(VirtualLink l) => $"{l.Name}|{l.From}|{l.To}|{l.MaximumBandwidth}|{l.VlanId}|{l.FromAddress}|{l.ToAddress}";
            Assert.Equal(first.Routers.Select(R).OrderBy(x => x), second.Routers.Select(R).OrderBy(x => x));
            Assert.Equal(first.Links.Select(L).OrderBy(x => x), second.Links.Select(L).OrderBy(x => x));

            // And the exported file deploys onto the original state as a no-op.
            Assert.Equal(0, Assert.Single(RunOk("Deploy-VirtualNetwork -Path " + Q(file) + " -Confirm:$false").Objects<DeploymentResult>()).Changes);
        }

        [Fact]
        public void ExportJson_OfOneNetwork_HoldsOnlyIt()
        {
            DeployGood();
            var file = Path.Combine(TempDirectory(), "a.json");
            RunOk("Export-VirtualNetwork -Name a -Format Json -Path " + Q(file));
            var text = File.ReadAllText(file);
            Assert.Contains("\"a1\"", text);
            Assert.DoesNotContain("\"b1\"", text);
            Backend = new InMemoryBackend();
            RunOk("Deploy-VirtualNetwork -Path " + Q(file) + " -Confirm:$false");
            Assert.Equal(new[] { "a1", "a2" }, Backend.RouterNames);
        }

        [Theory]
        [InlineData("Dot", "graph")]
        [InlineData("Mermaid", "graph")]
        public void ExportDiagrams_NameEveryRouter(string format, string keyword)
        {
            DeployGood();
            var file = Path.Combine(TempDirectory(), "net." + format.ToLowerInvariant());
            RunOk("Export-VirtualNetwork -Format " + format + " -Path " + Q(file));
            var text = File.ReadAllText(file);
            Assert.Contains(keyword, text);
            foreach (var router in new[] { "a1", "a2", "b1", "b2" }) Assert.Contains(router, text);

            // Without -Path the text goes to the pipeline.
            var piped = string.Join("\n", RunOk("Export-VirtualNetwork -Format " + format).Output.Select(o => o.ToString()));
            foreach (var router in new[] { "a1", "a2", "b1", "b2" }) Assert.Contains(router, piped);
        }

        [Fact]
        public void Export_DoesNotChangeAnything()
        {
            DeployGood();
            int before = Backend.MutatingCallCount;
            RunOk("Export-VirtualNetwork -Format Json");
            Assert.Equal(before, Backend.MutatingCallCount);
        }

        [Fact]
        public void Test_Quiet_ReturnsABoolean()
        {
            DeployGood();
            Assert.Equal(new object[] { true }, RunOk("Test-VirtualNetwork -Quiet").Output.Select(o => o.BaseObject));
            RunOk("Suspend-VirtualRouter -Name b1");
            var r = Run("Test-VirtualNetwork -Quiet");
            Assert.Equal(new object[] { false }, r.Output.Select(o => o.BaseObject));
        }

        [Fact]
        public void Test_NetworksFromThePipeline_GiveOneReport()
        {
            DeployGood();
            var reports = RunOk("Get-VirtualNetwork | Test-VirtualNetwork").Objects<VirtualNetworkTestReport>();
            var report = Assert.Single(reports);
            Assert.Equal(new[] { "a", "b" }, report.Networks.OrderBy(n => n));
        }

        [Fact]
        public void Remove_AsksOncePerNetwork_ByDefault()
        {
            DeployGood();
            int before = Backend.MutatingCallCount;
            var r = Run("Remove-VirtualNetwork -Name a, b");
            Assert.Equal(2, r.Prompts.Count);
            Assert.Equal(before, Backend.MutatingCallCount); // the test host answers No
        }

        [Fact]
        public void Remove_PassThru_ReturnsTheRemovedNetworks()
        {
            DeployGood();
            var gone = RunOk("Remove-VirtualNetwork -Name b -Confirm:$false -PassThru").Objects<VirtualNetwork>();
            Assert.Equal("b", Assert.Single(gone).Name);
        }

        [Fact]
        public void Export_NoClobber_RefusesAnExistingFile()
        {
            DeployGood();
            var file = Path.Combine(TempDirectory(), "exists.json");
            File.WriteAllText(file, "keep me");
            var r = Run("Export-VirtualNetwork -Path " + Q(file) + " -NoClobber");
            AssertFails(r, Fqid(ErrorIds.ExportFailed, "ExportVirtualNetworkCommand"));
            Assert.Equal("keep me", File.ReadAllText(file));
        }

        [Fact]
        public void Export_UnknownNetwork_IsNetworkNotFound()
        {
            DeployGood();
            AssertFails(Run("Export-VirtualNetwork -Name nope"), Fqid(ErrorIds.NetworkNotFound, "ExportVirtualNetworkCommand"));
        }
    }
}
