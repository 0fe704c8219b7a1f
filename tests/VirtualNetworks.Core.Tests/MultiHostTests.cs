using System;
using System.Collections.Generic;
using System.Linq;
using VirtualNetworks.Backends;
using VirtualNetworks.Engine;
using VirtualNetworks.Export;
using VirtualNetworks.Planning;
using VirtualNetworks.Topology;
using Xunit;

namespace VirtualNetworks.Core.Tests
{
    /// <summary>Several hosts: physicalLinks in the file, their validation, underlay paths, lab-host plan steps, the graph.</summary>
    public class MultiHostTests
    {
        private static TopologySpec Read(string json)
        {
            var r = TopologyReader.Parse(json, "t.json");
            Assert.True(r.Success, string.Join(Environment.NewLine, r.Errors));
            return r.Spec!;
        }

        private static List<TopologyError> Validate(string json, ValidationContext? context = null) =>
            TopologyValidator.Validate(Read(json), context ?? new ValidationContext());

        private const string ThreeHosts = @"{
  ""hosts"": [ { ""name"": ""h1"" }, { ""name"": ""h2"", ""kind"": ""Linux"" }, { ""name"": ""h3"" } ],
  ""physicalLinks"": [ { ""from"": ""h1"", ""to"": ""h2"" }, { ""from"": ""h3"", ""to"": ""h2"" } ],
  ""routers"": [ { ""name"": ""r1"", ""host"": ""h1"" }, { ""name"": ""r2"", ""host"": ""h2"" }, { ""name"": ""r3"", ""host"": ""h3"" } ],
  ""links"": [ { ""from"": ""r1"", ""to"": ""r2"" }, { ""from"": ""r1"", ""to"": ""r3"" } ]
}";

        // ================================================================================================ reading

        [Fact]
        public void PhysicalLinks_AreRead_WithTheirPaths_AndHostKindsKept()
        {
            var spec = Read(ThreeHosts);
            Assert.Equal(new[] { "h1--h2", "h3--h2" }, spec.PhysicalLinks.Select(p => p.ToString()));
            Assert.Equal(new[] { "physicalLinks[0]", "physicalLinks[1]" }, spec.PhysicalLinks.Select(p => p.SourcePath));
            Assert.Equal(new string?[] { null, "Linux", null }, spec.Hosts.Select(h => h.Kind));
        }

        [Fact]
        public void ThreeHosts_TwoHopLink_IsValid()
        {
            Assert.Empty(Validate(ThreeHosts));
        }

        // ================================================================================================ validation

        [Theory]
        [InlineData(@"{ ""hosts"": [ { ""name"": ""h1"" } ], ""physicalLinks"": [ { ""from"": ""h1"", ""to"": ""nowhere"" } ] }", ErrorIds.PhysicalLinkHostNotFound)]
        [InlineData(@"{ ""hosts"": [ { ""name"": ""h1"" } ], ""physicalLinks"": [ { ""from"": ""h1"", ""to"": ""H1"" } ] }", ErrorIds.PhysicalSelfLink)]
        [InlineData(@"{ ""physicalLinks"": [ { ""from"": ""localhost"", ""to"": ""."" } ] }", ErrorIds.PhysicalSelfLink)]
        [InlineData(@"{ ""hosts"": [ { ""name"": ""a"" }, { ""name"": ""b"" } ], ""physicalLinks"": [ { ""from"": ""a"", ""to"": ""b"" }, { ""from"": ""B"", ""to"": ""A"" } ] }", ErrorIds.DuplicatePhysicalLink)]
        [InlineData(@"{ ""hosts"": [ { ""name"": ""a"" } ], ""physicalLinks"": [ { ""from"": ""a"", ""to"": ""b;rm"" } ] }", ErrorIds.InvalidName)]
        public void PhysicalLink_Faults_HaveTheirIds(string json, string id)
        {
            var errors = Validate(json);
            Assert.Equal(new[] { id }, errors.Select(e => e.ErrorId).Distinct());
            Assert.All(errors, e => Assert.Contains("physicalLinks[", e.Message));
        }

