using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation.Language;
using Xunit;

namespace VirtualNetworks.Scripts.Tests
{
    /// <summary>Every PowerShell file the repository keeps must parse.</summary>
    public sealed class ScriptParseTests
    {
        private static readonly string[] Extensions = { ".ps1", ".psd1", ".psm1" };
        private static readonly HashSet<string> SkippedDirectories = new HashSet<string>(StringComparer.Ordinal)
        {
            "out", "bin", "obj", ".git", "TestResults", "BenchmarkDotNet.Artifacts", "node_modules",
        };

        internal static IEnumerable<string> PowerShellFiles()
        {
            var pending = new Stack<string>();
            pending.Push(RepoPaths.Root);
            while (pending.Count > 0)
            {
                string dir = pending.Pop();
                foreach (string sub in Directory.GetDirectories(dir))
                {
                    if (!SkippedDirectories.Contains(Path.GetFileName(sub)))
                        pending.Push(sub);
                }
                foreach (string f in Directory.GetFiles(dir))
                {
                    if (Extensions.Contains(Path.GetExtension(f), StringComparer.OrdinalIgnoreCase))
                        yield return f;
                }
            }
        }

        [Fact]
        public void EveryPowerShellFileParses()
        {
            var files = PowerShellFiles().OrderBy(f => f, StringComparer.Ordinal).ToList();
            Assert.Contains(files, f => Path.GetFileName(f) == "build.ps1");
            Assert.Contains(files, f => Path.GetFileName(f) == "VirtualNetworks.psd1");

            var problems = new List<string>();
            foreach (string f in files)
            {
                Parser.ParseFile(f, out _, out ParseError[] errors);
                foreach (ParseError e in errors)
                    problems.Add($"{Path.GetRelativePath(RepoPaths.Root, f)}:{e.Extent.StartLineNumber}:{e.Extent.StartColumnNumber}: {e.Message} ({e.ErrorId})");
            }
            Assert.True(problems.Count == 0, $"{problems.Count} parse error(s) in {files.Count} file(s):\n" + string.Join("\n", problems));
        }

        [Fact]
        public void TheWalkSkipsBuildOutput()
        {
            Assert.DoesNotContain(PowerShellFiles(), f =>
                f.Split(Path.DirectorySeparatorChar).Any(part => part == "bin" || part == "obj" || part == ".git") ||
                f.StartsWith(Path.Combine(RepoPaths.Root, "out") + Path.DirectorySeparatorChar, StringComparison.Ordinal));
        }
    }
}
