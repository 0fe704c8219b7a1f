using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using Xunit;

namespace VirtualNetworks.Scripts.Tests
{
    /// <summary>
    /// tests/Pester/Invoke-VirtualNetworksPester.ps1 in real pwsh with the pinned Pester (both restored by ./build.sh
    /// build), on small suites written here: the counts of its last line, the exit code, the NUnit files, the skip
    /// reasons, and that a BeforeAll, discovery or parse failure is counted as a failure, never as "0 passed".
    /// </summary>
    public sealed class PesterRunnerTests : IDisposable
    {
        private static readonly Regex Summary = new Regex(@"^pester: (\d+) passed, (\d+) failed, (\d+) skipped$", RegexOptions.Multiline);

        private readonly string _dir = Path.Combine(Path.GetTempPath(), "vn-runner-" + Guid.NewGuid().ToString("N").Substring(0, 8));

        public PesterRunnerTests() => Directory.CreateDirectory(Path.Combine(_dir, "suites"));

        public void Dispose()
        {
            try { Directory.Delete(_dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }

        private static string Runner => Path.Combine(RepoPaths.Root, "tests", "Pester", "Invoke-VirtualNetworksPester.ps1");

        private void Suite(string name, string text) => File.WriteAllText(Path.Combine(_dir, "suites", name + ".Tests.ps1"), text);

        private ProcessResult Run(IDictionary<string, string?>? env = null)
        {
            var all = new Dictionary<string, string?> { ["VIRTUALNETWORKS_PESTER"] = null };
            if (env != null) foreach (var kv in env) all[kv.Key] = kv.Value;
            return Pwsh.RunFile(Runner, new[] { "-Path", Path.Combine(_dir, "suites"), "-OutputDirectory", Path.Combine(_dir, "out") }, all, _dir);
        }

        /// <summary>The one summary line: exactly one, and the last line of the output.</summary>
        private static (int Passed, int Failed, int Skipped) Counts(ProcessResult r)
        {
            var matches = Summary.Matches(r.Stdout.Replace("\r", ""));
            Assert.True(matches.Count == 1, $"expected exactly one summary line:\n{r}");
            string last = r.Stdout.Replace("\r", "").TrimEnd('\n').Split('\n').Last();
            Assert.Equal(matches[0].Value, last);
            var g = matches[0].Groups;
            return (int.Parse(g[1].Value), int.Parse(g[2].Value), int.Parse(g[3].Value));
        }

        private const string Passing =
            "Describe 'good' {\n" +
            "  It 'passes' { 1 | Should -Be 1 }\n" +
            "  It 'skips' { Set-ItResult -Skipped -Because 'the reason it gives' }\n" +
            "}\n";

        [Fact]
        public void APassingSuiteExitsZeroWithItsCountsSkipReasonAndNUnitFile()
        {
            Suite("good", Passing);
            ProcessResult r = Run();
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Equal((1, 0, 1), Counts(r));
            Assert.Contains("is skipped, because the reason it gives", r.Stdout);
            Assert.Contains("Pester 5.7.1", r.Stdout);
            string xml = File.ReadAllText(Path.Combine(_dir, "out", "good.xml"));
            Assert.Contains("<test-results", xml);
            Assert.Contains("passes", xml);
        }

        [Fact]
        public void EverySkippedTestHasItsReasonInTheOutputAndTheNUnitFile()
        {
            // A suite the way ours are written: a prerequisite test that says why, and blocks skipped at discovery
            // (-Skip gives Pester no reason; Pester 5.7.1's NUnitXml writer records none at all).
            Suite("gated", "BeforeDiscovery { $Why = 'no widget on this machine' }\n" +
                "Describe 'host' -ForEach @(@{ Why = $Why }) { It 'has a widget' { Set-ItResult -Skipped -Because $Why } }\n" +
                "Describe 'uses the widget' -Skip:$true {\n  It 'a <X>' -ForEach @(@{ X = 1 }, @{ X = 2 }) { 1 | Should -Be 1 }\n" +
                "  Context 'deeper' { It 'b' { 1 | Should -Be 1 } }\n}\n");
            ProcessResult r = Run();
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Equal((0, 0, 4), Counts(r));
            Assert.Contains("3 skipped: 'uses the widget' is skipped (-Skip); the suite's prerequisite check: no widget on this machine", r.Stdout);
            var doc = System.Xml.Linq.XDocument.Load(Path.Combine(_dir, "out", "gated.xml"));
            var skipped = doc.Descendants("test-case").Where(c => (string?)c.Attribute("result") == "Ignored").ToList();
            Assert.Equal(4, skipped.Count);
            Assert.All(skipped, c => Assert.Contains("no widget on this machine", (string?)c.Element("reason")?.Element("message") ?? ""));
        }

        [Fact]
        public void BeforeAllDiscoveryAndParseFailuresAreCountedAndFailTheRun()
        {
            Suite("good", Passing);
            Suite("setup", "Describe 'setup' {\n  BeforeAll { throw 'no lab' }\n  It 'a' { 1 | Should -Be 1 }\n  It 'b' { 1 | Should -Be 1 }\n}\n");
            Suite("discovery", "BeforeDiscovery { throw 'cannot discover' }\nDescribe 'd' { It 'x' { 1 | Should -Be 1 } }\n");
            Suite("parse", "Describe 'p' { It 'x' { 1 | Should -Be 1 }\n");
            Suite("teardown", "Describe 't' {\n  AfterAll { throw 'teardown failed' }\n  It 'x' { 1 | Should -Be 1 }\n}\n");
            ProcessResult r = Run();
            Assert.True(r.ExitCode != 0, r.ToString());
            // good: 1 passed, 1 skipped; setup: 2 tests + the block; discovery: the container; parse: the container;
            // teardown: 1 passed + the block.
            Assert.Equal((2, 6, 1), Counts(r));
            Assert.Contains("no lab", r.Stdout);
            Assert.Contains("cannot discover", r.Stdout);
            Assert.Contains("teardown failed", r.Stdout);
        }

        [Fact]
        public void AFailedTestFailsTheRun()
        {
            Suite("bad", "Describe 'bad' { It 'fails' { 1 | Should -Be 2 } }\n");
            ProcessResult r = Run();
            Assert.True(r.ExitCode != 0, r.ToString());
            Assert.Equal((0, 1, 0), Counts(r));
        }

        [Fact]
        public void AnotherPesterVersionIsRefused()
        {
            Suite("good", Passing);
            string fake = Path.Combine(_dir, "Pester", "5.6.0");
            Directory.CreateDirectory(fake);
            File.WriteAllText(Path.Combine(fake, "Pester.psd1"), "@{ ModuleVersion = '5.6.0'; GUID = 'a699dea5-2c73-4616-a270-1f7abb777e71' }\n");
            ProcessResult r = Run(new Dictionary<string, string?> { ["VIRTUALNETWORKS_PESTER"] = Path.Combine(fake, "Pester.psd1") });
            Assert.True(r.ExitCode != 0, r.ToString());
            Assert.Equal((0, 1, 0), Counts(r));
            Assert.Contains("pinned to Pester 5.7.1", r.Stdout + r.Stderr);
        }

        [Fact]
        public void AFolderWithoutSuitesFailsTheRun()
        {
            ProcessResult r = Run();
            Assert.True(r.ExitCode != 0, r.ToString());
            Assert.Equal((0, 1, 0), Counts(r));
        }
    }
}
