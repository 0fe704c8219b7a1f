using System.Linq;
using System.Threading;
using Xunit;

namespace VirtualNetworks.Module.Tests
{
    /// <summary>New-/Get-/Start-/Stop-/Suspend-/Resume-/Remove-/Move-VirtualRouter.</summary>
    public sealed class RouterTests : ModuleTestBase
    {
        /// <summary>Creates routers through the module, then starts those still off directly on the backend.</summary>
        private void Running(params string[] names)
        {
            RunOk(string.Join("; ", names.Select(n => "$null = New-VirtualRouter -Name " + Q(n))));
            foreach (var n in names)
                if (Backend.StateOf(n) == RouterState.Off) Backend.StartRouter(n, CancellationToken.None);
        }

        [Fact]
        public void New_CreatesTheRouter_AndReturnsIt()
        {
            var r = RunOk("New-VirtualRouter -Name r1");
            var router = Assert.Single(r.Objects<VirtualRouter>());
            Assert.Equal("r1", router.Name);
            Assert.Equal("router", router.Image);
            Assert.Equal(NetworkAddressFamily.IPv4, router.AddressFamily);
            Assert.Equal(new[] { "r1" }, Backend.RouterNames);
            Assert.Contains("CreateRouter r1", Backend.Calls);
        }

        [Fact]
        public void New_WithSettings_PassesThemToTheBackend()
        {
            var r = RunOk("New-VirtualRouter -Name r6 -ProcessorCount 2 -MemoryMB 256 -AddressFamily IPv6 -Network lab");
            var router = Assert.Single(r.Objects<VirtualRouter>());
            Assert.Equal(2, router.ProcessorCount);
            Assert.Equal(256, router.MemoryMB);
            Assert.Equal(NetworkAddressFamily.IPv6, router.AddressFamily);
            Assert.Equal("lab", router.NetworkLabel);
        }

        [Fact]
        public void New_WithoutMemoryMB_GetsTheBackendDefault_128OnTheInMemoryBackend()
        {
            var router = Assert.Single(RunOk("New-VirtualRouter -Name r1").Objects<VirtualRouter>());
            Assert.Equal(Backend.Capabilities.DefaultMemoryMB, router.MemoryMB);
            Assert.Equal(128, router.MemoryMB);
            var what = RunOk("New-VirtualRouter -Name r2 -WhatIf");
            Assert.Contains(what.HostLines, l => l.StartsWith("What if:") && l.Contains("r2") && l.Contains("128 MB"));
        }

        [Fact]
        public void New_ExistingName_IsRouterAlreadyExists_AndCreatesNothing()
        {
            RunOk("New-VirtualRouter -Name r1");
            int before = Backend.MutatingCallCount;
            var r = Run("New-VirtualRouter -Name R1");
            AssertFails(r, Fqid(ErrorIds.RouterAlreadyExists, "NewVirtualRouterCommand"));
            Assert.Equal(before, Backend.MutatingCallCount);
        }

        [Theory]
        [InlineData("bad;name", ErrorIds.InvalidName)]
        [InlineData("..", ErrorIds.InvalidName)]
        [InlineData("a-name-that-is-far-too-long-for-a-router-name-xxxxxxxxxxxxxxxxxxxx", ErrorIds.NameTooLong)]
        public void New_BadName_IsRejectedBeforeTheBackend(string name, string id)
        {
            var r = Run("New-VirtualRouter -Name " + Q(name));
            AssertFails(r, Fqid(id, "NewVirtualRouterCommand"));
            Assert.Equal(0, Backend.MutatingCallCount);
        }

        [Fact]
        public void New_UnknownImage_IsImageNotFound()
        {
            var r = Run("New-VirtualRouter -Name r1 -Image nothing-like-it");
            AssertFails(r, Fqid(ErrorIds.ImageNotFound, "NewVirtualRouterCommand"));
            Assert.Equal(0, Backend.MutatingCallCount);
        }

