#!/usr/bin/env bash
# forwarding-bench.sh: host CPU per forwarded packet of the routers' QEMU processes, QEMU/guest variant A against B.
#
#   bench/scripts/forwarding-bench.sh [-n ROUTERS] [-r RUNS] [-c COUNT] [-i IDLE_SECONDS] [-o OUTFILE] A B
#
# Run as root after ./build.sh build, with the router image built. A and B are names from variant() below (base,
# tb32, tbdefault, cpumax, txtimer, nohzoff, napitx0, tscreliable, ...). Paired design, because the machine is shared
# and its load swings within minutes: two rings of ROUTERS routers each (default 4; IPv4, static routing) are
# deployed side by side, ring A with variant A and ring B with variant B, each in its own state directory
# (/tmp/vnfb-state-*) with names prefixed "fb<random>"; then the runs alternate A, B, A, B, ... so both see the same
# load, and the result is the median of the per-pair ratios B/A as well as each side's median.
#
# - A variant is applied by a wrapper named qemu-system-x86_64 put first in PATH for the module only: it rewrites the
#   backend's arguments (the -accel value, options appended to every virtio-net-pci device, words appended to the
#   kernel command line, extra arguments) and execs the real QEMU. Nothing in the module changes.
# - One run of a ring: every router at once sends, over its command channel (the guest's `probe` command, i.e.
#   /bin/vn-probe, the prober Test-VirtualNetwork uses), twice COUNT rounds of 64 echo requests (a burst per round,
#   like Test-VirtualNetwork's batched probes) to the router opposite in the ring. Measured around it: the sum of
#   utime+stime of the ring's QEMU processes (/proc/<pid>/stat; also the share of the busiest non-main thread, the
#   vCPU), the packets the ring's guests sent (rx_packets of its taps: every echo request and reply at every hop).
#   Result: QEMU CPU microseconds per packet sent by a guest, i.e. per forwarded packet with the endpoints' echo work
#   spread over the hops. One uncounted warm-up run per ring first.
# - Then, per ring: idle CPU per router over IDLE_SECONDS (default 10; both rings measured at the same time, starting
#   5 s after the last command-channel connection closed), the TCG translation-cache
#   flush count of its first router (QMP "info jit"), and one Test-VirtualNetwork (QEMU CPU per probe).
# - Both rings are removed (Remove-VirtualNetwork -Force) and their state directories deleted, also on error.
#
# CPU time, not wall time: the machine is shared. Results go to stdout and OUTFILE (default
# out/bench/forwarding-bench-<UTC>.txt), with "raw" lines holding every run's value.
set -euo pipefail

