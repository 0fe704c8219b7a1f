using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Reflection;
using System.Text.RegularExpressions;
using Xunit;

namespace VirtualNetworks.Module.Tests
{
    /// <summary>The staged module as a whole: what it exports, its manifest, type identity, cmdlet metadata.</summary>
    public sealed class ModuleTests : ModuleTestBase
    {
        public static readonly string[] ExpectedCmdlets =
        {
            "New-VirtualRouter", "Get-VirtualRouter", "Start-VirtualRouter", "Stop-VirtualRouter", "Suspend-VirtualRouter",
            "Resume-VirtualRouter", "Remove-VirtualRouter", "Move-VirtualRouter", "Wait-VirtualRouter", "Test-VirtualRouterConnection",
            "New-VirtualLink", "Get-VirtualLink", "Set-VirtualLink", "Remove-VirtualLink",
            "Get-VirtualNetwork", "Test-VirtualNetwork", "Deploy-VirtualNetwork", "Remove-VirtualNetwork", "Export-VirtualNetwork",
            "Measure-VirtualLink", "Remove-VirtualNetworkOrphan",
            "Get-VirtualHost", "New-VirtualLabHost", "Remove-VirtualLabHost",
            "Disable-VirtualLink", "Enable-VirtualLink", "Get-VirtualRoute", "Get-VirtualRoutingStatus",
        };

        public static IEnumerable<object[]> Cmdlets => ExpectedCmdlets.Select(c => new object[] { c });

        [Fact]
        public void Import_ExportsExactlyTheModulesCmdlets_AndNoFunctionsAliasesOrVariables()
        {
            var m = Session.Module;
            Assert.Equal(ExpectedCmdlets.OrderBy(c => c, StringComparer.OrdinalIgnoreCase),
                m.ExportedCmdlets.Keys.OrderBy(c => c, StringComparer.OrdinalIgnoreCase));
            Assert.Empty(m.ExportedFunctions);
            Assert.Empty(m.ExportedAliases);
            Assert.Empty(m.ExportedVariables);

            var r = RunOk("Get-Command -Module VirtualNetworks | ForEach-Object { $_.CommandType.ToString() + ' ' + $_.Name }");
            Assert.Equal(ExpectedCmdlets.Select(c => "Cmdlet " + c).OrderBy(c => c, StringComparer.OrdinalIgnoreCase),
                r.Output.Select(o => o.ToString()).OrderBy(c => c, StringComparer.OrdinalIgnoreCase));
        }

        [Fact]
        public void TypeIdentity_TheModuleBindsToTheTestsCoreAssembly_AndUsesTheOverride()
        {
            Session.VerifyTypeIdentity();
            var moduleAssembly = Session.Module.ImplementingAssembly;
            Assert.NotNull(moduleAssembly);
            Assert.StartsWith(ModuleSession.StagedDirectory, moduleAssembly!.Location);

            var r = RunOk("New-VirtualRouter -Name r1; Get-VirtualRouter -Name r1");
            var routers = r.Objects<VirtualRouter>();
            Assert.NotEmpty(routers);
            Assert.All(routers, v => Assert.Same(typeof(VirtualRouter), v.GetType()));
            Assert.All(routers, v => Assert.Equal(InMemoryBackend.KindName, v.Backend));
            Assert.Contains("CreateRouter r1", Backend.Calls);
            Assert.True(ResolveCount > 0);
        }

        [Fact]
        public void Manifest_VersionFromDirectoryBuildProps_EditionsAndFormatFile()
        {
            var props = File.ReadAllText(Path.Combine(ModuleSession.RepoRoot, "Directory.Build.props"));
            var version = Regex.Match(props, "<VersionPrefix>([^<]+)</VersionPrefix>").Groups[1].Value;
            var m = Session.Module;
            Assert.Equal(new Version(version), m.Version);
            Assert.Equal(new Version(5, 1), m.PowerShellVersion);
            Assert.Contains("Desktop", m.CompatiblePSEditions);
            Assert.Contains("Core", m.CompatiblePSEditions);
            Assert.Contains(m.ExportedFormatFiles, f => Path.GetFileName(f) == "VirtualNetworks.format.ps1xml");
            Assert.Equal("VirtualNetworks.dll", m.RootModule);
        }

        [Fact]
        public void Staging_HoldsExactlyTheExpectedFiles()
        {
            var expected = File.ReadAllLines(Path.Combine(ModuleSession.RepoRoot, "tools", "expected-files.txt"))
                .Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith("#", StringComparison.Ordinal))
                .OrderBy(l => l, StringComparer.Ordinal).ToArray();
            var actual = Directory.GetFiles(ModuleSession.StagedDirectory, "*", SearchOption.AllDirectories)
                .Select(f => Path.GetRelativePath(ModuleSession.StagedDirectory, f).Replace('\\', '/'))
                .OrderBy(l => l, StringComparer.Ordinal).ToArray();
            Assert.Equal(expected, actual);
        }

