using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using VirtualNetworks.Backends;
using VirtualNetworks.Planning;
using Xunit;

namespace VirtualNetworks.Core.Tests
{
    /// <summary>PlanExecutor hands a run of StartRouter steps to a backend implementing IRouterBatchStarter as one call.</summary>
    public sealed class PlanExecutorBatchTests
    {
        private static readonly CancellationToken None = CancellationToken.None;

        /// <summary>Records every call in order; StartRouters answers from <see cref="Outcome"/>.</summary>
        private class RecordingBackend : IVirtualizationBackend
        {
            public readonly List<string> Events = new List<string>();
            public Func<string, Exception?> Outcome = _ => null;
            public Exception? BatchThrows;
            public string Kind => "Recording";
            public BackendCapabilities Capabilities { get; } = new BackendCapabilities();
            public BackendInventory GetInventory(CancellationToken c) => new BackendInventory();
            public bool ImageExists(string image, string host) => true;
            public void CreateRouter(RouterSpec spec, CancellationToken c) => Events.Add("create " + spec.Name);
            public void RemoveRouter(string name, CancellationToken c) => Events.Add("remove " + name);
            public void StartRouter(string name, CancellationToken c)
            {
                Events.Add("start " + name);
                var e = Outcome(name);
                if (e != null) throw e;
            }
            public void StopRouter(string name, bool turnOff, CancellationToken c) { }
            public void SuspendRouter(string name, CancellationToken c) { }
            public void ResumeRouter(string name, CancellationToken c) { }
            public void ConfigureRouter(RouterConfiguration configuration, CancellationToken c) { }
            public void MoveRouter(string name, string destinationHost, MigrationMode mode, IProgress<string>? progress, CancellationToken c) { }
            public void CreateLink(LinkSpec spec, CancellationToken c) { }
            public void RemoveLink(string name, CancellationToken c) { }
            public void SetLinkBandwidth(string name, long? bitsPerSecond, CancellationToken c) { }
            public ProbeResult Probe(string fromRouter, string address, CancellationToken c) => new ProbeResult();
            public void Dispose() { }
        }

        private sealed class BatchBackend : RecordingBackend, IRouterBatchStarter
        {
            public IReadOnlyList<Exception?> StartRouters(IReadOnlyList<string> names, CancellationToken c)
            {
                Events.Add("batch " + string.Join(",", names));
                if (BatchThrows != null) throw BatchThrows;
                return names.Select(n => Outcome(n)).ToList();
            }
        }

        /// <summary>Removes routers and links in batches (and logs one event per batch).</summary>
        private sealed class RemovingBackend : RecordingBackend, IRouterBatchRemover, ILinkBatchRemover
        {
            public readonly List<IReadOnlyList<string>> LinkBatches = new List<IReadOnlyList<string>>();
            public readonly List<IReadOnlyCollection<string>> RoutersGoing = new List<IReadOnlyCollection<string>>();
            public IReadOnlyList<Exception?> RemoveLinks(IReadOnlyList<string> names, IReadOnlyCollection<string> routersRemovedNext, CancellationToken c)
            {
                Events.Add("remove-links " + string.Join(",", names));
                LinkBatches.Add(names.ToList());
                RoutersGoing.Add(routersRemovedNext.ToList());
                return names.Select(_ => (Exception?)null).ToList();
            }

            public readonly List<IReadOnlyList<string>> Batches = new List<IReadOnlyList<string>>();
            public IReadOnlyList<Exception?> RemoveRouters(IReadOnlyList<string> names, CancellationToken c)
            {
                Events.Add("remove-batch " + string.Join(",", names));
                Batches.Add(names.ToList());
                if (BatchThrows != null) throw BatchThrows;
                return names.Select(n => Outcome(n)).ToList();
            }
        }

