using System;
using System.Linq;
using System.Threading;
using Xunit;

namespace VirtualNetworks.Module.Tests
{
    /// <summary>
    /// Start-, Stop-, Suspend- and Resume-VirtualRouter given many routers through the pipeline: the whole pipeline is
    /// observed a fixed number of times whatever its length (not once or more per router), each router still passes
    /// ShouldProcess, -PassThru writes the routers in input order, a router that fails is a non-terminating error naming
    /// it while the others are changed, and -WhatIf changes nothing.
    /// </summary>
    public sealed class RouterPipelineTests : ModuleTestBase
    {
        private int Observations => Backend.Calls.Count(c => c.StartsWith("GetInventory", StringComparison.Ordinal));

        private static string[] Names(int n) => Enumerable.Range(1, n).Select(i => "p" + i.ToString("00", System.Globalization.CultureInfo.InvariantCulture)).ToArray();

        /// <summary>Creates routers through the module and leaves them in <paramref name="state"/> (directly on the backend).</summary>
        private void Routers(RouterState state, params string[] names)
        {
            RunOk(string.Join("; ", names.Select(n => "$null = New-VirtualRouter -Name " + Q(n))));
            foreach (var n in names)
            {
                if (state != RouterState.Off && Backend.StateOf(n) == RouterState.Off) Backend.StartRouter(n, CancellationToken.None);
                if (state == RouterState.Off && Backend.StateOf(n) == RouterState.Running) Backend.StopRouter(n, true, CancellationToken.None);
                if (state == RouterState.Paused) Backend.SuspendRouter(n, CancellationToken.None);
            }
        }

        public static TheoryData<string, RouterState, RouterState> Verbs => new TheoryData<string, RouterState, RouterState>
        {
            { "Start-VirtualRouter", RouterState.Off, RouterState.Running },
            { "Stop-VirtualRouter", RouterState.Running, RouterState.Off },
            { "Stop-VirtualRouter -TurnOff", RouterState.Running, RouterState.Off },
            { "Suspend-VirtualRouter", RouterState.Running, RouterState.Paused },
            { "Resume-VirtualRouter", RouterState.Paused, RouterState.Running },
        };

        /// <summary>Observations of `Get-VirtualRouter p* | &lt;verb&gt;` over <paramref name="n"/> routers (the Get's own included).</summary>
        private int PipelineObservations(string verb, RouterState from, RouterState to, int n)
        {
            var names = Names(n);
            Routers(from, names);
            int before = Observations;
            var r = RunOk("Get-VirtualRouter p* | " + verb + " -PassThru -Confirm:$false");
            int used = Observations - before;
            Assert.Equal(names, r.Objects<VirtualRouter>().Select(x => x.Name));
            Assert.All(r.Objects<VirtualRouter>(), x => Assert.Equal(to, x.State));
            Assert.All(names, x => Assert.Equal(to, Backend.StateOf(x)));
            RunOk("Get-VirtualRouter p* | Remove-VirtualRouter -Force -Confirm:$false");
            return used;
        }

        [Theory]
        [MemberData(nameof(Verbs))]
        public void APipelineOfRouters_IsObservedAFixedNumberOfTimes_WhateverItsLength(string verb, RouterState from, RouterState to)
        {
            int small = PipelineObservations(verb, from, to, 3);
            int large = PipelineObservations(verb, from, to, 12);
            Assert.True(small == large && large <= 4,
                $"{verb}: {small} observations for 3 piped routers, {large} for 12 (a fixed number, at most 4, expected)");
        }