        [Fact]
        public void New_WhatIf_CreatesNothing_AndSaysWhatItWouldDo()
        {
            var r = RunOk("New-VirtualRouter -Name r1 -WhatIf");
            Assert.Empty(r.Output);
            Assert.Equal(0, Backend.MutatingCallCount);
            Assert.Contains(r.HostLines, l => l.StartsWith("What if:") && l.Contains("r1"));
        }

        [Fact]
        public void Get_AllByDefault_WildcardsAndCaseInsensitiveLiterals()
        {
            Running("r1", "r2", "x1");
            Assert.Equal(new[] { "r1", "r2", "x1" }, RunOk("Get-VirtualRouter").Objects<VirtualRouter>().Select(v => v.Name).OrderBy(n => n));
            Assert.Equal(new[] { "r1", "r2" }, RunOk("Get-VirtualRouter r*").Objects<VirtualRouter>().Select(v => v.Name).OrderBy(n => n));
            Assert.Equal(new[] { "r1", "x1" }, RunOk("Get-VirtualRouter -Name r1, X*").Objects<VirtualRouter>().Select(v => v.Name).OrderBy(n => n));
            var one = Assert.Single(RunOk("Get-VirtualRouter R2").Objects<VirtualRouter>());
            Assert.Equal("r2", one.Name);
            Assert.Equal(RouterState.Running, one.State);
            Assert.False(string.IsNullOrEmpty(one.NetworkName), "NetworkName is computed for every router");
        }

        [Fact]
        public void Get_LiteralNotFound_IsNonTerminatingRouterNotFound_AndTheOthersAreStillReturned()
        {
            Running("r1");
            var r = Run("Get-VirtualRouter -Name nope, r1");
            Assert.False(r.HadTerminatingError, r.Describe());
            Assert.Equal(new[] { Fqid(ErrorIds.RouterNotFound, "GetVirtualRouterCommand") }, r.ErrorIds);
            Assert.Equal("nope", r.Errors[0].TargetObject?.ToString());
            Assert.Equal(System.Management.Automation.ErrorCategory.ObjectNotFound, r.Errors[0].CategoryInfo.Category);
            Assert.Equal("r1", Assert.Single(r.Objects<VirtualRouter>()).Name);
        }

        [Fact]
        public void Get_WildcardWithoutMatch_IsSilent()
        {
            Running("r1");
            var r = RunOk("Get-VirtualRouter zz*");
            Assert.Empty(r.Output);
        }

        [Fact]
        public void SuspendAndResume_ThroughThePipeline()
        {
            Running("r1", "r2", "x1");
            var s = RunOk("Get-VirtualRouter r* | Suspend-VirtualRouter");
            Assert.Empty(s.Output);
            Assert.Equal(RouterState.Paused, Backend.StateOf("r1"));
            Assert.Equal(RouterState.Paused, Backend.StateOf("r2"));
            Assert.Equal(RouterState.Running, Backend.StateOf("x1"));

            var r = RunOk("Get-VirtualRouter r* | Resume-VirtualRouter -PassThru");
            var routers = r.Objects<VirtualRouter>();
            Assert.Equal(new[] { "r1", "r2" }, routers.Select(v => v.Name).OrderBy(n => n));
            Assert.All(routers, v => Assert.Equal(RouterState.Running, v.State));
        }

        [Fact]
        public void StartStop_ByName_PassThruAndTurnOff()
        {
            RunOk("New-VirtualRouter -Name r1");
            if (Backend.StateOf("r1") == RouterState.Running) RunOk("Stop-VirtualRouter -Name r1");
            Assert.Equal(RouterState.Off, Backend.StateOf("r1"));

            var none = RunOk("Start-VirtualRouter -Name r1");
            Assert.Empty(none.Output);
            Assert.Equal(RouterState.Running, Backend.StateOf("r1"));

            var stopped = RunOk("Stop-VirtualRouter -Name r1 -TurnOff -PassThru");
            Assert.Equal(RouterState.Off, Assert.Single(stopped.Objects<VirtualRouter>()).State);
            Assert.Contains("StopRouter r1 turnOff=True", Backend.Calls);

            RunOk("Start-VirtualRouter r1; Stop-VirtualRouter r1");
            Assert.Contains("StopRouter r1 turnOff=False", Backend.Calls);
        }

