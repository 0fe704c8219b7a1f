using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using VirtualNetworks.Backends;
using VirtualNetworks.Topology;
using Xunit;

namespace VirtualNetworks.Module.Tests
{
    /// <summary>
    /// Several hosts on the in-memory backend: lab hosts and physical links from a topology file, Get-VirtualHost,
    /// New-/Remove-VirtualLabHost, cross-host links, Remove-VirtualNetwork tidying lab hosts, Move-VirtualRouter.
    /// </summary>
    public sealed class HostCmdletTests : ModuleTestBase
    {
        /// <summary>Three lab hosts in a chain h1 - h2 - h3; r1 on h1, r2 on h2, r3 on h3; r1-r3 crosses two hops.</summary>
        private const string ThreeHosts = @"{
  ""hosts"": [ { ""name"": ""h1"" }, { ""name"": ""h2"" }, { ""name"": ""h3"", ""kind"": ""Test"" } ],
  ""physicalLinks"": [ { ""from"": ""h1"", ""to"": ""h2"" }, { ""from"": ""h3"", ""to"": ""h2"" } ],
  ""routers"": [ { ""name"": ""r1"", ""host"": ""h1"", ""network"": ""vn"" }, { ""name"": ""r2"", ""host"": ""h2"", ""network"": ""vn"" },
                 { ""name"": ""r3"", ""host"": ""h3"", ""network"": ""vn"" } ],
  ""links"": [ { ""from"": ""r1"", ""to"": ""r2"" }, { ""from"": ""r1"", ""to"": ""r3"" } ]
}";

        private string Write(string json)
        {
            var file = Path.Combine(TempDirectory(), "hosts.json");
            File.WriteAllText(file, json);
            return file;
        }

        private string DeployThreeHosts()
        {
            var file = Write(ThreeHosts);
            RunOk("Deploy-VirtualNetwork -Path " + Q(file) + " -Confirm:$false");
            return file;
        }

        // ================================================================================================ deploy

        [Fact]
        public void Deploy_CreatesLabHostsAndPhysicalLinksBeforeRouters_AndConverges()
        {
            var file = DeployThreeHosts();
            Assert.Equal(new[] { "h1", "h2", "h3" }, Backend.LabHostNames);
            Assert.Equal(new[] { "h1--h2", "h2--h3" }, Backend.PhysicalLinkNames);
            var calls = Backend.MutatingCalls.ToList();
            Assert.Equal(new[] { "CreateLabHost h1 byDeployment=True", "CreateLabHost h2 byDeployment=True", "CreateLabHost h3 byDeployment=True",
                                 "CreatePhysicalLink h1 h2", "CreatePhysicalLink h3 h2" }, calls.Take(5));
            Assert.Equal("h1", Backend.HostOf("r1"));
            Assert.Equal("h3", Backend.HostOf("r3"));
            // The file's hosts reach the backend as hosts the deployment may create (a backend must not refuse them).
            Assert.Contains(Requests, q => q.HostsMayNotExistYet && q.ComputerName.Contains("h2"));

            int before = Backend.MutatingCallCount;
            var again = RunOk("Deploy-VirtualNetwork -Path " + Q(file) + " -Confirm:$false").Objects<DeploymentResult>().Single();
            Assert.Equal(0, again.Planned);
            Assert.Equal(before, Backend.MutatingCallCount);
        }

        [Fact]
        public void Deploy_WhatIf_ShowsTheHostAndPhysicalLinkSteps_AndChangesNothing()
        {
            var r = RunOk("Deploy-VirtualNetwork -Path " + Q(Write(ThreeHosts)) + " -WhatIf");
            var lines = r.HostLines.Where(l => l.StartsWith("What if:", StringComparison.Ordinal)).ToList();
            Assert.Contains(lines, l => l.Contains("Create lab host") && l.Contains("\"h2\""));
            Assert.Contains(lines, l => l.Contains("Create physical link between hosts h3 and h2") && l.Contains("\"h2--h3\""));
            Assert.True(lines.FindIndex(l => l.Contains("Create physical link")) < lines.FindIndex(l => l.Contains("Create virtual router")));
            Assert.Equal(0, Backend.MutatingCallCount);
        }

