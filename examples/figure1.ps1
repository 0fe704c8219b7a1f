#Requires -Version 7.2
<#
.SYNOPSIS
    The paper's Figure 1 for real: two isolated virtual networks, "a" (IPv4) and "b" (IPv6), of real QEMU virtual
    routers spread over three hosts in a chain h1 - h2 - h3; tested, measured, reshaped live, paused, live-migrated
    while it forwards traffic, drawn with the physical network under them, and torn down.

.DESCRIPTION
    Runs in pwsh 7.2 or later, as root on Linux: after ./build.sh build, `out/tools/pwsh -File examples/figure1.ps1`
    (./build.sh demo builds everything first and runs it the same way). It imports the module the build staged next to
    it (../out/VirtualNetworks/VirtualNetworks.psd1), else the installed VirtualNetworks module by name, and uses only
    the module's public cmdlets.

    figure1.json declares three lab hosts (on Linux: network namespaces standing in for machines) joined by two
    physical links h1 - h2 - h3, so h1 and h3 are two physical hops apart:

        h1: a1 a2 b1        a1 - a2         bridge on h1
        h2: b2              a2 - a3         VXLAN h1 > h2 > h3 (two hops, 10 Mbit/s)
        h3: a3 a4 b3        a3 - a4         bridge on h3
                            b1 - b2         VXLAN h1 > h2 (20 Mbit/s),  b2 - b3  VXLAN h2 > h3

    a2 is the transit router of network a: a1 reaches a3 and a4 only through it.

    Steps:
      1. Deploy-VirtualNetwork -Path figure1.json: lab hosts, physical links, routers, links; then Wait-VirtualRouter
         until every guest has booted and applied its addresses and routes
      2. Get-VirtualHost (routers and neighbours of each host), Get-VirtualNetwork (the hosts each network spans),
         Get-VirtualRouter, Get-VirtualLink (Transport, underlay path, tunnel id)
      3. Test-VirtualNetwork (reachability inside each network, isolation between them) - the script fails if it fails
      4. Measure-VirtualLink on the two-hop link a2-a3, Set-VirtualLink to a new limit live, measure again
      5. Suspend-VirtualRouter a2: probes through it fail; Resume-VirtualRouter a2 -Wait: they pass again
      6. Move-VirtualRouter a2 -DestinationHost h2 -Mode Live while a1 pings a3 through a2 every 10 ms: the probes
         lost, a2's addresses and guest uptime before and after (no reboot), its links' new paths, the limit measured
         again, Test-VirtualNetwork
      7. Export-VirtualNetwork to out/figure1.dot, out/figure1.mmd and, when Graphviz is installed, out/figure1.svg
         (step 6 also draws the networks before the move: out/figure1-before-move.svg, or .dot without Graphviz)
      8. Remove-VirtualNetwork for every network of the file, which also removes the lab hosts the deployment created
         (always, in a finally block, unless -KeepRunning)

    The probe stream of step 6 is Test-VirtualRouterConnection in a thread job (Start-ThreadJob) while this script runs
    Move-VirtualRouter: busybox ping inside a1, 100 probes a second, so each lost probe is 10 ms without forwarding. The
    guest's uptime before and after the move comes from Wait-VirtualRouter -PassThru (GuestUptime).

    The state directory is $env:VIRTUALNETWORKS_STATE_DIR, else /var/lib/virtualnetworks.

.PARAMETER Path
    The topology file. Default: figure1.json next to this script.

.PARAMETER KeepRunning
    Leaves the networks deployed at the end (remove them later with Remove-VirtualNetwork a, b -Force -Confirm:$false;
    that also removes the lab hosts h1, h2, h3).

.PARAMETER OutputDirectory
    Where the drawings go. Default: <repository>/out.

.EXAMPLE
    ./build.sh build; out/tools/pwsh -File examples/figure1.ps1

.EXAMPLE
    VIRTUALNETWORKS_STATE_DIR=$(mktemp -d) out/tools/pwsh -NoProfile -File examples/figure1.ps1 -KeepRunning
