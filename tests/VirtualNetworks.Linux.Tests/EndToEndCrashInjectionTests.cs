using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using VirtualNetworks.Engine;
using VirtualNetworks.Topology;
using VirtualNetworks.Util;
using Xunit;
using Xunit.Abstractions;

namespace VirtualNetworks.Linux.Tests
{
    /// <summary>
    /// Crash injection at the step boundaries of every state-changing operation (CrashPoint: each external command, QMP
    /// command, state or run file write or delete, signal), with real QEMU routers: after a simulated crash at boundary k,
    /// the same command run again (by a fresh backend, as a new process would) converges — a further Deploy plans nothing,
    /// Test-VirtualNetwork passes, one QEMU per router, orphan clean-up would kill nothing — and teardown leaves nothing
    /// tagged. $VN_CRASH_POINTS=all tries every boundary (docs/reliability.md); CI tries a spread of them.
    /// </summary>
    [Collection(EndToEndCollection.Name)]
    public sealed class EndToEndCrashInjectionTests
    {
        private readonly ITestOutputHelper _out;

        public EndToEndCrashInjectionTests(ITestOutputHelper output) => _out = output;

        /// <summary>a — b — c on one host (two links, one limited).</summary>
        private static TopologySpec Line(CrashRun run) => new TopologySpec
        {
            Routers =
            {
                new RouterSpec { Name = run.N("a"), Image = "router", MemoryMB = 96, NetworkLabel = run.Prefix },
                new RouterSpec { Name = run.N("b"), Image = "router", MemoryMB = 96, NetworkLabel = run.Prefix },
                new RouterSpec { Name = run.N("c"), Image = "router", MemoryMB = 96, NetworkLabel = run.Prefix },
            },
            Links =
            {
                new LinkSpec { Name = run.N("ab"), From = run.N("a"), To = run.N("b") },
                new LinkSpec { Name = run.N("bc"), From = run.N("b"), To = run.N("c"), MaximumBandwidth = 20_000_000 },
            },
        };

        /// <summary>a on h1, b on h2, c on h3, hosts in a chain h1 — h2 — h3 (links cross hosts: VXLAN).</summary>
        private static TopologySpec Lab(CrashRun run)
        {
            var t = Line(run);
            foreach (var h in run.LabHosts) t.Hosts.Add(new HostSpec { Name = h });
            t.PhysicalLinks.Add(new PhysicalLinkSpec { From = run.LabHosts[0], To = run.LabHosts[1] });
            t.PhysicalLinks.Add(new PhysicalLinkSpec { From = run.LabHosts[1], To = run.LabHosts[2] });
            for (int i = 0; i < 3; i++) t.Routers[i].Host = run.LabHosts[i];
            return t;
        }

        private void Deployed(CrashRun run, TopologySpec topology)
        {
            var r = run.Deploy(topology);
            Assert.True(r.Success, "deploy failed at " + r.Failed + ": " + r.Error);
        }

        [EndToEndFact]
        public void Deploy_on_one_host_recovers_from_a_crash_at_any_step()
        {
            EndToEndHost.RequireReady();
            CrashInjector.Run("Deploy (one host, 3 routers)", _out, () => new CrashRun(_out),
                setup: run => { },
                operate: run => Deployed(run, Line(run)),
                recover: run => Deployed(run, Line(run)),
                verify: run => CrashInjector.AssertConverged(run, Line(run), "after the re-run"),
                defaultPoints: 8);
        }

        [EndToEndFact]
        public void Deploy_over_three_lab_hosts_recovers_from_a_crash_at_any_step()
        {
            EndToEndHost.RequireReady();
            var hosts = new[] { "h1", "h2", "h3" };
            CrashInjector.Run("Deploy (three lab hosts, 3 routers)", _out, () => new CrashRun(_out, hosts),
                setup: run => { },
                operate: run => Deployed(run, Lab(run)),
                recover: run => Deployed(run, Lab(run)),
                verify: run => CrashInjector.AssertConverged(run, Lab(run), "after the re-run"),
                defaultPoints: 5);
        }

        [EndToEndFact]
        public void Remove_VirtualNetwork_recovers_from_a_crash_at_any_step()
        {
            EndToEndHost.RequireReady();
            CrashInjector.Run("Remove-VirtualNetwork (one host, 3 routers)", _out, () => new CrashRun(_out),
                setup: run => Deployed(run, Line(run)),
                operate: run =>
                {
                    var r = run.Remove();
                    Assert.True(r.Success, "removal failed at " + r.Failed + ": " + r.Error);
                },
                recover: run =>
                {
                    var r = run.Remove();
                    Assert.True(r.Success, "the re-run removal failed at " + r.Failed + ": " + r.Error);
                },
                verify: run =>
                {
                    var left = run.Leftovers();
                    Assert.True(left.Count == 0, "left after the removal:\n" + string.Join("\n", left));
                },
                defaultPoints: 6);
        }

