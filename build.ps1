<#
.SYNOPSIS
    Builds, stages, documents and tests the VirtualNetworks module.

.DESCRIPTION
    Steps, in order (build.sh runs the same ones on machines without pwsh):
      1. dotnet build VirtualNetworks.sln
      2. dotnet publish the cmdlet project (VirtualNetworks.dll with its dependencies) to out/.publish
      3. stage out/VirtualNetworks/: the manifest with ModuleVersion stamped from Directory.Build.props,
         VirtualNetworks.dll, VirtualNetworks.Core.dll, Newtonsoft.Json.dll, VirtualNetworks.format.ps1xml
      4. generate en-US/VirtualNetworks.dll-Help.xml and en-US/about_VirtualNetworks.help.txt from docs/help
         with tools/HelpGen (fails on any undocumented cmdlet, section or parameter)
      5. check the staged tree against tools/expected-files.txt (missing and unlisted files both fail)
      6. with -Test: dotnet test VirtualNetworks.sln, then print "N passed, N failed, N skipped"

.PARAMETER Configuration
    Debug (default) or Release.

.PARAMETER Clean
    Runs dotnet clean and removes out/ and TestResults/ instead of building.

.PARAMETER Test
    Builds and stages, then runs every test project.

.EXAMPLE
    ./build.ps1 -Configuration Release -Test
#>
[CmdletBinding()]
param(
    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Debug',

    [switch] $Clean,

    [switch] $Test
)

Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'

$Root = $PSScriptRoot
$Solution = Join-Path $Root 'VirtualNetworks.sln'
$ModuleProject = Join-Path $Root 'src/VirtualNetworks/VirtualNetworks.csproj'
$HelpGenProject = Join-Path $Root 'tools/HelpGen/HelpGen.csproj'
$Stage = Join-Path $Root 'out/VirtualNetworks'
$Publish = Join-Path $Root 'out/.publish'
$Expected = Join-Path $Root 'tools/expected-files.txt'
$Results = Join-Path $Root 'TestResults'
$Quiet = @('-nologo', '-v', 'quiet', '-clp:NoSummary', '--tl:off')

$env:DOTNET_NOLOGO = '1'
$env:DOTNET_CLI_TELEMETRY_OPTOUT = '1'

function Write-Step([string] $Message) {
    Write-Host "==> $Message"
}

function Invoke-Dotnet {
    # Runs dotnet with the given arguments; a non-zero exit code stops the build.
    & dotnet @args
    if ($LASTEXITCODE -ne 0) {
        throw "dotnet $($args -join ' ') failed with exit code $LASTEXITCODE."
    }
}

function Get-MSBuildProperty([string] $Project, [string] $Name) {
    $value = & dotnet msbuild $Project -nologo "-getProperty:$Name" "-p:Configuration=$Configuration"
    if ($LASTEXITCODE -ne 0) {
        throw "Could not read the MSBuild property $Name of $Project."
    }
    ($value | Out-String).Trim()
}

function Invoke-Clean {
    Write-Step 'Cleaning'
    foreach ($c in 'Debug', 'Release') {
        Invoke-Dotnet clean $Solution @Quiet -c $c
    }
    foreach ($dir in (Join-Path $Root 'out'), $Results) {
        if (Test-Path -LiteralPath $dir) {
            Remove-Item -LiteralPath $dir -Recurse -Force
        }
    }
}