        [Theory]
        [MemberData(nameof(Verbs))]
        public void PassThru_WritesTheRoutersInInputOrder_AndEachPassesShouldProcess(string verb, RouterState from, RouterState to)
        {
            Routers(from, "c", "a", "b");
            int before = Backend.MutatingCallCount;
            var whatIf = RunOk("'b', 'c', 'a' | " + verb + " -WhatIf");
            Assert.Equal(before, Backend.MutatingCallCount);
            Assert.Equal(new[] { "b", "c", "a" }, whatIf.HostLines.Where(l => l.StartsWith("What if:", StringComparison.Ordinal))
                .Select(l => new[] { "a", "b", "c" }.Single(n => l.Contains("\"" + n + "\"", StringComparison.Ordinal))));
            Assert.All(new[] { "a", "b", "c" }, n => Assert.Equal(from, Backend.StateOf(n)));

            var declined = Run("'b', 'c', 'a' | " + verb + " -Confirm"); // the test host answers No to each
            Assert.Equal(3, declined.Prompts.Count);
            Assert.Equal(before, Backend.MutatingCallCount);
            Assert.All(new[] { "a", "b", "c" }, n => Assert.Equal(from, Backend.StateOf(n)));

            var r = RunOk("'b', 'c', 'a' | " + verb + " -PassThru -Confirm:$false");
            Assert.Equal(new[] { "b", "c", "a" }, r.Objects<VirtualRouter>().Select(x => x.Name));
            Assert.All(r.Objects<VirtualRouter>(), x => Assert.Equal(to, x.State));
        }

        [Theory]
        [InlineData("Start-VirtualRouter", "StartVirtualRouterCommand", "StartRouter", RouterState.Off, RouterState.Running)]
        [InlineData("Stop-VirtualRouter", "StopVirtualRouterCommand", "StopRouter", RouterState.Running, RouterState.Off)]
        [InlineData("Suspend-VirtualRouter", "SuspendVirtualRouterCommand", "SuspendRouter", RouterState.Running, RouterState.Paused)]
        [InlineData("Resume-VirtualRouter", "ResumeVirtualRouterCommand", "ResumeRouter", RouterState.Paused, RouterState.Running)]
        public void ARouterThatFails_IsANonTerminatingErrorNamingIt_AndTheOthersAreChanged(string verb, string cls, string method, RouterState from, RouterState to)
        {
            Routers(from, "a", "b", "c");
            Backend.FailOn(method, 2, new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.InvalidOperation, "b", "injected failure of b"));
            var r = Run("Get-VirtualRouter | " + verb + " -PassThru -Confirm:$false");
            Assert.False(r.HadTerminatingError, r.Describe());
            Assert.Equal(new[] { Fqid(ErrorIds.BackendOperationFailed, cls) }, r.ErrorIds);
            Assert.Equal("b", r.Errors[0].TargetObject?.ToString());
            Assert.Equal(new[] { "a", "c" }, r.Objects<VirtualRouter>().Select(x => x.Name));
            Assert.Equal(to, Backend.StateOf("a"));
            Assert.Equal(from, Backend.StateOf("b"));
            Assert.Equal(to, Backend.StateOf("c"));
        }

        [Fact]
        public void AMissingPipedName_IsOneNotFound_AndTheOthersAreStopped()
        {
            Routers(RouterState.Running, "a", "b");
            var r = Run("'a', 'nope', 'b' | Stop-VirtualRouter -PassThru");
            Assert.False(r.HadTerminatingError, r.Describe());
            Assert.Equal(new[] { Fqid(ErrorIds.RouterNotFound, "StopVirtualRouterCommand") }, r.ErrorIds);
            Assert.Equal("nope", r.Errors[0].TargetObject?.ToString());
            Assert.Equal(new[] { "a", "b" }, r.Objects<VirtualRouter>().Select(x => x.Name));
        }

        [Fact]
        public void StartWait_WaitsForThePipelinesRoutersTogether_AndPassesThemThroughOnce()
        {
            Routers(RouterState.Off, "a", "b", "c");
            var r = RunOk("'c', 'a', 'b' | Start-VirtualRouter -Wait -TimeoutSec 30 -PassThru");
            Assert.Equal(new[] { "c", "a", "b" }, r.Objects<VirtualRouter>().Select(x => x.Name));
            Assert.All(new[] { "a", "b", "c" }, n => Assert.Equal(RouterState.Running, Backend.StateOf(n)));
        }
    }
}