        /// <summary>
        /// Remove-VirtualRouter of a and b of a — b — c in one batch (<see cref="VirtualNetworkService.RemoveRouters"/>: links,
        /// then routers, then c's reconfiguration); the re-run removes what is left of them (as `Remove-VirtualRouter a, b
        /// -ErrorAction SilentlyContinue` would). After it a and b are gone with their links, nothing of them is an orphan, and
        /// c runs on.
        /// </summary>
        [EndToEndFact]
        public void Remove_VirtualRouter_batch_recovers_from_a_crash_at_any_step()
        {
            EndToEndHost.RequireReady();
            void RemoveAB(CrashRun run)
            {
                var names = new[] { run.N("a"), run.N("b") };
                var left = names.Where(n => run.Service.Observe(CancellationToken.None).FindRouter(n) != null).ToList();
                if (left.Count == 0) return;
                var outcomes = run.Service.RemoveRouters(left, CancellationToken.None);
                Assert.All(outcomes, o => Assert.True(o.Succeeded, $"remove {o.Name}: {o.Error?.Message}"));
            }
            CrashInjector.Run("Remove-VirtualRouter (2 of 3 running routers, one batch)", _out, () => new CrashRun(_out),
                setup: run => Deployed(run, Line(run)),
                operate: RemoveAB,
                recover: RemoveAB,
                verify: run =>
                {
                    var s = run.Service.Observe(CancellationToken.None);
                    Assert.Equal(new[] { run.N("c") }, s.Routers.Select(r => r.Name));
                    Assert.Equal(RouterState.Running, s.Routers[0].State);
                    Assert.Empty(s.Links);
                    var orphans = run.Backend.FindOrphans(false, CancellationToken.None);
                    Assert.True(orphans.Count == 0, "orphans after the removal:\n" + string.Join("\n", orphans.Select(o => o + " (" + o.Reason + ")")));
                },
                defaultPoints: 6);
        }

        [EndToEndFact]
        public void New_and_Remove_VirtualLink_on_running_routers_recover_from_a_crash_at_any_step()
        {
            EndToEndHost.RequireReady();
            LinkSpec Extra(CrashRun run) => new LinkSpec { Name = run.N("ac"), From = run.N("a"), To = run.N("c"), MaximumBandwidth = 5_000_000 };
            TopologySpec WithExtra(CrashRun run)
            {
                var t = Line(run);
                t.Links.Add(Extra(run));
                return t;
            }
            CrashInjector.Run("New-VirtualLink (running routers)", _out, () => new CrashRun(_out),
                setup: run => Deployed(run, Line(run)),
                operate: run => run.Service.NewLink(Extra(run), false, CancellationToken.None),
                recover: run =>
                {
                    // Run again: an unfinished link is finished; a finished one is refused as existing (and verified below).
                    try { run.Service.NewLink(Extra(run), false, CancellationToken.None); }
                    catch (VirtualNetworksException ex) when (ex.ErrorId == ErrorIds.LinkAlreadyExists) { }
                },
                verify: run => CrashInjector.AssertConverged(run, WithExtra(run), "after the re-run"),
                defaultPoints: 6);
            CrashInjector.Run("Remove-VirtualLink (running routers)", _out, () => new CrashRun(_out),
                setup: run => Deployed(run, WithExtra(run)),
                operate: run => run.Service.RemoveLink(run.N("ac"), CancellationToken.None),
                recover: run =>
                {
                    try { run.Service.RemoveLink(run.N("ac"), CancellationToken.None); }
                    catch (VirtualNetworksException ex) when (ex.ErrorId == ErrorIds.LinkNotFound) { } // gone already: reported, routers reconfigured
                },
                verify: run =>
                {
                    Assert.Null(run.Service.Observe(CancellationToken.None).FindLink(run.N("ac")));
                    CrashInjector.AssertConverged(run, Line(run), "after the re-run");
                },
                defaultPoints: 6);
        }

        [EndToEndFact]
        public void Set_VirtualLink_recovers_from_a_crash_at_any_step()
        {
            EndToEndHost.RequireReady();
            TopologySpec Lowered(CrashRun run)
            {
                var t = Line(run);
                t.Links[1].MaximumBandwidth = 2_000_000;
                return t;
            }
            CrashInjector.Run("Set-VirtualLink (running routers)", _out, () => new CrashRun(_out),
                setup: run => Deployed(run, Line(run)),
                operate: run => run.Service.SetLinkBandwidth(run.N("bc"), 2_000_000, CancellationToken.None),
                recover: run => run.Service.SetLinkBandwidth(run.N("bc"), 2_000_000, CancellationToken.None),
                verify: run =>
                {
                    Assert.Equal(2_000_000, run.Service.Observe(CancellationToken.None).FindLink(run.N("bc"))!.MaximumBandwidth);
                    CrashInjector.AssertConverged(run, Lowered(run), "after the re-run");
                },
                defaultPoints: 4);
        }

