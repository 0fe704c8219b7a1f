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
    /// The Pester suites in tests/Pester run only on real Hyper-V hosts, which CI does not have. These checks keep them
    /// honest everywhere: they parse, every Describe is tagged HyperV, the suite skips itself (deciding at discovery)
    /// where Hyper-V is missing, it verifies through Microsoft's Hyper-V cmdlets and never through the module's own
    /// read cmdlets, every Describe that deploys cleans up in AfterAll, and destructive Hyper-V calls sit behind the
    /// ownership-marker guard.
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
        public void TheHyperVSuiteExists()
        {
            Assert.Contains(SuiteFiles(), f => Path.GetFileName(f) == "VirtualNetworks.HyperV.Tests.ps1");
        }

        [Theory]
        [MemberData(nameof(Suites))]
        public void SuiteParses(string fileName) => ParseSuite(fileName);

        [Theory]
        [MemberData(nameof(Suites))]
        public void EveryDescribeIsTaggedHyperV(string fileName) =>
            AssertNoProblems(fileName, "tags", PesterSuiteRules.DescribeTagProblems(ParseSuite(fileName)));

        [Theory]
        [MemberData(nameof(Suites))]
        public void TheSuiteSkipsItselfWithoutHyperV(string fileName) =>
            AssertNoProblems(fileName, "skip guard", PesterSuiteRules.SkipGuardProblems(ParseSuite(fileName)));

        [Theory]
        [MemberData(nameof(Suites))]
        public void TheSuiteVerifiesThroughTheHyperVModuleOnly(string fileName) =>
            AssertNoProblems(fileName, "verification", PesterSuiteRules.VerificationProblems(ParseSuite(fileName), ModuleCmdlets()));

        [Theory]
        [MemberData(nameof(Suites))]
        public void TheSuiteCleansUpOnlyWhatCarriesTheMarker(string fileName) =>
            AssertNoProblems(fileName, "clean-up", PesterSuiteRules.CleanupProblems(ParseSuite(fileName)));

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

        /// <summary>Every Describe carries -Tag (or -Tags) with the literal HyperV; there is at least one Describe.</summary>
        public static List<string> DescribeTagProblems(ScriptBlockAst ast)
        {
            var problems = new List<string>();
            var describes = Commands(ast, "Describe").ToList();
            if (describes.Count == 0) problems.Add("no Describe block");
            foreach (CommandAst d in describes)
            {
                Ast? tag = ParameterValue(d, "Tag", "Tags");
                if (tag == null)
                    problems.Add($"{Title(d)} has no -Tag");
                else if (!StringValues(tag).Contains("HyperV", StringComparer.OrdinalIgnoreCase))
                    problems.Add($"{Title(d)}: -Tag {tag.Extent.Text} does not name HyperV");
            }
            return problems;
        }

        /// <summary>
        /// A BeforeDiscovery block checks the platform, elevation, the Hyper-V module and the image variable; every
        /// Describe is either skipped by a -Skip whose variables that block assigns, or reports its skip through
        /// Set-ItResult -Skipped with a reason; every Set-ItResult -Skipped says -Because.
        /// </summary>
        public static List<string> SkipGuardProblems(ScriptBlockAst ast)
        {
            var problems = new List<string>();
            var discovery = Commands(ast, "BeforeDiscovery").Select(Body).Where(b => b != null).Select(b => b!).ToList();
            if (discovery.Count == 0)
            {
                problems.Add("no BeforeDiscovery block: skip decisions must be taken at discovery");
                return problems;
            }

            string text = string.Join("\n", discovery.Select(b => b.Extent.Text));
            var checks = new (string What, string[] Any)[]
            {
                ("the platform ($IsWindows / PSEdition)", new[] { "$IsWindows", "PSEdition" }),
                ("elevation or Hyper-V Administrators (IsInRole)", new[] { "IsInRole" }),
                ("the Hyper-V module (Get-VMHost)", new[] { "Get-VMHost" }),
                ("the router image (VIRTUALNETWORKS_HYPERV_IMAGE)", new[] { "VIRTUALNETWORKS_HYPERV_IMAGE" }),
            };
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
    }
}