        [Fact]
        public void PhysicalLink_ToTheLocalMachine_AndToAKnownHost_IsAccepted()
        {
            var context = new ValidationContext();
            context.KnownHosts.Add("hv9");
            Assert.Empty(Validate(@"{ ""hosts"": [ { ""name"": ""h1"" } ],
                ""physicalLinks"": [ { ""from"": ""h1"", ""to"": ""localhost"" }, { ""from"": ""hv9"", ""to"": """ + HostNames.LocalName + @""" } ] }", context));
        }

        [Fact]
        public void NoUnderlayPath_NamesTheLinkAndBothHosts()
        {
            var json = ThreeHosts.Replace(@"{ ""from"": ""h3"", ""to"": ""h2"" }", @"{ ""from"": ""h3"", ""to"": ""localhost"" }");
            var e = Assert.Single(Validate(json));
            Assert.Equal(ErrorIds.NoUnderlayPath, e.ErrorId);
            Assert.Equal("r1-r3", e.Target);
            Assert.Equal("links[1]", e.JsonPath);
            Assert.Contains("'h1'", e.Message);
            Assert.Contains("'h3'", e.Message);
            Assert.Contains("reaches only 'h2'", e.Message);
        }

        [Fact]
        public void NoUnderlayPath_IsNotChecked_WithoutPhysicalLinks()
        {
            Assert.Empty(Validate(@"{ ""hosts"": [ { ""name"": ""h1"" }, { ""name"": ""h3"" } ],
              ""routers"": [ { ""name"": ""r1"", ""host"": ""h1"" }, { ""name"": ""r3"", ""host"": ""h3"" } ], ""links"": [ { ""from"": ""r1"", ""to"": ""r3"" } ] }"));
        }

        [Fact]
        public void NoUnderlayPath_UsesTheHostsOfDeployedRouters()
        {
            var inv = new BackendInventory();
            inv.Routers.Add(new VirtualRouter { Name = "old", ComputerName = "h3", Image = "router" });
            var context = new ValidationContext { Observed = inv };
            context.KnownHosts.Add("h3");
            var errors = Validate(@"{ ""hosts"": [ { ""name"": ""h1"" }, { ""name"": ""h2"" } ], ""physicalLinks"": [ { ""from"": ""h1"", ""to"": ""h2"" } ],
              ""routers"": [ { ""name"": ""r1"", ""host"": ""h1"" } ], ""links"": [ { ""from"": ""r1"", ""to"": ""old"" } ] }", context);
            Assert.Equal(ErrorIds.NoUnderlayPath, Assert.Single(errors).ErrorId);
        }

        // ================================================================================================ paths

        [Fact]
        public void ShortestPath_FewestHops_Deterministic_CaseInsensitive()
        {
            var g = UnderlayPaths.Graph(new[] { ("a", "b"), ("b", "d"), ("a", "c"), ("c", "d"), ("d", "e") });
            Assert.Equal(new[] { "a", "b", "d", "E" }.Select(x => x.ToLowerInvariant()), UnderlayPaths.ShortestPath(g, "a", "e")!.Select(x => x.ToLowerInvariant()));
            Assert.Equal(new[] { "A" }, UnderlayPaths.ShortestPath(g, "A", "a"));
            Assert.Null(UnderlayPaths.ShortestPath(g, "a", "zz"));
            Assert.Equal(5, UnderlayPaths.Component(g, "c").Count);
        }

        private static BackendInventory Lab(bool byDeployment = true)
        {
            var inv = new BackendInventory();
            inv.Hosts.Add(new VirtualHost { Name = HostNames.LocalName, Kind = "Linux" });
            foreach (var h in new[] { "h1", "h2", "h3" })
                inv.Hosts.Add(new VirtualHost { Name = h, Kind = "Linux", IsLabHost = true, CreatedByDeployment = byDeployment, UnderlayAddress = "198.18.0." + h[1] });
            inv.PhysicalLinks.Add(new PhysicalLink { From = "h1", To = "h2", FromAddress = "172.31.0.0/31", ToAddress = "172.31.0.1/31", Id = "p1" });
            inv.PhysicalLinks.Add(new PhysicalLink { From = "h3", To = "h2", Id = "p2" });
            inv.Routers.Add(new VirtualRouter { Name = "r1", ComputerName = "h1", State = RouterState.Running });
            inv.Routers.Add(new VirtualRouter { Name = "r3", ComputerName = "h3", State = RouterState.Running });
            inv.Routers.Add(new VirtualRouter { Name = "r4", ComputerName = "h3", State = RouterState.Running });
            inv.Links.Add(new VirtualLink { Name = "r1-r3", From = "r1", To = "r3", FromComputerName = "h1", ToComputerName = "h3", Transport = LinkTransport.Vxlan, TunnelId = 10001 });
            inv.Links.Add(new VirtualLink { Name = "r3-r4", From = "r3", To = "r4", FromComputerName = "h3", ToComputerName = "h3", Transport = LinkTransport.Bridge });
            return inv;
        }

        [Fact]
        public void Snapshot_FillsHostsRoutersNeighbors_AndUnderlayPaths()
        {
            var s = new Snapshot(Lab());
            var h2 = s.FindHost("H2")!;
            Assert.Empty(h2.Routers);
            Assert.Equal(new[] { "h1", "h3" }, h2.Neighbors);
            Assert.Equal(new[] { "r3", "r4" }, s.FindHost("h3")!.Routers);
            Assert.Equal(new[] { "h1", "h2", "h3" }, s.FindLink("r1-r3")!.UnderlayPath);
            Assert.Equal(new[] { "h3" }, s.FindLink("r3-r4")!.UnderlayPath);
            Assert.NotNull(s.FindPhysicalLink("h2", "H1"));
            Assert.Equal(HostNames.LocalName, s.FindHost("localhost")!.Name);
            Assert.Equal(new[] { "h1", "h2", "h3" }, s.Networks.Single(n => n.Routers.Contains("r1")).Hosts.Concat(new[] { "h2" }).Distinct().OrderBy(x => x));
        }

        [Fact]
        public void Snapshot_KeepsAPathTheBackendGave()
        {
            var inv = Lab();
            inv.Links[0].UnderlayPath = new[] { "h1", "x", "h3" };
            Assert.Equal(new[] { "h1", "x", "h3" }, new Snapshot(inv).FindLink("r1-r3")!.UnderlayPath);
        }

        // ================================================================================================ planning

        [Fact]
        public void Plan_CreatesMissingLabHostsAndPhysicalLinksFirst_OnlyWhenTheBackendManagesThem()
        {
            var desired = Read(ThreeHosts);
            var observed = new BackendInventory();
            observed.Hosts.Add(new VirtualHost { Name = HostNames.LocalName });
            observed.Hosts.Add(new VirtualHost { Name = "H1", IsLabHost = true });

            var plan = Planner.Plan(desired, observed, null, 1, manageLabHosts: true);
            Assert.Equal(new[] { "CreateLabHost h2", "CreateLabHost h3", "CreatePhysicalLink h1--h2", "CreatePhysicalLink h2--h3" },
                plan.Steps.Take(4).Select(st => st.Action + " " + st.Target));
            Assert.Equal(PlanAction.CreateRouter, plan.Steps[4].Action);

            Assert.DoesNotContain(Planner.Plan(desired, observed, null, 1, manageLabHosts: false).Steps,
                st => st.Action == PlanAction.CreateLabHost || st.Action == PlanAction.CreatePhysicalLink);
        }

        [Fact]
        public void Plan_HostsAndPhysicalLinksThatExist_AreNotPlanned()
        {
            var desired = Read(ThreeHosts);
            var observed = Lab();
            foreach (var h in observed.Hosts.Where(h => h.IsLabHost)) h.DeployedFor = Planner.DeploymentNetworks(desired).ToArray();
            var plan = Planner.Plan(desired, observed, null, 1, manageLabHosts: true);
            Assert.DoesNotContain(plan.Steps, st => st.Action == PlanAction.CreateLabHost || st.Action == PlanAction.CreatePhysicalLink);
        }

        [Fact]
        public void Removal_RemovesDeployCreatedLabHosts_OnceUnused_IncludingTransitHosts()
        {
            var s = new Snapshot(Lab());
            var all = s.Networks.ToList();
            var plan = Planner.PlanRemoval(s.Inventory, all, manageLabHosts: true);
            Assert.Equal(new[] { "RemovePhysicalLink h1--h2", "RemovePhysicalLink h2--h3", "RemoveLabHost h1", "RemoveLabHost h2", "RemoveLabHost h3" },
                plan.Steps.Where(st => st.Action == PlanAction.RemovePhysicalLink || st.Action == PlanAction.RemoveLabHost)
                    .Select(st => st.Action + " " + st.Target));
            Assert.Equal(PlanAction.RemoveLabHost, plan.Steps.Last().Action);
            Assert.DoesNotContain(Planner.PlanRemoval(s.Inventory, all).Steps, st => st.Action == PlanAction.RemoveLabHost);
        }

        [Fact]
        public void Removal_KeepsHostsStillUsed_AndHostsNotCreatedByADeployment()
        {
            var inv = Lab();
            inv.Routers.Add(new VirtualRouter { Name = "x1", ComputerName = "h1", State = RouterState.Running });
            inv.Routers.Add(new VirtualRouter { Name = "x2", ComputerName = "h3", State = RouterState.Running });
            inv.Links.Add(new VirtualLink { Name = "x1-x2", From = "x1", To = "x2", FromComputerName = "h1", ToComputerName = "h3" });
            var s = new Snapshot(inv);
            var plan = Planner.PlanRemoval(s.Inventory, s.Networks.Where(n => n.Routers.Contains("r1")).ToList(), manageLabHosts: true);
            Assert.DoesNotContain(plan.Steps, st => st.Action == PlanAction.RemoveLabHost || st.Action == PlanAction.RemovePhysicalLink);

            var manual = new Snapshot(Lab(byDeployment: false));
            Assert.DoesNotContain(Planner.PlanRemoval(manual.Inventory, manual.Networks.ToList(), manageLabHosts: true).Steps,
                st => st.Action == PlanAction.RemoveLabHost);
        }

        // ================================================================================================ underlay drift (issue 11, defect 5)

        [Fact]
        public void Plan_DriftedLabHostsAndPhysicalLinks_AreRepaired_SoADriftedUnderlayNeverPlansZeroChanges()
        {
            var desired = Read(ThreeHosts);
            var clean = Lab();
            foreach (var h in clean.Hosts.Where(h => h.IsLabHost)) h.DeployedFor = Planner.DeploymentNetworks(desired).ToArray();
            Assert.DoesNotContain(Planner.Plan(desired, clean, null, 1, manageLabHosts: true).Steps, st => st.Action == PlanAction.CreateLabHost || st.Action == PlanAction.CreatePhysicalLink);

            var drifted = Lab();
            foreach (var h in drifted.Hosts.Where(h => h.IsLabHost)) h.DeployedFor = Planner.DeploymentNetworks(desired).ToArray();
            drifted.Hosts.Single(h => h.Name == "h3").Status = "underlay route to 198.19.255.1/32 is missing";
            drifted.PhysicalLinks.Single(p => p.Id == "p1").Status = "vnv0123456789 in h2 lacks its address 198.19.0.1/31";
            var plan = Planner.Plan(desired, drifted, null, 1, manageLabHosts: true);
            var lab = plan.Steps.Where(st => st.Action == PlanAction.CreateLabHost || st.Action == PlanAction.CreatePhysicalLink).ToList();
            Assert.Equal(new[] { "CreateLabHost h3", "CreatePhysicalLink h1--h2" }, lab.Select(st => st.Action + " " + st.Target));
            Assert.StartsWith("Repair lab host: underlay route to 198.19.255.1/32 is missing", lab[0].Description);
            Assert.Contains("Repair physical link between hosts h1 and h2: vnv0123456789 in h2 lacks its address", lab[1].Description);

            // A drifted host the topology does not declare is repaired too (the underlay is shared).
            var other = Lab();
            other.Hosts.Add(new VirtualHost { Name = "h9", IsLabHost = true, Status = "network namespace vnh-x is missing" });
            Assert.Contains(Planner.Plan(new TopologySpec(), other, null, 1, manageLabHosts: true).Steps, st => st.Action == PlanAction.CreateLabHost && st.Target == "h9");
            Assert.Contains(Planner.PlanUnderlayRepairs(other), st => st.Target == "h9" && st.Description.StartsWith("Repair lab host", StringComparison.Ordinal));
        }

        [Fact]
        public void Plan_RecordsTheDeploymentsNetworks_OnDeployCreatedHostsThatDoNotListThem()
        {
            var desired = Read(ThreeHosts.Replace(@"""host"": ""h1"" }", @"""host"": ""h1"", ""network"": ""x"" }"));
            Assert.Equal(new[] { "x" }, Planner.DeploymentNetworks(desired)); // r1 (x) is linked to the unlabelled r2 and r3: one network, x
            var unlabelled = Read(ThreeHosts.Replace(@"{ ""from"": ""r1"", ""to"": ""r3"" }", @"{ ""from"": ""r2"", ""to"": ""r2"" }"));
            Assert.Contains("vn-r3", Planner.DeploymentNetworks(unlabelled)); // unlabelled networks: their generated names
            var plan = Planner.Plan(desired, Lab(), null, 1, manageLabHosts: true);
            var records = plan.Steps.Where(st => st.Action == PlanAction.CreateLabHost).ToList();
            Assert.Equal(new[] { "h1", "h2", "h3" }, records.Select(st => st.Target));
            Assert.All(records, st => Assert.StartsWith("Record lab host as deployed for virtual network(s) x (", st.Description));
            Assert.DoesNotContain(Planner.Plan(desired, Lab(byDeployment: false), null, 1, manageLabHosts: true).Steps, st => st.Action == PlanAction.CreateLabHost);
        }

        // ================================================================================================ removal by identity (defect 6)

        /// <summary>Network x split into three fragments (r1 | r2-r3 | r4), network y (y1-y2), lab hosts h1-h3 deployed for x or y.</summary>
        private static BackendInventory Split()
        {
            var inv = new BackendInventory();
            inv.Hosts.Add(new VirtualHost { Name = HostNames.LocalName, Kind = "Linux" });
            inv.Hosts.Add(new VirtualHost { Name = "h1", IsLabHost = true, CreatedByDeployment = true, DeployedFor = new[] { "x" } });
            inv.Hosts.Add(new VirtualHost { Name = "h2", IsLabHost = true, CreatedByDeployment = true, DeployedFor = new[] { "x", "y" } });
            inv.Hosts.Add(new VirtualHost { Name = "h3", IsLabHost = true, CreatedByDeployment = true, DeployedFor = new[] { "y" } });
            inv.PhysicalLinks.Add(new PhysicalLink { From = "h1", To = "h2", Id = "p1" });
            inv.PhysicalLinks.Add(new PhysicalLink { From = "h2", To = "h3", Id = "p2" });
            foreach (var (r, h, label) in new[] { ("r1", "h1", "x"), ("r2", "h1", "x"), ("r3", "h1", "x"), ("r4", "h1", "x"), ("y1", "h3", "y"), ("y2", "h3", "y") })
                inv.Routers.Add(new VirtualRouter { Name = r, ComputerName = h, NetworkLabel = label, State = RouterState.Running });
            inv.Links.Add(new VirtualLink { Name = "r2-r3", From = "r2", To = "r3", FromComputerName = "h1", ToComputerName = "h1" });
            inv.Links.Add(new VirtualLink { Name = "y1-y2", From = "y1", To = "y2", FromComputerName = "h3", ToComputerName = "h3" });
            return inv;
        }

        private static Func<string, bool> Literal(string name) => n => string.Equals(n, name, StringComparison.OrdinalIgnoreCase);

        [Fact]
        public void Fragments_ShareTheBaseName_AndRemovalByTheNameTakesThemAll()
        {
            var s = new Snapshot(Split());
            Assert.Equal(new[] { "x", "x#2", "x#3", "y" }, s.Networks.Select(n => n.Name));
            Assert.All(s.Networks.Where(n => n.Name.StartsWith("x", StringComparison.Ordinal)), n => { Assert.Equal("x", n.BaseName); Assert.Equal(3, n.FragmentCount); });
            Assert.Equal(1, s.FindNetwork("y")!.FragmentCount);

            var t = Assert.Single(VirtualNetworkService.SelectForRemoval(s, Literal("x"), manageLabHosts: true));
            Assert.Equal("x", t.Name);
            Assert.Equal(new[] { "x", "x#2", "x#3" }, t.Networks.Select(n => n.Name));
            var plan = Planner.PlanRemoval(s.Inventory, t.Networks, manageLabHosts: true, new[] { t.Name });
            Assert.Equal(new[] { "RemoveLink r2-r3", "RemoveRouter r1", "RemoveRouter r2", "RemoveRouter r3", "RemoveRouter r4",
                                 "RemovePhysicalLink h1--h2", "RemoveLabHost h1" },
                plan.Steps.Select(st => st.Action + " " + st.Target));

            // A fragment's own name takes that fragment only; wildcards match names and base names.
            var only = Assert.Single(VirtualNetworkService.SelectForRemoval(s, Literal("x#2"), manageLabHosts: true));
            Assert.Equal(new[] { "x#2" }, only.Networks.Select(n => n.Name));
            Assert.Equal(3, only.FragmentCount);
            // ... and leaves the lab hosts: the network it is a fragment of is still there.
            Assert.DoesNotContain(Planner.PlanRemoval(s.Inventory, only.Networks, true, new[] { only.Name }).Steps, st => st.Action == PlanAction.RemoveLabHost);
            Assert.Equal(new[] { "x", "y" }, VirtualNetworkService.SelectForRemoval(s, n => n.Length > 0, manageLabHosts: true).Select(x => x.Name));
            Assert.Empty(VirtualNetworkService.SelectForRemoval(s, Literal("nothing"), manageLabHosts: true));
        }

        [Fact]
        public void AHostSeveralNetworksDeployed_StaysUntilTheLastOfThemIsRemoved()
        {
            // h2 lists x and y: removing x keeps it (y is left), removing y afterwards takes it.
            var s = new Snapshot(Split());
            var x = VirtualNetworkService.SelectForRemoval(s, Literal("x"), true).Single();
            Assert.DoesNotContain(Planner.PlanRemoval(s.Inventory, x.Networks, true, new[] { "x" }).Steps, st => st.Target == "h2");

            var inv = Split();
            inv.Routers.RemoveAll(r => r.NetworkLabel == "x");
            inv.Links.RemoveAll(l => l.Name == "r2-r3");
            var s2 = new Snapshot(inv);
            var y = VirtualNetworkService.SelectForRemoval(s2, Literal("y"), true).Single();
            var hosts = Planner.PlanRemoval(s2.Inventory, y.Networks, true, new[] { "y" }).Steps.Where(st => st.Action == PlanAction.RemoveLabHost).Select(st => st.Target);
            Assert.Equal(new[] { "h1", "h2", "h3" }.Where(h => h != "h1"), hosts); // h1 lists x only: x's own removal takes it
        }

        [Fact]
        public void ANetworkWithNoRouterLeft_StillNamesItsDeployCreatedLabHosts()
        {
            // The re-run of an interrupted removal: every router and link of x is gone, its hosts are not.
            var inv = Split();
            inv.Routers.RemoveAll(r => r.NetworkLabel == "x");
            inv.Links.RemoveAll(l => l.Name == "r2-r3");
            var s = new Snapshot(inv);
            Assert.Null(s.FindNetwork("x"));
            var t = Assert.Single(VirtualNetworkService.SelectForRemoval(s, Literal("x"), manageLabHosts: true));
            Assert.Empty(t.Networks);
            Assert.Equal(new[] { "h1" }, t.LeftoverHosts); // h2 is y's too and y is left
            var plan = Planner.PlanRemoval(s.Inventory, t.Networks, manageLabHosts: true, new[] { t.Name });
            Assert.Equal(new[] { "RemovePhysicalLink h1--h2", "RemoveLabHost h1" }, plan.Steps.Select(st => st.Action + " " + st.Target));
            // Without lab host management there is nothing to name.
            Assert.Empty(VirtualNetworkService.SelectForRemoval(s, Literal("x"), manageLabHosts: false));
            // Hosts someone made by hand are never taken.
            inv.Hosts.Single(h => h.Name == "h1").CreatedByDeployment = false;
            Assert.Empty(VirtualNetworkService.SelectForRemoval(new Snapshot(inv), Literal("x"), manageLabHosts: true));
        }

        [Fact]
        public void DescribeMove_ListsTheSteps()
        {
            var s = new Snapshot(Lab());
            var text = VirtualNetworkService.DescribeMoveText(s.FindRouter("r3")!, "h2", MigrationMode.Live);
            Assert.Equal("Live migration of r3 from h3 to h2: prepare the network attachments on h2 for its 2 link(s) (r1-r3, r3-r4), " +
                         "migrate memory while it keeps running, then switch over, repoint the peers' ends of its links to h2, remove leftovers on h3", text);
            Assert.Contains("stop it gracefully", VirtualNetworkService.DescribeMoveText(s.FindRouter("r3")!, "h2", MigrationMode.Cold));
        }

        // ================================================================================================ export

        [Fact]
        public void Dot_DrawsThePhysicalNetwork_AndMarksTunnels()
        {
            var dot = GraphExporter.ToDot(new Snapshot(Lab()), null);
            Assert.Contains("\"host:h2\" [label=\"h2\\n198.18.0.2\\nlab host\", shape=\"box3d\"", dot);
            Assert.Contains("\"host:h1\" -- \"host:h2\" [label=\"physical\\n172.31.0.0/31 - 172.31.0.1/31\", color=\"#555555\"", dot);
            Assert.Contains("\"host:h2\" -- \"host:h3\" [label=\"physical\"", dot);
            Assert.Contains("r1-r3\\nunlimited\\ntunnel 10001 (Vxlan)\\nvia h1 > h2 > h3", dot);
        }

        [Fact]
        public void Dot_WithAFilter_DrawsTheHostsTheTunnelsCross()
        {
            var s = new Snapshot(Lab());
            var vn = s.FindRouter("r1")!.NetworkName;
            var dot = GraphExporter.ToDot(s, new[] { vn });
            Assert.Contains("\"host:h2\"", dot); // no router of the network on h2, but its tunnel crosses it
            Assert.Contains("\"host:h1\" -- \"host:h2\"", dot);
        }

        [Fact]
        public void Mermaid_DrawsThePhysicalNetwork_AsThickEdges()
        {
            var m = GraphExporter.ToMermaid(new Snapshot(Lab()), null);
            Assert.Contains("{{\"h2<br/>198.18.0.2<br/>lab host\"}}", m);
            Assert.Contains(" ===|\"physical<br/>172.31.0.0/31 - 172.31.0.1/31\"| ", m);
            Assert.Contains("tunnel 10001 (Vxlan)<br/>via h1 #gt; h2 #gt; h3", m);
            Assert.Contains("stroke:#555555,stroke-width:6px", m);
        }

        [Fact]
        public void TopologyWriter_WritesPhysicalLinks_AndTheyReadBack()
        {
            var s = new Snapshot(Lab());
            var json = TopologyWriter.ToJson(s.ToTopology());
            var back = Read(json);
            Assert.Equal(new[] { "h1--h2", "h2--h3" }, back.PhysicalLinks.Select(p => p.ToString()));
        }
    }
}
