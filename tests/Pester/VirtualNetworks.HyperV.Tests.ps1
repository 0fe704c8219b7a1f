#Requires -Version 5.1
<#
.SYNOPSIS
    Pester 5 suite for the VirtualNetworks module on a real Hyper-V host (tag: HyperV).

.DESCRIPTION
    Deploys a small virtual network with the module's cmdlets and checks the result through Microsoft's own Hyper-V
    module (Get-VM, Get-VMNetworkAdapter, Get-VMNetworkAdapterVlan, Get-VMSwitch, Get-VMHardDiskDrive, Get-VHD) and
    CIM (KVP items), never through the module's Get-* cmdlets. Everything it creates is removed again; AfterAll blocks
    remove leftovers through the Hyper-V module, and only objects whose Notes carry the module's ownership marker.

    The suite skips itself, with the reason, when the machine cannot run it: not Windows, no Hyper-V PowerShell
    module, Get-VMHost failing, a session that is neither elevated nor in Hyper-V Administrators, or no router image.

    Environment:
      VIRTUALNETWORKS_HYPERV_IMAGE     path, on the Hyper-V host, of the parent router VHDX (Generation 2); default on a
                                       local host: the project's own out/images/router.vhdx (images/router/build.sh)
      VIRTUALNETWORKS_MODULE           optional: the module manifest or folder to import (default out/VirtualNetworks)
      VIRTUALNETWORKS_HYPERV_COMPUTER  optional: a remote Hyper-V host; every cmdlet then gets -ComputerName
      VIRTUALNETWORKS_HYPERV_HOST2     optional: a second Hyper-V host for the migration Describe
      VIRTUALNETWORKS_HYPERV_REQUIRED  optional: 1/true/yes turns a missing prerequisite into a failure

    How to run it and what each Describe proves: docs/hyperv-pester.md.
#>

BeforeDiscovery {
    # Skip decisions are taken here, at discovery, so that -Skip: can use them. Nothing here changes the host.
    $computer = $env:VIRTUALNETWORKS_HYPERV_COMPUTER
    $hv = @{}
    if ($computer) { $hv['ComputerName'] = $computer }

    $HostSkipReason = $null
    $onWindows = ($PSVersionTable.PSEdition -ne 'Core') -or $IsWindows
    if (-not $onWindows) {
        $HostSkipReason = "not Windows ($([Environment]::OSVersion.VersionString)): Hyper-V needs a Windows host"
    }
    elseif (-not (Get-Module -ListAvailable -Name Hyper-V)) {
        $HostSkipReason = 'the Hyper-V PowerShell module is not installed (Windows feature Microsoft-Hyper-V-Management-PowerShell, or RSAT-Hyper-V-Tools on Windows Server)'
    }
    else {
        if (-not $computer) {
            $principal = New-Object -TypeName Security.Principal.WindowsPrincipal -ArgumentList ([Security.Principal.WindowsIdentity]::GetCurrent())
            $elevated = $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)
            $hyperVAdmin = $principal.IsInRole((New-Object -TypeName Security.Principal.SecurityIdentifier -ArgumentList 'S-1-5-32-578'))
            if (-not ($elevated -or $hyperVAdmin)) {
                $HostSkipReason = 'the session is not elevated and the user is not in Hyper-V Administrators'
            }
        }
        if (-not $HostSkipReason) {
            try {
                Import-Module -Name Hyper-V -ErrorAction Stop
                $null = Hyper-V\Get-VMHost @hv -ErrorAction Stop
            }
            catch {
                $HostSkipReason = "Get-VMHost failed$(if ($computer) { " on '$computer'" }): $($_.Exception.Message)"
            }
        }
        if (-not $HostSkipReason -and -not $env:VIRTUALNETWORKS_HYPERV_IMAGE -and -not $computer) {
            # The project's own router image, when the suite runs on the Hyper-V host itself.
            $ownImage = [IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../../out/images/router.vhdx'))
            if (Test-Path -LiteralPath $ownImage -PathType Leaf) { $env:VIRTUALNETWORKS_HYPERV_IMAGE = $ownImage }
        }
        if (-not $HostSkipReason -and -not $env:VIRTUALNETWORKS_HYPERV_IMAGE) {
            $HostSkipReason = 'VIRTUALNETWORKS_HYPERV_IMAGE is not set (the path, on the Hyper-V host, of the parent router VHDX)'
        }
        if (-not $HostSkipReason) {
            try {
                $vhd = Hyper-V\Get-VHD @hv -Path $env:VIRTUALNETWORKS_HYPERV_IMAGE -ErrorAction Stop
                if ([string]$vhd.VhdFormat -ne 'VHDX') {
                    $HostSkipReason = "VIRTUALNETWORKS_HYPERV_IMAGE '$($env:VIRTUALNETWORKS_HYPERV_IMAGE)' is a $($vhd.VhdFormat), not a VHDX (Generation 2 VMs boot only from VHDX)"
                }
            }
            catch {
                $HostSkipReason = "VIRTUALNETWORKS_HYPERV_IMAGE '$($env:VIRTUALNETWORKS_HYPERV_IMAGE)' is not a virtual disk Get-VHD can read: $($_.Exception.Message)"
            }
        }
    }

    $SecondHost = $env:VIRTUALNETWORKS_HYPERV_HOST2
    $MigrationSkipReason = $null
    if ($HostSkipReason) {
        $MigrationSkipReason = "no usable first Hyper-V host: $HostSkipReason"
    }
    elseif (-not $SecondHost) {
        $MigrationSkipReason = 'VIRTUALNETWORKS_HYPERV_HOST2 is not set (the name of a second Hyper-V host)'
    }
    else {
        try { $null = Hyper-V\Get-VMHost -ComputerName $SecondHost -ErrorAction Stop }
        catch { $MigrationSkipReason = "Get-VMHost failed on the second host '$SecondHost': $($_.Exception.Message)" }
        if (-not $MigrationSkipReason) {
            # Migration needs it enabled on both hosts, and the link across them an external switch
            # 'VirtualNetworks-Transport' on both (the module never creates external switches).
            foreach ($on in @($hv, @{ ComputerName = $SecondHost })) {
                $vmHost = Hyper-V\Get-VMHost @on
                $label = if ($on.ContainsKey('ComputerName')) { $on['ComputerName'] } else { 'the first host' }
                if (-not $vmHost.VirtualMachineMigrationEnabled) { $MigrationSkipReason = "live migration is not enabled on $label (Enable-VMMigration)"; break }
                $transport = Hyper-V\Get-VMSwitch @on -Name 'VirtualNetworks-Transport' -ErrorAction SilentlyContinue
                if (-not $transport -or [string]$transport.SwitchType -ne 'External') { $MigrationSkipReason = "$label has no external switch 'VirtualNetworks-Transport' (New-VMSwitch -Name VirtualNetworks-Transport -NetAdapterName <adapter>)"; break }
            }
        }
    }

    # The topology under test, by key; real names get a per-run prefix at run time (Get-TestName). Bandwidths are
    # multiples of 8 here, so Hyper-V's rounding (to the nearest multiple of eight) leaves them unchanged.
    $Topology = @{
        Label   = 'net'
        Routers = @(
            @{ Key = 'r1'; ProcessorCount = 1; MemoryMB = 384 }
            @{ Key = 'r2'; ProcessorCount = 2; MemoryMB = 512 }
            @{ Key = 'r3'; ProcessorCount = 1; MemoryMB = 384 }
            @{ Key = 'r4'; ProcessorCount = 1; MemoryMB = 384 }
        )
        Links   = @(
            @{ Key = 'l12'; From = 'r1'; To = 'r2'; MaximumBandwidth = '10Mbps'; ExpectedBandwidth = 10000000; VlanId = $null }
            @{ Key = 'l23'; From = 'r2'; To = 'r3'; MaximumBandwidth = $null; ExpectedBandwidth = 0; VlanId = 3917 }
            @{ Key = 'l34'; From = 'r3'; To = 'r4'; MaximumBandwidth = $null; ExpectedBandwidth = 0; VlanId = $null }
            @{ Key = 'l24'; From = 'r2'; To = 'r4'; MaximumBandwidth = $null; ExpectedBandwidth = 0; VlanId = $null }
        )
    }

    # A second, smaller network for the migration Describe.
    $MigrationTopology = @{
        Label   = 'mig'
        Routers = @(
            @{ Key = 'm1'; ProcessorCount = 1; MemoryMB = 384 }
            @{ Key = 'm2'; ProcessorCount = 1; MemoryMB = 384 }
        )
        Links   = @(
            @{ Key = 'm12'; From = 'm1'; To = 'm2'; MaximumBandwidth = '5Mbps'; ExpectedBandwidth = 5000000; VlanId = $null }
        )
    }

    # One case per migration mode (Supported = $false would check the documented OperationNotSupported error instead).
    # Both hosts need live migration enabled (Enable-VMMigration) and Kerberos constrained delegation or CredSSP
    # (docs/hyperv-remoting.md); the link m12 crosses the hosts over the external switch 'VirtualNetworks-Transport'
    # (the backend's default TransportSwitchName), which the administrator creates on both (checked at discovery).
    $MigrationCases = @(
        @{ Mode = 'Live'; Supported = $true }
        @{ Mode = 'Cold'; Supported = $true }
    )
}

