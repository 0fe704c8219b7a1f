# Source manifest of the VirtualNetworks module.
# ModuleVersion stays '0.0.0' here: the version lives only in Directory.Build.props (<VersionPrefix>)
# and build.ps1 / build.sh stamp it into the staged copy, out/VirtualNetworks/VirtualNetworks.psd1.
# Every export list is explicit (an absent list means '*').
@{
    RootModule           = 'VirtualNetworks.dll'
    ModuleVersion        = '0.0.0'
    GUID                 = '4b2627da-418f-408a-9d23-d7e54fa9971e'
    Author               = 'VirtualNetworks contributors'
    CompanyName          = 'VirtualNetworks contributors'
    Copyright            = '(c) VirtualNetworks contributors'
    Description          = 'Virtualized networks built from system virtualization: virtual routers (VMs running a router OS), virtual links between them with bandwidth changed at run time, and the virtual networks they form, on Hyper-V or on Linux with QEMU.'
    CompatiblePSEditions = 'Desktop', 'Core'
    PowerShellVersion    = '5.1'
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
            Tags = @('Networking', 'Virtualization', 'HyperV', 'QEMU', 'VirtualRouter', 'NetworkLab', 'PSEdition_Core', 'PSEdition_Desktop', 'Windows', 'Linux')
        }
    }
}
