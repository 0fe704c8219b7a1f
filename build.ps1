<#
.SYNOPSIS
    Builds, stages, documents and tests the VirtualNetworks module.

.DESCRIPTION
    Steps, in order (build.sh runs the same ones on machines without pwsh):
      0. restore the pinned tools: PowerShell (a local .NET tool, .config/dotnet-tools.json) and Pester
         (tools/Pester/Pester.Restore.csproj); write out/tools/pwsh (out/tools/pwsh.cmd on Windows), a launcher of the
         restored pwsh, and out/tools/pester.path, the path of the restored Pester manifest
      1. dotnet build VirtualNetworks.sln
      2. dotnet publish the cmdlet project (VirtualNetworks.dll with its dependencies) to out/.publish
      3. stage out/VirtualNetworks/: the manifest with ModuleVersion stamped from Directory.Build.props and
         ReleaseNotes from CHANGELOG.md (the section of that version, else [Unreleased]), VirtualNetworks.dll,
         VirtualNetworks.Core.dll, VirtualNetworks.Linux.dll, VirtualNetworks.HyperV.dll, Newtonsoft.Json.dll,
         VirtualNetworks.format.ps1xml, LICENSE
      4. generate en-US/VirtualNetworks.dll-Help.xml and en-US/about_VirtualNetworks.help.txt from docs/help
         with tools/HelpGen (fails on any undocumented cmdlet, section or parameter)
      5. check the staged tree against tools/expected-files.txt (missing and unlisted files both fail)
      6. with -Package: publish out/VirtualNetworks with Publish-PSResource into the local repository out/repository
         (tools/Publish-Package.ps1, run in the restored pwsh): out/repository/VirtualNetworks.<version>.nupkg
      7. with -Test: on Linux, install the Debian packages the Linux backend needs (qemu-system-x86, iproute2,
         busybox-static; as root, with apt-get) and build the router image out/images/router with
         images/router/build.sh when it is missing or older than its recipe;
         then dotnet test VirtualNetworks.sln, and print "N passed, N failed, N skipped"
    build.sh runs the same steps; both stage the same bytes.

.PARAMETER Configuration
    Debug (default) or Release.

.PARAMETER Clean
    Runs dotnet clean and removes out/ and TestResults/ instead of building.

.PARAMETER Test
    Builds and stages, then runs every test project.

.PARAMETER Package
    Builds and stages, then publishes the package into out/repository (tools/Publish-Package.ps1).

.EXAMPLE
    ./build.ps1 -Configuration Release -Test

.EXAMPLE
    out/tools/pwsh -NoProfile -File ./build.ps1 -Package
