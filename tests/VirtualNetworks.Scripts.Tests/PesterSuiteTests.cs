using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation.Language;
using System.Text.RegularExpressions;
using Xunit;

namespace VirtualNetworks.Scripts.Tests
{
    /// <summary>
    /// Static checks of the Pester suites in tests/Pester; tests/Pester/Invoke-VirtualNetworksPester.ps1 runs them for
    /// real (in CI the Linux suite boots VMs and the Hyper-V suite reports its skips). Every suite is a Hyper-V suite
    /// (*.HyperV.Tests.ps1) or a Linux suite (*.Linux.Tests.ps1).
    /// The Hyper-V suite runs only on real Hyper-V hosts, which CI does not have, so these checks keep it honest
    /// everywhere: it parses, every Describe is tagged HyperV, it skips itself (deciding at discovery) where Hyper-V is
    /// missing, it verifies through Microsoft's Hyper-V cmdlets and never through the module's own read cmdlets, every
    /// Describe that deploys cleans up in AfterAll, and destructive Hyper-V calls sit behind the ownership-marker guard.
    /// The Linux suite: every Describe is tagged Linux, it skips itself (deciding at discovery) without Linux, root,
    /// QEMU or the image unless VIRTUALNETWORKS_LINUX_REQUIRED is set, it works in a state directory of its own that it
    /// restores, and every block that deploys removes its networks in an AfterAll without prompting.
    /// </summary>
    public sealed class PesterSuiteTests
    {
        private static string PesterDir => Path.Combine(RepoPaths.Root, "tests", "Pester");

        private static List<string> SuiteFiles() =>
            Directory.Exists(PesterDir)
                ? Directory.GetFiles(PesterDir, "*.Tests.ps1").OrderBy(f => f, StringComparer.Ordinal).ToList()
                : new List<string>();

        public static IEnumerable<object[]> Suites() =>
            SuiteFiles().Select(f => new object[] { Path.GetFileName(f) });

        public static IEnumerable<object[]> HyperVSuites() =>
            SuiteFiles().Where(f => f.EndsWith(".HyperV.Tests.ps1", StringComparison.Ordinal)).Select(f => new object[] { Path.GetFileName(f) });

        public static IEnumerable<object[]> LinuxSuites() =>
            SuiteFiles().Where(f => f.EndsWith(".Linux.Tests.ps1", StringComparison.Ordinal)).Select(f => new object[] { Path.GetFileName(f) });

        private static ScriptBlockAst ParseSuite(string fileName)
        {
            string path = Path.Combine(PesterDir, fileName);
            ScriptBlockAst ast = Parser.ParseFile(path, out _, out ParseError[] errors);
            Assert.True(errors.Length == 0, $"{fileName} has parse errors:\n" +
                string.Join("\n", errors.Select(e => $"  line {e.Extent.StartLineNumber}:{e.Extent.StartColumnNumber}: {e.Message} ({e.ErrorId})")));
            return ast;
        }

        private static ScriptBlockAst ParseSnippet(string script)
        {
            ScriptBlockAst ast = Parser.ParseInput(script, out _, out ParseError[] errors);
            Assert.True(errors.Length == 0, "snippet does not parse: " + string.Join("; ", errors.Select(e => e.Message)));
            return ast;
        }

        private static void AssertNoProblems(string fileName, string rule, List<string> problems) =>
            Assert.True(problems.Count == 0, $"{fileName}: {rule}:\n  " + string.Join("\n  ", problems));

        // ------------------------------------------------------------------------------------------- the real suites

        [Fact]
        public void TheHyperVAndLinuxSuitesExist()
        {
            Assert.Contains(SuiteFiles(), f => Path.GetFileName(f) == "VirtualNetworks.HyperV.Tests.ps1");
            Assert.Contains(SuiteFiles(), f => Path.GetFileName(f) == "VirtualNetworks.Linux.Tests.ps1");
        }

        [Theory]
        [MemberData(nameof(Suites))]
        public void EverySuiteIsAHyperVOrALinuxSuite(string fileName) =>
            Assert.True(fileName.EndsWith(".HyperV.Tests.ps1", StringComparison.Ordinal) || fileName.EndsWith(".Linux.Tests.ps1", StringComparison.Ordinal),
                $"{fileName}: name a suite *.HyperV.Tests.ps1 or *.Linux.Tests.ps1, so that its rules are checked");

        [Theory]
        [MemberData(nameof(Suites))]
        public void SuiteParses(string fileName) => ParseSuite(fileName);

        [Fact]
        public void TheRunnerParses()
        {
            string path = Path.Combine(PesterDir, "Invoke-VirtualNetworksPester.ps1");
            Parser.ParseFile(path, out _, out ParseError[] errors);
            Assert.True(errors.Length == 0, "Invoke-VirtualNetworksPester.ps1: " + string.Join("; ", errors.Select(e => e.Message)));
        }

        [Theory]
        [MemberData(nameof(HyperVSuites))]
        public void EveryDescribeIsTaggedHyperV(string fileName) =>
            AssertNoProblems(fileName, "tags", PesterSuiteRules.DescribeTagProblems(ParseSuite(fileName)));

        [Theory]
        [MemberData(nameof(HyperVSuites))]
        public void TheSuiteSkipsItselfWithoutHyperV(string fileName) =>
            AssertNoProblems(fileName, "skip guard", PesterSuiteRules.SkipGuardProblems(ParseSuite(fileName)));

