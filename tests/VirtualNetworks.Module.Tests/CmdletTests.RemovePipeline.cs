using System;
using System.Linq;
using System.Threading;
using Xunit;

namespace VirtualNetworks.Module.Tests
{
    /// <summary>
    /// Remove-VirtualRouter given many routers through the pipeline: the pipeline is observed a fixed number of times
    /// whatever its length, every link of the removed routers is removed once, a router left that loses several
    /// neighbours is reconfigured once (not once per removed neighbour), each router still passes ShouldProcess, -WhatIf
    /// removes nothing, and a router whose removal fails is a non-terminating error naming it while the others go.
    /// </summary>
    public sealed class RemoveRouterPipelineTests : ModuleTestBase
    {
        private int Observations => Backend.Calls.Count(c => c.StartsWith("GetInventory", StringComparison.Ordinal));

        private int CallsOf(string method) => Backend.Calls.Count(c => c.StartsWith(method + " ", StringComparison.Ordinal) || c == method);

        private static string[] Names(int n) => Enumerable.Range(1, n).Select(i => "p" + i.ToString("00", System.Globalization.CultureInfo.InvariantCulture)).ToArray();

        private void Running(params string[] names)
        {
            RunOk(string.Join("; ", names.Select(n => "$null = New-VirtualRouter -Name " + Q(n))));
            foreach (var n in names)
                if (Backend.StateOf(n) == RouterState.Off) Backend.StartRouter(n, CancellationToken.None);
        }

        /// <summary>
        /// A chain of <paramref name="n"/> routers p01.., and a router "hub" linked to p01, p02 and p03 (the backend's
        /// adapter limit is 4); then
        /// `Get-VirtualRouter p* | Remove-VirtualRouter -Force -PassThru`. Returns the observations, link removals and
        /// configurations of the hub the removal caused.
        /// </summary>
        private (int Observations, int LinkRemovals, int HubConfigurations) RemoveAll(int n)
        {
            var names = Names(n);
            Running(names.Concat(new[] { "hub" }).ToArray());
            RunOk(string.Join("; ", names.Take(3).Select(p => "$null = New-VirtualLink -From hub -To " + Q(p))));
            RunOk(string.Join("; ", names.Skip(1).Select((p, i) => "$null = New-VirtualLink -From " + Q(names[i]) + " -To " + Q(p))));
            int links = n - 1 + 3;
            Assert.Equal(links, Backend.LinkNames.Count);
            int observations = Observations, linkRemovals = CallsOf("RemoveLink");
            int hub = Backend.Calls.Count(c => c == "ConfigureRouter hub");
            var r = RunOk("Get-VirtualRouter p* | Remove-VirtualRouter -Force -PassThru -Confirm:$false");
            Assert.Equal(names, r.Objects<VirtualRouter>().Select(x => x.Name));
            Assert.Equal(new[] { "hub" }, Backend.RouterNames);
            Assert.Empty(Backend.LinkNames);
            Assert.Empty(Backend.ConfigurationOf("hub")!.Interfaces);
            var result = (Observations - observations, CallsOf("RemoveLink") - linkRemovals, Backend.Calls.Count(c => c == "ConfigureRouter hub") - hub);
            Assert.Equal(links, result.Item2); // each link once, also those between two removed routers
            RunOk("Remove-VirtualRouter hub -Force -Confirm:$false");
            return result;
        }

        [Fact]
        public void APipelineOfRouters_IsObservedAFixedNumberOfTimes_AndTheirNeighbourIsReconfiguredOnce()
        {
            var small = RemoveAll(3);
            var large = RemoveAll(12);
            Assert.True(small.Observations == large.Observations && large.Observations <= 4,
                $"{small.Observations} observations for 3 piped routers, {large.Observations} for 12 (a fixed number, at most 4, expected)");
            Assert.Equal(1, small.HubConfigurations);
            Assert.Equal(1, large.HubConfigurations);
        }

        [Fact]
        public void EachRouterPassesShouldProcess_WhatIfRemovesNothing_AndPassThruKeepsInputOrder()
        {
            Running("c", "a", "b");
            RunOk("New-VirtualLink -From a -To b; New-VirtualLink -From b -To c");
            int before = Backend.MutatingCallCount;
            var whatIf = RunOk("'b', 'c', 'a' | Remove-VirtualRouter -WhatIf");
            Assert.Equal(before, Backend.MutatingCallCount);
            Assert.Equal(new[] { "b", "c", "a" }, whatIf.HostLines.Where(l => l.StartsWith("What if:", StringComparison.Ordinal))
                .Select(l => new[] { "a", "b", "c" }.Single(n => l.Contains("\"" + n + "\"", StringComparison.Ordinal))));
            Assert.Contains(whatIf.HostLines, l => l.StartsWith("What if:", StringComparison.Ordinal) && l.Contains("\"b\"") && l.Contains("2 link(s)"));

            var declined = Run("'b', 'c', 'a' | Remove-VirtualRouter -Force -Confirm"); // the test host answers No to each
            Assert.Equal(3, declined.Prompts.Count);
            Assert.Equal(before, Backend.MutatingCallCount);
            Assert.Equal(new[] { "a", "b", "c" }, Backend.RouterNames);

            var byDefault = Run("'b', 'c', 'a' | Remove-VirtualRouter"); // running routers, ConfirmImpact High: a prompt each, answered No
            Assert.Equal(3, byDefault.Prompts.Count);
            Assert.Equal(before, Backend.MutatingCallCount);

            var r = RunOk("'b', 'c', 'a', 'b' | Remove-VirtualRouter -PassThru -Confirm:$false");
            Assert.Equal(new[] { "b", "c", "a" }, r.Objects<VirtualRouter>().Select(x => x.Name));
            Assert.Empty(Backend.RouterNames);
            Assert.Empty(Backend.LinkNames);
        }

        [Fact]
        public void ARouterThatFails_IsANonTerminatingErrorNamingIt_AndTheOthersAreRemoved()
        {
            Running("a", "b", "c", "d");
            RunOk("New-VirtualLink -From a -To d; New-VirtualLink -From b -To d; New-VirtualLink -From c -To d");
            Backend.FailOn("RemoveRouter", 2, new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.InvalidOperation, "b", "injected failure of b"));
            var r = Run("'a', 'nope', 'b', 'c' | Remove-VirtualRouter -PassThru -Confirm:$false");
            Assert.False(r.HadTerminatingError, r.Describe());
            Assert.Equal(new[] { Fqid(ErrorIds.RouterNotFound, "RemoveVirtualRouterCommand"), Fqid(ErrorIds.BackendOperationFailed, "RemoveVirtualRouterCommand") },
                r.ErrorIds);
            Assert.Equal("nope", r.Errors[0].TargetObject?.ToString());
            Assert.Equal("b", r.Errors[1].TargetObject?.ToString());
            Assert.Equal(new[] { "a", "c" }, r.Objects<VirtualRouter>().Select(x => x.Name));
            Assert.Equal(new[] { "b", "d" }, Backend.RouterNames);
            Assert.Empty(Backend.LinkNames); // the links went before the routers
            Assert.Empty(Backend.ConfigurationOf("d")!.Interfaces); // d, left, was reconfigured
        }
    }
}
