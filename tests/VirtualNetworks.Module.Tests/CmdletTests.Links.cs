using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using Xunit;

namespace VirtualNetworks.Module.Tests
{
    /// <summary>New-/Get-/Set-/Remove-VirtualLink and the isolation guard.</summary>
    public sealed class LinkTests : ModuleTestBase
    {
        private void Routers(params string[] names) =>
            RunOk(string.Join("; ", names.Select(n => "$null = New-VirtualRouter -Name " + Q(n))));

        private void Chain()
        {
            Routers("r1", "r2", "r3");
            RunOk("$null = New-VirtualLink -From r1 -To r2; $null = New-VirtualLink -From r2 -To r3 -MaximumBandwidth 10Mbps");
        }

        [Fact]
        public void New_CreatesTheLink_NamedFromTo_WithAddressesOnBothEnds()
        {
            Routers("r1", "r2");
            var r = RunOk("New-VirtualLink -From r1 -To r2");
            var link = Assert.Single(r.Objects<VirtualLink>());
            Assert.Equal("r1-r2", link.Name);
            Assert.Equal("r1", link.From);
            Assert.Equal("r2", link.To);
            Assert.Null(link.MaximumBandwidth);
            Assert.Equal(new[] { "r1-r2" }, Backend.LinkNames);

            var seen = Assert.Single(RunOk("Get-VirtualLink r1-r2").Objects<VirtualLink>());
            Assert.False(string.IsNullOrEmpty(seen.FromAddress), "the engine configures addresses after a new link");
            Assert.False(string.IsNullOrEmpty(seen.ToAddress));
            Assert.Equal(LinkTransport.Bridge, seen.Transport);
            Assert.Equal(seen.NetworkName, Assert.Single(RunOk("Get-VirtualRouter r1").Objects<VirtualRouter>()).NetworkName);
        }

        [Fact]
        public void New_WithNameBandwidthAndVlan()
        {
            Routers("r1", "r2");
            var link = Assert.Single(RunOk("New-VirtualLink -Name uplink -From r1 -To r2 -MaximumBandwidth 10Mbps -VlanId 42").Objects<VirtualLink>());
            Assert.Equal("uplink", link.Name);
            Assert.Equal(10_000_000, link.MaximumBandwidth);
            Assert.Equal(42, link.VlanId);
            Assert.Equal(10_000_000, Backend.BandwidthOf("uplink"));
        }

        [Fact]
        public void New_SecondLinkBetweenTheSameRouters_GetsASuffix()
        {
            Routers("r1", "r2");
            RunOk("$null = New-VirtualLink -From r1 -To r2");
            var second = Assert.Single(RunOk("New-VirtualLink -From r1 -To r2").Objects<VirtualLink>());
            Assert.Equal("r1-r2-2", second.Name);
        }

        [Fact]
        public void New_ToAMissingRouter_FailsAndCreatesNothing()
        {
            Routers("r1");
            int before = Backend.MutatingCallCount;
            var r = Run("New-VirtualLink -From r1 -To ghost");
            AssertFails(r, Fqid(ErrorIds.LinkEndpointNotFound, "NewVirtualLinkCommand"));
            Assert.Equal(before, Backend.MutatingCallCount);
        }

        [Fact]
        public void New_SelfLink_IsRejected()
        {
            Routers("r1");
            int before = Backend.MutatingCallCount;
            AssertFails(Run("New-VirtualLink -From r1 -To R1"), Fqid(ErrorIds.SelfLink, "NewVirtualLinkCommand"));
            Assert.Equal(before, Backend.MutatingCallCount);
        }

        [Fact]
        public void New_BeyondTheBackendsAdapterLimit_IsAdapterLimitExceeded()
        {
            Routers("hub", "s1", "s2", "s3", "s4", "s5");
            RunOk("1..4 | ForEach-Object { $null = New-VirtualLink -From hub -To \"s$_\" }");
            int before = Backend.MutatingCallCount;
            var r = Run("New-VirtualLink -From hub -To s5");
            AssertFails(r, Fqid(ErrorIds.AdapterLimitExceeded, "NewVirtualLinkCommand"));
            Assert.Equal(before, Backend.MutatingCallCount);
            Assert.Equal(4, Backend.LinkNames.Count);
        }