        [Theory]
        [MemberData(nameof(HyperVSuites))]
        public void TheSuiteVerifiesThroughTheHyperVModuleOnly(string fileName) =>
            AssertNoProblems(fileName, "verification", PesterSuiteRules.VerificationProblems(ParseSuite(fileName), ModuleCmdlets()));

        [Theory]
        [MemberData(nameof(HyperVSuites))]
        public void TheSuiteCleansUpOnlyWhatCarriesTheMarker(string fileName) =>
            AssertNoProblems(fileName, "clean-up", PesterSuiteRules.CleanupProblems(ParseSuite(fileName)));

        [Theory]
        [MemberData(nameof(LinuxSuites))]
        public void EveryDescribeIsTaggedLinux(string fileName) =>
            AssertNoProblems(fileName, "tags", PesterSuiteRules.DescribeTagProblems(ParseSuite(fileName), "Linux"));

        [Theory]
        [MemberData(nameof(LinuxSuites))]
        public void TheLinuxSuiteSkipsItselfWithoutItsPrerequisites(string fileName) =>
            AssertNoProblems(fileName, "skip guard", PesterSuiteRules.SkipGuardProblems(ParseSuite(fileName), PesterSuiteRules.LinuxPrerequisites));

        [Theory]
        [MemberData(nameof(LinuxSuites))]
        public void EveryLinuxTestAsserts(string fileName) =>
            AssertNoProblems(fileName, "assertions", PesterSuiteRules.AssertionProblems(ParseSuite(fileName)));

        [Theory]
        [InlineData("Describe 'x' { It 'y' { Get-VirtualRouter } }")]
        [InlineData("Describe 'x' { It 'y' { } }")]
        public void TheAssertionRuleCatchesATestWithoutShould(string script) =>
            Assert.NotEmpty(PesterSuiteRules.AssertionProblems(ParseSnippet(script)));

        [Theory]
        [MemberData(nameof(LinuxSuites))]
        public void TheLinuxSuiteRemovesWhatItDeploysInItsOwnStateDirectory(string fileName) =>
            AssertNoProblems(fileName, "clean-up", PesterSuiteRules.LinuxCleanupProblems(ParseSuite(fileName)));

        /// <summary>The module's cmdlets: one help source per cmdlet in docs/help (about_* topics aside).</summary>
        private static IReadOnlyCollection<string> ModuleCmdlets()
        {
            var names = Directory.GetFiles(Path.Combine(RepoPaths.Root, "docs", "help"), "*.md")
                .Select(Path.GetFileNameWithoutExtension)
                .Where(n => n != null && n.Contains('-') && !n.StartsWith("about_", StringComparison.OrdinalIgnoreCase))
                .Select(n => n!)
                .ToList();
            Assert.Contains("Get-VirtualRouter", names);
            Assert.Contains("Deploy-VirtualNetwork", names);
            return names;
        }

        // ------------------------------------------------------------------------------------------- the rules can fail

        [Theory]
        [InlineData("Describe 'x' { It 'y' { 1 | Should -Be 1 } }")]
        [InlineData("Describe 'x' -Tag 'Unit' { It 'y' { 1 | Should -Be 1 } }")]
        [InlineData("Describe 'x' -Tag:@('Linux', 'Slow') { It 'y' { 1 | Should -Be 1 } }")]
        [InlineData("Describe 'ok' -Tag HyperV { }\nDescribe 'x' -Tag $tag { }")]
        public void TheTagRuleCatchesAnUntaggedDescribe(string script) =>
            Assert.NotEmpty(PesterSuiteRules.DescribeTagProblems(ParseSnippet(script)));

        [Theory]
        [InlineData("Describe 'x' -Tag 'HyperV' { }")]
        [InlineData("Describe 'x' -Tag HyperV, Slow { }")]
        [InlineData("Describe 'x' -Tag:@('Other', 'HyperV') -Skip:$s { Context 'c' { } }")]
        [InlineData("Describe -Name 'x' -Tags ('HyperV') { }")]
        public void TheTagRuleAcceptsHyperVInAnyForm(string script) =>
            Assert.Empty(PesterSuiteRules.DescribeTagProblems(ParseSnippet(script)));

        [Fact]
        public void TheTagRuleRequiresADescribe() =>
            Assert.NotEmpty(PesterSuiteRules.DescribeTagProblems(ParseSnippet("It 'y' { 1 | Should -Be 1 }")));

        private const string GoodDiscovery =
            "BeforeDiscovery {\n" +
            "  $reason = $null\n" +
            "  if (-not $IsWindows) { $reason = 'not Windows' }\n" +
            "  elseif (-not ([Security.Principal.WindowsPrincipal]::new([Security.Principal.WindowsIdentity]::GetCurrent())).IsInRole('Administrators')) { $reason = 'not elevated' }\n" +
            "  elseif (-not (Get-Command Get-VMHost -ErrorAction SilentlyContinue)) { $reason = 'no Hyper-V' }\n" +
            "  elseif (-not $env:VIRTUALNETWORKS_HYPERV_IMAGE) { $reason = 'no image' }\n" +
            "}\n";

