using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Xunit;

namespace VirtualNetworks.Scripts.Tests
{
    /// <summary>tools/HelpGen against a tiny sample cmdlet assembly (SampleCmdlets/) and its markdown (SampleHelp/).</summary>
    public sealed class HelpGenTests
    {
        private static readonly XNamespace Msh = "http://msh";
        private static readonly XNamespace Maml = "http://schemas.microsoft.com/maml/2004/10";
        private static readonly XNamespace Command = "http://schemas.microsoft.com/maml/dev/command/2004/10";
        private static readonly XNamespace Dev = "http://schemas.microsoft.com/maml/dev/2004/10";

        /// <summary>A copy of SampleHelp/ to edit, and an output folder.</summary>
        private sealed class Workspace
        {
            public readonly string Root = RepoPaths.NewTempDir();
            public string HelpDir => Path.Combine(Root, "help");
            public string OutDir => Path.Combine(Root, "module", "en-US");

            public Workspace()
            {
                Directory.CreateDirectory(HelpDir);
                foreach (string f in Directory.GetFiles(RepoPaths.SampleHelpDir))
                    File.Copy(f, Path.Combine(HelpDir, Path.GetFileName(f)));
            }

            public string PathOf(string name) => Path.Combine(HelpDir, name);

            public void Edit(string name, Func<string, string> edit)
            {
                string path = PathOf(name);
                File.WriteAllText(path, edit(File.ReadAllText(path)));
            }

            /// <summary>Removes a heading and everything under it up to the next heading of the same or a higher level.</summary>
            public void RemoveSection(string name, string heading)
            {
                Edit(name, text =>
                {
                    var lines = text.Split('\n').ToList();
                    int start = lines.FindIndex(l => l.TrimEnd() == heading);
                    Assert.True(start >= 0, $"{name} has no line '{heading}'");
                    int level = heading.TakeWhile(c => c == '#').Count();
                    int end = start + 1;
                    bool fence = false;
                    for (; end < lines.Count; end++)
                    {
                        if (lines[end].TrimStart().StartsWith("```", StringComparison.Ordinal)) fence = !fence;
                        if (fence) continue;
                        Match m = Regex.Match(lines[end], @"^(#+)\s");
                        if (m.Success && m.Groups[1].Value.Length <= level) break;
                    }
                    lines.RemoveRange(start, end - start);
                    return string.Join("\n", lines);
                });
            }

            public ProcessResult Run() => ProcessRunner.RunDll(RepoPaths.HelpGenDll, new[]
            {
                "--assembly", RepoPaths.SampleCmdletsDll, "--help-dir", HelpDir, "--out", OutDir,
            });
        }

        private static ProcessResult AssertFails(Workspace w, params string[] expectedGaps)
        {
            ProcessResult r = w.Run();
            Assert.True(r.ExitCode == 1, r.ToString());
            foreach (string gap in expectedGaps)
                Assert.True(r.Stderr.Contains(gap, StringComparison.Ordinal), $"expected the gap '{gap}' in:\n{r}");
            Assert.False(Directory.Exists(w.OutDir) && Directory.EnumerateFiles(w.OutDir).Any(), "nothing may be written when there are gaps");
            return r;
        }

