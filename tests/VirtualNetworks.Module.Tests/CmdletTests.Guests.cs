using System;
using System.Diagnostics;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using Xunit;

namespace VirtualNetworks.Module.Tests
{
    /// <summary>
    /// Wait-VirtualRouter, the -Wait of Deploy-VirtualNetwork, Start- and Resume-VirtualRouter, and Test-VirtualRouterConnection,
    /// against the in-memory backend's guests (a boot time per router, probes walked over the configured routes in real time).
    /// </summary>
    public sealed class GuestCmdletTests : ModuleTestBase
    {
        private const string Wait = "WaitVirtualRouterCommand";
        private const string Probe = "TestVirtualRouterConnectionCommand";

        private static TimeSpan Elapsed(Action action)
        {
            var clock = Stopwatch.StartNew();
            action();
            return clock.Elapsed;
        }

        // ============================================================================================ Wait-VirtualRouter

        [Fact]
        public void Wait_WaitsForEveryRouterAtOnce_AndPassThruCarriesTheGuestUptime()
        {
            DeployGood();
            Backend.BootTime = TimeSpan.FromMilliseconds(600);
            RunOk("Get-VirtualRouter | Stop-VirtualRouter -TurnOff; Start-VirtualRouter -Name *"); // every guest boots from now
            InvocationResult r = null!;
            var took = Elapsed(() => r = RunOk("Wait-VirtualRouter -PassThru"));
            var routers = r.Objects<VirtualRouter>();
            Assert.Equal(new[] { "a1", "a2", "b1", "b2" }, routers.Select(x => x.Name));
            Assert.All(routers, x => Assert.True(x.GuestUptime >= TimeSpan.FromMilliseconds(600), x.Name + " up " + x.GuestUptime));
            Assert.All(routers, x => Assert.Equal(RouterState.Running, x.State));
            // Together, not one after the other; and it did wait for the boot.
            Assert.True(Backend.MaxConcurrentReadyWaits >= 2, "at most " + Backend.MaxConcurrentReadyWaits + " waits ran at once");
            Assert.True(took >= TimeSpan.FromMilliseconds(300), "took " + took);
            Assert.Equal(4, Backend.CallCount("WaitUntilReady"));
        }

        [Fact]
        public void Wait_WithoutPassThru_ReturnsNothing_AndChangesNothing()
        {
            DeployGood();
            int mutating = Backend.MutatingCallCount;
            var r = RunOk("Wait-VirtualRouter a*");
            Assert.Empty(r.Output);
            Assert.Equal(mutating, Backend.MutatingCallCount);
            Assert.Equal(2, Backend.CallCount("WaitUntilReady"));
        }

        [Fact]
        public void Wait_Timeout_IsRouterNotReady_NamingTheRouterAndWhatWasSeenLast_TheOthersStillReturn()
        {
            DeployGood();
            Backend.SetBootTime("a2", TimeSpan.FromHours(1));
            InvocationResult r = null!;
            var took = Elapsed(() => r = Run("Wait-VirtualRouter -TimeoutSec 1 -PassThru"));
            Assert.False(r.HadTerminatingError, r.Describe());
            Assert.Equal(new[] { "a1", "b1", "b2" }, r.Objects<VirtualRouter>().Select(x => x.Name));
            var error = Assert.Single(r.Errors);
            Assert.Equal(Fqid(ErrorIds.RouterNotReady, Wait), error.FullyQualifiedErrorId);
            Assert.Equal(ErrorCategory.OperationTimeout, error.CategoryInfo.Category);
            Assert.Equal("a2", error.TargetObject);
            Assert.Contains("'a2' was not ready within 1 s", error.Exception.Message);
            Assert.Contains("still booting", error.Exception.Message); // what the backend saw last
            Assert.True(took < TimeSpan.FromSeconds(6), "took " + took);
        }

        [Fact]
        public void Wait_ErrorActionStop_MakesATimeoutTerminating()
        {
            DeployGood();
            Backend.SetBootTime("b1", TimeSpan.FromHours(1));
            var r = Run("Wait-VirtualRouter -Name b1 -TimeoutSec 1 -ErrorAction Stop");
            Assert.True(r.HadTerminatingError);
            Assert.Equal(Fqid(ErrorIds.RouterNotReady, Wait), r.TerminatingErrorId);
        }