#>
[CmdletBinding()]
param(
    [string] $Path = (Join-Path $PSScriptRoot 'figure1.json'),
    [switch] $KeepRunning,
    [string] $OutputDirectory = (Join-Path (Join-Path $PSScriptRoot '..') 'out')
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3

# The module: the copy the build staged next to this script, else an installed one (by name).
$stagedModule = [IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../out/VirtualNetworks/VirtualNetworks.psd1'))
if (Test-Path -LiteralPath $stagedModule -PathType Leaf) {
    $modulePath = $stagedModule
} elseif (Get-Module -ListAvailable -Name VirtualNetworks) {
    $modulePath = 'VirtualNetworks'
} else {
    throw "The VirtualNetworks module is neither staged at $stagedModule nor installed. Build it with ./build.sh build " +
        '(or install it with Install-PSResource VirtualNetworks), then run this script again.'
}
Import-Module $modulePath -ErrorAction Stop

$shapedLink = 'a2-a3'      # the link whose bandwidth is measured and changed live: VXLAN across two physical hops
$firstLimit = 10000000     # its limit in figure1.json (10 Mbit/s)
$secondLimit = '5Mbps'     # the limit Set-VirtualLink gives it
$transitRouter = 'a2'      # paused, then live-migrated: a1 reaches a3 and a4 only through it
$destination = 'h2'        # where the transit router is moved
$probeSource = 'a1'        # the probe stream of the migration: a1 -> a3, through a2
$probeTarget = 'a3'
$probeCount = 1000         # at 10 ms: 10 s of probes (Test-VirtualRouterConnection sends at most 1000)
$probeInterval = 10        # ms between two probes
$probeLead = 1500          # ms of probes before Move-VirtualRouter is called

$clock = [Diagnostics.Stopwatch]::StartNew()
$sectionClock = [Diagnostics.Stopwatch]::new()
$inv = [Globalization.CultureInfo]::InvariantCulture

function Write-Section([string] $Title) {
    $sectionClock.Restart()
    Write-Host ''
    Write-Host ('=' * 78) -ForegroundColor Cyan
    Write-Host ('== {0}' -f $Title) -ForegroundColor Cyan
    Write-Host ('=' * 78) -ForegroundColor Cyan
}

function Write-Done([string] $What) {
    Write-Host ('-- {0} ({1:0.0} s)' -f $What, $sectionClock.Elapsed.TotalSeconds) -ForegroundColor DarkGray
}

function Format-Rate($BitsPerSecond) {
    if ($null -eq $BitsPerSecond) { return 'unlimited' }
    return ('{0:0.00} Mbit/s' -f ($BitsPerSecond / 1e6))
}

function Show-Measurement($Measurement) {
    Write-Host ('   {0} -> {1}: limit {2}, measured {3} (goodput {4}), ratio {5:0.000}, {6:N0} bytes in {7:0.00} s' -f
        $Measurement.From, $Measurement.To, (Format-Rate $Measurement.MaximumBandwidth),
        (Format-Rate $Measurement.MeasuredBandwidth), (Format-Rate $Measurement.Goodput),
        $Measurement.Ratio, $Measurement.Bytes, $Measurement.Duration.TotalSeconds)
    if ($null -ne $Measurement.Ratio -and [Math]::Abs($Measurement.Ratio - 1) -gt 0.15) {
        Write-Warning ('{0}: measured {1} is more than 15 % away from the limit {2}' -f $Measurement.Name,
            (Format-Rate $Measurement.MeasuredBandwidth), (Format-Rate $Measurement.MaximumBandwidth))
    }
}

function Format-Link($Link) {
    if ($Link.IsCrossHost) {
        return ('{0}: {1} {2} > {3}, {4} over {5} (VNI {6})' -f $Link.Name, $Link.From, $Link.FromComputerName,
            $Link.ToComputerName, $Link.To, ($Link.UnderlayPath -join ' > '), $Link.TunnelId)
    }
    return ('{0}: {1} and {2} both on {3}, {4}' -f $Link.Name, $Link.From, $Link.To, $Link.FromComputerName, $Link.Transport)
}

$Path = [IO.Path]::GetFullPath($Path)
$OutputDirectory = [IO.Path]::GetFullPath($OutputDirectory)
if (-not (Test-Path -LiteralPath $Path -PathType Leaf)) { throw "Topology file not found: $Path" }

# The routers and hosts the file declares: whatever happens, teardown removes the networks they belong to and nothing
# else, then checks that the lab hosts are gone.
$topology = Get-Content -Raw -LiteralPath $Path | ConvertFrom-Json
$routerNames = @($topology.routers | ForEach-Object { $_.name })
$hostNames = @()
if ($topology.PSObject.Properties['hosts'] -and $null -ne $topology.hosts) { $hostNames = @($topology.hosts | ForEach-Object { $_.name }) }

function Get-FigureNetwork {
    @(Get-VirtualNetwork | Where-Object {
            $network = $_
            @($network.Routers | Where-Object { $routerNames -contains $_ }).Count -gt 0
        })
}

$failed = $true
try {
    Write-Section "1. Deploy $([IO.Path]::GetFileName($Path)): $($hostNames.Count) lab hosts ($($hostNames -join ', ')), $($routerNames.Count) routers ($($routerNames -join ', '))"
    # The lab hosts the file declares do not exist yet: this deployment creates them (plan steps) on this machine.
    $deployment = Deploy-VirtualNetwork -Path $Path
    Write-Host ('   {0} change(s) in {1:0.0} s; networks: {2}' -f $deployment.Changes, $deployment.Duration.TotalSeconds, ($deployment.Networks -join ', '))
    $deployment.Steps | Where-Object { $_ -match 'lab host|physical link' } | ForEach-Object { Write-Host "     $_" }
    # Deploy-VirtualNetwork starts the routers without waiting for their guests (-Wait would); Test-VirtualNetwork waits
    # for each probe's source, not its destination. So wait here until every guest has booted and applied its addresses
    # and routes, all at once (a router not ready in two minutes stops the script with RouterNotReady).
    $bootClock = [Diagnostics.Stopwatch]::StartNew()
    $booted = @(Wait-VirtualRouter -Name $routerNames -TimeoutSec 120 -PassThru)
    Write-Host ('   every guest booted and configured {0:0.0} s after Deploy-VirtualNetwork returned (Wait-VirtualRouter; guest uptimes {1:0.0} to {2:0.0} s)' -f
        $bootClock.Elapsed.TotalSeconds, ($booted | ForEach-Object { $_.GuestUptime.TotalSeconds } | Measure-Object -Minimum).Minimum,
        ($booted | ForEach-Object { $_.GuestUptime.TotalSeconds } | Measure-Object -Maximum).Maximum)
    Write-Done 'deployed'

    Write-Section '2. What is deployed: hosts and the physical network, virtual networks (computed), routers, links'
    Get-VirtualHost | Out-Host
    Get-VirtualNetwork | Out-Host
    Get-VirtualRouter | Out-Host
    $links = @(Get-VirtualLink)
    $links | Out-Host
    foreach ($link in $links) { Write-Host ('   ' + (Format-Link $link)) }
    $twoHop = @($links | Where-Object { $_.UnderlayPath.Count -ge 3 })
    if ($twoHop.Count -eq 0) { Write-Warning 'no virtual link crosses two physical hops' }
    else { Write-Host ('   {0} crosses {1} physical hops: its ends have no physical link of their own' -f (($twoHop | ForEach-Object Name) -join ', '), ($twoHop[0].UnderlayPath.Count - 1)) }
    Write-Done 'listed'

    Write-Section '3. Test-VirtualNetwork: reachability inside each network, isolation between them'
    $report = Test-VirtualNetwork
    $report | Out-Host
    if (-not $report.Passed) {
        $report.Results | Where-Object { -not $_.Passed } | Out-Host
        throw "Test-VirtualNetwork failed: $($report.FailedCount) of $($report.ProbeCount) probes did not behave as expected."
    }
    Write-Host ('   all {0} probes as expected: every router reaches its own network across the hosts, none reaches the other network' -f $report.ProbeCount)
    Write-Done 'tested'

    $shaped = Get-VirtualLink -Name $shapedLink
    Write-Section "4. Bandwidth of $shapedLink ($(($shaped.UnderlayPath) -join ' > '), VXLAN), measured through the guests, then changed live"
    $before = Measure-VirtualLink -Name $shapedLink
    Show-Measurement $before
    if ($before.MaximumBandwidth -ne $firstLimit) { Write-Warning "expected a limit of $(Format-Rate $firstLimit) from $Path" }
    Write-Host "   Set-VirtualLink $shapedLink -MaximumBandwidth $secondLimit   (the qdiscs are changed in place in both hosts; the routers keep running)"
    $changeClock = [Diagnostics.Stopwatch]::StartNew()
    Set-VirtualLink -Name $shapedLink -MaximumBandwidth $secondLimit
    Write-Host ('   changed in {0:0} ms' -f $changeClock.Elapsed.TotalMilliseconds)
    Get-VirtualLink -Name $shapedLink | Out-Host
    $after = Measure-VirtualLink -Name $shapedLink
    Show-Measurement $after
    Write-Done 'measured'

    Write-Section "5. Pause the transit router ${transitRouter}: nothing is forwarded through it"
    Suspend-VirtualRouter -Name $transitRouter
    Get-VirtualRouter -NetworkName a | Out-Host
    $paused = Test-VirtualNetwork -Name a -ErrorAction SilentlyContinue
    $broken = @($paused.Results | Where-Object { -not $_.Passed })
    Write-Host ('   Test-VirtualNetwork -Name a: {0} of {1} probes failed while {2} is paused, for example:' -f $broken.Count, $paused.ProbeCount, $transitRouter)
    $broken | Where-Object { $_.Source -ne $transitRouter -and $_.Destination -ne $transitRouter } | ForEach-Object {
        Write-Host ('     {0,-3} -> {1,-4} {2,-16} not reachable ({3})' -f $_.Source, $_.Destination, $_.DestinationAddress, $_.Detail)
    }
    if ($paused.Passed) { throw "Routers of network a still reach each other although $transitRouter is paused." }
    $through = @($broken | Where-Object { $_.Source -eq 'a1' -and ($_.Destination -eq 'a3' -or $_.Destination -eq 'a4') })
    if ($through.Count -eq 0) { throw "a1 still reaches a3/a4 although the transit router $transitRouter is paused." }
    Write-Done 'forwarding stopped'

    Write-Section "   Resume ${transitRouter}: forwarding comes back"
    $resumeClock = [Diagnostics.Stopwatch]::StartNew()
    Resume-VirtualRouter -Name $transitRouter -Wait
    $back = Test-VirtualNetwork -Name a -Quiet
    Write-Host ('   Test-VirtualNetwork -Name a -Quiet: {0} ({1:0.0} s after Resume-VirtualRouter -Wait was called)' -f $back, $resumeClock.Elapsed.TotalSeconds)
    if (-not $back) { throw "Network a does not pass Test-VirtualNetwork after $transitRouter was resumed." }
    Get-VirtualRouter -Name $transitRouter | Out-Host
    Write-Done 'forwarding back'

    $routerBefore = Get-VirtualRouter -Name $transitRouter
    Write-Section "6. Live migration of the transit router $transitRouter from $($routerBefore.ComputerName) to $destination while $probeSource pings $probeTarget through it"
    $targetAddress = @(Get-VirtualLink -RouterName $probeTarget | ForEach-Object {
            if ($_.From -eq $probeTarget) { $_.FromAddress } elseif ($_.To -eq $probeTarget) { $_.ToAddress }
        } | Where-Object { $_ } | ForEach-Object { $_.Split('/')[0] })[0]
    $linksBefore = @(Get-VirtualLink -RouterName $transitRouter)
    Write-Host "   before: $transitRouter on $($routerBefore.ComputerName), addresses $($routerBefore.Addresses -join ', ')"
    foreach ($link in $linksBefore) { Write-Host ('     ' + (Format-Link $link)) }
    # The picture before the move (a2-a3 drawn across two physical hops); step 7 draws the one after it.
    if (-not (Test-Path -LiteralPath $OutputDirectory -PathType Container)) { [void][IO.Directory]::CreateDirectory($OutputDirectory) }
    $beforeDrawing = Join-Path $OutputDirectory $(if (Get-Command -Name dot -CommandType Application -ErrorAction SilentlyContinue) { 'figure1-before-move.svg' } else { 'figure1-before-move.dot' })
    Export-VirtualNetwork -Name @(Get-FigureNetwork | ForEach-Object Name) -Path $beforeDrawing
    Write-Host "     drawn in $beforeDrawing"
    # The guest's uptime, as Wait-VirtualRouter saw it ready: a live migration keeps the guest running, a reboot resets it.
    $uptimeBefore = (Wait-VirtualRouter -Name $transitRouter -TimeoutSec 30 -PassThru).GuestUptime.TotalSeconds
    $uptimeClock = [Diagnostics.Stopwatch]::StartNew()
    Write-Host ('     guest uptime {0:0.0} s' -f $uptimeBefore)
    Move-VirtualRouter -Name $transitRouter -DestinationHost $destination -Mode Live -WhatIf

    Write-Host ('   {0} pings {1} ({2}) every {3} ms, {4} probes (Test-VirtualRouterConnection in a thread job); Move-VirtualRouter starts {5:0.0} s into them' -f
        $probeSource, $probeTarget, $targetAddress, $probeInterval, $probeCount, ($probeLead / 1000))
    # The probe stream runs in a thread job of this process while Move-VirtualRouter runs here; it takes no lock on the
    # state, so the move (which holds it) does not hold it up. $started tells when the probes are about to go out.
    $started = [hashtable]::Synchronized(@{})
    $probeJob = Start-ThreadJob -Name 'figure1-probes' -ScriptBlock {
        $ErrorActionPreference = 'Stop'
        Import-Module $using:modulePath
        $flag = $using:started
        $flag['At'] = [DateTime]::UtcNow
        Test-VirtualRouterConnection -Name $using:probeSource -TargetAddress $using:targetAddress -Count $using:probeCount -IntervalMilliseconds $using:probeInterval
    }
    $moveClock = $null
    $probes = $null
    try {
        $startClock = [Diagnostics.Stopwatch]::StartNew()
        while (-not $started.ContainsKey('At') -and $probeJob.State -in 'NotStarted', 'Running' -and $startClock.Elapsed.TotalSeconds -lt 30) {
            Start-Sleep -Milliseconds 20
        }
        Start-Sleep -Milliseconds $probeLead
        $moveClock = [Diagnostics.Stopwatch]::StartNew()
        Move-VirtualRouter -Name $transitRouter -DestinationHost $destination -Mode Live -Confirm:$false
        $moveClock.Stop()
    } finally {
        $probes = Receive-Job -Job $probeJob -Wait -AutoRemoveJob
    }
    if ($null -eq $probes) { throw "The probe stream from $probeSource to $probeTarget returned nothing." }
    Write-Host ('   Move-VirtualRouter -Mode Live returned after {0:0.00} s' -f $moveClock.Elapsed.TotalSeconds)
    Write-Host ('   probes {0} -> {1} through {2}: {3} sent, {4} answered, {5} lost; longest run lost {6} (about {7:0} ms without forwarding); largest round trip {8:0.0} ms' -f
        $probeSource, $probeTarget, $transitRouter, $probes.Sent, $probes.Received, $probes.Lost, $probes.LongestLossRun, $probes.LongestGapMilliseconds, $probes.MaximumRoundTripMilliseconds)
    if ($probes.Received -eq 0) { throw "No probe from $probeSource reached $probeTarget during the migration." }
    if ($probes.Sent * $probeInterval -lt $probeLead + $moveClock.Elapsed.TotalMilliseconds) {
        Write-Warning 'the probe stream ended before Move-VirtualRouter returned: the end of the migration was not probed'
    }

    $routerAfter = Get-VirtualRouter -Name $transitRouter
    $uptimeAfter = (Wait-VirtualRouter -Name $transitRouter -TimeoutSec 30 -PassThru).GuestUptime.TotalSeconds
    $elapsed = $uptimeClock.Elapsed.TotalSeconds
    Write-Host "   after:  $transitRouter on $($routerAfter.ComputerName) ($($routerAfter.State)), addresses $($routerAfter.Addresses -join ', ')"
    foreach ($link in @(Get-VirtualLink -RouterName $transitRouter)) { Write-Host ('     ' + (Format-Link $link)) }
    Write-Host ('     guest uptime {0:0.0} s: {1:0.0} s more than before, {2:0.0} s of wall-clock time later' -f $uptimeAfter, ($uptimeAfter - $uptimeBefore), $elapsed)
    if ($routerAfter.ComputerName -ne $destination) { throw "$transitRouter is on $($routerAfter.ComputerName), not on $destination, after Move-VirtualRouter." }
    if (($routerAfter.Addresses -join ',') -ne ($routerBefore.Addresses -join ',')) {
        throw "$transitRouter changed its addresses: $($routerBefore.Addresses -join ', ') before, $($routerAfter.Addresses -join ', ') after."
    }
    if ($uptimeAfter -lt $uptimeBefore) { throw "$transitRouter rebooted: guest uptime $uptimeAfter s after the move, $uptimeBefore s before." }
    Write-Host "   same addresses, uptime kept: $transitRouter did not reboot; its links followed it"
    Get-VirtualHost | Out-Host
    Get-VirtualNetwork | Out-Host

    Write-Host "   $shapedLink after the move (the limit set in step 4 moved with the router):"
    Show-Measurement (Measure-VirtualLink -Name $shapedLink)
    $report = Test-VirtualNetwork
    Write-Host ('   Test-VirtualNetwork: Passed {0}, {1} of {2} probes as expected' -f $report.Passed, $report.PassedCount, $report.ProbeCount)
    if (-not $report.Passed) {
        $report.Results | Where-Object { -not $_.Passed } | Out-Host
        throw "Test-VirtualNetwork failed after the migration: $($report.FailedCount) of $($report.ProbeCount) probes did not behave as expected."
    }
    Write-Done 'migrated'

    Write-Section '7. Export the graph: the virtual networks over the physical network'
    if (-not (Test-Path -LiteralPath $OutputDirectory -PathType Container)) { [void][IO.Directory]::CreateDirectory($OutputDirectory) }
    $names = @(Get-FigureNetwork | ForEach-Object Name)
    $dot = Join-Path $OutputDirectory 'figure1.dot'
    $mermaid = Join-Path $OutputDirectory 'figure1.mmd'
    Export-VirtualNetwork -Name $names -Path $dot
    Export-VirtualNetwork -Name $names -Path $mermaid
    Write-Host "   $dot"
    Write-Host "   $mermaid"
    if (Get-Command -Name dot -CommandType Application -ErrorAction SilentlyContinue) {
        $svg = Join-Path $OutputDirectory 'figure1.svg'
        Export-VirtualNetwork -Name $names -Path $svg
        Write-Host "   $svg"
    } else {
        Write-Host '   (Graphviz is not installed, so no SVG; apt-get install graphviz adds it)'
    }
    Write-Host ''
    Export-VirtualNetwork -Name $names -Format Mermaid | Out-Host
    Write-Done 'exported'

    $failed = $false
}
finally {
    if ($KeepRunning -and -not $failed) {
        Write-Section 'Leaving the networks running (-KeepRunning)'
        Write-Host '   Remove them with: Remove-VirtualNetwork -Name a, b -Force -Confirm:$false   (the lab hosts go with them)'
    } else {
        Write-Section '8. Tear down: the networks, then the lab hosts the deployment created'
        $networks = @(Get-FigureNetwork)
        if ($networks.Count -gt 0) {
            $networks | Remove-VirtualNetwork -Force -Confirm:$false -ErrorAction Continue
        }
        $left = @(Get-VirtualRouter | Where-Object { $routerNames -contains $_.Name })
        if ($left.Count -gt 0) {
            Write-Warning ('still present after Remove-VirtualNetwork: {0}' -f (($left | ForEach-Object Name) -join ', '))
        } else {
            Write-Host ('   removed {0} network(s): {1}' -f $networks.Count, (($networks | ForEach-Object Name) -join ', '))
        }
        # A deployment's lab hosts go with the last network that used them; one left over (a run that failed half-way)
        # is removed here when no router is on it.
        $hostsLeft = @(Get-VirtualHost | Where-Object { $_.IsLabHost -and $_.CreatedByDeployment -and $hostNames -contains $_.Name })
        $hostsLeft | Where-Object { $_.Routers.Count -eq 0 } | Remove-VirtualLabHost -Confirm:$false -ErrorAction Continue
        $hostsLeft = @(Get-VirtualHost | Where-Object { $_.IsLabHost -and $hostNames -contains $_.Name })
        if ($hostsLeft.Count -gt 0) {
            Write-Warning ('lab hosts still present: {0}' -f (($hostsLeft | ForEach-Object Name) -join ', '))
        } else {
            Write-Host ('   lab hosts {0} removed with them' -f ($hostNames -join ', '))
        }
        Get-VirtualHost | Out-Host
        Write-Done 'torn down'
    }
    Write-Host ''
    Write-Host ('Figure 1 demo {0} in {1:0.0} s' -f $(if ($failed) { 'FAILED' } else { 'finished' }), $clock.Elapsed.TotalSeconds) -ForegroundColor $(if ($failed) { 'Red' } else { 'Green' })
}