        [Theory]
        [MemberData(nameof(Cmdlets))]
        public void EveryCmdlet_DeclaresOutputType_AndLivesInTheStableNamespace(string name)
        {
            var info = CommandOf(name);
            Assert.NotEmpty(info.OutputType);
            Assert.Equal(ModuleTestBase.CommandNamespace, info.ImplementingType.Namespace);
            Assert.Equal(name.Replace("-", "") + "Command", info.ImplementingType.Name);
            Assert.True(info.ImplementingType.IsSealed, name + " should be sealed");
        }

        [Theory]
        [InlineData("New-VirtualRouter", "Low")]
        [InlineData("Start-VirtualRouter", "Low")]
        [InlineData("Stop-VirtualRouter", "Low")]
        [InlineData("Suspend-VirtualRouter", "Low")]
        [InlineData("Resume-VirtualRouter", "Low")]
        [InlineData("Move-VirtualRouter", "Low")]
        [InlineData("New-VirtualLink", "Low")]
        [InlineData("Set-VirtualLink", "Low")]
        [InlineData("Deploy-VirtualNetwork", "Low")]
        [InlineData("Remove-VirtualRouter", "High")]
        [InlineData("Remove-VirtualLink", "High")]
        [InlineData("Remove-VirtualNetwork", "High")]
        [InlineData("New-VirtualLabHost", "Low")]
        [InlineData("Remove-VirtualLabHost", "High")]
        public void MutatingCmdlets_SupportShouldProcess_WithConfirmImpactByRisk(string name, string minimumImpact)
        {
            var attr = CommandOf(name).ImplementingType.GetCustomAttribute<CmdletAttribute>()!;
            Assert.True(attr.SupportsShouldProcess, name + " must support ShouldProcess");
            var min = (ConfirmImpact)Enum.Parse(typeof(ConfirmImpact), minimumImpact);
            Assert.True(attr.ConfirmImpact >= min, $"{name}: ConfirmImpact {attr.ConfirmImpact}, expected at least {min}");
        }

        [Theory]
        [InlineData("Get-VirtualRouter")]
        [InlineData("Get-VirtualLink")]
        [InlineData("Get-VirtualNetwork")]
        [InlineData("Get-VirtualHost")]
        public void GetCmdlets_NameSupportsWildcards(string name)
        {
            var info = CommandOf(name);
            Assert.True(info.Parameters.ContainsKey("Name"), name + " has no -Name");
            Assert.Contains(info.Parameters["Name"].Attributes, a => a is SupportsWildcardsAttribute);
        }

        [Theory]
        [InlineData("Start-VirtualRouter")]
        [InlineData("Stop-VirtualRouter")]
        [InlineData("Suspend-VirtualRouter")]
        [InlineData("Resume-VirtualRouter")]
        [InlineData("Remove-VirtualRouter")]
        [InlineData("Move-VirtualRouter")]
        [InlineData("Set-VirtualLink")]
        [InlineData("Remove-VirtualLink")]
        [InlineData("Test-VirtualNetwork")]
        [InlineData("Remove-VirtualNetwork")]
        [InlineData("Export-VirtualNetwork")]
        public void IdentityParameters_BindFromThePipeline(string name)
        {
            var info = CommandOf(name);
            Assert.True(info.Parameters.ContainsKey("Name"), name + " has no -Name");
            var pa = info.Parameters["Name"].Attributes.OfType<ParameterAttribute>().ToList();
            Assert.Contains(pa, p => p.ValueFromPipelineByPropertyName || p.ValueFromPipeline);
        }

        [Theory]
        [InlineData("Start-VirtualRouter")]
        [InlineData("Stop-VirtualRouter")]
        [InlineData("Suspend-VirtualRouter")]
        [InlineData("Resume-VirtualRouter")]
        [InlineData("Set-VirtualLink")]
        [InlineData("Remove-VirtualRouter")]
        [InlineData("Remove-VirtualLink")]
        public void CmdletsThatOtherwiseReturnNothing_HavePassThru(string name)
        {
            Assert.True(CommandOf(name).Parameters.ContainsKey("PassThru"), name + " has no -PassThru");
        }