        [Fact]
        public void Deploy_ALinkWithoutUnderlayPath_IsNoUnderlayPath_BeforeAnythingIsCreated()
        {
            var r = Run("Deploy-VirtualNetwork -Path " + Q(Write(ThreeHosts.Replace(@"{ ""from"": ""h3"", ""to"": ""h2"" }", @"{ ""from"": ""h3"", ""to"": ""localhost"" }"))) + " -Confirm:$false");
            AssertError(r, Fqid(ErrorIds.NoUnderlayPath, "DeployVirtualNetworkCommand"), terminating: true);
            Assert.Contains("r1-r3", r.TerminatingError!.Exception.Message);
            Assert.Equal(0, Backend.MutatingCallCount);
        }

        [Fact]
        public void Deploy_OnABackendWithoutLabHosts_TreatsPhysicalLinksAsInformation()
        {
            var plain = new PlainBackend(Backend);
            using var session = new ModuleSession();
            BackendRegistry.TestOverride = _ => plain;
            foreach (var h in new[] { "h1", "h2", "h3" }) Backend.AddHost(h);
            var r = session.Invoke("Deploy-VirtualNetwork -Path " + Q(Write(ThreeHosts)) + " -Confirm:$false");
            Assert.True(!r.HadTerminatingError && r.Errors.Count == 0, r.Describe());
            Assert.Empty(Backend.LabHostNames);
            Assert.Empty(Backend.PhysicalLinkNames);
            Assert.Equal(new[] { "r1", "r2", "r3" }, Backend.RouterNames);

            var n = session.Invoke("New-VirtualLabHost -Name h9");
            Assert.Equal(Fqid(ErrorIds.OperationNotSupported, "NewVirtualLabHostCommand"), Assert.Single(n.Errors).FullyQualifiedErrorId);
            var m = session.Invoke("Remove-VirtualLabHost -Name h1 -Confirm:$false");
            Assert.Equal(Fqid(ErrorIds.OperationNotSupported, "RemoveVirtualLabHostCommand"), Assert.Single(m.Errors).FullyQualifiedErrorId);
        }

        // ================================================================================================ observing

        [Fact]
        public void GetVirtualHost_ShowsRoutersNeighborsAndLabFlags_WithWildcards()
        {
            DeployThreeHosts();
            var hosts = RunOk("Get-VirtualHost").Objects<VirtualHost>();
            Assert.Equal(new[] { "h1", "h2", "h3", HostNames.LocalName }.OrderBy(n => n, StringComparer.OrdinalIgnoreCase), hosts.Select(h => h.Name));
            var h2 = hosts.Single(h => h.Name == "h2");
            Assert.True(h2.IsLabHost);
            Assert.True(h2.CreatedByDeployment);
            Assert.NotNull(h2.UnderlayAddress);
            Assert.Equal(new[] { "r2" }, h2.Routers);
            Assert.Equal(new[] { "h1", "h3" }, h2.Neighbors);
            Assert.False(hosts.Single(h => h.Name == HostNames.LocalName).IsLabHost);

            Assert.Equal(new[] { "h1", "h2", "h3" }, RunOk("Get-VirtualHost -Name H*").Objects<VirtualHost>().Select(h => h.Name));
            Assert.Empty(RunOk("Get-VirtualHost -Name zz*").Output);
            var r = Run("Get-VirtualHost -Name h1, nowhere");
            Assert.Equal("h1", Assert.Single(r.Objects<VirtualHost>()).Name);
            AssertError(r, Fqid(ErrorIds.HostNotFound, "GetVirtualHostCommand"), terminating: false);
        }

