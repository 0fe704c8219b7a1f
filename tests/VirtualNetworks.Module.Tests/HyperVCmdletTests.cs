using System;
using System.Collections.Generic;
using System.Linq;
using VirtualNetworks.Backends;
using VirtualNetworks.Engine;
using VirtualNetworks.HyperV;
using VirtualNetworks.HyperV.Cim;
using VirtualNetworks.HyperV.Simulator;
using VirtualNetworks.Topology;
using Xunit;

namespace VirtualNetworks.Module.Tests
{
    /// <summary>
    /// The staged module's cmdlets on the real Hyper-V backend (VirtualNetworks.HyperV), whose CIM gateway is the
    /// in-memory WMI simulator (tests/VirtualNetworks.HyperV.Simulator): every cmdlet, -WhatIf, pipelines and errors.
    /// State is asserted in the simulator (what Hyper-V would hold), not only through our own Get-* cmdlets.
    /// </summary>
    public sealed class HyperVCmdletTests : ModuleTestBase
    {
        private const string ImageDir = @"C:\Images";
        private const string Image = @"C:\Images\router.vhdx";
        private const string Marker = "virtualnetworks:v1";

        private readonly SimulatedDatacenter _dc;
        private readonly HyperVSimulator _local;

        public HyperVCmdletTests() : this(new SimulatedDatacenter())
        {
        }

        private HyperVCmdletTests(SimulatedDatacenter dc) : base(request => CreateBackend(dc, request))
        {
            _dc = dc;
            _local = AddHost(HostNames.LocalName);
        }

        private HyperVSimulator AddHost(string name)
        {
            var host = _dc.AddHost(name);
            host.JobDuration = TimeSpan.Zero;
            host.AddFile(Image);
            host.MigrationEnabled = true;
            host.AddExternalSwitch("Transport");
            SimulatedRouterAgent.Install(_dc.Hosts.ToArray());
            return host;
        }

        private static IVirtualizationBackend CreateBackend(SimulatedDatacenter dc, BackendRequest request) =>
            new HyperVBackend(request, host => dc.Connect(host), new HyperVBackendOptions
            {
                ImagePath = ImageDir,
                TransportSwitchName = "Transport",
                PollInterval = TimeSpan.FromMilliseconds(1),
                ProbeTimeout = TimeSpan.FromSeconds(5),
            });

        private IReadOnlyList<CimObject> MarkedVms(HyperVSimulator host) =>
            host.Instances("Msvm_VirtualSystemSettingData")
                .Where(v => HyperVNames.NoteLines(v.GetStrings("Notes")).FirstOrDefault() == Marker &&
                            v.GetString("VirtualSystemType") == "Microsoft:Hyper-V:System:Realized")
                .ToList();

        /// <summary>Methods that change something on the host (everything but the read-only ones), with their call counts.</summary>
        private IReadOnlyDictionary<string, int> MutatingCalls() =>
            _local.Counters.Methods.Where(m => m.Value > 0 && !ReadOnlyMethods.Contains(m.Key)).ToDictionary(m => m.Key, m => m.Value);

        private static readonly HashSet<string> ReadOnlyMethods = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
        {
            "GetVirtualHardDiskSettingData", "GetSummaryInformation", "GetError", "GetErrorEx",
        };

        private ushort StateOf(string router) => _local.FindVm(router)!.GetUInt16("EnabledState") ?? 0;

        private SimulatedNic[] NicsOf(string link) =>
            _local.Guests().SelectMany(g => g.Nics).Where(n => n.ElementName == "vn:" + link).ToArray();

        private void DeployGoodOnHyperV()
        {
            RunOk("Deploy-VirtualNetwork -Path " + Q(Fixture("good.json")) + " -Confirm:$false");
            Assert.Equal(new[] { "a1", "a2", "b1", "b2" }, MarkedVms(_local).Select(v => v.GetString("ElementName")).OrderBy(n => n));
        }

