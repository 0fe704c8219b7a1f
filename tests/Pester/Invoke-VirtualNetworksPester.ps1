#Requires -Version 7.2
<#
.SYNOPSIS
    Runs every Pester suite of tests/Pester with the pinned Pester, writes one NUnit XML file per suite, and prints one
    summary line: "pester: N passed, N failed, N skipped".

.DESCRIPTION
    Imports Pester from $env:VIRTUALNETWORKS_PESTER (the path of Pester.psd1), else from the path written by
    ./build.sh build in <repo>/out/tools/pester.path, and refuses any version other than the pinned one (5.7.1).

    Each *.Tests.ps1 file is one Invoke-Pester run (Run.Path = the file, Run.Exit = $false, Output.Verbosity =
    Detailed, TestResult in NUnitXml to <OutputDirectory>/<suite>.xml, where <suite> is the file name without
    .Tests.ps1). Every skipped test gets a reason, printed grouped under its suite's line and written into the NUnit
    file as the test-case's <reason><message> (Pester 5.7.1's NUnitXml writer records none): a test that skipped itself
    (Set-ItResult -Skipped -Because) keeps its own; a test skipped with its block (-Skip decided at discovery) gets the
    reasons the suite's prerequisite test gave.

    The counts are summed over every suite. "failed" counts failed tests, plus every block (Describe/Context) whose
    BeforeAll/AfterAll failed, plus every container (file) that failed outside a test: a file that does not parse, a
    BeforeDiscovery or top-level BeforeAll that throws, or an Invoke-Pester that throws. So a suite whose BeforeAll
    fails is never "0 passed, 0 failed". The exit code is 0 only when failed is 0, at least one suite ran, and every
    container ran.

.PARAMETER Path
    Suite files or folders. Default: every *.Tests.ps1 in the folder of this script.

.PARAMETER OutputDirectory
    Where the NUnit XML files go. Default: <repo>/out/pester.

