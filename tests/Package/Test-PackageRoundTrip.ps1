<#
.SYNOPSIS
    The package round trip: install the published VirtualNetworks package in a clean scope, import it by name in a fresh
    pwsh, deploy a two-router network with the installed copy, test it, remove it. Prints one PASS or FAIL line; exits
    non-zero on failure.

.DESCRIPTION
    Run after `./build.sh package` (which writes out/repository/VirtualNetworks.<version>.nupkg). Needs root and QEMU (it
    boots two routers, about a minute on 2 cores under TCG).

      1. A clean scope: a fresh temporary HOME (PSResourceGet keeps its repository list and CurrentUser installs there;
         pwsh's user module folder is under it too), XDG_* folders inside it, PSModulePath set to that scope's module
         folder only (pwsh adds its own system folders), VIRTUALNETWORKS_MODULE and VIRTUALNETWORKS_IMAGE_PATH removed.
      2. In a child pwsh with that scope: Register-PSResourceRepository for the local repository and
         Install-PSResource -Name VirtualNetworks -Repository <it> -Scope CurrentUser.
      3. The router image, as a user gets it (docs/install.md): -ImageMode Install (the default) puts the build's image
         into the per-machine folder /var/lib/virtualnetworks/images with `images/router/build.sh --install --from
         <BuiltImage>` when no router image is installed there, and removes it again at the end; an installed image with
         the same files is used as it is; a different one is left alone and the build's image is named by
         VIRTUALNETWORKS_IMAGE_PATH instead (said in the output). -ImageMode Path always uses VIRTUALNETWORKS_IMAGE_PATH.
      4. In another fresh child pwsh with the same scope and its own VIRTUALNETWORKS_STATE_DIR: `Import-Module
         VirtualNetworks` by name; checks that it loaded from the install location and that no other copy (such as
         out/VirtualNetworks) is visible; names the image folder the installed module resolves; deploys two routers
         joined by a link (random names), waits for Test-VirtualNetwork to pass (bounded), removes the network and
         checks that nothing of it is left.
      5. Removes the scope, the state directory and an image it installed.

.PARAMETER RepositoryPath
    The local repository folder (default: out/repository).

.PARAMETER BuiltImage
    The built router image folder (default: out/images/router).

.PARAMETER ImageMode
    Install (default): the per-machine folder, as a user would. Path: VIRTUALNETWORKS_IMAGE_PATH.

.PARAMETER PwshPath
    The pwsh to start the children with (default: out/tools/pwsh, the pinned one the build restores).

.EXAMPLE
    out/tools/pwsh -NoProfile -File tests/Package/Test-PackageRoundTrip.ps1
#>
[CmdletBinding()]
param(
    [string] $RepositoryPath,
    [string] $BuiltImage,
    [ValidateSet('Install', 'Path')]
    [string] $ImageMode = 'Install',
    [string] $PwshPath
)

Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'

$Root = (Resolve-Path (Join-Path $PSScriptRoot '../..')).ProviderPath
if (-not $RepositoryPath) { $RepositoryPath = Join-Path $Root 'out/repository' }
if (-not $BuiltImage) { $BuiltImage = Join-Path $Root 'out/images/router' }
if (-not $PwshPath) { $PwshPath = Join-Path $Root 'out/tools/pwsh' }
$RepositoryPath = [IO.Path]::GetFullPath($RepositoryPath)
$BuiltImage = [IO.Path]::GetFullPath($BuiltImage)
$MachineImages = '/var/lib/virtualnetworks/images'
$RepositoryName = 'VirtualNetworksLocal'
$clock = [Diagnostics.Stopwatch]::StartNew()

function Write-Step([string] $Message) { Write-Host "==> [$('{0,5:0.0}' -f $clock.Elapsed.TotalSeconds) s] $Message" }

function Get-ImageDigest([string] $Folder) {
    # The image's files, resolved through an installed symbolic link; null when it is no complete image.
    $files = 'vmlinuz', 'initramfs.cpio.gz', 'manifest.json' | ForEach-Object { Join-Path $Folder $_ }
    if (@($files | Where-Object { -not (Test-Path -LiteralPath $_ -PathType Leaf) }).Count) { return $null }
    ($files | ForEach-Object { (Get-FileHash -LiteralPath $_ -Algorithm SHA256).Hash }) -join ','
}

# Runs a script file in a child pwsh with the clean scope's environment; returns its exit code (output goes to the console).
function Invoke-Child([string] $Script, [hashtable] $Environment) {
    $saved = @{}
    foreach ($name in $Environment.Keys) {
        $saved[$name] = [Environment]::GetEnvironmentVariable($name)
        [Environment]::SetEnvironmentVariable($name, $Environment[$name])
    }
    try {
        & $PwshPath -NoProfile -NonInteractive -File $Script | ForEach-Object { Write-Host "    $_" }
        $LASTEXITCODE
    }
    finally {
        foreach ($name in $saved.Keys) { [Environment]::SetEnvironmentVariable($name, $saved[$name]) }
    }
}

$work = Join-Path ([IO.Path]::GetTempPath()) ('vn-pkg-' + [Guid]::NewGuid().ToString('N').Substring(0, 10))
$homeDir = Join-Path $work 'home'
$stateDir = Join-Path $work 'state'
$userModules = Join-Path $homeDir '.local/share/powershell/Modules'
$installedImage = $false
$failure = $null
$summary = ''

try {
    if ($IsWindows) { throw 'The package round trip runs on Linux (it deploys with the Linux backend).' }
    if ((& id -u) -ne '0') { throw 'The package round trip needs root (bridges, taps, QEMU).' }
    $version = (Test-ModuleManifest (Join-Path $Root 'out/VirtualNetworks/VirtualNetworks.psd1')).Version.ToString(3)
    $package = Join-Path $RepositoryPath "VirtualNetworks.$version.nupkg"
    if (-not (Test-Path -LiteralPath $package)) { throw "$package is missing: run ./build.sh package first." }
    if (-not (Get-ImageDigest $BuiltImage)) { throw "The router image $BuiltImage is missing or incomplete: build it (images/router/build.sh)." }

    foreach ($d in $homeDir, (Join-Path $homeDir '.config'), (Join-Path $homeDir '.cache'), $userModules, $stateDir) {
        $null = New-Item -ItemType Directory -Path $d -Force
    }
    # The clean scope. Nothing of the caller's module path, image path or module override reaches the children.
    $scope = @{
        HOME                       = $homeDir
        XDG_DATA_HOME              = Join-Path $homeDir '.local/share'
        XDG_CONFIG_HOME            = Join-Path $homeDir '.config'
        XDG_CACHE_HOME             = Join-Path $homeDir '.cache'
        PSModulePath               = $userModules
        POWERSHELL_TELEMETRY_OPTOUT = '1'
        POWERSHELL_UPDATECHECK     = 'Off'
        VIRTUALNETWORKS_MODULE     = $null
        VIRTUALNETWORKS_IMAGE_PATH = $null
        VIRTUALNETWORKS_STATE_DIR  = $stateDir
        VN_PKG_REPOSITORY          = $RepositoryPath
        VN_PKG_REPOSITORY_NAME     = $RepositoryName
        VN_PKG_VERSION             = $version
        VN_PKG_MODULES             = $userModules
    }

    # ---- install ------------------------------------------------------------------------------------------------
    Write-Step "Install-PSResource VirtualNetworks $version from $RepositoryPath into a clean scope ($homeDir)"
    $install = Join-Path $work 'install.ps1'
    Set-Content -LiteralPath $install -Encoding utf8 -Value @'
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
Register-PSResourceRepository -Name $env:VN_PKG_REPOSITORY_NAME -Uri $env:VN_PKG_REPOSITORY -Trusted
$r = Install-PSResource -Name VirtualNetworks -Version $env:VN_PKG_VERSION -Repository $env:VN_PKG_REPOSITORY_NAME -Scope CurrentUser -TrustRepository -PassThru
"installed $($r.Name) $($r.Version) into $($r.InstalledLocation)"
if (-not (Test-Path -LiteralPath (Join-Path $env:VN_PKG_MODULES "VirtualNetworks/$env:VN_PKG_VERSION/VirtualNetworks.psd1"))) {
    throw "Install-PSResource did not put VirtualNetworks $env:VN_PKG_VERSION under $env:VN_PKG_MODULES."
}
'@
    if ((Invoke-Child $install $scope) -ne 0) { throw 'Install-PSResource failed (see above).' }

    # ---- the image ------------------------------------------------------------------------------------------------
    $wanted = Get-ImageDigest $BuiltImage
    if ($ImageMode -eq 'Install') {
        $present = Get-ImageDigest (Join-Path $MachineImages 'router')
        if (-not $present) {
            Write-Step "Installing the router image into the per-machine folder: images/router/build.sh --install --from $BuiltImage"
            & bash (Join-Path $Root 'images/router/build.sh') --install --from $BuiltImage $MachineImages 2>&1 | ForEach-Object { Write-Host "    $_" }
            if ($LASTEXITCODE -ne 0) { throw 'images/router/build.sh --install failed.' }
            $installedImage = $true
        }
        elseif ($present -eq $wanted) {
            Write-Step "The per-machine folder already has this router image ($MachineImages/router)"
        }
        else {
            Write-Step "The per-machine folder has another router image ($MachineImages/router): left alone; VIRTUALNETWORKS_IMAGE_PATH names the build's"
            $scope.VIRTUALNETWORKS_IMAGE_PATH = Split-Path $BuiltImage -Parent
        }
    }
    else {
        Write-Step "VIRTUALNETWORKS_IMAGE_PATH=$(Split-Path $BuiltImage -Parent)"
        $scope.VIRTUALNETWORKS_IMAGE_PATH = Split-Path $BuiltImage -Parent
    }
    $scope.VN_PKG_IMAGE_DIGEST = $wanted

    # ---- use --------------------------------------------------------------------------------------------------------
    $prefix = 'pkg' + [Guid]::NewGuid().ToString('N').Substring(0, 6)
    $scope.VN_PKG_PREFIX = $prefix
    Write-Step "A fresh pwsh: Import-Module VirtualNetworks by name; deploy, test and remove '$prefix' (2 routers)"
    $use = Join-Path $work 'use.ps1'
    Set-Content -LiteralPath $use -Encoding utf8 -Value @'
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$prefix = $env:VN_PKG_PREFIX
$expected = Join-Path $env:VN_PKG_MODULES 'VirtualNetworks'
$visible = @(Get-Module -ListAvailable -Name VirtualNetworks)
$elsewhere = @($visible | Where-Object { -not $_.ModuleBase.StartsWith($expected + [IO.Path]::DirectorySeparatorChar) })
if ($elsewhere) { throw "another copy of VirtualNetworks is importable: $($elsewhere.ModuleBase -join ', ')" }
Import-Module VirtualNetworks
$module = Get-Module VirtualNetworks
if (-not $module.ModuleBase.StartsWith($expected + [IO.Path]::DirectorySeparatorChar)) { throw "imported from $($module.ModuleBase), not from $expected" }
"imported VirtualNetworks $($module.Version) from $($module.ModuleBase)"
# The installed copy's own image lookup (its VirtualNetworks.Linux.dll, loaded from the install location).
$linux = [Reflection.Assembly]::LoadFrom((Join-Path $module.ModuleBase 'VirtualNetworks.Linux.dll'))
if (-not $linux.Location.StartsWith($expected)) { throw "VirtualNetworks.Linux.dll came from $($linux.Location)" }
$image = $linux.GetType('VirtualNetworks.Linux.ImageLocator', $true)::new($env:VIRTUALNETWORKS_STATE_DIR).Find('router')
if (-not $image) { throw "the installed module finds no router image" }
"the installed module resolves the image 'router' to $($image.Directory)"
$digest = ('vmlinuz', 'initramfs.cpio.gz', 'manifest.json' | ForEach-Object { (Get-FileHash -LiteralPath (Join-Path $image.Directory $_) -Algorithm SHA256).Hash }) -join ','
if ($digest -ne $env:VN_PKG_IMAGE_DIGEST) { throw "the image found ($($image.Directory)) is not the build's" }

$topology = Join-Path $env:VIRTUALNETWORKS_STATE_DIR "$prefix.json"
@{
    routers = @(
        @{ name = "$prefix-r1"; network = $prefix; addressFamily = 'IPv4' }
        @{ name = "$prefix-r2"; network = $prefix; addressFamily = 'IPv4' }
    )
    links   = @(@{ from = "$prefix-r1"; to = "$prefix-r2" })
} | ConvertTo-Json -Depth 4 | Set-Content -LiteralPath $topology -Encoding utf8
try {
    $deploy = Deploy-VirtualNetwork -Path $topology -Confirm:$false
    "deployed: $($deploy.Changes) changes in $([math]::Round($deploy.Duration.TotalSeconds, 1)) s"
    $routers = @(Get-VirtualRouter | Where-Object Name -like "$prefix-*")
    if ($routers.Count -ne 2 -or @($routers | Where-Object State -ne 'Running').Count) {
        throw "expected 2 running routers, got: $(($routers | ForEach-Object { "$($_.Name)=$($_.State)" }) -join ', ')"
    }
    # The probes wait for the guests; a few more tries while they come up (bounded).
    $deadline = [DateTime]::UtcNow.AddSeconds(180)
    do {
        $test = Test-VirtualNetwork -Name $prefix
        "Test-VirtualNetwork: $test"
        if ($test.Passed) { break }
        Start-Sleep -Seconds 5
    } while ([DateTime]::UtcNow -lt $deadline)
    if (-not $test.Passed) { throw "Test-VirtualNetwork did not pass: $test" }
}
finally {
    Remove-VirtualNetwork -Name $prefix -Confirm:$false -ErrorAction Continue
}
$left = @(Get-VirtualRouter | Where-Object Name -like "$prefix-*") + @(Get-VirtualLink | Where-Object Name -like "*$prefix*")
if ($left) { throw "left after Remove-VirtualNetwork: $($left.Name -join ', ')" }
"removed; nothing of $prefix is left"
'@
    if ((Invoke-Child $use $scope) -ne 0) { throw 'The installed module failed to deploy, test or remove the network (see above).' }
    $summary = "VirtualNetworks $version installed with Install-PSResource, imported by name, 2 routers deployed, tested and removed"
}
catch {
    $failure = $_.Exception.Message
}
finally {
    if ($installedImage) {
        & bash (Join-Path $Root 'images/router/build.sh') --uninstall $MachineImages 2>&1 | ForEach-Object { Write-Host "    $_" }
    }
    # What the child could not remove stays with its state directory, for a person to look at (and remove with the
    # module: VIRTUALNETWORKS_STATE_DIR=<it> Remove-VirtualNetwork); the rest of the scope goes.
    $leftovers = @(Get-ChildItem -LiteralPath (Join-Path $stateDir 'routers'), (Join-Path $stateDir 'links') -Filter '*.json' -ErrorAction SilentlyContinue)
    if ($leftovers.Count) {
        Write-Warning "still recorded in ${stateDir}: $($leftovers.Name -join ', '); the state directory is kept"
        if (-not $failure) { $failure = "left $($leftovers.Count) records in $stateDir" }
        Remove-Item -LiteralPath $homeDir -Recurse -Force -ErrorAction SilentlyContinue
    }
    elseif (Test-Path -LiteralPath $work) {
        Remove-Item -LiteralPath $work -Recurse -Force -ErrorAction SilentlyContinue
    }
}

$seconds = '{0:0.0}' -f $clock.Elapsed.TotalSeconds
if ($failure) {
    Write-Host "Package round trip: FAIL after $seconds s: $failure"
    exit 1
}
Write-Host "Package round trip: PASS in $seconds s: $summary"
exit 0
