<#
.SYNOPSIS
    Measures the Linux backend with real QEMU routers (issue 3, "Measured"): Figure 1 from nothing to a passing
    Test-VirtualNetwork, re-deploying the unchanged file, bandwidth accuracy, live bandwidth changes, pause/resume.

.DESCRIPTION
    Run as root in pwsh 7.2 or later, after ./build.sh build (it imports the module staged in out/, else the installed
    one by name):

        out/tools/pwsh -NoProfile -File bench/scripts/linux-bench.ps1 [-Runs 5] [-Section Cold,Redeploy,Launch,Accuracy,LiveChange,Loss,PauseResume]

    Uses its own state directory (a fresh /tmp/vnbench-* unless -StateDirectory is given, removed at the end) and
    examples/figure1.json with every name prefixed (-Prefix, default "vb": a1 -> vb-a1), so its bridges and taps never
    clash with a demo or a test running on the same machine. Everything is torn down at the end.

    Figure 1 on ONE host, as measured in docs/benchmarks.md ("Linux backend: Figure 1 with real QEMU routers"): the
    file's "hosts", "physicalLinks" and router placements are dropped (every router runs on the local machine), and the
    limits are those of that measurement: a1-a2 at 10 Mbit/s, b1-b2 at 20 Mbit/s, the other links unlimited (the
    demo's file limits a2-a3, its two-hop link, instead). The several-hosts measurements are
    bench/scripts/multihost-bench.ps1.

    Sections and definitions (all times are wall-clock, Stopwatch, in this process):

    Cold        Per run: delete the state directory, then
                  Deploy-VirtualNetwork           host-side orchestration: read and validate the file, plan, state
                                                  records, 5 bridges + 10 taps + tbf qdiscs, 7 QEMU launches. It does not
                                                  wait for the guests.
                  guest boot wait                 from Deploy returning until Wait-VirtualRouter returns for every
                                                  router (each guest answered "ready" on its command channel with its
                                                  configuration applied): the guests booting under TCG, nothing the
                                                  module does.
                  Test-VirtualNetwork             the 60-probe reachability/isolation matrix; pings run inside the guests.
                total = the three together = "from nothing to Test-VirtualNetwork passing".
                orchestration overhead = total - guest boot wait - the probes' time inside the guests, i.e. the
                Deploy-VirtualNetwork time (+ the wait's own round trips, a few ms). Test-VirtualNetwork's time is reported on its own
                (its probes are guest work, but its host-side share is not separated out).
    Redeploy    Deploy-VirtualNetwork of the unchanged file on the running lab: Changes must be 0.
    Launch      Part of Deploy's time: Stop-VirtualRouter -TurnOff vb-b3, then time Start-VirtualRouter vb-b3 (one QEMU
                launch: taps checked, accelerator chosen from the cached probe, QEMU started and daemonized, pidfile and
                QMP checked; it does not wait for the guest), and New-VirtualRouter + Remove-VirtualRouter of a router
                without links (records only).
    Accuracy    Set-VirtualLink vb-a1-vb-a2 to 1, 5, 10, 20 Mbit/s; Measure-VirtualLink -DurationSeconds 5 each run;
                ratio = MeasuredBandwidth / MaximumBandwidth (frame bits, see Measure-VirtualLink's help).
    LiveChange  A TCP transfer a1 -> a2 (the guests' nc-send/nc-listen, 7 s worth of data at the first rate, 15 s
                guest time limit) at 10 Mbit/s, and 2.5 s in another runspace runs Set-VirtualLink -MaximumBandwidth
                5Mbps; then the same from 5 to 10 Mbit/s. A third runspace samples a2's tap tx_bytes (what tbf lets
                through to a2) every ~1 ms. Reported: the Set-VirtualLink call time; the time from the call to the first
                50 ms window whose rate is within 0.8-1.1 x the new limit and stays so over the next 500 ms (the new
                rate in effect); the mean rates in the 1 s before the call and the 1 s after it returned; transfers that
                stalled (did not finish in 15 s; the tbf queue is printed, then the old limit is set again to free it).
    Loss        No other traffic; a1 pings a2's address on the shaped link 100 times a second for 4 s (in the guest:
                Test-VirtualRouterConnection -Count 400 -IntervalMilliseconds 10)
                while another runspace changes the limit 10 -> 5 -> 1 -> 10 Mbit/s (at ~1, 2, 3 s). Lost = sent -
                received; plus the tbf drop counters of both taps. A control run without changes comes first.
    PauseResume a1 pings a3's address (the path crosses a2) 100 times a second for 6 s (Test-VirtualRouterConnection
                -Count 600 -IntervalMilliseconds 10); another runspace suspends a2
                at ~1.5 s and resumes it at ~3.5 s; a third samples rx_packets of a2's two taps (packets a2 sends) every
                ~1 ms. Reported: packets a2 sent while paused (must be 0), and the time from the Resume-VirtualRouter
                call to the first packet a2 sends (forwarding back), plus from the call's return.

    Results: a table per section on stdout (median, min, max over the runs), and every raw value in -OutFile
    (default out/bench/linux-bench-<UTC time>.txt).

