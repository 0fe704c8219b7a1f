using System;
using System.Linq;
using Xunit;

namespace VirtualNetworks.Module.Tests
{
    /// <summary>
    /// -Verbose: the backend chosen and what it says about its set-up, each plan step as it is applied, and the image
    /// each router created or started boots. The engine reports through its log callback; the cmdlets write it as
    /// verbose records on the pipeline thread.
    /// </summary>
    public sealed class VerboseTests : ModuleTestBase
    {
        private static string[] Lines(InvocationResult r) => r.Verbose.Select(v => v.Message).ToArray();

        private static string Show(InvocationResult r) => string.Join(Environment.NewLine, Lines(r));

        [Fact]
        public void Verbose_TellsTheBackendAndItsSetUp()
        {
            var r = RunOk("Get-VirtualRouter -Verbose");
            var lines = Lines(r);
            Assert.Contains(lines, l => l.StartsWith("Using the " + InMemoryBackend.KindName + " backend (the default of this platform) for the local machine", StringComparison.Ordinal));
            Assert.Contains(InMemoryBackend.KindName + " backend: " + Backend.DescribeSetup().Single() + ".", lines);
        }

        [Fact]
        public void WithoutVerbose_NothingIsWritten()
        {
            var r = RunOk("Deploy-VirtualNetwork -Path " + Q(Fixture("good.json")) + " -Confirm:$false");
            Assert.Empty(r.Verbose);
        }

        [Fact]
        public void Deploy_Verbose_TellsEachStepAsItIsApplied_AndTheImageOfEachRouter()
        {
            var r = RunOk("Deploy-VirtualNetwork -Path " + Q(Fixture("good.json")) + " -Confirm:$false -Verbose");
            var result = r.Objects<DeploymentResult>().Single();
            var lines = Lines(r);
            Assert.True(result.Steps.Count > 0);
            int last = -1;
            foreach (var step in result.Steps)
            {
                // DeploymentResult.Steps are "<n>. <description> on '<target>'"; the log says "Step <n> of <count>: <description> on '<target>'".
                int dot = step.IndexOf(". ", StringComparison.Ordinal);
                string expected = "Step " + step.Substring(0, dot) + " of " + result.Planned + ": " + step.Substring(dot + 2);
                int at = Array.IndexOf(lines, expected);
                Assert.True(at > last, "missing or out of order: " + expected + Environment.NewLine + Show(r));
                last = at;
            }
            foreach (var router in new[] { "a1", "a2", "b1", "b2" })
            {
                string image = "Router '" + router + "': image 'router' is " + InMemoryBackend.ImageLocation + "router";
                // Once when it is created, once when it is started.
                Assert.True(lines.Count(l => l == image) == 2, image + Environment.NewLine + Show(r));
            }
            Assert.Contains(lines, l => l.StartsWith("Planned " + result.Planned + " step(s)", StringComparison.Ordinal));
        }

        [Fact]
        public void Deploy_WhatIf_Verbose_AppliesNoStep_SoLogsNone()
        {
            var r = RunOk("Deploy-VirtualNetwork -Path " + Q(Fixture("good.json")) + " -WhatIf -Verbose");
            Assert.DoesNotContain(Lines(r), l => l.StartsWith("Step ", StringComparison.Ordinal));
            Assert.Equal(0, Backend.MutatingCallCount);
        }

        [Fact]
        public void RemoveNetwork_Verbose_TellsEachStep()
        {
            DeployGood();
            var r = RunOk("Remove-VirtualNetwork -Name a -Confirm:$false -Verbose");
            var lines = Lines(r);
            Assert.Contains(lines, l => l.StartsWith("Step 1 of ", StringComparison.Ordinal) && l.Contains("'a1-a2'"));
            Assert.Contains(lines, l => l.StartsWith("Step ", StringComparison.Ordinal) && l.Contains("'a1'"));
            Assert.Contains(lines, l => l.StartsWith("Step ", StringComparison.Ordinal) && l.Contains("'a2'"));
        }

        [Fact]
        public void NewSetMoveAndLifecycle_Verbose_TellWhatTheyDo()
        {
            var lines = Lines(RunOk("New-VirtualRouter -Name r1 -Start -Verbose; New-VirtualRouter -Name r2 -Verbose"));
            Assert.Contains(lines, l => l.StartsWith("Creating virtual router 'r1' on ", StringComparison.Ordinal));
            Assert.Contains("Router 'r1': image 'router' is " + InMemoryBackend.ImageLocation + "router", lines);
            Assert.Contains("Starting virtual router 'r1'", lines);
            Assert.DoesNotContain("Starting virtual router 'r2'", lines);

            lines = Lines(RunOk("New-VirtualLink -From r1 -To r2 -MaximumBandwidth 10Mbps -Verbose | Set-VirtualLink -MaximumBandwidth 2Mbps -Confirm:$false -Verbose"));
            Assert.Contains(lines, l => l.StartsWith("Creating virtual link 'r1-r2' between 'r1' and 'r2'", StringComparison.Ordinal));
            Assert.Contains(lines, l => l.StartsWith("Setting the maximum bandwidth of virtual link 'r1-r2' from ", StringComparison.Ordinal));
            Assert.Contains(lines, l => l.Contains("on 'r1'") || l.Contains("on 'r2'")); // the routers' reconfiguration

            lines = Lines(RunOk("Start-VirtualRouter -Name r2 -Verbose; Suspend-VirtualRouter -Name r2 -Confirm:$false -Verbose"));
            Assert.Contains(lines, l => l.StartsWith("Starting virtual router 'r2' on ", StringComparison.Ordinal));
            Assert.Contains("Router 'r2': image 'router' is " + InMemoryBackend.ImageLocation + "router", lines);
            Assert.Contains(lines, l => l.StartsWith("Suspending virtual router 'r2' on ", StringComparison.Ordinal));

            Backend.AddHost("h2");
            lines = Lines(RunOk("Move-VirtualRouter -Name r1 -DestinationHost h2 -Confirm:$false -Verbose"));
            Assert.Contains(lines, l => l.StartsWith("Live migration of r1 from ", StringComparison.Ordinal) && l.EndsWith(" to h2", StringComparison.Ordinal));
            Assert.Contains("r1 runs on h2", lines);
        }
    }
}