        [Fact]
        public void CrossHostLinks_ShowTransportTunnelAndUnderlayPath_AndNetworksShowTheirHosts()
        {
            DeployThreeHosts();
            var links = RunOk("Get-VirtualLink").Objects<VirtualLink>().ToDictionary(l => l.Name);
            var far = links["r1-r3"];
            Assert.Equal(LinkTransport.Vxlan, far.Transport);
            Assert.NotNull(far.TunnelId);
            Assert.Equal(new[] { "h1", "h2", "h3" }, far.UnderlayPath);
            Assert.Equal(new[] { "h1", "h2" }, links["r1-r2"].UnderlayPath);
            Assert.Equal(new[] { "h1", "h2", "h3" }, RunOk("Get-VirtualNetwork").Objects<VirtualNetwork>().Single().Hosts.OrderBy(h => h));

        }

        [Fact]
        public void Export_Dot_DrawsThePhysicalNetwork()
        {
            DeployThreeHosts();
            var dot = string.Join("\n", RunOk("Export-VirtualNetwork -Format Dot").Output.Select(o => o.ToString()));
            Assert.Contains("\"host:h1\" -- \"host:h2\"", dot);
            Assert.Contains("via h1 > h2 > h3", dot);
        }

        // ================================================================================================ lab hosts

        [Fact]
        public void NewVirtualLabHost_CreatesTheHostAndItsPhysicalLinks_AndReturnsIt()
        {
            RunOk("New-VirtualLabHost -Name h1 -Confirm:$false");
            var h2 = Assert.Single(RunOk("New-VirtualLabHost -Name h2 -ConnectedTo h1, localhost -Confirm:$false").Objects<VirtualHost>());
            Assert.Equal("h2", h2.Name);
            Assert.True(h2.IsLabHost);
            Assert.False(h2.CreatedByDeployment);
            Assert.Equal(new[] { "h1", HostNames.LocalName }.OrderBy(n => n, StringComparer.OrdinalIgnoreCase), h2.Neighbors);
            Assert.Contains("CreateLabHost h2 byDeployment=False", Backend.MutatingCalls);

            var piped = RunOk("'h5', 'h6' | New-VirtualLabHost -ConnectedTo h2 -Confirm:$false").Objects<VirtualHost>();
            Assert.Equal(new[] { "h5", "h6" }, piped.Select(h => h.Name));
            Assert.Equal(new[] { "h1--h2", "h2--" + HostNames.LocalName, "h2--h5", "h2--h6" }.OrderBy(n => n, StringComparer.OrdinalIgnoreCase),
                Backend.PhysicalLinkNames);
        }

        [Fact]
        public void NewVirtualLabHost_WhatIf_ShowsEveryStep_AndCreatesNothing()
        {
            RunOk("New-VirtualLabHost -Name h1 -Confirm:$false");
            int before = Backend.MutatingCallCount;
            var r = RunOk("New-VirtualLabHost -Name h2 -ConnectedTo h1 -WhatIf");
            var lines = r.HostLines.Where(l => l.StartsWith("What if:", StringComparison.Ordinal)).ToList();
            Assert.Equal(2, lines.Count);
            Assert.Contains("Create lab host", lines[0]);
            Assert.Contains("Create physical link between hosts h2 and h1", lines[1]);
            Assert.Empty(r.Output);
            Assert.Equal(before, Backend.MutatingCallCount);
        }