ROUTERS=4 RUNS=8 COUNT=10 IDLE=10 OUT=""
while getopts "n:r:c:i:o:" o; do
	case $o in
	n) ROUTERS=$OPTARG ;;
	r) RUNS=$OPTARG ;;
	c) COUNT=$OPTARG ;;
	i) IDLE=$OPTARG ;;
	o) OUT=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[[ $# -eq 2 ]] || { echo "usage: $0 [-n routers] [-r runs] [-c count] [-o outfile] A B" >&2; exit 2; }
[[ $ROUTERS =~ ^[0-9]+$ && $ROUTERS -ge 3 && $ROUTERS -le 4 ]] || { echo "-n: 3..4 routers per ring (at most 8 at a time)" >&2; exit 2; }
[[ $RUNS =~ ^[0-9]+$ && $RUNS -ge 0 && $RUNS -le 50 ]] || { echo "-r: 0..50 (0: idle and Test-VirtualNetwork only)" >&2; exit 2; }
[[ $IDLE =~ ^[0-9]+$ && $IDLE -ge 1 && $IDLE -le 600 ]] || { echo "-i: 1..600" >&2; exit 2; }
[[ $COUNT =~ ^[0-9]+$ && $COUNT -ge 1 && $COUNT -le 10 ]] || { echo "-c: 1..10" >&2; exit 2; }

repo=$(cd "$(dirname "$0")/../.." && pwd)
pwsh=$repo/out/tools/pwsh
module=$repo/out/VirtualNetworks/VirtualNetworks.psd1
[[ -x $pwsh && -f $module ]] || { echo "run ./build.sh build first" >&2; exit 1; }
real_qemu=$(command -v qemu-system-x86_64) || { echo "qemu-system-x86_64 not found" >&2; exit 1; }
[[ -n $OUT ]] || OUT=$repo/out/bench/forwarding-bench-$(date -u +%Y%m%dT%H%M%SZ).txt
mkdir -p "$(dirname "$OUT")"
hz=$(getconf CLK_TCK)

log() { echo "$*" | tee -a "$OUT"; }

# variant NAME: sets the wrapper's environment for that variant.
# Several joined with "+" combine (e.g. imagex+tscreliable).
variant() {
	local part
	VNFWD_ACCEL="" VNFWD_NIC="" VNFWD_TAP="" VNFWD_APPEND="" VNFWD_EXTRA="" VNFWD_IMAGE_PATH=${VIRTUALNETWORKS_IMAGE_PATH:-}
	for part in ${1//+/ }; do variant_part "$part"; done
	export VNFWD_ACCEL VNFWD_NIC VNFWD_TAP VNFWD_APPEND VNFWD_EXTRA
}
variant_part() {
	case $1 in
	# the router image built into out/images-x/router (images/router/build.sh out/images-x/router)
	imagex) VNFWD_IMAGE_PATH=$repo/out/images-x ;;
	base | base2 | base3) ;;
	tb32) VNFWD_ACCEL="tcg,tb-size=32" ;;
	tb64) VNFWD_ACCEL="tcg,tb-size=64" ;;
	tbdefault) VNFWD_ACCEL="tcg" ;;
	single) VNFWD_ACCEL="tcg,thread=single,tb-size=16" ;;
	cpumax) VNFWD_EXTRA="-cpu max" ;;
	cpuhaswell) VNFWD_EXTRA="-cpu Haswell-noTSX" ;;
	cpumaxpmu) VNFWD_EXTRA="-cpu max,pmu=off" ;;
	q35) VNFWD_EXTRA="-machine q35" ;;
	nohpet) VNFWD_EXTRA="-machine pc,hpet=off" ;;
	txtimer) VNFWD_NIC="tx=timer" ;;
	noeventidx) VNFWD_NIC="event_idx=off" ;;
	queues1024) VNFWD_NIC="rx_queue_size=1024,tx_queue_size=1024" ;;
	nocsum) VNFWD_NIC="csum=off,guest_csum=off" ;;
	nomrg) VNFWD_NIC="mrg_rxbuf=off" ;;
	nohzoff) VNFWD_APPEND="nohz=off" ;;
	napitx0) VNFWD_APPEND="${VNFWD_APPEND:+$VNFWD_APPEND }virtio_net.napi_tx=0" ;;
	napitx0txtimer) VNFWD_APPEND="virtio_net.napi_tx=0" VNFWD_NIC="tx=timer" ;;
	tscreliable) VNFWD_APPEND="${VNFWD_APPEND:+$VNFWD_APPEND }tsc=reliable" ;;
	highresoff) VNFWD_APPEND="highres=off" ;;
	nowatchdog) VNFWD_APPEND="nowatchdog nosoftlockup" ;;
	norcu) VNFWD_APPEND="rcupdate.rcu_expedited=1" ;;
	*) echo "unknown variant '$1'" >&2; exit 2 ;;
	esac
}


