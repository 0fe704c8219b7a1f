#Requires -Version 7.2
<#
.SYNOPSIS
    Pester 5 integration suite for the VirtualNetworks module on the Linux backend (tag: Linux), with real QEMU routers.

.DESCRIPTION
    Written the way a user writes a suite for their own lab: BeforeAll writes a topology file to TestDrive: and deploys
    it, the tests check the module's own objects (Get-VirtualHost, -Router, -Link, -Network, Test-VirtualNetwork,
    Measure-VirtualLink) with Should, bad input is checked with Should -Throw -ErrorId against the module's
    FullyQualifiedErrorIds, and AfterAll tears everything down with Remove-VirtualNetwork (the lab hosts the deployment
    created go with it).

    The network under test: three lab hosts in a chain h1 - h2 - h3 (network namespaces joined by veth "physical
    links") and two isolated virtual networks of two routers each (128 MB, one vCPU):

        a (IPv4): a1 on h1, a2 on h2, link a1-a2 limited to 10 Mbit/s (a VXLAN tunnel h1 > h2)
        b (IPv6): b1 on h1, b2 on h3, link b1-b2 unlimited (a VXLAN tunnel h1 > h2 > h3, two physical hops)

    It covers deploy, Test-VirtualNetwork (reachability inside a network, isolation between them), a live bandwidth
    change (Set-VirtualLink, Get-VirtualLink, Measure-VirtualLink), suspend and resume, a live migration (a2: h2 > h3)
    and a cold migration (b1: h1 > h2) between lab hosts, the removal, and bad input.

    Every name it creates carries a random prefix, and it works in a state directory of its own (a fresh 0700
    directory under the temporary folder, set as VIRTUALNETWORKS_STATE_DIR and restored afterwards), so it never
    collides with another run or with networks already on the machine.

    It skips itself, with the reason, when the machine cannot run it: not Linux, not root, no qemu-system-x86_64, no
    module, or no router image. With VIRTUALNETWORKS_LINUX_REQUIRED=1 (CI) a missing prerequisite fails instead.

    Environment:
      VIRTUALNETWORKS_MODULE           optional: the module manifest, its folder, or an installed module's name;
                                       default <repo>/out/VirtualNetworks/VirtualNetworks.psd1
      VIRTUALNETWORKS_LINUX_REQUIRED   optional: 1/true/yes turns a missing prerequisite into a failure
      VIRTUALNETWORKS_IMAGE_PATH       optional: folders (':'-separated) searched first for the router image
      VIRTUALNETWORKS_LINUX_IMAGE      optional: the router image name; default 'router'

    How to run it and what each Describe proves: tests/Pester/README.md.
#>

BeforeDiscovery {
    # Skip decisions are taken here, at discovery, so that -Skip: can use them. Nothing here changes the machine.
    # VIRTUALNETWORKS_MODULE: a manifest, its folder, or the name of an installed module (e.g. VirtualNetworks).
    $ModulePath = $env:VIRTUALNETWORKS_MODULE
    if (-not $ModulePath) { $ModulePath = Join-Path -Path $PSScriptRoot -ChildPath '../../out/VirtualNetworks/VirtualNetworks.psd1' }
    elseif (Test-Path -LiteralPath $ModulePath -PathType Container) { $ModulePath = Join-Path -Path $ModulePath -ChildPath 'VirtualNetworks.psd1' }
    elseif (-not (Test-Path -LiteralPath $ModulePath) -and $ModulePath -notmatch '[\\/]') {
        $installed = Get-Module -ListAvailable -Name $ModulePath | Sort-Object -Property Version -Descending | Select-Object -First 1
        if ($installed) { $ModulePath = $installed.Path }
    }
    $ImageName = if ($env:VIRTUALNETWORKS_LINUX_IMAGE) { $env:VIRTUALNETWORKS_LINUX_IMAGE } else { 'router' }

    $SkipReason = $null
    if (-not $IsLinux) {
        $SkipReason = "not Linux ($([Environment]::OSVersion.VersionString)): the Linux backend needs a Linux host"
    }
    elseif ((& id -u) -ne '0') {
        $SkipReason = "not root (uid $(& id -u)): the Linux backend creates network namespaces, bridges and taps"
    }
    elseif (-not (Get-Command -Name qemu-system-x86_64 -CommandType Application -ErrorAction SilentlyContinue)) {
        $SkipReason = 'qemu-system-x86_64 is not installed (Debian package qemu-system-x86)'
    }
    elseif (-not (Test-Path -LiteralPath $ModulePath -PathType Leaf)) {
        $SkipReason = "the module is not at '$ModulePath' (./build.sh build stages it; or set VIRTUALNETWORKS_MODULE to a manifest or an installed module's name)"
    }
    else {
        # The image search order of the Linux backend (docs/ARCHITECTURE.md): VIRTUALNETWORKS_IMAGE_PATH, the
        # per-machine folder, then the build's out/images next to the staged module. (The suite's own state directory
        # is new, so its images/ folder holds nothing.) An image is a folder with vmlinuz and initramfs.cpio.gz, or a
        # .qcow2 file.
        $folders = @()
        if ($env:VIRTUALNETWORKS_IMAGE_PATH) { $folders += @($env:VIRTUALNETWORKS_IMAGE_PATH -split ':' | Where-Object { $_ }) }
        $folders += '/var/lib/virtualnetworks/images'
        $folders += [IO.Path]::GetFullPath((Join-Path -Path (Split-Path -Path (Resolve-Path -LiteralPath $ModulePath).ProviderPath -Parent) -ChildPath '../images'))
        $found = $folders | Where-Object {
            ((Test-Path -LiteralPath (Join-Path $_ "$ImageName/vmlinuz") -PathType Leaf) -and
            (Test-Path -LiteralPath (Join-Path $_ "$ImageName/initramfs.cpio.gz") -PathType Leaf)) -or
            (Test-Path -LiteralPath (Join-Path $_ "$ImageName.qcow2") -PathType Leaf)
        } | Select-Object -First 1
        if (-not $found) {
            $SkipReason = "the router image '$ImageName' is in none of $($folders -join ', ') (images/router/build.sh builds it; ./build.sh test does it)"
        }
    }
}

BeforeAll {
    # Settings and helpers shared by every Describe. Nothing here changes the machine.
    $RequirePrerequisites = @('1', 'true', 'yes') -contains "$env:VIRTUALNETWORKS_LINUX_REQUIRED".Trim().ToLowerInvariant()
    # VIRTUALNETWORKS_MODULE: a manifest, its folder, or the name of an installed module (e.g. VirtualNetworks).
    $ModulePath = $env:VIRTUALNETWORKS_MODULE
    if (-not $ModulePath) { $ModulePath = Join-Path -Path $PSScriptRoot -ChildPath '../../out/VirtualNetworks/VirtualNetworks.psd1' }
    elseif (Test-Path -LiteralPath $ModulePath -PathType Container) { $ModulePath = Join-Path -Path $ModulePath -ChildPath 'VirtualNetworks.psd1' }
    elseif (-not (Test-Path -LiteralPath $ModulePath) -and $ModulePath -notmatch '[\\/]') {
        $installed = Get-Module -ListAvailable -Name $ModulePath | Sort-Object -Property Version -Descending | Select-Object -First 1
        if ($installed) { $ModulePath = $installed.Path }
    }
    $ImageName = if ($env:VIRTUALNETWORKS_LINUX_IMAGE) { $env:VIRTUALNETWORKS_LINUX_IMAGE } else { 'router' }

    # Every name this run creates starts with this prefix ('vnl' and 6 random hex digits), so concurrent runs cannot
    # collide: the namespaces, bridges and taps are named after hashes of these names.
    $Prefix = 'vnl' + [guid]::NewGuid().ToString('N').Substring(0, 6)
    function N([string] $Key) { "$Prefix-$Key" }

    # How long a guest may take to boot and apply its configuration (QEMU without KVM on a busy 2-core machine).
    $BootTimeoutSec = 240

    # A fresh state directory of this run: 0700 (the module refuses group- or world-writable ones, and symbolic links)
    # under the temporary folder. Returns the previous VIRTUALNETWORKS_STATE_DIR, for Exit-TestStateDirectory.
    function Enter-TestStateDirectory([string] $Label) {
        $path = Join-Path -Path ([IO.Path]::GetTempPath()) -ChildPath "vnpester-$Prefix-$Label"
        if (Test-Path -LiteralPath $path) { throw "The state directory '$path' already exists; a run never reuses one." }
        $mode = [IO.UnixFileMode]'UserRead, UserWrite, UserExecute'
        $null = [IO.Directory]::CreateDirectory($path, $mode)
        $previous = [pscustomobject]@{ Value = $env:VIRTUALNETWORKS_STATE_DIR; Path = $path }
        $env:VIRTUALNETWORKS_STATE_DIR = $path
        $previous
    }

    # Restores the previous state directory; deletes this run's only when no router, link, host or physical link record
    # is left in it (otherwise it is kept, so that whatever is left can still be removed with VIRTUALNETWORKS_STATE_DIR
    # pointing at it).
    function Exit-TestStateDirectory($Previous) {
        if (-not $Previous) { return }
        $env:VIRTUALNETWORKS_STATE_DIR = $Previous.Value
        $records = @(foreach ($kind in 'routers', 'links', 'hosts', 'physical-links') {
                Get-ChildItem -LiteralPath (Join-Path $Previous.Path $kind) -File -Filter '*.json' -ErrorAction SilentlyContinue
            })
        if ($records.Count -eq 0) { Remove-Item -LiteralPath $Previous.Path -Recurse -Force -ErrorAction SilentlyContinue }
        else { Write-Warning "Kept the state directory $($Previous.Path): it still holds $($records.Count) record(s) ($(($records | ForEach-Object Name) -join ', '))." }
    }

    function Import-ModuleUnderTest {
        Import-Module -Name $ModulePath -Force -Global -ErrorAction Stop
    }

    # The failed probes of a Test-VirtualNetwork report, for -Because.
    function Format-FailedProbe($Report) {
        ($Report.Results | Where-Object { -not $_.Passed } | ForEach-Object { "$($_.Source) -> $($_.DestinationAddress): $($_.Detail)" }) -join '; '
    }
}

Describe 'Linux test host' -Tag 'Linux' -ForEach @(@{ SkipReason = $SkipReason }) {
    # Always runs: reports why the other Describes are skipped (or fails when VIRTUALNETWORKS_LINUX_REQUIRED is set).
    It 'is a Linux host with root, QEMU, the module and the router image (otherwise the Linux Describes are skipped)' {
        if ($SkipReason) {
            if ($RequirePrerequisites) { throw "VIRTUALNETWORKS_LINUX_REQUIRED is set, but: $SkipReason" }
            Set-ItResult -Skipped -Because $SkipReason
            return
        }
        $IsLinux | Should -BeTrue
        (& id -u) | Should -Be '0'
        $ModulePath | Should -Exist
    }
}

Describe 'Bad input is refused with the documented error ids' -Tag 'Linux' -Skip:([bool]$SkipReason) {
    BeforeAll {
        Import-ModuleUnderTest
        $StateDirectory = Enter-TestStateDirectory 'input'

        # Each file is wrong in one way; the router and link names are this run's, so nothing could match by accident.
        $r1 = N 'x1'
        $r2 = N 'x2'
        Set-Content -LiteralPath 'TestDrive:/syntax.json' -Value "{ `"routers`": [ { `"name`": `"$r1`" } ],"
        Set-Content -LiteralPath 'TestDrive:/empty.json' -Value ''
        Set-Content -LiteralPath 'TestDrive:/unknown-field.json' -Value (@{ routers = @(@{ name = $r1; colour = 'red' }) } | ConvertTo-Json -Depth 4)
        Set-Content -LiteralPath 'TestDrive:/bad-name.json' -Value (@{ routers = @(@{ name = 'two words' }) } | ConvertTo-Json -Depth 4)
        Set-Content -LiteralPath 'TestDrive:/bad-bandwidth.json' -Value (@{
                routers = @(@{ name = $r1 }, @{ name = $r2 })
                links   = @(@{ from = $r1; to = $r2; maximumBandwidth = 'fast' })
            } | ConvertTo-Json -Depth 4)
        Set-Content -LiteralPath 'TestDrive:/bad-endpoint.json' -Value (@{
                routers = @(@{ name = $r1 })
                links   = @(@{ from = $r1; to = (N 'nowhere') })
            } | ConvertTo-Json -Depth 4)
        Set-Content -LiteralPath 'TestDrive:/bad-memory.json' -Value (@{ routers = @(@{ name = $r1; memoryMB = 1 }) } | ConvertTo-Json -Depth 4)
        Set-Content -LiteralPath 'TestDrive:/unknown-host.json' -Value (@{ routers = @(@{ name = $r1; host = (N 'nohost') }) } | ConvertTo-Json -Depth 4)
    }

    AfterAll {
        # Only if a file that should have been refused did deploy something: remove it (the state directory is this
        # Describe's own, so everything in it is this run's).
        if ($StateDirectory) {
            Get-VirtualNetwork -ErrorAction SilentlyContinue | Remove-VirtualNetwork -Force -Confirm:$false -ErrorAction Continue
        }
        Exit-TestStateDirectory $StateDirectory
    }

    Context 'A topology file Deploy-VirtualNetwork cannot use' {
        It 'refuses <File> with <ErrorId>' -ForEach @(
            @{ File = 'missing.json'; ErrorId = 'TopologyFileNotFound' }
            @{ File = 'empty.json'; ErrorId = 'TopologyFileEmpty' }
            @{ File = 'syntax.json'; ErrorId = 'TopologyJsonSyntax' }
            @{ File = 'unknown-field.json'; ErrorId = 'TopologyUnknownField' }
            @{ File = 'bad-name.json'; ErrorId = 'InvalidName' }
            @{ File = 'bad-bandwidth.json'; ErrorId = 'InvalidBandwidth' }
            @{ File = 'bad-endpoint.json'; ErrorId = 'LinkEndpointNotFound' }
            @{ File = 'bad-memory.json'; ErrorId = 'InvalidMemory' }
            @{ File = 'unknown-host.json'; ErrorId = 'UnknownHost' }
        ) {
            { Deploy-VirtualNetwork -Path "TestDrive:/$File" } |
                Should -Throw -ErrorId "$ErrorId,VirtualNetworks.Commands.DeployVirtualNetworkCommand"
        }

        It 'creates nothing from a file it refuses' {
            Get-VirtualRouter | Should -BeNullOrEmpty
            Get-VirtualLink | Should -BeNullOrEmpty
            @(Get-VirtualHost | Where-Object IsLabHost) | Should -HaveCount 0
        }
    }

    Context 'Names the module does not know, or cannot accept' {
        It 'reports an unknown router as RouterNotFound' {
            { Get-VirtualRouter -Name (N 'nosuch') -ErrorAction Stop } |
                Should -Throw -ErrorId 'RouterNotFound,VirtualNetworks.Commands.GetVirtualRouterCommand'
        }

        It 'reports RouterNotFound when suspending an unknown router, naming it as the target' {
            $err = { Suspend-VirtualRouter -Name (N 'nosuch') -ErrorAction Stop } |
                Should -Throw -ErrorId 'RouterNotFound,VirtualNetworks.Commands.SuspendVirtualRouterCommand' -PassThru
            $err.TargetObject | Should -Be (N 'nosuch')
            $err.CategoryInfo.Category | Should -Be 'ObjectNotFound'
        }

        It 'reports an unknown link as LinkNotFound' {
            { Set-VirtualLink -Name (N 'nolink') -MaximumBandwidth 5Mbps -ErrorAction Stop } |
                Should -Throw -ErrorId 'LinkNotFound,VirtualNetworks.Commands.SetVirtualLinkCommand'
        }

        It 'reports an unknown network as NetworkNotFound' {
            { Test-VirtualNetwork -Name (N 'nonet') -ErrorAction Stop } |
                Should -Throw -ErrorId 'NetworkNotFound,VirtualNetworks.Commands.TestVirtualNetworkCommand'
        }

        It 'reports an unknown host as HostNotFound' {
            { Get-VirtualRouter -ComputerName (N 'nohost') -ErrorAction Stop } |
                Should -Throw -ErrorId 'HostNotFound,VirtualNetworks.Commands.GetVirtualRouterCommand'
        }

        It 'refuses the router name <Name> with <ErrorId>' -ForEach @(
            @{ Name = 'bad name!'; ErrorId = 'InvalidName' }
            @{ Name = '-dash-first'; ErrorId = 'InvalidName' }
            @{ Name = 'x..y'; ErrorId = 'InvalidName' }
            @{ Name = ('r' * 64); ErrorId = 'NameTooLong' }
        ) {
            { New-VirtualRouter -Name $Name -ErrorAction Stop } |
                Should -Throw -ErrorId "$ErrorId,VirtualNetworks.Commands.NewVirtualRouterCommand"
        }

        It 'refuses a bandwidth that is not a rate before the command runs' {
            { Set-VirtualLink -Name (N 'nolink') -MaximumBandwidth 'fast' -ErrorAction Stop } |
                Should -Throw -ErrorId 'ParameterArgumentTransformationError,VirtualNetworks.Commands.SetVirtualLinkCommand' -ExpectedMessage '*not a number with an optional unit*'
        }
    }
}

Describe 'A virtual network on three Linux lab hosts' -Tag 'Linux' -Skip:([bool]$SkipReason) {
    BeforeAll {
        Import-ModuleUnderTest
        $StateDirectory = Enter-TestStateDirectory 'net'
        $Hosts = @((N 'h1'), (N 'h2'), (N 'h3'))
        $NetA = N 'a'
        $NetB = N 'b'
        $A1 = N 'a1'; $A2 = N 'a2'; $B1 = N 'b1'; $B2 = N 'b2'
        $LinkA = N 'a1-a2'
        $LinkB = N 'b1-b2'
        $Placement = @{ $A1 = $Hosts[0]; $A2 = $Hosts[1]; $B1 = $Hosts[0]; $B2 = $Hosts[2] }
        $Topology = [ordered]@{
            defaults      = [ordered]@{ image = $ImageName; memoryMB = 128; processorCount = 1 }
            hosts         = @($Hosts | ForEach-Object { [ordered]@{ name = $_ } })
            physicalLinks = @(
                [ordered]@{ from = $Hosts[0]; to = $Hosts[1] }
                [ordered]@{ from = $Hosts[1]; to = $Hosts[2] }
            )
            routers       = @(
                [ordered]@{ name = $A1; network = $NetA; addressFamily = 'IPv4'; host = $Hosts[0] }
                [ordered]@{ name = $A2; network = $NetA; addressFamily = 'IPv4'; host = $Hosts[1] }
                [ordered]@{ name = $B1; network = $NetB; addressFamily = 'IPv6'; host = $Hosts[0] }
                [ordered]@{ name = $B2; network = $NetB; addressFamily = 'IPv6'; host = $Hosts[2] }
            )
            links         = @(
                [ordered]@{ name = $LinkA; from = $A1; to = $A2; maximumBandwidth = '10Mbps' }
                [ordered]@{ name = $LinkB; from = $B1; to = $B2 }
            )
        }
        $TopologyPath = 'TestDrive:/lab.json'
        $Topology | ConvertTo-Json -Depth 6 | Set-Content -LiteralPath $TopologyPath

        # -Wait: returns once every guest has booted and applied its configuration (Wait-VirtualRouter's readiness).
        $Deployment = Deploy-VirtualNetwork -Path $TopologyPath -Wait -TimeoutSec $BootTimeoutSec -ErrorAction Stop
    }

    AfterAll {
        # Teardown, also after a failure half-way: the networks (their lab hosts go with them), then whatever is left.
        if ($NetA) {
            Remove-VirtualNetwork -Name $NetA, $NetB -Force -Confirm:$false -ErrorAction SilentlyContinue
            Get-VirtualHost -ErrorAction SilentlyContinue | Where-Object { $_.IsLabHost -and $Hosts -contains $_.Name } |
                Remove-VirtualLabHost -Confirm:$false -ErrorAction Continue
        }
        Exit-TestStateDirectory $StateDirectory
    }

    Context 'Deploy-VirtualNetwork from a file in TestDrive:' {
        It 'reports both networks and the changes it made' {
            $Deployment.Networks | Sort-Object | Should -Be @($NetA, $NetB | Sort-Object)
            $Deployment.Changes | Should -BeGreaterThan 0
        }

        It 'returns with -Wait once every guest is ready' {
            $ready = @(Wait-VirtualRouter -NetworkName $NetA, $NetB -TimeoutSec 30 -PassThru -ErrorAction Stop)
            $ready.Name | Sort-Object | Should -Be @($A1, $A2, $B1, $B2)
            $ready | ForEach-Object { $_.GuestUptime | Should -BeGreaterThan ([TimeSpan]::Zero) -Because "$($_.Name)'s guest answered ready" }
        }

        It 'creates the three lab hosts in a chain h1 - h2 - h3' {
            $labHosts = @(Get-VirtualHost | Where-Object IsLabHost)
            $labHosts.Name | Sort-Object | Should -Be ($Hosts | Sort-Object)
            $labHosts | ForEach-Object { $_.CreatedByDeployment | Should -BeTrue -Because "$($_.Name) was declared in the file" }
            (Get-VirtualHost -Name $Hosts[1]).Neighbors | Sort-Object | Should -Be @($Hosts[0], $Hosts[2] | Sort-Object)
            (Get-VirtualHost -Name $Hosts[0]).Neighbors | Should -Be @($Hosts[1])
            (Get-VirtualHost -Name $Hosts[0]).DeployedFor | Sort-Object | Should -Be @($NetA, $NetB | Sort-Object)
        }

        It 'runs <Key> on h<HostNumber> with 128 MB and one processor' -ForEach @(
            @{ Key = 'a1'; HostNumber = 1 }, @{ Key = 'a2'; HostNumber = 2 }, @{ Key = 'b1'; HostNumber = 1 }, @{ Key = 'b2'; HostNumber = 3 }
        ) {
            $router = Get-VirtualRouter -Name (N $Key)
            $router.ComputerName | Should -Be $Hosts[$HostNumber - 1]
            $router.State | Should -Be 'Running'
            $router.MemoryMB | Should -Be 128
            $router.ProcessorCount | Should -Be 1
            $router.Backend | Should -Be 'Linux'
            $router.Addresses | Should -Not -BeNullOrEmpty
        }

        It 'gives network a IPv4 addresses and network b IPv6 addresses' {
            (Get-VirtualRouter -Name $A1).Addresses | ForEach-Object { [ipaddress]($_ -split '/')[0] } |
                ForEach-Object { $_.AddressFamily | Should -Be 'InterNetwork' }
            (Get-VirtualRouter -Name $B1).Addresses | ForEach-Object { [ipaddress]($_ -split '/')[0] } |
                ForEach-Object { $_.AddressFamily | Should -Be 'InterNetworkV6' }
        }

        It 'joins a1 and a2 across one physical hop, limited to 10 Mbit/s' {
            $link = Get-VirtualLink -Name $LinkA
            $link.From | Should -Be $A1
            $link.To | Should -Be $A2
            $link.MaximumBandwidth | Should -Be 10000000
            $link.IsCrossHost | Should -BeTrue
            $link.UnderlayPath | Should -Be @($Hosts[0], $Hosts[1])
            $link.TunnelId | Should -Not -BeNullOrEmpty
            $link.FromAddress | Should -Not -BeNullOrEmpty
            $link.ToAddress | Should -Not -BeNullOrEmpty
        }

        It 'joins b1 and b2 across two physical hops, unlimited' {
            $link = Get-VirtualLink -Name $LinkB
            $link.MaximumBandwidth | Should -BeNullOrEmpty
            $link.UnderlayPath | Should -Be $Hosts
        }

        It 'computes two virtual networks with the routers, links and hosts of each' {
            $a = Get-VirtualNetwork -Name $NetA
            $a.Routers | Sort-Object | Should -Be @($A1, $A2)
            $a.Links | Should -Be @($LinkA)
            $a.Hosts | Sort-Object | Should -Be @($Hosts[0], $Hosts[1])
            $a.AddressFamily | Should -Be 'IPv4'
            $b = Get-VirtualNetwork -Name $NetB
            $b.Routers | Sort-Object | Should -Be @($B1, $B2)
            $b.AddressFamily | Should -Be 'IPv6'
            $b.Hosts | Sort-Object | Should -Be @($Hosts[0], $Hosts[2]) -Because 'a network spans the hosts its routers run on (h2 only carries its tunnel)'
        }

        It 'changes nothing when the same file is deployed again' {
            $again = Deploy-VirtualNetwork -Path $TopologyPath -ErrorAction Stop
            $again.Changes | Should -Be 0
            (Get-VirtualRouter -Name $A1, $A2, $B1, $B2).State | Should -Be @('Running', 'Running', 'Running', 'Running')
        }
    }

    Context 'Test-VirtualNetwork' {
        It 'passes: every router reaches its own network and none reaches the other' {
            $report = Test-VirtualNetwork -Name $NetA, $NetB
            $report.Passed | Should -BeTrue -Because (Format-FailedProbe $report)
            $report.Networks | Sort-Object | Should -Be @($NetA, $NetB | Sort-Object)
            $report.ProbeCount | Should -Be $report.Results.Count
            @($report.Results | Where-Object Expected -EQ 'Reachable').Count | Should -BeGreaterThan 0
            @($report.Results | Where-Object Expected -EQ 'Unreachable').Count | Should -BeGreaterThan 0
        }

        It 'probes isolation between a and b on the host they share' {
            $report = Test-VirtualNetwork -Name $NetA, $NetB
            $crossing = @($report.Results | Where-Object { $_.Source -eq $A1 -and $_.DestinationNetwork -eq $NetB })
            $crossing.Count | Should -BeGreaterThan 0
            $crossing | ForEach-Object { $_.Reachable | Should -BeFalse -Because "$A1 must not reach $($_.DestinationAddress) of $NetB" }
        }

        It 'returns $true with -Quiet' {
            Test-VirtualNetwork -Name $NetA -Quiet | Should -BeTrue
        }
    }

    Context 'Changing the bandwidth of a running link' {
        BeforeAll {
            $Before = Get-VirtualRouter -Name $A1, $A2
            Set-VirtualLink -Name $LinkA -MaximumBandwidth 5Mbps -ErrorAction Stop
        }

        It 'shows the new limit in Get-VirtualLink' {
            (Get-VirtualLink -Name $LinkA).MaximumBandwidth | Should -Be 5000000
        }

        It 'keeps both routers running, with the same addresses' {
            foreach ($router in $Before) {
                $now = Get-VirtualRouter -Name $router.Name
                $now.State | Should -Be 'Running'
                $now.Addresses | Should -Be $router.Addresses
            }
        }

        It 'measures a throughput near the new limit (ratio 0.5 to 1.25)' {
            $m = Measure-VirtualLink -Name $LinkA -DurationSeconds 3
            $m.MaximumBandwidth | Should -Be 5000000
            $m.Bytes | Should -BeGreaterThan 0
            $m.Ratio | Should -BeGreaterOrEqual 0.5 -Because "measured $($m.MeasuredBandwidth) bit/s"
            $m.Ratio | Should -BeLessOrEqual 1.25 -Because "measured $($m.MeasuredBandwidth) bit/s"
            Write-Host ('      measured {0:0.00} Mbit/s of 5 Mbit/s (ratio {1:0.000}) in {2:0.0} s' -f ($m.MeasuredBandwidth / 1e6), $m.Ratio, $m.Duration.TotalSeconds)
        }

        It 'refuses a limit outside the backend range with BandwidthOutOfRange, keeping the old one' {
            { Set-VirtualLink -Name $LinkA -MaximumBandwidth 1000 -ErrorAction Stop } |
                Should -Throw -ErrorId 'BandwidthOutOfRange,VirtualNetworks.Commands.SetVirtualLinkCommand'
            (Get-VirtualLink -Name $LinkA).MaximumBandwidth | Should -Be 5000000
        }
    }

    Context 'Suspend-VirtualRouter and Resume-VirtualRouter' {
        It 'pauses a2: its state is Paused and network a fails its test' {
            Suspend-VirtualRouter -Name $A2 -ErrorAction Stop
            (Get-VirtualRouter -Name $A2).State | Should -Be 'Paused'
            $report = Test-VirtualNetwork -Name $NetA -ErrorAction SilentlyContinue -ErrorVariable probeErrors
            $report.Passed | Should -BeFalse
            $report.ReachabilityFailures | Should -BeGreaterThan 0
            $probeErrors.Count | Should -Be $report.FailedCount
            $probeErrors | ForEach-Object { $_.FullyQualifiedErrorId | Should -BeLike 'ReachabilityFailed,*' }
        }

        It 'leaves network b passing while a2 is paused' {
            Test-VirtualNetwork -Name $NetB -Quiet | Should -BeTrue
        }

        It 'refuses to wait for the paused a2 with RouterNotRunning, at once' {
            $clock = [Diagnostics.Stopwatch]::StartNew()
            { Wait-VirtualRouter -Name $A2 -TimeoutSec 60 -ErrorAction Stop } |
                Should -Throw -ErrorId 'RouterNotRunning,VirtualNetworks.Commands.WaitVirtualRouterCommand'
            $clock.Elapsed.TotalSeconds | Should -BeLessThan 30
        }

        It 'resumes a2 with -Wait: its state is Running and network a passes again' {
            Resume-VirtualRouter -Name $A2 -Wait -TimeoutSec 60 -ErrorAction Stop
            (Get-VirtualRouter -Name $A2).State | Should -Be 'Running'
            $report = Test-VirtualNetwork -Name $NetA
            $report.Passed | Should -BeTrue -Because (Format-FailedProbe $report)
        }
    }

    Context 'Live migration of a2 from h2 to h3' {
        BeforeAll {
            $Before = Get-VirtualRouter -Name $A2
            $UptimeBefore = (Wait-VirtualRouter -Name $A2 -TimeoutSec 60 -PassThru -ErrorAction Stop).GuestUptime
            # a1 pings a2 every 20 ms (20 s of probes) in a thread job while a2 moves: the probes lost are the gap.
            $Probes = Start-ThreadJob -ArgumentList $ModulePath, $A1, $A2 -ScriptBlock {
                param($Module, $From, $To)
                Import-Module -Name $Module -ErrorAction Stop
                Test-VirtualRouterConnection -Name $From -TargetName $To -Count 1000 -IntervalMilliseconds 20 -ErrorAction Stop
            }
            Start-Sleep -Seconds 2
            $MoveClock = [Diagnostics.Stopwatch]::StartNew()
            Move-VirtualRouter -Name $A2 -DestinationHost $Hosts[2] -Mode Live -Confirm:$false -ErrorAction Stop
            $MoveClock.Stop()
            $Stream = Receive-Job -Job $Probes -Wait -AutoRemoveJob -ErrorAction Stop
            $After = Get-VirtualRouter -Name $A2
            $UptimeAfter = (Wait-VirtualRouter -Name $A2 -TimeoutSec 60 -PassThru -ErrorAction Stop).GuestUptime
        }

        It 'puts a2 on h3, still running' {
            $Before.ComputerName | Should -Be $Hosts[1]
            $After.ComputerName | Should -Be $Hosts[2]
            $After.State | Should -Be 'Running'
        }

        It 'does not restart its guest (its uptime only grew)' {
            $UptimeAfter | Should -BeGreaterThan $UptimeBefore
        }

        It 'keeps forwarding while it moves: a1''s probes to a2 are answered but for a short gap' {
            $Stream.Sent | Should -BeGreaterThan 0
            ($Stream.Sent * 20) | Should -BeGreaterThan (2000 + $MoveClock.Elapsed.TotalMilliseconds) -Because 'the probes must cover the whole move'
            $Stream.Received | Should -BeGreaterOrEqual ($Stream.Sent * 0.8) -Because "$($Stream.Received) of $($Stream.Sent) answered"
            $Stream.LongestGapMilliseconds | Should -BeLessThan 5000
            Write-Host ('      Move-VirtualRouter -Mode Live took {0:0.00} s; {1} of {2} probes answered, longest gap {3} ms' -f
                $MoveClock.Elapsed.TotalSeconds, $Stream.Received, $Stream.Sent, $Stream.LongestGapMilliseconds)
        }

        It 'keeps its addresses' {
            $After.Addresses | Should -Be $Before.Addresses
        }

        It 'takes its link along: a1 - a2 now crosses two physical hops and keeps its limit' {
            $link = Get-VirtualLink -Name $LinkA
            $link.ToComputerName | Should -Be $Hosts[2]
            $link.UnderlayPath | Should -Be $Hosts
            $link.MaximumBandwidth | Should -Be 5000000
        }

        It 'leaves both networks passing their test without waiting' {
            $report = Test-VirtualNetwork -Name $NetA, $NetB
            $report.Passed | Should -BeTrue -Because (Format-FailedProbe $report)
        }

        It 'refuses to move a2 to the host it is on with RouterAlreadyOnHost' {
            { Move-VirtualRouter -Name $A2 -DestinationHost $Hosts[2] -Confirm:$false -ErrorAction Stop } |
                Should -Throw -ErrorId 'RouterAlreadyOnHost,VirtualNetworks.Commands.MoveVirtualRouterCommand'
        }

        It 'refuses a destination that is no host with HostNotFound' {
            { Move-VirtualRouter -Name $A2 -DestinationHost (N 'nohost') -Confirm:$false -ErrorAction Stop } |
                Should -Throw -ErrorId 'HostNotFound,VirtualNetworks.Commands.MoveVirtualRouterCommand'
            (Get-VirtualRouter -Name $A2).ComputerName | Should -Be $Hosts[2]
        }
    }

    Context 'Cold migration of b1 from h1 to h2' {
        BeforeAll {
            $Before = Get-VirtualRouter -Name $B1
            $MoveClock = [Diagnostics.Stopwatch]::StartNew()
            Move-VirtualRouter -Name $B1 -DestinationHost $Hosts[1] -Mode Cold -Confirm:$false -ErrorAction Stop
            $After = Get-VirtualRouter -Name $B1
            $UptimeAfter = (Wait-VirtualRouter -Name $B1 -TimeoutSec $BootTimeoutSec -PassThru -ErrorAction Stop).GuestUptime
            $MoveClock.Stop()
        }

        It 'puts b1 on h2 and starts it there again' {
            $Before.ComputerName | Should -Be $Hosts[0]
            $After.ComputerName | Should -Be $Hosts[1]
            $After.State | Should -Be 'Running'
        }

        It 'keeps its addresses' {
            $After.Addresses | Should -Be $Before.Addresses
        }

        It 'restarts its guest (booted after the move began)' {
            $UptimeAfter | Should -BeLessOrEqual $MoveClock.Elapsed
            Write-Host ('      Move-VirtualRouter -Mode Cold and the guest''s boot took {0:0.00} s; guest up {1:0.00} s' -f
                $MoveClock.Elapsed.TotalSeconds, $UptimeAfter.TotalSeconds)
        }

        It 'takes its link along: b1 - b2 now crosses one physical hop' {
            $link = Get-VirtualLink -Name $LinkB
            $link.FromComputerName | Should -Be $Hosts[1]
            $link.UnderlayPath | Should -Be @($Hosts[1], $Hosts[2])
        }

        It 'leaves both networks passing their test once b1 has booted' {
            $report = Test-VirtualNetwork -Name $NetA, $NetB
            $report.Passed | Should -BeTrue -Because (Format-FailedProbe $report)
        }
    }

    Context 'Remove-VirtualNetwork' {
        It 'removes both networks, and the lab hosts the deployment created go with them' {
            Remove-VirtualNetwork -Name $NetA, $NetB -Force -Confirm:$false -ErrorAction Stop
            Get-VirtualRouter | Should -BeNullOrEmpty
            Get-VirtualLink | Should -BeNullOrEmpty
            Get-VirtualNetwork | Should -BeNullOrEmpty
            @(Get-VirtualHost | Where-Object IsLabHost) | Should -HaveCount 0
        }

        It 'leaves no QEMU process of this run' {
            $left = @(Get-Process -Name 'qemu-system-x86_64' -ErrorAction SilentlyContinue | Where-Object { $_.CommandLine -like "*$Prefix-*" })
            $left | Should -HaveCount 0
        }
    }
}

Describe 'Dynamic routing: an OSPF ring with BFD heals around failed links and keeps its adjacencies through a live migration' -Tag 'Linux', 'Routing' -Skip:([bool]$SkipReason) {
    BeforeAll {
        Import-ModuleUnderTest
        $StateDirectory = Enter-TestStateDirectory 'ospf'
        $Hosts = @((N 'g1'), (N 'g2'))
        $Net = N 'o'
        $R = @(1..4 | ForEach-Object { N "o$_" })
        # The ring o1 - o2 - o3 - o4 - o1; o1, o2 on g1, o3, o4 on g2 (links o2-o3 and o4-o1 are VXLAN tunnels).
        $L12 = N 'l12'; $L23 = N 'l23'; $L34 = N 'l34'; $L41 = N 'l41'
        $Topology = [ordered]@{
            defaults      = [ordered]@{ image = $ImageName; memoryMB = 128; processorCount = 1; addressFamily = 'IPv4' }
            hosts         = @($Hosts | ForEach-Object { [ordered]@{ name = $_ } })
            physicalLinks = @([ordered]@{ from = $Hosts[0]; to = $Hosts[1] })
            networks      = @([ordered]@{ name = $Net; routing = 'ospf'; bfd = $true })
            routers       = @(
                [ordered]@{ name = $R[0]; network = $Net; host = $Hosts[0] }
                [ordered]@{ name = $R[1]; network = $Net; host = $Hosts[0] }
                [ordered]@{ name = $R[2]; network = $Net; host = $Hosts[1] }
                [ordered]@{ name = $R[3]; network = $Net; host = $Hosts[1] }
            )
            links         = @(
                [ordered]@{ name = $L12; from = $R[0]; to = $R[1] }
                [ordered]@{ name = $L23; from = $R[1]; to = $R[2] }
                [ordered]@{ name = $L34; from = $R[2]; to = $R[3] }
                [ordered]@{ name = $L41; from = $R[3]; to = $R[0] }
            )
        }
        $TopologyPath = 'TestDrive:/ospf-ring.json'
        $Topology | ConvertTo-Json -Depth 6 | Set-Content -LiteralPath $TopologyPath
        $Deployment = Deploy-VirtualNetwork -Path $TopologyPath -Wait -TimeoutSec $BootTimeoutSec -ErrorAction Stop

        # The probe target: o2's address on link o2-o3. From o1 the shortest path is the direct link o1-o2 (cost 20);
        # without it, o1 - o4 - o3 - o2's prefix (cost 30).
        $link23 = Get-VirtualLink -Name $L23
        $TargetCidr = if ($link23.From -eq $R[1]) { $link23.FromAddress } else { $link23.ToAddress }
        $Target = ($TargetCidr -split '/')[0]
        $TargetPrefix = [Net.IPNetwork]::Parse($TargetCidr).BaseAddress.ToString() + '/31'

        # o1's route to the target prefix (null while it has none), through Get-VirtualRoute.
        function Get-TargetRoute { Get-VirtualRoute -RouterName $R[0] -AddressFamily IPv4 | Where-Object Prefix -EQ $TargetPrefix | Select-Object -First 1 }
        # Polls until o1's route to the target leaves through $Link (bounded); returns the route or $null.
        function Wait-TargetRoute([string] $Link, [int] $TimeoutSec = 30) {
            $clock = [Diagnostics.Stopwatch]::StartNew()
            do {
                $route = Get-TargetRoute
                if ($route -and $route.LinkName -eq $Link) { return $route }
                Start-Sleep -Milliseconds 250
            } while ($clock.Elapsed.TotalSeconds -lt $TimeoutSec)
            $null
        }
        # Polls until every neighbour of $Router is full and every BFD session up, $Count of each (bounded).
        function Wait-Adjacencies([string] $Router, [int] $Count = 2, [int] $TimeoutSec = 60) {
            $clock = [Diagnostics.Stopwatch]::StartNew()
            do {
                $st = Get-VirtualRoutingStatus -RouterName $Router
                if (@($st.Neighbors | Where-Object State -EQ 'full').Count -eq $Count -and @($st.BfdSessions | Where-Object State -EQ 'up').Count -eq $Count) { return $st }
                Start-Sleep -Milliseconds 250
            } while ($clock.Elapsed.TotalSeconds -lt $TimeoutSec)
            $st
        }
    }

    AfterAll {
        if ($Net) {
            Remove-VirtualNetwork -Name $Net -Force -Confirm:$false -ErrorAction SilentlyContinue
            Get-VirtualHost -ErrorAction SilentlyContinue | Where-Object { $_.IsLabHost -and $Hosts -contains $_.Name } |
                Remove-VirtualLabHost -Confirm:$false -ErrorAction Continue
        }
        Exit-TestStateDirectory $StateDirectory
    }

    Context 'Deploy with routing "ospf" and BFD' {
        It 'converges: Test-VirtualNetwork passes within its convergence bound' {
            $report = Test-VirtualNetwork -Name $Net -ConvergenceTimeoutSec 90
            $report.Passed | Should -BeTrue -Because (Format-FailedProbe $report)
        }

        It 'runs OSPF in every router: two full neighbours and two BFD sessions up each' {
            foreach ($r in $R) {
                $st = Wait-Adjacencies $r
                $st.Protocol | Should -Be 'Ospf'
                @($st.Neighbors | Where-Object State -EQ 'full') | Should -HaveCount 2 -Because "$r's neighbours: $(($st.Neighbors | ForEach-Object { "$($_.LinkName)=$($_.State)" }) -join ', ')"
                @($st.BfdSessions | Where-Object State -EQ 'up') | Should -HaveCount 2
            }
        }

        It 'shows o1''s route to o2''s far prefix as learned by OSPF over the direct link' {
            $route = Wait-TargetRoute $L12
            $route | Should -Not -BeNullOrEmpty -Because "o1's routes: $((Get-VirtualRoute -RouterName $R[0] | ForEach-Object { "$($_.Prefix) $($_.LinkName) $($_.Protocol)" }) -join '; ')"
            $route.Protocol | Should -Be 'ospf'
            $route.NextHop | Should -Not -BeNullOrEmpty
        }

        It 'changes nothing when the same file is deployed again' {
            (Deploy-VirtualNetwork -Path $TopologyPath -ErrorAction Stop).Changes | Should -Be 0
        }
    }

    Context 'A pulled cable: Disable-VirtualLink, then Enable-VirtualLink' {
        BeforeAll {
            $Disabled = Disable-VirtualLink -Name $L12 -PassThru -Confirm:$false -ErrorAction Stop
            $Rerouted = Wait-TargetRoute $L41
            # o1's new route is one half; the answers also need o2's route back to o1's address on o4's link. Until
            # both routers have run their SPF (BIRD: once a second), probes may go unanswered: three in a row must be.
            $clock = [Diagnostics.Stopwatch]::StartNew()
            do {
                $Probe = Test-VirtualRouterConnection -Name $R[0] -TargetAddress $Target -Count 3 -IntervalMilliseconds 200 -ErrorAction Stop
            } while ($Probe.Received -lt 3 -and $clock.Elapsed.TotalSeconds -lt 20)
            $Redeploy = Deploy-VirtualNetwork -Path $TopologyPath -ErrorAction Stop
            $StateAfterRedeploy = (Get-VirtualLink -Name $L12).State
        }

        It 'shows the link as CablePulled' {
            $Disabled.State | Should -Be 'CablePulled'
            (Get-VirtualLink -Name $L12).State | Should -Be 'CablePulled'
        }

        It 'reroutes o1''s traffic around the ring (route through o4)' {
            $Rerouted | Should -Not -BeNullOrEmpty
            $Probe.Received | Should -Be 3 -Because $Probe.Detail
        }

        It 'keeps the link disabled when the file is deployed again' {
            $Redeploy.Changes | Should -Be 0
            $StateAfterRedeploy | Should -Be 'CablePulled'
        }

        It 'lets the network pass its test: every router still reaches every other' {
            $report = Test-VirtualNetwork -Name $Net -ConvergenceTimeoutSec 30
            $report.Passed | Should -BeTrue -Because (Format-FailedProbe $report)
        }

        It 'goes back to the direct link once the cable is plugged in again' {
            (Enable-VirtualLink -Name $L12 -PassThru -Confirm:$false -ErrorAction Stop).State | Should -Be 'Up'
            Wait-TargetRoute $L12 -TimeoutSec 60 | Should -Not -BeNullOrEmpty
        }
    }

    Context 'A silent failure: carrier up, frames dropped; BFD finds it' {
        It 'reroutes within seconds while o1 pings every 10 ms, and heals after Enable-VirtualLink' {
            $null = Wait-Adjacencies $R[1]
            # BIRD originates a router's LSA at most once in 5 s (RFC 2328 MinLSInterval): after the previous Enable, wait
            # that out, so that the gap shows the failure detection and not the rate limit.
            Start-Sleep -Seconds 6
            $job = Start-ThreadJob -ArgumentList $ModulePath, $R[0], $Target -ScriptBlock {
                param($Module, $From, $To)
                Import-Module -Name $Module -ErrorAction Stop
                Test-VirtualRouterConnection -Name $From -TargetAddress $To -Count 500 -IntervalMilliseconds 10 -ErrorAction Stop
            }
            Start-Sleep -Milliseconds 1500
            Disable-VirtualLink -Name $L12 -Failure Silent -Confirm:$false -ErrorAction Stop
            $stream = Receive-Job -Job $job -Wait -AutoRemoveJob -ErrorAction Stop
            (Get-VirtualLink -Name $L12).State | Should -Be 'Silent'
            Wait-TargetRoute $L41 | Should -Not -BeNullOrEmpty
            Write-Host ('      silent failure of {0}: {1} of {2} probes answered, longest gap {3} ms' -f $L12, $stream.Received, $stream.Sent, $stream.LongestGapMilliseconds)
            $stream.LongestGapMilliseconds | Should -BeLessThan 2500 -Because 'BFD (100 ms x 5) detects the failure well before OSPF''s dead interval (4 s)'
            Enable-VirtualLink -Name $L12 -Confirm:$false -ErrorAction Stop
            Wait-TargetRoute $L12 -TimeoutSec 60 | Should -Not -BeNullOrEmpty
        }
    }

    Context 'Re-deploys that change the routing, right after a link healed and one right after the other' {
        # Each re-deploy re-applies every router's configuration, which takes all its links down and up in a fraction of a
        # second. The first comes right after the link of the previous context healed (o1 and o2 originated new router LSAs
        # then), the second right after the first converged: each within OSPF's MinLSInterval (5 s) of router LSAs, so the
        # routers' next router LSAs are deferred and, once the neighbours are back, may equal the current ones.
        # BIRD 2.0.12 then skipped them without recalculating its routes, which it had computed while the re-added
        # links had no position in the router LSA: routers with every neighbour full and no OSPF route at all
        # (images/router/bird-ospf.patch, part 2). The defect depends on timing: bench/scripts/routing-bench.ps1's
        # sequence showed it in 3 of 8 runs with the old image (0 of 8 with the patch); this context did not show it in
        # 2 runs with the old image. It guards the path (re-deploys that change a running OSPF network), not that race.
        BeforeAll {
            $WithoutBfd = [ordered]@{} + $Topology
            $WithoutBfd.networks = @([ordered]@{ name = $Net; routing = 'ospf'; bfd = $false })
            $WithoutBfdPath = 'TestDrive:/ospf-ring-nobfd.json'
            $WithoutBfd | ConvertTo-Json -Depth 6 | Set-Content -LiteralPath $WithoutBfdPath
            $First = Deploy-VirtualNetwork -Path $WithoutBfdPath -Wait -TimeoutSec $BootTimeoutSec -ErrorAction Stop
            $FirstReport = Test-VirtualNetwork -Name $Net -ConvergenceTimeoutSec 60
            $Second = Deploy-VirtualNetwork -Path $TopologyPath -Wait -TimeoutSec $BootTimeoutSec -ErrorAction Stop
            $SecondReport = $null; $SecondError = $null
            try { $SecondReport = Test-VirtualNetwork -Name $Net -ConvergenceTimeoutSec 30 -ErrorAction Stop } catch { $SecondError = $_ }
            $Routes = (@($R | ForEach-Object { $r = $_; '{0}: {1}' -f $r, ((Get-VirtualRoute -RouterName $r -AddressFamily IPv4 | ForEach-Object { "$($_.Prefix)>$($_.LinkName)/$($_.Protocol)" }) -join ' ') })) -join ' | '
        }

        It 'applies both: BFD off, then on again' {
            $First.Changes | Should -BeGreaterThan 0
            $Second.Changes | Should -BeGreaterThan 0
            $FirstReport.Passed | Should -BeTrue -Because (Format-FailedProbe $FirstReport)
        }

        It 'converges again after the second within 30 s: every router routes to every other' {
            $SecondError | Should -BeNullOrEmpty -Because "routes: $Routes"
            $SecondReport.Passed | Should -BeTrue -Because "$(Format-FailedProbe $SecondReport); routes: $Routes"
        }
    }

    Context 'Live migration of the transit router o2 (VROOM)' {
        BeforeAll {
            $null = Wait-Adjacencies $R[1]
            $Before = @($R[0], $R[2] | ForEach-Object { Get-VirtualRoutingStatus -RouterName $_ })
            $job = Start-ThreadJob -ArgumentList $ModulePath, $R[0], $Target -ScriptBlock {
                param($Module, $From, $To)
                Import-Module -Name $Module -ErrorAction Stop
                Test-VirtualRouterConnection -Name $From -TargetAddress $To -Count 1000 -IntervalMilliseconds 10 -ErrorAction Stop
            }
            Start-Sleep -Milliseconds 1500
            Move-VirtualRouter -Name $R[1] -DestinationHost $Hosts[1] -Mode Live -Confirm:$false -ErrorAction Stop
            $Stream = Receive-Job -Job $job -Wait -AutoRemoveJob -ErrorAction Stop
            Start-Sleep -Seconds 2
            $After = @($R[0], $R[2] | ForEach-Object { Get-VirtualRoutingStatus -RouterName $_ })
            # For the failure messages: every router's neighbours and BFD sessions, and the links' states.
            $Diagnosis = (@($R | ForEach-Object {
                        $st = Get-VirtualRoutingStatus -RouterName $_ -ErrorAction SilentlyContinue
                        '{0}: neighbours {1}; bfd {2}; changes {3}/{4}' -f $_, (($st.Neighbors | ForEach-Object { "$($_.LinkName)=$($_.State)" }) -join ','),
                        (($st.BfdSessions | ForEach-Object { "$($_.LinkName)=$($_.State)" }) -join ','), $st.NeighborStateChanges, $st.BfdSessionDowns
                    }) + @(Get-VirtualLink | ForEach-Object { '{0} {1} {2}' -f $_.Name, $_.State, $_.Transport })) -join ' | '
        }

        It 'moves o2 to g2' {
            (Get-VirtualRouter -Name $R[1]).ComputerName | Should -Be $Hosts[1]
        }

        It 'leaves its neighbours o1 and o3 without an adjacency change or a BFD session down' {
            for ($i = 0; $i -lt 2; $i++) {
                $After[$i].NeighborStateChanges | Should -Be $Before[$i].NeighborStateChanges -Because "$($After[$i].RouterName)'s OSPF neighbour state changes ($Diagnosis)"
                $After[$i].BfdSessionDowns | Should -Be $Before[$i].BfdSessionDowns -Because "$($After[$i].RouterName)'s BFD session downs ($Diagnosis)"
            }
        }

        It 'keeps forwarding through o2 but for a short gap' {
            Write-Host ('      live migration of {0}: {1} of {2} probes answered, longest gap {3} ms' -f $R[1], $Stream.Received, $Stream.Sent, $Stream.LongestGapMilliseconds)
            $Stream.LongestGapMilliseconds | Should -BeLessThan 1000 -Because $Diagnosis
            (Get-TargetRoute).LinkName | Should -Be $L12 -Because $Diagnosis
        }
    }

    Context 'Remove-VirtualNetwork' {
        It 'removes the ring and its lab hosts' {
            Remove-VirtualNetwork -Name $Net -Force -Confirm:$false -ErrorAction Stop
            Get-VirtualRouter | Should -BeNullOrEmpty
            @(Get-VirtualHost | Where-Object IsLabHost) | Should -HaveCount 0
        }
    }
}

Describe 'Scale: a ring of 16 routers on one host deploys, passes its test and goes away' -Tag 'Linux', 'Scale' -Skip:([bool]$SkipReason) {
    BeforeAll {
        Import-ModuleUnderTest
        $StateDirectory = Enter-TestStateDirectory 'scale'
        $Count = 16
        $Net = N 'ring'
        $Names = @(1..$Count | ForEach-Object { N "s$_" })
        $Topology = [ordered]@{
            defaults = [ordered]@{ image = $ImageName; processorCount = 1; addressFamily = 'IPv4'; network = $Net }
            routers  = @($Names | ForEach-Object { [ordered]@{ name = $_ } })
            links    = @(for ($i = 0; $i -lt $Count; $i++) { [ordered]@{ from = $Names[$i]; to = $Names[($i + 1) % $Count] } })
        }
        $TopologyPath = 'TestDrive:/ring16.json'
        $Topology | ConvertTo-Json -Depth 6 | Set-Content -LiteralPath $TopologyPath
        $DeployClock = [Diagnostics.Stopwatch]::StartNew()
        $Deployment = Deploy-VirtualNetwork -Path $TopologyPath -Wait -TimeoutSec 600 -ErrorAction Stop
        $DeployClock.Stop()
    }

    AfterAll {
        if ($Net) { Remove-VirtualNetwork -Name $Net -Force -Confirm:$false -ErrorAction SilentlyContinue }
        Exit-TestStateDirectory $StateDirectory
    }

    It 'runs all 16 routers, none lost at boot' {
        Write-Host ('      Deploy -Wait of {0} routers: {1:0.0} s' -f $Count, $DeployClock.Elapsed.TotalSeconds)
        @(Get-VirtualRouter | Where-Object State -EQ 'Running') | Should -HaveCount $Count
    }

    It 'passes Test-VirtualNetwork (every router reaches every address of the ring) within a loose bound of 120 s' {
        $clock = [Diagnostics.Stopwatch]::StartNew()
        $report = Test-VirtualNetwork -Name $Net
        $clock.Stop()
        Write-Host ('      Test-VirtualNetwork: {0} in {1:0.0} s' -f $report, $clock.Elapsed.TotalSeconds)
        $report.Passed | Should -BeTrue -Because (Format-FailedProbe $report)
        $report.ProbeCount | Should -Be ($Count * ($Count - 1) * 2)
        $clock.Elapsed.TotalSeconds | Should -BeLessThan 120
    }

    It 'removes the ring and every QEMU of it' {
        $clock = [Diagnostics.Stopwatch]::StartNew()
        Remove-VirtualNetwork -Name $Net -Force -Confirm:$false -ErrorAction Stop
        Write-Host ('      Remove-VirtualNetwork of {0} routers: {1:0.0} s' -f $Count, $clock.Elapsed.TotalSeconds)
        Get-VirtualRouter | Should -BeNullOrEmpty
        @(Get-Process -Name 'qemu-system-x86_64' -ErrorAction SilentlyContinue | Where-Object { $_.CommandLine -like "*$Prefix-s*" }) | Should -HaveCount 0
    }
}