        [Fact]
        public void NewVirtualLabHost_Errors_HaveStableIds_AndCreateNothing()
        {
            RunOk("New-VirtualLabHost -Name h1 -Confirm:$false");
            int before = Backend.MutatingCallCount;
            AssertError(Run("New-VirtualLabHost -Name H1 -Confirm:$false"), Fqid(ErrorIds.HostAlreadyExists, "NewVirtualLabHostCommand"), terminating: false);
            AssertError(Run("New-VirtualLabHost -Name localhost -Confirm:$false"), Fqid(ErrorIds.HostAlreadyExists, "NewVirtualLabHostCommand"), terminating: false);
            AssertError(Run("New-VirtualLabHost -Name h2 -ConnectedTo nowhere -Confirm:$false"), Fqid(ErrorIds.HostNotFound, "NewVirtualLabHostCommand"), terminating: false);
            AssertError(Run("New-VirtualLabHost -Name h2 -ConnectedTo h2 -Confirm:$false"), Fqid(ErrorIds.PhysicalSelfLink, "NewVirtualLabHostCommand"), terminating: false);
            AssertError(Run("New-VirtualLabHost -Name 'h;2' -Confirm:$false"), Fqid(ErrorIds.InvalidName, "NewVirtualLabHostCommand"), terminating: false);
            Assert.Equal(before, Backend.MutatingCallCount);
        }

        [Fact]
        public void RemoveVirtualLabHost_RefusesWhileUsed_AndNeverRemovesARealMachine()
        {
            DeployThreeHosts();
            int before = Backend.MutatingCallCount;
            var r = Run("Remove-VirtualLabHost -Name h3 -Confirm:$false");
            AssertError(r, Fqid(ErrorIds.HostInUse, "RemoveVirtualLabHostCommand"), terminating: false);
            Assert.Contains("r3", r.Errors[0].Exception.Message);

            RunOk("Remove-VirtualRouter -Name r2 -Confirm:$false");
            before = Backend.MutatingCallCount;
            var transit = Run("Remove-VirtualLabHost -Name h2 -Confirm:$false"); // r1-r3 still tunnels through h2
            AssertError(transit, Fqid(ErrorIds.HostInUse, "RemoveVirtualLabHostCommand"), terminating: false);
            Assert.Contains("r1-r3", transit.Errors[0].Exception.Message);

            AssertError(Run("Remove-VirtualLabHost -Name " + HostNames.LocalName + " -Confirm:$false"), Fqid(ErrorIds.NotALabHost, "RemoveVirtualLabHostCommand"), terminating: false);
            AssertError(Run("Remove-VirtualLabHost -Name nowhere -Confirm:$false"), Fqid(ErrorIds.HostNotFound, "RemoveVirtualLabHostCommand"), terminating: false);
            Assert.Equal(before, Backend.MutatingCallCount);
        }

        [Fact]
        public void RemoveVirtualLabHost_FromThePipeline_RemovesHostsAndTheirPhysicalLinks()
        {
            RunOk("New-VirtualLabHost -Name h1 -Confirm:$false; New-VirtualLabHost -Name h2 -ConnectedTo h1 -Confirm:$false; New-VirtualLabHost -Name x1 -ConnectedTo h2 -Confirm:$false");
            var whatIf = RunOk("Get-VirtualHost -Name h2 | Remove-VirtualLabHost -WhatIf");
            Assert.Equal(3, whatIf.HostLines.Count(l => l.StartsWith("What if:", StringComparison.Ordinal)));
            Assert.Equal(3, Backend.LabHostNames.Count);

            var removed = RunOk("Get-VirtualHost -Name h* | Remove-VirtualLabHost -Confirm:$false -PassThru").Objects<VirtualHost>();
            Assert.Equal(new[] { "h1", "h2" }, removed.Select(h => h.Name));
            Assert.Equal(new[] { "x1" }, Backend.LabHostNames);
            Assert.Empty(Backend.PhysicalLinkNames);
            Assert.Contains(Backend.MutatingCalls, c => c == "RemovePhysicalLink h1 h2" || c == "RemovePhysicalLink h2 h1");
            Assert.True(Backend.MutatingCalls.ToList().FindIndex(c => c.StartsWith("RemovePhysicalLink", StringComparison.Ordinal))
                        < Backend.MutatingCalls.ToList().FindIndex(c => c.StartsWith("RemoveLabHost", StringComparison.Ordinal)));
        }

        // ================================================================================================ removal of networks