        [Fact]
        public void CompleteHelpProducesMamlWithEveryPart()
        {
            var w = new Workspace();
            ProcessResult r = w.Run();
            Assert.True(r.ExitCode == 0, r.ToString());

            string maml = Path.Combine(w.OutDir, "SampleCmdlets.dll-Help.xml");
            Assert.True(File.Exists(maml), r.ToString());
            XDocument doc = XDocument.Load(maml);
            Assert.Equal(Msh + "helpItems", doc.Root!.Name);
            Assert.Equal("maml", (string?)doc.Root.Attribute("schema"));
            var commands = doc.Root.Elements(Command + "command").ToList();
            Assert.Equal(new[] { "Get-SampleThing", "Remove-SampleThing" },
                commands.Select(c => (string?)c.Element(Command + "details")?.Element(Command + "name")));
            foreach (XElement c in commands)
            {
                foreach (XName part in new[] { Command + "details", Maml + "description", Command + "syntax", Command + "parameters",
                             Command + "inputTypes", Command + "returnValues", Command + "examples", Command + "relatedLinks" })
                    Assert.True(c.Element(part) != null, $"{part.LocalName} missing");
                Assert.Contains(c.Descendants(Command + "example").Select(e => (string?)e.Element(Dev + "code")), code => !string.IsNullOrWhiteSpace(code));
            }

            XElement get = commands[0];
            Assert.Equal(2, get.Element(Command + "syntax")!.Elements(Command + "syntaxItem").Count());
            XElement name = get.Element(Command + "parameters")!.Elements(Command + "parameter")
                .Single(p => (string?)p.Element(Maml + "name") == "Name");
            Assert.Equal("0", (string?)name.Attribute("position"));
            Assert.Equal("true", (string?)name.Attribute("globbing"));
            Assert.Equal("True (ByPropertyName, ByValue)", (string?)name.Attribute("pipelineInput"));
            Assert.Equal("ThingName", (string?)name.Attribute("aliases"));
            Assert.Equal("System.String[]", (string?)name.Element(Dev + "type")?.Element(Maml + "name"));
            XElement count = get.Element(Command + "parameters")!.Elements(Command + "parameter")
                .Single(p => (string?)p.Element(Maml + "name") == "Count");
            Assert.Equal("5", (string?)count.Element(Dev + "defaultValue"));
            XElement id = get.Element(Command + "parameters")!.Elements(Command + "parameter")
                .Single(p => (string?)p.Element(Maml + "name") == "Id");
            Assert.Equal("true", (string?)id.Attribute("required"));

            // WhatIf/Confirm appear for a ShouldProcess cmdlet: WhatIf with our text, Confirm with the standard one.
            var removeParams = commands[1].Element(Command + "parameters")!.Elements(Command + "parameter")
                .ToDictionary(p => (string)p.Element(Maml + "name")!, p => string.Concat(p.Element(Maml + "description")!.Elements(Maml + "para").Select(x => x.Value)));
            Assert.Equal("Shows which things would be removed, and removes none.", removeParams["WhatIf"]);
            Assert.Equal("Prompts you for confirmation before running the cmdlet.", removeParams["Confirm"]);

            string about = Path.Combine(w.OutDir, "about_SampleCmdlets.help.txt");
            string text = File.ReadAllText(about);
            Assert.StartsWith("TOPIC", text.TrimStart('\uFEFF'));
            Assert.Contains("SHORT DESCRIPTION", text);
            Assert.Contains("LONG DESCRIPTION", text);
            Assert.All(text.Replace("\r\n", "\n").Split('\n'), l => Assert.True(l.Length <= 80, $"line longer than 80: {l}"));
        }

        [Fact]
        public void GetHelpShowsTheGeneratedHelp()
        {
            var w = new Workspace();
            Assert.Equal(0, w.Run().ExitCode);
            string moduleDir = Path.GetDirectoryName(w.OutDir)!;
            File.Copy(RepoPaths.SampleCmdletsDll, Path.Combine(moduleDir, "SampleCmdlets.dll"));
            File.WriteAllText(Path.Combine(moduleDir, "SampleCmdlets.psd1"),
                "@{ RootModule = 'SampleCmdlets.dll'; ModuleVersion = '1.0.0'; GUID = '3f0b1a52-7d0e-4a43-9a9e-5d2f8c1b2a11';\n" +
                "   CmdletsToExport = @('Get-SampleThing', 'Remove-SampleThing'); FunctionsToExport = @(); AliasesToExport = @(); VariablesToExport = @() }\n");

            ProcessResult r = Pwsh.RunCommand(Path.Combine(moduleDir, "SampleCmdlets.psd1"),
                "$h = Get-Help Get-SampleThing -Full; $h.Synopsis; ($h.parameters.parameter | Where-Object name -eq 'Count').description.Text; " +
                "$h.examples.example[0].code; Get-Help Remove-SampleThing -Full | Out-String -Width 300; Get-Help about_SampleCmdlets");
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Contains("Gets sample things.", r.Stdout);
            Assert.Contains("How many things to make.", r.Stdout);
            Assert.Contains("Get-SampleThing -Name thing*", r.Stdout);
            Assert.True(r.Stdout.Contains("Remove-SampleThing [-InputObject] <SampleThing> [-PassThru] [-WhatIf] [-Confirm]"), r.ToString());
            Assert.Contains("Describes the sample cmdlets used to test the help generator.", r.Stdout);
        }

        [Fact]
        public void ACmdletWithoutAHelpFileFails()
        {
            var w = new Workspace();
            File.Delete(w.PathOf("Remove-SampleThing.md"));
            AssertFails(w, "Remove-SampleThing: no help file");
        }

