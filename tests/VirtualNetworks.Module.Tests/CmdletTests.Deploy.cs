using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using Newtonsoft.Json.Linq;
using Xunit;

namespace VirtualNetworks.Module.Tests
{
    /// <summary>Deploy-VirtualNetwork when things go wrong: bad files, failing steps, cancellation.</summary>
    public sealed class DeployFailureTests : ModuleTestBase
    {
        private const string DeployClass = "DeployVirtualNetworkCommand";

        /// <summary>
        /// Errors that need the backend to be detected: its known hosts, its images, its limits, and what is deployed (a
        /// link end may name an already deployed router, so a dangling end is only known after observing). Everything
        /// else in cases.json is a property of the file alone and must be reported before a backend is even resolved
        /// (VirtualNetworkService.ValidateStatic: "Run it before resolving a backend so bad input never reaches one").
        /// </summary>
        private static readonly HashSet<string> NeedsBackend = new HashSet<string>(StringComparer.Ordinal)
        {
            ErrorIds.UnknownHost, ErrorIds.ImageNotFound, ErrorIds.AdapterLimitExceeded, ErrorIds.LinkEndpointNotFound,
        };

        public static IEnumerable<object[]> BadFixtures()
        {
            var path = Path.Combine(FindFixtures(), "cases.json");
            var cases = JObject.Parse(File.ReadAllText(path));
            foreach (var p in cases.Properties())
                yield return new object[] { p.Name, (string)p.Value! };
        }

        private static string FindFixtures()
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Directory.Build.props")))
                    return Path.Combine(dir.FullName, "tests", "fixtures", "topologies");
            throw new InvalidOperationException("repository root not found");
        }

        [Theory]
        [MemberData(nameof(BadFixtures))]
        public void BadFixture_FailsWithItsId_AndTouchesNothing(string file, string expectedId)
        {
            var r = Run("Deploy-VirtualNetwork -Path " + Q(Fixture(file)) + " -Confirm:$false");
            Assert.True(r.HadTerminatingError, file + ": expected terminating " + expectedId + ", got: " + r.Describe());
            Assert.Equal(Fqid(expectedId, DeployClass), r.TerminatingErrorId);
            Assert.Equal(0, Backend.MutatingCallCount);
            Assert.Empty(Backend.RouterNames);
            if (!NeedsBackend.Contains(expectedId))
                Assert.True(ResolveCount == 0, file + ": a file-level error (" + expectedId + ") must be found before a backend is resolved; it was resolved " + ResolveCount + " time(s)");
        }

        [Fact]
        public void BadFixture_ReportsTheFileAndPosition()
        {
            var r = Run("Deploy-VirtualNetwork -Path " + Q(Fixture("truncated.json")));
            Assert.NotNull(r.TerminatingError);
            Assert.Contains("truncated.json", r.TerminatingError!.Exception.Message + " " + r.TerminatingError.TargetObject);
            Assert.Equal(ErrorCategory.ParserError, r.TerminatingError.CategoryInfo.Category);
        }

        [Fact]
        public void MissingFile_IsTopologyFileNotFound_WithoutResolvingABackend()
        {
            var r = Run("Deploy-VirtualNetwork -Path " + Q(Path.Combine(TempDirectory(), "none.json")));
            Assert.True(r.HadTerminatingError, r.Describe());
            Assert.Equal(Fqid(ErrorIds.TopologyFileNotFound, DeployClass), r.TerminatingErrorId);
            Assert.Equal(ErrorCategory.ObjectNotFound, r.TerminatingError!.CategoryInfo.Category);
            Assert.Equal(0, ResolveCount);
        }

        [Fact]
        public void RelativePath_IsResolvedAgainstTheCurrentLocation()
        {
            // (Set-Location lives in Microsoft.PowerShell.Management, which the NuGet engine does not ship.)
            RunOk("$null = $ExecutionContext.SessionState.Path.SetLocation(" + Q(ModuleSession.TopologyFixtures) + "); Deploy-VirtualNetwork -Path ./good.json -Confirm:$false");
            Assert.Equal(4, Backend.RouterNames.Count);
        }