        [Fact]
        public void TheSkipRuleAcceptsADiscoveryDecision() =>
            Assert.Empty(PesterSuiteRules.SkipGuardProblems(ParseSnippet(GoodDiscovery +
                "Describe 'x' -Tag HyperV -Skip:([bool]$reason) { It 'y' { 1 | Should -Be 1 } }\n" +
                "Describe 'z' -Tag HyperV -ForEach @(@{ R = $reason }) { It 'y' { if ($R) { Set-ItResult -Skipped -Because $R } } }")));

        [Theory]
        [InlineData("Describe 'x' -Tag HyperV { It 'y' { 1 | Should -Be 1 } }")]                       // no skip at all
        [InlineData("Describe 'x' -Tag HyperV -Skip:$later { It 'y' { 1 | Should -Be 1 } }")]          // decided elsewhere
        [InlineData("Describe 'x' -Tag HyperV { It 'y' { Set-ItResult -Skipped } }")]                   // no reason given
        public void TheSkipRuleCatchesAMissingOrLateGuard(string describe) =>
            Assert.NotEmpty(PesterSuiteRules.SkipGuardProblems(ParseSnippet(GoodDiscovery + describe)));

        [Theory]
        [InlineData("VIRTUALNETWORKS_HYPERV_IMAGE", "SOMETHING_ELSE")]
        [InlineData("Get-VMHost", "Get-Something")]
        [InlineData("IsInRole", "IsSomething")]
        [InlineData("$IsWindows", "$IsSomething")]
        public void TheSkipRuleWantsEveryPrerequisiteChecked(string missing, string instead)
        {
            string discovery = GoodDiscovery.Replace(missing, instead, StringComparison.Ordinal);
            Assert.NotEqual(GoodDiscovery, discovery);
            Assert.NotEmpty(PesterSuiteRules.SkipGuardProblems(ParseSnippet(discovery +
                "Describe 'x' -Tag HyperV -Skip:([bool]$reason) { It 'y' { 1 | Should -Be 1 } }")));
        }

        /// <summary>A function calling every required Hyper-V reader but <paramref name="except"/>.</summary>
        private static string Reads(string? except = null) =>
            "function Read-All { " + string.Join("; ", PesterSuiteRules.RequiredReaders.Where(r => r != except).Select(r => "Hyper-V\\" + r + " -ErrorAction Stop")) + " }\n";

        private static readonly string[] SampleCmdlets =
        {
            "Deploy-VirtualNetwork", "Get-VirtualRouter", "Get-VirtualLink", "Get-VirtualNetwork", "Test-VirtualNetwork",
            "Set-VirtualLink", "Remove-VirtualNetwork", "Measure-VirtualLink",
        };

        [Fact]
        public void TheVerificationRuleAcceptsHyperVReadsAndModuleActions() =>
            Assert.Empty(PesterSuiteRules.VerificationProblems(ParseSnippet(Reads() +
                "Describe 'x' { It 'y' { Set-VirtualLink -Name l -MaximumBandwidth 0; (Hyper-V\\Get-VM -Name r).State | Should -Be 'Running' } }"), SampleCmdlets));

        [Theory]
        [InlineData("It 'y' { (Get-VirtualRouter -Name r).State | Should -Be 'Running' }", "Get-VirtualRouter")]
        [InlineData("It 'y' { $r = VirtualNetworks\\Get-VirtualLink l; $r | Should -Not -BeNullOrEmpty }", "Get-VirtualLink")]
        [InlineData("It 'y' { Test-VirtualNetwork | Out-Null; 1 | Should -Be 1 }", "Test-VirtualNetwork")]
        [InlineData("It 'y' { Set-VirtualLink -Name l -MaximumBandwidth 1 -PassThru | Out-Null; 1 | Should -Be 1 }", "-PassThru")]
        [InlineData("It 'y' { Deploy-VirtualNetwork -Path p | Should -Not -BeNullOrEmpty }", "Should")]
        [InlineData("It 'y' { Get-VM }", "no Should")]
        public void TheVerificationRuleCatchesChecksThroughTheModule(string it, string expected)
        {
            var problems = PesterSuiteRules.VerificationProblems(ParseSnippet(Reads() + "Describe 'x' { " + it + " }"), SampleCmdlets);
            Assert.Contains(problems, p => p.Contains(expected, StringComparison.Ordinal));
        }

        [Theory]
        [InlineData("Get-VMNetworkAdapterVlan")]
        [InlineData("Get-VMSwitch")]
        [InlineData("Get-VHD")]
        public void TheVerificationRuleWantsEachHyperVReader(string missing)
        {
            string reads = Reads(except: missing);
            Assert.DoesNotContain("\\" + missing + " ", reads, StringComparison.Ordinal);
            var problems = PesterSuiteRules.VerificationProblems(ParseSnippet(reads + "Describe 'x' { It 'y' { 1 | Should -Be 1 } }"), SampleCmdlets);
            Assert.Contains(problems, p => p.Contains(missing, StringComparison.Ordinal));
        }

        private const string GuardedCleanup =
            "BeforeAll {\n" +
            "  $Marker = 'virtualnetworks:v1'\n" +
            "  function Test-OwnedNotes { param($Notes) ($Notes -split \"`n\")[0] -eq $Marker }\n" +
            "  function Remove-Owned { param($Name) foreach ($vm in Get-VM -Name $Name) { if (Test-OwnedNotes $vm.Notes) { Stop-VM -VM $vm -TurnOff; Remove-VM -VM $vm -Force } } }\n" +
            "}\n";

