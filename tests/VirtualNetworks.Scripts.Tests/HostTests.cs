using System;
using System.Collections.Generic;
using System.IO;
using Xunit;

namespace VirtualNetworks.Scripts.Tests
{
    /// <summary>vnpwsh (src/VirtualNetworks.Host) run as CI runs it: stdin closed, output captured.</summary>
    public sealed class HostTests
    {
        private static ProcessResult Vnpwsh(IDictionary<string, string?>? env, params string[] args) =>
            ProcessRunner.RunDll(RepoPaths.HostDll, args, env);

        private static ProcessResult Vnpwsh(params string[] args) => Vnpwsh(null, args);

        [Fact]
        public void ExitNSetsTheExitCode()
        {
            ProcessResult r = Vnpwsh("-NoModule", "-Command", "'out'; exit 7");
            Assert.True(r.ExitCode == 7, r.ToString());
            Assert.Equal("out", r.Stdout.Trim());
        }

        [Fact]
        public void ATerminatingErrorExitsWithOneAndPrintsMessageIdAndPositionToStderr()
        {
            ProcessResult r = Vnpwsh("-NoModule", "-Command", "'before'; throw 'boom'; 'after'");
            Assert.True(r.ExitCode == 1, r.ToString());
            Assert.Equal("before", r.Stdout.Trim());
            Assert.Contains("boom", r.Stderr);
            Assert.Contains("FullyQualifiedErrorId : boom", r.Stderr);
            Assert.Contains("At line:1 char:11", r.Stderr);
        }

        [Fact]
        public void ErrorActionStopMakesACmdletErrorTerminating()
        {
            ProcessResult r = Vnpwsh("-NoModule", "-Command", "$ErrorActionPreference = 'Stop'; Get-Command NoSuchThing; 'not reached'");
            Assert.True(r.ExitCode == 1, r.ToString());
            Assert.DoesNotContain("not reached", r.Stdout);
            Assert.Contains("CommandNotFoundException", r.Stderr);
        }

        [Fact]
        public void ANonTerminatingErrorIsPrintedButDoesNotChangeTheExitCode()
        {
            ProcessResult r = Vnpwsh("-NoModule", "-Command", "Get-Command NoSuchThing; 'after'");
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Equal("after", r.Stdout.Trim());
            Assert.Contains("FullyQualifiedErrorId : CommandNotFoundException,Microsoft.PowerShell.Commands.GetCommandCommand", r.Stderr);
        }

        [Fact]
        public void ObjectsAreFormattedByOutDefault()
        {
            ProcessResult r = Vnpwsh("-NoModule", "-Command", "[pscustomobject]@{ Name = 'r1'; State = 'Running' }");
            Assert.True(r.ExitCode == 0, r.ToString());
            string[] lines = r.Stdout.Replace("\r", string.Empty).Trim('\n').Split('\n');
            Assert.Equal(new[] { "Name State", "---- -----", "r1   Running" }, lines);
        }

        [Fact]
        public void StreamsGoWherePipelinesExpectThem()
        {
            ProcessResult r = Vnpwsh("-NoModule", "-Command",
                "Write-Output o; Write-Host h; Write-Warning w; Write-Verbose v -Verbose; Write-Error e; Write-Information i -InformationAction Continue");
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Equal(new[] { "o", "h", "i" }, r.Stdout.Replace("\r", string.Empty).Trim('\n').Split('\n'));
            Assert.Contains("WARNING: w", r.Stderr);
            Assert.Contains("VERBOSE: v", r.Stderr);
            Assert.Contains("Write-Error : e", r.Stderr);
            Assert.DoesNotContain("\u001b", r.Stdout + r.Stderr, StringComparison.Ordinal); // no colours when not on a terminal
        }

        [Fact]
        public void PromptsFailClearlyWithoutATerminal()
        {
            ProcessResult r = Vnpwsh("-NoModule", "-Command",
                "function Remove-It { [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'High')] param() if ($PSCmdlet.ShouldProcess('it')) { 'removed' } }; " +
                "$ErrorActionPreference = 'Stop'; Remove-It");
            Assert.True(r.ExitCode == 1, r.ToString());
            Assert.DoesNotContain("removed", r.Stdout);
            Assert.Contains("non-interactive", r.Stderr);
            Assert.Contains("-Confirm:$false", r.Stderr);

            ProcessResult m = Vnpwsh("-NoModule", "-Command", "function Need { param([Parameter(Mandatory)] $X) $X }; Need");
            Assert.Contains("HostIsNonInteractive", m.Stderr);
        }