        [Fact]
        public void RouterAndLinkNames_AreTabCompleted()
        {
            RunOk("'r1','r2','x1' | ForEach-Object { New-VirtualRouter -Name $_ } | Out-Null; New-VirtualLink -From r1 -To r2 | Out-Null");
            List<string> Complete(string input)
            {
                using var ps = PowerShell.Create();
                ps.Runspace = Session.Runspace;
                var c = CommandCompletion.CompleteInput(input, input.Length, null, ps);
                return c.CompletionMatches.Select(m => m.CompletionText.Trim('\'')).ToList();
            }
            Assert.Equal(new[] { "r1", "r2" }, Complete("Start-VirtualRouter -Name r").OrderBy(x => x));
            Assert.Contains("r1-r2", Complete("Set-VirtualLink -Name r"));
        }

        /// <summary>
        /// CONVENTIONS 13: every output type of the module's own namespace has a view in the staged format file, every
        /// PropertyName it shows exists, and every ScriptBlock column runs without error on real objects (PowerShell
        /// swallows format script errors, so a broken column would otherwise just show blank).
        /// </summary>
        [Fact]
        public void FormatFile_HasAViewForEveryOutputType_AndItsColumnsWork()
        {
            var file = Path.Combine(ModuleSession.StagedDirectory, "VirtualNetworks.format.ps1xml");
            var xml = System.Xml.Linq.XDocument.Load(file);
            var views = xml.Descendants("View").ToList();
            var viewed = views.SelectMany(v => v.Descendants("TypeName")).Select(t => t.Value.Trim()).ToHashSet();

            var outputTypes = ExpectedCmdlets.SelectMany(c => CommandOf(c).OutputType).Select(t => t.Type)
                .Where(t => t != null && t.Namespace == "VirtualNetworks").Distinct().ToList();
            Assert.NotEmpty(outputTypes);
            foreach (var t in outputTypes) Assert.True(viewed.Contains(t!.FullName!), "no view for " + t.FullName);

            RunOk("Deploy-VirtualNetwork -Path " + Q(Path.Combine(ModuleSession.TopologyFixtures, "good.json")) + " -Confirm:$false");
            Session.SetVariable("samples", new object[]
            {
                RunOk("Get-VirtualRouter").Output, RunOk("Get-VirtualLink").Output, RunOk("Get-VirtualNetwork").Output, RunOk("Get-VirtualHost").Output,
                RunOk("Test-VirtualNetwork").Output, RunOk("Deploy-VirtualNetwork -Path " + Q(Path.Combine(ModuleSession.TopologyFixtures, "good.json"))).Output,
            });
            var samples = RunOk("$samples | ForEach-Object { $_ } | ForEach-Object { $_ }; (Test-VirtualNetwork).Results").Output
                .Select(o => o.BaseObject).ToList();
            // Outputs of cmdlets the in-memory backend cannot drive (they need guests or host resources): typical values.
            samples.Add(new LinkMeasurement { Name = "a1-a2", From = "a1", To = "a2", MaximumBandwidth = 10_000_000, MeasuredBandwidth = 9_800_000, Goodput = 9_370_000, Bytes = 3_500_000, Duration = TimeSpan.FromSeconds(3) });
            samples.Add(new LinkMeasurement { Name = "a2-a3", From = "a2", To = "a3", MeasuredBandwidth = 40_000_000, Goodput = 38_000_000, Bytes = 15_000_000, Duration = TimeSpan.FromSeconds(3) });
            samples.Add(new ConnectionTestResult { Source = "a1", Target = "a3", Address = "10.200.0.3", Sent = 1000, Received = 987, Lost = 13, LongestLossRun = 12, LongestGapMilliseconds = 120, MaximumRoundTripMilliseconds = 41.2, AverageRoundTripMilliseconds = 2.5, IntervalMilliseconds = 10 });
            samples.Add(new ConnectionTestResult { Source = "b1", Address = "fd00:76e:0:1::3", Sent = 4, Lost = 4, LongestLossRun = 4, LongestGapMilliseconds = 4000, IntervalMilliseconds = 1000 });
            samples.Add(new OrphanResource { Kind = OrphanKind.Interface, Name = "vnb0123456789", Owner = "a1-a2", Reason = "no link record", ComputerName = "h1" });
            samples.Add(new VirtualHost { Name = "h1", Kind = "Linux", IsLabHost = true, CreatedByDeployment = true, UnderlayAddress = "198.18.0.1", Routers = new[] { "a1" }, Neighbors = new[] { "h2" } });
            samples.Add(new PhysicalLink { From = "h1", To = "h2", FromAddress = "172.31.0.0/31", ToAddress = "172.31.0.1/31", Id = "vnp-h1-h2" });
            samples.Add(new VirtualLink { Name = "x", From = "a1", To = "c1", FromComputerName = "h1", ToComputerName = "h3", Transport = LinkTransport.Vxlan, TunnelId = 10001, UnderlayPath = new[] { "h1", "h2", "h3" } });
            samples.Add(new VirtualLink { Name = "y", From = "a1", To = "c1", FromComputerName = "h1", ToComputerName = "h3", UnderlayPath = new[] { "h1", "h3" } });
            samples.Add(new VirtualLink { Name = "z", From = "a1", To = "a2", State = LinkState.Silent });
            samples.Add(new VirtualRoute { RouterName = "a1", Prefix = "10.200.0.2/31", NextHop = "10.200.0.1", LinkName = "a1-a2", Protocol = "ospf", Metric = 20 });
            samples.Add(new VirtualRoute { RouterName = "a1", Prefix = "10.200.0.0/31", LinkName = "a1-a2", Protocol = "connected" });
            var status = new RoutingStatus { RouterName = "a1", Protocol = RoutingProtocol.Ospf, NeighborStateChanges = 2 };
            status.Protocols.Add("ospf2 up");
            status.Neighbors.Add(new RoutingNeighbor { LinkName = "a1-a2", RouterId = "10.9.8.7", State = "full" });
            status.BfdSessions.Add(new BfdSession { PeerAddress = "10.200.0.1", State = "up" });
            samples.Add(status);
            samples.Add(new RoutingStatus { RouterName = "b1" });
            var checkedViews = new List<string>();
            foreach (var view in views)
            {
                var typeName = view.Descendants("TypeName").First().Value.Trim();
                foreach (var sample in samples.Where(o => o.GetType().FullName == typeName))
                {
                checkedViews.Add(typeName);
                foreach (var prop in view.Descendants("PropertyName").Select(p => p.Value.Trim()))
                    Assert.True(sample.GetType().GetProperty(prop) != null, $"view {typeName}: no property {prop}");
                foreach (var block in view.Descendants("ScriptBlock").Select(b => b.Value))
                {
                    Session.SetVariable("sample", sample);
                    Session.SetVariable("block", block);
                    var r = Run("$ErrorActionPreference = 'Stop'; Set-StrictMode -Version Latest; $sample | ForEach-Object ([scriptblock]::Create($block))");
                    Assert.True(!r.HadTerminatingError && r.Errors.Count == 0, $"view {typeName}: column script fails: {block}{Environment.NewLine}{r.Describe()}");
                }
                }
            }
            foreach (var t in outputTypes) Assert.Contains(t!.FullName!, checkedViews);
        }