        [Fact]
        public void MissingSynopsisDescriptionAndExamplesAreEachListed()
        {
            var w = new Workspace();
            w.RemoveSection("Get-SampleThing.md", "## SYNOPSIS");
            w.RemoveSection("Get-SampleThing.md", "## DESCRIPTION");
            w.RemoveSection("Get-SampleThing.md", "## EXAMPLES");
            AssertFails(w,
                "Get-SampleThing: Get-SampleThing.md: no text under '## SYNOPSIS'.",
                "Get-SampleThing: Get-SampleThing.md: no text under '## DESCRIPTION'.",
                "Get-SampleThing: Get-SampleThing.md: no example");
        }

        [Fact]
        public void AnExampleWithoutCodeFails()
        {
            var w = new Workspace();
            w.Edit("Remove-SampleThing.md", t => t.Replace("```powershell\nGet-SampleThing -Id 1 | Remove-SampleThing -Confirm:$false\n```", "Just words."));
            AssertFails(w, "example 'Example 1: Remove a thing without a prompt' has no code");
        }

        [Fact]
        public void AnUndocumentedParameterFails()
        {
            var w = new Workspace();
            w.RemoveSection("Get-SampleThing.md", "### -Count");
            w.Edit("Remove-SampleThing.md", t => t.Replace("Returns the removed thing.", string.Empty));
            AssertFails(w,
                "Get-SampleThing: parameter -Count has no description",
                "Remove-SampleThing: parameter -PassThru has no description");
        }

        [Fact]
        public void DocumentingAParameterTheCmdletDoesNotHaveFails()
        {
            var w = new Workspace();
            w.Edit("Get-SampleThing.md", t => t.Replace("## INPUTS", "### -Bogus\nNo such parameter.\n\n### -Verbose\nCommon.\n\n## INPUTS"));
            w.Edit("Get-SampleThing.md", t => t.Replace("### -Kind", "### -kind"));
            AssertFails(w,
                "Get-SampleThing: Get-SampleThing.md: documents parameter -Bogus, which Get-SampleThing does not have.",
                "-Verbose is a common parameter",
                "parameter -kind must be spelled '-Kind'");
        }

        [Fact]
        public void WhatIfAndConfirmNeedNoTextButOnlyExistWithShouldProcess()
        {
            var w = new Workspace();
            w.RemoveSection("Remove-SampleThing.md", "### -WhatIf");
            Assert.Equal(0, w.Run().ExitCode);

            var w2 = new Workspace();
            w2.Edit("Get-SampleThing.md", t => t.Replace("## INPUTS", "### -WhatIf\nGet does not support it.\n\n## INPUTS"));
            AssertFails(w2, "documents parameter -WhatIf, which Get-SampleThing does not have.");
        }

        [Fact]
        public void StaleFilesUnknownSectionsAndAMissingAboutTopicFail()
        {
            var w = new Workspace();
            File.Copy(w.PathOf("Get-SampleThing.md"), w.PathOf("Get-Gone.md"));
            w.Edit("Get-SampleThing.md", t => t.Replace("## NOTES", "## NOTE"));
            File.Delete(w.PathOf("about_SampleCmdlets.md"));
            AssertFails(w,
                "Get-Gone.md: documents 'Get-Gone', which is not a cmdlet in SampleCmdlets.dll.",
                "unknown section '## NOTE'",
                "no about topic:");
        }

        [Fact]
        public void NewMarkdownWritesSkeletonsThatStillFailUntilFilledIn()
        {
            var w = new Workspace();
            File.Delete(w.PathOf("Remove-SampleThing.md"));
            string kept = File.ReadAllText(w.PathOf("Get-SampleThing.md"));
            ProcessResult r = ProcessRunner.RunDll(RepoPaths.HelpGenDll, new[]
            {
                "--assembly", RepoPaths.SampleCmdletsDll, "--help-dir", w.HelpDir, "--new-markdown",
            });
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Equal(kept, File.ReadAllText(w.PathOf("Get-SampleThing.md"))); // never overwritten
            string skeleton = File.ReadAllText(w.PathOf("Remove-SampleThing.md"));
            Assert.Contains("### -InputObject", skeleton);
            Assert.Contains("### -PassThru", skeleton);
            AssertFails(w, "Remove-SampleThing: Remove-SampleThing.md: no text under '## SYNOPSIS'.",
                "Remove-SampleThing: parameter -InputObject has no description");
        }

        [Fact]
        public void AMissingAssemblyIsAUsageError()
        {
            var w = new Workspace();
            ProcessResult r = ProcessRunner.RunDll(RepoPaths.HelpGenDll, new[]
            {
                "--assembly", Path.Combine(w.Root, "nope.dll"), "--help-dir", w.HelpDir, "--out", w.OutDir,
            });
            Assert.True(r.ExitCode == 2, r.ToString());
            Assert.Contains("does not exist", r.Stderr);
        }
    }
}