        [EndToEndFact]
        public void Lab_host_create_and_remove_recover_from_a_crash_at_any_step()
        {
            EndToEndHost.RequireReady();
            void NewHost(CrashRun run)
            {
                using var exclusive = run.Service.Exclusive(CancellationToken.None);
                var snapshot = run.Service.Observe(CancellationToken.None);
                var plan = run.Service.PlanNewLabHost(snapshot, run.LabHosts[0], new[] { "localhost" });
                var r = run.Service.Apply(plan, new ApplyAllSteps(), CancellationToken.None);
                Assert.True(r.Success, "New-VirtualLabHost failed at " + r.Failed + ": " + r.Error);
            }
            void RemoveHost(CrashRun run)
            {
                using var exclusive = run.Service.Exclusive(CancellationToken.None);
                var snapshot = run.Service.Observe(CancellationToken.None);
                if (snapshot.FindHost(run.LabHosts[0]) == null) return;
                var r = run.Service.Apply(run.Service.PlanRemoveLabHost(snapshot, run.LabHosts[0]), new ApplyAllSteps(), CancellationToken.None);
                Assert.True(r.Success, "Remove-VirtualLabHost failed at " + r.Failed + ": " + r.Error);
            }
            void HostWorks(CrashRun run)
            {
                var snapshot = run.Service.Observe(CancellationToken.None);
                var host = snapshot.FindHost(run.LabHosts[0]);
                Assert.NotNull(host);
                Assert.True(string.IsNullOrEmpty(host!.Status), "the lab host reports drift: " + host.Status);
                var physical = snapshot.PhysicalLinks.SingleOrDefault(p => p.Name.IndexOf(run.LabHosts[0], StringComparison.OrdinalIgnoreCase) >= 0);
                Assert.True(physical != null && string.IsNullOrEmpty(physical.Status), "the physical link is missing or drifted: " + physical?.Status);
                // The underlay carries packets: the lab host reaches the local machine's underlay address over the veth pair.
                var local = snapshot.Hosts.Single(h => Topology.HostNames.IsLocalHost(h.Name));
                Assert.False(string.IsNullOrEmpty(local.UnderlayAddress), "the local machine got no underlay address");
                var ping = ProcessRunner.Run("ip", new[] { "netns", "exec", Net.InterfaceNames.Namespace(run.LabHosts[0]), ProcessRunner.FindExecutable("busybox") ?? "/bin/busybox", "ping", "-c", "1", "-W", "2", local.UnderlayAddress! },
                    null, TimeSpan.FromSeconds(10));
                Assert.True(ping.Succeeded, "the lab host does not reach " + local.UnderlayAddress + " over the underlay: " + ping.StdOut + ping.StdErr);
                // Routers on the lab host: deploy, reach each other, remove.
                var t = new TopologySpec
                {
                    Routers =
                    {
                        new RouterSpec { Name = run.N("x"), Image = "router", MemoryMB = 96, NetworkLabel = run.Prefix, Host = run.LabHosts[0] },
                        new RouterSpec { Name = run.N("y"), Image = "router", MemoryMB = 96, NetworkLabel = run.Prefix, Host = run.LabHosts[0] },
                    },
                    Links = { new LinkSpec { Name = run.N("xy"), From = run.N("x"), To = run.N("y") } },
                };
                Deployed(run, t);
                CrashInjector.AssertConverged(run, t, "routers on the re-created lab host");
                var removed = run.Remove();
                Assert.True(removed.Success, "removing the check's routers failed: " + removed.Error);
            }
            CrashInjector.Run("New-VirtualLabHost", _out, () => new CrashRun(_out, new[] { "h1" }),
                setup: run => { },
                operate: NewHost,
                recover: NewHost,
                verify: HostWorks,
                defaultPoints: 5,
                teardown: RemoveHost);
            CrashInjector.Run("Remove-VirtualLabHost", _out, () => new CrashRun(_out, new[] { "h1" }),
                setup: NewHost,
                operate: RemoveHost,
                recover: run =>
                {
                    if (run.Service.Observe(CancellationToken.None).FindHost(run.LabHosts[0]) != null) RemoveHost(run); // else: gone, as asked
                },
                verify: run =>
                {
                    Assert.Null(run.Service.Observe(CancellationToken.None).FindHost(run.LabHosts[0]));
                    var left = run.Leftovers();
                    Assert.True(left.Count == 0, "left after Remove-VirtualLabHost:\n" + string.Join("\n", left));
                },
                defaultPoints: 5);
        }
    }
}