        [Fact]
        public void New_BandwidthOutsideTheBackendsRange_IsBandwidthOutOfRange()
        {
            Routers("r1", "r2");
            int before = Backend.MutatingCallCount;
            AssertFails(Run("New-VirtualLink -From r1 -To r2 -MaximumBandwidth 1kbps"), Fqid(ErrorIds.BandwidthOutOfRange, "NewVirtualLinkCommand"));
            Assert.Equal(before, Backend.MutatingCallCount);
        }

        [Fact]
        public void Get_WildcardsLiteralNotFoundAndSilentNoMatch()
        {
            Chain();
            Assert.Equal(new[] { "r1-r2", "r2-r3" }, RunOk("Get-VirtualLink").Objects<VirtualLink>().Select(l => l.Name).OrderBy(n => n));
            Assert.Equal(new[] { "r2-r3" }, RunOk("Get-VirtualLink *r3").Objects<VirtualLink>().Select(l => l.Name));
            Assert.Empty(RunOk("Get-VirtualLink zz*").Output);

            var r = Run("Get-VirtualLink -Name nope, r1-r2");
            Assert.False(r.HadTerminatingError, r.Describe());
            Assert.Equal(new[] { Fqid(ErrorIds.LinkNotFound, "GetVirtualLinkCommand") }, r.ErrorIds);
            Assert.Equal(ErrorCategory.ObjectNotFound, r.Errors[0].CategoryInfo.Category);
            Assert.Equal("r1-r2", Assert.Single(r.Objects<VirtualLink>()).Name);
        }

        [Fact]
        public void Set_ThroughThePipeline_SetsTheBandwidthOnEveryLink_AndReturnsNothing()
        {
            Chain();
            var r = RunOk("Get-VirtualLink | Set-VirtualLink -MaximumBandwidth 5Mbps");
            Assert.Empty(r.Output);
            Assert.Equal(5_000_000, Backend.BandwidthOf("r1-r2"));
            Assert.Equal(5_000_000, Backend.BandwidthOf("r2-r3"));
            Assert.All(RunOk("Get-VirtualLink").Objects<VirtualLink>(), l => Assert.Equal(5_000_000, l.MaximumBandwidth));
        }

        [Fact]
        public void Set_OfManyLinks_ObservesAFixedNumberOfTimes_WhateverTheirNumber()
        {
            // Issue 15 (linear orchestration): piping N links into Set-VirtualLink observes everything a fixed number of times
            // (the selection, the engine's look before and after), not once or more per link: O(N) backend work in all.
            var counts = new List<int>();
            foreach (var n in new[] { 3, 6 })
            {
                var names = Enumerable.Range(1, n + 1).Select(i => "s" + n + "x" + i).ToArray();
                Routers(names);
                for (int i = 0; i < n; i++) RunOk("$null = New-VirtualLink -From " + names[i] + " -To " + names[i + 1]);
                int before = Backend.CallCount(nameof(InMemoryBackend.GetInventory));
                int sets = Backend.CallCount(nameof(InMemoryBackend.SetLinkBandwidth));
                var r = RunOk("Get-VirtualLink -Name s" + n + "x* | Set-VirtualLink -MaximumBandwidth 5Mbps -PassThru");
                Assert.Equal(n, r.Objects<VirtualLink>().Count);
                Assert.Equal(n, Backend.CallCount(nameof(InMemoryBackend.SetLinkBandwidth)) - sets);
                counts.Add(Backend.CallCount(nameof(InMemoryBackend.GetInventory)) - before);
            }
            Assert.True(counts[0] == counts[1] && counts[0] <= 4, "observations for 3 and 6 links: " + string.Join(", ", counts));
        }

        [Fact]
        public void Set_PassThru_ReturnsTheChangedLinks()
        {
            Chain();
            var links = RunOk("Set-VirtualLink -Name r* -MaximumBandwidth 2.5Mbit/s -PassThru").Objects<VirtualLink>();
            Assert.Equal(2, links.Count);
            Assert.All(links, l => Assert.Equal(2_500_000, l.MaximumBandwidth));
        }

