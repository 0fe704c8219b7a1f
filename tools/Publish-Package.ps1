<#
.SYNOPSIS
    Publishes the staged module into a local PSResourceGet repository: out/repository/VirtualNetworks.<version>.nupkg.

.DESCRIPTION
    Called by `./build.sh package` and `./build.ps1 -Package` after the module is built and staged in out/VirtualNetworks.
      1. Test-ModuleManifest on the staged manifest (what the PowerShell Gallery checks first).
      2. Registers the folder -RepositoryPath as the PSResourceGet repository -RepositoryName (a file repository, trusted:
         it holds only what this build put there) for the current user. An existing registration of that name that points
         elsewhere is replaced; no other repository is read or changed, and PSGallery's trust is left as it is.
      3. Removes an older package of the same version from that folder, then Publish-PSResource -Path <module>.
      4. Checks that <RepositoryPath>/VirtualNetworks.<version>.nupkg exists and writes its path.

    Afterwards a user installs the package like any other:
        Install-PSResource -Name VirtualNetworks -Repository VirtualNetworksLocal
    (tests/Package/Test-PackageRoundTrip.ps1 does that in a clean scope and deploys a network with the installed copy.)

.PARAMETER ModulePath
    The staged module folder (default: out/VirtualNetworks).

.PARAMETER RepositoryPath
    The folder of the local repository (default: out/repository); created when missing.

.PARAMETER RepositoryName
    The name the repository is registered under (default: VirtualNetworksLocal).

.PARAMETER PassThru
    Writes the .nupkg (a FileInfo) to the pipeline.

.OUTPUTS
    System.IO.FileInfo: the .nupkg, with -PassThru.

.EXAMPLE
    out/tools/pwsh -NoProfile -File tools/Publish-Package.ps1
#>
[CmdletBinding()]
[OutputType([System.IO.FileInfo])]
param(
    [ValidateNotNullOrEmpty()]
    [string] $ModulePath = (Join-Path (Split-Path $PSScriptRoot -Parent) 'out/VirtualNetworks'),

    [ValidateNotNullOrEmpty()]
    [string] $RepositoryPath = (Join-Path (Split-Path $PSScriptRoot -Parent) 'out/repository'),

    [ValidatePattern('^[A-Za-z0-9][A-Za-z0-9._-]*$')]
    [string] $RepositoryName = 'VirtualNetworksLocal',

    # Writes the .nupkg's FileInfo to the pipeline.
    [switch] $PassThru
)

Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'

$ModulePath = [IO.Path]::GetFullPath($ModulePath)
$RepositoryPath = [IO.Path]::GetFullPath($RepositoryPath)
$manifestPath = Join-Path $ModulePath 'VirtualNetworks.psd1'
if (-not (Test-Path -LiteralPath $manifestPath -PathType Leaf)) {
    throw "The staged module is missing ($manifestPath): build and stage it first (./build.sh build or ./build.ps1)."
}

Write-Host "==> Test-ModuleManifest $manifestPath"
$module = Test-ModuleManifest -Path $manifestPath
$version = $module.Version.ToString(3)
$package = Join-Path $RepositoryPath "VirtualNetworks.$version.nupkg"

Write-Host "==> Registering the PSResourceGet repository '$RepositoryName' -> $RepositoryPath"
$null = New-Item -ItemType Directory -Path $RepositoryPath -Force
$existing = Get-PSResourceRepository -Name $RepositoryName -ErrorAction SilentlyContinue
if ($existing) {
    $registered = if ($existing.Uri.IsFile) { [IO.Path]::GetFullPath($existing.Uri.LocalPath).TrimEnd('/', '\') } else { $null }
    if ($registered -ne $RepositoryPath.TrimEnd('/', '\')) {
        Write-Host "    '$RepositoryName' pointed at $($existing.Uri); registering it again for $RepositoryPath"
        Unregister-PSResourceRepository -Name $RepositoryName
        $existing = $null
    }
    elseif (-not $existing.Trusted) {
        Set-PSResourceRepository -Name $RepositoryName -Trusted
    }
}
if (-not $existing) {
    Register-PSResourceRepository -Name $RepositoryName -Uri $RepositoryPath -Trusted
}

Write-Host "==> Publish-PSResource -Path $ModulePath -Repository $RepositoryName"
if (Test-Path -LiteralPath $package) { Remove-Item -LiteralPath $package -Force }
# NuGet, inside Publish-PSResource, writes NuGet/NuGet.Config under the process's current directory when the user's
# configuration folder does not exist: let that be out/, never the caller's folder.
$scratch = Join-Path (Split-Path $RepositoryPath -Parent) '.psresourceget'
$null = New-Item -ItemType Directory -Path $scratch -Force
$savedDirectory = [Environment]::CurrentDirectory
try {
    [Environment]::CurrentDirectory = $scratch
    Publish-PSResource -Path $ModulePath -Repository $RepositoryName
}
finally {
    [Environment]::CurrentDirectory = $savedDirectory
}

if (-not (Test-Path -LiteralPath $package -PathType Leaf)) {
    throw "Publish-PSResource reported no error but $package was not written."
}
$item = Get-Item -LiteralPath $package
Write-Host "==> Published $($item.FullName) ($([math]::Round($item.Length / 1KB)) KB)"
if ($PassThru) { $item }