        [Fact]
        public void RemoveVirtualNetwork_RemovesTheLabHostsTheDeploymentCreated_OnceUnused()
        {
            DeployThreeHosts();
            var vn = RunOk("Get-VirtualNetwork").Objects<VirtualNetwork>().Single().Name;
            var whatIf = RunOk("Remove-VirtualNetwork -Name " + vn + " -WhatIf");
            Assert.Contains(whatIf.HostLines, l => l.Contains("Remove lab host") && l.Contains("\"h2\""));
            Assert.Contains(whatIf.HostLines, l => l.Contains("Remove physical link between hosts"));
            Assert.Equal(3, Backend.LabHostNames.Count);

            RunOk("Remove-VirtualNetwork -Name " + vn + " -Confirm:$false");
            Assert.Empty(Backend.RouterNames);
            Assert.Empty(Backend.LabHostNames);
            Assert.Empty(Backend.PhysicalLinkNames);
            Assert.Equal(new[] { HostNames.LocalName }, RunOk("Get-VirtualHost").Objects<VirtualHost>().Select(h => h.Name));
        }

        [Fact]
        public void RemoveVirtualNetwork_KeepsLabHostsAnotherNetworkStillUses_AndHandMadeOnes()
        {
            DeployThreeHosts();
            RunOk("New-VirtualLabHost -Name mine -ConnectedTo h3 -Confirm:$false");
            RunOk("New-VirtualRouter -Name other -ComputerName h3 -NetworkLabel other");
            var vn = RunOk("Get-VirtualRouter -Name r1").Objects<VirtualRouter>().Single().NetworkName;
            RunOk("Remove-VirtualNetwork -Name " + vn + " -Confirm:$false");
            Assert.Equal(new[] { "h3", "mine" }, Backend.LabHostNames);
            Assert.Equal(new[] { "h3--mine" }, Backend.PhysicalLinkNames);
        }

        [Fact]
        public void RemoveVirtualNetwork_TakesEveryFragmentOfTheName_WithAWarning_AndThePipelineOfFragmentsDoesNotFail()
        {
            DeployThreeHosts();
            RunOk("Remove-VirtualLink -Name r1-r2, r1-r3 -Confirm:$false");
            Assert.Equal(new[] { "vn", "vn#2", "vn#3" }, RunOk("Get-VirtualNetwork").Objects<VirtualNetwork>().Select(n => n.Name));
            Assert.All(RunOk("Get-VirtualNetwork").Objects<VirtualNetwork>(), n => { Assert.Equal("vn", n.BaseName); Assert.Equal(3, n.FragmentCount); });

            // A fragment's own name takes that fragment only (and says so in verbose).
            RunOk("Remove-VirtualNetwork -Name 'vn#3' -Confirm:$false");
            Assert.Equal(new[] { "r1", "r2" }, Backend.RouterNames);
            Assert.Equal(3, Backend.LabHostNames.Count); // their network is still there

            var r = RunOk("Remove-VirtualNetwork -Name vn -Confirm:$false -PassThru");
            Assert.Equal(new[] { "vn", "vn#2" }, r.Objects<VirtualNetwork>().Select(n => n.Name));
            Assert.Contains(r.Warnings, w => w.Message.Contains("split into 2 fragments (vn, vn#2)", StringComparison.Ordinal));
            Assert.Empty(Backend.RouterNames);
            Assert.Empty(Backend.LabHostNames);

            // Every fragment from the pipeline: the first takes them all, the others are done already (no NetworkNotFound).
            DeployThreeHosts();
            RunOk("Remove-VirtualLink -Name r1-r2, r1-r3 -Confirm:$false");
            RunOk("Get-VirtualNetwork | Remove-VirtualNetwork -Confirm:$false");
            Assert.Empty(Backend.RouterNames);
            Assert.Empty(Backend.LabHostNames);
        }