        [Theory]
        [MemberData(nameof(Cmdlets))]
        public void EveryCmdlet_TakesCimSessionAndCredential_InEveryParameterSet(string name)
        {
            var info = CommandOf(name);
            foreach (var p in new[] { "CimSession", "Credential" })
            {
                Assert.True(info.Parameters.ContainsKey(p), name + " lacks -" + p);
                Assert.Contains("__AllParameterSets", info.Parameters[p].ParameterSets.Keys);
            }
        }

        [Fact]
        public void CimSession_ThatIsNotASession_IsRefusedBeforeAnyBackendIsResolved()
        {
            var r = Run("Get-VirtualRouter -CimSession 'HV01'");
            Assert.Equal(Fqid(ErrorIds.CimSessionInvalid, "GetVirtualRouterCommand"), r.TerminatingErrorId);
            Assert.Contains("New-CimSession", r.TerminatingException!.Message);
            Assert.Equal(0, ResolveCount);
        }

        [Fact]
        public void Credential_ReachesTheBackendAsANetworkCredential_AndANonHyperVBackendWarns()
        {
            var r = Run("$c = [pscredential]::new('LAB\\ops', [System.Net.NetworkCredential]::new('', 'p@ss').SecurePassword); Get-VirtualRouter -Credential $c");
            Assert.False(r.HadTerminatingError, r.Describe());
            var request = Assert.Single(Requests);
            var credential = Assert.IsType<System.Net.NetworkCredential>(request.Options["Credential"]);
            Assert.Equal("ops", credential.UserName);
            Assert.Equal("LAB", credential.Domain);
            Assert.Equal("p@ss", credential.Password);
            Assert.Contains(r.Warnings, w => w.Message.Contains("-Credential applies to Hyper-V hosts only"));
        }

        private CmdletInfo CommandOf(string name)
        {
            var r = RunOk("Get-Command -Name " + name + " -Module VirtualNetworks");
            return Assert.IsType<CmdletInfo>(Assert.Single(r.Output).BaseObject);
        }
    }
}
