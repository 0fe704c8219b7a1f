<#
.SYNOPSIS
    The paper's Figure 1 on one host: two independent virtual networks, "a" (IPv4) and "b" (IPv6), built from real
    QEMU virtual routers, tested, measured, reshaped live, paused and resumed, drawn, and torn down.

.DESCRIPTION
    Runs in vnpwsh (./build.sh demo) as well as in pwsh; it uses only the engine's core cmdlets and the module.
    Steps:
      1. Deploy-VirtualNetwork -Path figure1.json
      2. Get-VirtualNetwork / Get-VirtualRouter / Get-VirtualLink
      3. Test-VirtualNetwork (reachability inside each network, isolation between them) - the script fails if it fails
      4. Measure-VirtualLink on the shaped link a1-a2, Set-VirtualLink to a new limit live, measure again
      5. Suspend-VirtualRouter a2 (the transit router between a1 and a3/a4): probes through it fail;
         Resume-VirtualRouter a2: they pass again
      6. Export-VirtualNetwork to out/figure1.dot, out/figure1.mmd and, when Graphviz is installed, out/figure1.svg
      7. Remove-VirtualNetwork for every network of the file (always, in a finally block, unless -KeepRunning)

.PARAMETER Path
    The topology file. Default: figure1.json next to this script.

.PARAMETER KeepRunning
    Leaves the networks deployed at the end (remove them later with Remove-VirtualNetwork a, b -Force -Confirm:$false).

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

$shapedLink = 'a1-a2'      # the link whose bandwidth is measured and changed live
$firstLimit = 10000000     # its limit in figure1.json (10 Mbit/s)
$secondLimit = '5Mbps'     # the limit Set-VirtualLink gives it
$transitRouter = 'a2'      # the router paused: a1 reaches a3 and a4 only through it

$clock = [Diagnostics.Stopwatch]::StartNew()
$sectionClock = [Diagnostics.Stopwatch]::new()

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
}

$Path = [IO.Path]::GetFullPath($Path)
$OutputDirectory = [IO.Path]::GetFullPath($OutputDirectory)
if (-not (Test-Path -LiteralPath $Path -PathType Leaf)) { throw "Topology file not found: $Path" }

# The routers the file declares: whatever happens, teardown removes the networks they belong to and nothing else.
$null = [Reflection.Assembly]::Load('System.Text.Json')
$jsonOptions = [System.Text.Json.JsonDocumentOptions]@{ CommentHandling = 'Skip'; AllowTrailingCommas = $true }
$topology = [System.Text.Json.JsonDocument]::Parse([IO.File]::ReadAllText($Path), $jsonOptions)
$routerNames = @($topology.RootElement.GetProperty('routers').EnumerateArray() | ForEach-Object { $_.GetProperty('name').GetString() })
$topology.Dispose()

function Get-FigureNetwork {
    @(Get-VirtualNetwork | Where-Object {
            $network = $_
            @($network.Routers | Where-Object { $routerNames -contains $_ }).Count -gt 0
        })
}

$failed = $true
try {
    Write-Section "1. Deploy $([IO.Path]::GetFileName($Path)): $($routerNames.Count) routers ($($routerNames -join ', '))"
    $deployment = Deploy-VirtualNetwork -Path $Path
    Write-Host ('   {0} change(s) in {1:0.0} s; networks: {2}' -f $deployment.Changes, $deployment.Duration.TotalSeconds, ($deployment.Networks -join ', '))
    Write-Done 'deployed'

    Write-Section '2. What is deployed: virtual networks (computed), routers, links'
    Get-VirtualNetwork | Out-Host
    Get-VirtualRouter | Out-Host
    Get-VirtualLink | Out-Host

    Write-Section '3. Test-VirtualNetwork: reachability inside each network, isolation between them'
    $report = Test-VirtualNetwork
    $report | Out-Host
    if (-not $report.Passed) {
        $report.Results | Where-Object { -not $_.Passed } | Out-Host
        throw "Test-VirtualNetwork failed: $($report.FailedCount) of $($report.ProbeCount) probes did not behave as expected."
    }
    Write-Host ('   all {0} probes as expected: every router reaches its own network, none reaches the other' -f $report.ProbeCount)
    Write-Done 'tested'

    Write-Section "4. Bandwidth of $shapedLink, measured through the guests, then changed live"
    $before = Measure-VirtualLink -Name $shapedLink
    Show-Measurement $before
    if ($before.MaximumBandwidth -ne $firstLimit) { Write-Warning "expected a limit of $(Format-Rate $firstLimit) from $Path" }
    Write-Host "   Set-VirtualLink $shapedLink -MaximumBandwidth $secondLimit   (the qdisc is changed in place; the routers keep running)"
    $changeClock = [Diagnostics.Stopwatch]::StartNew()
    Set-VirtualLink -Name $shapedLink -MaximumBandwidth $secondLimit
    Write-Host ('   changed in {0:0} ms' -f $changeClock.Elapsed.TotalMilliseconds)
    Get-VirtualLink -Name $shapedLink | Out-Host
    $after = Measure-VirtualLink -Name $shapedLink
    Show-Measurement $after
    foreach ($m in $before, $after) {
        if ($null -ne $m.Ratio -and [Math]::Abs($m.Ratio - 1) -gt 0.15) {
            Write-Warning ('{0}: measured {1} is more than 15 % away from the limit {2}' -f $m.Name, (Format-Rate $m.MeasuredBandwidth), (Format-Rate $m.MaximumBandwidth))
        }
    }
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

    Write-Section '6. Export the graph'
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
        Write-Host '   Remove them with: Remove-VirtualNetwork -Name a, b -Force -Confirm:$false'
    } else {
        Write-Section '7. Tear down'
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
        Write-Done 'torn down'
    }
    Write-Host ''
    Write-Host ('Figure 1 demo {0} in {1:0.0} s' -f $(if ($failed) { 'FAILED' } else { 'finished' }), $clock.Elapsed.TotalSeconds) -ForegroundColor $(if ($failed) { 'Red' } else { 'Green' })
}
