<#
.SYNOPSIS
    Dynamic routing measurements of issue 14 with real QEMU routers running OSPF (BIRD 2): reconvergence after a link
    failure, VROOM's claim (live migration of a transit router keeps its adjacencies), and Deploy -> converged.

.DESCRIPTION
    Run as root in pwsh 7.2 or later, after ./build.sh build (it imports the module staged in out/, else the installed
    one by name), with the router image built by images/router/build.sh (guest contract 2):

        out/tools/pwsh -NoProfile -File bench/scripts/routing-bench.ps1 [-Runs 10] [-Migrations 20] [-Parts Reconvergence,Migration,Convergence]

    Works in its own state directory (a fresh /tmp/vnrb-*) with names prefixed by -Prefix (default "rb"), lab hosts
    included; everything is torn down at the end (Remove-VirtualNetwork also removes the lab hosts it created).

    Topology: two lab hosts rb-h1 - rb-h2 (one physical link) and a ring of six routers r1 .. r6 (128 MB, 1 vCPU, IPv4,
    network "o", routing "ospf"), r1..r4 and r6 on rb-h1, r5 on rb-h2 (links r4-r5 and r5-r6 are VXLAN tunnels).

    Reconvergence (-Parts Reconvergence): r1 pings r3's address on link r3-r4 every 10 ms (Test-VirtualRouterConnection
    in a thread job); the shortest path is r1 > r2 > r3. 1.5 s into the probes Disable-VirtualLink fails link r2-r3 (a
    pulled cable or a silent failure); OSPF moves the traffic to r1 > r6 > r5 > r4 > r3. The result of a run is the
    probe stream's LongestGapMilliseconds: the longest time r1's probes got no answer, to within 10 ms. Then the link is
    enabled again and the script waits until r1's route to the prefix leaves through link r1-r2 again and every OSPF
    neighbour of r2 and r3 is full (and BFD up) before the next run. Cases: pulled/silent x BFD on/off (the network is
    re-deployed with "bfd" changed between the BFD and no-BFD cases). Timers: hello 1 s, dead 4 s, BFD 100 ms x 5.

    VROOM (-Parts Migration): with BFD on, r2 (the transit router of r1's probes to r3) is live-migrated -Migrations
    times between rb-h1 and rb-h2 (back and forth) while r1 pings r3 every 10 ms; per migration the longest gap of the
    probes, and over all migrations the OSPF neighbour state changes and BFD session downs that r1 and r3 (r2's
    neighbours) logged (Get-VirtualRoutingStatus before and after: the counters count since each guest booted).

    Convergence (-Parts Convergence): Deploy-VirtualNetwork -Wait of a Figure-1-sized network (examples/figure1.json's
    seven routers in two networks on three lab hosts) with routing "static" and with "ospf" (BFD on): the time from the
    start of Deploy until every router's routing table (Get-VirtualRoute, polled) has a route to every link prefix of
    its network, -ConvergenceRuns times each, interleaved; then Test-VirtualNetwork checks reachability and isolation
    (not timed) and the network is removed.

    Results: tables on stdout; every raw value in -OutFile (default out/bench/routing-bench-<UTC>.txt).
#>
#Requires -Version 7.2
[CmdletBinding()]
param(
    [ValidateRange(1, 100)] [int] $Runs = 10,
    [ValidateRange(0, 100)] [int] $Migrations = 20,
    [ValidateRange(0, 20)] [int] $ConvergenceRuns = 3,
    # Seconds after the ring has healed before the next failure (BIRD's MinLSInterval is 5 s).
    [ValidateRange(0, 60)] [int] $SettleSeconds = 6,
    [string[]] $Parts = @('Reconvergence', 'Migration', 'Convergence'),
    [string[]] $Cases = @('CablePulled:bfd', 'Silent:bfd', 'CablePulled:nobfd', 'Silent:nobfd'),
    [ValidatePattern('^[a-z][a-z0-9]{0,5}$')] [string] $Prefix = 'rb',
    [string] $OutFile
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3
$partList = @($Parts | ForEach-Object { $_ -split ',' } | ForEach-Object { $_.Trim() } | Where-Object { $_ })
$caseList = @($Cases | ForEach-Object { $_ -split ',' } | ForEach-Object { $_.Trim() } | Where-Object { $_ })
$repo = [IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../..'))
if (-not $OutFile) { $OutFile = Join-Path $repo ('out/bench/routing-bench-{0:yyyyMMddTHHmmssZ}.txt' -f [DateTime]::UtcNow) }
$OutFile = [IO.Path]::GetFullPath($OutFile)
[void][IO.Directory]::CreateDirectory([IO.Path]::GetDirectoryName($OutFile))
$StateDirectory = '/tmp/vnrb-{0}' -f ([Guid]::NewGuid().ToString('N').Substring(0, 8))
$null = [IO.Directory]::CreateDirectory($StateDirectory, [IO.UnixFileMode]'UserRead, UserWrite, UserExecute')
$previousState = $env:VIRTUALNETWORKS_STATE_DIR
$env:VIRTUALNETWORKS_STATE_DIR = $StateDirectory
$stagedModule = Join-Path $repo 'out/VirtualNetworks/VirtualNetworks.psd1'
$modulePath = if (Test-Path -LiteralPath $stagedModule -PathType Leaf) { $stagedModule } else { 'VirtualNetworks' }
Import-Module $modulePath -ErrorAction Stop
$inv = [Globalization.CultureInfo]::InvariantCulture
. (Join-Path $PSScriptRoot 'BenchCommon.ps1')   # Log, Raw, First, Stats

function Cell($Values, [string] $Format = '0') {
    $st = Stats $Values
    if ($st.N -eq 0) { return '-' }
    '{0} ({1}-{2}, n={3})' -f $st.Median.ToString($Format, $inv), $st.Min.ToString($Format, $inv), $st.Max.ToString($Format, $inv), $st.N
}
function Name([string] $Original) { '{0}-{1}' -f $Prefix, $Original }

$h1 = Name 'h1'; $h2 = Name 'h2'
$ring = 1..6 | ForEach-Object { Name "r$_" }
function RingLink([int] $a, [int] $b) { Name ('l{0}{1}' -f $a, $b) }

function Write-RingTopology([bool] $Bfd) {
    $routers = for ($i = 1; $i -le 6; $i++) {
        $where = if ($i -eq 5) { $h2 } else { $h1 }
        '    {{ "name": "{0}", "network": "{1}", "host": "{2}" }}' -f $ring[$i - 1], (Name 'o'), $where
    }
    $links = for ($i = 1; $i -le 6; $i++) {
        $j = if ($i -eq 6) { 1 } else { $i + 1 }
        '    {{ "name": "{0}", "from": "{1}", "to": "{2}" }}' -f (RingLink $i $j), $ring[$i - 1], $ring[$j - 1]
    }
    $json = @"
{
  "defaults": { "image": "router", "memoryMB": 128, "processorCount": 1, "addressFamily": "IPv4" },
  "hosts": [ { "name": "$h1" }, { "name": "$h2" } ],
  "physicalLinks": [ { "from": "$h1", "to": "$h2" } ],
  "networks": [ { "name": "$(Name 'o')", "routing": "ospf", "bfd": $($Bfd.ToString().ToLowerInvariant()) } ],
  "routers": [
$($routers -join ",`n")
  ],
  "links": [
$($links -join ",`n")
  ]
}
"@
    $file = Join-Path ([IO.Path]::GetDirectoryName($OutFile)) ('routing-ring-{0}.json' -f $Prefix)
    [IO.File]::WriteAllText($file, $json)
    $file
}

# r3's address on link r3-r4 (the probe target), from the link's recorded addresses.
function Get-TargetAddress {
    $link = Get-VirtualLink -Name (RingLink 3 4)
    $cidr = if ($link.From -eq $ring[2]) { $link.FromAddress } else { $link.ToAddress }
    ($cidr -split '/')[0]
}

# Waits until r1's route to the target's prefix leaves through link r1-r2 and r2's and r3's neighbours are all full
# (BFD up when on), at most $TimeoutSec; returns the seconds it took.
function Wait-Healed([string] $Prefix31, [bool] $Bfd, [int] $TimeoutSec = 90) {
    $clock = [Diagnostics.Stopwatch]::StartNew()
    while ($clock.Elapsed.TotalSeconds -lt $TimeoutSec) {
        $ok = $false
        try {
            $route = Get-VirtualRoute -RouterName $ring[0] | Where-Object Prefix -EQ $Prefix31 | Select-Object -First 1
            $ok = $route -and $route.LinkName -eq (RingLink 1 2)
            foreach ($r in $ring[1], $ring[2]) {
                $st = Get-VirtualRoutingStatus -RouterName $r
                if (@($st.Neighbors | Where-Object State -NE 'full').Count -gt 0 -or @($st.Neighbors).Count -lt 2) { $ok = $false }
                if ($Bfd -and (@($st.BfdSessions | Where-Object State -NE 'up').Count -gt 0 -or @($st.BfdSessions).Count -lt 2)) { $ok = $false }
            }
        }
        catch { $ok = $false }
        if ($ok) { return $clock.Elapsed.TotalSeconds }
        Start-Sleep -Milliseconds 250
    }
    throw "The ring did not heal within $TimeoutSec s (r1's route to $Prefix31, r2's and r3's neighbours)."
}

# Every ring router's OSPF neighbours, BFD sessions and change counters (and with -Routes its routes) into the log.
function Write-RoutingState([switch] $Routes) {
    foreach ($r in $ring) {
        $st = Get-VirtualRoutingStatus -RouterName $r
        Log ('    {0}: neighbours {1}; bfd {2}; changes {3}, bfd downs {4}' -f $r, (($st.Neighbors | ForEach-Object { "$($_.LinkName)=$($_.State)" }) -join ','),
            (($st.BfdSessions | ForEach-Object { "$($_.LinkName)=$($_.State)" }) -join ','), $st.NeighborStateChanges, $st.BfdSessionDowns)
        if ($Routes) { Log ('    {0} routes: {1}' -f $r, ((Get-VirtualRoute -RouterName $r | ForEach-Object { "$($_.Prefix)>$($_.NextHop)/$($_.Protocol)" }) -join ' ')) }
    }
}

# The routers' console logs (the guests' own messages), kept beside the results file when something went wrong.
function Save-Consoles {
    $dir = [IO.Path]::ChangeExtension($OutFile, $null).TrimEnd('.') + '-consoles'
    [void][IO.Directory]::CreateDirectory($dir)
    foreach ($f in Get-ChildItem -LiteralPath $StateDirectory -Recurse -Filter '*.console' -File -ErrorAction SilentlyContinue) {
        Copy-Item -LiteralPath $f.FullName -Destination (Join-Path $dir $f.Name) -Force
    }
    Log ('    console logs: {0}' -f $dir)
}

function Start-Probes([string] $Address, [int] $Count) {
    $started = [hashtable]::Synchronized(@{})
    $job = Start-ThreadJob -ArgumentList $modulePath, $started, $ring[0], $Address, $Count -ScriptBlock {
        param($Module, $Flag, $From, $To, $N)
        $ErrorActionPreference = 'Stop'
        Import-Module $Module
        $Flag['At'] = [DateTime]::UtcNow
        Test-VirtualRouterConnection -Name $From -TargetAddress $To -Count $N -IntervalMilliseconds 10
    }
    while (-not $started.ContainsKey('At')) { Start-Sleep -Milliseconds 20 }
    $job
}

Log ('routing-bench {0:u} on {1} ({2} cores); state {3}' -f [DateTime]::UtcNow, [Environment]::MachineName, [Environment]::ProcessorCount, $StateDirectory)
$deployed = $false
try {
    # ------------------------------------------------------------------------------------------ reconvergence
    if ($partList -contains 'Reconvergence' -or $partList -contains 'Migration') {
        $results = [ordered]@{}
        $currentBfd = $null
        foreach ($case in @($caseList) + $(if ($partList -contains 'Migration') { 'migration:bfd' } else { @() })) {
            $kind, $bfdWord = $case -split ':'
            $bfd = $bfdWord -eq 'bfd'
            if ($kind -ne 'migration' -and $partList -notcontains 'Reconvergence') { continue }
            if ($currentBfd -ne $bfd) {
                $file = Write-RingTopology $bfd
                $clock = [Diagnostics.Stopwatch]::StartNew()
                Deploy-VirtualNetwork -Path $file -Wait -TimeoutSec 300 -Confirm:$false | Out-Null
                $deployed = $true
                try {
                    $test = Test-VirtualNetwork -Name (Name 'o') -ConvergenceTimeoutSec 120
                } catch {
                    # Not converged: what each router's OSPF says, for the report, then the failure.
                    Log ('not converged after re-deploying with bfd={0}: {1}' -f $bfd, $_.Exception.Message)
                    Write-RoutingState -Routes
                    Save-Consoles
                    throw
                }
                Log ('deployed the ring with bfd={0}: converged {1:0.0} s after Deploy started; {2}' -f $bfd, $clock.Elapsed.TotalSeconds, "$test")
                $currentBfd = $bfd
            }
            $target = Get-TargetAddress
            $targetPrefix = [string](First (Get-VirtualRoute -RouterName $ring[0] -Protocol ospf | Where-Object { $_.Prefix -like '*/31' -and [Net.IPNetwork]::Parse($_.Prefix).Contains([Net.IPAddress]::Parse($target)) } | ForEach-Object Prefix))
            $null = Wait-Healed $targetPrefix $bfd
            Start-Sleep -Seconds $SettleSeconds
            if ($kind -eq 'migration') {
                $before = foreach ($r in $ring[0], $ring[2]) { Get-VirtualRoutingStatus -RouterName $r }
                $gaps = @(); $moves = @()
                for ($m = 1; $m -le $Migrations; $m++) {
                    $dest = if ($m % 2) { $h2 } else { $h1 }
                    $job = Start-Probes $target 600
                    Start-Sleep -Milliseconds 1500
                    $mc = [Diagnostics.Stopwatch]::StartNew()
                    Move-VirtualRouter -Name $ring[1] -DestinationHost $dest -Mode Live -Confirm:$false | Out-Null
                    $moves += $mc.Elapsed.TotalMilliseconds
                    $p = Receive-Job -Job $job -Wait -AutoRemoveJob
                    $gaps += $p.LongestGapMilliseconds
                    Log ('  migration {0,2} -> {1}: {2}/{3} answered, longest gap {4} ms, move {5:0} ms' -f $m, $dest, $p.Received, $p.Sent, $p.LongestGapMilliseconds, $moves[-1])
                    if ($p.LongestGapMilliseconds -gt 500) {
                        Write-RoutingState
                    }
                }
                $after = foreach ($r in $ring[0], $ring[2]) { Get-VirtualRoutingStatus -RouterName $r }
                $changes = 0; $downs = 0
                for ($k = 0; $k -lt 2; $k++) {
                    $changes += $after[$k].NeighborStateChanges - $before[$k].NeighborStateChanges
                    $downs += $after[$k].BfdSessionDowns - $before[$k].BfdSessionDowns
                }
                Raw 'migration gap ms' $gaps
                Raw 'migration move ms' $moves
                $sorted = [double[]]@($gaps | Sort-Object)
                $p95 = $sorted[[Math]::Min($sorted.Length - 1, [int][Math]::Ceiling(0.95 * $sorted.Length) - 1)]
                Log ('VROOM: {0} live migrations of {1}: neighbour state changes at r1+r3 {2}, BFD session downs {3}; gap ms {4}, p95 {5}; move ms {6}' -f
                    $Migrations, $ring[1], $changes, $downs, (Cell $gaps), $p95, (Cell $moves))
                continue
            }
            $gaps = @(); $heal = @()
            $count = if ($bfd -or $kind -eq 'CablePulled') { 500 } else { 1000 }
            for ($run = 1; $run -le $Runs; $run++) {
                $job = Start-Probes $target $count
                Start-Sleep -Milliseconds 1500
                Disable-VirtualLink -Name (RingLink 2 3) -Failure $kind -Confirm:$false
                $p = Receive-Job -Job $job -Wait -AutoRemoveJob
                $gaps += $p.LongestGapMilliseconds
                Enable-VirtualLink -Name (RingLink 2 3) -Confirm:$false
                $heal += Wait-Healed $targetPrefix $bfd
                # BIRD originates a router's LSA at most once in 5 s (RFC 2328 MinLSInterval, fixed in BIRD): the next
                # failure must not fall into that window, or its gap would show the rate limit instead of the detection.
                Start-Sleep -Seconds $SettleSeconds
                Log ('  {0} run {1,2}: {2}/{3} answered, longest gap {4} ms; healed {5:0.0} s after Enable' -f $case, $run, $p.Received, $p.Sent, $p.LongestGapMilliseconds, $heal[-1])
            }
            Raw "reconvergence $case gap ms" $gaps
            $results[$case] = $gaps
            Log ('reconvergence {0}: gap ms {1}' -f $case, (Cell $gaps))
        }
        if ($deployed) { Remove-VirtualNetwork -Name (Name 'o') -Force -Confirm:$false; $deployed = $false }
    }

    # ------------------------------------------------------------------------------------------ Deploy -> converged
    if ($partList -contains 'Convergence' -and $ConvergenceRuns -gt 0) {
        $figure = Get-Content -Raw -LiteralPath (Join-Path $repo 'examples/figure1.json') | ConvertFrom-Json
        $times = @{ static = @(); ospf = @() }
        for ($run = 1; $run -le $ConvergenceRuns; $run++) {
            foreach ($routing in 'static', 'ospf') {
                $f = $figure | ConvertTo-Json -Depth 8 | ConvertFrom-Json
                $f.PSObject.Properties.Remove('$schema')
                foreach ($h in $f.hosts) { $h.name = Name $h.name }
                foreach ($p in $f.physicalLinks) { $p.from = Name $p.from; $p.to = Name $p.to }
                foreach ($r in $f.routers) { $r.name = Name $r.name; $r.network = Name $r.network; $r.host = Name $r.host }
                foreach ($l in $f.links) { $l.from = Name $l.from; $l.to = Name $l.to }
                $f | Add-Member -NotePropertyName networks -NotePropertyValue @(
                    [ordered]@{ name = (Name 'a'); routing = $routing; bfd = ($routing -eq 'ospf') },
                    [ordered]@{ name = (Name 'b'); routing = $routing; bfd = ($routing -eq 'ospf') })
                $file = Join-Path ([IO.Path]::GetDirectoryName($OutFile)) ('routing-figure1-{0}.json' -f $Prefix)
                [IO.File]::WriteAllText($file, ($f | ConvertTo-Json -Depth 8))
                $clock = [Diagnostics.Stopwatch]::StartNew()
                Deploy-VirtualNetwork -Path $file -Wait -TimeoutSec 300 -Confirm:$false | Out-Null
                $deployed = $true
                $ready = $clock.Elapsed.TotalSeconds
                # Converged: every router has a route to every link prefix of its network (Get-VirtualRoute), polled.
                $links = @(Get-VirtualLink)
                $want = @{}
                foreach ($r in Get-VirtualRouter) {
                    $want[$r.Name] = @($links | Where-Object NetworkName -EQ $r.NetworkName | ForEach-Object {
                            [Net.IPNetwork]::Parse($_.FromAddress).BaseAddress.ToString() + '/' + ($_.FromAddress -split '/')[1] })
                }
                $total = $null
                while ($clock.Elapsed.TotalSeconds -lt 300) {
                    $missing = 0
                    foreach ($name in $want.Keys) {
                        $have = @(Get-VirtualRoute -RouterName $name | ForEach-Object Prefix)
                        $missing += @($want[$name] | Where-Object { $have -notcontains $_ }).Count
                        if ($missing) { break }
                    }
                    if ($missing -eq 0) { $total = $clock.Elapsed.TotalSeconds; break }
                    Start-Sleep -Milliseconds 100
                }
                $test = Test-VirtualNetwork -Name (Name 'a'), (Name 'b') -ConvergenceTimeoutSec 60
                $times[$routing] += $total
                Log ('  figure1 {0} run {1}: all ready {2:0.0} s, every route present {3} s; then {4}' -f $routing, $run, $ready, $(if ($null -ne $total) { '{0:0.0}' -f $total } else { 'never' }), "$test")
                Remove-VirtualNetwork -Name (Name 'a'), (Name 'b') -Force -Confirm:$false
                $deployed = $false
            }
        }
        foreach ($k in 'static', 'ospf') { Raw "deploy to converged $k s" $times[$k]; Log ('Deploy -> converged, figure 1, {0}: {1} s' -f $k, (Cell $times[$k] '0.0')) }
    }
}
finally {
    if ($deployed) { Get-VirtualNetwork -ErrorAction SilentlyContinue | Remove-VirtualNetwork -Force -Confirm:$false -ErrorAction Continue }
    $env:VIRTUALNETWORKS_STATE_DIR = $previousState
    Log "results: $OutFile"
}