        [Fact]
        public void Wait_ARouterThatDoesNotRun_IsRouterNotRunning_AtOnce_NotAWait()
        {
            DeployGood();
            RunOk("Stop-VirtualRouter -Name a1; Suspend-VirtualRouter -Name b2");
            InvocationResult r = null!;
            var took = Elapsed(() => r = Run("Wait-VirtualRouter -Name a1, b2, a2 -TimeoutSec 60 -PassThru"));
            Assert.True(took < TimeSpan.FromSeconds(10), "took " + took);
            Assert.Equal(new[] { "a2" }, r.Objects<VirtualRouter>().Select(x => x.Name));
            Assert.Equal(2, r.Errors.Count);
            Assert.All(r.Errors, e => Assert.Equal(Fqid(ErrorIds.RouterNotRunning, Wait), e.FullyQualifiedErrorId));
            Assert.Equal(new[] { "a1", "b2" }, r.Errors.Select(e => (string)e.TargetObject).OrderBy(n => n));
            Assert.Contains("is off, not running", r.Errors.Single(e => (string)e.TargetObject == "a1").Exception.Message);
            Assert.Contains("Resume-VirtualRouter", r.Errors.Single(e => (string)e.TargetObject == "b2").Exception.Message);
            Assert.Equal(1, Backend.CallCount("WaitUntilReady")); // a2 only
        }

        [Fact]
        public void Wait_AGuestWhoseConfigurationFailed_IsRouterNotReady_WithoutWaitingForTheTimeout()
        {
            DeployGood();
            Backend.FailGuestConfiguration("b2");
            InvocationResult r = null!;
            var took = Elapsed(() => r = Run("Wait-VirtualRouter -Name b2 -TimeoutSec 60"));
            Assert.True(took < TimeSpan.FromSeconds(10), "took " + took);
            var error = Assert.Single(r.Errors);
            Assert.Equal(Fqid(ErrorIds.RouterNotReady, Wait), error.FullyQualifiedErrorId);
            Assert.Equal(ErrorCategory.InvalidResult, error.CategoryInfo.Category);
        }

        [Fact]
        public void Wait_NamesAndRouterObjectsBindFromThePipeline_EachRouterWaitedForOnce()
        {
            DeployGood();
            var byName = RunOk("'a1', 'b1', 'a1' | Wait-VirtualRouter -PassThru").Objects<VirtualRouter>();
            Assert.Equal(new[] { "a1", "b1" }, byName.Select(x => x.Name));
            Assert.Equal(2, Backend.CallCount("WaitUntilReady"));
            var byObject = RunOk("Get-VirtualRouter -NetworkName b | Wait-VirtualRouter -PassThru").Objects<VirtualRouter>();
            Assert.Equal(new[] { "b1", "b2" }, byObject.Select(x => x.Name));
            var byNetwork = RunOk("Wait-VirtualRouter -NetworkName a -PassThru").Objects<VirtualRouter>();
            Assert.Equal(new[] { "a1", "a2" }, byNetwork.Select(x => x.Name));
        }

        [Fact]
        public void Wait_ALiteralThatMatchesNothing_IsRouterNotFound_AWildcardIsSilent()
        {
            DeployGood();
            var r = Run("Wait-VirtualRouter -Name nope, zz* -PassThru");
            Assert.Empty(r.Output);
            Assert.Equal(new[] { Fqid(ErrorIds.RouterNotFound, Wait) }, r.ErrorIds);
        }

        [Fact]
        public void Wait_TimeoutSecIsBounded()
        {
            var r = Run("Wait-VirtualRouter -TimeoutSec 0");
            Assert.True(r.HadTerminatingError);
            Assert.StartsWith("ParameterArgumentValidationError", r.TerminatingErrorId);
            Assert.Equal(0, Backend.CallCount("WaitUntilReady"));
        }

        // ============================================================================================ -Wait