work=$(mktemp -d /tmp/vnfb-XXXXXX)
states=()
cleanup() {
	local st f
	for st in "${states[@]}"; do
		[[ -d $st ]] || continue
		VIRTUALNETWORKS_STATE_DIR=$st PATH=$work/bin:$PATH "$pwsh" -NoProfile -c \
			"Import-Module '$module'; Get-VirtualNetwork | Remove-VirtualNetwork -Force -Confirm:\$false" >/dev/null 2>&1 || true
		for f in "$st"/run/*.pid; do [[ -f $f ]] && kill "$(cat "$f")" 2>/dev/null || true; done # what the module left
		rm -rf "$st"
	done
	rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/bin"
cat >"$work/bin/qemu-system-x86_64" <<EOF
#!/usr/bin/env bash
# forwarding-bench wrapper: applies the variant (VNFWD_*) to the backend's arguments and execs the real QEMU.
args=()
for a in "\$@"; do
	case \$a in
	tcg,tb-size=*) [[ -n \$VNFWD_ACCEL ]] && a=\$VNFWD_ACCEL ;;
	virtio-net-pci,*) [[ -n \$VNFWD_NIC ]] && a="\$a,\$VNFWD_NIC" ;;
	tap,id=vnnet*) [[ -n \$VNFWD_TAP ]] && a="\$a,\$VNFWD_TAP" ;;
	console=ttyS0*) [[ -n \$VNFWD_APPEND ]] && a="\$a \$VNFWD_APPEND" ;;
	esac
	args+=("\$a")
done
exec $real_qemu \$VNFWD_EXTRA "\${args[@]}"
EOF
chmod +x "$work/bin/qemu-system-x86_64"

cat >"$work/chan.py" <<'EOF'
import socket, sys
# chan.py SOCKET ID COMMAND...: one request over a router's command channel; prints "<ok> <lost> <code>".
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(180)
rid = sys.argv[2]; s.sendall((rid + " " + " ".join(sys.argv[3:]) + "\n").encode())
buf = b""
while (rid + " END").encode() not in buf:
    d = s.recv(65536)
    if not d: break
    buf += d
lines = buf.decode(errors="replace").splitlines()
if (rid + " BEGIN") in lines: lines = lines[lines.index(rid + " BEGIN") + 1:]
ok = sum(1 for l in lines if " ok " in l); lost = sum(1 for l in lines if l.endswith(" lost"))
end = [l for l in lines if l.startswith(rid + " END")]
print(ok, lost, end[0].split()[-1] if end else "none")
EOF

cat >"$work/qmp.py" <<'EOF'
import json, socket, sys
# qmp.py SOCKET HMP-COMMAND: prints the output of a human monitor command.
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(10); f = s.makefile("rw")
f.readline()
for cmd in ({"execute": "qmp_capabilities"}, {"execute": "human-monitor-command", "arguments": {"command-line": sys.argv[2]}}):
    f.write(json.dumps(cmd) + "\n"); f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r or "error" in r: break
print(r.get("return", r))
EOF

# cpu_of PIDS...: "<total ticks> <vcpu-thread ticks>" (the vCPU thread is the one named CPU 0/TCG; QEMU names it
# only with -name debug-threads=on, so it is taken as the busiest thread that is not the main thread).
cpu_of() {
	local total=0 vcpu=0 p t v best
	for p in "$@"; do
		read -r v < <(awk '{ s = $0; sub(/^.*\) /, "", s); split(s, f, " "); print f[12] + f[13] }' "/proc/$p/stat")
		total=$((total + v))
		best=0
		for t in /proc/$p/task/*; do
			[[ ${t##*/} == "$p" ]] && continue
			read -r v < <(awk '{ s = $0; sub(/^.*\) /, "", s); split(s, f, " "); print f[12] + f[13] }' "$t/stat" 2>/dev/null || echo 0)
			((v > best)) && best=$v
		done
		vcpu=$((vcpu + best))
	done
	echo "$total $vcpu"
}
taps_rx() {
	local s=0 t
	for t in "${taps[@]}"; do s=$((s + $(cat "/sys/class/net/$t/statistics/rx_packets"))); done
	echo $s
}
softirq() { awk '/^cpu / { print $8 }' /proc/stat; }

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
minmax() { sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo "-" hi }'; }


