using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using Xunit;

namespace VirtualNetworks.Module.Tests
{
    /// <summary>
    /// Help completeness (CONVENTIONS 16, after PSReadLine's CheckHelp): every exported cmdlet has a real synopsis and
    /// description, at least one example, and a description for every parameter that is not a common one; the
    /// about_VirtualNetworks topic exists.
    /// </summary>
    public sealed class HelpTests : ModuleTestBase
    {
        private static readonly HashSet<string> CommonParameters = new HashSet<string>(
            Cmdlet.CommonParameters.Concat(Cmdlet.OptionalCommonParameters), StringComparer.OrdinalIgnoreCase);

        public static IEnumerable<object[]> Cmdlets => ModuleTests.Cmdlets;

        private sealed class HelpFacts
        {
            public string Synopsis = "";
            public string Description = "";
            public int ExampleCount;
            public int ExamplesWithCode;
            public Dictionary<string, string> Parameters = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        }

        private HelpFacts Read(string name)
        {
            const string script = @"
$h = Get-Help -Name $args[0] -Full
$o = @{}
$o.Synopsis = [string]$h.Synopsis
$o.Description = (@($h.description) | ForEach-Object { $_.Text }) -join ' '
$o.Examples = @($h.examples.example).Count
$o.ExamplesWithCode = @(@($h.examples.example) | Where-Object { -not [string]::IsNullOrWhiteSpace([string]$_.code) }).Count
$o.Parameters = @(@($h.parameters.parameter) | Where-Object { $_ } | ForEach-Object {
    [string]$_.name + '=' + ((@($_.description) | ForEach-Object { $_.Text }) -join ' ')
})
$o";
            var r = Session.Invoke(ps => ps.AddScript(script).AddArgument(name));
            Assert.True(!r.HadTerminatingError && r.Errors.Count == 0, "Get-Help " + name + " failed: " + r.Describe());
            var table = (System.Collections.Hashtable)Assert.Single(r.Output).BaseObject;
            var facts = new HelpFacts
            {
                Synopsis = (table["Synopsis"] as string ?? "").Trim(),
                Description = (table["Description"] as string ?? "").Trim(),
                ExampleCount = Convert.ToInt32(table["Examples"]),
                ExamplesWithCode = Convert.ToInt32(table["ExamplesWithCode"]),
            };
            foreach (var entry in ((object[])table["Parameters"]!).Select(p => (p is PSObject pso ? pso.BaseObject : p)?.ToString() ?? ""))
            {
                int eq = entry.IndexOf('=');
                if (eq > 0) facts.Parameters[entry.Substring(0, eq)] = entry.Substring(eq + 1).Trim();
            }
            return facts;
        }

        [Theory]
        [MemberData(nameof(Cmdlets))]
        public void EveryCmdlet_HasSynopsisDescriptionAndExamples(string name)
        {
            var help = Read(name);
            Assert.False(string.IsNullOrWhiteSpace(help.Synopsis), name + ": empty synopsis");
            // Without a MAML file Get-Help makes the synopsis up from the syntax ("Name [-P] <T> [<CommonParameters>]").
            Assert.DoesNotContain("<CommonParameters>", help.Synopsis);
            Assert.False(help.Synopsis.StartsWith(name, StringComparison.OrdinalIgnoreCase), name + ": synopsis is the generated syntax line: " + help.Synopsis);
            Assert.False(string.IsNullOrWhiteSpace(help.Description), name + ": empty description");
            Assert.True(help.ExampleCount >= 1, name + ": no example");
            Assert.Equal(help.ExampleCount, help.ExamplesWithCode);
        }

        [Theory]
        [MemberData(nameof(Cmdlets))]
        public void EveryCmdlet_DocumentsEveryNonCommonParameter(string name)
        {
            var r = RunOk("(Get-Command -Name " + name + " -Module VirtualNetworks).Parameters.Keys");
            var declared = r.Output.Select(o => o.ToString()).Where(p => !CommonParameters.Contains(p)).ToList();
            var help = Read(name);
            var missing = declared.Where(p => !help.Parameters.ContainsKey(p)).ToList();
            var empty = declared.Where(p => help.Parameters.TryGetValue(p, out var d) && string.IsNullOrWhiteSpace(d)).ToList();
            var stale = help.Parameters.Keys.Where(p => !CommonParameters.Contains(p) && !declared.Contains(p, StringComparer.OrdinalIgnoreCase)).ToList();
            Assert.True(missing.Count == 0 && empty.Count == 0 && stale.Count == 0,
                $"{name}: parameters missing from help: [{string.Join(", ", missing)}]; without description: [{string.Join(", ", empty)}]; " +
                $"in help but not declared: [{string.Join(", ", stale)}]");
        }

        [Fact]
        public void AboutTopic_IsFound_AndNamesTheCmdlets()
        {
            var r = RunOk("Get-Help -Name about_VirtualNetworks | ForEach-Object { if ($_ -is [string]) { $_ } else { $_.ToString() } }");
            var text = string.Join("\n", r.Output.Select(o => o?.ToString() ?? ""));
            Assert.Contains("about_VirtualNetworks", text, StringComparison.OrdinalIgnoreCase);
            Assert.Contains("Deploy-VirtualNetwork", text);
            Assert.True(text.Length > 500, "about_VirtualNetworks is too short to be useful: " + text.Length + " characters");
        }
    }
}