        [Fact]
        public void StartWait_WaitsForTheGuestsAfterTheLastStart_AndPassesThemThroughWithUptime()
        {
            RunOk("$null = New-VirtualRouter -Name r1; $null = New-VirtualRouter -Name r2");
            Backend.BootTime = TimeSpan.FromMilliseconds(400);
            var r = RunOk("Start-VirtualRouter -Name r1, r2 -Wait -PassThru");
            var routers = r.Objects<VirtualRouter>();
            Assert.Equal(new[] { "r1", "r2" }, routers.Select(x => x.Name));
            Assert.All(routers, x => Assert.True(x.GuestUptime >= TimeSpan.FromMilliseconds(400), x.Name + " up " + x.GuestUptime));
            var calls = Backend.Calls.Where(c => c.StartsWith("StartRouter", StringComparison.Ordinal) || c.StartsWith("WaitUntilReady", StringComparison.Ordinal)).ToList();
            Assert.Equal(new[] { "StartRouter r1", "StartRouter r2" }, calls.Take(2)); // both started before any wait
            Assert.Equal(2, calls.Count(c => c.StartsWith("WaitUntilReady", StringComparison.Ordinal)));
        }

        [Fact]
        public void StartWithoutWait_DoesNotWait_AndWhatIfWaitsForNothing()
        {
            RunOk("$null = New-VirtualRouter -Name r1");
            var started = RunOk("Start-VirtualRouter -Name r1 -PassThru").Objects<VirtualRouter>().Single();
            Assert.Null(started.GuestUptime);
            RunOk("Stop-VirtualRouter -Name r1");
            RunOk("Start-VirtualRouter -Name r1 -Wait -WhatIf");
            Assert.Equal(0, Backend.CallCount("WaitUntilReady"));
        }

        [Fact]
        public void StartWait_Timeout_IsRouterNotReady()
        {
            RunOk("$null = New-VirtualRouter -Name r1");
            Backend.BootTime = TimeSpan.FromHours(1);
            var r = Run("Start-VirtualRouter -Name r1 -Wait -TimeoutSec 1 -PassThru");
            Assert.Empty(r.Output);
            Assert.Equal(new[] { Fqid(ErrorIds.RouterNotReady, "StartVirtualRouterCommand") }, r.ErrorIds);
            Assert.Equal(RouterState.Running, Backend.StateOf("r1")); // started all the same
        }

        [Fact]
        public void ResumeWait_WaitsForTheGuest()
        {
            DeployGood();
            RunOk("Suspend-VirtualRouter -Name a2");
            var r = RunOk("Resume-VirtualRouter -Name a2 -Wait -PassThru");
            var router = Assert.Single(r.Objects<VirtualRouter>());
            Assert.Equal(RouterState.Running, router.State);
            Assert.NotNull(router.GuestUptime);
            Assert.Equal(1, Backend.CallCount("WaitUntilReady"));
        }

        [Fact]
        public void DeployWait_WaitsForTheFilesRoutersAfterTheDeployment()
        {
            Backend.BootTime = TimeSpan.FromMilliseconds(300);
            var r = RunOk("Deploy-VirtualNetwork -Path " + Q(Fixture("good.json")) + " -Wait");
            var result = Assert.Single(r.Objects<DeploymentResult>());
            Assert.True(result.Duration >= TimeSpan.FromMilliseconds(300), "duration " + result.Duration);
            var calls = Backend.Calls.ToList();
            int lastStart = calls.FindLastIndex(c => c.StartsWith("StartRouter", StringComparison.Ordinal));
            var waits = calls.Select((c, i) => (c, i)).Where(x => x.c.StartsWith("WaitUntilReady", StringComparison.Ordinal)).ToList();
            Assert.Equal(new[] { "a1", "a2", "b1", "b2" }, waits.Select(w => w.c.Split(' ')[1]).OrderBy(n => n));
            Assert.All(waits, w => Assert.True(w.i > lastStart, "a wait before the last start"));
        }