        [Fact]
        public void TheCleanupRuleAcceptsAGuardedAfterAll() =>
            Assert.Empty(PesterSuiteRules.CleanupProblems(ParseSnippet(GuardedCleanup +
                "Describe 'x' { BeforeAll { Deploy-VirtualNetwork -Path p }; AfterAll { Remove-Owned -Name r1 }; Context 'c' { It 'y' { 1 | Should -Be 1 } } }"
                + "\nDescribe 'z' { AfterAll { Remove-Owned r2 }; Context 'c' { BeforeAll { Deploy-VirtualNetwork -Path q } } }")));

        [Theory]
        [InlineData(GuardedCleanup + "Describe 'x' { BeforeAll { Deploy-VirtualNetwork -Path p }; It 'y' { 1 | Should -Be 1 } }", "AfterAll")]
        [InlineData(GuardedCleanup + "Describe 'x' { BeforeAll { Deploy-VirtualNetwork -Path p }; AfterAll { Write-Host done } }", "AfterAll")]
        [InlineData(GuardedCleanup + "Describe 'x' { Context 'c' { BeforeAll { Deploy-VirtualNetwork -Path p } } }\nDescribe 'y' { AfterAll { Remove-Owned r } }", "AfterAll")]
        [InlineData(GuardedCleanup + "function Remove-All { Get-VM | Remove-VM -Force }", "Remove-VM")]
        [InlineData(GuardedCleanup + "Describe 'x' { AfterAll { Hyper-V\\Remove-VMSwitch -Name s -Force } }", "Remove-VMSwitch")]
        [InlineData("BeforeAll { function Test-OwnedNotes { $true } }", "virtualnetworks:v1")]
        [InlineData("$m = 'virtualnetworks:v1'", "Test-OwnedNotes")]
        public void TheCleanupRuleCatchesUnguardedRemoval(string script, string expected)
        {
            var problems = PesterSuiteRules.CleanupProblems(ParseSnippet(script));
            Assert.Contains(problems, p => p.Contains(expected, StringComparison.Ordinal));
        }

        // ------------------------------------------------------------------------------------------- the Linux rules can fail

        private const string LinuxDiscovery =
            "BeforeDiscovery {\n" +
            "  $SkipReason = $null\n" +
            "  if (-not $IsLinux) { $SkipReason = 'not Linux' }\n" +
            "  elseif ((& id -u) -ne '0') { $SkipReason = 'not root' }\n" +
            "  elseif (-not (Get-Command qemu-system-x86_64 -ErrorAction SilentlyContinue)) { $SkipReason = 'no QEMU' }\n" +
            "  elseif (-not (Test-Path /images/router/vmlinuz)) { $SkipReason = 'no router image' }\n" +
            "}\n" +
            "BeforeAll { $Required = $env:VIRTUALNETWORKS_LINUX_REQUIRED -eq '1' }\n";

        [Fact]
        public void TheLinuxSkipRuleAcceptsADiscoveryDecision() =>
            Assert.Empty(PesterSuiteRules.SkipGuardProblems(ParseSnippet(LinuxDiscovery +
                "Describe 'host' -Tag Linux { It 'y' { if ($SkipReason) { Set-ItResult -Skipped -Because $SkipReason } } }\n" +
                "Describe 'x' -Tag Linux -Skip:([bool]$SkipReason) { It 'y' { 1 | Should -Be 1 } }"), PesterSuiteRules.LinuxPrerequisites));

        [Theory]
        [InlineData("$IsLinux", "$IsSomething")]
        [InlineData("id -u", "whoami")]
        [InlineData("qemu-system-x86_64", "qemu-img")]
        [InlineData("router image", "thing")]
        [InlineData("VIRTUALNETWORKS_LINUX_REQUIRED", "SOMETHING_ELSE")]
        public void TheLinuxSkipRuleWantsEveryPrerequisiteChecked(string missing, string instead)
        {
            string discovery = LinuxDiscovery.Replace(missing, instead, StringComparison.Ordinal);
            Assert.NotEqual(LinuxDiscovery, discovery);
            Assert.NotEmpty(PesterSuiteRules.SkipGuardProblems(ParseSnippet(discovery +
                "Describe 'x' -Tag Linux -Skip:([bool]$SkipReason) { It 'y' { 1 | Should -Be 1 } }"), PesterSuiteRules.LinuxPrerequisites));
        }

        [Theory]
        [InlineData("Describe 'x' -Tag HyperV { }")]
        [InlineData("Describe 'x' { }")]
        public void TheLinuxTagRuleCatchesAnotherTag(string script) =>
            Assert.NotEmpty(PesterSuiteRules.DescribeTagProblems(ParseSnippet(script), "Linux"));

        private const string StateDirectory =
            "BeforeAll { $Previous = $env:VIRTUALNETWORKS_STATE_DIR; $env:VIRTUALNETWORKS_STATE_DIR = '/tmp/x' }\n" +
            "AfterAll { $env:VIRTUALNETWORKS_STATE_DIR = $Previous }\n";

