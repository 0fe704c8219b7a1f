<#
.SYNOPSIS
    Throughput of a shaped cross-host link (VXLAN across two physical hops) against the same limit inside one host
    (issue 5, "Measured"), with real QEMU routers.

.DESCRIPTION
    Run as root in pwsh 7.2 or later, after ./build.sh build (it imports the module staged in out/, else the installed
    one by name):

        out/tools/pwsh -NoProfile -File bench/scripts/multihost-bench.ps1 [-Runs 5] [-Rates 10,20,0] [-DurationSeconds 5]

    Uses its own state directory (a fresh /tmp/vnmh-* unless -StateDirectory is given, removed at the end) and names
    prefixed with -Prefix (default "mb"), lab hosts included (mb-h1, mb-h2, mb-h3), so nothing clashes with the demo or
    a test on the same machine. Everything is torn down at the end (Remove-VirtualNetwork also removes the lab hosts).

    Topology (written next to the results): three lab hosts in a chain mb-h1 - mb-h2 - mb-h3 and three links, each
    between two routers of its own network (128 MB, 1 vCPU, IPv4):

        vxlan-2hop   mb-x1 on mb-h1  <->  mb-x3 on mb-h3   VXLAN over mb-h1 > mb-h2 > mb-h3, MTU 1450
        labhost      mb-y1, mb-y2 both on mb-h1             one bridge inside the lab host, MTU 1450
        local        mb-z1, mb-z2 both on the local machine one bridge in the root namespace, MTU 1500 (the
                                                            single-host case of docs/benchmarks.md "Linux backend")

    For each rate (-Rates, Mbit/s; 0 = unlimited) the three links get that limit (Set-VirtualLink), then for each run
    the three links are measured one after the other (interleaved, so drift in the machine's load affects all three
    alike) with Measure-VirtualLink -DurationSeconds (TCP from the From router to the To router inside the guests).

    Reported per link and rate (median, min, max over the runs):
      Measured     Measure-VirtualLink's MeasuredBandwidth: guest TCP goodput x 1514/1448 (frame bits at MTU 1500).
      Ratio        MeasuredBandwidth / limit (Measure-VirtualLink's Ratio).
      Goodput      TCP payload bits per second counted by the receiving guest.
      Tap frames   Independent of the cmdlet's conversion: goodput x (bytes the receiver's tap sent to the guest during
                   the transfer / payload bytes), i.e. the rate of Ethernet frames tbf let through on that tap (the
                   shaped direction); at MTU 1450 a full frame carries 1398 payload bytes in 1464, so the fixed
                   1514/1448 of the cmdlet undercounts by 0.16 %.
      Tap ratio    Tap frames / limit.

    Results: a table per rate on stdout and every raw value in -OutFile (default out/bench/multihost-bench-<UTC>.txt).

.PARAMETER Runs
    Runs per link and rate (at least 5 for docs/benchmarks.md). Default 5.

.PARAMETER Rates
    Limits in Mbit/s; 0 measures the links unlimited. Default 10, 20, 0.

.PARAMETER DurationSeconds
    Measure-VirtualLink -DurationSeconds. Default 5.
