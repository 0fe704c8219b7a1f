<#
.SYNOPSIS
    The paper's Figure 1 for real: two isolated virtual networks, "a" (IPv4) and "b" (IPv6), of real QEMU virtual
    routers spread over three hosts in a chain h1 - h2 - h3; tested, measured, reshaped live, paused, live-migrated
    while it forwards traffic, drawn with the physical network under them, and torn down.

.DESCRIPTION
    Runs in vnpwsh (./build.sh demo) as well as in pwsh, as root on Linux; it uses only the engine's core cmdlets and
    the module (and, for the probe stream during the migration, the router's command channel, below).

    figure1.json declares three lab hosts (on Linux: network namespaces standing in for machines) joined by two
    physical links h1 - h2 - h3, so h1 and h3 are two physical hops apart:

        h1: a1 a2 b1        a1 - a2         bridge on h1
        h2: b2              a2 - a3         VXLAN h1 > h2 > h3 (two hops, 10 Mbit/s)
        h3: a3 a4 b3        a3 - a4         bridge on h3
                            b1 - b2         VXLAN h1 > h2 (20 Mbit/s),  b2 - b3  VXLAN h2 > h3

    a2 is the transit router of network a: a1 reaches a3 and a4 only through it.

    Steps:
      1. Deploy-VirtualNetwork -Path figure1.json: lab hosts, physical links, routers, links
      2. Get-VirtualHost (routers and neighbours of each host), Get-VirtualNetwork (the hosts each network spans),
         Get-VirtualRouter, Get-VirtualLink (Transport, underlay path, tunnel id)
      3. Test-VirtualNetwork (reachability inside each network, isolation between them) - the script fails if it fails
      4. Measure-VirtualLink on the two-hop link a2-a3, Set-VirtualLink to a new limit live, measure again
      5. Suspend-VirtualRouter a2: probes through it fail; Resume-VirtualRouter a2: they pass again
      6. Move-VirtualRouter a2 -DestinationHost h2 -Mode Live while a1 pings a3 through a2 every 10 ms: the probes
         lost, a2's addresses and guest uptime before and after (no reboot), its links' new paths, the limit measured
         again, Test-VirtualNetwork
      7. Export-VirtualNetwork to out/figure1.dot, out/figure1.mmd and, when Graphviz is installed, out/figure1.svg
         (step 6 also draws the networks before the move: out/figure1-before-move.svg, or .dot without Graphviz)
      8. Remove-VirtualNetwork for every network of the file, which also removes the lab hosts the deployment created
         (always, in a finally block, unless -KeepRunning)

    The probe stream of step 6 runs inside a1 through its command channel (docs/guest-contract.md section 3, the
    channel Test-VirtualNetwork uses): busybox ping, 100 probes a second, so each lost probe is 10 ms without
    forwarding. The guest's uptime comes from the same channel ("ready").

.PARAMETER Path
    The topology file. Default: figure1.json next to this script.

.PARAMETER KeepRunning
    Leaves the networks deployed at the end (remove them later with Remove-VirtualNetwork a, b -Force -Confirm:$false;
    that also removes the lab hosts h1, h2, h3).

.PARAMETER OutputDirectory
    Where the drawings go. Default: <repository>/out.

.EXAMPLE
    ./build.sh demo

.EXAMPLE
    vnpwsh -File examples/figure1.ps1 -KeepRunning
#>
[CmdletBinding()]
param(
    [string] $Path = (Join-Path $PSScriptRoot 'figure1.json'),
    [switch] $KeepRunning,
    [string] $OutputDirectory = (Join-Path (Join-Path $PSScriptRoot '..') 'out')
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3

$shapedLink = 'a2-a3'      # the link whose bandwidth is measured and changed live: VXLAN across two physical hops
$firstLimit = 10000000     # its limit in figure1.json (10 Mbit/s)
$secondLimit = '5Mbps'     # the limit Set-VirtualLink gives it
$transitRouter = 'a2'      # paused, then live-migrated: a1 reaches a3 and a4 only through it
$destination = 'h2'        # where the transit router is moved
$probeSource = 'a1'        # the probe stream of the migration: a1 -> a3, through a2
$probeTarget = 'a3'
$probeCount = 1000         # at 10 ms: 10 s of probes (the guest's ping takes at most 1000)
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
$null = [Reflection.Assembly]::Load('System.Text.Json')
$jsonOptions = [System.Text.Json.JsonDocumentOptions]@{ CommentHandling = 'Skip'; AllowTrailingCommas = $true }
$topology = [System.Text.Json.JsonDocument]::Parse([IO.File]::ReadAllText($Path), $jsonOptions)
$routerNames = @($topology.RootElement.GetProperty('routers').EnumerateArray() | ForEach-Object { $_.GetProperty('name').GetString() })
$hostNames = @()
$hostsElement = [System.Text.Json.JsonElement]::new()
if ($topology.RootElement.TryGetProperty('hosts', [ref] $hostsElement) -and $hostsElement.ValueKind -eq 'Array') {
    $hostNames = @($hostsElement.EnumerateArray() | ForEach-Object { $_.GetProperty('name').GetString() })
}
$topology.Dispose()

function Get-FigureNetwork {
    @(Get-VirtualNetwork | Where-Object {
            $network = $_
            @($network.Routers | Where-Object { $routerNames -contains $_ }).Count -gt 0
        })
}

# ------------------------------------------------------------------------------------------ the router's command channel
# Linux backend only: the guest's command channel is a Unix socket among the router's run files in the state directory
# ($env:VIRTUALNETWORKS_STATE_DIR, else /var/lib/virtualnetworks): run/<router>.chan, or run/m/<router>.chan after a live
# migration started the router's new instance in the other run slot. The backend's state store knows which.
function Get-ChannelSocket([string] $Router) {
    [VirtualNetworks.Linux.State.StateStore]::new($null).RunPaths($Router).ChannelSocket
}

function Get-GuestUptime([string] $Router, [int] $TimeoutSeconds = 30) {
    $channel = [VirtualNetworks.Linux.Vm.GuestChannel]::new((Get-ChannelSocket $Router), $Router)
    $channel.WaitReady([TimeSpan]::FromSeconds($TimeoutSeconds), [Threading.CancellationToken]::None).UptimeMilliseconds / 1000.0
}

# Until the guest answers "ready" with its configuration applied.
function Wait-Guest([string] $Router, [int] $TimeoutSeconds) {
    $until = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
    $channel = [VirtualNetworks.Linux.Vm.GuestChannel]::new((Get-ChannelSocket $Router), $Router)
    while ($true) {
        $left = $until - [DateTime]::UtcNow
        if ($left -le [TimeSpan]::Zero) { throw "$Router did not boot and apply its configuration within $TimeoutSeconds s." }
        if ($channel.WaitReady($left, [Threading.CancellationToken]::None).ConfigState -eq 'ok') { return }
        Start-Sleep -Milliseconds 200
    }
}

# A ping stream inside the guest, in a second runspace of this process so that Move-VirtualRouter can run meanwhile.
$pingScript = @'
param([string] $Socket, [string] $Router, [string] $Target, [int] $Count)
$channel = [VirtualNetworks.Linux.Vm.GuestChannel]::new($Socket, $Router)
$deadline = [int][Math]::Ceiling($Count / 100.0) + 5
$result = $channel.Run('ping', [string[]]@($Target, "$Count", "$deadline", '0.01'), [TimeSpan]::FromSeconds($deadline + 30), [Threading.CancellationToken]::None)
, [string[]]@($result.Lines)
'@

function Start-ProbeStream([string] $From, [string] $Target, [int] $Count) {
    $runspace = [runspacefactory]::CreateRunspace([initialsessionstate]::CreateDefault2())
    $runspace.Open()
    $ps = [powershell]::Create()
    $ps.Runspace = $runspace
    [void]$ps.AddScript($pingScript).AddArgument((Get-ChannelSocket $From)).AddArgument($From).AddArgument($Target).AddArgument($Count)
    [pscustomobject]@{ PowerShell = $ps; Runspace = $runspace; Handle = $ps.BeginInvoke() }
}

function Receive-ProbeStream($Stream) {
    try {
        $lines = @($Stream.PowerShell.EndInvoke($Stream.Handle) | ForEach-Object { $_ })
        if ($Stream.PowerShell.Streams.Error.Count -gt 0) { throw $Stream.PowerShell.Streams.Error[0] }
        return , $lines
    } finally {
        $Stream.PowerShell.Dispose()
        $Stream.Runspace.Dispose()
    }
}

# busybox ping lines "64 bytes from ...: seq=N ttl=T time=X ms": sent, received, the longest run of lost probes,
# the largest round-trip time.
function Measure-ProbeStream([string[]] $Lines, [int] $Count) {
    $seen = [Collections.Generic.HashSet[int]]::new()
    $maxRtt = 0.0
    foreach ($line in $Lines) {
        $m = [regex]::Match($line, 'seq=(\d+) .*time=([0-9.]+) ms')
        if ($m.Success) {
            [void]$seen.Add([int]$m.Groups[1].Value)
            $maxRtt = [Math]::Max($maxRtt, [double]::Parse($m.Groups[2].Value, $inv))
        }
    }
    $sent = $Count
    $summary = [regex]::Match(($Lines -join "`n"), '(\d+) packets transmitted')
    if ($summary.Success) { $sent = [int]$summary.Groups[1].Value }
    $longest = 0; $run = 0
    for ($s = 0; $s -lt $sent; $s++) {
        if ($seen.Contains($s)) { $run = 0 } else { $run++; $longest = [Math]::Max($longest, $run) }
    }
    [pscustomobject]@{ Sent = $sent; Received = $seen.Count; Lost = $sent - $seen.Count; LongestLoss = $longest; MaxRtt = $maxRtt }
}

$failed = $true
try {
    Write-Section "1. Deploy $([IO.Path]::GetFileName($Path)): $($hostNames.Count) lab hosts ($($hostNames -join ', ')), $($routerNames.Count) routers ($($routerNames -join ', '))"
    # The lab hosts the file declares do not exist yet: this deployment creates them (plan steps) on this machine.
    $deployment = Deploy-VirtualNetwork -Path $Path
    Write-Host ('   {0} change(s) in {1:0.0} s; networks: {2}' -f $deployment.Changes, $deployment.Duration.TotalSeconds, ($deployment.Networks -join ', '))
    $deployment.Steps | Where-Object { $_ -match 'lab host|physical link' } | ForEach-Object { Write-Host "     $_" }
    # Deploy-VirtualNetwork starts the routers without waiting for their guests; Test-VirtualNetwork waits for each
    # probe's source, not its destination. So wait here until every guest answers on its command channel.
    $bootClock = [Diagnostics.Stopwatch]::StartNew()
    foreach ($router in $routerNames) { Wait-Guest $router 120 }
    Write-Host ('   every guest booted and configured {0:0.0} s after Deploy-VirtualNetwork returned' -f $bootClock.Elapsed.TotalSeconds)
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
    Resume-VirtualRouter -Name $transitRouter
    $back = Test-VirtualNetwork -Name a -Quiet
    Write-Host ('   Test-VirtualNetwork -Name a -Quiet: {0} ({1:0.0} s after Resume-VirtualRouter)' -f $back, $resumeClock.Elapsed.TotalSeconds)
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
    $uptimeBefore = Get-GuestUptime $transitRouter
    $uptimeClock = [Diagnostics.Stopwatch]::StartNew()
    Write-Host ('     guest uptime {0:0.0} s' -f $uptimeBefore)
    Move-VirtualRouter -Name $transitRouter -DestinationHost $destination -Mode Live -WhatIf

    Write-Host ('   {0} pings {1} ({2}) every 10 ms, {3} probes; Move-VirtualRouter starts {4:0.0} s into them' -f $probeSource, $probeTarget, $targetAddress, $probeCount, ($probeLead / 1000))
    $stream = Start-ProbeStream $probeSource $targetAddress $probeCount
    $moveClock = $null
    try {
        Start-Sleep -Milliseconds $probeLead
        $moveClock = [Diagnostics.Stopwatch]::StartNew()
        Move-VirtualRouter -Name $transitRouter -DestinationHost $destination -Mode Live -Confirm:$false
        $moveClock.Stop()
    } finally {
        $lines = Receive-ProbeStream $stream
    }
    $probes = Measure-ProbeStream $lines $probeCount
    Write-Host ('   Move-VirtualRouter -Mode Live returned after {0:0.00} s' -f $moveClock.Elapsed.TotalSeconds)
    Write-Host ('   probes {0} -> {1} through {2}: {3} sent, {4} answered, {5} lost; longest run lost {6} (about {7} ms without forwarding); largest round trip {8:0.0} ms' -f
        $probeSource, $probeTarget, $transitRouter, $probes.Sent, $probes.Received, $probes.Lost, $probes.LongestLoss, ($probes.LongestLoss * 10), $probes.MaxRtt)
    if ($probes.Received -eq 0) { throw "No probe from $probeSource reached $probeTarget during the migration." }
    if ($probes.Sent * 10 -lt $probeLead + $moveClock.Elapsed.TotalMilliseconds) {
        Write-Warning 'the probe stream ended before Move-VirtualRouter returned: the end of the migration was not probed'
    }

    $routerAfter = Get-VirtualRouter -Name $transitRouter
    $uptimeAfter = Get-GuestUptime $transitRouter
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