        [Fact]
        public void TheLinuxCleanupRuleAcceptsAnAfterAllThatRemovesTheNetworks() =>
            Assert.Empty(PesterSuiteRules.LinuxCleanupProblems(ParseSnippet(StateDirectory +
                "Describe 'x' { BeforeAll { Deploy-VirtualNetwork -Path TestDrive:/t.json }\n" +
                "  AfterAll { Remove-VirtualNetwork -Name a, b -Force -Confirm:$false }\n" +
                "  Context 'c' { It 'y' { 1 | Should -Be 1 } } }")));

        [Theory]
        [InlineData(StateDirectory + "Describe 'x' { BeforeAll { Deploy-VirtualNetwork -Path p } }", "AfterAll")]
        [InlineData(StateDirectory + "Describe 'x' { BeforeAll { Deploy-VirtualNetwork -Path p }; AfterAll { Remove-VirtualNetwork -Name a -Force } }", "-Confirm:$false")]
        [InlineData(StateDirectory + "Describe 'x' { BeforeAll { Deploy-VirtualNetwork -Path p }; AfterAll { Remove-VirtualNetwork -Name a -Confirm:$false } }", "-Force")]
        [InlineData(StateDirectory + "Describe 'x' { BeforeAll { Deploy-VirtualNetwork -Path p }; AfterAll { Write-Host done } }", "AfterAll")]
        [InlineData("Describe 'x' { BeforeAll { Deploy-VirtualNetwork -Path p }; AfterAll { Remove-VirtualNetwork -Name a -Force -Confirm:$false } }", "VIRTUALNETWORKS_STATE_DIR")]
        [InlineData("BeforeAll { $env:VIRTUALNETWORKS_STATE_DIR = '/tmp/x' }\nDescribe 'x' { }", "restore")]
        public void TheLinuxCleanupRuleCatchesAMissingTeardown(string script, string expected)
        {
            var problems = PesterSuiteRules.LinuxCleanupProblems(ParseSnippet(script));
            Assert.Contains(problems, p => p.Contains(expected, StringComparison.Ordinal));
        }
    }

    /// <summary>Static checks of a Pester suite's AST; each returns the problems found (empty: the rule holds).</summary>
    internal static class PesterSuiteRules
    {
        /// <summary>Hyper-V readers the suite must use to verify, and the CIM reader for the KVP items.</summary>
        public static readonly string[] RequiredReaders =
        {
            "Get-VM", "Get-VMNetworkAdapter", "Get-VMNetworkAdapterVlan", "Get-VMSwitch", "Get-VMHardDiskDrive", "Get-VHD", "Get-CimInstance",
        };

        /// <summary>Verbs of the module's read cmdlets, which a Hyper-V suite must never use to verify.</summary>
        private static readonly string[] ReadVerbs = { "Get", "Test", "Measure", "Export" };

        /// <summary>Hyper-V (VM*, VHD*) commands that change the host, and other deleting commands; allowed only behind the guard.</summary>
        private static readonly Regex Destructive = new Regex(
            @"^((Remove|Stop|Set|New|Rename|Move|Suspend|Resume|Start|Restart|Save|Add|Connect|Disconnect|Dismount|Mount|Optimize|Resize|Merge|Convert|Checkpoint|Restore|Import|Enable|Disable|Grant|Revoke|Update|Reset|Repair|Complete)-(VM|VHD)\w*|Remove-Item|Invoke-CimMethod|Remove-CimInstance|Set-CimInstance)$",
            RegexOptions.IgnoreCase);

        public const string Marker = "virtualnetworks:v1";
        public const string GuardFunction = "Test-OwnedNotes";

        // ----------------------------------------------------------------------------------------- AST helpers

        /// <summary>The command name without a module qualifier ("Hyper-V\Get-VM" → "Get-VM"); null for dynamic commands.</summary>
        public static string? NameOf(CommandAst command)
        {
            string? name = command.GetCommandName();
            if (name == null) return null;
            int slash = name.LastIndexOf('\\');
            return slash >= 0 ? name.Substring(slash + 1) : name;
        }

        private static bool Is(CommandAst command, string name) => string.Equals(NameOf(command), name, StringComparison.OrdinalIgnoreCase);

        private static IEnumerable<CommandAst> Commands(Ast root) => root.FindAll(a => a is CommandAst, true).Cast<CommandAst>();

        private static IEnumerable<CommandAst> Commands(Ast root, string name) => Commands(root).Where(c => Is(c, name));

        private static CommandParameterAst? Parameter(CommandAst command, params string[] names) =>
            command.CommandElements.OfType<CommandParameterAst>()
                .FirstOrDefault(p => names.Any(n => string.Equals(p.ParameterName, n, StringComparison.OrdinalIgnoreCase)));

        /// <summary>The value of a named parameter: its -Name:value argument, or the element after it.</summary>
        private static Ast? ParameterValue(CommandAst command, params string[] names)
        {
            var elements = command.CommandElements;
            for (int i = 1; i < elements.Count; i++)
            {
                if (elements[i] is CommandParameterAst p && names.Any(n => string.Equals(p.ParameterName, n, StringComparison.OrdinalIgnoreCase)))
                {
                    if (p.Argument != null) return p.Argument;
                    return i + 1 < elements.Count && elements[i + 1] is not CommandParameterAst ? elements[i + 1] : null;
                }
            }
            return null;
        }