        [Fact]
        public void Deploy_BuildsRoutersDisksAdaptersVlansAndLimits_InHyperV()
        {
            DeployGoodOnHyperV();

            var routers = RunOk("Get-VirtualRouter").Objects<VirtualRouter>();
            Assert.Equal(4, routers.Count);
            Assert.All(routers, r => Assert.Equal("HyperV", r.Backend));
            Assert.All(routers, r => Assert.True(Guid.TryParse(r.Id, out _), "router id must be the VM GUID: " + r.Id));
            Assert.Equal(new[] { "a", "b" }, RunOk("Get-VirtualNetwork").Objects<VirtualNetwork>().Select(n => n.Name).OrderBy(n => n));

            var links = RunOk("Get-VirtualLink").Objects<VirtualLink>().ToDictionary(l => l.Name);
            Assert.Equal(4, links.Count);
            Assert.All(links.Values, l => Assert.Equal(LinkTransport.Vlan, l.Transport));
            Assert.Equal(4, links.Values.Select(l => l.VlanId).Distinct().Count());
            Assert.Contains(links.Values, l => l.VlanId == 10 && l.MaximumBandwidth == 10_000_000);
            Assert.Contains(links.Values, l => l.VlanId == 20 && l.MaximumBandwidth == 1_500_000);
            Assert.Null(links["b-link"].MaximumBandwidth);

            // What Hyper-V holds: two access-mode ends per link on one VLAN, a differencing disk per router on the image.
            foreach (var link in links.Values)
            {
                var ends = NicsOf(link.Name);
                Assert.Equal(2, ends.Length);
                Assert.All(ends, n => Assert.True(n.Connected && n.StaticMacAddress && n.SwitchName == "VirtualNetworks-Fabric"));
                Assert.All(ends, n => Assert.Equal((ushort?)link.VlanId, n.AccessVlanId));
                Assert.All(ends, n => Assert.Equal(link.MaximumBandwidth is long b ? (ulong?)b : null, n.BandwidthLimit));
            }
            var disks = _local.Instances("Msvm_StorageAllocationSettingData")
                .Where(d => d.GetString("ResourceSubType") == "Microsoft:Hyper-V:Virtual Hard Disk" && !d.GetString("InstanceID")!.StartsWith("Microsoft:Definition", StringComparison.OrdinalIgnoreCase))
                .ToList();
            Assert.Equal(4, disks.Count);
            foreach (var r in new[] { "a1", "a2", "b1", "b2" })
                Assert.Contains(_local.Files, f => f.EndsWith("\\" + r + ".vhdx", StringComparison.OrdinalIgnoreCase));
        }

        [Fact]
        public void Redeploy_OfTheUnchangedFile_CallsNoHyperVMethod()
        {
            DeployGoodOnHyperV();
            _local.Counters.Reset();
            RunOk("Deploy-VirtualNetwork -Path " + Q(Fixture("good.json")) + " -Confirm:$false");
            Assert.Empty(MutatingCalls());
        }

        [Fact]
        public void Deploy_WhatIf_ShowsThePlan_AndCallsNoHyperVMethod()
        {
            var r = RunOk("Deploy-VirtualNetwork -Path " + Q(Fixture("good.json")) + " -WhatIf");
            Assert.Contains(r.HostLines, l => l.StartsWith("What if:", StringComparison.Ordinal) && l.Contains("a1"));
            Assert.Empty(MutatingCalls());
            Assert.Empty(MarkedVms(_local));
        }

        [Fact]
        public void Lifecycle_ThroughThePipeline_DrivesTheVmStates()
        {
            DeployGoodOnHyperV();
            RunOk("Get-VirtualRouter -Name a* | Suspend-VirtualRouter");
            Assert.Equal((ushort)9, StateOf("a1"));
            Assert.Equal((ushort)9, StateOf("a2"));
            Assert.Equal((ushort)2, StateOf("b1"));
            Assert.All(RunOk("Get-VirtualRouter -Name a*").Objects<VirtualRouter>(), r => Assert.Equal(RouterState.Paused, r.State));

            RunOk("Get-VirtualRouter -Name a* | Resume-VirtualRouter");
            Assert.Equal((ushort)2, StateOf("a1"));

            RunOk("Stop-VirtualRouter -Name b1 -TurnOff -Confirm:$false");
            Assert.Equal((ushort)3, StateOf("b1"));
            RunOk("Stop-VirtualRouter -Name b2 -Confirm:$false");   // graceful: the shutdown component
            Assert.Equal((ushort)3, StateOf("b2"));
            Assert.True(_local.Counters.Method("InitiateShutdown") >= 1);

            var started = RunOk("Start-VirtualRouter -Name b1, b2 -PassThru").Objects<VirtualRouter>();
            Assert.Equal(2, started.Count);
            Assert.Equal((ushort)2, StateOf("b1"));
        }