        [Fact]
        public void Start_WildcardName_StartsEveryMatch()
        {
            RunOk("New-VirtualRouter -Name r1; New-VirtualRouter -Name r2");
            RunOk("Get-VirtualRouter | Where-Object State -eq 'Running' | Stop-VirtualRouter");
            RunOk("Start-VirtualRouter -Name r*");
            Assert.Equal(RouterState.Running, Backend.StateOf("r1"));
            Assert.Equal(RouterState.Running, Backend.StateOf("r2"));
        }

        [Fact]
        public void Suspend_WhenOff_IsNonTerminatingInvalidStateTransition_AndTheNextItemStillRuns()
        {
            Running("r1", "r2");
            RunOk("Stop-VirtualRouter -Name r1");
            var r = Run("Suspend-VirtualRouter -Name r1, r2");
            Assert.False(r.HadTerminatingError, r.Describe());
            Assert.Equal(new[] { Fqid(ErrorIds.InvalidStateTransition, "SuspendVirtualRouterCommand") }, r.ErrorIds);
            Assert.Equal(System.Management.Automation.ErrorCategory.InvalidOperation, r.Errors[0].CategoryInfo.Category);
            Assert.Equal(RouterState.Paused, Backend.StateOf("r2"));
        }

        [Theory]
        [InlineData("Start-VirtualRouter", "StartVirtualRouterCommand")]
        [InlineData("Stop-VirtualRouter", "StopVirtualRouterCommand")]
        [InlineData("Suspend-VirtualRouter", "SuspendVirtualRouterCommand")]
        [InlineData("Resume-VirtualRouter", "ResumeVirtualRouterCommand")]
        [InlineData("Remove-VirtualRouter -Confirm:$false", "RemoveVirtualRouterCommand")]
        public void Lifecycle_UnknownRouter_IsNonTerminatingRouterNotFound(string command, string cls)
        {
            var r = Run(command + " -Name nope");
            Assert.False(r.HadTerminatingError, r.Describe());
            Assert.Equal(new[] { Fqid(ErrorIds.RouterNotFound, cls) }, r.ErrorIds);
            Assert.Equal(0, Backend.MutatingCallCount);
        }

        [Fact]
        public void Remove_TakesItsLinksWith_AndReconfiguresTheRest()
        {
            Running("r1", "r2", "r3");
            RunOk("New-VirtualLink -From r1 -To r2; New-VirtualLink -From r2 -To r3");
            RunOk("Remove-VirtualRouter -Name r3 -Confirm:$false");
            Assert.Equal(new[] { "r1", "r2" }, Backend.RouterNames);
            Assert.Equal(new[] { "r1-r2" }, Backend.LinkNames);
            Assert.Empty(Backend.ConfigurationOf("r2")!.Routes);
            Assert.Single(Backend.ConfigurationOf("r2")!.Interfaces);
        }

        [Fact]
        public void Remove_WhatIf_ChangesNothing()
        {
            Running("r1");
            int before = Backend.MutatingCallCount;
            var r = RunOk("Remove-VirtualRouter -Name r1 -WhatIf");
            Assert.Equal(before, Backend.MutatingCallCount);
            Assert.Contains(r.HostLines, l => l.StartsWith("What if:") && l.Contains("r1"));
            Assert.Equal(new[] { "r1" }, Backend.RouterNames);
        }

        [Fact]
        public void Remove_AsksForConfirmation_ByDefault()
        {
            Running("r1");
            int before = Backend.MutatingCallCount;
            var r = Run("Remove-VirtualRouter -Name r1");
            Assert.Single(r.Prompts);
            Assert.Equal(before, Backend.MutatingCallCount); // the test host answers No
            Assert.Equal(new[] { "r1" }, Backend.RouterNames);
        }