        /// <summary>The removal plan of one network: <paramref name="count"/> routers in a chain.</summary>
        private static DeploymentPlan RemovalOf(int count, out List<string> routers)
        {
            var inventory = new BackendInventory();
            routers = Enumerable.Range(0, count).Select(i => "r" + i.ToString("00", System.Globalization.CultureInfo.InvariantCulture)).ToList();
            foreach (var r in routers) inventory.Routers.Add(new VirtualRouter { Name = r, ComputerName = "localhost", State = RouterState.Running });
            for (int i = 0; i + 1 < count; i++) inventory.Links.Add(new VirtualLink { Name = routers[i] + "-" + routers[i + 1], From = routers[i], To = routers[i + 1] });
            var network = new VirtualNetwork { Name = "n", Routers = routers.ToArray() };
            return Planner.PlanRemoval(inventory, new[] { network });
        }

        private sealed class Observer : IPlanObserver
        {
            private readonly List<string> _events;
            private readonly Func<PlanStep, bool> _yes;
            public Observer(List<string> events, Func<PlanStep, bool>? yes = null) { _events = events; _yes = yes ?? (_ => true); }
            public bool ShouldRun(PlanStep step) { _events.Add("ask " + step.Action + " " + step.Target); return _yes(step); }
            public void OnStepStarting(PlanStep step, int index, int count) => _events.Add("starting " + step.Target);
        }

        private static DeploymentPlan PlanOf(params string[] routers)
        {
            var desired = new TopologySpec();
            foreach (var r in routers) desired.Routers.Add(new RouterSpec { Name = r, Image = "router" });
            return Planner.Plan(desired, new BackendInventory());
        }

        private static VirtualNetworksException Boom(string router) =>
            new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.InvalidResult, router, "QEMU could not start router '" + router + "'.");

        [Fact]
        public void A_run_of_starts_is_asked_step_by_step_then_started_in_one_call()
        {
            var b = new BatchBackend();
            var result = PlanExecutor.Apply(PlanOf("r1", "r2", "r3"), b, new Observer(b.Events), None);

            Assert.Equal(6, result.Completed.Count);
            var afterCreates = b.Events.SkipWhile(e => !e.StartsWith("ask StartRouter", StringComparison.Ordinal)).ToList();
            Assert.Equal(new[]
            {
                "ask StartRouter r1", "ask StartRouter r2", "ask StartRouter r3",
                "starting r1", "starting r2", "starting r3",
                "batch r1,r2,r3",
            }, afterCreates);
            Assert.DoesNotContain(b.Events, e => e.StartsWith("start ", StringComparison.Ordinal));
        }

        [Fact]
        public void Declined_starts_are_skipped_and_not_handed_over()
        {
            var b = new BatchBackend();
            var result = PlanExecutor.Apply(PlanOf("r1", "r2", "r3"), b,
                new Observer(b.Events, s => !(s.Action == PlanAction.StartRouter && s.Target == "r2")), None);
            Assert.Contains("batch r1,r3", b.Events);
            Assert.Equal(new[] { "r2" }, result.Skipped.Select(s => s.Target));
        }

        [Fact]
        public void Every_router_that_fails_in_the_batch_is_named_and_the_others_count_as_done()
        {
            var b = new BatchBackend { Outcome = n => n == "r2" || n == "r3" ? Boom(n) : null };
            var ex = Assert.Throws<PlanApplyException>(() => PlanExecutor.Apply(PlanOf("r1", "r2", "r3", "r4"), b, new Observer(b.Events), None));

            Assert.Equal(ErrorIds.PlanStepFailed, ex.ErrorId);
            Assert.Equal("r2", ex.Result.Failed!.Target);
            Assert.Same(ex.InnerException, ex.Result.Error);
            Assert.Equal(new[] { "r3" }, ex.Result.OtherFailures.Select(f => f.Key.Target));
            Assert.Contains("QEMU could not start router 'r2'", ex.Message);
            Assert.Contains("QEMU could not start router 'r3'", ex.Message);
            Assert.Equal(new[] { "r1", "r4" }, ex.Result.Completed.Where(s => s.Action == PlanAction.StartRouter).Select(s => s.Target));
            Assert.Empty(ex.Result.NotAttempted);
            Assert.Contains("Not done: 2 step(s)", ex.Message);
        }