        [Fact]
        public void AdapterLimitOfTheBackend_IsCheckedBeforeAnythingChanges()
        {
            var file = Path.Combine(TempDirectory(), "star.json");
            File.WriteAllText(file, @"{ ""routers"": [ {""name"":""hub""}, {""name"":""s1""}, {""name"":""s2""}, {""name"":""s3""}, {""name"":""s4""}, {""name"":""s5""} ],
  ""links"": [ {""from"":""hub"",""to"":""s1""}, {""from"":""hub"",""to"":""s2""}, {""from"":""hub"",""to"":""s3""}, {""from"":""hub"",""to"":""s4""}, {""from"":""hub"",""to"":""s5""} ] }");
            var r = Run("Deploy-VirtualNetwork -Path " + Q(file) + " -Confirm:$false");
            Assert.True(r.HadTerminatingError, r.Describe());
            Assert.Equal(Fqid(ErrorIds.AdapterLimitExceeded, DeployClass), r.TerminatingErrorId);
            Assert.Equal(0, Backend.MutatingCallCount);
        }

        [Fact]
        public void JoiningADeployedNetworkOfAnotherLabel_IsAnIsolationViolation_UnlessForced()
        {
            DeployGood();
            var file = Path.Combine(TempDirectory(), "bridge.json");
            File.WriteAllText(file, @"{ ""routers"": [ {""name"":""c1"", ""network"":""c""} ], ""links"": [ {""from"":""c1"",""to"":""a1""} ] }");
            int before = Backend.MutatingCallCount;
            var r = Run("Deploy-VirtualNetwork -Path " + Q(file) + " -Confirm:$false");
            Assert.True(r.HadTerminatingError, r.Describe());
            Assert.Equal(Fqid(ErrorIds.NetworkIsolationViolation, DeployClass), r.TerminatingErrorId);
            Assert.Equal(before, Backend.MutatingCallCount);

            RunOk("Deploy-VirtualNetwork -Path " + Q(file) + " -Force -Confirm:$false");
            Assert.Contains("c1", Backend.RouterNames);
            Assert.Contains("a+c", RunOk("Get-VirtualNetwork").Objects<VirtualNetwork>().Select(n => n.Name));
        }

        [Fact]
        public void FailingStep_IsPlanStepFailed_AndRerunningConverges()
        {
            Backend.FailOn(nameof(InMemoryBackend.CreateLink), 2,
                new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.DeviceError, null, "injected: the switch is on fire"));
            var r = Run("Deploy-VirtualNetwork -Path " + Q(Fixture("good.json")) + " -Confirm:$false");
            AssertFails(r, Fqid(ErrorIds.PlanStepFailed, DeployClass));
            var error = r.TerminatingError ?? r.Errors.First(e => e.FullyQualifiedErrorId.StartsWith(ErrorIds.PlanStepFailed, StringComparison.Ordinal));
            Assert.Contains("injected", error.Exception.Message + " " + error.Exception.InnerException?.Message);
            Assert.Single(Backend.LinkNames);
            Assert.Equal(4, Backend.RouterNames.Count);

            var again = RunOk("Deploy-VirtualNetwork -Path " + Q(Fixture("good.json")) + " -Confirm:$false");
            Assert.True(Assert.Single(again.Objects<DeploymentResult>()).Changes > 0);
            Assert.Equal(4, Backend.LinkNames.Count);
            Assert.All(Backend.RouterNames, n => Assert.Equal(RouterState.Running, Backend.StateOf(n)));
            Assert.True(Assert.Single(RunOk("Test-VirtualNetwork").Objects<VirtualNetworkTestReport>()).Passed);