        [Fact]
        public void Remove_Force_DoesNotSkipShouldProcess()
        {
            Running("r1");
            int before = Backend.MutatingCallCount;
            RunOk("Remove-VirtualRouter -Name r1 -Force -WhatIf");
            Assert.Equal(before, Backend.MutatingCallCount);
        }

        [Fact]
        public void Move_IsOperationNotSupported_WhenTheBackendCannotMigrate()
        {
            Backend.Capabilities.SupportsLiveMigration = false;
            Running("r1");
            Backend.AddHost("hv2");
            int before = Backend.MutatingCallCount;
            var r = Run("Move-VirtualRouter -Name r1 -DestinationHost hv2 -Confirm:$false");
            AssertFails(r, Fqid(ErrorIds.OperationNotSupported, "MoveVirtualRouterCommand"));
            Assert.Equal(before, Backend.MutatingCallCount);
        }

        [Fact]
        public void New_Start_LeavesTheRouterRunning()
        {
            var router = Assert.Single(RunOk("New-VirtualRouter -Name r1 -Start").Objects<VirtualRouter>());
            Assert.Equal(RouterState.Running, router.State);
            Assert.Equal(RouterState.Running, Backend.StateOf("r1"));
        }

        [Fact]
        public void New_OnAnUnknownHost_IsUnknownHost_AndCreatesNothing()
        {
            var r = Run("New-VirtualRouter -Name r1 -ComputerName hv-nowhere");
            AssertFails(r, Fqid(ErrorIds.UnknownHost, "NewVirtualRouterCommand"));
            Assert.Equal(0, Backend.MutatingCallCount);
        }

        [Fact]
        public void Lifecycle_BindsNamesByPropertyName()
        {
            Running("r1", "r2");
            RunOk("[pscustomobject]@{ Name = 'r1' }, [pscustomobject]@{ Name = 'r2' } | Suspend-VirtualRouter");
            Assert.Equal(RouterState.Paused, Backend.StateOf("r1"));
            Assert.Equal(RouterState.Paused, Backend.StateOf("r2"));
            RunOk("'r1', 'r2' | Resume-VirtualRouter");
            Assert.Equal(RouterState.Running, Backend.StateOf("r1"));
        }

        [Fact]
        public void Get_ErrorActionStop_MakesNotFoundTerminating()
        {
            var r = Run("Get-VirtualRouter -Name nope -ErrorAction Stop; 'not reached'");
            Assert.True(r.HadTerminatingError, r.Describe());
            Assert.Equal(Fqid(ErrorIds.RouterNotFound, "GetVirtualRouterCommand"), r.TerminatingErrorId);
            Assert.DoesNotContain(r.Output, o => o.ToString() == "not reached");
        }

        [Fact]
        public void Get_FiltersByNetworkName()
        {
            RunOk("$null = New-VirtualRouter a1 -Network a; $null = New-VirtualRouter a2 -Network a; $null = New-VirtualRouter b1 -Network b; " +
                  "$null = New-VirtualLink a1 a2");
            var routers = RunOk("Get-VirtualRouter -NetworkName a").Objects<VirtualRouter>();
            Assert.Equal(new[] { "a1", "a2" }, routers.Select(v => v.Name).OrderBy(n => n));
        }

        [Fact]
        public void Objects_AreRefreshedAfterEachChange()
        {
            Running("r1");
            var r = RunOk("$r = Get-VirtualRouter r1; $r | Suspend-VirtualRouter; $r.State; (Get-VirtualRouter r1).State");
            Assert.Equal(new[] { "Running", "Paused" }, r.Output.Select(o => o.ToString()));
        }

        [Fact]
        public void Remove_PassThru_ReturnsTheRemovedRouter_WithoutItNothing()
        {
            Running("r1", "r2");
            Assert.Empty(RunOk("Remove-VirtualRouter -Name r1 -Confirm:$false").Output);
            Assert.Equal("r2", Assert.Single(RunOk("Remove-VirtualRouter -Name r2 -Confirm:$false -PassThru").Objects<VirtualRouter>()).Name);
            Assert.Empty(Backend.RouterNames);
        }
    }
}