        /// <summary>The script block a Pester block command runs (its last script block argument).</summary>
        private static ScriptBlockExpressionAst? Body(CommandAst command) =>
            command.CommandElements.OfType<ScriptBlockExpressionAst>().LastOrDefault();

        private static string Where(Ast ast) => $"line {ast.Extent.StartLineNumber}";

        private static string Title(CommandAst block)
        {
            var first = block.CommandElements.Skip(1).FirstOrDefault(e => e is StringConstantExpressionAst || e is ExpandableStringExpressionAst);
            string name = first switch
            {
                StringConstantExpressionAst s => s.Value,
                ExpandableStringExpressionAst e => e.Value,
                _ => "?",
            };
            return $"{NameOf(block)} '{name}' ({Where(block)})";
        }

        /// <summary>The nearest Describe or Context around an AST node (not the node itself).</summary>
        private static CommandAst? EnclosingBlock(Ast ast)
        {
            for (Ast? a = ast.Parent; a != null; a = a.Parent)
            {
                if (a is CommandAst c && (Is(c, "Describe") || Is(c, "Context"))) return c;
            }
            return null;
        }

        private static FunctionDefinitionAst? EnclosingFunction(Ast ast)
        {
            for (Ast? a = ast.Parent; a != null; a = a.Parent)
            {
                if (a is FunctionDefinitionAst f) return f;
            }
            return null;
        }

        private static IEnumerable<string> StringValues(Ast ast) =>
            ast.FindAll(a => a is StringConstantExpressionAst, true).Cast<StringConstantExpressionAst>().Select(s => s.Value);

        // ----------------------------------------------------------------------------------------- rules

        /// <summary>Every Describe carries -Tag (or -Tags) with the literal <paramref name="tagName"/>; there is at least one Describe.</summary>
        public static List<string> DescribeTagProblems(ScriptBlockAst ast, string tagName = "HyperV")
        {
            var problems = new List<string>();
            var describes = Commands(ast, "Describe").ToList();
            if (describes.Count == 0) problems.Add("no Describe block");
            foreach (CommandAst d in describes)
            {
                Ast? tag = ParameterValue(d, "Tag", "Tags");
                if (tag == null)
                    problems.Add($"{Title(d)} has no -Tag");
                else if (!StringValues(tag).Contains(tagName, StringComparer.OrdinalIgnoreCase))
                    problems.Add($"{Title(d)}: -Tag {tag.Extent.Text} does not name {tagName}");
            }
            return problems;
        }

        /// <summary>
        /// A BeforeDiscovery block checks the platform, elevation, the Hyper-V module and the image variable; every
        /// Describe is either skipped by a -Skip whose variables that block assigns, or reports its skip through
        /// Set-ItResult -Skipped with a reason; every Set-ItResult -Skipped says -Because.
        /// </summary>
        public static List<string> SkipGuardProblems(ScriptBlockAst ast) => SkipGuardProblems(ast, HyperVPrerequisites);

        /// <summary>What the Hyper-V suite's BeforeDiscovery must check: a description and the texts of which one must appear.</summary>
        public static readonly (string What, string[] Any)[] HyperVPrerequisites =
        {
            ("the platform ($IsWindows / PSEdition)", new[] { "$IsWindows", "PSEdition" }),
            ("elevation or Hyper-V Administrators (IsInRole)", new[] { "IsInRole" }),
            ("the Hyper-V module (Get-VMHost)", new[] { "Get-VMHost" }),
            ("the router image (VIRTUALNETWORKS_HYPERV_IMAGE)", new[] { "VIRTUALNETWORKS_HYPERV_IMAGE" }),
        };

        /// <summary>What the Linux suite's BeforeDiscovery must check (the last one, anywhere in the suite: see below).</summary>
        public static readonly (string What, string[] Any)[] LinuxPrerequisites =
        {
            ("the platform ($IsLinux)", new[] { "$IsLinux" }),
            ("root (id -u)", new[] { "id -u" }),
            ("QEMU (qemu-system-x86_64)", new[] { "qemu-system-x86_64" }),
            ("the router image", new[] { "router image" }),
        };

        /// <summary>The variable that turns a Linux skip into a failure; it must be read somewhere in the suite.</summary>
        public const string LinuxRequiredVariable = "VIRTUALNETWORKS_LINUX_REQUIRED";

