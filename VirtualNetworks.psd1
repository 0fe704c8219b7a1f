# Source manifest of the VirtualNetworks module.
# ModuleVersion stays '0.0.0' here: the version lives only in Directory.Build.props (<VersionPrefix>)
# and build.ps1 / build.sh stamp it into the staged copy, out/VirtualNetworks/VirtualNetworks.psd1.
# ReleaseNotes is stamped there too: the section of CHANGELOG.md for that version, else its [Unreleased] section.
# Every export list is explicit (an absent list means '*').
@{
    RootModule           = 'VirtualNetworks.dll'
    ModuleVersion        = '0.0.0'
    GUID                 = '4b2627da-418f-408a-9d23-d7e54fa9971e'
    Author               = 'VirtualNetworks contributors'
    CompanyName          = 'VirtualNetworks contributors'
    Copyright            = '(c) 2026 VirtualNetworks contributors. MIT License.'
    Description          = 'Virtualized networks built from system virtualization: virtual routers (VMs running a router OS), virtual links between them with bandwidth changed at run time, and the virtual networks they form, on Hyper-V or on Linux with QEMU. On Linux the routers boot the project''s router image (see docs/install.md for building and installing it).'
    CompatiblePSEditions = 'Desktop', 'Core'
    PowerShellVersion    = '5.1'
    # The assemblies target netstandard2.0, which Windows PowerShell 5.1 loads only on .NET Framework 4.7.2 or later.
    DotNetFrameworkVersion = '4.7.2'
    FormatsToProcess     = 'VirtualNetworks.format.ps1xml'
    CmdletsToExport      = @(
        'New-VirtualRouter'
        'Get-VirtualRouter'
        'Start-VirtualRouter'
        'Stop-VirtualRouter'
        'Suspend-VirtualRouter'
        'Resume-VirtualRouter'
        'Remove-VirtualRouter'
        'Move-VirtualRouter'
        'Wait-VirtualRouter'
        'Test-VirtualRouterConnection'
        'New-VirtualLink'
        'Get-VirtualLink'
        'Disable-VirtualLink'
        'Enable-VirtualLink'
        'Get-VirtualRoute'
        'Get-VirtualRoutingStatus'
        'Set-VirtualLink'
        'Remove-VirtualLink'
        'Get-VirtualNetwork'
        'Test-VirtualNetwork'
        'Deploy-VirtualNetwork'
        'Remove-VirtualNetwork'
        'Export-VirtualNetwork'
        'Measure-VirtualLink'
        'Remove-VirtualNetworkOrphan'
        'Get-VirtualHost'
        'New-VirtualLabHost'
        'Remove-VirtualLabHost'
    )
    FunctionsToExport    = @()
    AliasesToExport      = @()
    VariablesToExport    = @()
    PrivateData          = @{
        PSData = @{
            # Gallery tags: no spaces (the package's tag list is space-separated).
            Tags         = @('Networking', 'Virtualization', 'Hyper-V', 'HyperV', 'QEMU', 'VirtualRouter', 'VirtualNetwork', 'NetworkLab', 'PSEdition_Core', 'PSEdition_Desktop', 'Windows', 'Linux')
            # The project's canonical address (README.md, docs/install.md).
            ProjectUri   = 'https://github.com/virtualnetworks/VirtualNetworks'
            LicenseUri   = 'https://github.com/virtualnetworks/VirtualNetworks/blob/main/LICENSE'
            ReleaseNotes = 'Stamped at staging from CHANGELOG.md.'
        }
    }
}
