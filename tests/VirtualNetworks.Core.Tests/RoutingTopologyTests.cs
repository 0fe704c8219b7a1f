using System;
using System.Collections.Generic;
using System.Linq;
using VirtualNetworks.Addressing;
using VirtualNetworks.Backends;
using VirtualNetworks.Engine;
using VirtualNetworks.Export;
using VirtualNetworks.Planning;
using VirtualNetworks.Routing;
using VirtualNetworks.Topology;
using Xunit;

namespace VirtualNetworks.Core.Tests.Topology
{
    /// <summary>Issue 14 in the engine: the networks section, link state, routing planning, plan steps, exports.</summary>
    public class RoutingTopologyTests
    {
        private const string Ring = @"{
  ""routers"": [ { ""name"": ""r1"", ""network"": ""a"" }, { ""name"": ""r2"", ""network"": ""a"" }, { ""name"": ""r3"", ""network"": ""a"" } ],
  ""links"": [ { ""from"": ""r1"", ""to"": ""r2"", ""state"": ""CABLEPULLED"" }, { ""from"": ""r2"", ""to"": ""r3"", ""state"": ""silent"" }, { ""from"": ""r3"", ""to"": ""r1"" } ],
  ""networks"": [ { ""name"": ""a"", ""routing"": ""ospf"", ""bfd"": true, ""helloIntervalSec"": 2, ""deadIntervalSec"": 8, ""bfdIntervalMs"": 50, ""bfdMultiplier"": 3 } ]
}";

        private static TopologyReadResult Read(string json) => TopologyReader.Parse(json, "t.json");

        private static TopologySpec Parse(string json)
        {
            var r = Read(json);
            Assert.True(r.Success, string.Join("\n", r.Errors.Select(e => e.Message)));
            return r.Spec!;
        }

        private static List<TopologyError> Validate(TopologySpec spec, bool observed = true) =>
            TopologyValidator.Validate(spec, new ValidationContext { Observed = observed ? new BackendInventory() : null });