        [Fact]
        public void DeployWait_ARouterNotReady_IsANonTerminatingError_AndTheSummaryIsStillReturned()
        {
            Backend.SetBootTime("b2", TimeSpan.FromHours(1));
            var r = Run("Deploy-VirtualNetwork -Path " + Q(Fixture("good.json")) + " -Wait -TimeoutSec 1");
            Assert.False(r.HadTerminatingError, r.Describe());
            Assert.Single(r.Objects<DeploymentResult>());
            var error = Assert.Single(r.Errors);
            Assert.Equal(Fqid(ErrorIds.RouterNotReady, "DeployVirtualNetworkCommand"), error.FullyQualifiedErrorId);
            Assert.Equal("b2", error.TargetObject);
        }

        [Fact]
        public void DeployWithoutWait_DoesNotWait()
        {
            DeployGood();
            Assert.Equal(0, Backend.CallCount("WaitUntilReady"));
        }

        // ============================================================================================ Test-VirtualRouterConnection

        [Fact]
        public void Probe_ByTargetName_ProbesTheTargetsAddressOfTheSourcesFamily_AndSummarises()
        {
            DeployGood();
            var r = RunOk("Test-VirtualRouterConnection -Name a1 -TargetName a2 -Count 5 -IntervalMilliseconds 10");
            var result = Assert.Single(r.Objects<ConnectionTestResult>());
            Assert.Equal("a1", result.Source);
            Assert.Equal("a2", result.Target);
            var a2 = Backend.ConfigurationOf("a2")!.Interfaces.Select(i => i.Address.Split('/')[0]).ToList();
            Assert.Contains(result.Address, a2);
            Assert.Equal(5, result.Sent);
            Assert.Equal(5, result.Received);
            Assert.Equal(0, result.Lost);
            Assert.Equal(0, result.LongestLossRun);
            Assert.True(result.Reachable);
            Assert.NotNull(result.MaximumRoundTripMilliseconds);
            Assert.Equal(10, result.IntervalMilliseconds);

            var v6 = RunOk("Test-VirtualRouterConnection b2 b1 -Count 2 -IntervalMilliseconds 10").Objects<ConnectionTestResult>().Single();
            Assert.Contains(":", v6.Address);
            Assert.Equal(2, v6.Received);
        }

        [Fact]
        public void Probe_ByAddress_AndAnAddressNobodyHas_IsAllLost()
        {
            DeployGood();
            var a2 = Backend.ConfigurationOf("a2")!.Interfaces[0].Address.Split('/')[0];
            var ok = RunOk("Test-VirtualRouterConnection -Name a1 -TargetAddress " + a2 + " -Count 3 -IntervalMilliseconds 10").Objects<ConnectionTestResult>().Single();
            Assert.Null(ok.Target);
            Assert.Equal(3, ok.Received);
            var lost = RunOk("Test-VirtualRouterConnection -Name a1 -TargetAddress 192.0.2.77 -Count 3 -IntervalMilliseconds 10").Objects<ConnectionTestResult>().Single();
            Assert.Equal(3, lost.Lost);
            Assert.Equal(3, lost.LongestLossRun);
            Assert.Equal(30, lost.LongestGapMilliseconds);
            Assert.False(lost.Reachable);
            Assert.Null(lost.MaximumRoundTripMilliseconds);
        }

        [Fact]
        public void Probe_ARouterPausedDuringTheStream_ShowsAsOneRunOfLostProbes()
        {
            DeployGood();
            Task? suspend = null;
            Backend.ProbeStreamStarting += _ => suspend = Task.Run(() =>
            {
                Thread.Sleep(150);
                Backend.SuspendRouter("a2", CancellationToken.None);
                Thread.Sleep(200);
                Backend.ResumeRouter("a2", CancellationToken.None);
            });
            var r = RunOk("Test-VirtualRouterConnection -Name a1 -TargetName a2 -Count 60 -IntervalMilliseconds 10");
            Assert.NotNull(suspend);
            suspend!.Wait();
            var result = Assert.Single(r.Objects<ConnectionTestResult>());
            Assert.Equal(60, result.Sent);
            Assert.True(result.Received > 0 && result.Lost > 0, $"received {result.Received}, lost {result.Lost}");
            Assert.Equal(result.Sent - result.Received, result.Lost);
            // One pause of ~200 ms at 10 ms a probe: one run of about 20 lost probes, the whole loss.
            Assert.Equal(result.Lost, result.LongestLossRun);
            Assert.InRange(result.LongestLossRun, 8, 40);
            Assert.Equal(result.LongestLossRun * 10.0, result.LongestGapMilliseconds);
        }