        /// <summary>
        /// As above, with the prerequisites <paramref name="checks"/>; for the Linux checks, the suite must also read
        /// VIRTUALNETWORKS_LINUX_REQUIRED.
        /// </summary>
        public static List<string> SkipGuardProblems(ScriptBlockAst ast, (string What, string[] Any)[] checks)
        {
            var problems = new List<string>();
            if (ReferenceEquals(checks, LinuxPrerequisites) && !ast.Extent.Text.Contains(LinuxRequiredVariable, StringComparison.Ordinal))
                problems.Add($"the suite never reads {LinuxRequiredVariable}: CI could not turn a skip into a failure");
            var discovery = Commands(ast, "BeforeDiscovery").Select(Body).Where(b => b != null).Select(b => b!).ToList();
            if (discovery.Count == 0)
            {
                problems.Add("no BeforeDiscovery block: skip decisions must be taken at discovery");
                return problems;
            }

            string text = string.Join("\n", discovery.Select(b => b.Extent.Text));
            foreach (var (what, any) in checks)
            {
                if (!any.Any(s => text.Contains(s, StringComparison.OrdinalIgnoreCase)))
                    problems.Add($"BeforeDiscovery does not check {what}");
            }

            var assigned = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (ScriptBlockExpressionAst b in discovery)
            {
                foreach (AssignmentStatementAst a in b.FindAll(x => x is AssignmentStatementAst, true).Cast<AssignmentStatementAst>())
                {
                    foreach (VariableExpressionAst v in a.Left.FindAll(x => x is VariableExpressionAst, true).Cast<VariableExpressionAst>())
                        assigned.Add(v.VariablePath.UserPath);
                }
            }

            foreach (CommandAst d in Commands(ast, "Describe"))
            {
                CommandParameterAst? skip = Parameter(d, "Skip");
                ScriptBlockExpressionAst? body = Body(d);
                bool reportsSkip = body != null && Commands(body, "Set-ItResult").Any(c => Parameter(c, "Skipped") != null);
                if (skip == null && !reportsSkip)
                {
                    problems.Add($"{Title(d)} has neither -Skip nor Set-ItResult -Skipped");
                    continue;
                }
                if (skip != null)
                {
                    Ast? value = ParameterValue(d, "Skip");
                    var vars = value == null
                        ? new List<string>()
                        : value.FindAll(x => x is VariableExpressionAst, true).Cast<VariableExpressionAst>().Select(v => v.VariablePath.UserPath).ToList();
                    if (vars.Count == 0 || !vars.All(assigned.Contains))
                        problems.Add($"{Title(d)}: -Skip must use variables BeforeDiscovery assigns (got '{value?.Extent.Text ?? "-Skip"}')");
                }
            }

            foreach (CommandAst s in Commands(ast, "Set-ItResult").Where(c => Parameter(c, "Skipped") != null))
            {
                if (Parameter(s, "Because") == null)
                    problems.Add($"Set-ItResult -Skipped at {Where(s)} gives no -Because reason");
            }
            return problems;
        }

        /// <summary>
        /// The suite reads the host through each Hyper-V reader; it never calls the module's read cmdlets, never
        /// asks a module cmdlet for -PassThru output, never pipes a module cmdlet into Should, and every It asserts.
        /// </summary>
        public static List<string> VerificationProblems(ScriptBlockAst ast, IReadOnlyCollection<string> moduleCmdlets)
        {
            var problems = new List<string>();
            var all = Commands(ast).ToList();
            foreach (string reader in RequiredReaders)
            {
                if (!all.Any(c => Is(c, reader)))
                    problems.Add($"never calls {reader}: settings must be verified through Microsoft's Hyper-V module and CIM");
            }

            var module = new HashSet<string>(moduleCmdlets, StringComparer.OrdinalIgnoreCase);
            foreach (CommandAst c in all)
            {
                string? name = NameOf(c);
                if (name == null || !module.Contains(name)) continue;
                string verb = name.Split('-')[0];
                if (ReadVerbs.Contains(verb, StringComparer.OrdinalIgnoreCase))
                    problems.Add($"{Where(c)}: calls the module's read cmdlet {name}; verify through the Hyper-V module instead");
                if (Parameter(c, "PassThru") != null)
                    problems.Add($"{Where(c)}: {name} -PassThru returns the module's own view; verify through the Hyper-V module instead");
            }

            foreach (PipelineAst p in ast.FindAll(a => a is PipelineAst, true).Cast<PipelineAst>())
            {
                var elements = p.PipelineElements;
                for (int i = 0; i < elements.Count; i++)
                {
                    if (elements[i] is not CommandAst c || NameOf(c) is not string name || !module.Contains(name)) continue;
                    if (elements.Skip(i + 1).OfType<CommandAst>().Any(e => Is(e, "Should")))
                        problems.Add($"{Where(p)}: pipes the output of {name} into Should");
                }
            }

            problems.AddRange(AssertionProblems(ast));
            return problems;
        }

        /// <summary>Every It asserts: it calls Should (or reports its result with Set-ItResult).</summary>
        public static List<string> AssertionProblems(ScriptBlockAst ast)
        {
            var problems = new List<string>();
            foreach (CommandAst it in Commands(ast, "It"))
            {
                ScriptBlockExpressionAst? body = Body(it);
                if (body == null || !Commands(body).Any(c => Is(c, "Should") || Is(c, "Set-ItResult")))
                    problems.Add($"{Title(it)} has no Should");
            }
            return problems;
        }