        private static string WithNetworks(string networks) =>
            @"{ ""routers"": [ { ""name"": ""r1"", ""network"": ""a"" }, { ""name"": ""r2"", ""network"": ""a"" } ],
                ""links"": [ { ""from"": ""r1"", ""to"": ""r2"" } ], ""networks"": [ " + networks + " ] }";

        // ================================================================================================ reading

        [Fact]
        public void Parser_ReadsNetworksAndLinkStates()
        {
            var spec = Parse(Ring);
            var n = Assert.Single(spec.Networks);
            Assert.Equal("a", n.Name);
            Assert.Equal(RoutingProtocol.Ospf, n.Routing);
            Assert.True(n.Bfd);
            Assert.Equal((2, 8, 50, 3), (n.HelloIntervalSeconds, n.DeadIntervalSeconds, n.BfdIntervalMilliseconds, n.BfdMultiplier));
            Assert.Equal("networks[0]", n.SourcePath);
            Assert.Equal(new LinkState?[] { LinkState.CablePulled, LinkState.Silent, null }, spec.Links.Select(l => l.State));
            Assert.Empty(Validate(spec));
        }

        [Theory]
        [InlineData(@"{ ""name"": ""a"", ""routing"": ""rip"" }", ErrorIds.InvalidRoutingProtocol, "networks[0].routing")]
        [InlineData(@"{ ""name"": ""a"", ""routing"": ""ospf"", ""hello"": 1 }", ErrorIds.TopologyUnknownField, "networks[0].hello")]
        [InlineData(@"{ ""name"": ""a"", ""bfd"": ""yes"" }", ErrorIds.TopologyWrongType, "networks[0].bfd")]
        [InlineData(@"{ ""routing"": ""ospf"" }", ErrorIds.TopologyMissingField, "networks[0].name")]
        public void Parser_ReportsBadEntries_WithIdAndPath(string entry, string id, string path)
        {
            var r = Read(WithNetworks(entry));
            var e = Assert.Single(r.Errors);
            Assert.Equal(id, e.ErrorId);
            Assert.Equal(path, e.JsonPath);
        }

        [Fact]
        public void Parser_ReportsABadLinkState_WithAHint()
        {
            var r = Read(@"{ ""routers"": [ { ""name"": ""r1"" }, { ""name"": ""r2"" } ], ""links"": [ { ""from"": ""r1"", ""to"": ""r2"", ""state"": ""silnet"" } ] }");
            var e = Assert.Single(r.Errors);
            Assert.Equal(ErrorIds.InvalidLinkState, e.ErrorId);
            Assert.Equal("links[0].state", e.JsonPath);
            Assert.Contains("Did you mean \"silent\"", e.Message.Replace("'", "\""));
        }

        // ================================================================================================ validation

        [Theory]
        [InlineData(@"{ ""name"": ""a"", ""bfd"": true }", ErrorIds.BfdWithoutOspf, "networks[0].bfd")]
        [InlineData(@"{ ""name"": ""a"", ""routing"": ""static"", ""helloIntervalSec"": 3 }", ErrorIds.InvalidRoutingTimer, "networks[0].helloIntervalSec")]
        [InlineData(@"{ ""name"": ""a"", ""routing"": ""ospf"", ""helloIntervalSec"": 4, ""deadIntervalSec"": 4 }", ErrorIds.InvalidRoutingTimer, "networks[0].deadIntervalSec")]
        [InlineData(@"{ ""name"": ""a"", ""routing"": ""ospf"", ""helloIntervalSec"": 5 }", ErrorIds.InvalidRoutingTimer, "networks[0].helloIntervalSec")]
        [InlineData(@"{ ""name"": ""a"", ""routing"": ""ospf"", ""helloIntervalSec"": 0 }", ErrorIds.InvalidRoutingTimer, "networks[0].helloIntervalSec")]
        [InlineData(@"{ ""name"": ""a"", ""routing"": ""ospf"", ""deadIntervalSec"": 70000 }", ErrorIds.InvalidRoutingTimer, "networks[0].deadIntervalSec")]
        [InlineData(@"{ ""name"": ""a"", ""routing"": ""ospf"", ""bfd"": true, ""bfdIntervalMs"": 5 }", ErrorIds.InvalidRoutingTimer, "networks[0].bfdIntervalMs")]
        [InlineData(@"{ ""name"": ""a"", ""routing"": ""ospf"", ""bfd"": true, ""bfdMultiplier"": 1 }", ErrorIds.InvalidRoutingTimer, "networks[0].bfdMultiplier")]
        [InlineData(@"{ ""name"": ""a"", ""routing"": ""ospf"", ""bfdMultiplier"": 3 }", ErrorIds.InvalidRoutingTimer, "networks[0].bfdMultiplier")]
        [InlineData(@"{ ""name"": ""b"", ""routing"": ""ospf"" }", ErrorIds.NetworkEntryNotFound, "networks[0].name")]
        [InlineData(@"{ ""name"": ""a"", ""routing"": ""ospf"" }, { ""name"": ""A"", ""routing"": ""ospf"" }", ErrorIds.DuplicateName, "networks[1]")]
        public void Validator_ReportsBadEntries_WithIdAndPath(string entries, string id, string path)
        {
            var errors = Validate(Parse(WithNetworks(entries)));
            var e = Assert.Single(errors);
            Assert.Equal(id, e.ErrorId);
            Assert.Equal(path, e.JsonPath);
            Assert.Contains("networks[", e.Message);
        }

        [Fact]
        public void Validator_UnknownEntry_WaitsForTheObservedState_AndComputedNamesAreKnown()
        {
            Assert.Empty(Validate(Parse(WithNetworks(@"{ ""name"": ""b"", ""routing"": ""ospf"" }")), observed: false));
            var unlabelled = Parse(@"{ ""routers"": [ { ""name"": ""x2"" }, { ""name"": ""x1"" } ], ""links"": [ { ""from"": ""x1"", ""to"": ""x2"" } ],
                                       ""networks"": [ { ""name"": ""vn-x1"", ""routing"": ""ospf"" } ] }");
            Assert.Empty(Validate(unlabelled));
        }

        [Fact]
        public void Validator_ForcedMergeOfDifferentlyRoutedLabels_IsNetworkRoutingConflict()
        {
            var spec = Parse(@"{ ""routers"": [ { ""name"": ""a1"", ""network"": ""a"" }, { ""name"": ""b1"", ""network"": ""b"" } ],
                                  ""links"": [ { ""from"": ""a1"", ""to"": ""b1"" } ],
                                  ""networks"": [ { ""name"": ""a"", ""routing"": ""ospf"" }, { ""name"": ""b"", ""routing"": ""static"" } ] }");
            var errors = TopologyValidator.Validate(spec, new ValidationContext { Force = true, Observed = new BackendInventory() });
            var e = Assert.Single(errors);
            Assert.Equal(ErrorIds.NetworkRoutingConflict, e.ErrorId);
            Assert.Equal("a+b", e.Target);
            Assert.Contains("networks[1]", e.Message);
            // The same settings for both labels are fine.
            spec.Networks[1].Routing = RoutingProtocol.Ospf;
            Assert.Empty(TopologyValidator.Validate(spec, new ValidationContext { Force = true, Observed = new BackendInventory() }));
        }

        // ================================================================================================ writing

        [Fact]
        public void Writer_RoundTripsNetworksAndStates()
        {
            var spec = Parse(Ring);
            var text = TopologyWriter.ToJson(spec);
            Assert.Contains("\"state\": \"cablePulled\"", text);
            var back = Parse(text);
            Assert.Equal(spec.Links.OrderBy(l => l.Name).Select(l => (l.Name, l.State)), back.Links.OrderBy(l => l.Name).Select(l => (l.Name, l.State)));
            var n = Assert.Single(back.Networks);
            Assert.True(RoutingPlanner.SameRouting(spec.Networks[0], n));
            Assert.Equal(text, TopologyWriter.ToJson(back));
        }

        // ================================================================================================ routing planning

        private static (AddressPlan Plan, TopologySpec Spec) PlanRouting(string json, BackendInventory? observed = null)
        {
            var spec = Parse(json);
            var plan = AddressPlanner.Plan(spec.Routers, spec.Links, spec.AddressPools);
            RoutingPlanner.Apply(plan, spec.Routers, spec.Links, spec.Networks, observed);
            return (plan, spec);
        }

        [Fact]
        public void Apply_OspfNetwork_DropsStaticRoutes_SetsTimersIdsAndKey()
        {
            var (plan, _) = PlanRouting(Ring);
            var cfgs = plan.Routers.Values.ToList();
            Assert.All(cfgs, c => Assert.Empty(c.Routes));
            Assert.All(cfgs, c => Assert.Equal("routing ospf router-id " + c.Routing!.RouterId + " hello 2 dead 8 bfd 50 3 key " + RoutingPlanner.KeyOf("a"),
                                               c.Routing!.ToCanonicalString()));
            Assert.Equal(3, cfgs.Select(c => c.Routing!.RouterId).Distinct().Count());
            Assert.All(cfgs, c => Assert.True(RoutingPlanner.IsRouterId(c.Routing!.RouterId)));
        }

        [Fact]
        public void Apply_StaticOrNoEntry_KeepsStaticRoutes()
        {
            var (plan, _) = PlanRouting(Ring.Replace("\"routing\": \"ospf\", \"bfd\": true, \"helloIntervalSec\": 2, \"deadIntervalSec\": 8, \"bfdIntervalMs\": 50, \"bfdMultiplier\": 3", "\"routing\": \"static\""));
            Assert.All(plan.Routers.Values, c => Assert.Null(c.Routing));
            Assert.Contains(plan.Routers.Values, c => c.Routes.Count > 0);
        }

        [Fact]
        public void Keys_Are64LowerHex_DifferPerNetwork_AndIgnoreCase()
        {
            Assert.Matches("^[0-9a-f]{64}$", RoutingPlanner.KeyOf("a"));
            Assert.NotEqual(RoutingPlanner.KeyOf("a"), RoutingPlanner.KeyOf("b"));
            Assert.Equal(RoutingPlanner.KeyOf("Lab"), RoutingPlanner.KeyOf("lab"));
        }

        [Fact]
        public void RouterIds_AreStable_WhenUnrelatedRoutersComeAndGo_AndKeptFromTheAppliedConfiguration()
        {
            var small = RoutingPlanner.AssignRouterIds(new[] { "r1", "r2" }, null);
            var large = RoutingPlanner.AssignRouterIds(new[] { "a0", "r1", "r2", "z9" }, null);
            Assert.Equal(small["r1"], large["r1"]);
            Assert.Equal(small["r2"], large["r2"]);

            var applied = new Dictionary<string, RouterConfiguration>(StringComparer.OrdinalIgnoreCase)
            {
                ["r1"] = new RouterConfiguration { Routing = new RoutingConfiguration { RouterId = "10.0.0.1" } },
                ["r2"] = new RouterConfiguration { Routing = new RoutingConfiguration { RouterId = "10.0.0.1" } }, // a clash: r1 keeps it
            };
            var kept = RoutingPlanner.AssignRouterIds(new[] { "r1", "r2" }, applied);
            Assert.Equal("10.0.0.1", kept["r1"]);
            Assert.NotEqual("10.0.0.1", kept["r2"]);
        }

        [Fact]
        public void Apply_WithoutEntry_KeepsTheRoutingTheRoutersRun()
        {
            var (first, _) = PlanRouting(Ring);
            var observed = new BackendInventory();
            foreach (var kv in first.Routers) observed.Configurations[kv.Key] = kv.Value;
            var noEntry = Ring.Substring(0, Ring.IndexOf("\"networks\"", StringComparison.Ordinal)).TrimEnd().TrimEnd(',') + "}";
            var (second, _) = PlanRouting(noEntry, observed);
            Assert.All(second.Routers, kv => Assert.Equal(first.Routers[kv.Key].ToCanonicalString(), kv.Value.ToCanonicalString()));
        }

        // ================================================================================================ plan steps

        private static BackendInventory Deployed(TopologySpec spec, AddressPlan plan, params (string Link, LinkState State)[] states)
        {
            var inv = new BackendInventory();
            foreach (var r in spec.Routers)
                inv.Routers.Add(new VirtualRouter { Name = r.Name, Image = r.Image, ProcessorCount = r.ProcessorCount, MemoryMB = r.MemoryMB ?? 128,
                    NetworkLabel = r.NetworkLabel, State = RouterState.Running });
            foreach (var l in spec.Links)
                inv.Links.Add(new VirtualLink { Name = l.Name, From = l.From, To = l.To,
                    State = states.Where(s => s.Link == l.Name).Select(s => s.State).DefaultIfEmpty(LinkState.Up).First() });
            foreach (var kv in plan.Routers) inv.Configurations[kv.Key] = kv.Value;
            return inv;
        }

        [Fact]
        public void Planner_SetsDeclaredStates_KeepsUndeclaredOnes()
        {
            var (addresses, spec) = PlanRouting(Ring);
            foreach (var r in spec.Routers) r.MemoryMB = 128;

            var fresh = Planner.Plan(spec, new BackendInventory(), addresses);
            var steps = fresh.Steps.Select(s => (s.Action, s.Target)).ToList();
            Assert.Equal(steps.IndexOf((PlanAction.CreateLink, "r1-r2")) + 1, steps.IndexOf((PlanAction.SetLinkState, "r1-r2")));
            Assert.Equal(steps.IndexOf((PlanAction.CreateLink, "r2-r3")) + 1, steps.IndexOf((PlanAction.SetLinkState, "r2-r3")));
            Assert.DoesNotContain((PlanAction.SetLinkState, "r3-r1"), steps);

            var same = Planner.Plan(spec, Deployed(spec, addresses, ("r1-r2", LinkState.CablePulled), ("r2-r3", LinkState.Silent), ("r3-r1", LinkState.Silent)), addresses);
            Assert.Empty(same.Steps); // r3-r1 is undeclared: it keeps its observed state

            var differs = Planner.Plan(spec, Deployed(spec, addresses, ("r2-r3", LinkState.Silent)), addresses);
            var step = Assert.Single(differs.Steps);
            Assert.Equal((PlanAction.SetLinkState, "r1-r2"), (step.Action, step.Target));
            Assert.Contains("cable pulled", step.Description);
        }

        [Fact]
        public void Example_OspfRing_ParsesValidates_AndPlansOspfWithBfdForEveryRouter()
        {
            string? dir = AppContext.BaseDirectory;
            while (dir != null && !System.IO.File.Exists(System.IO.Path.Combine(dir, "Directory.Build.props"))) dir = System.IO.Path.GetDirectoryName(dir);
            Assert.NotNull(dir);
            var read = TopologyReader.ReadFile(System.IO.Path.Combine(dir!, "examples", "ospf-ring.json"));
            Assert.True(read.Success, string.Join("\n", read.Errors.Select(e => e.Message)));
            var spec = read.Spec!;
            Assert.Empty(Validate(spec));
            var plan = AddressPlanner.Plan(spec.Routers, spec.Links, spec.AddressPools);
            RoutingPlanner.Apply(plan, spec.Routers, spec.Links, spec.Networks, null);
            Assert.Equal(6, plan.Routers.Values.Count(c => c.Routing != null && c.Routing.Bfd && c.Routes.Count == 0));
        }

        // ================================================================================================ export

        [Fact]
        public void Export_DrawsDisabledLinksDifferently_InDotAndMermaid()
        {
            var inv = new BackendInventory();
            inv.Routers.Add(new VirtualRouter { Name = "r1", State = RouterState.Running });
            inv.Routers.Add(new VirtualRouter { Name = "r2", State = RouterState.Running });
            inv.Routers.Add(new VirtualRouter { Name = "r3", State = RouterState.Running });
            inv.Links.Add(new VirtualLink { Name = "r1-r2", From = "r1", To = "r2", State = LinkState.Silent });
            inv.Links.Add(new VirtualLink { Name = "r2-r3", From = "r2", To = "r3" });
            var snapshot = new Snapshot(inv);

            var dot = GraphExporter.ToDot(snapshot, null).Split('\n');
            var down = dot.Single(l => l.Contains("r1-r2"));
            Assert.Contains("style=\"dotted\"", down);
            Assert.Contains(GraphExporter.DisabledColor, down);
            Assert.Contains("DOWN (silent failure)", down);
            Assert.DoesNotContain("dotted", dot.Single(l => l.Contains("r2-r3")));

            var mermaid = GraphExporter.ToMermaid(snapshot, null);
            Assert.Contains("DOWN (silent failure)", mermaid);
            Assert.Contains("linkStyle 0 stroke:" + GraphExporter.DisabledColor, mermaid);
            Assert.DoesNotContain("linkStyle 1 stroke:" + GraphExporter.DisabledColor, mermaid);

            var exported = VirtualNetworkService.ExportTopology(snapshot, null);
            Assert.Equal(LinkState.Silent, exported.Links.Single(l => l.Name == "r1-r2").State);
            Assert.Null(exported.Links.Single(l => l.Name == "r2-r3").State);
        }
    }
}
