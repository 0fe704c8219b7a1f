using System.IO;
using Xunit;
using Xunit.Abstractions;

namespace VirtualNetworks.Scripts.Tests
{
    /// <summary>
    /// The staged module (out/VirtualNetworks) as a user gets it: every exported cmdlet has help that
    /// Get-Help shows (a real synopsis, a description, an example, and a description for every
    /// parameter), and the about topic is found. Runs in pwsh (the pinned one the build restores), a fresh process.
    /// </summary>
    public sealed class StagedModuleHelpTests
    {
        private readonly ITestOutputHelper _output;

        public StagedModuleHelpTests(ITestOutputHelper output) => _output = output;

        private const string Check = @"
$common = 'Verbose','Debug','ErrorAction','WarningAction','InformationAction','ProgressAction','ErrorVariable',
          'WarningVariable','InformationVariable','OutVariable','OutBuffer','PipelineVariable'
$commands = @(Get-Command -Module VirtualNetworks)
if ($commands.Count -eq 0) { 'GAP: the module exports no command' }
foreach ($c in $commands) {
    $h = Get-Help $c.Name -Full
    if ($h -is [string] -or $h.Synopsis -like ""$($c.Name) *"" -or [string]::IsNullOrWhiteSpace($h.Synopsis)) { ""GAP: $($c.Name): no synopsis (help file not found?)""; continue }
    if (-not $h.description) { ""GAP: $($c.Name): no description"" }
    if (-not $h.examples) { ""GAP: $($c.Name): no example"" }
    foreach ($p in $c.Parameters.Keys) {
        if ($common -contains $p) { continue }
        $ph = $h.parameters.parameter | Where-Object { $_.name -eq $p }
        $text = ($ph.description | ForEach-Object { $_.Text }) -join ''
        if ([string]::IsNullOrWhiteSpace($text)) { ""GAP: $($c.Name): -$p has no description"" }
    }
}
if (-not (Get-Help about_VirtualNetworks -ErrorAction SilentlyContinue)) { 'GAP: about_VirtualNetworks not found' }
'checked ' + $commands.Count
";

        [Fact]
        public void EveryExportedCmdletAndParameterHasHelp()
        {
            if (!File.Exists(RepoPaths.StagedManifest))
            {
                _output.WriteLine($"SKIPPED: {RepoPaths.StagedManifest} does not exist (run ./build.sh build to stage the module).");
                return;
            }
            ProcessResult r = Pwsh.RunCommand(RepoPaths.StagedManifest, Check);
            _output.WriteLine(r.ToString());
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.DoesNotContain("GAP:", r.Stdout);
            Assert.Contains("checked ", r.Stdout);
        }
    }
}