.PARAMETER Tag
    Only tests with these tags (Pester's Filter.Tag).

.PARAMETER ExcludeTag
    Leave out tests with these tags (Pester's Filter.ExcludeTag).

.EXAMPLE
    out/tools/pwsh -NoProfile -File tests/Pester/Invoke-VirtualNetworksPester.ps1 -OutputDirectory out/pester

.EXAMPLE
    out/tools/pwsh -NoProfile -File tests/Pester/Invoke-VirtualNetworksPester.ps1 -Path tests/Pester/VirtualNetworks.Linux.Tests.ps1
#>
[CmdletBinding()]
param(
    [string[]] $Path,
    [string] $OutputDirectory,
    [string[]] $Tag,
    [string[]] $ExcludeTag
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3

$PinnedVersion = [version]'5.7.1'
# Plain text in logs: no ANSI colour codes when the output goes to a file or a pipe (CI), as with NO_COLOR.
if ([Console]::IsOutputRedirected) { $PSStyle.OutputRendering = 'PlainText' }
$repo = [IO.Path]::GetFullPath((Join-Path -Path $PSScriptRoot -ChildPath '../..'))
if (-not $OutputDirectory) { $OutputDirectory = Join-Path -Path $repo -ChildPath 'out/pester' }
$OutputDirectory = [IO.Path]::GetFullPath($OutputDirectory, (Get-Location).ProviderPath)

function Write-Summary([int] $Passed, [int] $Failed, [int] $Skipped) {
    # The one machine-readable line; build.sh reads it. Keep its form exactly.
    [Console]::Out.WriteLine("pester: $Passed passed, $Failed failed, $Skipped skipped")
}

# ---------------------------------------------------------------------------------------------- the pinned Pester
$pesterPath = $env:VIRTUALNETWORKS_PESTER
$pesterFrom = 'VIRTUALNETWORKS_PESTER'
if (-not $pesterPath) {
    $pathFile = Join-Path -Path $repo -ChildPath 'out/tools/pester.path'
    $pesterFrom = $pathFile
    if (-not (Test-Path -LiteralPath $pathFile -PathType Leaf)) {
        Write-Error "Pester $PinnedVersion was not found: neither VIRTUALNETWORKS_PESTER is set nor $pathFile exists (./build.sh build writes it)." -ErrorAction Continue
        Write-Summary 0 1 0
        exit 1
    }
    $pesterPath = (Get-Content -LiteralPath $pathFile -TotalCount 1).Trim()
}
try {
    if (-not (Test-Path -LiteralPath $pesterPath)) { throw "'$pesterPath' (from $pesterFrom) does not exist." }
    # Another Pester already in the session (Windows PowerShell ships 3.4.0) must not answer for the pinned one.
    Get-Module -Name Pester | Remove-Module -Force
    $pester = Import-Module -Name $pesterPath -PassThru -Force -ErrorAction Stop
    if ($pester.Version -ne $PinnedVersion) {
        throw "'$pesterPath' (from $pesterFrom) is Pester $($pester.Version); the suites are pinned to Pester $PinnedVersion."
    }
}
catch {
    Write-Error "Cannot use Pester: $($_.Exception.Message)" -ErrorAction Continue
    Write-Summary 0 1 0
    exit 1
}

# ---------------------------------------------------------------------------------------------- the suites
if (-not $Path) { $Path = @($PSScriptRoot) }
$suites = New-Object -TypeName System.Collections.Generic.List[string]
foreach ($p in $Path) {
    $full = [IO.Path]::GetFullPath($p, (Get-Location).ProviderPath)
    if (Test-Path -LiteralPath $full -PathType Container) {
        Get-ChildItem -LiteralPath $full -Filter '*.Tests.ps1' -File | Sort-Object -Property Name | ForEach-Object { $suites.Add($_.FullName) }
    }
    elseif (Test-Path -LiteralPath $full -PathType Leaf) { $suites.Add($full) }
    else {
        Write-Error "No suite at '$full'." -ErrorAction Continue
        Write-Summary 0 1 0
        exit 1
    }
}
if ($suites.Count -eq 0) {
    Write-Error "No *.Tests.ps1 file in $($Path -join ', ')." -ErrorAction Continue
    Write-Summary 0 1 0
    exit 1
}
$null = [IO.Directory]::CreateDirectory($OutputDirectory)

Write-Host "Pester $($pester.Version) from $pesterPath; $($suites.Count) suite(s); results in $OutputDirectory"

# Why each skipped test was skipped. A test that skipped itself (Set-ItResult -Skipped -Because) carries its reason; a
# test skipped with its block (-Skip on a Describe or Context, decided at discovery, which gives Pester no reason) gets
# the reasons the suite's own prerequisite test gave. Pester 5.7.1's NUnitXml writer records neither, so the reasons are
# printed here and written into the NUnit file as each skipped test-case's <reason><message>.
function Get-SkipReason($Test, [string[]] $SuiteReasons) {
    $own = @($Test.ErrorRecord) | Where-Object { $_ } | Select-Object -First 1
    if ($own) { return [string]$own }
    $outermost = $null
    for ($b = $Test.Block; $b -and $b.Name -ne 'Root'; $b = $b.Parent) { if ($b.Skip) { $outermost = $b } }
    $where = if ($outermost) { "'$($outermost.Name)' is skipped (-Skip)" } else { 'skipped (-Skip)' }
    if ($SuiteReasons.Count -gt 0) { return "$where; the suite's prerequisite check: $($SuiteReasons -join '; ')" }
    return "$where; the suite gives no reason"
}

# $Reasons: one entry per test of the run, in run order (null for a test that was not skipped). The NUnit writer emits
# the test-cases in that same order (a data-driven test's name there is its template plus data, not its expanded path).
function Add-SkipReason([string] $XmlPath, [object[]] $Reasons) {
    if (-not (Test-Path -LiteralPath $XmlPath)) { return }
    $doc = New-Object -TypeName System.Xml.XmlDocument
    $doc.PreserveWhitespace = $true
    $doc.Load($XmlPath)
    $cases = @($doc.SelectNodes('//test-case'))
    if ($cases.Count -ne $Reasons.Count) {
        Write-Warning "$XmlPath has $($cases.Count) test-cases for $($Reasons.Count) tests; skip reasons not written into it."
        return
    }
    for ($i = 0; $i -lt $cases.Count; $i++) {
        $case = $cases[$i]
        $reason = $Reasons[$i]
        if (-not $reason -or $case.GetAttribute('result') -ne 'Ignored' -or $case.SelectSingleNode('reason')) { continue }
        $element = $doc.CreateElement('reason')
        $message = $doc.CreateElement('message')
        $null = $message.AppendChild($doc.CreateCDataSection($reason))
        $null = $element.AppendChild($message)
        $null = $case.AppendChild($element)
    }
    $doc.Save($XmlPath)
}

$passed = 0; $failed = 0; $skipped = 0
$lines = New-Object -TypeName System.Collections.Generic.List[string]
foreach ($suite in $suites) {
    $name = [IO.Path]::GetFileName($suite) -replace '\.Tests\.ps1$', ''
    $xml = Join-Path -Path $OutputDirectory -ChildPath "$name.xml"
    Remove-Item -LiteralPath $xml -Force -ErrorAction SilentlyContinue

    $config = New-PesterConfiguration
    $config.Run.Path = @($suite)
    $config.Run.Exit = $false
    $config.Run.PassThru = $true
    $config.Output.Verbosity = 'Detailed'
    $config.TestResult.Enabled = $true
    $config.TestResult.OutputFormat = 'NUnitXml'
    $config.TestResult.OutputPath = $xml
    if ($Tag) { $config.Filter.Tag = $Tag }
    if ($ExcludeTag) { $config.Filter.ExcludeTag = $ExcludeTag }

    $clock = [Diagnostics.Stopwatch]::StartNew()
    $result = $null
    try {
        $result = Invoke-Pester -Configuration $config
    }
    catch {
        Write-Host "Invoke-Pester failed on $($suite): $($_.Exception.Message)" -ForegroundColor Red
    }
    $clock.Stop()

    if (-not $result) {
        $failed++
        $lines.Add(("{0}: did not run (Invoke-Pester failed), {1:0.0} s" -f $name, $clock.Elapsed.TotalSeconds))
        continue
    }
    # Failures outside tests: a block whose BeforeAll/AfterAll threw, a container that could not be discovered or run.
    $blockFailures = [int]$result.FailedBlocksCount
    $containerFailures = [int]$result.FailedContainersCount
    $suiteFailed = [int]$result.FailedCount + $blockFailures + $containerFailures
    # A result Pester calls failed always counts as at least one failure, whatever the counts say.
    if ($result.Result -eq 'Failed' -and $suiteFailed -eq 0) { $suiteFailed = 1 }
    $passed += [int]$result.PassedCount
    $failed += $suiteFailed
    $skipped += [int]$result.SkippedCount

    $detail = @()
    foreach ($b in @($result.FailedBlocks)) { $detail += "block '$($b.ExpandedPath)': $(@($b.ErrorRecord)[0])" }
    foreach ($c in @($result.FailedContainers)) { $detail += "container '$($c.Item)': $(@($c.ErrorRecord)[0])" }
    $lines.Add(("{0}: {1} passed, {2} failed ({3} test(s), {4} block(s), {5} container(s)), {6} skipped, {7} not run, {8:0.0} s; {9}" -f
            $name, $result.PassedCount, $suiteFailed, $result.FailedCount, $blockFailures, $containerFailures, $result.SkippedCount,
            $result.NotRunCount, $clock.Elapsed.TotalSeconds, $xml))
    foreach ($d in $detail) { $lines.Add("    $d") }

    $skippedTests = @($result.Skipped)
    if ($skippedTests.Count -gt 0) {
        $suiteReasons = @($skippedTests | ForEach-Object { @($_.ErrorRecord) | Where-Object { $_ } | Select-Object -First 1 } |
                ForEach-Object { ([string]$_) -replace '^is skipped, because ', '' } | Select-Object -Unique)
        $reasons = @(foreach ($t in @($result.Tests)) { if ($t.Skipped) { Get-SkipReason $t $suiteReasons } else { $null } })
        Add-SkipReason $xml $reasons
        foreach ($g in @($reasons | Where-Object { $_ } | Group-Object | Sort-Object Count -Descending)) {
            $lines.Add(("    {0} skipped: {1}" -f $g.Count, $g.Name))
        }
    }
}

Write-Host ''
foreach ($l in $lines) { Write-Host $l }
Write-Summary $passed $failed $skipped
if ($failed -gt 0) { exit 1 }
exit 0