        [Fact]
        public void SetVirtualLink_ChangesTheLimitLiveOnBothEnds_ReportsTheEffectiveValue_AndNullRemovesIt()
        {
            DeployGoodOnHyperV();
            var link = RunOk("Get-VirtualLink").Objects<VirtualLink>().First(l => l.VlanId == 10).Name;

            var changed = Assert.Single(RunOk("Set-VirtualLink -Name " + Q(link) + " -MaximumBandwidth 12000003 -PassThru").Objects<VirtualLink>());
            Assert.Equal(12_000_000, changed.MaximumBandwidth);
            Assert.All(NicsOf(link), n => Assert.Equal((ulong?)12_000_000, n.BandwidthLimit));
            Assert.Equal((ushort)2, StateOf("a1"));

            RunOk("Set-VirtualLink -Name " + Q(link) + " -MaximumBandwidth $null");
            Assert.All(NicsOf(link), n => Assert.Null(n.BandwidthLimit));
            Assert.Null(RunOk("Get-VirtualLink -Name " + Q(link)).Objects<VirtualLink>().Single().MaximumBandwidth);
        }

        [Fact]
        public void TestVirtualNetwork_ProbesThroughTheGuestAgent_AndSeesAPausedRouter()
        {
            DeployGoodOnHyperV();
            var report = Assert.Single(RunOk("Test-VirtualNetwork").Objects<VirtualNetworkTestReport>());
            Assert.True(report.Passed, string.Join("; ", report.Results.Where(x => !x.Passed).Select(x => x.Source + "->" + x.DestinationAddress + ": " + x.Detail)));
            Assert.Contains(report.Results, x => x.Expected == ProbeExpectation.Unreachable);
            Assert.True(_local.Counters.Method("AddKvpItems") > 0);
            // Batched (issue 15): one KVP exchange per source router, not one per probe.
            Assert.True(report.Batched);
            int sources = report.Results.Select(x => x.Source).Distinct().Count();
            int before = _local.Counters.Method("AddKvpItems");
            RunOk("Test-VirtualNetwork");
            Assert.Equal(sources, _local.Counters.Method("AddKvpItems") - before);

            RunOk("Suspend-VirtualRouter -Name a2");
            var r = Run("Test-VirtualNetwork");
            Assert.Contains(Fqid(ErrorIds.ReachabilityFailed, "TestVirtualNetworkCommand"), r.ErrorIds);
            Assert.All(r.Objects<VirtualNetworkTestReport>().Single().Results.Where(x => !x.Passed),
                x => Assert.True(x.Source == "a2" || x.Destination == "a2"));
        }

        [Fact]
        public void GetVirtualRoute_AndGetVirtualRoutingStatus_ReadTheGuestOverKvp()
        {
            DeployGoodOnHyperV();
            int before = _local.Counters.Method("AddKvpItems");
            var routes = RunOk("Get-VirtualRoute a1").Objects<VirtualRoute>();
            Assert.NotEmpty(routes);
            Assert.All(routes, r => Assert.Equal("a1", r.RouterName));
            Assert.Contains(routes, r => r.Protocol == "connected" && r.LinkName != null && r.NextHop == null);
            Assert.Equal(1, _local.Counters.Method("AddKvpItems") - before); // one KVP exchange
            var status = Assert.Single(RunOk("Get-VirtualRoutingStatus a1").Objects<RoutingStatus>());
            Assert.Equal("a1", status.RouterName);
            Assert.Equal(RoutingProtocol.Static, status.Protocol);

            RunOk("Suspend-VirtualRouter -Name a2");
            var paused = Run("Get-VirtualRoute a2");
            Assert.Contains(Fqid(ErrorIds.RouterNotRunning, "GetVirtualRouteCommand"), paused.ErrorIds);
        }

