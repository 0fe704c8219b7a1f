<#
.SYNOPSIS
    Scale on one host (issue 15): N routers in a ring, N = 8, 16, 32, 64, against a bare-QEMU baseline in the same run.

.DESCRIPTION
    Run as root in pwsh 7.2 or later after ./build.sh build, with the router image built:

        out/tools/pwsh -NoProfile -File bench/scripts/scale-bench.ps1 [-Sizes 8,16,32,64] [-Runs 2] [-MemoryMB 0]

    For each size N and run (sizes interleaved run by run), in its own state directory (/tmp/vnsc-*) with names prefixed
    by -Prefix (default "sc"):

    1. Baseline: N QEMU processes with the router image's kernel and initramfs and the backend's command line (same
       memory, machine, firmware, kernel command line, serial console and command port; no NICs, no configuration) are
       started at once; the time until every console has printed its "VN-READY" line.
    2. Deploy-VirtualNetwork -Wait of a ring of N routers on the local host (one network, IPv4, static routing): the
       time from the start of Deploy until every guest is ready.
    3. Test-VirtualNetwork of the ring: its time, probe count and result.
    4. Memory per router: RSS and PSS of each router's QEMU process (/proc/<pid>/smaps_rollup), median.
    5. Idle CPU per router: user + system time of all router QEMU processes over -IdleSeconds, per router, in % of one
       core.
    6. Guests lost at boot: routers not Running after Deploy, and consoles showing "Kernel panic".
    7. Remove-VirtualNetwork -Force: its time.

    Results: one row per size and run on stdout, every value in -OutFile (default out/bench/scale-bench-<UTC>.txt) and a
    tab-separated table next to it (.tsv) that bench/scripts/plot-scale.sh turns into docs/scale.png.