        [Theory]
        [InlineData("$null")]
        [InlineData("0")]
        public void Set_NullOrZero_RemovesTheLimit(string value)
        {
            Chain();
            RunOk("Set-VirtualLink -Name r2-r3 -MaximumBandwidth " + value);
            Assert.Null(Backend.BandwidthOf("r2-r3"));
            Assert.Null(Assert.Single(RunOk("Get-VirtualLink r2-r3").Objects<VirtualLink>()).MaximumBandwidth);
            Assert.Contains("SetLinkBandwidth r2-r3 unlimited", Backend.Calls);
        }

        [Theory]
        [InlineData("'fast'")]
        [InlineData("'5 parsecs'")]
        public void Set_InvalidBandwidthText_IsAParameterBindingError(string value)
        {
            Chain();
            var r = Run("Set-VirtualLink -Name r1-r2 -MaximumBandwidth " + value);
            Assert.True(r.HadTerminatingError, r.Describe());
            Assert.IsAssignableFrom<ParameterBindingException>(r.TerminatingException);
            Assert.EndsWith(",VirtualNetworks.Commands.SetVirtualLinkCommand", r.TerminatingErrorId);
            Assert.Equal(0, Backend.CallCount(nameof(InMemoryBackend.SetLinkBandwidth)));
        }

        [Fact]
        public void Set_OutOfRange_IsNonTerminatingBandwidthOutOfRange()
        {
            Chain();
            var r = Run("Set-VirtualLink -Name r1-r2, r2-r3 -MaximumBandwidth 20Gbps");
            Assert.False(r.HadTerminatingError, r.Describe());
            Assert.Equal(2, r.ErrorIds.Count(id => id == Fqid(ErrorIds.BandwidthOutOfRange, "SetVirtualLinkCommand")));
            Assert.Equal(0, Backend.CallCount(nameof(InMemoryBackend.SetLinkBandwidth)));
        }

        [Fact]
        public void Set_UnknownLink_IsNonTerminatingLinkNotFound()
        {
            Chain();
            var r = Run("Set-VirtualLink -Name nope -MaximumBandwidth 1Mbps");
            Assert.False(r.HadTerminatingError, r.Describe());
            Assert.Equal(new[] { Fqid(ErrorIds.LinkNotFound, "SetVirtualLinkCommand") }, r.ErrorIds);
        }

        [Fact]
        public void Set_WhatIf_ChangesNothing()
        {
            Chain();
            int before = Backend.MutatingCallCount;
            var r = RunOk("Get-VirtualLink | Set-VirtualLink -MaximumBandwidth 5Mbps -WhatIf");
            Assert.Equal(before, Backend.MutatingCallCount);
            Assert.Equal(2, r.HostLines.Count(l => l.StartsWith("What if:")));
        }

        [Fact]
        public void Remove_RemovesTheLink_AndReconfiguresTheEnds()
        {
            Chain();
            RunOk("Remove-VirtualLink -Name r2-r3 -Confirm:$false");
            Assert.Equal(new[] { "r1-r2" }, Backend.LinkNames);
            Assert.Empty(Backend.ConfigurationOf("r3")!.Interfaces);
            Assert.Single(Backend.ConfigurationOf("r2")!.Interfaces);
        }

        [Fact]
        public void Remove_WhatIf_AndPipeline()
        {
            Chain();
            int before = Backend.MutatingCallCount;
            var r = RunOk("Get-VirtualLink | Remove-VirtualLink -WhatIf");
            Assert.Equal(before, Backend.MutatingCallCount);
            Assert.Equal(2, r.HostLines.Count(l => l.StartsWith("What if:")));
            RunOk("Get-VirtualLink | Remove-VirtualLink -Confirm:$false");
            Assert.Empty(Backend.LinkNames);
        }