        [Fact]
        public void NewAndRemove_SingleRoutersAndLinks()
        {
            RunOk("New-VirtualRouter -Name c1 -Image router -MemoryMB 256 -ProcessorCount 2");
            RunOk("New-VirtualRouter -Name c2 -Image router");
            var link = Assert.Single(RunOk("New-VirtualLink -From c1 -To c2 -VlanId 300 -MaximumBandwidth 5Mbps").Objects<VirtualLink>());
            Assert.Equal(300, link.VlanId);
            Assert.Equal(2, NicsOf(link.Name).Length);
            var c1 = _local.Instances("Msvm_MemorySettingData").Where(m => m.GetString("InstanceID")!.Contains(_local.FindVm("c1")!.GetString("Name")!, StringComparison.OrdinalIgnoreCase)).ToList();
            Assert.Contains(c1, m => m.GetUInt64("VirtualQuantity") == 256);

            // A clash with an owned link's VLAN is refused before anything changes.
            RunOk("New-VirtualRouter -Name c3 -Image router");
            int calls = _local.Counters.InvokeMethod;
            var clash = Run("New-VirtualLink -From c1 -To c3 -VlanId 300");
            Assert.Contains(clash.ErrorIds.Concat(new[] { clash.TerminatingErrorId ?? "" }), id => id.StartsWith("HyperVVlanInUse,", StringComparison.Ordinal) || id.StartsWith(ErrorIds.DuplicateVlanId + ",", StringComparison.Ordinal));
            Assert.Empty(NicsOf("c1-c3"));

            RunOk("Remove-VirtualLink -Name " + Q(link.Name) + " -Confirm:$false");
            Assert.Empty(NicsOf(link.Name));
            RunOk("Remove-VirtualRouter -Name c1 -Confirm:$false");
            Assert.Null(_local.FindVm("c1"));
            Assert.DoesNotContain(_local.Files, f => f.EndsWith("\\c1.vhdx", StringComparison.OrdinalIgnoreCase));
        }

        /// <summary>The memory (MB) Hyper-V holds for the VM of <paramref name="router"/> (its Msvm_MemorySettingData).</summary>
        private ulong? MemoryOf(string router)
        {
            var vm = _local.FindVm(router)!.GetString("Name")!;
            return _local.Instances("Msvm_MemorySettingData")
                .Single(m => m.GetString("InstanceID")!.Contains(vm, StringComparison.OrdinalIgnoreCase) &&
                             !m.GetString("InstanceID")!.StartsWith("Microsoft:Definition", StringComparison.OrdinalIgnoreCase))
                .GetUInt64("VirtualQuantity");
        }

        [Fact]
        public void NewVirtualRouter_WithoutMemoryMB_GetsTheHyperVDefault_AndAnExplicitValueIsKept()
        {
            // The project's router.vhdx needs at least 384 MB; the Hyper-V backend's default is 512 MB.
            var router = Assert.Single(RunOk("New-VirtualRouter -Name d1 -Image router").Objects<VirtualRouter>());
            Assert.Equal(512, router.MemoryMB);
            Assert.Equal((ulong?)512, MemoryOf("d1"));

            var small = Assert.Single(RunOk("New-VirtualRouter -Name d2 -Image router -MemoryMB 128").Objects<VirtualRouter>());
            Assert.Equal(128, small.MemoryMB);
            Assert.Equal((ulong?)128, MemoryOf("d2"));
        }

        [Fact]
        public void NewVirtualRouter_WhatIf_ShowsTheHyperVDefaultMemory()
        {
            var r = RunOk("New-VirtualRouter -Name d1 -Image router -WhatIf");
            Assert.Contains(r.HostLines, l => l.StartsWith("What if:", StringComparison.Ordinal) && l.Contains("d1") && l.Contains("512 MB"));
            Assert.Null(_local.FindVm("d1"));
        }