        [Fact]
        public void Probe_ObservesNothing_ItReadsOnlyTheRoutersAddresses()
        {
            DeployGood();
            int inventories = Backend.CallCount("GetInventory");
            RunOk("Test-VirtualRouterConnection -Name a1 -TargetName a2 -Count 2 -IntervalMilliseconds 10");
            Assert.Equal(inventories, Backend.CallCount("GetInventory"));
            Assert.Equal(2, Backend.CallCount("AddressesOf"));
        }

        [Fact]
        public void Probe_RouterObjectsBindByName()
        {
            DeployGood();
            var r = RunOk("Get-VirtualRouter -Name a1 | Test-VirtualRouterConnection -TargetName a2 -Count 1 -IntervalMilliseconds 10");
            Assert.Equal("a1", Assert.Single(r.Objects<ConnectionTestResult>()).Source);
        }

        [Theory]
        [InlineData("-Count 0")]
        [InlineData("-Count 1001")]
        [InlineData("-IntervalMilliseconds 9")]
        [InlineData("-IntervalMilliseconds 10001")]
        public void Probe_CountAndIntervalOutsideTheirRange_AreRefusedByBinding(string args)
        {
            DeployGood();
            var r = Run("Test-VirtualRouterConnection -Name a1 -TargetName a2 " + args);
            Assert.True(r.HadTerminatingError);
            Assert.StartsWith("ParameterArgumentValidationError", r.TerminatingErrorId);
            Assert.Equal(0, Backend.CallCount("ProbeStream"));
        }

        [Fact]
        public void Probe_AStreamLongerThanTheGuestAllows_IsInvalidProbe_BeforeTheBackend()
        {
            DeployGood();
            var r = Run("Test-VirtualRouterConnection -Name a1 -TargetName a2 -Count 1000 -IntervalMilliseconds 1000");
            Assert.Equal(new[] { Fqid(ErrorIds.InvalidProbe, Probe) }, r.ErrorIds);
            Assert.Equal(0, Backend.CallCount("ProbeStream"));
        }

        [Theory]
        [InlineData("10.0.0.1; reboot")]
        [InlineData("10.0.0.1/31")]
        [InlineData("fe80::1%eth0")]
        [InlineData("1.2")]
        [InlineData("-c")]
        [InlineData("a3")]
        public void Probe_ATargetAddressThatIsNotAnAddress_IsInvalidAddress_BeforeTheBackend(string address)
        {
            DeployGood();
            var r = Run("Test-VirtualRouterConnection -Name a1 -TargetAddress " + Q(address));
            Assert.Equal(new[] { Fqid(ErrorIds.InvalidAddress, Probe) }, r.ErrorIds);
            Assert.Equal(0, Backend.CallCount("ProbeStream"));
        }

        [Fact]
        public void Probe_FromARouterThatDoesNotRun_IsRouterNotRunning_AndUnknownRoutersAreRouterNotFound()
        {
            DeployGood();
            RunOk("Stop-VirtualRouter -Name a1");
            var r = Run("Test-VirtualRouterConnection -Name a1 -TargetName a2 -Count 1 -IntervalMilliseconds 10");
            Assert.Equal(new[] { Fqid(ErrorIds.RouterNotRunning, Probe) }, r.ErrorIds);
            r = Run("Test-VirtualRouterConnection -Name a2 -TargetName nope -Count 1 -IntervalMilliseconds 10");
            Assert.Equal(new[] { Fqid(ErrorIds.RouterNotFound, Probe) }, r.ErrorIds);
            r = Run("Test-VirtualRouterConnection -Name nope -TargetAddress 10.0.0.1 -Count 1 -IntervalMilliseconds 10");
            Assert.Equal(new[] { Fqid(ErrorIds.RouterNotFound, Probe) }, r.ErrorIds);
        }
    }
}