# deploy SIDE VARIANT: deploys ring SIDE (a or b) with the variant; sets state_SIDE, prefix_SIDE, pids_SIDE, taps_SIDE
# and the probe target of each router (targets_SIDE, in router order).
deploy() {
	local side=$1 v=$2 st pf links r a i j p t cmdline want
	variant "$v"
	st=$(mktemp -d /tmp/vnfb-state-XXXXXX)
	states+=("$st")
	pf=fb$(head -c 2 /dev/urandom | od -An -tx1 | tr -d ' \n')
	{
		echo '{ "defaults": { "image": "router", "processorCount": 1, "addressFamily": "IPv4" },'
		echo '  "routers": ['
		for ((i = 1; i <= ROUTERS; i++)); do printf '    { "name": "%s-r%d", "network": "%s-ring" }%s\n' "$pf" "$i" "$pf" "$([[ $i -lt $ROUTERS ]] && echo ,)"; done
		echo '  ], "links": ['
		for ((i = 1; i <= ROUTERS; i++)); do printf '    { "from": "%s-r%d", "to": "%s-r%d" }%s\n' "$pf" "$i" "$pf" $((i % ROUTERS + 1)) "$([[ $i -lt $ROUTERS ]] && echo ,)"; done
		echo '  ] }'
	} >"$st/ring.json"
	links=$(VIRTUALNETWORKS_IMAGE_PATH=$VNFWD_IMAGE_PATH VIRTUALNETWORKS_STATE_DIR=$st PATH=$work/bin:$PATH nice -n 19 "$pwsh" -NoProfile -c "
		\$ErrorActionPreference = 'Stop'; Import-Module '$module'
		Deploy-VirtualNetwork -Path '$st/ring.json' -Wait -TimeoutSec 300 -Confirm:\$false | Out-Null
		\$bad = @(Get-VirtualRouter | Where-Object State -ne 'Running'); if (\$bad) { throw ('not running: ' + (\$bad.Name -join ' ')) }
		Get-VirtualLink | ForEach-Object { '{0} {1}' -f \$_.From, (\$_.FromAddress -replace '/.*') }")
	declare -A addr_of=()
	while read -r r a; do [[ -n $r ]] && addr_of[$r]=$a; done <<<"$links"
	local -a pids=() taps=() targets=()
	for ((i = 1; i <= ROUTERS; i++)); do
		p=$(cat "$st/run/$pf-r$i.pid")
		pids+=("$p")
		for t in $(tr '\0' '\n' <"/proc/$p/cmdline" | sed -n 's/^tap,id=vnnet[0-9]*,ifname=\([^,]*\),.*/\1/p'); do taps+=("$t"); done
		j=$(((i + ROUTERS / 2 - 1) % ROUTERS + 1))
		targets+=("${addr_of[$pf-r$j]}")
	done
	cmdline=" $(tr '\0' ' ' <"/proc/${pids[0]}/cmdline")"
	for want in "${VNFWD_ACCEL:+ -accel $VNFWD_ACCEL }" "$VNFWD_NIC" "$VNFWD_APPEND" "$VNFWD_EXTRA"; do
		[[ -z $want || $cmdline == *"$want"* ]] || { log "variant $v: the wrapper did not apply ($want)"; exit 1; }
	done
	eval "state_$side=\$st prefix_$side=\$pf"
	eval "pids_$side=(\"\${pids[@]}\") taps_$side=(\"\${taps[@]}\") targets_$side=(\"\${targets[@]}\")"
}

# run SIDE RUN: one run on ring SIDE; prints "<us per packet> <vcpu share> <packets> <ok> <lost>".
run_ring() {
	local side=$1 run=$2 st pf i c0 v0 c1 v1 k0 k1 out
	eval "st=\$state_$side pf=\$prefix_$side"
	eval "local -a pids=(\"\${pids_$side[@]}\") targets=(\"\${targets_$side[@]}\")"
	eval "taps=(\"\${taps_$side[@]}\")"
	out=$work/probe-$side.out
	: >"$out"
	read -r c0 v0 < <(cpu_of "${pids[@]}")
	k0=$(taps_rx)
	for ((i = 1; i <= ROUTERS; i++)); do
		(
			tg=$(for ((k = 0; k < 64; k++)); do printf '%s ' "${targets[i - 1]}"; done)
			# shellcheck disable=SC2086
			for rep in 1 2; do python3 "$work/chan.py" "$st/run/$pf-r$i.chan" "fb-$run-$i-$rep" probe "$COUNT" 30 $tg; done
		) >>"$out" &
	done
	wait
	read -r c1 v1 < <(cpu_of "${pids[@]}")
	k1=$(taps_rx)
	awk -v c=$((c1 - c0)) -v v=$((v1 - v0)) -v p=$((k1 - k0)) -v hz="$hz" -v f="$out" 'BEGIN {
		while ((getline l < f) > 0) { split(l, x, " "); ok += x[1]; lost += x[2] }
		printf "%.2f %.2f %d %d %d\n", c / hz * 1e6 / p, c ? v / c : 0, p, ok, lost }'
}