#>
[CmdletBinding()]
param(
    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Debug',

    [switch] $Clean,

    [switch] $Test,

    [switch] $Package
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
$Tools = Join-Path $Root 'out/tools'
$PwshVersionFile = Join-Path $Root '.config/dotnet-tools.json'
$PesterProject = Join-Path $Root 'tools/Pester/Pester.Restore.csproj'
$Quiet = @('-nologo', '-v', 'quiet', '-clp:NoSummary', '--tl:off')
# $IsWindows does not exist in Windows PowerShell 5.1 (which only runs on Windows).
$OnWindows = if ($PSVersionTable.PSEdition -eq 'Desktop') { $true } else { [bool] $IsWindows }

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

function Install-Tool {
    # The pinned pwsh and Pester, restored from NuGet; out/tools/pwsh (pwsh.cmd on Windows) launches that pwsh.
    Write-Step 'Restoring tools (pwsh, Pester)'
    $null = & dotnet tool restore
    if ($LASTEXITCODE -ne 0) { throw "dotnet tool restore failed (PowerShell, $PwshVersionFile)." }
    Invoke-Dotnet restore $PesterProject @Quiet
    $packages = (@(& dotnet nuget locals global-packages -l) | Where-Object { $_ -like 'global-packages: *' } | Select-Object -First 1)
    if ($LASTEXITCODE -ne 0 -or -not $packages) { throw 'dotnet nuget locals global-packages -l failed.' }
    $packages = $packages.Substring('global-packages: '.Length).Trim().TrimEnd('/', '\')
    $pwshVersion = (Get-Content -LiteralPath $PwshVersionFile -Raw | ConvertFrom-Json).tools.powershell.version
    $pesterMatch = [regex]::Match((Get-Content -LiteralPath $PesterProject -Raw), 'PackageDownload Include="Pester" Version="\[([^\]]*)\]"')
    if (-not $pwshVersion -or -not $pesterMatch.Success) { throw "Cannot read the pinned versions ($PwshVersionFile, $PesterProject)." }
    $pesterVersion = $pesterMatch.Groups[1].Value
    $pwshDir = [IO.Path]::Combine($packages, 'powershell', $pwshVersion, 'tools', 'net10.0', 'any', $(if ($OnWindows) { 'win' } else { 'unix' }))
    $pester = [IO.Path]::Combine($packages, 'pester', $pesterVersion, 'tools', 'Pester.psd1')
    if (-not (Test-Path -LiteralPath (Join-Path $pwshDir 'pwsh.dll'))) { throw "pwsh $pwshVersion was restored but $pwshDir/pwsh.dll is missing." }
    if (-not (Test-Path -LiteralPath $pester)) { throw "Pester $pesterVersion was restored but $pester is missing." }
    $null = New-Item -ItemType Directory -Path $Tools -Force
    $utf8 = New-Object System.Text.UTF8Encoding($false)
    if ($OnWindows) {
        [IO.File]::WriteAllText((Join-Path $Tools 'pwsh.cmd'), "@rem pwsh $pwshVersion restored by build.ps1 (dotnet tool restore)`r`n@dotnet `"$pwshDir\pwsh.dll`" %*`r`n", $utf8)
    }
    else {
        $launcher = Join-Path $Tools 'pwsh'
        [IO.File]::WriteAllText($launcher, "#!/bin/sh`n# pwsh $pwshVersion restored by build.ps1 (dotnet tool restore); written by build.ps1`nexec dotnet `"$pwshDir/pwsh.dll`" `"`$@`"`n", $utf8)
        & chmod 755 $launcher
        if ($LASTEXITCODE -ne 0) { throw "chmod 755 $launcher failed." }
    }
    [IO.File]::WriteAllText((Join-Path $Tools 'pester.path'), "$pester`n", $utf8)
}

function Get-PwshLauncher {
    Join-Path $Tools $(if ($OnWindows) { 'pwsh.cmd' } else { 'pwsh' })
}

# The section "## [<version>]" of CHANGELOG.md, else "## [Unreleased]", without the blank lines around it, joined with
# LF (build.sh's stamp_release_notes does the same, byte for byte).
function Get-ReleaseNote([string] $Version) {
    $lines = [IO.File]::ReadAllText((Join-Path $Root 'CHANGELOG.md')).Replace("`r`n", "`n").Split("`n")
    foreach ($heading in "## [$Version]", '## [Unreleased]') {
        $start = -1
        for ($i = 0; $i -lt $lines.Count; $i++) {
            if ($lines[$i].StartsWith($heading, [StringComparison]::Ordinal)) { $start = $i; break }
        }
        if ($start -lt 0) { continue }
        $end = $start + 1
        while ($end -lt $lines.Count -and -not $lines[$end].StartsWith('## ', [StringComparison]::Ordinal)) { $end++ }
        $first = $start + 1
        $last = $end - 1
        while ($first -le $last -and -not $lines[$first].Trim()) { $first++ }
        while ($last -ge $first -and -not $lines[$last].Trim()) { $last-- }
        if ($first -le $last) { return ($lines[$first..$last] -join "`n") }
    }
    throw "CHANGELOG.md has no section '## [$Version]' nor '## [Unreleased]' for the ReleaseNotes."
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
    Install-Tool
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
    # ReleaseNotes: the CHANGELOG section, in a single-quoted string (every quote character PowerShell ends one with doubled).
    $notesPlaceholder = "(?m)^([ \t]*ReleaseNotes[ \t]*=[ \t]*)'Stamped at staging from CHANGELOG\.md\.'[ \t]*$"
    if ($stamped -notmatch $notesPlaceholder) {
        throw "VirtualNetworks.psd1 must hold the line ReleaseNotes = 'Stamped at staging from CHANGELOG.md.'"
    }
    $notes = (Get-ReleaseNote $version) -replace "['\u2018\u2019\u201A\u201B]", '$0$0'
    $stamped = [regex]::Replace($stamped, $notesPlaceholder, { param($m) $m.Groups[1].Value + "'" + $notes + "'" })
    [IO.File]::WriteAllText((Join-Path $Stage 'VirtualNetworks.psd1'), $stamped, (New-Object System.Text.UTF8Encoding($false)))
    Copy-Item -LiteralPath (Join-Path $Root 'LICENSE') -Destination $Stage

    foreach ($file in 'VirtualNetworks.dll', 'VirtualNetworks.Core.dll', 'VirtualNetworks.Linux.dll', 'VirtualNetworks.HyperV.dll', 'Newtonsoft.Json.dll') {
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

# Debian packages the Linux backend needs at run time; images/router/build.sh installs its own (kernel, cpio, ...).
$AptPackages = @('qemu-system-x86', 'iproute2', 'busybox-static')
$ImageDirectory = Join-Path $Root 'out/images/router'
# The files of the recipe that go into the image (README.md and selftest.sh do not).
$ImageInputs = @('images/router/build.sh', 'images/router/build-vhdx.sh', 'images/router/bird-stage.sh', 'images/router/bird-ospf.patch', 'images/router/init', 'images/router/vn-probe.c', 'images/router/vn-portwait.c', 'images/router/vn-route.c', 'images/router/vn-decimal.h', 'images/router/kernel/build-kernel.sh', 'images/router/kernel/router.config') |
    ForEach-Object { Join-Path $Root $_ }
# Relative to the image folder: the Hyper-V image (router.vhdx) is written next to it, in out/images.
$ImageOutputs = @('vmlinuz', 'initramfs.cpio.gz', 'manifest.json', '../router.vhdx', '../router.vhdx.json')
# $IsLinux does not exist in Windows PowerShell 5.1 (and strict mode refuses unknown variables).
$OnLinux = [bool](Get-Variable -Name IsLinux -ValueOnly -ErrorAction SilentlyContinue)

function Test-LinuxRoot {
    $OnLinux -and ((& id -u) -eq '0')
}

function Install-Prerequisite {
    # Linux only. Missing packages are installed as root; otherwise a warning (the tests that need them skip, or fail
    # when CI=true).
    if (-not $OnLinux) { return }
    if (-not (Get-Command dpkg-query -CommandType Application -ErrorAction SilentlyContinue)) { return }
    $missing = @($AptPackages | Where-Object {
            $status = & dpkg-query -W '-f=${Status}' $_ 2>$null
            $status -notmatch 'install ok installed'
        })
    if ($missing.Count -eq 0) { return }
    if (-not (Test-LinuxRoot)) {
        Write-Warning "Missing packages: $($missing -join ', ') (install them with apt-get, or run as root); the tests that need them will be skipped."
        return
    }
    Write-Step "Installing $($missing -join ' ')"
    $env:DEBIAN_FRONTEND = 'noninteractive'
    & apt-get update -qq
    if ($LASTEXITCODE -ne 0) { throw 'apt-get update failed.' }
    & apt-get install -y -qq --no-install-recommends @missing
    if ($LASTEXITCODE -ne 0) { throw "apt-get install $($missing -join ' ') failed." }
}

function Test-RouterImageStale {
    foreach ($name in $ImageOutputs) {
        $output = Join-Path $ImageDirectory $name
        if (-not (Test-Path -LiteralPath $output -PathType Leaf)) { return $true }
        $built = (Get-Item -LiteralPath $output).LastWriteTimeUtc
        foreach ($source in $ImageInputs) {
            if ((Get-Item -LiteralPath $source).LastWriteTimeUtc -gt $built) { return $true }
        }
    }
    $false
}

function Build-RouterImage {
    # Linux only: out/images/router from images/router/build.sh (as root) when missing or stale.
    if (-not $OnLinux -or -not (Test-RouterImageStale)) { return }
    if (-not (Test-LinuxRoot)) {
        Write-Warning "The router image $ImageDirectory is missing or stale; build it as root (sudo images/router/build.sh). The tests that need it will be skipped."
        return
    }
    Write-Step "Building the router image (images/router/build.sh -> out/images/router)"
    & bash (Join-Path $Root 'images/router/build.sh') $ImageDirectory
    if ($LASTEXITCODE -ne 0) { throw 'images/router/build.sh failed.' }
    if (Test-RouterImageStale) { throw "images/router/build.sh did not produce $($ImageOutputs -join ', ') in $ImageDirectory." }
}

function Invoke-Package {
    Write-Step 'Publishing the package (tools/Publish-Package.ps1 -> out/repository)'
    # In the restored pwsh (PSResourceGet ships with it), whatever PowerShell runs this build.
    $env:POWERSHELL_TELEMETRY_OPTOUT = '1'
    & (Get-PwshLauncher) -NoProfile -NonInteractive -File (Join-Path $Root 'tools/Publish-Package.ps1') `
        -ModulePath $Stage -RepositoryPath (Join-Path $Root 'out/repository')
    if ($LASTEXITCODE -ne 0) { throw 'Publishing the package failed.' }
}

function Invoke-Test {
    Write-Step "Testing ($Configuration)"
    if (Test-Path -LiteralPath $Results) { Remove-Item -LiteralPath $Results -Recurse -Force }
    # The module tests import the staged module.
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
    if ($Test) {
        Install-Prerequisite
        Build-RouterImage
    }
    Invoke-Build
    if ($Package) {
        Invoke-Package
    }
    if ($Test) {
        Invoke-Test
    }
}
finally {
    Pop-Location
}
