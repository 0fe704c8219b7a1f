using System;
using System.IO;
using System.Linq;
using Xunit;

namespace VirtualNetworks.Module.Tests
{
    /// <summary>
    /// Names from the pipeline: -Name of every Get-* (and the network name of Test-VirtualNetwork) binds by value and by
    /// property name; piped names are answered from one observation, with one non-terminating not-found error per
    /// literal name that matches nothing; the object pipelines keep working.
    /// </summary>
    public sealed class PipelineNameTests : ModuleTestBase
    {
        private int Observations => Backend.Calls.Count(c => c.StartsWith("GetInventory", StringComparison.Ordinal));

        [Fact]
        public void RouterNames_FromThePipeline_AreAnsweredFromOneObservation()
        {
            DeployGood();
            int before = Observations;
            var r = RunOk("'b1', 'a1' | Get-VirtualRouter");
            Assert.Equal(new[] { "a1", "b1" }, r.Objects<VirtualRouter>().Select(x => x.Name));
            Assert.Equal(1, Observations - before);
        }

        [Theory]
        [InlineData("Get-VirtualRouter", "'a1', 'a*', 'A2'", new[] { "a1", "a2" })]
        [InlineData("Get-VirtualLink", "'b-link', 'a1-a2', 'b*'", new[] { "a1-a2", "b-link", "b2-b1" })]
        [InlineData("Get-VirtualNetwork", "'b', 'a', 'b'", new[] { "a", "b" })]
        public void PipedNames_AreSortedWithoutDuplicates(string cmdlet, string names, string[] expected)
        {
            DeployGood();
            var r = RunOk(names + " | " + cmdlet + " | ForEach-Object Name");
            Assert.Equal(expected, r.Output.Select(o => o.ToString()));
        }

        [Fact]
        public void HostNames_FromThePipeline()
        {
            RunOk("New-VirtualLabHost -Name lab1 -Confirm:$false | Out-Null; New-VirtualLabHost -Name lab2 -ConnectedTo lab1 -Confirm:$false | Out-Null");
            var r = RunOk("'lab2', 'lab1' | Get-VirtualHost");
            Assert.Equal(new[] { "lab1", "lab2" }, r.Objects<VirtualHost>().Select(h => h.Name));
        }

        [Theory]
        [InlineData("Get-VirtualRouter", ErrorIds.RouterNotFound, "GetVirtualRouterCommand", "a1", "nope")]
        [InlineData("Get-VirtualLink", ErrorIds.LinkNotFound, "GetVirtualLinkCommand", "a1-a2", "nope")]
        [InlineData("Get-VirtualNetwork", ErrorIds.NetworkNotFound, "GetVirtualNetworkCommand", "a", "nope")]
        [InlineData("Get-VirtualHost", ErrorIds.HostNotFound, "GetVirtualHostCommand", "localhost", "nope")]
        public void AMissingPipedName_IsOneNonTerminatingNotFound_NamingIt_AndTheOthersStillCome(string cmdlet, string id, string cls, string good, string missing)
        {
            DeployGood();
            var r = Run("'" + missing + "', '" + good + "', 'zz*', '" + missing + "2' | " + cmdlet);
            Assert.False(r.HadTerminatingError, r.Describe());
            Assert.Single(r.Output);
            Assert.Equal(new[] { Fqid(id, cls), Fqid(id, cls) }, r.ErrorIds);
            Assert.Equal(new[] { missing, missing + "2" }, r.Errors.Select(e => e.TargetObject as string));
            Assert.All(r.Errors, e => Assert.Equal(System.Management.Automation.ErrorCategory.ObjectNotFound, e.CategoryInfo.Category));
        }

        [Fact]
        public void Names_BindByPropertyName_FromTheModulesObjectsAndFromRecords()
        {
            DeployGood();
            Assert.Equal(new[] { "a1", "a2", "b1", "b2" }, RunOk("Get-VirtualRouter | Get-VirtualRouter").Objects<VirtualRouter>().Select(x => x.Name));
            Assert.Equal(new[] { "a1-a2" }, RunOk("Get-VirtualLink -Name a1-a2 | Get-VirtualLink").Objects<VirtualLink>().Select(x => x.Name));
            Assert.Equal(new[] { "a", "b" }, RunOk("Get-VirtualNetwork | Get-VirtualNetwork").Objects<VirtualNetwork>().Select(x => x.Name));
            Assert.Equal(new[] { "a2", "b1" }, RunOk("[pscustomobject]@{ Name = 'b1' }, [pscustomobject]@{ Name = 'a2' } | Get-VirtualRouter")
                .Objects<VirtualRouter>().Select(x => x.Name));
        }

        [Fact]
        public void AnEmptyPipeline_GetsNothing_AndNoPipeline_GetsEverything()
        {
            DeployGood();
            Assert.Empty(RunOk("@() | Get-VirtualRouter").Output);
            Assert.Equal(4, RunOk("Get-VirtualRouter").Output.Count);
            Assert.Equal(2, RunOk("Get-VirtualRouter -NetworkName a").Output.Count);
        }

        [Fact]
        public void NetworkNames_FromThePipeline_AreTestedTogether_AndObjectPipelinesStillWork()
        {
            DeployGood();
            var byName = RunOk("'a', 'b' | Test-VirtualNetwork").Objects<VirtualNetworkTestReport>();
            Assert.Equal(new[] { "a", "b" }, Assert.Single(byName).Networks);
            var byObject = RunOk("Get-VirtualNetwork | Test-VirtualNetwork").Objects<VirtualNetworkTestReport>();
            Assert.Equal(new[] { "a", "b" }, Assert.Single(byObject).Networks);
            var missing = Run("'a', 'nope' | Test-VirtualNetwork");
            Assert.Equal(new[] { Fqid(ErrorIds.NetworkNotFound, "TestVirtualNetworkCommand") }, missing.ErrorIds);
            Assert.Equal(new[] { "a" }, Assert.Single(missing.Objects<VirtualNetworkTestReport>()).Networks);

            RunOk("Get-VirtualLink | Set-VirtualLink -MaximumBandwidth 5Mbps -Confirm:$false");
            Assert.All(RunOk("Get-VirtualLink").Objects<VirtualLink>(), l => Assert.Equal(5_000_000, l.MaximumBandwidth));
            RunOk("'a1' | Get-VirtualRouter | Stop-VirtualRouter -Confirm:$false");
            Assert.Equal(RouterState.Off, Backend.StateOf("a1"));
        }

        [Theory]
        [InlineData("Get-VirtualRouter")]
        [InlineData("Get-VirtualLink")]
        [InlineData("Get-VirtualNetwork")]
        [InlineData("Get-VirtualHost")]
        [InlineData("Test-VirtualNetwork")]
        public void Name_TakesPipelineInputByValueAndByPropertyName(string cmdlet)
        {
            var r = RunOk("(Get-Command " + cmdlet + ").Parameters['Name'].Attributes | Where-Object { $_ -is [System.Management.Automation.ParameterAttribute] }");
            Assert.All(r.Output.Select(o => (System.Management.Automation.ParameterAttribute)o.BaseObject), a =>
            {
                Assert.True(a.ValueFromPipeline, cmdlet + " -Name does not bind by value");
                Assert.True(a.ValueFromPipelineByPropertyName, cmdlet + " -Name does not bind by property name");
            });
            Assert.NotEmpty(r.Output);
        }
    }
}