function Test-StagedTree {
    $expectedFiles = @(Get-Content -LiteralPath $Expected |
        ForEach-Object { $_.Trim() } |
        Where-Object { $_ -and -not $_.StartsWith('#') } |
        Sort-Object)
    $prefix = (Resolve-Path -LiteralPath $Stage).ProviderPath.TrimEnd('\', '/') + [IO.Path]::DirectorySeparatorChar
    $actualFiles = @(Get-ChildItem -LiteralPath $Stage -Recurse -File |
        ForEach-Object { $_.FullName.Substring($prefix.Length).Replace('\', '/') } |
        Sort-Object)
    $missing = @($expectedFiles | Where-Object { $actualFiles -cnotcontains $_ })
    $unexpected = @($actualFiles | Where-Object { $expectedFiles -cnotcontains $_ })
    if ($missing.Count -or $unexpected.Count) {
        $lines = @()
        if ($missing.Count) { $lines += "missing from out/VirtualNetworks:"; $lines += $missing | ForEach-Object { "  - $_" } }
        if ($unexpected.Count) { $lines += "not in tools/expected-files.txt but staged:"; $lines += $unexpected | ForEach-Object { "  - $_" } }
        throw ($lines -join [Environment]::NewLine)
    }
}

function Invoke-Build {
    Write-Step "Building VirtualNetworks.sln ($Configuration)"
    Invoke-Dotnet build $Solution @Quiet -c $Configuration

    Write-Step 'Publishing the cmdlet assembly with its dependencies'
    if (Test-Path -LiteralPath $Publish) { Remove-Item -LiteralPath $Publish -Recurse -Force }
    Invoke-Dotnet publish $ModuleProject @Quiet -c $Configuration --no-build -o $Publish

    Write-Step 'Staging out/VirtualNetworks'
    $version = Get-MSBuildProperty $ModuleProject 'VersionPrefix'
    if (-not $version) { throw 'VersionPrefix is empty (Directory.Build.props).' }
    if (Test-Path -LiteralPath $Stage) { Remove-Item -LiteralPath $Stage -Recurse -Force }
    $null = New-Item -ItemType Directory -Path (Join-Path $Stage 'en-US') -Force

    # The manifest: the source one with ModuleVersion '0.0.0' replaced by the version.
    $placeholder = "(?m)^(\s*ModuleVersion\s*=\s*)'0\.0\.0'"
    $manifest = [IO.File]::ReadAllText((Join-Path $Root 'VirtualNetworks.psd1'))
    if ($manifest -notmatch $placeholder) {
        throw "VirtualNetworks.psd1 must hold the line ModuleVersion = '0.0.0' (the placeholder stamped at staging)."
    }
    $stamped = [regex]::Replace($manifest, $placeholder, "`${1}'$version'")
    [IO.File]::WriteAllText((Join-Path $Stage 'VirtualNetworks.psd1'), $stamped, (New-Object System.Text.UTF8Encoding($false)))

    foreach ($file in 'VirtualNetworks.dll', 'VirtualNetworks.Core.dll', 'Newtonsoft.Json.dll') {
        $source = Join-Path $Publish $file
        if (Test-Path -LiteralPath $source) { Copy-Item -LiteralPath $source -Destination $Stage }
    }
    $format = Join-Path $Root 'src/VirtualNetworks/VirtualNetworks.format.ps1xml'
    if (Test-Path -LiteralPath $format) { Copy-Item -LiteralPath $format -Destination $Stage }

    Write-Step 'Generating help (docs/help -> out/VirtualNetworks/en-US)'
    $helpGen = Get-MSBuildProperty $HelpGenProject 'TargetPath'
    $assembly = Join-Path $Publish 'VirtualNetworks.dll'
    if (-not (Test-Path -LiteralPath $assembly)) { throw "$assembly was not produced." }
    & dotnet $helpGen --assembly $assembly --help-dir (Join-Path $Root 'docs/help') --out (Join-Path $Stage 'en-US')
    if ($LASTEXITCODE -ne 0) {
        throw 'Help generation failed (see the gaps above; format: docs/help-format.md).'
    }

    Test-StagedTree
    Write-Step "Staged out/VirtualNetworks (version $version)"
}

function Invoke-Test {
    Write-Step "Testing ($Configuration)"
    if (Test-Path -LiteralPath $Results) { Remove-Item -LiteralPath $Results -Recurse -Force }
    # The module tests import the staged module; vnpwsh honours the same variable.
    $env:VIRTUALNETWORKS_MODULE = Join-Path $Stage 'VirtualNetworks.psd1'
    & dotnet test $Solution -nologo -c $Configuration --no-build --tl:off -v quiet --logger trx --results-directory $Results
    $testExit = $LASTEXITCODE

    $passed = 0; $failed = 0; $skipped = 0
    $trxFiles = @(Get-ChildItem -LiteralPath $Results -Filter '*.trx' -File -ErrorAction SilentlyContinue)
    foreach ($trx in $trxFiles) {
        $counters = ([xml](Get-Content -LiteralPath $trx.FullName -Raw)).TestRun.ResultSummary.Counters
        # failed = failed + error + timeout + aborted; skipped = total - executed (xunit's skips are not in notExecuted).
        $passed += [int]$counters.passed
        $failed += [int]$counters.failed + [int]$counters.error + [int]$counters.timeout + [int]$counters.aborted
        $skipped += [int]$counters.total - [int]$counters.executed
    }
    if ($trxFiles.Count -eq 0) {
        Write-Warning "No test results were written to $Results."
        if ($testExit -eq 0) { $testExit = 1 }
    }
    if ($testExit -ne 0 -and $failed -eq 0) {
        Write-Warning "dotnet test failed (exit $testExit) without failed test results; see its output above."
    }
    Write-Host "$passed passed, $failed failed, $skipped skipped"
    if ($failed -ne 0 -or $testExit -ne 0) {
        throw 'Tests failed.'
    }
}

Push-Location $Root
try {
    if ($Clean) {
        Invoke-Clean
        return
    }
    Invoke-Build
    if ($Test) {
        Invoke-Test
    }
}
finally {
    Pop-Location
}