        [Fact]
        public void Deploy_WithoutMemoryMB_CreatesHyperVDefaultVms_AndARedeployPlansNothing_WithoutAMemoryWarning()
        {
            var file = System.IO.Path.Combine(TempDirectory(), "no-memory.json");
            System.IO.File.WriteAllText(file, @"{ ""routers"": [ { ""name"": ""n1"", ""image"": ""router"" }, { ""name"": ""n2"", ""image"": ""router"", ""memoryMB"": 256 } ],
  ""links"": [ { ""from"": ""n1"", ""to"": ""n2"" } ] }");

            var what = RunOk("Deploy-VirtualNetwork -Path " + Q(file) + " -WhatIf");
            Assert.Contains(what.HostLines, l => l.StartsWith("What if:", StringComparison.Ordinal) && l.Contains("n1") && l.Contains("512 MB"));
            Assert.Contains(what.HostLines, l => l.StartsWith("What if:", StringComparison.Ordinal) && l.Contains("n2") && l.Contains("256 MB"));

            var first = RunOk("Deploy-VirtualNetwork -Path " + Q(file) + " -Confirm:$false");
            Assert.True(Assert.Single(first.Objects<DeploymentResult>()).Changes > 0);
            Assert.Equal((ulong?)512, MemoryOf("n1"));
            Assert.Equal((ulong?)256, MemoryOf("n2"));

            _local.Counters.Reset();
            var again = RunOk("Deploy-VirtualNetwork -Path " + Q(file) + " -Confirm:$false");
            var summary = Assert.Single(again.Objects<DeploymentResult>());
            Assert.Equal(0, summary.Planned);
            Assert.Equal(0, summary.Changes);
            Assert.DoesNotContain(again.Warnings, w => w.Message.Contains("memoryMB"));
            Assert.Empty(again.Warnings);
            Assert.Empty(MutatingCalls());
        }

        [Fact]
        public void RemoveVirtualNetwork_ThenOrphanCleanUp_LeaveNothingOwned()
        {
            DeployGoodOnHyperV();
            var foreign = _local.Connect();
            RunOk("Remove-VirtualNetwork -Name a, b -Confirm:$false");
            Assert.Empty(MarkedVms(_local));
            Assert.Equal(new[] { Image.ToLowerInvariant() }, _local.Files.Select(f => f.ToLowerInvariant()));
            RunOk("Remove-VirtualNetworkOrphan -All -Confirm:$false");
            Assert.DoesNotContain(_local.Instances("Msvm_VirtualEthernetSwitchSettingData"), s => HyperVNames.NoteLines(s.GetStrings("Notes")).FirstOrDefault() == Marker);
            foreign.Dispose();
        }

        [Fact]
        public void DeployFailingMidway_NamesTheStep_AndARerunConverges()
        {
            _local.Faults.FailMethod("AddFeatureSettings", returnValue: 4, occurrence: 2);
            var r = Run("Deploy-VirtualNetwork -Path " + Q(Fixture("good.json")) + " -Confirm:$false");
            var failure = r.TerminatingError ?? r.Errors.FirstOrDefault();
            Assert.NotNull(failure);
            Assert.StartsWith(ErrorIds.PlanStepFailed, failure!.FullyQualifiedErrorId, StringComparison.Ordinal);
            Assert.Contains("AddFeatureSettings", failure.Exception.Message + " " + failure.Exception.InnerException?.Message);

            _local.Faults.Clear();
            RunOk("Deploy-VirtualNetwork -Path " + Q(Fixture("good.json")) + " -Confirm:$false");
            Assert.Equal(4, RunOk("Get-VirtualLink").Objects<VirtualLink>().Count);
            Assert.Empty(RunOk("Remove-VirtualNetworkOrphan -WhatIf").Objects<OrphanResource>());
            Assert.True(Assert.Single(RunOk("Test-VirtualNetwork").Objects<VirtualNetworkTestReport>()).Passed);
        }

        [Theory]
        [InlineData(CimErrorCode.AccessDenied, "HyperVAccessDenied", "PermissionDenied")]
        [InlineData(CimErrorCode.InvalidNamespace, "HyperVNotInstalled", "NotInstalled")]
        [InlineData(CimErrorCode.ConnectionFailed, "HyperVConnectionFailed", "ConnectionError")]
        public void CimFailures_BecomeErrorRecords_WithStableIdsAndCategories(CimErrorCode code, string id, string category)
        {
            _local.Faults.Throw(code, operation: GatewayOperation.Query, match: "Msvm_ComputerSystem");
            var r = Run("Get-VirtualRouter");
            var error = r.TerminatingError ?? Assert.Single(r.Errors);
            Assert.Equal(id + ",VirtualNetworks.Commands.GetVirtualRouterCommand", error.FullyQualifiedErrorId);
            Assert.Equal(category, error.CategoryInfo.Category.ToString());
        }