        [Fact]
        public void FileArgumentsBindLikePwsh()
        {
            string dir = RepoPaths.NewTempDir();
            string script = Path.Combine(dir, "args.ps1");
            File.WriteAllText(script, "param([string] $Name, [switch] $Flag, $Rest)\n\"$Name|$Flag|$Rest|$PSScriptRoot|$([IO.Path]::GetFileName($PSCommandPath))\"\n");
            ProcessResult r = Vnpwsh("-NoModule", "-File", script, "-Name", "it's x", "-Flag", "a b");
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Equal($"it's x|True|a b|{dir}|args.ps1", r.Stdout.Trim());
        }

        [Fact]
        public void AParseErrorInAFileIsReportedWithItsPosition()
        {
            string dir = RepoPaths.NewTempDir();
            string script = Path.Combine(dir, "bad.ps1");
            File.WriteAllText(script, "'ok'\nif (\n");
            ProcessResult r = Vnpwsh("-NoModule", "-File", script);
            Assert.True(r.ExitCode == 1, r.ToString());
            Assert.Equal(string.Empty, r.Stdout.Trim());
            Assert.Contains($"At {script}:2 char:5", r.Stderr);
        }

        [Fact]
        public void TheModuleComesFromTheEnvironmentVariableAsFileOrDirectory()
        {
            string root = RepoPaths.NewTempDir();
            string dir = Path.Combine(root, "VirtualNetworks");
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, "VirtualNetworks.psm1"), "function Get-Answer { 42 }\n");
            File.WriteAllText(Path.Combine(dir, "VirtualNetworks.psd1"),
                "@{ RootModule = 'VirtualNetworks.psm1'; ModuleVersion = '1.0'; FunctionsToExport = @('Get-Answer') }\n");

            ProcessResult byDir = Vnpwsh(new Dictionary<string, string?> { ["VIRTUALNETWORKS_MODULE"] = dir }, "-Command", "Get-Answer");
            Assert.True(byDir.ExitCode == 0, byDir.ToString());
            Assert.Equal("42", byDir.Stdout.Trim());

            ProcessResult byFile = Vnpwsh(new Dictionary<string, string?> { ["VIRTUALNETWORKS_MODULE"] = Path.Combine(dir, "VirtualNetworks.psd1") },
                "-Command", "(Get-Module).Name");
            Assert.Equal("VirtualNetworks", byFile.Stdout.Trim());

            ProcessResult explicitWins = Vnpwsh(new Dictionary<string, string?> { ["VIRTUALNETWORKS_MODULE"] = "/nonexistent" },
                "-Module", dir, "-Command", "Get-Answer");
            Assert.Equal("42", explicitWins.Stdout.Trim());
        }

        [Fact]
        public void AMissingModuleFailsWithAMessage()
        {
            ProcessResult r = Vnpwsh("-Module", "/nonexistent/VirtualNetworks.psd1", "-Command", "'never'");
            Assert.True(r.ExitCode == 1, r.ToString());
            Assert.DoesNotContain("never", r.Stdout);
            Assert.Contains("/nonexistent/VirtualNetworks.psd1", r.Stderr);
        }

        [Fact]
        public void BadCommandLinesAreUsageErrors()
        {
            ProcessResult r = Vnpwsh("-Bogus");
            Assert.True(r.ExitCode == 2, r.ToString());
            Assert.Contains("Usage: vnpwsh", r.Stderr);
            Assert.Equal(2, Vnpwsh("-Module", "x", "-NoModule", "-Command", "1").ExitCode);
            Assert.Equal(0, Vnpwsh("-Help").ExitCode);
        }

        [Fact]
        public void CommandTextIsReadFromStdinWithCommandDash()
        {
            // stdin is closed by the runner: an empty script succeeds.
            ProcessResult r = Vnpwsh("-NoModule", "-Command", "-");
            Assert.True(r.ExitCode == 0, r.ToString());
        }
    }
}