        [Fact]
        public void RemoveVirtualNetwork_OfANetworkWithNoRouterLeft_RemovesTheLabHostsDeployedForIt()
        {
            // An interrupted removal: every router of vn is gone, the lab hosts the deployment made are not.
            DeployThreeHosts();
            Assert.All(RunOk("Get-VirtualHost").Objects<VirtualHost>().Where(h => h.IsLabHost), h => Assert.Equal(new[] { "vn" }, h.DeployedFor));
            RunOk("Remove-VirtualRouter -Name r1, r2, r3 -Confirm:$false");
            Assert.Equal(3, Backend.LabHostNames.Count);
            Assert.Empty(RunOk("Get-VirtualNetwork").Output);

            var whatIf = RunOk("Remove-VirtualNetwork -Name vn -WhatIf");
            Assert.Contains(whatIf.HostLines, l => l.Contains("Remove lab host") && l.Contains("\"h1\""));
            Assert.Equal(3, Backend.LabHostNames.Count);
            RunOk("Remove-VirtualNetwork -Name vn -Confirm:$false");
            Assert.Empty(Backend.LabHostNames);
            Assert.Empty(Backend.PhysicalLinkNames);
            // Nothing of vn is left now: the name is not found.
            var again = Run("Remove-VirtualNetwork -Name vn -Confirm:$false");
            Assert.Equal(new[] { Fqid(ErrorIds.NetworkNotFound, "RemoveVirtualNetworkCommand") }, again.ErrorIds);
        }

        // ================================================================================================ migration

        [Fact]
        public void Move_Live_MovesTheRouter_ReportsProgress_AndTheLinksFollow()
        {
            DeployThreeHosts();
            var r = RunOk("Move-VirtualRouter -Name r3 -DestinationHost h1 -Confirm:$false -PassThru");
            Assert.Equal("h1", Assert.Single(r.Objects<VirtualRouter>()).ComputerName);
            Assert.Equal(RouterState.Running, Backend.StateOf("r3"));
            Assert.Contains("MoveRouter r3 h1 Live", Backend.MutatingCalls);
            var statuses = r.Progress.Select(p => p.StatusDescription).ToList();
            Assert.Contains(statuses, s => s.Contains("Live migration of r3 from h3 to h1"));
            Assert.Contains(statuses, s => s.Contains("Migrating the memory of r3"));
            Assert.Contains(r.Progress, p => p.RecordType == ProgressRecordType.Completed);
            Assert.Single(r.Progress.Select(p => p.ActivityId).Distinct());

            var link = RunOk("Get-VirtualLink -Name r1-r3").Objects<VirtualLink>().Single();
            Assert.Equal(LinkTransport.Bridge, link.Transport);
            Assert.Equal(new[] { "h1" }, link.UnderlayPath);
        }

        [Fact]
        public void Move_Cold_StopsMovesAndStartsTheRouter()
        {
            DeployThreeHosts();
            RunOk("Get-VirtualRouter -Name r2 | Move-VirtualRouter -DestinationHost h3 -Mode Cold -Confirm:$false");
            Assert.Equal("h3", Backend.HostOf("r2"));
            Assert.Equal(RouterState.Running, Backend.StateOf("r2"));
            Assert.Contains("MoveRouter r2 h3 Cold", Backend.MutatingCalls);
        }

        [Fact]
        public void Move_WhatIf_ShowsTheSteps_AndMovesNothing()
        {
            DeployThreeHosts();
            int before = Backend.MutatingCallCount;
            var r = RunOk("Move-VirtualRouter -Name r2 -DestinationHost h3 -WhatIf");
            var line = Assert.Single(r.HostLines.Where(l => l.StartsWith("What if:", StringComparison.Ordinal)));
            Assert.Contains("Live migration of r2 from h2 to h3: prepare the network attachments on h3 for its 1 link(s) (r1-r2), migrate memory", line);
            Assert.Contains("repoint the peers' ends of its links to h3, remove leftovers on h2", line);
            Assert.Equal(before, Backend.MutatingCallCount);
            Assert.Equal("h2", Backend.HostOf("r2"));
        }