#>
#Requires -Version 7.2
[CmdletBinding()]
param(
    [string[]] $Sizes = @('8', '16', '32', '64'),
    [ValidateRange(1, 10)] [int] $Runs = 2,
    # 0 = the backend's default memory.
    [ValidateRange(0, 4096)] [int] $MemoryMB = 0,
    [ValidateRange(1, 120)] [int] $IdleSeconds = 10,
    [ValidateRange(60, 3600)] [int] $TimeoutSec = 900,
    [switch] $SkipBaseline,
    [switch] $SkipTest,
    [ValidatePattern('^[a-z][a-z0-9]{0,5}$')] [string] $Prefix = 'sc',
    [string] $OutFile
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3
$sizeList = @($Sizes | ForEach-Object { $_ -split ',' } | ForEach-Object { $_.Trim() } | Where-Object { $_ } | ForEach-Object { [int]$_ })
$repo = [IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../..'))
if (-not $OutFile) { $OutFile = Join-Path $repo ('out/bench/scale-bench-{0:yyyyMMddTHHmmssZ}.txt' -f [DateTime]::UtcNow) }
$OutFile = [IO.Path]::GetFullPath($OutFile)
$TsvFile = [IO.Path]::ChangeExtension($OutFile, '.tsv')
[void][IO.Directory]::CreateDirectory([IO.Path]::GetDirectoryName($OutFile))
$stagedModule = Join-Path $repo 'out/VirtualNetworks/VirtualNetworks.psd1'
$modulePath = if (Test-Path -LiteralPath $stagedModule -PathType Leaf) { $stagedModule } else { 'VirtualNetworks' }
Import-Module $modulePath -ErrorAction Stop
$inv = [Globalization.CultureInfo]::InvariantCulture
. (Join-Path $PSScriptRoot 'BenchCommon.ps1')   # Log, Raw, First, Stats

# The image the backend boots: first folder of its search order that has it (docs/install.md).
$imageDir = @(@($env:VIRTUALNETWORKS_IMAGE_PATH -split ':' | Where-Object { $_ }) + '/var/lib/virtualnetworks/images' + (Join-Path $repo 'out/images')) |
    ForEach-Object { Join-Path $_ 'router' } | Where-Object { Test-Path -LiteralPath (Join-Path $_ 'vmlinuz') } | Select-Object -First 1
if (-not $imageDir) { throw 'No router image found (images/router/build.sh builds it).' }
$qboot = @('/usr/share/qemu/qboot.rom', '/usr/share/seabios/qboot.rom') | Where-Object { Test-Path -LiteralPath $_ } | Select-Object -First 1

function Get-ProcessesUnder([string] $Needle) {
    foreach ($d in [IO.Directory]::GetDirectories('/proc')) {
        $pidText = [IO.Path]::GetFileName($d)
        if ($pidText -notmatch '^\d+$') { continue }
        try { $cmd = [IO.File]::ReadAllText("$d/cmdline") } catch { continue }
        if ($cmd.StartsWith('qemu-system') -or $cmd.Contains('/qemu-system')) { if ($cmd.Contains($Needle)) { [int]$pidText } }
    }
}
function Get-CpuTicks([int[]] $Pids) {
    $sum = 0L
    foreach ($p in $Pids) {
        try { $f = ([IO.File]::ReadAllText("/proc/$p/stat") -split '\) ', 2)[1] -split ' ' } catch { continue }
        $sum += [long]$f[11] + [long]$f[12]     # utime, stime (fields 14 and 15)
    }
    $sum
}
function Get-Rollup([int] $ProcessId, [string] $Key) {
    foreach ($line in [IO.File]::ReadAllLines("/proc/$ProcessId/smaps_rollup")) { if ($line -match "^${Key}:\s+(\d+) kB") { return [double]$Matches[1] / 1024 } }
    $null
}

# Baseline: N bare QEMUs started at once; seconds until every console printed VN-READY.
function Measure-Baseline([int] $N, [int] $Memory, [string] $Dir) {
    $null = [IO.Directory]::CreateDirectory($Dir)
    $clock = [Diagnostics.Stopwatch]::StartNew()
    for ($i = 0; $i -lt $N; $i++) {
        $name = 'bq{0}' -f $i
        $a = @('-name', "$name,process=vn-$name", '-accel', 'tcg', '-m', "$Memory", '-smp', '1', '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot')
        if ($qboot) { $a += '-bios', $qboot }
        $a += '-kernel', (Join-Path $imageDir 'vmlinuz'), '-initrd', (Join-Path $imageDir 'initramfs.cpio.gz'),
            '-append', "console=ttyS0 quiet panic=-1 cryptomgr.notests nokaslr no_timer_check tsc=reliable vn.name=$name",
            '-chardev', "file,id=vncon,path=$Dir/$name.log", '-serial', 'chardev:vncon',
            '-device', 'virtio-serial-pci,id=vnser', '-chardev', "socket,id=vnchan,path=$Dir/$name.sock,server=on,wait=off",
            '-device', 'virtserialport,bus=vnser.0,chardev=vnchan,name=vn.cmd', '-pidfile', "$Dir/$name.pid", '-daemonize'
        & qemu-system-x86_64 @a
        if ($LASTEXITCODE -ne 0) { throw "baseline QEMU $name did not start" }
    }
    $ready = @{}
    while ($ready.Count -lt $N -and $clock.Elapsed.TotalSeconds -lt $TimeoutSec) {
        for ($i = 0; $i -lt $N; $i++) {
            if ($ready.ContainsKey($i)) { continue }
            $log = "$Dir/bq$i.log"
            if ((Test-Path -LiteralPath $log) -and ([IO.File]::ReadAllText($log) -match 'VN-READY')) { $ready[$i] = $clock.Elapsed.TotalSeconds }
        }
        Start-Sleep -Milliseconds 100
    }
    $seconds = $clock.Elapsed.TotalSeconds
    $panics = @(Get-ChildItem -LiteralPath $Dir -Filter '*.log' | Where-Object { (Get-Content -Raw -LiteralPath $_.FullName) -match 'Kernel panic' }).Count
    foreach ($p in Get-ChildItem -LiteralPath $Dir -Filter '*.pid') { try { Stop-Process -Id ([int](Get-Content -LiteralPath $p.FullName)) -Force } catch { } }
    Start-Sleep -Milliseconds 500
    Remove-Item -LiteralPath $Dir -Recurse -Force
    [pscustomobject]@{ Seconds = $(if ($ready.Count -eq $N) { $seconds } else { $null }); Ready = $ready.Count; Panics = $panics }
}

function Write-Ring([int] $N, [string] $File) {
    $mem = if ($MemoryMB -gt 0) { ', "memoryMB": {0}' -f $MemoryMB } else { '' }
    $routers = for ($i = 1; $i -le $N; $i++) { '    {{ "name": "{0}-r{1}", "network": "{0}-ring" }}' -f $Prefix, $i }
    $links = for ($i = 1; $i -le $N; $i++) { $j = if ($i -eq $N) { 1 } else { $i + 1 }; '    {{ "from": "{0}-r{1}", "to": "{0}-r{2}" }}' -f $Prefix, $i, $j }
    [IO.File]::WriteAllText($File, @"
{
  "defaults": { "image": "router", "processorCount": 1, "addressFamily": "IPv4"$mem },
  "routers": [
$($routers -join ",`n")
  ],
  "links": [
$($links -join ",`n")
  ]
}
"@)
}

Log ('scale-bench {0:u} on {1} ({2} cores), image {3}' -f [DateTime]::UtcNow, [Environment]::MachineName, [Environment]::ProcessorCount, $imageDir)
[IO.File]::WriteAllText($TsvFile, "n`trun`tbaseline_s`tdeploy_ready_s`tratio`ttest_s`tprobes`ttest_passed`tremove_s`trss_mb`tpss_mb`tidle_cpu_pct`tlost`n")
$previousState = $env:VIRTUALNETWORKS_STATE_DIR
try {
    for ($run = 1; $run -le $Runs; $run++) {
        foreach ($n in $sizeList) {
            $state = '/tmp/vnsc-{0}' -f ([Guid]::NewGuid().ToString('N').Substring(0, 8))
            $null = [IO.Directory]::CreateDirectory($state, [IO.UnixFileMode]'UserRead, UserWrite, UserExecute')
            $env:VIRTUALNETWORKS_STATE_DIR = $state
            $memory = if ($MemoryMB -gt 0) { $MemoryMB } else { 128 }
            $base = if ($SkipBaseline) { $null } else { Measure-Baseline $n $memory "$state-baseline" }
            $file = "$state/ring.json"
            Write-Ring $n $file
            $clock = [Diagnostics.Stopwatch]::StartNew()
            $deployError = $null
            try { Deploy-VirtualNetwork -Path $file -Wait -TimeoutSec $TimeoutSec -Confirm:$false | Out-Null } catch { $deployError = $_ }
            $deploy = $clock.Elapsed.TotalSeconds
            $routers = @(Get-VirtualRouter)
            $lost = @($routers | Where-Object State -NE 'Running').Count
            $panics = @(Get-ChildItem -LiteralPath $state -Recurse -Filter 'console.log' -ErrorAction SilentlyContinue | Where-Object { (Get-Content -Raw -LiteralPath $_.FullName) -match 'Kernel panic' }).Count
            $test = $null; $testSeconds = $null
            if (-not $SkipTest -and -not $deployError) {
                $tc = [Diagnostics.Stopwatch]::StartNew()
                $test = Test-VirtualNetwork -Name "$Prefix-ring"
                $testSeconds = $tc.Elapsed.TotalSeconds
            }
            $pids = @(Get-ProcessesUnder $state)
            $rss = Stats @($pids | ForEach-Object { Get-Rollup $_ 'Rss' })
            $pss = Stats @($pids | ForEach-Object { Get-Rollup $_ 'Pss' })
            Start-Sleep -Seconds 2
            $t0 = Get-CpuTicks $pids; $w = [Diagnostics.Stopwatch]::StartNew()
            Start-Sleep -Seconds $IdleSeconds
            $t1 = Get-CpuTicks $pids
            $idle = if ($pids.Count) { ($t1 - $t0) / 100.0 / $w.Elapsed.TotalSeconds / $pids.Count * 100 } else { $null }
            $rc = [Diagnostics.Stopwatch]::StartNew()
            Remove-VirtualNetwork -Name "$Prefix-ring" -Force -Confirm:$false
            $remove = $rc.Elapsed.TotalSeconds
            $ratio = if ($base -and $base.Seconds) { $deploy / $base.Seconds } else { $null }
            $row = [ordered]@{ n = $n; run = $run; baseline_s = $(if ($base) { $base.Seconds } else { $null }); deploy_ready_s = $deploy; ratio = $ratio; test_s = $testSeconds
                probes = $(if ($test) { $test.ProbeCount } else { $null }); test_passed = $(if ($test) { [int]$test.Passed } else { $null })
                remove_s = $remove; rss_mb = $rss.Median; pss_mb = $pss.Median; idle_cpu_pct = $idle; lost = $lost + $panics }
            [IO.File]::AppendAllText($TsvFile, (($row.Values | ForEach-Object { if ($null -eq $_) { 'NA' } else { ([double]$_).ToString('0.###', $inv) } }) -join "`t") + "`n")
            Log ('N={0,2} run {1}: baseline {2} s ({3} ready, {4} panics); deploy->ready {5:0.0} s (ratio {6}); test {7} s, {8}; remove {9:0.0} s; RSS {10:0} MB PSS {11:0} MB per router; idle {12:0.00} % of a core per router; lost {13}{14}' -f
                $n, $run, $(if ($base) { '{0:0.0}' -f $base.Seconds } else { '-' }), $(if ($base) { $base.Ready } else { '-' }), $(if ($base) { $base.Panics } else { '-' }),
                $deploy, $(if ($ratio) { '{0:0.00}' -f $ratio } else { '-' }), $(if ($null -ne $testSeconds) { '{0:0.0}' -f $testSeconds } else { '-' }), "$test",
                $remove, $rss.Median, $pss.Median, $idle, ($lost + $panics), $(if ($deployError) { "; deploy failed: $deployError" } else { '' }))
            $env:VIRTUALNETWORKS_STATE_DIR = $previousState
            Remove-Item -LiteralPath $state -Recurse -Force -ErrorAction SilentlyContinue
        }
    }
}
finally {
    $env:VIRTUALNETWORKS_STATE_DIR = $previousState
    Log "results: $OutFile, table: $TsvFile"
}