A=$1 B=$2
log "forwarding-bench $(date -u +%FT%TZ) on $(hostname) ($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)): A=$A B=$B; two rings of $ROUTERS routers, $RUNS alternating run pairs, 2x$COUNT rounds of 64 echoes per router per run; $($real_qemu --version | head -1)"
deploy a "$A"
deploy b "$B"
sleep 3
if ((RUNS > 0)); then run_ring a 0 >/dev/null; run_ring b 0 >/dev/null; fi
ua=() ub=() ratio=() sa=() sb=()
for ((run = 1; run <= RUNS; run++)); do
	# alternate which side goes first, so neither always runs right after the other
	if ((run % 2)); then read -r xa va pa oka la < <(run_ring a "$run"); read -r xb vb pb okb lb < <(run_ring b "$run")
	else read -r xb vb pb okb lb < <(run_ring b "$run"); read -r xa va pa oka la < <(run_ring a "$run"); fi
	ua+=("$xa") ub+=("$xb") sa+=("$va") sb+=("$vb")
	ratio+=("$(awk -v a="$xa" -v b="$xb" 'BEGIN { printf "%.3f", b / a }')")
	log "  pair $run: A $xa us/packet ($pa packets, vCPU share $va, ok $oka lost $la); B $xb us/packet ($pb packets, vCPU share $vb, ok $okb lost $lb); B/A ${ratio[-1]}"
done
# idle: both rings over the same IDLE seconds, once the guests have stopped polling fast for a new host connection
sleep 5
eval 'pa_=("${pids_a[@]}") pb_=("${pids_b[@]}")'
read -r ia0 _ < <(cpu_of "${pa_[@]}"); read -r ib0 _ < <(cpu_of "${pb_[@]}")
sleep "$IDLE"
read -r ia1 _ < <(cpu_of "${pa_[@]}"); read -r ib1 _ < <(cpu_of "${pb_[@]}")
idle_a=$(awk -v c=$((ia1 - ia0)) -v i="$IDLE" -v n="$ROUTERS" -v hz="$hz" 'BEGIN { printf "%.2f", c / hz / i / n * 100 }')
idle_b=$(awk -v c=$((ib1 - ib0)) -v i="$IDLE" -v n="$ROUTERS" -v hz="$hz" 'BEGIN { printf "%.2f", c / hz / i / n * 100 }')
tv() { # SIDE: "<probes> <passed> <us QEMU CPU per probe>"
	local st pf c0 c1 r
	eval "st=\$state_$1 pf=\$prefix_$1"
	eval "local -a pids=(\"\${pids_$1[@]}\")"
	read -r c0 _ < <(cpu_of "${pids[@]}")
	local t0=$EPOCHREALTIME
	r=$(VIRTUALNETWORKS_STATE_DIR=$st PATH=$work/bin:$PATH nice -n 19 "$pwsh" -NoProfile -c "
		Import-Module '$module'; \$t = Test-VirtualNetwork -Name '$pf-ring'; '{0} {1}' -f \$t.ProbeCount, [int]\$t.Passed" | tail -1)
	read -r c1 _ < <(cpu_of "${pids[@]}")
	read -r n ok <<<"$r"
	echo "$n $ok $(awk -v c=$((c1 - c0)) -v p="$n" -v hz="$hz" 'BEGIN { printf "%.0f", p ? c / hz * 1e6 / p : 0 }') $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2fs", b - a }')"
}
tva=$(tv a) tvb=$(tv b)
jit() { local st pf; eval "st=\$state_$1 pf=\$prefix_$1"; python3 "$work/qmp.py" "$st/run/$pf-r1.qmp" "info jit" 2>/dev/null | tr '\r' '\n' | sed -n 's/^TB flush count *//p' | head -1; }
log "A=$A: median $( ((RUNS)) && printf '%s\n' "${ua[@]}" | median) us/packet (range $(printf '%s\n' "${ua[@]}" | minmax)), vCPU share $(printf '%s\n' "${sa[@]}" | median), idle $idle_a % of a core per router, Test-VirtualNetwork (probes, passed, QEMU us/probe, wall incl. pwsh start) $tva, TB flushes $(jit a)"
log "B=$B: median $( ((RUNS)) && printf '%s\n' "${ub[@]}" | median) us/packet (range $(printf '%s\n' "${ub[@]}" | minmax)), vCPU share $(printf '%s\n' "${sb[@]}" | median), idle $idle_b % of a core per router, Test-VirtualNetwork (probes, passed, QEMU us/probe, wall incl. pwsh start) $tvb, TB flushes $(jit b)"
if ((RUNS > 0)); then log "B/A: median $(printf '%s\n' "${ratio[@]}" | median) (range $(printf '%s\n' "${ratio[@]}" | minmax)) over $RUNS pairs"
log "raw A=$A us/packet: ${ua[*]}"
log "raw B=$B us/packet: ${ub[*]}"
log "raw B/A: ${ratio[*]}"; fi
log "results: $OUT"