        /// <summary>
        /// The ownership guard exists (a function Test-OwnedNotes, and the marker literal); every command that changes
        /// Hyper-V or deletes files is inside a function that calls the guard; every Describe or Context that deploys
        /// has its own AfterAll, which calls such a guarded clean-up function.
        /// </summary>
        public static List<string> CleanupProblems(ScriptBlockAst ast)
        {
            var problems = new List<string>();
            var functions = ast.FindAll(a => a is FunctionDefinitionAst, true).Cast<FunctionDefinitionAst>().ToList();
            if (!functions.Any(f => string.Equals(f.Name, GuardFunction, StringComparison.OrdinalIgnoreCase)))
                problems.Add($"no function {GuardFunction}: clean-up must check the ownership marker");
            if (!StringValues(ast).Any(s => s.Contains(Marker, StringComparison.Ordinal)))
                problems.Add($"the marker '{Marker}' appears nowhere");

            var guarded = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (CommandAst c in Commands(ast))
            {
                string? name = NameOf(c);
                if (name == null || !Destructive.IsMatch(name)) continue;
                FunctionDefinitionAst? f = EnclosingFunction(c);
                if (f == null || !Commands(f.Body, GuardFunction).Any())
                    problems.Add($"{Where(c)}: {name} outside a function that checks {GuardFunction}");
                else if (Regex.IsMatch(name, @"^Remove-(VM|VMSwitch)$", RegexOptions.IgnoreCase))
                    guarded.Add(f.Name);
            }

            foreach (CommandAst deploy in Commands(ast, "Deploy-VirtualNetwork"))
            {
                CommandAst? first = EnclosingBlock(deploy);
                if (first == null)
                {
                    problems.Add($"{Where(deploy)}: Deploy-VirtualNetwork outside a Describe or Context");
                    continue;
                }
                // The block that deploys, or one around it, cleans up in an AfterAll of its own.
                bool cleaned = false;
                for (CommandAst? block = first; block != null && !cleaned; block = EnclosingBlock(block))
                {
                    cleaned = Commands(Body(block)!, "AfterAll")
                        .Where(a => EnclosingBlock(a) == block)
                        .Any(a => Commands(a).Any(c => NameOf(c) is string n && guarded.Contains(n)));
                }
                if (!cleaned)
                    problems.Add($"{Title(first)} deploys ({Where(deploy)}), but neither it nor a block around it has an AfterAll " +
                                 $"that calls a guarded clean-up function (one that removes VMs after {GuardFunction})");
            }
            return problems;
        }

        /// <summary>
        /// The Linux suite works in a state directory of its own: it sets VIRTUALNETWORKS_STATE_DIR and puts the previous
        /// value back (an assignment from something other than a string literal, in an AfterAll). Every block that deploys
        /// (or one around it) has an AfterAll that calls Remove-VirtualNetwork with -Force and -Confirm:$false, so a
        /// failure half-way still removes the routers and the lab hosts that went with the deployment.
        /// </summary>
        public static List<string> LinuxCleanupProblems(ScriptBlockAst ast)
        {
            var problems = new List<string>();
            var assignments = ast.FindAll(a => a is AssignmentStatementAst, true).Cast<AssignmentStatementAst>()
                .Where(a => a.Left is VariableExpressionAst v && string.Equals(v.VariablePath.UserPath, "env:VIRTUALNETWORKS_STATE_DIR", StringComparison.OrdinalIgnoreCase))
                .ToList();
            if (assignments.Count == 0)
                problems.Add("never sets $env:VIRTUALNETWORKS_STATE_DIR: the suite must work in a state directory of its own");
            else if (!assignments.Any(a => IsInAfterAll(a) || IsInFunctionCalledFromAfterAll(ast, a)))
                problems.Add("never restores $env:VIRTUALNETWORKS_STATE_DIR in an AfterAll (or a function an AfterAll calls)");

            foreach (CommandAst deploy in Commands(ast, "Deploy-VirtualNetwork"))
            {
                CommandAst? first = EnclosingBlock(deploy);
                if (first == null)
                {
                    problems.Add($"{Where(deploy)}: Deploy-VirtualNetwork outside a Describe or Context");
                    continue;
                }
                bool cleaned = false;
                var found = new List<string>();
                for (CommandAst? block = first; block != null && !cleaned; block = EnclosingBlock(block))
                {
                    foreach (CommandAst afterAll in Commands(Body(block)!, "AfterAll").Where(a => EnclosingBlock(a) == block))
                    {
                        foreach (CommandAst remove in Commands(afterAll, "Remove-VirtualNetwork"))
                        {
                            bool force = Parameter(remove, "Force") != null;
                            CommandParameterAst? confirm = Parameter(remove, "Confirm");
                            bool noPrompt = confirm?.Argument is VariableExpressionAst v && string.Equals(v.VariablePath.UserPath, "false", StringComparison.OrdinalIgnoreCase);
                            if (force && noPrompt) cleaned = true;
                            else found.Add($"{Where(remove)}: Remove-VirtualNetwork needs {(force ? "" : "-Force ")}{(noPrompt ? "" : "-Confirm:$false")}".TrimEnd());
                        }
                    }
                }
                if (!cleaned)
                    problems.Add($"{Title(first)} deploys ({Where(deploy)}), but neither it nor a block around it has an AfterAll that calls " +
                                 "Remove-VirtualNetwork -Force -Confirm:$false" + (found.Count > 0 ? " (" + string.Join("; ", found) + ")" : ""));
            }
            return problems;
        }

        private static bool IsInAfterAll(Ast ast)
        {
            for (Ast? a = ast.Parent; a != null; a = a.Parent)
            {
                if (a is CommandAst c && Is(c, "AfterAll")) return true;
            }
            return false;
        }

        /// <summary>An assignment inside a function that some AfterAll calls.</summary>
        private static bool IsInFunctionCalledFromAfterAll(ScriptBlockAst root, Ast ast)
        {
            FunctionDefinitionAst? f = EnclosingFunction(ast);
            if (f == null) return false;
            return Commands(root, f.Name).Any(IsInAfterAll);
        }
    }
}