BeforeAll {
    # Run-time settings and helpers shared by every Describe. Nothing here contacts a host.
    $Marker = 'virtualnetworks:v1'
    $FabricSwitchName = 'VirtualNetworks-Fabric'
    $TransportSwitchName = 'VirtualNetworks-Transport'
    $Computer = $env:VIRTUALNETWORKS_HYPERV_COMPUTER
    $SecondHost = $env:VIRTUALNETWORKS_HYPERV_HOST2
    $Image = $env:VIRTUALNETWORKS_HYPERV_IMAGE
    $RequirePrerequisites = @('1', 'true', 'yes') -contains "$env:VIRTUALNETWORKS_HYPERV_REQUIRED".Trim()
    # $HV splats into Microsoft's Hyper-V cmdlets, $Cim into the CIM cmdlets, $VN into the module's cmdlets.
    $HV = @{}
    $Cim = @{}
    $VN = @{}
    if ($Computer) {
        $HV['ComputerName'] = $Computer
        $Cim['ComputerName'] = $Computer
        $VN['ComputerName'] = $Computer
    }
    # Every name this run creates starts with this prefix, so a run never collides with anything else on the host.
    $Prefix = 'vnpt' + [guid]::NewGuid().ToString('N').Substring(0, 6)

    $ModulePath = $env:VIRTUALNETWORKS_MODULE
    if (-not $ModulePath) { $ModulePath = Join-Path -Path $PSScriptRoot -ChildPath '../../out/VirtualNetworks/VirtualNetworks.psd1' }
    elseif (Test-Path -LiteralPath $ModulePath -PathType Container) { $ModulePath = Join-Path -Path $ModulePath -ChildPath 'VirtualNetworks.psd1' }

    function Import-ModuleUnderTest {
        if (-not (Test-Path -LiteralPath $ModulePath -PathType Leaf)) {
            throw "The module under test is not at '$ModulePath'. Build it (./build.ps1) or set VIRTUALNETWORKS_MODULE."
        }
        Import-Module -Name $ModulePath -Force -Global -ErrorAction Stop
    }

    function Get-TestName {
        param([Parameter(Mandatory)] [string] $Key)
        "$Prefix-$Key"
    }

    function Get-NicName {
        param([Parameter(Mandatory)] [string] $LinkKey)
        'vn:' + (Get-TestName $LinkKey)
    }

    # ---------------------------------------------------------------- topology files

    function New-TestTopologyFile {
        param(
            [Parameter(Mandatory)] [string] $Path,
            [Parameter(Mandatory)] [hashtable] $Spec
        )
        $defaults = [ordered]@{ image = $Image; network = (Get-TestName $Spec.Label); addressFamily = 'IPv4' }
        $routers = @(foreach ($r in $Spec.Routers) {
                [ordered]@{ name = (Get-TestName $r.Key); processorCount = $r.ProcessorCount; memoryMB = $r.MemoryMB }
            })
        $links = @(foreach ($l in $Spec.Links) {
                $link = [ordered]@{ name = (Get-TestName $l.Key); from = (Get-TestName $l.From); to = (Get-TestName $l.To) }
                if ($l.MaximumBandwidth) { $link['maximumBandwidth'] = $l.MaximumBandwidth }
                if ($l.VlanId) { $link['vlanId'] = $l.VlanId }
                $link
            })
        $document = [ordered]@{}
        if ($Computer) {
            $document['hosts'] = @([ordered]@{ name = $Computer; kind = 'HyperV' })
            $defaults['host'] = $Computer
        }
        $document['defaults'] = $defaults
        $document['routers'] = $routers
        $document['links'] = $links
        $document | ConvertTo-Json -Depth 6 | Set-Content -LiteralPath $Path -Encoding UTF8
    }

    # ---------------------------------------------------------------- reading the host (Hyper-V module and CIM only)

    function Get-NoteLine {
        param([AllowNull()] [AllowEmptyString()] [string] $Notes)
        @("$Notes" -split '\r?\n' | ForEach-Object { $_.Trim() } | Where-Object { $_ })
    }

    # The ownership guard: the first Notes line is the marker, and kind/router match when given.
    function Test-OwnedNotes {
        param(
            [AllowNull()] [AllowEmptyString()] [string] $Notes,
            [string] $Kind,
            [string] $Router
        )
        $lines = @(Get-NoteLine $Notes)
        if ($lines.Count -eq 0 -or $lines[0] -ne $Marker) { return $false }
        if ($Kind -and $lines -notcontains "kind=$Kind") { return $false }
        if ($Router -and $lines -notcontains "router=$Router") { return $false }
        $true
    }

    # Adds (or with -Remove removes) a deny ACL for every MAC address (the Hyper-V cmdlets' ANY) on one link adapter
    # of one of this run's routers, only when the VM carries the module's router marker.
    function Set-OwnedAdapterAnyMacAcl {
        param(
            [Parameter(Mandatory)] [string] $RouterKey,
            [Parameter(Mandatory)] [string] $LinkKey,
            [switch] $Remove
        )
        $vm = Hyper-V\Get-VM @HV -Name (Get-TestName $RouterKey) -ErrorAction Stop
        if (-not (Test-OwnedNotes -Notes $vm.Notes -Kind 'router' -Router (Get-TestName $RouterKey))) { throw "VM '$($vm.Name)' does not carry the module's marker." }
        $adapter = Hyper-V\Get-VMNetworkAdapter -VM $vm -Name (Get-NicName $LinkKey) -ErrorAction Stop
        if ($Remove) { Hyper-V\Remove-VMNetworkAdapterAcl -VMNetworkAdapter $adapter -RemoteMacAddress ANY -Direction Inbound -Action Deny -ErrorAction SilentlyContinue }
        else { Hyper-V\Add-VMNetworkAdapterAcl -VMNetworkAdapter $adapter -RemoteMacAddress ANY -Direction Inbound -Action Deny -ErrorAction Stop }
    }

    function Get-OwnedVMName {
        param([hashtable] $On = $HV)
        @(Hyper-V\Get-VM @On | Where-Object { Test-OwnedNotes -Notes $_.Notes } | ForEach-Object { $_.Name } | Sort-Object)
    }

    function Get-VMSwitchName {
        param([hashtable] $On = $HV)
        @(Hyper-V\Get-VMSwitch @On | ForEach-Object { $_.Name } | Sort-Object)
    }

    # Ids of every adapter on the host whose name has the module's NIC prefix.
    function Get-LinkAdapterId {
        param([hashtable] $On = $HV)
        @(Hyper-V\Get-VMNetworkAdapter @On -All | Where-Object { $_.Name -like 'vn:*' } | ForEach-Object { [string]$_.Id } | Sort-Object)
    }

    function Get-LinkAdapter {
        param([Parameter(Mandatory)] [string] $RouterKey, [Parameter(Mandatory)] [string] $LinkKey)
        Hyper-V\Get-VMNetworkAdapter @HV -VMName (Get-TestName $RouterKey) -Name (Get-NicName $LinkKey) -ErrorAction SilentlyContinue
    }

    # MaximumBandwidth of an adapter in bit/s; 0 when no limit is set (BandwidthSetting is absent until one was).
    function Get-MaximumBandwidth {
        param([Parameter(Mandatory)] $Adapter)
        if ($null -eq $Adapter.BandwidthSetting) { return [long]0 }
        [long]$Adapter.BandwidthSetting.MaximumBandwidth
    }

    # What Hyper-V stores for a limit: the value rounded to the nearest multiple of eight.
    function ConvertTo-HyperVBandwidth {
        param([Parameter(Mandatory)] [long] $BitsPerSecond)
        [long][math]::Round($BitsPerSecond / 8.0, [MidpointRounding]::AwayFromZero) * 8
    }

    function Get-ExpectedVhdDirectory {
        param([hashtable] $On = $HV)
        ([string](Hyper-V\Get-VMHost @On).VirtualHardDiskPath).TrimEnd('\') + '\VirtualNetworks'
    }

    # Polls Get-VM for a moment: Hyper-V can report a transitional state right after a state change job ends.
    function Wait-VMState {
        param([Parameter(Mandatory)] [string] $Name, [Parameter(Mandatory)] [string] $State, [int] $TimeoutSeconds = 15)
        $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
        do {
            $vm = Hyper-V\Get-VM @HV -Name $Name -ErrorAction Stop
            if ([string]$vm.State -eq $State) { return $vm }
            Start-Sleep -Milliseconds 500
        } while ([DateTime]::UtcNow -lt $deadline)
        $vm
    }

    # The host-to-guest KVP items (pool 0) of a VM: Msvm_KvpExchangeComponentSettingData.HostExchangeItems of its
    # realized settings, each an embedded Msvm_KvpExchangeDataItem instance (CIM-XML) with Name, Data and Source.
    function Get-KvpHostItem {
        param([Parameter(Mandatory)] $VM)
        $ns = 'root/virtualization/v2'
        $system = Get-CimInstance @Cim -Namespace $ns -ClassName Msvm_ComputerSystem -Filter "Name='$($VM.Id)'" -ErrorAction Stop
        $settings = Get-CimAssociatedInstance @Cim -InputObject $system -ResultClassName Msvm_VirtualSystemSettingData -ErrorAction Stop |
            Where-Object { $_.VirtualSystemType -eq 'Microsoft:Hyper-V:System:Realized' } | Select-Object -First 1
        $kvp = Get-CimAssociatedInstance @Cim -InputObject $settings -ResultClassName Msvm_KvpExchangeComponentSettingData -ErrorAction Stop
        foreach ($item in @($kvp.HostExchangeItems)) {
            if (-not $item) { continue }
            $fields = @{}
            foreach ($property in @(([xml]$item).INSTANCE.PROPERTY)) { $fields[$property.NAME] = [string]$property.VALUE }
            [pscustomobject]@{ Name = $fields['Name']; Data = $fields['Data']; Source = $fields['Source'] }
        }
    }

    # The vn.config.* items as a hashtable name -> data.
    function Get-KvpConfigItem {
        param([Parameter(Mandatory)] $VM)
        $config = @{}
        foreach ($i in @(Get-KvpHostItem -VM $VM)) { if ($i.Name -like 'vn.config.*') { $config[$i.Name] = $i.Data } }
        $config
    }

    # Everything the suite checks, per router, as text (for before/after comparisons), plus each VM's uptime.
    function Get-HyperVState {
        param([Parameter(Mandatory)] [string[]] $RouterName)
        $lines = New-Object -TypeName System.Collections.Generic.List[string]
        $uptime = @{}
        foreach ($name in ($RouterName | Sort-Object)) {
            $vm = Hyper-V\Get-VM @HV -Name $name -ErrorAction Stop
            $uptime[$name] = $vm.Uptime
            $lines.Add("vm $name id=$($vm.Id) state=$($vm.State) gen=$($vm.Generation) cpu=$($vm.ProcessorCount) mem=$($vm.MemoryStartup) notes=$((Get-NoteLine $vm.Notes) -join '|')")
            foreach ($a in @(Hyper-V\Get-VMNetworkAdapter @HV -VMName $name | Sort-Object Name)) {
                $vlan = Hyper-V\Get-VMNetworkAdapterVlan @HV -VMName $name -VMNetworkAdapterName $a.Name
                $lines.Add("  nic $($a.Name) id=$($a.Id) mac=$($a.MacAddress) switch=$($a.SwitchName) max=$(Get-MaximumBandwidth $a) vlan=$($vlan.OperationMode)/$($vlan.AccessVlanId)")
            }
            foreach ($d in @(Hyper-V\Get-VMHardDiskDrive @HV -VMName $name | Sort-Object Path)) { $lines.Add("  disk $($d.Path)") }
            $config = Get-KvpConfigItem -VM $vm
            foreach ($key in ($config.Keys | Sort-Object)) { $lines.Add("  kvp $key=$($config[$key])") }
        }
        [pscustomobject]@{ Text = ($lines -join "`n"); Uptime = $uptime }
    }

    # Whether a file exists on the Hyper-V host (CIM_DataFile for a remote host's local volumes; CIM_DataFile cannot see
    # an SMB share, which this session reaches itself).
    function Test-HostFile {
        param([Parameter(Mandatory)] [string] $Path, [hashtable] $On = $HV)
        if (-not $On.ContainsKey('ComputerName') -or $Path.StartsWith('\\')) { return (Test-Path -LiteralPath $Path -PathType Leaf) }
        $wql = $Path.Replace('\', '\\').Replace("'", "\'")
        [bool](Get-CimInstance -ComputerName $On['ComputerName'] -ClassName CIM_DataFile -Filter "Name='$wql'" -ErrorAction SilentlyContinue)
    }

    # ---------------------------------------------------------------- the safety net

    # Removes, through the Hyper-V module, what a test may have left: the VMs of this run's router names whose Notes
    # carry the ownership marker (nothing else, whatever its name), the differencing disks named <router>.vhdx they
    # used or would have used, and the fabric switch when the caller created it, it is marked and nothing uses it.
    function Remove-OwnedTestObject {
        param(
            [Parameter(Mandatory)] [string[]] $RouterName,
            [string[]] $DiskPath = @(),
            [switch] $FabricSwitch,
            [hashtable] $On = $HV
        )
        $disks = New-Object -TypeName System.Collections.Generic.List[string]
        foreach ($p in $DiskPath) { if ($p) { $disks.Add($p) } }
        foreach ($name in $RouterName) {
            foreach ($vm in @(Hyper-V\Get-VM @On -Name $name -ErrorAction SilentlyContinue)) {
                if (-not (Test-OwnedNotes -Notes $vm.Notes -Kind 'router' -Router $name)) {
                    Write-Warning "Cleanup: the VM '$name' does not carry the marker '$Marker' for router '$name'; it is left alone."
                    continue
                }
                foreach ($d in @(Hyper-V\Get-VMHardDiskDrive -VM $vm -ErrorAction SilentlyContinue)) { if ($d.Path) { $disks.Add($d.Path) } }
                if ([string]$vm.State -ne 'Off') { Hyper-V\Stop-VM -VM $vm -TurnOff -Force -ErrorAction SilentlyContinue }
                Hyper-V\Remove-VM -VM $vm -Force -ErrorAction Continue
            }
        }
        $diskNames = @($RouterName | ForEach-Object { "$_.vhdx" })
        foreach ($path in ($disks | Sort-Object -Unique)) {
            if ($diskNames -notcontains (Split-Path -Path $path -Leaf)) { continue }
            if (-not (Test-HostFile -Path $path -On $On)) { continue }
            Write-Warning "Cleanup: removing the leftover disk '$path'."
            if ($On.ContainsKey('ComputerName')) {
                $wql = $path.Replace('\', '\\').Replace("'", "\'")
                Get-CimInstance -ComputerName $On['ComputerName'] -ClassName CIM_DataFile -Filter "Name='$wql'" -ErrorAction SilentlyContinue |
                    Invoke-CimMethod -MethodName Delete -ErrorAction Continue | Out-Null
            }
            else {
                Remove-Item -LiteralPath $path -Force -ErrorAction Continue
            }
        }
        if ($FabricSwitch) {
            $switch = Hyper-V\Get-VMSwitch @On -Name $FabricSwitchName -ErrorAction SilentlyContinue
            if ($switch -and (Test-OwnedNotes -Notes $switch.Notes -Kind 'fabric')) {
                $attached = @(Hyper-V\Get-VMNetworkAdapter @On -All | Where-Object { $_.SwitchName -eq $FabricSwitchName })
                if ($attached.Count -eq 0) { Hyper-V\Remove-VMSwitch -VMSwitch $switch -Force -ErrorAction Continue }
            }
        }
    }
}

Describe 'Hyper-V test host' -Tag 'HyperV' -ForEach @(@{ HostSkipReason = $HostSkipReason; MigrationSkipReason = $MigrationSkipReason }) {
    # Always runs: reports why the other Describes are skipped (or fails when VIRTUALNETWORKS_HYPERV_REQUIRED is set).
    It 'is a Hyper-V host with a router image (otherwise the Hyper-V Describes are skipped)' {
        if ($HostSkipReason) {
            if ($RequirePrerequisites) { throw "VIRTUALNETWORKS_HYPERV_REQUIRED is set, but: $HostSkipReason" }
            Set-ItResult -Skipped -Because $HostSkipReason
            return
        }
        (Hyper-V\Get-VMHost @HV).Name | Should -Not -BeNullOrEmpty
        [string](Hyper-V\Get-VHD @HV -Path $Image).VhdFormat | Should -Be 'VHDX'
    }

    It 'has a second Hyper-V host for the migration Describe (otherwise it is skipped)' {
        if ($MigrationSkipReason) {
            Set-ItResult -Skipped -Because $MigrationSkipReason
            return
        }
        (Hyper-V\Get-VMHost -ComputerName $SecondHost).Name | Should -Not -BeNullOrEmpty
    }
}

Describe 'Deploy-VirtualNetwork -WhatIf on Hyper-V' -Tag 'HyperV' -Skip:([bool]$HostSkipReason) -ForEach @(@{ Topology = $Topology }) {
    BeforeAll {
        Import-ModuleUnderTest
        $RouterNames = @($Topology.Routers | ForEach-Object { Get-TestName $_.Key })
        $VhdDir = Get-ExpectedVhdDirectory
        $FabricExisted = (Get-VMSwitchName) -contains $FabricSwitchName
        $Before = [pscustomobject]@{
            VMs      = (@(Hyper-V\Get-VM @HV | ForEach-Object { [string]$_.Id } | Sort-Object) -join "`n")
            Switches = ((Get-VMSwitchName) -join "`n")
            Adapters = (@(Hyper-V\Get-VMNetworkAdapter @HV -All | ForEach-Object { [string]$_.Id } | Sort-Object) -join "`n")
        }
        $TopologyPath = Join-Path -Path $TestDrive -ChildPath 'whatif.json'
        New-TestTopologyFile -Path $TopologyPath -Spec $Topology
        $Output = @(Deploy-VirtualNetwork -Path $TopologyPath @VN -WhatIf -ErrorAction Stop)
        $After = [pscustomobject]@{
            VMs      = (@(Hyper-V\Get-VM @HV | ForEach-Object { [string]$_.Id } | Sort-Object) -join "`n")
            Switches = ((Get-VMSwitchName) -join "`n")
            Adapters = (@(Hyper-V\Get-VMNetworkAdapter @HV -All | ForEach-Object { [string]$_.Id } | Sort-Object) -join "`n")
        }
    }

    AfterAll {
        # Only if -WhatIf did create something: remove it again.
        if ($RouterNames) {
            Remove-OwnedTestObject -RouterName $RouterNames -DiskPath @($RouterNames | ForEach-Object { "$VhdDir\$_.vhdx" }) -FabricSwitch:(-not $FabricExisted)
        }
    }

    It 'creates no VM' {
        $After.VMs | Should -Be $Before.VMs
    }

    It 'creates no virtual switch' {
        $After.Switches | Should -Be $Before.Switches
    }

    It 'creates no network adapter' {
        $After.Adapters | Should -Be $Before.Adapters
    }

    It 'creates no differencing disk' {
        foreach ($name in $RouterNames) {
            Test-HostFile -Path "$VhdDir\$name.vhdx" | Should -BeFalse -Because "$VhdDir\$name.vhdx must not exist after -WhatIf"
        }
    }

    It 'returns nothing' {
        $Output.Count | Should -Be 0
    }
}

Describe 'A virtual network deployed on Hyper-V' -Tag 'HyperV' -Skip:([bool]$HostSkipReason) -ForEach @(@{ Topology = $Topology }) {
    BeforeAll {
        Import-ModuleUnderTest
        $Label = Get-TestName $Topology.Label
        $Names = @($Topology.Routers | ForEach-Object { Get-TestName $_.Key })
        foreach ($name in $Names) {
            if (Hyper-V\Get-VM @HV -Name $name -ErrorAction SilentlyContinue) { throw "A VM named '$name' already exists on the host; the suite will not touch it." }
        }
        $RouterNames = $Names # from here on, AfterAll cleans up these names
        $VhdDir = Get-ExpectedVhdDirectory
        $Baseline = [pscustomobject]@{
            OwnedVMs     = Get-OwnedVMName
            Switches     = Get-VMSwitchName
            LinkAdapters = Get-LinkAdapterId
        }
        $FabricExisted = $Baseline.Switches -contains $FabricSwitchName

        $TopologyPath = Join-Path -Path $TestDrive -ChildPath 'network.json'
        New-TestTopologyFile -Path $TopologyPath -Spec $Topology
        $RecordedDisk = @{}
        try {
            Deploy-VirtualNetwork -Path $TopologyPath @VN -Confirm:$false -ErrorAction Stop | Out-Null
        }
        finally {
            # The disks as Hyper-V reports them, for the removal checks and the safety net.
            foreach ($name in $RouterNames) {
                $RecordedDisk[$name] = @(Hyper-V\Get-VMHardDiskDrive @HV -VMName $name -ErrorAction SilentlyContinue | ForEach-Object { $_.Path })
            }
        }

        function Get-LinkSpec {
            param([Parameter(Mandatory)] [string] $Key)
            $Topology.Links | Where-Object { $_.Key -eq $Key }
        }
    }

    AfterAll {
        if ($RouterNames) {
            $paths = @($RecordedDisk.Values | ForEach-Object { $_ }) + @($RouterNames | ForEach-Object { "$VhdDir\$_.vhdx" })
            Remove-OwnedTestObject -RouterName $RouterNames -DiskPath $paths -FabricSwitch:(-not $FabricExisted)
        }
    }

    Context 'Routers (Get-VM, Get-VMHardDiskDrive, Get-VHD, KVP)' {
        It 'creates exactly the router VMs of the file, and no other marked VM' {
            $new = @(Get-OwnedVMName | Where-Object { $Baseline.OwnedVMs -notcontains $_ })
            ($new -join ', ') | Should -Be (($RouterNames | Sort-Object) -join ', ')
        }

        It 'creates <Key> as a Generation 2 VM with <ProcessorCount> processor(s) and <MemoryMB> MB' -ForEach $Topology.Routers {
            $vm = Hyper-V\Get-VM @HV -Name (Get-TestName $Key) -ErrorAction SilentlyContinue
            @($vm).Count | Should -Be 1
            $vm.Name | Should -Be (Get-TestName $Key)
            $vm.Generation | Should -Be 2
            $vm.ProcessorCount | Should -Be $ProcessorCount
            $vm.MemoryStartup | Should -Be ([long]$MemoryMB * 1MB)
        }

        It 'boots <Key> with Secure Boot and the Microsoft UEFI Certificate Authority template' -ForEach $Topology.Routers {
            $firmware = Hyper-V\Get-VMFirmware @HV -VMName (Get-TestName $Key)
            [string]$firmware.SecureBoot | Should -Be 'On'
            [string]$firmware.SecureBootTemplateId | Should -Be '272e7447-90a4-4563-a4b9-8e4ab00526ce'
        }

        It 'starts <Key>' -ForEach $Topology.Routers {
            [string](Hyper-V\Get-VM @HV -Name (Get-TestName $Key)).State | Should -Be 'Running'
        }

        It 'marks <Key> as the module''s router in its Notes' -ForEach $Topology.Routers {
            $lines = @(Get-NoteLine (Hyper-V\Get-VM @HV -Name (Get-TestName $Key)).Notes)
            $lines[0] | Should -Be $Marker
            $lines | Should -Contain 'kind=router'
            $lines | Should -Contain "router=$(Get-TestName $Key)"
            $lines | Should -Contain "image=$Image"
            $lines | Should -Contain "label=$Label"
            $lines | Should -Contain 'family=IPv4'
        }

        It 'boots <Key> from a differencing VHDX on the image, in the VirtualNetworks disk folder' -ForEach $Topology.Routers {
            $name = Get-TestName $Key
            $drives = @(Hyper-V\Get-VMHardDiskDrive @HV -VMName $name)
            $drives.Count | Should -Be 1
            $drives[0].Path | Should -Be "$VhdDir\$name.vhdx"
            $vhd = Hyper-V\Get-VHD @HV -Path $drives[0].Path
            [string]$vhd.VhdType | Should -Be 'Differencing'
            [string]$vhd.VhdFormat | Should -Be 'VHDX'
            $vhd.ParentPath | Should -Be $Image
        }

        It 'hands <Key> its configuration as vn.config.* KVP items (pool 0)' -ForEach $Topology.Routers {
            $name = Get-TestName $Key
            $config = Get-KvpConfigItem -VM (Hyper-V\Get-VM @HV -Name $name)
            $config.ContainsKey('vn.config.count') | Should -BeTrue -Because 'the backend writes vn.config.count'
            $count = [int]$config['vn.config.count']
            $count | Should -BeGreaterThan 0
            foreach ($i in 0..($count - 1)) {
                $config.ContainsKey("vn.config.$i") | Should -BeTrue -Because "vn.config.$i of $count must be present"
            }
            $config.ContainsKey("vn.config.$count") | Should -BeFalse -Because 'no chunk may be left beyond vn.config.count'
            # The text follows docs/guest-contract.md section 2: the router's name, and one 'if' line per adapter MAC.
            $text = -join @(foreach ($i in 0..($count - 1)) { $config["vn.config.$i"] })
            $text | Should -Match ('(?m)^name ' + [regex]::Escape($name) + '\r?$')
            foreach ($a in @(Hyper-V\Get-VMNetworkAdapter @HV -VMName $name)) {
                $mac = (($a.MacAddress -split '(..)' | Where-Object { $_ }) -join ':')
                $text | Should -Match ('(?mi)^if ' + [regex]::Escape($mac) + ' ') -Because "adapter $($a.Name) ($($a.MacAddress)) is configured by MAC"
            }
        }
    }

    Context 'Links (Get-VMNetworkAdapter, Get-VMNetworkAdapterVlan)' {
        It 'gives <Key> exactly one adapter per link, named after the link' -ForEach $Topology.Routers {
            $routerKey = $Key
            $expected = @($Topology.Links | Where-Object { $_.From -eq $routerKey -or $_.To -eq $routerKey } | ForEach-Object { Get-NicName $_.Key } | Sort-Object)
            $actual = @(Hyper-V\Get-VMNetworkAdapter @HV -VMName (Get-TestName $Key) | ForEach-Object { $_.Name } | Sort-Object)
            ($actual -join ', ') | Should -Be ($expected -join ', ')
        }

        It 'creates two link adapters per link on the host, and no other' {
            $new = @(Get-LinkAdapterId | Where-Object { $Baseline.LinkAdapters -notcontains $_ })
            $new.Count | Should -Be (2 * @($Topology.Links).Count)
        }

        It 'connects both ends of <Key> to the fabric switch with a static MAC' -ForEach $Topology.Links {
            foreach ($end in $From, $To) {
                $a = Get-LinkAdapter -RouterKey $end -LinkKey $Key
                @($a).Count | Should -Be 1 -Because "router $end has the adapter $(Get-NicName $Key)"
                $a.SwitchName | Should -Be $FabricSwitchName
                $a.DynamicMacAddressEnabled | Should -BeFalse
                $a.MacAddress | Should -Not -Be '000000000000'
            }
        }

        It 'gives every link adapter its own MAC' {
            $macs = @(foreach ($l in $Topology.Links) { foreach ($end in $l.From, $l.To) { (Get-LinkAdapter -RouterKey $end -LinkKey $l.Key).MacAddress } })
            @($macs | Sort-Object -Unique).Count | Should -Be $macs.Count
        }

        It 'puts both ends of <Key> in access mode on one VLAN' -ForEach $Topology.Links {
            $fromVlan = Hyper-V\Get-VMNetworkAdapterVlan @HV -VMName (Get-TestName $From) -VMNetworkAdapterName (Get-NicName $Key)
            $toVlan = Hyper-V\Get-VMNetworkAdapterVlan @HV -VMName (Get-TestName $To) -VMNetworkAdapterName (Get-NicName $Key)
            [string]$fromVlan.OperationMode | Should -Be 'Access'
            [string]$toVlan.OperationMode | Should -Be 'Access'
            $fromVlan.AccessVlanId | Should -BeGreaterThan 0
            $toVlan.AccessVlanId | Should -Be $fromVlan.AccessVlanId
        }

        It 'gives every link a VLAN id of its own' {
            $ids = @(foreach ($l in $Topology.Links) {
                    (Hyper-V\Get-VMNetworkAdapterVlan @HV -VMName (Get-TestName $l.From) -VMNetworkAdapterName (Get-NicName $l.Key)).AccessVlanId
                })
            @($ids | Sort-Object -Unique).Count | Should -Be @($Topology.Links).Count
        }

        It 'honours the explicit VLAN id <VlanId> of <Key>' -ForEach @($Topology.Links | Where-Object { $_.VlanId }) {
            foreach ($end in $From, $To) {
                (Hyper-V\Get-VMNetworkAdapterVlan @HV -VMName (Get-TestName $end) -VMNetworkAdapterName (Get-NicName $Key)).AccessVlanId | Should -Be $VlanId
            }
        }

        It 'limits both ends of <Key> to <ExpectedBandwidth> bit/s (0: no limit)' -ForEach $Topology.Links {
            foreach ($end in $From, $To) {
                Get-MaximumBandwidth (Get-LinkAdapter -RouterKey $end -LinkKey $Key) | Should -Be (ConvertTo-HyperVBandwidth $ExpectedBandwidth)
            }
        }
    }

    Context 'Fabric switch (Get-VMSwitch)' {
        It 'creates the private fabric switch, marked as the module''s' {
            $switch = Hyper-V\Get-VMSwitch @HV -Name $FabricSwitchName -ErrorAction SilentlyContinue
            @($switch).Count | Should -Be 1
            [string]$switch.SwitchType | Should -Be 'Private'
            $lines = @(Get-NoteLine $switch.Notes)
            $lines[0] | Should -Be $Marker
            $lines | Should -Contain 'kind=fabric'
        }

        It 'creates no other virtual switch' {
            $new = @(Get-VMSwitchName | Where-Object { $Baseline.Switches -notcontains $_ -and $_ -ne $FabricSwitchName })
            ($new -join ', ') | Should -Be ''
        }
    }

    Context 'Deploying the same file again' {
        BeforeAll {
            $Before = Get-HyperVState -RouterName $RouterNames
            $OwnedBefore = (Get-OwnedVMName) -join ', '
            $SwitchesBefore = (Get-VMSwitchName) -join ', '
            Deploy-VirtualNetwork -Path $TopologyPath @VN -Confirm:$false -ErrorAction Stop | Out-Null
            $After = Get-HyperVState -RouterName $RouterNames
        }

        It 'leaves every VM, adapter, VLAN, limit, disk and KVP item as it was' {
            $After.Text | Should -Be $Before.Text
        }

        It 'restarts no router' {
            foreach ($name in $RouterNames) {
                $After.Uptime[$name] | Should -BeGreaterOrEqual $Before.Uptime[$name] -Because "$name keeps running"
            }
        }

        It 'creates no VM and no switch' {
            (Get-OwnedVMName) -join ', ' | Should -Be $OwnedBefore
            (Get-VMSwitchName) -join ', ' | Should -Be $SwitchesBefore
        }
    }

    Context 'Set-VirtualLink while the routers run' {
        It 'changes the limit of l12 on both ends, in place' {
            $l = Get-LinkSpec 'l12'
            $adaptersBefore = @($l.From, $l.To | ForEach-Object { [string](Get-LinkAdapter -RouterKey $_ -LinkKey $l.Key).Id })
            Set-VirtualLink -Name (Get-TestName $l.Key) -MaximumBandwidth '25Mbps' @VN -Confirm:$false -ErrorAction Stop
            foreach ($end in $l.From, $l.To) {
                $a = Get-LinkAdapter -RouterKey $end -LinkKey $l.Key
                Get-MaximumBandwidth $a | Should -Be 25000000
                [string](Hyper-V\Get-VM @HV -Name (Get-TestName $end)).State | Should -Be 'Running'
            }
            @($l.From, $l.To | ForEach-Object { [string](Get-LinkAdapter -RouterKey $_ -LinkKey $l.Key).Id }) -join ', ' |
                Should -Be ($adaptersBefore -join ', ') -Because 'the adapters are changed, not re-created'
        }

        It 'sets a limit on l34, which had none, rounded to a multiple of 8' {
            $l = Get-LinkSpec 'l34'
            Set-VirtualLink -Name (Get-TestName $l.Key) -MaximumBandwidth 12000003 @VN -Confirm:$false -ErrorAction Stop
            foreach ($end in $l.From, $l.To) {
                Get-MaximumBandwidth (Get-LinkAdapter -RouterKey $end -LinkKey $l.Key) | Should -Be (ConvertTo-HyperVBandwidth 12000003)
            }
        }

        It 'removes the limit of l12 with $null' {
            $l = Get-LinkSpec 'l12'
            Set-VirtualLink -Name (Get-TestName $l.Key) -MaximumBandwidth $null @VN -Confirm:$false -ErrorAction Stop
            foreach ($end in $l.From, $l.To) {
                Get-MaximumBandwidth (Get-LinkAdapter -RouterKey $end -LinkKey $l.Key) | Should -Be 0
            }
        }

        It 'removes the limit of l34 with 0' {
            $l = Get-LinkSpec 'l34'
            Set-VirtualLink -Name (Get-TestName $l.Key) -MaximumBandwidth 0 @VN -Confirm:$false -ErrorAction Stop
            foreach ($end in $l.From, $l.To) {
                Get-MaximumBandwidth (Get-LinkAdapter -RouterKey $end -LinkKey $l.Key) | Should -Be 0
            }
        }

        It 'keeps every router running' {
            foreach ($name in $RouterNames) { [string](Hyper-V\Get-VM @HV -Name $name).State | Should -Be 'Running' }
        }
    }

    Context 'Disable-VirtualLink / Enable-VirtualLink (Get-VMNetworkAdapter, Get-VMNetworkAdapterAcl, Get-VM Notes)' {
        # docs/hyperv-backend.md §13: CablePulled = the connection disabled (EnabledState 3), Silent = deny-all MAC ACLs
        # both ways with the adapter connected, Up = connected without them; the wish in both VMs' Notes first.
        BeforeAll {
            $Subject = Get-LinkSpec 'l34'
            $SubjectName = Get-TestName $Subject.Key
            $VlanBefore = @{}
            foreach ($end in $Subject.From, $Subject.To) { $VlanBefore[$end] = (Hyper-V\Get-VMNetworkAdapterVlan @HV -VMNetworkAdapter (Get-LinkAdapter -RouterKey $end -LinkKey $Subject.Key)).AccessVlanId }
        }

        It 'Disable-VirtualLink (CablePulled) disconnects both ends, keeping their switch and VLAN' {
            Disable-VirtualLink -Name $SubjectName @VN -Confirm:$false -ErrorAction Stop
            foreach ($end in $Subject.From, $Subject.To) {
                $a = Get-LinkAdapter -RouterKey $end -LinkKey $Subject.Key
                $a.Connected | Should -BeFalse -Because 'EnabledState 3: Microsoft documents that a disabled connection request is not processed'
                (Hyper-V\Get-VMNetworkAdapterVlan @HV -VMNetworkAdapter $a).AccessVlanId | Should -Be $VlanBefore[$end]
                @(Get-NoteLine (Hyper-V\Get-VM @HV -Name (Get-TestName $end)).Notes) | Should -Contain "linkstate:$SubjectName=CablePulled"
            }
        }

        It 'Disable-VirtualLink -Failure Silent reconnects both ends with a deny-all ACL each way' {
            Disable-VirtualLink -Name $SubjectName -Failure Silent @VN -Confirm:$false -ErrorAction Stop
            foreach ($end in $Subject.From, $Subject.To) {
                $a = Get-LinkAdapter -RouterKey $end -LinkKey $Subject.Key
                $a.Connected | Should -BeTrue -Because 'the carrier stays up in a silent failure'
                $a.SwitchName | Should -Be $FabricSwitchName
                $acls = @(Hyper-V\Get-VMNetworkAdapterAcl @HV -VMNetworkAdapter $a | Where-Object { [string]$_.Action -eq 'Deny' })
                @($acls | ForEach-Object { [string]$_.Direction } | Sort-Object) -join ',' | Should -Be 'Inbound,Outbound'
                @(Get-NoteLine (Hyper-V\Get-VM @HV -Name (Get-TestName $end)).Notes) | Should -Contain "linkstate:$SubjectName=Silent"
            }
        }

        It 'writes the deny-all ACL as Add-VMNetworkAdapterAcl -RemoteMacAddress ANY stores it' {
            # The WMI encoding of the cmdlets' ANY is not documented (the backend writes FFFFFFFFFFFF/0): compare.
            $ours = Hyper-V\Get-VMNetworkAdapterAcl @HV -VMNetworkAdapter (Get-LinkAdapter -RouterKey $Subject.From -LinkKey $Subject.Key) |
                Where-Object { [string]$_.Action -eq 'Deny' -and [string]$_.Direction -eq 'Inbound' }
            try {
                Set-OwnedAdapterAnyMacAcl -RouterKey 'r1' -LinkKey 'l12'
                $any = Hyper-V\Get-VMNetworkAdapterAcl @HV -VMNetworkAdapter (Get-LinkAdapter -RouterKey 'r1' -LinkKey 'l12') | Where-Object { [string]$_.Action -eq 'Deny' }
                [string]$ours.RemoteAddress | Should -Be ([string]$any.RemoteAddress)
            }
            finally {
                Set-OwnedAdapterAnyMacAcl -RouterKey 'r1' -LinkKey 'l12' -Remove
            }
        }

        It 'Enable-VirtualLink connects both ends again without the ACLs, on the same switch and VLAN' {
            Enable-VirtualLink -Name $SubjectName @VN -Confirm:$false -ErrorAction Stop
            foreach ($end in $Subject.From, $Subject.To) {
                $a = Get-LinkAdapter -RouterKey $end -LinkKey $Subject.Key
                $a.Connected | Should -BeTrue
                $a.SwitchName | Should -Be $FabricSwitchName
                (Hyper-V\Get-VMNetworkAdapterVlan @HV -VMNetworkAdapter $a).AccessVlanId | Should -Be $VlanBefore[$end]
                @(Hyper-V\Get-VMNetworkAdapterAcl @HV -VMNetworkAdapter $a | Where-Object { [string]$_.Action -eq 'Deny' }).Count | Should -Be 0
                @(Get-NoteLine (Hyper-V\Get-VM @HV -Name (Get-TestName $end)).Notes) -join "`n" | Should -Not -Match 'linkstate:'
            }
        }

        It 'keeps every router running' {
            foreach ($name in $RouterNames) { [string](Hyper-V\Get-VM @HV -Name $name).State | Should -Be 'Running' }
        }
    }

    Context 'Router lifecycle (Get-VM State)' {
        BeforeAll {
            $Subject = Get-TestName 'r3'
        }

        It 'Suspend-VirtualRouter pauses the VM' {
            Suspend-VirtualRouter -Name $Subject @VN -Confirm:$false -ErrorAction Stop
            [string](Wait-VMState -Name $Subject -State 'Paused').State | Should -Be 'Paused'
        }

        It 'Resume-VirtualRouter runs it again' {
            Resume-VirtualRouter -Name $Subject @VN -Confirm:$false -ErrorAction Stop
            [string](Wait-VMState -Name $Subject -State 'Running').State | Should -Be 'Running'
        }

        It 'Stop-VirtualRouter -TurnOff turns it off' {
            Stop-VirtualRouter -Name $Subject -TurnOff @VN -Confirm:$false -ErrorAction Stop
            [string](Wait-VMState -Name $Subject -State 'Off').State | Should -Be 'Off'
        }

        It 'Start-VirtualRouter starts it' {
            Start-VirtualRouter -Name $Subject @VN -Confirm:$false -ErrorAction Stop
            [string](Wait-VMState -Name $Subject -State 'Running').State | Should -Be 'Running'
        }

        It 'leaves the other routers running' {
            foreach ($name in @($RouterNames | Where-Object { $_ -ne $Subject })) {
                [string](Hyper-V\Get-VM @HV -Name $name).State | Should -Be 'Running'
            }
        }
    }

    Context 'Removal (Remove-VirtualRouter, Remove-VirtualNetwork)' {
        It 'Remove-VirtualNetwork -WhatIf removes nothing' {
            Remove-VirtualNetwork -Name $Label @VN -WhatIf -ErrorAction Stop
            foreach ($name in $RouterNames) { Hyper-V\Get-VM @HV -Name $name -ErrorAction SilentlyContinue | Should -Not -BeNullOrEmpty }
        }

        It 'Remove-VirtualRouter removes r4, its disk and the adapters of its links on both ends' {
            $r4 = Get-TestName 'r4'
            Remove-VirtualRouter -Name $r4 -Force @VN -Confirm:$false -ErrorAction Stop
            Hyper-V\Get-VM @HV -Name $r4 -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
            # On an SMB share the backend cannot delete a disk (docs/hyperv-backend.md section 6): it stays, by design.
            foreach ($path in @($RecordedDisk[$r4] | Where-Object { -not $_.StartsWith('\\') })) { Test-HostFile -Path $path | Should -BeFalse -Because "$path belonged to $r4" }
            foreach ($l in @($Topology.Links | Where-Object { $_.From -eq 'r4' -or $_.To -eq 'r4' })) {
                foreach ($end in @($l.From, $l.To | Where-Object { $_ -ne 'r4' })) {
                    Get-LinkAdapter -RouterKey $end -LinkKey $l.Key | Should -BeNullOrEmpty -Because "$(Get-NicName $l.Key) went with r4"
                }
            }
            foreach ($key in 'r1', 'r2', 'r3') { Hyper-V\Get-VM @HV -Name (Get-TestName $key) | Should -Not -BeNullOrEmpty }
        }

        It 'Remove-VirtualNetwork removes every remaining router VM' {
            Remove-VirtualNetwork -Name $Label -Force @VN -Confirm:$false -ErrorAction Stop
            foreach ($name in $RouterNames) { Hyper-V\Get-VM @HV -Name $name -ErrorAction SilentlyContinue | Should -BeNullOrEmpty }
        }

        It 'leaves no marked VM that was not there before' {
            (Get-OwnedVMName) -join ', ' | Should -Be ($Baseline.OwnedVMs -join ', ')
        }

        It 'leaves no link adapter that was not there before' {
            (Get-LinkAdapterId) -join ', ' | Should -Be ($Baseline.LinkAdapters -join ', ')
            @(Hyper-V\Get-VMNetworkAdapter @HV -All | Where-Object { $_.Name -like "vn:$Prefix-*" }).Count | Should -Be 0
        }

        It 'leaves no differencing disk at the path recorded for <Key>' -ForEach $Topology.Routers {
            $name = Get-TestName $Key
            foreach ($path in @(@($RecordedDisk[$name]) + "$VhdDir\$name.vhdx" | Where-Object { -not $_.StartsWith('\\') })) {
                Test-HostFile -Path $path | Should -BeFalse -Because "$path belonged to $name"
            }
        }

        It 'removes the fabric switch it created, or keeps it marked, private and unused' {
            $switch = Hyper-V\Get-VMSwitch @HV -Name $FabricSwitchName -ErrorAction SilentlyContinue
            if ($FabricExisted) {
                # It was there before the suite ran (other networks may use it): it must still be there.
                @($switch).Count | Should -Be 1
            }
            elseif ($switch) {
                # Kept after the last network went (allowed when docs/hyperv-backend.md says so): nothing may use it.
                [string]$switch.SwitchType | Should -Be 'Private'
                Test-OwnedNotes -Notes $switch.Notes -Kind 'fabric' | Should -BeTrue
                @(Hyper-V\Get-VMNetworkAdapter @HV -All | Where-Object { $_.SwitchName -eq $FabricSwitchName }).Count | Should -Be 0
            }
            (Get-VMSwitchName | Where-Object { $Baseline.Switches -notcontains $_ -and $_ -ne $FabricSwitchName }) -join ', ' | Should -Be ''
        }
    }
}

Describe 'Move-VirtualRouter to a second Hyper-V host' -Tag 'HyperV', 'HyperVMigration' -Skip:([bool]$MigrationSkipReason) -ForEach @(@{ Topology = $MigrationTopology }) {
    BeforeAll {
        Import-ModuleUnderTest
        $Target = @{ ComputerName = $SecondHost }
        $Names = @($Topology.Routers | ForEach-Object { Get-TestName $_.Key })
        foreach ($name in $Names) {
            if (Hyper-V\Get-VM @HV -Name $name -ErrorAction SilentlyContinue) { throw "A VM named '$name' already exists on the host; the suite will not touch it." }
            if (Hyper-V\Get-VM @Target -Name $name -ErrorAction SilentlyContinue) { throw "A VM named '$name' already exists on '$SecondHost'; the suite will not touch it." }
        }
        $RouterNames = $Names
        $VhdDir = Get-ExpectedVhdDirectory
        $TargetVhdDir = Get-ExpectedVhdDirectory -On $Target
        $FabricExisted = (Get-VMSwitchName) -contains $FabricSwitchName
        $TargetFabricExisted = (Get-VMSwitchName -On $Target) -contains $FabricSwitchName
        $TopologyPath = Join-Path -Path $TestDrive -ChildPath 'migration.json'
        New-TestTopologyFile -Path $TopologyPath -Spec $Topology
        Deploy-VirtualNetwork -Path $TopologyPath @VN -Confirm:$false -ErrorAction Stop | Out-Null
        $Subject = Get-TestName 'm1'
        $SubjectId = [string](Hyper-V\Get-VM @HV -Name $Subject).Id
        $FirstHost = if ($Computer) { $Computer } else { $env:COMPUTERNAME }
        $SubjectVlan = (Hyper-V\Get-VMNetworkAdapterVlan @HV -VMName $Subject -VMNetworkAdapterName (Get-NicName 'm12')).AccessVlanId
        $SubjectNicIds = @(Hyper-V\Get-VMNetworkAdapter @HV -VMName $Subject | ForEach-Object { [string]$_.Id })
    }

    AfterAll {
        if ($RouterNames) {
            try { Remove-VirtualNetwork -Name (Get-TestName $Topology.Label) -Force @VN -Confirm:$false -ErrorAction Stop }
            catch { Write-Warning "Remove-VirtualNetwork failed; removing through Hyper-V: $($_.Exception.Message)" }
            Remove-OwnedTestObject -RouterName $RouterNames -DiskPath @($RouterNames | ForEach-Object { "$VhdDir\$_.vhdx" }) -FabricSwitch:(-not $FabricExisted)
            Remove-OwnedTestObject -RouterName $RouterNames -DiskPath @($RouterNames | ForEach-Object { "$TargetVhdDir\$_.vhdx" }) -FabricSwitch:(-not $TargetFabricExisted) -On $Target
        }
    }

    It '<Mode> migration behaves as documented (supported now: <Supported>)' -ForEach $MigrationCases {
        # Every error the command reports, non-terminating (per router) or terminating.
        $moveErrors = @()
        try { Move-VirtualRouter -Name $Subject -DestinationHost $SecondHost -Mode $Mode -ComputerName $FirstHost, $SecondHost -Confirm:$false -ErrorAction SilentlyContinue -ErrorVariable moveErrors }
        catch { $moveErrors = @($moveErrors) + $_ }
        $errors = @($moveErrors | ForEach-Object { if ($_ -is [System.Management.Automation.ErrorRecord]) { $_ } else { $_.ErrorRecord } } | Where-Object { $_ })
        if (-not $Supported) {
            # docs/help/Move-VirtualRouter.md: a backend without the kind of migration reports OperationNotSupported
            # and changes nothing.
            $errors.Count | Should -BeGreaterThan 0 -Because 'the Hyper-V backend cannot migrate yet'
            $errors[0].FullyQualifiedErrorId | Should -BeLike 'OperationNotSupported,*'
            $vm = Hyper-V\Get-VM @HV -Name $Subject
            [string]$vm.Id | Should -Be $SubjectId
            [string]$vm.State | Should -Be 'Running'
            Hyper-V\Get-VM @Target -Name $Subject -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        }
        else {
            # The router, its adapter and its disk are on the second host (the same VM: same Id), marked, running, and
            # gone from the first; its link m12 to m2 (which stayed) crosses the hosts on the transport switch, both ends
            # in the link's VLAN with its limit (docs/help/Move-VirtualRouter.md, docs/hyperv-backend.md §10).
            ($errors | ForEach-Object { $_.FullyQualifiedErrorId }) -join ', ' | Should -Be ''
            $moved = Hyper-V\Get-VM @Target -Name $Subject -ErrorAction SilentlyContinue
            @($moved).Count | Should -Be 1
            [string]$moved.Id | Should -Be $SubjectId
            Test-OwnedNotes -Notes $moved.Notes -Kind 'router' -Router $Subject | Should -BeTrue
            [string]$moved.State | Should -Be 'Running'
            Hyper-V\Get-VM @HV -Name $Subject -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
            $movedNic = Hyper-V\Get-VMNetworkAdapter @Target -VMName $Subject -Name (Get-NicName 'm12')
            $peerNic = Hyper-V\Get-VMNetworkAdapter @HV -VMName (Get-TestName 'm2') -Name (Get-NicName 'm12')
            $movedNic.SwitchName | Should -Be $TransportSwitchName
            $peerNic.SwitchName | Should -Be $TransportSwitchName
            $movedVlan = Hyper-V\Get-VMNetworkAdapterVlan @Target -VMName $Subject -VMNetworkAdapterName (Get-NicName 'm12')
            $peerVlan = Hyper-V\Get-VMNetworkAdapterVlan @HV -VMName (Get-TestName 'm2') -VMNetworkAdapterName (Get-NicName 'm12')
            [string]$movedVlan.OperationMode | Should -Be 'Access'
            $movedVlan.AccessVlanId | Should -Be $SubjectVlan
            $peerVlan.AccessVlanId | Should -Be $SubjectVlan
            Get-MaximumBandwidth $movedNic | Should -Be (ConvertTo-HyperVBandwidth 5000000)
            # The disk moved with the VM (local storage: MigrationType 32771) unless it is on a share.
            $disk = @(Hyper-V\Get-VMHardDiskDrive @Target -VMName $Subject)
            $disk.Count | Should -Be 1
            Split-Path -Path $disk[0].Path -Leaf | Should -Be "$Subject.vhdx"
            (Hyper-V\Get-VHD @Target -Path $disk[0].Path).ParentPath | Should -Be $Image
            if (-not $disk[0].Path.StartsWith('\\')) { Test-HostFile -Path "$VhdDir\$Subject.vhdx" | Should -BeFalse }
            @(Get-LinkAdapterId | Where-Object { $SubjectNicIds -contains $_ }).Count | Should -Be 0
            # Move it back so the next case starts from the same place; the link returns to the fabric.
            Move-VirtualRouter -Name $Subject -DestinationHost $(if ($Computer) { $Computer } else { $env:COMPUTERNAME }) -Mode $Mode -ComputerName $FirstHost, $SecondHost -Confirm:$false -ErrorAction Stop
            $back = Hyper-V\Get-VM @HV -Name $Subject
            [string]$back.Id | Should -Be $SubjectId
            (Hyper-V\Get-VMNetworkAdapter @HV -VMName $Subject -Name (Get-NicName 'm12')).SwitchName | Should -Be $FabricSwitchName
            Hyper-V\Get-VM @Target -Name $Subject -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        }
    }
}