        [Fact]
        public void Move_Errors_HaveStableIds_AndMoveNothing()
        {
            DeployThreeHosts();
            RunOk("New-VirtualLabHost -Name island -Confirm:$false");
            int before = Backend.MutatingCallCount;
            AssertError(Run("Move-VirtualRouter -Name r2 -DestinationHost nowhere -Confirm:$false"), Fqid(ErrorIds.HostNotFound, "MoveVirtualRouterCommand"), terminating: false);
            AssertError(Run("Move-VirtualRouter -Name r2 -DestinationHost H2 -Confirm:$false"), Fqid(ErrorIds.RouterAlreadyOnHost, "MoveVirtualRouterCommand"), terminating: false);
            AssertError(Run("Move-VirtualRouter -Name r2 -DestinationHost island -Confirm:$false"), Fqid(ErrorIds.NoUnderlayPath, "MoveVirtualRouterCommand"), terminating: false);
            AssertError(Run("Move-VirtualRouter -Name nope -DestinationHost h1 -Confirm:$false"), Fqid(ErrorIds.RouterNotFound, "MoveVirtualRouterCommand"), terminating: false);
            Assert.Equal(before, Backend.MutatingCallCount);
        }

        [Fact]
        public void Move_AFailedMigration_IsANonTerminatingError_AndTheRouterStays()
        {
            DeployThreeHosts();
            Backend.FailOn(nameof(InMemoryBackend.MoveRouter), 1,
                new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.OperationTimeout, "r2", "migration did not converge"));
            var r = Run("Move-VirtualRouter -Name r2, r3 -DestinationHost h1 -Confirm:$false");
            AssertError(r, Fqid(ErrorIds.BackendOperationFailed, "MoveVirtualRouterCommand"), terminating: false);
            Assert.Equal("h2", Backend.HostOf("r2"));
            Assert.Equal("h1", Backend.HostOf("r3")); // the next router still moves
        }

        /// <summary>The in-memory backend without <see cref="ILabHostManager"/> (hosts are real machines, as on Hyper-V).</summary>
        private sealed class PlainBackend : IVirtualizationBackend
        {
            private readonly InMemoryBackend _b;
            public PlainBackend(InMemoryBackend b) { _b = b; }
            public string Kind => _b.Kind;
            public BackendCapabilities Capabilities => _b.Capabilities;
            public BackendInventory GetInventory(CancellationToken ct) => _b.GetInventory(ct);
            public bool ImageExists(string image, string host) => _b.ImageExists(image, host);
            public void CreateRouter(RouterSpec spec, CancellationToken ct) => _b.CreateRouter(spec, ct);
            public void RemoveRouter(string name, CancellationToken ct) => _b.RemoveRouter(name, ct);
            public void StartRouter(string name, CancellationToken ct) => _b.StartRouter(name, ct);
            public void StopRouter(string name, bool turnOff, CancellationToken ct) => _b.StopRouter(name, turnOff, ct);
            public void SuspendRouter(string name, CancellationToken ct) => _b.SuspendRouter(name, ct);
            public void ResumeRouter(string name, CancellationToken ct) => _b.ResumeRouter(name, ct);
            public void ConfigureRouter(RouterConfiguration configuration, CancellationToken ct) => _b.ConfigureRouter(configuration, ct);
            public void MoveRouter(string name, string destinationHost, MigrationMode mode, IProgress<string>? progress, CancellationToken ct) =>
                _b.MoveRouter(name, destinationHost, mode, progress, ct);
            public void CreateLink(LinkSpec spec, CancellationToken ct) => _b.CreateLink(spec, ct);
            public void RemoveLink(string name, CancellationToken ct) => _b.RemoveLink(name, ct);
            public void SetLinkBandwidth(string name, long? bitsPerSecond, CancellationToken ct) => _b.SetLinkBandwidth(name, bitsPerSecond, ct);
            public ProbeResult Probe(string fromRouter, string address, CancellationToken ct) => _b.Probe(fromRouter, address, ct);
            public void Dispose() => _b.Dispose();
        }
    }
}