.PARAMETER Runs
    Runs per measurement (at least 5 for docs/benchmarks.md). Default 5.

.PARAMETER Section
    The sections to run. Default: all. Cold always leaves Figure 1 deployed for the others; without Cold, Figure 1 is
    deployed once first.
#>
#Requires -Version 7.2
[CmdletBinding()]
param(
    [ValidateRange(1, 100)]
    [int] $Runs = 5,
    # Several as an array or comma-separated (pwsh -File passes one string: -Section Cold,Redeploy).
    [string[]] $Section = @('Cold', 'Redeploy', 'Launch', 'Accuracy', 'LiveChange', 'Loss', 'PauseResume'),
    [string] $Topology = (Join-Path $PSScriptRoot '../../examples/figure1.json'),
    [ValidatePattern('^[a-z][a-z0-9]{0,7}$')]
    [string] $Prefix = 'vb',
    [string] $StateDirectory,
    [string] $OutFile
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3

$known = 'Cold', 'Redeploy', 'Launch', 'Accuracy', 'LiveChange', 'Loss', 'PauseResume'
$Section = @($Section | ForEach-Object { $_ -split ',' } | ForEach-Object { $_.Trim() } | Where-Object { $_ })
foreach ($s in $Section) { if ($known -notcontains $s) { throw "Unknown section '$s'; known: $($known -join ', ')." } }

$repo = [IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../..'))
$Topology = [IO.Path]::GetFullPath($Topology)
if (-not $OutFile) {
    $OutFile = Join-Path $repo ('out/bench/linux-bench-{0:yyyyMMddTHHmmssZ}.txt' -f [DateTime]::UtcNow)
}
$OutFile = [IO.Path]::GetFullPath($OutFile)
[void][IO.Directory]::CreateDirectory([IO.Path]::GetDirectoryName($OutFile))
$ownState = -not $StateDirectory
if ($ownState) { $StateDirectory = '/tmp/vnbench-{0}' -f ([Guid]::NewGuid().ToString('N').Substring(0, 8)) }
$previousState = $env:VIRTUALNETWORKS_STATE_DIR
$env:VIRTUALNETWORKS_STATE_DIR = $StateDirectory
# The module: the copy the build staged in out/, else an installed one (by name).
$stagedModule = [IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../../out/VirtualNetworks/VirtualNetworks.psd1'))
if (Test-Path -LiteralPath $stagedModule -PathType Leaf) { Import-Module $stagedModule -ErrorAction Stop }
elseif (Get-Module -ListAvailable -Name VirtualNetworks) { Import-Module VirtualNetworks -ErrorAction Stop }
else { throw "The VirtualNetworks module is neither staged at $stagedModule nor installed; build it with ./build.sh build." }
$moduleManifest = (Get-Module VirtualNetworks).Path
$linuxAssembly = [Reflection.Assembly]::LoadFrom((Join-Path ([IO.Path]::GetDirectoryName($moduleManifest)) 'VirtualNetworks.Linux.dll'))
$freq = [double][Diagnostics.Stopwatch]::Frequency
$null = [Reflection.Assembly]::Load('System.Text.Json')
$inv = [Globalization.CultureInfo]::InvariantCulture

# ------------------------------------------------------------------------------------------------ helpers

function Now { [Diagnostics.Stopwatch]::GetTimestamp() }
function Ms([long] $from, [long] $to) { ($to - $from) * 1000.0 / $freq }

. (Join-Path $PSScriptRoot 'BenchCommon.ps1')   # Log, Raw, First, Stats

function Row([string] $What, $Values, [string] $Format = '0', [string] $Unit = 'ms') {
    $st = Stats $Values
    Raw $What $Values
    Log ('  {0,-58} n={1}  median {2,9} {5}  (min {3}, max {4})' -f $What, $st.N, $st.Median.ToString($Format, $inv),
        $st.Min.ToString($Format, $inv), $st.Max.ToString($Format, $inv), $Unit)
}

function Header([string] $Title) {
    Log ''
    Log ('== {0}' -f $Title)
}

function Name([string] $Original) { '{0}-{1}' -f $Prefix, $Original }

# Figure 1 with prefixed names, written next to the results.
$jsonOptions = [System.Text.Json.JsonDocumentOptions]@{ CommentHandling = 'Skip'; AllowTrailingCommas = $true }
$root = [System.Text.Json.Nodes.JsonNode]::Parse([IO.File]::ReadAllText($Topology), $null, $jsonOptions)
foreach ($k in '$schema', 'hosts', 'physicalLinks') { [void]$root.AsObject().Remove($k) }
if ($null -ne $root['defaults']) { [void]$root['defaults'].AsObject().Remove('host') }
$limits = @{ 'a1-a2' = '10Mbps'; 'b1-b2' = '20Mbps' }
$routerNames = @()
foreach ($r in $root['routers'].AsArray()) {
    [void]$r.AsObject().Remove('host')
    $n = Name ($r['name'].GetValue[string]())
    $r['name'] = [System.Text.Json.Nodes.JsonValue]::Create($n)
    $routerNames += $n
    if ($null -ne $r['network']) { $r['network'] = [System.Text.Json.Nodes.JsonValue]::Create((Name ($r['network'].GetValue[string]()))) }
}
foreach ($l in $root['links'].AsArray()) {
    $original = '{0}-{1}' -f $l['from'].GetValue[string](), $l['to'].GetValue[string]()
    [void]$l.AsObject().Remove('maximumBandwidth')
    if ($limits.ContainsKey($original)) { $l['maximumBandwidth'] = [System.Text.Json.Nodes.JsonValue]::Create($limits[$original]) }
    foreach ($k in 'from', 'to', 'name') {
        if ($null -ne $l[$k]) { $l[$k] = [System.Text.Json.Nodes.JsonValue]::Create((Name ($l[$k].GetValue[string]()))) }
    }
}
$file = Join-Path ([IO.Path]::GetDirectoryName($OutFile)) ('figure1-{0}.json' -f $Prefix)
[IO.File]::WriteAllText($file, $root.ToJsonString())

$shaped = '{0}-{1}' -f (Name 'a1'), (Name 'a2')
$a1 = Name 'a1'; $a2 = Name 'a2'; $a3 = Name 'a3'

function RunFile([string] $Router, [string] $Extension) {
    Join-Path (Join-Path $StateDirectory 'run') ($Router.ToLowerInvariant() + $Extension)
}

# The LiveChange transfer needs the guest's one-way nc-listen / nc-send / nc-result commands (docs/guest-contract.md),
# which no cmdlet offers (Measure-VirtualLink runs a whole measurement): the backend's guest channel client, directly.
function Channel([string] $Router) {
    [VirtualNetworks.Linux.Vm.GuestChannel]::new((RunFile $Router '.chan'), $Router)
}

# The tap of a router's adapter on a link, from the link's state record (links/<name>.json, "taps": {router: tap}).
function Tap([string] $Link, [string] $Router) {
    $text = [IO.File]::ReadAllText((Join-Path (Join-Path $StateDirectory 'links') ($Link.ToLowerInvariant() + '.json')))
    $doc = [System.Text.Json.JsonDocument]::Parse($text)
    try {
        foreach ($t in $doc.RootElement.GetProperty('taps').EnumerateObject()) {
            if ($t.Name -ieq $Router) { return $t.Value.GetString() }
        }
    } finally { $doc.Dispose() }
    throw "No tap of $Router on $Link in the link record."
}

function Address([string] $Router, [string] $Link) {
    (Get-VirtualLink -Name $Link) | ForEach-Object {
        if ($_.From -eq $Router) { $_.FromAddress } elseif ($_.To -eq $Router) { $_.ToAddress }
    } | ForEach-Object { $_.Split('/')[0] }
}

# Until every router's guest has booted and applied its configuration (Wait-VirtualRouter: all at once, bounded).
function WaitAllReady([int] $TimeoutSeconds = 120) {
    Wait-VirtualRouter -Name $routerNames -TimeoutSec $TimeoutSeconds -ErrorAction Stop
}

function TbfStats([string] $Device) {
    $json = & tc -s -j qdisc show dev $Device
    if ($LASTEXITCODE -ne 0) { throw "tc -s -j qdisc show dev $Device failed" }
    $doc = [System.Text.Json.JsonDocument]::Parse(($json -join "`n"))
    try {
        foreach ($q in $doc.RootElement.EnumerateArray()) {
            if ($q.GetProperty('kind').GetString() -eq 'tbf') {
                return [pscustomobject]@{ Drops = $q.GetProperty('drops').GetInt64(); Packets = $q.GetProperty('packets').GetInt64() }
            }
        }
    } finally { $doc.Dispose() }
    [pscustomobject]@{ Drops = 0; Packets = 0 }
}

# A second PowerShell in this process (same module, same state directory, same clock) running $Script with $Arguments.
function Start-Background([string] $Script, [object[]] $Arguments) {
    $rs = [runspacefactory]::CreateRunspace([initialsessionstate]::CreateDefault2())
    $rs.Open()
    $ps = [powershell]::Create()
    $ps.Runspace = $rs
    [void]$ps.AddScript("Import-Module '$moduleManifest'").AddStatement().AddScript($Script)
    foreach ($a in $Arguments) { [void]$ps.AddArgument($a) }
    [pscustomobject]@{ PowerShell = $ps; Runspace = $rs; Handle = $ps.BeginInvoke() }
}

function Receive-Background($Job) {
    try {
        $items = @($Job.PowerShell.EndInvoke($Job.Handle))
        if ($Job.PowerShell.Streams.Error.Count -gt 0) { throw $Job.PowerShell.Streams.Error[0] }
        return , $items
    } finally {
        $Job.PowerShell.Dispose()
        $Job.Runspace.Dispose()
    }
}

# Samples /sys/class/net/<dev>/statistics/<counter> for each (dev, counter) every ~1 ms for $Seconds: rows of
# [timestamp, value1, value2, ...].
$samplerScript = @'
param([string[]] $Files, [double] $Seconds)
$freq = [Diagnostics.Stopwatch]::Frequency
$end = [Diagnostics.Stopwatch]::GetTimestamp() + [long]($Seconds * $freq)
$rows = [Collections.Generic.List[long[]]]::new()
while ($true) {
    $t = [Diagnostics.Stopwatch]::GetTimestamp()
    if ($t -gt $end) { break }
    $row = [long[]]::new($Files.Length + 1)
    $row[0] = $t
    for ($i = 0; $i -lt $Files.Length; $i++) { $row[$i + 1] = [long]([IO.File]::ReadAllText($Files[$i]).Trim()) }
    $rows.Add($row)
    [Threading.Thread]::Sleep(1)
}
, $rows.ToArray()
'@

function Counter([string] $Device, [string] $Name) { "/sys/class/net/$Device/statistics/$Name" }

# Bits/s of counter 1 over the window of at least $Milliseconds starting at sample $Start; $null past the end.
function WindowRate($Rows, [int] $Start, [double] $Milliseconds) {
    $j = $Start
    while ($j -lt $Rows.Length -and (Ms $Rows[$Start][0] $Rows[$j][0]) -lt $Milliseconds) { $j++ }
    if ($j -ge $Rows.Length) { return $null }
    ($Rows[$j][1] - $Rows[$Start][1]) * 8 / ((Ms $Rows[$Start][0] $Rows[$j][0]) / 1000)
}

# LiveChange: one change 2.5 s into the transfer; returns the call's start and end timestamps.
$changeScript = @'
param([string] $Link, [string] $Rate)
$ErrorActionPreference = 'Stop'
[Threading.Thread]::Sleep(2500)
$t0 = [Diagnostics.Stopwatch]::GetTimestamp()
Set-VirtualLink -Name $Link -MaximumBandwidth $Rate
$t1 = [Diagnostics.Stopwatch]::GetTimestamp()
, [long[]]@($t0, $t1)
'@

# Loss: three changes, one per second.
$changesScript = @'
param([string] $Link)
$ErrorActionPreference = 'Stop'
$out = @()
foreach ($rate in '5Mbps', '1Mbps', '10Mbps') {
    [Threading.Thread]::Sleep(1000)
    $t0 = [Diagnostics.Stopwatch]::GetTimestamp()
    Set-VirtualLink -Name $Link -MaximumBandwidth $rate
    $out += ([Diagnostics.Stopwatch]::GetTimestamp() - $t0)
}
, $out
'@

# PauseResume: suspend 1.5 s in, resume 2 s later; returns the four timestamps.
$pauseScript = @'
param([string] $Router)
$ErrorActionPreference = 'Stop'
[Threading.Thread]::Sleep(1500)
$t0 = [Diagnostics.Stopwatch]::GetTimestamp()
Suspend-VirtualRouter -Name $Router
$t1 = [Diagnostics.Stopwatch]::GetTimestamp()
[Threading.Thread]::Sleep(2000)
$t2 = [Diagnostics.Stopwatch]::GetTimestamp()
Resume-VirtualRouter -Name $Router
$t3 = [Diagnostics.Stopwatch]::GetTimestamp()
, [long[]]@($t0, $t1, $t2, $t3)
'@

function Deploy-Figure {
    $r = Deploy-VirtualNetwork -Path $file -Confirm:$false
    WaitAllReady
    $r
}

function Remove-Figure {
    Get-VirtualNetwork | Remove-VirtualNetwork -Force -Confirm:$false
}

# ------------------------------------------------------------------------------------------------ run

$load = [IO.File]::ReadAllText('/proc/loadavg').Trim()
Log ('VirtualNetworks Linux benchmark  {0:yyyy-MM-ddTHH:mm:ssZ}' -f [DateTime]::UtcNow)
Log ('host {0}; {1} CPUs; {2}; loadavg at start {3}' -f [Environment]::MachineName, [Environment]::ProcessorCount,
    ((First ([IO.File]::ReadAllLines('/proc/cpuinfo') | Where-Object { $_ -like 'model name*' })) -replace '^model name\s*:\s*', ''), $load)
Log ('topology {0} (names prefixed "{1}-"), {2} routers; state {3}; runs {4}' -f $Topology, $Prefix, $routerNames.Count, $StateDirectory, $Runs)

try {
    $deployed = $false

    if ($Section -contains 'Cold') {
        Header 'Figure 1 from nothing to Test-VirtualNetwork passing'
        $total = @(); $deploy = @(); $boot = @(); $test = @(); $remove = @(); $moduleDeploy = @()
        for ($i = 1; $i -le $Runs; $i++) {
            if ($deployed) { $t = Now; Remove-Figure; $remove += Ms $t (Now); $deployed = $false }
            if ([IO.Directory]::Exists($StateDirectory)) { [IO.Directory]::Delete($StateDirectory, $true) }
            $t0 = Now
            $result = Deploy-VirtualNetwork -Path $file -Confirm:$false
            $t1 = Now
            $deployed = $true
            WaitAllReady
            $t2 = Now
            $report = Test-VirtualNetwork
            $t3 = Now
            if (-not $report.Passed) { throw "run ${i}: Test-VirtualNetwork failed ($($report.FailedCount) of $($report.ProbeCount))" }
            $total += Ms $t0 $t3; $deploy += Ms $t0 $t1; $boot += Ms $t1 $t2; $test += Ms $t2 $t3
            $moduleDeploy += $result.Duration.TotalMilliseconds
            Log ('  run {0}: total {1:0} ms = Deploy {2:0} + guest boot wait {3:0} + Test-VirtualNetwork {4:0} ({5} probes); {6} changes' -f
                $i, (Ms $t0 $t3), (Ms $t0 $t1), (Ms $t1 $t2), (Ms $t2 $t3), $report.ProbeCount, $result.Changes)
        }
        Row 'total: nothing -> Test-VirtualNetwork passed' $total
        Row 'Deploy-VirtualNetwork (orchestration overhead)' $deploy
        Row '  DeploymentResult.Duration (steps only)' $moduleDeploy
        Row 'guest boot wait (Deploy returned -> last VN-READY)' $boot
        Row 'Test-VirtualNetwork (60 probes in the guests)' $test
        if ($remove.Count) { Row 'Remove-VirtualNetwork (both networks)' $remove }
    }

    if (-not $deployed) { [void](Deploy-Figure); $deployed = $true }

    if ($Section -contains 'Redeploy') {
        Header 'Re-deploying the unchanged file'
        $times = @(); $changes = @()
        for ($i = 1; $i -le $Runs; $i++) {
            $t = Now
            $r = Deploy-VirtualNetwork -Path $file -Confirm:$false
            $times += Ms $t (Now)
            $changes += $r.Changes
        }
        Row 'Deploy-VirtualNetwork, unchanged file' $times
        Row 'Changes' $changes '0' ''
    }

    if ($Section -contains 'Launch') {
        Header 'Single operations inside Deploy-VirtualNetwork'
        $b3 = Name 'b3'
        $start = @(); $new = @(); $remove = @()
        for ($i = 1; $i -le $Runs; $i++) {
            Stop-VirtualRouter -Name $b3 -TurnOff
            $t = Now
            Start-VirtualRouter -Name $b3
            $start += Ms $t (Now)
            $lone = Name ('x' + $i)
            $t = Now
            New-VirtualRouter -Name $lone | Out-Null
            $new += Ms $t (Now)
            $t = Now
            Remove-VirtualRouter -Name $lone -Confirm:$false
            $remove += Ms $t (Now)
        }
        WaitAllReady
        Row 'Start-VirtualRouter (one QEMU launch, no boot wait)' $start
        Row 'New-VirtualRouter (record only, not started)' $new
        Row 'Remove-VirtualRouter (record only)' $remove
    }

    if ($Section -contains 'Accuracy') {
        Header "Bandwidth accuracy through $shaped (Measure-VirtualLink -DurationSeconds 5)"
        foreach ($mbit in 1, 5, 10, 20) {
            Set-VirtualLink -Name $shaped -MaximumBandwidth ($mbit * 1000000)
            $ratios = @()
            for ($i = 1; $i -le $Runs; $i++) {
                $m = Measure-VirtualLink -Name $shaped -DurationSeconds 5
                $ratios += $m.Ratio
            }
            Row ('ratio measured/limit at {0} Mbit/s' -f $mbit) $ratios '0.000' ''
        }
        Set-VirtualLink -Name $shaped -MaximumBandwidth 10Mbps
    }

    if ($Section -contains 'LiveChange') {
        $tap = Tap $shaped $a2
        $target = Address $a2 $shaped
        foreach ($case in @(@{ From = 10000000; To = 5000000 }, @{ From = 5000000; To = 10000000 })) {
            $fromText = '{0}Mbps' -f ($case.From / 1e6); $toText = '{0}Mbps' -f ($case.To / 1e6)
            Header ("Live bandwidth change {0} -> {1} Mbit/s on {2} under a TCP transfer a1 -> a2" -f ($case.From / 1e6), ($case.To / 1e6), $shaped)
            $callMs = @(); $effectiveMs = @(); $afterRatio = @(); $beforeRatio = @(); $stalls = 0; $stuck = @()
            for ($i = 1; $i -le $Runs; $i++) {
                Set-VirtualLink -Name $shaped -MaximumBandwidth $case.From
                [Threading.Thread]::Sleep(300)
                $port = 7100 + $i + $(if ($case.From -gt $case.To) { 0 } else { 50 })
                # 7 s of data at the first rate; the guest's own time limit ends a stalled transfer after 15 s.
                $bytes = [long]($case.From / 8 * 7 * 1448 / 1514)
                $listen = (Channel $a2).Run('nc-listen', [string[]]@("$port", '40'), [TimeSpan]::FromSeconds(30), [Threading.CancellationToken]::None)
                if (-not $listen.Succeeded) { throw "nc-listen failed: $($listen.Output)" }
                $sampler = Start-Background $samplerScript @([string[]]@(Counter $tap 'tx_bytes'), 20.0)
                $changer = Start-Background $changeScript @($shaped, $toText)
                $send = (Channel $a1).Run('nc-send', [string[]]@($target, "$port", "$bytes", '15'), [TimeSpan]::FromSeconds(40), [Threading.CancellationToken]::None)
                $times = (Receive-Background $changer)[0]
                $t0 = $times[0]; $t1 = $times[1]
                $stalled = -not $send.Succeeded
                $tFreed = [long]::MaxValue
                if ($stalled) {
                    $tFreed = Now
                    # Read the wedged queue before touching it, then raise the limit again so the queue can drain.
                    $q = & tc -s qdisc show dev $tap
                    $stuck += ($q -join ' ') -replace '\s+', ' '
                    Set-VirtualLink -Name $shaped -MaximumBandwidth $case.From
                }
                $result = (Channel $a2).Run('nc-result', [string[]]@("$port", '20'), [TimeSpan]::FromSeconds(40), [Threading.CancellationToken]::None)
                $rows = (Receive-Background $sampler)[0]
                $callMs += Ms $t0 $t1
                # After the call: the first 50 ms window within 0.8 .. 1.1 x the new rate whose following 500 ms are too
                # (sustained, so a queue draining at the new rate just before it wedges does not count).
                $effective = $null
                for ($k = 0; $k -lt $rows.Length; $k++) {
                    if ($rows[$k][0] -lt $t0) { continue }
                    if ($rows[$k][0] -ge $tFreed) { break } # after the old limit was set again to free a stalled queue
                    $short = WindowRate $rows $k 50
                    if ($null -eq $short) { break }
                    if ($short -lt 0.8 * $case.To -or $short -gt 1.1 * $case.To) { continue }
                    $long = WindowRate $rows $k 500
                    if ($null -eq $long) { break }
                    if ($long -ge 0.8 * $case.To -and $long -le 1.1 * $case.To) { $effective = Ms $t0 $rows[$k][0]; break }
                }
                $effectiveMs += $effective
                $before = @($rows | Where-Object { $_[0] -ge $t0 - [long]$freq -and $_[0] -le $t0 })
                $after = @($rows | Where-Object { $_[0] -ge $t1 -and $_[0] -le $t1 + [long]$freq })
                $rb = ($before[-1][1] - $before[0][1]) * 8 / ((Ms $before[0][0] $before[-1][0]) / 1000)
                $ra = ($after[-1][1] - $after[0][1]) * 8 / ((Ms $after[0][0] $after[-1][0]) / 1000)
                $beforeRatio += $rb / $case.From; $afterRatio += $ra / $case.To
                if ($stalled) { $stalls++ }
                Log ('  run {0}: Set-VirtualLink {1:0} ms; new rate in effect {2} ms after the call; 1 s before {3:0.00} Mbit/s, 1 s after {4:0.00} Mbit/s; transfer {5}' -f
                    $i, (Ms $t0 $t1), $(if ($null -eq $effective) { 'never' } else { $effective.ToString('0', $inv) }), ($rb / 1e6), ($ra / 1e6),
                    $(if ($stalled) { 'STALLED (sender: ' + (($send.Lines -join ' ') -replace '\s+', ' ') + ')' } else { 'completed' }))
            }
            Row 'Set-VirtualLink call (start -> return)' $callMs
            Row 'call start -> new rate in effect (sustained 0.8-1.1 x)' $effectiveMs
            Row 'rate in the 1 s before the call / old limit' $beforeRatio '0.000' ''
            Row 'rate in the 1 s after the call returned / new limit' $afterRatio '0.000' ''
            Log ('  transfers stalled by the change: {0} of {1}' -f $stalls, $Runs)
            foreach ($q in $stuck) { Log "    tbf on $tap while stalled: $q" }
        }
        Set-VirtualLink -Name $shaped -MaximumBandwidth 10Mbps
    }

    if ($Section -contains 'Loss') {
        Header "Packets lost because of live changes on $shaped (ping 100/s for 4 s, limit 10 -> 5 -> 1 -> 10 Mbit/s)"
        $taps = @((Tap $shaped $a1), (Tap $shaped $a2))
        $target = Address $a2 $shaped
        $lost = @(); $drops = @(); $control = @()
        for ($i = 0; $i -le $Runs; $i++) {
            Set-VirtualLink -Name $shaped -MaximumBandwidth 10Mbps
            [Threading.Thread]::Sleep(200)
            $before = @($taps | ForEach-Object { TbfStats $_ })
            $changer = $null
            if ($i -gt 0) {
                $changer = Start-Background $changesScript @($shaped)
            }
            $c = Test-VirtualRouterConnection -Name $a1 -TargetAddress $target -Count 400 -IntervalMilliseconds 10
            if ($changer) { [void](Receive-Background $changer) }
            $after = @($taps | ForEach-Object { TbfStats $_ })
            $d = ($after[0].Drops - $before[0].Drops) + ($after[1].Drops - $before[1].Drops)
            if ($i -eq 0) {
                $control += $c.Sent - $c.Received
                Log ('  control (no change): sent {0}, received {1}, tbf drops {2}' -f $c.Sent, $c.Received, $d)
            } else {
                $lost += $c.Sent - $c.Received; $drops += $d
                Log ('  run {0}: sent {1}, received {2}, lost {3}; tbf drops on both taps {4}' -f $i, $c.Sent, $c.Received, ($c.Sent - $c.Received), $d)
            }
        }
        Row 'pings lost during 3 live changes (of ~400)' $lost '0' 'packets'
        Row 'tbf drops during 3 live changes' $drops '0' 'packets'
        Set-VirtualLink -Name $shaped -MaximumBandwidth 10Mbps
    }

    if ($Section -contains 'PauseResume') {
        Header "Pause/resume of the transit router $a2 (a1 pings a3 100/s for 6 s)"
        $linkA = '{0}-{1}' -f $a1, $a2
        $linkB = '{0}-{1}' -f $a2, (Name 'a3')
        $files = [string[]]@((Counter (Tap $linkA $a2) 'rx_packets'), (Counter (Tap $linkB $a2) 'rx_packets'))
        $target = Address $a3 $linkB
        $whilePaused = @(); $firstFromCall = @(); $firstFromReturn = @(); $suspendMs = @(); $resumeMs = @(); $pingLost = @()
        for ($i = 1; $i -le $Runs; $i++) {
            $sampler = Start-Background $samplerScript @($files, 8.0)
            $changer = Start-Background $pauseScript @($a2)
            $c = Test-VirtualRouterConnection -Name $a1 -TargetAddress $target -Count 600 -IntervalMilliseconds 10
            $t = (Receive-Background $changer)[0]
            $rows = (Receive-Background $sampler)[0]
            # Packets a2 sent (rx on its taps, both links) between Suspend returning and Resume being called.
            $paused = @($rows | Where-Object { $_[0] -ge $t[1] -and $_[0] -le $t[2] })
            $sentPaused = ($paused[-1][1] - $paused[0][1]) + ($paused[-1][2] - $paused[0][2])
            $base = $paused[-1][1] + $paused[-1][2]
            $first = First ($rows | Where-Object { $_[0] -gt $t[2] -and ($_[1] + $_[2]) -gt $base })
            $whilePaused += $sentPaused
            $suspendMs += Ms $t[0] $t[1]; $resumeMs += Ms $t[2] $t[3]
            $fc = if ($first) { Ms $t[2] $first[0] } else { $null }
            $fr = if ($first) { Ms $t[3] $first[0] } else { $null }
            $firstFromCall += $fc; $firstFromReturn += $fr
            $pingLost += $c.Sent - $c.Received
            Log ('  run {0}: paused {1:0} ms, a2 sent {2} packets while paused; Resume call {3:0} ms; first packet from a2 {4} ms after the call ({5} ms after it returned); ping sent {6}, received {7}' -f
                $i, (Ms $t[1] $t[2]), $sentPaused, (Ms $t[2] $t[3]), $(if ($null -eq $fc) { 'never' } else { $fc.ToString('0.0', $inv) }),
                $(if ($null -eq $fr) { '-' } else { $fr.ToString('0.0', $inv) }), $c.Sent, $c.Received)
        }
        Row 'packets a2 sent while paused' $whilePaused '0' 'packets'
        Row 'Suspend-VirtualRouter call' $suspendMs
        Row 'Resume-VirtualRouter call' $resumeMs
        Row 'Resume call start -> first packet forwarded by a2' $firstFromCall '0.0'
        Row 'Resume call return -> first packet forwarded by a2' $firstFromReturn '0.0'
        Row 'pings lost (of 600; requests queued during the pause are answered late)' $pingLost '0' 'packets'
    }
}
finally {
    Header 'Tear down'
    try { Remove-Figure } catch { Log "  Remove-VirtualNetwork failed: $_" }
    $env:VIRTUALNETWORKS_STATE_DIR = $previousState
    if ($ownState -and [IO.Directory]::Exists($StateDirectory)) {
        try { [IO.Directory]::Delete($StateDirectory, $true) } catch { Log "  could not delete $StateDirectory : $_" }
    }
    Log ('loadavg at end {0}; results in {1}' -f [IO.File]::ReadAllText('/proc/loadavg').Trim(), $OutFile)
}