        [Fact]
        public void MoveVirtualRouter_LiveThenColdBack_MovesTheVmAndItsLinkFollows()
        {
            var hv02 = AddHost("HV02");
            RunOk("New-VirtualRouter -Name m1 -Image router -Start");
            RunOk("New-VirtualRouter -Name m2 -Image router -Start");
            var vlan = Assert.Single(RunOk("New-VirtualLink -From m1 -To m2").Objects<VirtualLink>()).VlanId;
            var guid = _local.FindVm("m1")!.GetString("Name");
            const string Hosts = " -ComputerName localhost, HV02";

            var moved = Assert.Single(RunOk("Move-VirtualRouter -Name m1 -DestinationHost HV02 -PassThru -Confirm:$false" + Hosts).Objects<VirtualRouter>());
            Assert.Equal("HV02", moved.ComputerName, ignoreCase: true);
            Assert.Equal(RouterState.Running, moved.State);
            // What Hyper-V holds: the same VM (GUID) running on HV02, nothing on the first host, both link ends on the
            // transport switch in the link's VLAN.
            Assert.Equal(guid, hv02.FindVm("m1")!.GetString("Name"));
            Assert.Equal((ushort)2, hv02.FindVm("m1")!.GetUInt16("EnabledState"));
            Assert.Null(_local.FindVm("m1"));
            var ends = _dc.Hosts.SelectMany(h => h.Guests()).SelectMany(g => g.Nics).Where(n => n.ElementName.StartsWith("vn:", StringComparison.Ordinal)).ToList();
            Assert.Equal(2, ends.Count);
            Assert.All(ends, n => Assert.Equal(("Transport", (ushort?)vlan), (n.SwitchName, n.AccessVlanId)));
            var link = Assert.Single(RunOk("Get-VirtualLink" + Hosts).Objects<VirtualLink>());
            Assert.True(link.IsCrossHost);
            Assert.Equal(LinkTransport.Vlan, link.Transport);
            Assert.Equal(1, _local.Counters.Method("MigrateVirtualSystemToHost"));

            RunOk("Move-VirtualRouter -Name m1 -DestinationHost " + HostNames.LocalName + " -Mode Cold -Confirm:$false" + Hosts);
            Assert.Equal(guid, _local.FindVm("m1")!.GetString("Name"));
            Assert.Equal((ushort)2, StateOf("m1"));
            Assert.Null(hv02.FindVm("m1"));
            Assert.All(NicsOf(Assert.Single(RunOk("Get-VirtualLink" + Hosts).Objects<VirtualLink>()).Name), n => Assert.Equal("VirtualNetworks-Fabric", n.SwitchName));
            Assert.Empty(RunOk("Remove-VirtualNetworkOrphan -WhatIf" + Hosts).Objects<OrphanResource>());
        }

        [Fact]
        public void MoveVirtualRouter_WhatIf_ShowsTheSteps_AndCallsNoHyperVMethod()
        {
            AddHost("HV02");
            RunOk("New-VirtualRouter -Name m1 -Image router -Start");
            _local.Counters.Reset();
            var r = RunOk("Move-VirtualRouter -Name m1 -DestinationHost HV02 -WhatIf -ComputerName localhost, HV02");
            Assert.Contains(r.HostLines, l => l.StartsWith("What if:", StringComparison.Ordinal) && l.Contains("m1") && l.Contains("HV02"));
            Assert.Empty(MutatingCalls());
            Assert.NotNull(_local.FindVm("m1"));
        }