            int before = Backend.MutatingCallCount;
            RunOk("Deploy-VirtualNetwork -Path " + Q(Fixture("good.json")) + " -Confirm:$false");
            Assert.Equal(before, Backend.MutatingCallCount);
        }

        [Fact]
        public void Stop_CancelsPromptly_AndALaterDeployConverges()
        {
            var delay = TimeSpan.FromSeconds(3);
            Backend.MutatingCallDelay = delay;
            using var second = new ManualResetEventSlim();
            int seen = 0;
            Backend.MutatingCallStarted += _ => { if (Interlocked.Increment(ref seen) == 2) second.Set(); };

            using var ps = PowerShell.Create();
            ps.Runspace = Session.Runspace;
            ps.AddCommand("Deploy-VirtualNetwork").AddParameter("Path", Fixture("good.json")).AddParameter("Confirm", false);
            var pending = ps.BeginInvoke();
            Assert.True(second.Wait(TimeSpan.FromSeconds(60)), "the deployment never reached its second backend call");

            var clock = Stopwatch.StartNew();
            ps.Stop();
            clock.Stop();
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1.5),
                $"Stop took {clock.Elapsed.TotalMilliseconds:F0} ms; the cancellation token must reach the backend call (each call waits {delay.TotalSeconds} s)");
            Assert.Equal(PSInvocationState.Stopped, ps.InvocationStateInfo.State);
            try { ps.EndInvoke(pending); } catch (PipelineStoppedException) { }

            int atStop = Backend.MutatingCallCount;
            Thread.Sleep(delay + TimeSpan.FromMilliseconds(500)); // longer than an uncancelled call would take
            Assert.Equal(atStop, Backend.MutatingCallCount); // nothing keeps running behind our back
            Assert.True(atStop < 16, "the deployment was not stopped mid-way");

            Backend.MutatingCallDelay = TimeSpan.Zero;
            RunOk("Deploy-VirtualNetwork -Path " + Q(Fixture("good.json")) + " -Confirm:$false");
            Assert.Equal(new[] { "a1", "a2", "b1", "b2" }, Backend.RouterNames);
            Assert.Equal(4, Backend.LinkNames.Count);
            Assert.True(Assert.Single(RunOk("Test-VirtualNetwork").Objects<VirtualNetworkTestReport>()).Passed);
        }

        [Fact]
        public void Deploy_ReportsProgress()
        {
            var r = DeployGood();
            Assert.NotEmpty(r.Progress);
            var ids = r.Progress.Select(p => p.ActivityId).Distinct().ToList();
            Assert.Single(ids);
            Assert.Contains(r.Progress, p => p.RecordType == ProgressRecordType.Completed);
        }

        [Fact]
        public void Deploy_DoesNotPromptByDefault()
        {
            var r = RunOk("Deploy-VirtualNetwork -Path " + Q(Fixture("good.json")));
            Assert.Empty(r.Prompts);
            Assert.Equal(4, Backend.RouterNames.Count);
        }

        [Fact]
        public void Deploy_HonoursWhatIfPreference()
        {
            var r = RunOk("$WhatIfPreference = $true; Deploy-VirtualNetwork -Path " + Q(Fixture("good.json")));
            Assert.Equal(0, Backend.MutatingCallCount);
            Assert.NotEmpty(r.HostLines);
        }

        [Fact]
        public void Deploy_ChangedSettingsOfADeployedRouter_AreWarnedAbout_NotApplied()
        {
            DeployGood();
            var file = Path.Combine(TempDirectory(), "bigger.json");
            File.WriteAllText(file, File.ReadAllText(Fixture("good.json")).Replace("\"memoryMB\": 128", "\"memoryMB\": 256"));
            int before = Backend.MutatingCallCount;
            var r = RunOk("Deploy-VirtualNetwork -Path " + Q(file) + " -Confirm:$false");
            Assert.Equal(before, Backend.MutatingCallCount);
            Assert.Contains(r.Warnings, w => w.Message.Contains("a1") && w.Message.Contains("memoryMB"));
        }

        [Fact]
        public void Deploy_AllProblemsOfAFileAreReported_TheFirstTerminating()
        {
            var file = Path.Combine(TempDirectory(), "two-problems.json");
            File.WriteAllText(file, @"{ ""routers"": [ { ""name"": ""r1"", ""memoryMB"": 0 }, { ""name"": ""r;2"" } ] }");
            var r = Run("Deploy-VirtualNetwork -Path " + Q(file));
            Assert.True(r.HadTerminatingError, r.Describe());
            var all = r.ErrorIds.Concat(new[] { r.TerminatingErrorId! }).OrderBy(x => x).ToList();
            Assert.Equal(new[] { Fqid(ErrorIds.InvalidMemory, DeployClass), Fqid(ErrorIds.InvalidName, DeployClass) }, all);
            Assert.Equal(0, ResolveCount);
        }
    }
}