        [Fact]
        public void IsolationGuard_RefusesToJoinLabelledNetworks_UnlessForced()
        {
            RunOk("$null = New-VirtualRouter -Name a1 -Network a; $null = New-VirtualRouter -Name b1 -Network b");
            int before = Backend.MutatingCallCount;
            var refused = Run("New-VirtualLink -From a1 -To b1");
            AssertFails(refused, Fqid(ErrorIds.NetworkIsolationViolation, "NewVirtualLinkCommand"));
            Assert.Equal(before, Backend.MutatingCallCount);
            Assert.Empty(Backend.LinkNames);
            Assert.Equal(new[] { "a", "b" }, RunOk("Get-VirtualNetwork").Objects<VirtualNetwork>().Select(n => n.Name).OrderBy(n => n));

            var forced = RunOk("New-VirtualLink -From a1 -To b1 -Force");
            Assert.Single(forced.Objects<VirtualLink>());
            var merged = Assert.Single(RunOk("Get-VirtualNetwork").Objects<VirtualNetwork>());
            Assert.Equal("a+b", merged.Name);
            Assert.Equal(new[] { "a1", "b1" }, merged.Routers.OrderBy(n => n));
            Assert.Equal(new[] { "a", "b" }, merged.Labels.OrderBy(n => n));
        }

        [Fact]
        public void Get_AfterDirectBackendChanges_ShowsTheTruth()
        {
            Chain();
            Backend.SetLinkBandwidth("r1-r2", 64_000, CancellationToken.None);
            Assert.Equal(64_000, Assert.Single(RunOk("Get-VirtualLink r1-r2").Objects<VirtualLink>()).MaximumBandwidth);
        }

        [Theory]
        [InlineData("5000000", 5_000_000L)]
        [InlineData("'1.5 Gbit'", 1_500_000_000L)]
        [InlineData("'2 MB/s'", 16_000_000L)]
        [InlineData("64kbit", 64_000L)]
        public void Set_AcceptsNumbersAndUnits(string value, long expected)
        {
            Chain();
            RunOk("Set-VirtualLink -Name r1-r2 -MaximumBandwidth " + value);
            Assert.Equal(expected, Backend.BandwidthOf("r1-r2"));
        }

        [Fact]
        public void Set_NegativeBandwidth_IsAParameterBindingError()
        {
            Chain();
            var r = Run("Set-VirtualLink -Name r1-r2 -MaximumBandwidth -5");
            Assert.True(r.HadTerminatingError, r.Describe());
            Assert.IsAssignableFrom<ParameterBindingException>(r.TerminatingException);
            Assert.Equal(0, Backend.CallCount(nameof(InMemoryBackend.SetLinkBandwidth)));
        }

        [Fact]
        public void New_VlanOutOfRange_IsAParameterBindingError()
        {
            Routers("r1", "r2");
            var r = Run("New-VirtualLink -From r1 -To r2 -VlanId 4095");
            Assert.True(r.HadTerminatingError, r.Describe());
            Assert.IsAssignableFrom<ParameterBindingException>(r.TerminatingException);
            Assert.Equal("ParameterArgumentValidationError,VirtualNetworks.Commands.NewVirtualLinkCommand", r.TerminatingErrorId);
        }

        [Fact]
        public void NetworkNames_AreTabCompleted()
        {
            RunOk("$null = New-VirtualRouter a1 -Network alpha; $null = New-VirtualRouter a2 -Network alpha; $null = New-VirtualLink a1 a2");
            using var ps = PowerShell.Create();
            ps.Runspace = Session.Runspace;
            var input = "Get-VirtualNetwork -Name al";
            var c = CommandCompletion.CompleteInput(input, input.Length, null, ps);
            Assert.Contains(c.CompletionMatches, m => m.CompletionText.Trim('\'') == "alpha");
        }

        [Fact]
        public void Remove_PassThru_ReturnsTheRemovedLink_WithoutItNothing()
        {
            Chain();
            Assert.Empty(RunOk("Remove-VirtualLink -Name r1-r2 -Confirm:$false").Output);
            var gone = RunOk("Remove-VirtualLink -Name r2-r3 -Confirm:$false -PassThru").Objects<VirtualLink>();
            Assert.Equal("r2-r3", Assert.Single(gone).Name);
            Assert.Empty(Backend.LinkNames);
        }
    }
}