#>
#Requires -Version 7.2
[CmdletBinding()]
param(
    [ValidateRange(1, 100)]
    [int] $Runs = 5,
    # Several as an array or comma-separated (pwsh -File passes one string: -Rates 10,20).
    [string[]] $Rates = @('10', '20', '0'),
    [ValidateRange(1, 60)]
    [int] $DurationSeconds = 5,
    [ValidatePattern('^[a-z][a-z0-9]{0,7}$')]
    [string] $Prefix = 'mb',
    [string] $StateDirectory,
    [string] $OutFile
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3

$rateList = @($Rates | ForEach-Object { $_ -split ',' } | ForEach-Object { $_.Trim() } | Where-Object { $_ } | ForEach-Object { [double]$_ })
$repo = [IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../..'))
if (-not $OutFile) {
    $OutFile = Join-Path $repo ('out/bench/multihost-bench-{0:yyyyMMddTHHmmssZ}.txt' -f [DateTime]::UtcNow)
}
$OutFile = [IO.Path]::GetFullPath($OutFile)
[void][IO.Directory]::CreateDirectory([IO.Path]::GetDirectoryName($OutFile))
$ownState = -not $StateDirectory
if ($ownState) { $StateDirectory = '/tmp/vnmh-{0}' -f ([Guid]::NewGuid().ToString('N').Substring(0, 8)) }
$previousState = $env:VIRTUALNETWORKS_STATE_DIR
$env:VIRTUALNETWORKS_STATE_DIR = $StateDirectory
# The module: the copy the build staged in out/, else an installed one (by name).
$stagedModule = [IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../../out/VirtualNetworks/VirtualNetworks.psd1'))
if (Test-Path -LiteralPath $stagedModule -PathType Leaf) { Import-Module $stagedModule -ErrorAction Stop }
elseif (Get-Module -ListAvailable -Name VirtualNetworks) { Import-Module VirtualNetworks -ErrorAction Stop }
else { throw "The VirtualNetworks module is neither staged at $stagedModule nor installed; build it with ./build.sh build." }
$moduleManifest = (Get-Module VirtualNetworks).Path
[void][Reflection.Assembly]::LoadFrom((Join-Path ([IO.Path]::GetDirectoryName($moduleManifest)) 'VirtualNetworks.Linux.dll'))
$null = [Reflection.Assembly]::Load('System.Text.Json')
$inv = [Globalization.CultureInfo]::InvariantCulture

. (Join-Path $PSScriptRoot 'BenchCommon.ps1')   # Log, Raw, First, Stats

function Cell($Values, [string] $Format) {
    $st = Stats $Values
    if ($st.N -eq 0) { return '-' }
    '{0} ({1}-{2})' -f $st.Median.ToString($Format, $inv), $st.Min.ToString($Format, $inv), $st.Max.ToString($Format, $inv)
}

function Name([string] $Original) { '{0}-{1}' -f $Prefix, $Original }

# ------------------------------------------------------------------------------------------------ the topology

$h1 = Name 'h1'; $h2 = Name 'h2'; $h3 = Name 'h3'
function Case([string] $Case, [string] $From, [string] $To, [string] $FromHost, [string] $ToHost, [string] $Network) {
    [pscustomobject]@{ Case = $Case; From = (Name $From); To = (Name $To); FromHost = $FromHost; ToHost = $ToHost
        Network = (Name $Network); Link = ('{0}-{1}' -f (Name $From), (Name $To)); Receiver = $null }
}
$cases = @(
    (Case 'vxlan-2hop' 'x1' 'x3' $h1 $h3 'x')
    (Case 'labhost' 'y1' 'y2' $h1 $h1 'y')
    (Case 'local' 'z1' 'z2' '' '' 'z')
)

$routersJson = @()
$linksJson = @()
foreach ($c in $cases) {
    foreach ($end in @(@($c.From, $c.FromHost), @($c.To, $c.ToHost))) {
        $hostPart = if ($end[1]) { ', "host": "{0}"' -f $end[1] } else { '' }
        $routersJson += '    {{ "name": "{0}", "network": "{1}", "addressFamily": "IPv4"{2} }}' -f $end[0], $c.Network, $hostPart
    }
    $linksJson += '    {{ "from": "{0}", "to": "{1}" }}' -f $c.From, $c.To
}
$json = @"
{
  "defaults": { "image": "router", "memoryMB": 128, "processorCount": 1 },
  "hosts": [ { "name": "$h1" }, { "name": "$h2" }, { "name": "$h3" } ],
  "physicalLinks": [ { "from": "$h1", "to": "$h2" }, { "from": "$h2", "to": "$h3" } ],
  "routers": [
$($routersJson -join ",`n")
  ],
  "links": [
$($linksJson -join ",`n")
  ]
}
"@
$file = Join-Path ([IO.Path]::GetDirectoryName($OutFile)) ('multihost-{0}.json' -f $Prefix)
[IO.File]::WriteAllText($file, $json)
$routerNames = @($cases | ForEach-Object { $_.From; $_.To })

# ------------------------------------------------------------------------------------------------ host-side helpers

# The link and router records name each link's taps; the module does not show tap names, so the backend's state store
# is read for them (nothing else of the backend's internals is used).
$store = [VirtualNetworks.Linux.State.StateStore]::new($StateDirectory)

# Until every router's guest has booted and applied its configuration (all at once; RouterNotReady stops the script).
function Wait-Ready([string[]] $Routers, [int] $TimeoutSeconds = 180) {
    Wait-VirtualRouter -Name $Routers -TimeoutSec $TimeoutSeconds -ErrorAction Stop
}

# The tap that carries the link's traffic to the To router (tbf on it shapes that direction), and its namespace.
function Get-ReceiverTap($Case) {
    $record = $store.ReadLink($Case.Link)
    $routerHost = $store.ReadRouter($Case.To).Host
    $ns = $null
    if ($routerHost -and -not [VirtualNetworks.Topology.HostNames]::IsLocalHost($routerHost)) { $ns = [VirtualNetworks.Linux.Net.InterfaceNames]::Namespace($routerHost) }
    [pscustomobject]@{ Tap = $record.Taps[$Case.To]; Namespace = $ns; Mtu = $(if ($record.Mtu) { $record.Mtu } else { 1500 }) }
}

function Get-TxBytes($Tap) {
    $arguments = @()
    if ($Tap.Namespace) { $arguments += '-n', $Tap.Namespace }
    $arguments += '-j', '-s', 'link', 'show', 'dev', $Tap.Tap
    $text = (& ip @arguments) -join "`n"
    if ($LASTEXITCODE -ne 0) { throw "ip $($arguments -join ' ') failed" }
    $doc = [System.Text.Json.JsonDocument]::Parse($text)
    try { return $doc.RootElement[0].GetProperty('stats64').GetProperty('tx').GetProperty('bytes').GetInt64() } finally { $doc.Dispose() }
}

function Remove-Bench {
    @(Get-VirtualNetwork | Where-Object { $_.Name -like "$Prefix-*" }) | Remove-VirtualNetwork -Force -Confirm:$false
}

# ------------------------------------------------------------------------------------------------ run

$load = [IO.File]::ReadAllText('/proc/loadavg').Trim()
Log ('VirtualNetworks multi-host throughput benchmark  {0:yyyy-MM-ddTHH:mm:ssZ}' -f [DateTime]::UtcNow)
Log ('host {0}; {1} CPUs; {2}; loadavg at start {3}' -f [Environment]::MachineName, [Environment]::ProcessorCount,
    ((First ([IO.File]::ReadAllLines('/proc/cpuinfo') | Where-Object { $_ -like 'model name*' })) -replace '^model name\s*:\s*', ''), $load)
Log ('topology {0}; state {1}; runs {2}; rates {3} Mbit/s (0 = unlimited); Measure-VirtualLink -DurationSeconds {4}' -f
    $file, $StateDirectory, $Runs, ($rateList -join ', '), $DurationSeconds)

try {
    $clock = [Diagnostics.Stopwatch]::StartNew()
    $deployment = Deploy-VirtualNetwork -Path $file -ComputerName localhost -Confirm:$false
    Wait-Ready $routerNames
    Log ('deployed {0} changes in {1:0.0} s, all {2} routers ready after {3:0.0} s' -f $deployment.Changes, $deployment.Duration.TotalSeconds, $routerNames.Count, $clock.Elapsed.TotalSeconds)
    foreach ($c in $cases) {
        $l = Get-VirtualLink -Name $c.Link
        $tap = Get-ReceiverTap $c
        $c.Receiver = $tap
        Log ('  {0,-10} {1}: {2} on {3} -> {4} on {5}; {6}, path {7}{8}; MTU {9}; receiver tap {10}{11}' -f $c.Case, $c.Link, $l.From, $l.FromComputerName,
            $l.To, $l.ToComputerName, $l.Transport, ($l.UnderlayPath -join ' > '), $(if ($l.TunnelId) { " (VNI $($l.TunnelId))" } else { '' }),
            $tap.Mtu, $tap.Tap, $(if ($tap.Namespace) { " in $($tap.Namespace)" } else { ' (root namespace)' }))
    }

    $summary = @()
    foreach ($rate in $rateList) {
        $limit = [long]($rate * 1e6)
        foreach ($c in $cases) { Set-VirtualLink -Name $c.Link -MaximumBandwidth $limit }
        $label = if ($limit -eq 0) { 'unlimited' } else { '{0} Mbit/s' -f $rate }
        Log ''
        Log "== limit $label"
        $data = @{}
        foreach ($c in $cases) { $data[$c.Case] = [pscustomobject]@{ Measured = @(); Ratio = @(); Goodput = @(); TapRate = @(); TapRatio = @() } }
        for ($i = 1; $i -le $Runs; $i++) {
            foreach ($c in $cases) {
                $before = Get-TxBytes $c.Receiver
                $m = Measure-VirtualLink -Name $c.Link -DurationSeconds $DurationSeconds
                $after = Get-TxBytes $c.Receiver
                $frameFactor = ($after - $before) / [double]$m.Bytes
                $tapRate = $m.Goodput * $frameFactor
                $d = $data[$c.Case]
                $d.Measured += $m.MeasuredBandwidth / 1e6
                $d.Goodput += $m.Goodput / 1e6
                $d.TapRate += $tapRate / 1e6
                if ($limit -gt 0) { $d.Ratio += $m.Ratio; $d.TapRatio += $tapRate / $limit }
                Log ('  run {0} {1,-10} measured {2,6:0.000} Mbit/s, goodput {3,6:0.000}, ratio {4}, tap frames {5,6:0.000} Mbit/s ({6:0.0000} frame bytes per payload byte), {7:N0} bytes in {8:0.00} s' -f
                    $i, $c.Case, ($m.MeasuredBandwidth / 1e6), ($m.Goodput / 1e6), $(if ($null -ne $m.Ratio) { $m.Ratio.ToString('0.0000', $inv) } else { '-' }),
                    ($tapRate / 1e6), $frameFactor, $m.Bytes, $m.Duration.TotalSeconds)
            }
        }
        Log ''
        Log ('  {0,-10} {1,-26} {2,-26} {3,-26} {4,-26}' -f 'link', 'Measured Mbit/s', 'Ratio', 'Tap frames Mbit/s', 'Tap ratio')
        foreach ($c in $cases) {
            $d = $data[$c.Case]
            foreach ($k in 'Measured', 'Ratio', 'Goodput', 'TapRate', 'TapRatio') { Raw ('{0} {1} {2}' -f $label, $c.Case, $k) $d.$k '0.####' }
            Log ('  {0,-10} {1,-26} {2,-26} {3,-26} {4,-26}' -f $c.Case, (Cell $d.Measured '0.00'), (Cell $d.Ratio '0.000'), (Cell $d.TapRate '0.00'), (Cell $d.TapRatio '0.000'))
            $summary += [pscustomobject]@{ Limit = $label; Link = $c.Case; Measured = (Cell $d.Measured '0.00'); Ratio = (Cell $d.Ratio '0.000'); TapRatio = (Cell $d.TapRatio '0.000') }
        }
    }
    Log ''
    Log '== summary: median (min-max)'
    foreach ($s in $summary) { Log ('  {0,-12} {1,-10} measured {2,-22} ratio {3,-22} tap ratio {4}' -f $s.Limit, $s.Link, $s.Measured, $s.Ratio, $s.TapRatio) }
}
finally {
    Log ''
    Log '== Tear down'
    try { Remove-Bench } catch { Log "  Remove-VirtualNetwork failed: $_" }
    try {
        $left = @(Get-VirtualHost | Where-Object { $_.IsLabHost -and $_.Name -like "$Prefix-*" })
        if ($left.Count) { Log ('  lab hosts left: {0}' -f (($left | ForEach-Object Name) -join ', ')) }
    } catch { Log "  Get-VirtualHost failed: $_" }
    $env:VIRTUALNETWORKS_STATE_DIR = $previousState
    if ($ownState -and [IO.Directory]::Exists($StateDirectory)) {
        try { [IO.Directory]::Delete($StateDirectory, $true) } catch { Log "  could not delete $StateDirectory : $_" }
    }
    Log ('loadavg at end {0}; results in {1}' -f [IO.File]::ReadAllText('/proc/loadavg').Trim(), $OutFile)
}