        [Fact]
        public void A_batch_that_throws_fails_its_first_router_and_leaves_the_others_not_attempted()
        {
            var b = new BatchBackend { BatchThrows = new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.ResourceUnavailable, "lock", "The state directory is locked.") };
            var ex = Assert.Throws<PlanApplyException>(() => PlanExecutor.Apply(PlanOf("r1", "r2"), b, new Observer(b.Events), None));
            Assert.Equal("r1", ex.Result.Failed!.Target);
            Assert.Equal(new[] { "r2" }, ex.Result.NotAttempted.Select(s => s.Target));
            Assert.Contains("locked", ex.Message);
        }

        [Fact]
        public void Routers_canceled_inside_the_batch_are_not_done_and_the_apply_reports_cancellation()
        {
            var b = new BatchBackend { Outcome = n => n == "r2" ? new OperationCanceledException() : null };
            var ex = Assert.Throws<PlanApplyException>(() => PlanExecutor.Apply(PlanOf("r1", "r2"), b, new Observer(b.Events), None));
            Assert.True(ex.Result.Canceled);
            Assert.Null(ex.Result.Failed);
            Assert.Equal(ErrorIds.OperationCanceled, ((VirtualNetworksException)ex.InnerException!).ErrorId);
            Assert.Equal(new[] { "r2" }, ex.Result.NotAttempted.Select(s => s.Target));
        }

        [Fact]
        public void A_removal_of_many_routers_is_asked_step_by_step_then_handed_to_the_batch_remover_in_one_call()
        {
            var b = new RemovingBackend();
            var plan = RemovalOf(24, out var routers);
            Assert.Equal(24, plan.Steps.Count(s => s.Action == PlanAction.RemoveRouter));
            var result = PlanExecutor.Apply(plan, b, new Observer(b.Events), None);

            Assert.True(result.Success);
            Assert.Equal(plan.Steps.Count, result.Completed.Count);
            var batch = Assert.Single(b.Batches);
            Assert.Equal(routers, batch);
            // Every RemoveRouter step passed ShouldProcess (and was announced) before the one call; none was removed alone.
            int handed = b.Events.IndexOf("remove-batch " + string.Join(",", routers));
            var asked = b.Events.Select((e, i) => (e, i)).Where(x => x.e.StartsWith("ask RemoveRouter ", StringComparison.Ordinal)).ToList();
            Assert.Equal(routers, asked.Select(x => x.e.Substring("ask RemoveRouter ".Length)));
            Assert.All(asked, x => Assert.True(x.i < handed, x.e + " was asked after the batch"));
            Assert.All(routers, r => Assert.True(b.Events.IndexOf("starting " + r) < handed, r + " announced after the batch"));
            Assert.DoesNotContain(b.Events, e => e.StartsWith("remove r", StringComparison.Ordinal));
            // The links before them, likewise in one call after each passed ShouldProcess; the routers' steps were asked
            // before it too, and the backend is told which routers go next (it need not unplug the links from them).
            var links = Assert.Single(b.LinkBatches);
            Assert.Equal(23, links.Count);
            int linksHanded = b.Events.IndexOf("remove-links " + string.Join(",", links));
            Assert.True(linksHanded >= 0 && linksHanded < handed, "links are removed before the routers");
            Assert.All(links, l => Assert.True(b.Events.IndexOf("ask RemoveLink " + l) < linksHanded, l + " asked after its batch"));
            Assert.All(asked, x => Assert.True(x.i < linksHanded, x.e + " was asked after the links' batch"));
            Assert.Equal(routers, Assert.Single(b.RoutersGoing));
        }

        [Fact]
        public void Routers_declined_in_a_removal_are_not_named_as_going_and_a_failed_link_batch_leaves_the_routers_not_attempted()
        {
            var b = new RemovingBackend();
            PlanExecutor.Apply(RemovalOf(4, out _), b, new Observer(b.Events, s => !(s.Action == PlanAction.RemoveRouter && s.Target == "r02")), None);
            Assert.Equal(new[] { "r00", "r01", "r03" }, Assert.Single(b.RoutersGoing));
            Assert.Equal(new[] { "r00", "r01", "r03" }, Assert.Single(b.Batches));

            var failing = new FailingLinks();
            var ex = Assert.Throws<PlanApplyException>(() => PlanExecutor.Apply(RemovalOf(3, out _), failing, new Observer(failing.Events), None));
            Assert.Equal("r00-r01", ex.Result.Failed!.Target);
            Assert.Equal(new[] { "r01-r02", "r00", "r01", "r02" }, ex.Result.NotAttempted.Select(s => s.Target));
            Assert.DoesNotContain(failing.Events, e => e.StartsWith("remove-batch", StringComparison.Ordinal));
        }

        private sealed class FailingLinks : RecordingBackend, IRouterBatchRemover, ILinkBatchRemover
        {
            public IReadOnlyList<Exception?> RemoveRouters(IReadOnlyList<string> names, CancellationToken c)
            {
                Events.Add("remove-batch " + string.Join(",", names));
                return names.Select(_ => (Exception?)null).ToList();
            }
            public IReadOnlyList<Exception?> RemoveLinks(IReadOnlyList<string> names, IReadOnlyCollection<string> routersRemovedNext, CancellationToken c) =>
                throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.ResourceUnavailable, "lock", "The state directory is locked.");
        }

        [Fact]
        public void Declined_removals_are_skipped_and_not_handed_over_and_failures_name_each_router()
        {
            var b = new RemovingBackend { Outcome = n => n == "r03" ? Boom(n) : null };
            var ex = Assert.Throws<PlanApplyException>(() => PlanExecutor.Apply(RemovalOf(5, out _), b,
                new Observer(b.Events, s => !(s.Action == PlanAction.RemoveRouter && s.Target == "r01")), None));
            Assert.Equal(new[] { "r00", "r02", "r03", "r04" }, Assert.Single(b.Batches));
            Assert.Equal(new[] { "r01" }, ex.Result.Skipped.Select(s => s.Target));
            Assert.Equal("r03", ex.Result.Failed!.Target);
            Assert.Contains("QEMU could not start router 'r03'", ex.Message);
            Assert.Equal(new[] { "r00", "r02", "r04" }, ex.Result.Completed.Where(s => s.Action == PlanAction.RemoveRouter).Select(s => s.Target));
        }

        [Fact]
        public void A_single_removal_goes_through_RemoveRouter()
        {
            var b = new RemovingBackend();
            PlanExecutor.Apply(RemovalOf(1, out _), b, new Observer(b.Events), None);
            Assert.Empty(b.Batches);
            Assert.Contains("remove r00", b.Events);
        }

        [Fact]
        public void A_backend_without_the_contract_gets_one_start_per_step()
        {
            var b = new RecordingBackend { Outcome = n => n == "r2" ? Boom(n) : null };
            var ex = Assert.Throws<PlanApplyException>(() => PlanExecutor.Apply(PlanOf("r1", "r2", "r3"), b, new Observer(b.Events), None));
            Assert.Equal(new[] { "start r1", "start r2" }, b.Events.Where(e => e.StartsWith("start ", StringComparison.Ordinal)));
            Assert.Equal("r2", ex.Result.Failed!.Target);
            Assert.Equal(new[] { "r3" }, ex.Result.NotAttempted.Select(s => s.Target));
        }
    }
}