        [Fact]
        public void MoveVirtualRouter_ThatHyperVRefuses_ShowsTheReasons_AndLeavesTheRouterRunning()
        {
            var hv02 = AddHost("HV02");
            hv02.MigrationEnabled = false;
            RunOk("New-VirtualRouter -Name m1 -Image router -Start");
            var r = Run("Move-VirtualRouter -Name m1 -DestinationHost HV02 -Confirm:$false -ComputerName localhost, HV02");
            AssertFails(r, Fqid(HyperVErrorIds.MigrationNotEnabled, "MoveVirtualRouterCommand"));
            Assert.Contains("not enabled on HV02", r.Describe());
            Assert.Equal((ushort)2, StateOf("m1"));
            Assert.Null(hv02.FindVm("m1"));

            hv02.MigrationEnabled = true;
            _local.Faults.FailJob("MigrateVirtualSystemToHost", message: "The destination host rejected the migration (simulated).");
            r = Run("Move-VirtualRouter -Name m1 -DestinationHost HV02 -Confirm:$false -ComputerName localhost, HV02");
            AssertFails(r, Fqid(HyperVErrorIds.MigrationFailed, "MoveVirtualRouterCommand"));
            Assert.Contains("rejected the migration", r.Describe());
            Assert.Equal((ushort)2, StateOf("m1"));
            Assert.Null(hv02.FindVm("m1"));
        }

        [Fact]
        public void MeasureVirtualLink_IsNotAvailableOnHyperV_WithAClearError()
        {
            DeployGoodOnHyperV();
            var r = Run("Measure-VirtualLink -Name b-link");
            AssertFails(r, Fqid(ErrorIds.OperationNotSupported, "MeasureVirtualLinkCommand"));
            Assert.Contains("HyperV backend cannot measure links", r.Describe());
        }

        [Fact]
        public void WaitVirtualRouter_AndWait_AreNotAvailableOnHyperV_WithACapabilityError()
        {
            DeployGoodOnHyperV();
            var r = Run("Wait-VirtualRouter -Name a1");
            Assert.True(r.HadTerminatingError, r.Describe());
            Assert.Equal(Fqid(ErrorIds.OperationNotSupported, "WaitVirtualRouterCommand"), r.TerminatingErrorId);
            Assert.Contains("HyperV backend cannot tell when a router's guest is ready", r.Describe());
            RunOk("Stop-VirtualRouter -Name a1 -TurnOff");
            r = Run("Start-VirtualRouter -Name a1 -Wait");
            Assert.Equal(Fqid(ErrorIds.OperationNotSupported, "StartVirtualRouterCommand"), r.TerminatingErrorId);
            Assert.Equal((ushort)2, StateOf("a1")); // started all the same; only the wait is not available
        }

        [Fact]
        public void TestVirtualRouterConnection_IsNotAvailableOnHyperV_WithACapabilityError()
        {
            DeployGoodOnHyperV();
            var r = Run("Test-VirtualRouterConnection -Name a1 -TargetName a2 -Count 2 -IntervalMilliseconds 10");
            Assert.True(r.HadTerminatingError, r.Describe());
            Assert.Equal(Fqid(ErrorIds.OperationNotSupported, "TestVirtualRouterConnectionCommand"), r.TerminatingErrorId);
        }

        [Fact]
        public void SeveralHosts_AreInventoriedTogether()
        {
            var hv02 = AddHost("HV02");
            RunOk("New-VirtualRouter -Name r1 -Image router");
            RunOk("New-VirtualRouter -Name r2 -Image router -ComputerName HV02");
            Assert.NotNull(hv02.FindVm("r2"));
            Assert.Null(_local.FindVm("r2"));
            var all = RunOk("Get-VirtualRouter -ComputerName localhost, HV02").Objects<VirtualRouter>();
            Assert.Equal(new[] { "r1", "r2" }, all.Select(r => r.Name).OrderBy(n => n));
            Assert.Equal("HV02", all.Single(r => r.Name == "r2").ComputerName, ignoreCase: true);
        }

        [Fact]
        public void ExportVirtualNetwork_DrawsTheHyperVInventory()
        {
            DeployGoodOnHyperV();
            var dot = string.Join("\n", RunOk("Export-VirtualNetwork -Format Dot").Output.Select(o => o.ToString()));
            Assert.Contains("a1", dot);
            Assert.Contains("b2", dot);
        }
    }
}
