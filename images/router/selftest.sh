#!/usr/bin/env bash
# Self-test of the router OS image: boots real guests under QEMU TCG on a private bridge and
# checks the guest contract (docs/guest-contract.md) from the host over the command channel.
#
# Usage: sudo images/router/selftest.sh [IMAGE_DIR]   (default <repo>/out/images/router; built
#        with build.sh first when missing)
# Env:   VN_SELFTEST_BOOT_RUNS (default 5)  boot-time runs
#        VN_SELFTEST_BYTES     (default 16777216) bytes per throughput run
#        VN_SELFTEST_KEEP=1    keep the work directory (console logs) afterwards
#        VN_SELFTEST_BOOT_LIMIT_MS (default 3000) boot-time target; a miss is only a warning, as
#                              it depends on host load; VN_SELFTEST_STRICT_BOOT=1 makes it a failure
#        VN_SELFTEST_BIOS      firmware: path, or "default" for QEMU's SeaBIOS
#                              (default /usr/share/qemu/qboot.rom when present: boots faster)
#        VN_SELFTEST_ROUTING   1 (default): also the dynamic-routing test (guest contract 2: three
#                              guests in a line running OSPF + BFD through BIRD); 0: skip it;
#                              only: run just that test
#        VN_SELFTEST_NOBIRD_IMAGE  an image directory built with VN_BIRD=0: also checks that it rejects
#                              a routing line (code 2)
#
# Creates only: bridges vnimgtest0, vnimgrt1-3, taps vnimgtap1/vnimgtap2 and vnimgrt1a/1b/2a/2b/3a/3b
# (all with ifalias $TAG), a work directory under /tmp, QEMU processes it started (at most three at
# once). The trap removes all of it, also on failure.
# Exit status: 0 all checks passed, 1 a check failed, 2 the test could not run.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
img=${1:-$repo/out/images/router}
RUNS=${VN_SELFTEST_BOOT_RUNS:-5}
BYTES=${VN_SELFTEST_BYTES:-16777216}
BOOT_LIMIT=${VN_SELFTEST_BOOT_LIMIT_MS:-3000}

BR=vnimgtest0
TAPS=(vnimgtap1 vnimgtap2)
ROUTING=${VN_SELFTEST_ROUTING:-1}
case $ROUTING in 0 | 1 | only) ;; *) echo "selftest: VN_SELFTEST_ROUTING=$ROUTING: use 0, 1 or only" >&2; exit 2 ;; esac
# Routing test: g1 -(vnimgrt1)- g2 -(vnimgrt2)- g3, later also g1 -(vnimgrt3)- g3 (a triangle: ECMP);
# taps <bridge>a/<bridge>b.
RBRS=(vnimgrt1 vnimgrt2 vnimgrt3)
RTAPS=(vnimgrt1a vnimgrt1b vnimgrt2a vnimgrt2b vnimgrt3a vnimgrt3b)
TAG=virtualnetworks-imgtest
MACS=(02:76:6e:00:00:01 02:76:6e:00:00:02)
NAMES=(vnt1 vnt2)
APPEND="console=ttyS0 quiet panic=-1 cryptomgr.notests nokaslr no_timer_check"
BIOS=${VN_SELFTEST_BIOS:-/usr/share/qemu/qboot.rom}
[[ $BIOS == default || -r $BIOS ]] || BIOS=default
BIOS_ARGS=()
[[ $BIOS == default ]] || BIOS_ARGS=(-bios "$BIOS")

die() { echo "selftest: $*" >&2; exit 2; }
[[ $EUID -eq 0 ]] || die "run as root (creates a bridge and tap devices)"

# --- prerequisites ------------------------------------------------------------------------
need_pkgs=()
command -v qemu-system-x86_64 >/dev/null || need_pkgs+=(qemu-system-x86)
command -v socat >/dev/null || need_pkgs+=(socat)
command -v ip >/dev/null || need_pkgs+=(iproute2)
if [[ ${#need_pkgs[@]} -gt 0 ]]; then
	compgen -G '/var/lib/apt/lists/*_Packages' >/dev/null || apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi
if [[ ! -e $img/vmlinuz || ! -e $img/initramfs.cpio.gz ]]; then
	echo "selftest: no image in $img; building it" >&2
	"$here/build.sh" "$img"
fi
[[ -c /dev/net/tun ]] || die "/dev/net/tun missing (tap devices unavailable)"

exec {lockfd}>/run/vnimgtest.lock
flock -n "$lockfd" || die "another selftest is running"

work=$(mktemp -d /tmp/vnimgtest.XXXXXX)
declare -a QPIDS=() SPIDS=()
declare -A CHW=() CHR=()

# --- clean-up (trap) ----------------------------------------------------------------------
tagged() { [[ -e /sys/class/net/$1 && $(cat "/sys/class/net/$1/ifalias" 2>/dev/null) == "$TAG" ]]; }
remove_links() {
	local l
	for l in "${TAPS[@]}" "${RTAPS[@]}" "$BR" "${RBRS[@]}"; do
		if tagged "$l"; then ip link del "$l" 2>/dev/null || true; fi
	done
}
cleanup() {
	local p
	for g in "${!CHW[@]}"; do exec {CHW[$g]}>&- 2>/dev/null || true; done
	for g in "${!CHR[@]}"; do exec {CHR[$g]}<&- 2>/dev/null || true; done
	for p in "${SPIDS[@]}" "${QPIDS[@]}"; do
		[[ -n $p ]] && kill "$p" 2>/dev/null || true
	done
	for p in "${SPIDS[@]}" "${QPIDS[@]}"; do
		[[ -n $p ]] && wait "$p" 2>/dev/null || true
	done
	remove_links
	if [[ ${VN_SELFTEST_KEEP:-0} == 1 ]]; then
		echo "selftest: work directory kept: $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 2' INT TERM

# --- network: a private bridge with two tagged taps ----------------------------------------
for l in "$BR" "${TAPS[@]}" "${RBRS[@]}" "${RTAPS[@]}"; do
	if [[ -e /sys/class/net/$l ]]; then
		tagged "$l" || die "$l exists and is not ours (ifalias is not $TAG); not touching it"
		ip link del "$l"  # leftover of an earlier run
	fi
done
ip link add "$BR" type bridge
ip link set dev "$BR" alias "$TAG"
echo 1 >"/proc/sys/net/ipv6/conf/$BR/disable_ipv6"
ip link set dev "$BR" up
for t in "${TAPS[@]}"; do
	ip tuntap add dev "$t" mode tap
	ip link set dev "$t" alias "$TAG"
	echo 1 >"/proc/sys/net/ipv6/conf/$t/disable_ipv6"
	ip link set dev "$t" master "$BR" up
done

for b in "${RBRS[@]}"; do
	ip link add "$b" type bridge
	ip link set dev "$b" alias "$TAG"
	echo 1 >"/proc/sys/net/ipv6/conf/$b/disable_ipv6"
	ip link set dev "$b" up
done
for t in "${RTAPS[@]}"; do
	ip tuntap add dev "$t" mode tap
	ip link set dev "$t" alias "$TAG"
	echo 1 >"/proc/sys/net/ipv6/conf/$t/disable_ipv6"
	ip link set dev "$t" master "${t%?}" up
done

# --- configurations -----------------------------------------------------------------------
cat >"$work/g1.cfg" <<EOF
# router 1
name ${NAMES[0]}
if ${MACS[0]} 10.254.0.0/31 fd76:6e::/127
mtu ${MACS[0]} 1500
route 10.254.9.0/24 via 10.254.0.1
route fd76:6e:9::/64 via fd76:6e::1
EOF
cat >"$work/g2.cfg" <<EOF
name ${NAMES[1]}
if ${MACS[1]} 10.254.0.1/31 fd76:6e::1/127
EOF
# Pushed at run time: adds addresses that g1 reaches through its static routes.
G2_NEW="name ${NAMES[1]}
if ${MACS[1]} 10.254.0.1/31 fd76:6e::1/127
if ${MACS[1]} 10.254.9.1/24 fd76:6e:9::1/64"
G2_BAD="name ${NAMES[1]}
if 02:76:6e:00:00:99 10.254.7.1/24"

# --- helpers ------------------------------------------------------------------------------
CLK_TCK=$(getconf CLK_TCK)
cpu_ms() { awk -v hz="$CLK_TCK" '{ print int(($14 + $15) * 1000 / hz) }' "/proc/$1/stat" 2>/dev/null || echo 0; }
now_us() { local t=$EPOCHREALTIME; echo $((10#${t%.*} * 1000000 + 10#${t#*.})); }

# start_guest G (1 or 2): launches QEMU in the background, sets QPID[G]
declare -A QPID=()
start_guest() {
	local g=$1 i=$(($1 - 1))
	rm -f "$work/g$g.console" "$work/g$g.cmd" "$work/g$g.qmp"
	qemu-system-x86_64 -name "vnimgtest-g$g" -accel tcg -m 128 -smp 1 \
		-nodefaults -no-user-config -display none -no-reboot "${BIOS_ARGS[@]}" \
		-kernel "$img/vmlinuz" -initrd "$img/initramfs.cpio.gz" -append "$APPEND" \
		-serial "file:$work/g$g.console" \
		-fw_cfg "name=opt/vn/config,file=$work/g$g.cfg" \
		-netdev "tap,id=n0,ifname=${TAPS[$i]},script=no,downscript=no" \
		-device "virtio-net-pci,netdev=n0,mac=${MACS[$i]},romfile=" \
		-device virtio-serial \
		-chardev "socket,id=c0,path=$work/g$g.cmd,server=on,wait=off" \
		-device virtserialport,chardev=c0,name=vn.cmd \
		-qmp "unix:$work/g$g.qmp,server=on,wait=off" \
		>"$work/g$g.qemu.log" 2>&1 &
	QPID[$g]=$!
	QPIDS+=("$!")
}

# open_channel G: connects socat to the guest's command socket through two FIFOs.
open_channel() {
	local g=$1 n=0
	while [[ ! -S $work/g$g.cmd ]]; do
		((++n < 500)) || { echo "no command socket for g$g" >&2; return 1; }
		sleep 0.01
	done
	rm -f "$work/g$g.in" "$work/g$g.out"
	mkfifo "$work/g$g.in" "$work/g$g.out"
	socat -t 2 - "UNIX-CONNECT:$work/g$g.cmd" <"$work/g$g.in" >"$work/g$g.out" 2>>"$work/g$g.socat.log" &
	SPIDS+=("$!")
	exec {CHW[$g]}>"$work/g$g.in"
	exec {CHR[$g]}<"$work/g$g.out"
}

close_channel() {
	local g=$1
	exec {CHW[$g]}>&-
	exec {CHR[$g]}<&-
	unset "CHW[$g]" "CHR[$g]"
}

stop_guest() {
	local g=$1
	[[ -n ${CHW[$g]:-} ]] && close_channel "$g"
	kill "${QPID[$g]}" 2>/dev/null || true
	wait "${QPID[$g]}" 2>/dev/null || true
}

# req G TIMEOUT COMMAND... ; BODY (if set) is sent after the request, then a line '.'.
# Sets OUT (reply lines) and RC (exit code, or "timeout"). Lines before "<id> BEGIN" are skipped.
SEQ=0
req() {
	local g=$1 t=$2
	shift 2
	local id="st$$-$((++SEQ))" line started=0 deadline=$(($(now_us) + t * 1000000)) left
	OUT=
	RC=timeout
	printf '%s %s\n' "$id" "$*" >&"${CHW[$g]}"
	if [[ -n ${BODY:-} ]]; then printf '%s\n.\n' "$BODY" >&"${CHW[$g]}"; fi
	while :; do
		left=$(((deadline - $(now_us)) / 1000))
		((left > 0)) || return 1
		IFS= read -r -t "$((left / 1000)).$(printf '%03d' $((left % 1000)))" -u "${CHR[$g]}" line || return 1
		line=${line%$'\r'}
		if ((started == 0)); then
			[[ $line == "$id BEGIN" ]] && started=1
			continue
		fi
		if [[ $line =~ ^$id\ END\ (-?[0-9]+)$ ]]; then
			RC=${BASH_REMATCH[1]}
			return 0
		fi
		OUT+="$line"$'\n'
	done
}

PASS=0
FAIL=0
check() { # DESCRIPTION CONDITION-RESULT(0/1) [details]
	if [[ $2 -eq 0 ]]; then
		echo "PASS  $1"
		PASS=$((PASS + 1))
	else
		echo "FAIL  $1${3:+ -- $3}"
		FAIL=$((FAIL + 1))
	fi
}
ok_rc() { [[ $RC == "$1" ]] && echo 0 || echo 1; }
has() { grep -qE -- "$1" <<<"$OUT" && echo 0 || echo 1; }
indent() { sed 's/^/      | /' <<<"$1"; }

wait_marker() { # G TIMEOUT_S -> prints ms since start when the console shows VN-READY
	local g=$1 start=$2 limit=$(($(now_us) + $3 * 1000000))
	while (($(now_us) < limit)); do
		if grep -q '^VN-READY ' "$work/g$g.console" 2>/dev/null; then
			echo $((($(now_us) - start) / 1000))
			return 0
		fi
		sleep 0.01
	done
	return 1
}

stats() { # numbers... -> "median X ms, min Y, max Z (n=N)"
	local -a s
	mapfile -t s < <(printf '%s\n' "$@" | sort -n)
	local n=${#s[@]} med
	if ((n % 2)); then med=${s[n / 2]}; else med=$(((s[n / 2 - 1] + s[n / 2]) / 2)); fi
	echo "median $med ms, min ${s[0]} ms, max ${s[n - 1]} ms, spread $((s[n - 1] - s[0])) ms (n=$n)"
}

echo "selftest: image $img ($(stat -c %s "$img/vmlinuz") + $(stat -c %s "$img/initramfs.cpio.gz") bytes)"
echo "selftest: host load $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores; firmware: $BIOS; -append \"$APPEND\""

if [[ $ROUTING != only ]]; then
# --- 1. boot time -------------------------------------------------------------------------
marker_ms=()
chan_ms=()
cpu_used=()
for r in $(seq 1 "$RUNS"); do
	start=$(now_us)
	start_guest 1
	open_channel 1
	printf 'boot%s ready\n' "$r" >&"${CHW[1]}" # queued until the guest opens its port
	if m=$(wait_marker 1 "$start" 20); then
		marker_ms+=("$m")
		cpu_used+=("$(cpu_ms "${QPID[1]}")")
		if IFS= read -r -t 10 -u "${CHR[1]}" line && IFS= read -r -t 10 -u "${CHR[1]}" line; then
			chan_ms+=($((($(now_us) - start) / 1000)))
		fi
	else
		check "boot run $r reaches VN-READY within 20 s" 1 "$(tail -n 5 "$work/g1.console" 2>/dev/null)"
	fi
	stop_guest 1
done
if ((${#marker_ms[@]} > 0)); then
	echo "INFO  boot to VN-READY on ttyS0:      $(stats "${marker_ms[@]}")  runs: ${marker_ms[*]}"
	((${#chan_ms[@]} > 0)) && echo "INFO  boot to channel answering ready: $(stats "${chan_ms[@]}")"
	echo "INFO  QEMU CPU time until VN-READY:   $(stats "${cpu_used[@]}")  (load-independent)"
	med=$(printf '%s\n' "${marker_ms[@]}" | sort -n | sed -n "$(((${#marker_ms[@]} + 1) / 2))p")
	if [[ ${VN_SELFTEST_STRICT_BOOT:-0} == 1 ]]; then
		check "median boot time to VN-READY <= $BOOT_LIMIT ms" $((med > BOOT_LIMIT))
	elif ((med > BOOT_LIMIT)); then
		echo "WARN  median boot time $med ms > $BOOT_LIMIT ms (host load $(cut -d' ' -f1 /proc/loadavg); VN_SELFTEST_STRICT_BOOT=1 makes this a failure)"
	else
		echo "PASS  median boot time to VN-READY <= $BOOT_LIMIT ms"
	fi
fi

# --- 2. two guests: ready / show / ping ---------------------------------------------------
start_guest 1
start_guest 2
open_channel 1
open_channel 2
wait_marker 1 "$(now_us)" 30 >/dev/null || true
wait_marker 2 "$(now_us)" 30 >/dev/null || true
rss=$(awk '/VmRSS/ {print $2}' "/proc/${QPID[1]}/status" 2>/dev/null || echo '?')
echo "INFO  QEMU resident memory of a booted guest: ${rss} kB"

for g in 1 2; do
	req "$g" 10 ready || true
	check "g$g answers ready (name ${NAMES[g - 1]}, config ok)" \
		$(($(ok_rc 0) + $(has "^name ${NAMES[g - 1]}\$") + $(has '^config ok$'))) "rc=$RC $OUT"
done
req 1 15 show || true
check "g1 show: addresses, routes, forwarding" \
	$(($(ok_rc 0) + $(has 'inet 10\.254\.0\.0/31') + $(has 'inet6 fd76:6e::/127') +
		$(has '10\.254\.9\.0/24 via 10\.254\.0\.1') + $(has 'fd76:6e:9::/64 via fd76:6e::1') +
		$(has '^ipv4 1 ipv6 1$'))) "rc=$RC"
echo "      g1 show (excerpt):"
indent "$(sed -n '/^# addresses/,/^# config/p' <<<"$OUT" | grep -E 'inet|via|^ipv4|^# routes')"

req 1 20 ping 10.254.0.1 3 5 || true
check "g1 -> g2 ping IPv4 10.254.0.1" "$(ok_rc 0)" "rc=$RC $OUT"
indent "$(tail -n 2 <<<"$OUT")"
req 1 20 ping fd76:6e::1 3 5 || true
check "g1 -> g2 ping IPv6 fd76:6e::1 (/127)" "$(ok_rc 0)" "rc=$RC $OUT"
indent "$(tail -n 2 <<<"$OUT")"
req 2 20 ping fd76:6e:: 2 5 || true
check "g2 -> g1 ping IPv6 fd76:6e:: (/127 lower address)" "$(ok_rc 0)" "rc=$RC $OUT"
req 1 20 ping 10.254.9.1 1 2 || true
check "g1 ping of an address nobody has yet fails (rc != 0)" $(($(ok_rc 0) == 0)) "rc=$RC"
# probe (issue 15): many addresses in one round trip, answered in order; one that nobody has is lost (rc 1).
req 1 30 probe 2 3 10.254.0.1 fd76:6e::1 10.254.9.1 10.254.0.1 || true
check "g1 probe of 4 addresses: ok, ok, lost, ok in request order (rc 1)" \
	$(($(ok_rc 1) + $(has '^10\.254\.0\.1 ok [0-9.]+$') + $(has '^fd76:6e::1 ok [0-9.]+$') + $(has '^10\.254\.9\.1 lost$') +
		$([[ $(cut -d' ' -f1 <<<"$OUT" | xargs) == "10.254.0.1 fd76:6e::1 10.254.9.1 10.254.0.1" ]] && echo 0 || echo 1))) "rc=$RC $OUT"
req 1 10 probe 2 3 10.254.0.1/31 || true
check "probe with a prefix is bad usage (rc 2)" "$(ok_rc 2)" "rc=$RC $OUT"
# The prober (vn-probe, one process per request): every address at once, so 64 addresses that are
# routed (via g2) but answer nothing end after one deadline (busybox pings, 16 at a time, took 4
# deadlines: 8 s); answered in order. Addresses without a route are lost at once.
lost64=$(for i in $(seq 1 32); do printf '10.254.9.%d fd76:6e:9::%x ' $((100 + i)) $((100 + i)); done)
t0=$(now_us)
# shellcheck disable=SC2086 # one word per address
req 1 30 probe 1 2 $lost64 || true
ms=$((($(now_us) - t0) / 1000))
check "g1 probe of 64 routed, silent addresses (IPv4 + IPv6): all lost, in order, rc 1, after the 2 s deadline, within 3.5 s ($ms ms)" \
	$(($(ok_rc 1) + $(( $(grep -c ' lost$' <<<"$OUT") != 64 )) + $((ms < 2000 || ms > 3500)) +
		$([[ $(cut -d' ' -f1 <<<"$OUT" | xargs) == "$(xargs <<<"$lost64")" ]] && echo 0 || echo 1))) "rc=$RC ms=$ms"
t0=$(now_us)
req 1 30 probe 1 5 198.51.100.1 2001:db8::1 10.254.0.1 || true
ms=$((($(now_us) - t0) / 1000))
check "g1 probe of addresses without a route: lost at once, not after the 5 s deadline ($ms ms)" \
	$(($(ok_rc 1) + $(has '^198\.51\.100\.1 lost$') + $(has '^2001:db8::1 lost$') + $(has '^10\.254\.0\.1 ok ') + $((ms > 3000)))) "rc=$RC ms=$ms $OUT"
t0=$(now_us)
req 1 30 probe 3 5 fd76:6e::1 10.254.0.1 fd76:6e::1 || true
ms=$((($(now_us) - t0) / 1000))
check "g1 probe count 3 of reachable IPv6/IPv4 addresses ends when all replies are in, long before the deadline ($ms ms)" \
	$(($(ok_rc 0) + $(has '^fd76:6e::1 ok [0-9]+\.[0-9]{3}$') + $(has '^10\.254\.0\.1 ok [0-9]+\.[0-9]{3}$') +
		$(( $(grep -c ' ok ' <<<"$OUT") != 3 )) + $((ms > 3000)))) "rc=$RC ms=$ms $OUT"
for bad in "probe 0 2 10.254.0.1" "probe 1 31 10.254.0.1" "probe 1 2 10.254.0" "probe 1 2 fd76:6e::1::2" "probe 1 2" \
	"probe 01 2 10.254.0.1" "probe 1 2 10.254.0.1;reboot" "probe 1 2 $lost64 10.254.0.1"; do
	# shellcheck disable=SC2086 # the request's words
	req 1 10 $bad || true
	check "bad probe request refused, nothing sent (rc 2): ${bad:0:40}" "$(ok_rc 2)" "rc=$RC $OUT"
done

# --- 3. run-time reconfiguration ----------------------------------------------------------
BODY=$G2_BAD req 2 30 config || true
check "invalid config (unknown MAC) is rejected with rc 2" "$(ok_rc 2)" "rc=$RC $OUT"
req 1 20 ping 10.254.0.1 1 3 || true
check "g2 still reachable after the rejected config" "$(ok_rc 0)" "rc=$RC"
# Routes (vn-route in the project's image: all from one process): each is added or reported on its
# own line, the others still go in, rc 1, "routes <n>" counts the planned ones.
G2_ROUTES="name ${NAMES[1]}
if ${MACS[1]} 10.254.0.1/31 fd76:6e::1/127
route 10.254.20.0/24 via 10.254.0.0
route 10.254.21.0/24 via 10.254.77.1
route fd76:6e:20::/64 via fd76:6e::
route 10.254.20.0/24 via 10.254.0.0
route default6 via fd76:6e::"
BODY=$G2_ROUTES req 2 30 config || true
check "config whose routes partly fail: rc 1, one error line per failed route, the rest added, routes 5" \
	$(($(ok_rc 1) + $(has '^error: cannot add route 10\.254\.21\.0/24 via 10\.254\.77\.1$') +
		$(has '^error: cannot add route 10\.254\.20\.0/24 via 10\.254\.0\.0$') + $(has '^routes 5$') +
		$(( $(grep -c '^error: cannot add route' <<<"$OUT") != 2 )))) "rc=$RC $OUT"
req 2 15 show || true
check "g2 show: the routes that could be added are there (IPv4, IPv6, default6)" \
	$(($(ok_rc 0) + $(has '10\.254\.20\.0/24 via 10\.254\.0\.0') + $(has 'fd76:6e:20::/64 via fd76:6e::') +
		$(has 'default via fd76:6e::') + $(( $(sed -n '/^# routes ipv4/,/^# forwarding/p' <<<"$OUT" | grep -c '10\.254\.21\.0/24') != 0 )))) "rc=$RC $OUT"
BODY=$G2_NEW req 2 30 config || true
check "new config applied on g2 (rc 0)" "$(ok_rc 0)" "rc=$RC $OUT"
indent "$OUT"
req 1 20 ping 10.254.9.1 3 5 || true
check "g1 -> g2 new IPv4 address via static route" "$(ok_rc 0)" "rc=$RC $OUT"
req 1 20 ping fd76:6e:9::1 3 5 || true
check "g1 -> g2 new IPv6 address via static route" "$(ok_rc 0)" "rc=$RC $OUT"

# --- 4. throughput (busybox nc + dd, measured on the receiving side) -----------------------
for target in 10.254.0.1 fd76:6e::1; do
	port=5001
	req 2 10 nc-listen $port 120 || true
	check "g2 nc-listen $port" "$(ok_rc 0)" "rc=$RC $OUT"
	req 1 120 nc-send "$target" $port "$BYTES" 100 || true
	check "g1 nc-send $BYTES bytes to $target" "$(ok_rc 0)" "rc=$RC $OUT"
	req 2 30 nc-result $port 20 || true
	bps=$(sed -n 's/^bits_per_second //p' <<<"$OUT")
	got=$(sed -n 's/^bytes //p' <<<"$OUT")
	check "g2 received all $BYTES bytes from $target" $(([[ $got == "$BYTES" ]] && echo 0) || echo 1) "$OUT"
	[[ -n $bps ]] && echo "INFO  throughput g1 -> g2 to $target: $((bps / 1000000)).$(((bps / 10000) % 100)) Mbit/s ($got bytes, $(sed -n 's/^elapsed_ms //p' <<<"$OUT") ms)"
done

# --- 5. bounded commands, unknown commands ------------------------------------------------
req 1 10 frobnicate || true
check "unknown command answers rc 127" "$(ok_rc 127)" "rc=$RC"
req 1 10 ping not-an-address || true
check "bad arguments answer rc 2" "$(ok_rc 2)" "rc=$RC"
req 1 10 nc-result 5999 1 || true
check "waiting command is bounded (nc-result with 1 s wait -> rc 124)" "$(ok_rc 124)" "rc=$RC"

# --- 5b. the idle agent sleeps until a host connects (vn-portwait) ---------------------------
# With no host on the port the agent used to poll it, every 0.5 s from 3 s after a disconnect on, so a client that
# connected then waited 0-500 ms before its request was read. vn-portwait wakes it when the host connects. socat
# closes the connection up to 2 s (-t 2) after close_channel; 6 s later an old image polls every 0.5 s. Median of 5
# pickups (connect -> `ready` answered) <= 120 ms: an image that polls passes that by chance in about 3 % of runs.
# g2's socat inherited g1's FIFO descriptors (bash's {var} descriptors are not close-on-exec), so it keeps g1's socat
# (and connection) alive after close_channel 1: both channels are closed first, and g2's reopened afterwards.
close_channel 2
lat=()
for i in 1 2 3 4 5; do
	close_channel 1
	sleep 6
	t0=$(now_us)
	open_channel 1
	req 1 10 ready || true
	lat+=($((($(now_us) - t0) / 1000)))
done
open_channel 2
med=$(printf '%s\n' "${lat[@]}" | sort -n | sed -n 3p)
check "g1: a client connecting after 6 s without one is answered at once (median $med ms <= 120 ms of ${lat[*]} ms)" $((med > 120))

# --- 6. shutdown: channel poweroff (g1), ACPI power button via QMP (g2) -------------------
req 1 10 poweroff || true
check "g1 poweroff acknowledged" "$(ok_rc 0)" "rc=$RC"
(
	printf '{"execute":"qmp_capabilities"}\n{"execute":"system_powerdown"}\n'
	sleep 1
) | socat -t 2 - "UNIX-CONNECT:$work/g2.qmp" >/dev/null 2>&1 || true
for g in 1 2; do
	n=0
	while kill -0 "${QPID[$g]}" 2>/dev/null && ((n++ < 100)); do sleep 0.1; done
	gone=1
	kill -0 "${QPID[$g]}" 2>/dev/null || gone=0
	how=$([[ $g == 1 ]] && echo "channel poweroff" || echo "QMP system_powerdown")
	check "g$g QEMU exits within 10 s after $how" "$gone"
done

fi # ROUTING != only

# --- 7. dynamic routing (guest contract 2): g1 -(vnimgrt1)- g2 -(vnimgrt2)- g3, OSPF + BFD -----------
if [[ $ROUTING != 0 ]]; then
	# link 1: 10.254.12.0/31, fd76:6e:12::/127 (r1 lower); link 2: 10.254.23.0/31, fd76:6e:23::/127 (r2 lower)
	R1M=02:76:6e:01:01:01 R2M1=02:76:6e:01:02:01 R2M2=02:76:6e:01:02:02 R3M=02:76:6e:01:03:02
	# third link (r1-r3: 10.254.13.0/31, fd76:6e:13::/127), unconfigured (down) until the ECMP step
	R1M3=02:76:6e:01:01:03 R3M3=02:76:6e:01:03:03
	RKEY=5f3c9a0e7d21b8c46a9f0e3d5c7b1a2948e6d0c3b5a7f9e1d3c5b7a9f0e2d4c6
	RKEY_OTHER=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
	rline() { echo "routing ospf router-id 10.255.0.$1 hello 1 dead 4 bfd 100 5 key ${2:-$RKEY}"; }
	rcfg1() { printf 'name vnr1\nif %s 10.254.12.0/31 fd76:6e:12::/127\n' "$R1M"; }
	rcfg2() { printf 'name vnr2\nif %s 10.254.12.1/31 fd76:6e:12::1/127\nif %s 10.254.23.0/31 fd76:6e:23::/127\n' "$R2M1" "$R2M2"; }
	rcfg3() { printf 'name vnr3\nif %s 10.254.23.1/31 fd76:6e:23::1/127\n' "$R3M"; }
	rcfg1t() { rcfg1; printf 'if %s 10.254.13.0/31 fd76:6e:13::/127\n' "$R1M3"; }
	rcfg3t() { rcfg3; printf 'if %s 10.254.13.1/31 fd76:6e:13::1/127\n' "$R3M3"; }
	# EUI-64 link-local address of a MAC (the guests' default address generation)
	lladdr() {
		local -a b
		IFS=: read -r -a b <<<"$1"
		printf 'fe80::%x:%x:%x:%x\n' $(((0x${b[0]} ^ 2) << 8 | 0x${b[1]})) $((0x${b[2]} << 8 | 0xff)) \
			$((0xfe << 8 | 0x${b[3]})) $((0x${b[4]} << 8 | 0x${b[5]}))
	}
	# start_rguest G "TAP=MAC ..." : like start_guest, with several adapters; configuration $work/gG.cfg
	start_rguest() {
		local g=$1 n=0 nic args=()
		for nic in $2; do
			args+=(-netdev "tap,id=n$n,ifname=${nic%%=*},script=no,downscript=no"
				-device "virtio-net-pci,netdev=n$n,mac=${nic#*=},romfile=")
			n=$((n + 1))
		done
		rm -f "$work/g$g.console" "$work/g$g.cmd"
		qemu-system-x86_64 -name "vnimgtest-g$g" -accel tcg -m 128 -smp 1 \
			-nodefaults -no-user-config -display none -no-reboot "${BIOS_ARGS[@]}" \
			-kernel "$img/vmlinuz" -initrd "$img/initramfs.cpio.gz" -append "$APPEND" \
			-serial "file:$work/g$g.console" -fw_cfg "name=opt/vn/config,file=$work/g$g.cfg" "${args[@]}" \
			-device virtio-serial -chardev "socket,id=c0,path=$work/g$g.cmd,server=on,wait=off" \
			-device virtserialport,chardev=c0,name=vn.cmd >"$work/g$g.qemu.log" 2>&1 &
		QPID[$g]=$!
		QPIDS+=("$!")
	}
	# routing_full G N: the guest's `routing` shows at least N neighbours full and N BFD sessions up
	routing_full() {
		req "$1" 15 routing || return 1
		(($(grep -c ' full$' <<<"$OUT") >= $2 && $(grep -c '^bfd .* up$' <<<"$OUT") >= $2))
	}
	# wait_until SECONDS CMD...: repeats CMD until it succeeds; prints the elapsed ms; rc 1 on time-out
	wait_until() {
		local t=$1 start=$(now_us)
		shift
		while (($(now_us) - start < t * 1000000)); do
			if "$@"; then
				echo $((($(now_us) - start) / 1000))
				return 0
			fi
			sleep 0.2
		done
		return 1
	}

	# Booted with the static part only: the routing line comes with a re-apply (BIRD starts then).
	rcfg1 >"$work/gr1.cfg"
	rcfg2 >"$work/gr2.cfg"
	rcfg3 >"$work/gr3.cfg"
	start_rguest r1 "vnimgrt1a=$R1M vnimgrt3a=$R1M3"
	start_rguest r2 "vnimgrt1b=$R2M1 vnimgrt2a=$R2M2"
	start_rguest r3 "vnimgrt2b=$R3M vnimgrt3b=$R3M3"
	for g in r1 r2 r3; do open_channel "$g"; done
	for g in r1 r2 r3; do wait_marker "$g" "$(now_us)" 60 >/dev/null || true; done

	req r1 10 ready || true
	check "r1 ready says contract 2" $(($(ok_rc 0) + $(has '^contract 2$'))) "rc=$RC $OUT"
	req r1 15 routing || true
	check "r1 without a routing line: routing static (BIRD not started)" $(($(ok_rc 0) + $(has '^routing static$'))) "rc=$RC $OUT"
	BODY="$(rcfg1)
routing ospf router-id 10.255.0.1 hello 1 dead 4 bfd 5 5" req r1 30 config || true
	check "routing line with a bad BFD interval is rejected with rc 2" "$(ok_rc 2)" "rc=$RC $OUT"
	BODY="$(rcfg1)
routing ospf router-id 10.255.0.1 hello 1 dead 4 key abc" req r1 30 config || true
	check "routing line with a short key is rejected with rc 2" "$(ok_rc 2)" "rc=$RC $OUT"
	BODY="$(rcfg1)
$(rline 1)
$(rline 1)" req r1 30 config || true
	check "two routing lines are rejected with rc 2" "$(ok_rc 2)" "rc=$RC $OUT"
	req r1 15 routing || true
	check "r1 after the rejected texts: still routing static" "$(has '^routing static$')" "$OUT"

	t_apply=$(now_us)
	apply_ms=()
	for g in 1 2 3; do
		t0=$(now_us)
		BODY="$(rcfg$g)
$(rline $g)" req r$g 30 config || true
		apply_ms+=($((($(now_us) - t0) / 1000)))
		check "r$g: configuration with routing ospf applied (rc 0)" $(($(ok_rc 0) + $(has '^routing started$'))) "rc=$RC $OUT"
	done
	echo "INFO  first apply with a routing line (bounces the links, writes bird.conf, starts BIRD; unpacks it first with VN_BIRD=lazy): ${apply_ms[*]} ms"
	if ms=$(wait_until 60 routing_full r2 4); then
		total=$((($(now_us) - t_apply) / 1000))
		check "r2: OSPFv2 + OSPFv3 neighbours full on both links, BFD up" 0
		echo "INFO  config apply -> r2 adjacencies full + BFD up: $total ms (from the first of the three applies; polled every ~0.2 s + a routing round trip)"
	else
		check "r2: OSPFv2 + OSPFv3 neighbours full on both links, BFD up" 1
	fi
	req r2 15 routing || true
	indent "$OUT"
	check "r2 routing: neighbours by adapter MAC and router id" \
		$(($(has "^neighbor $R2M1 10\.255\.0\.1 full$") + $(has "^neighbor $R2M2 10\.255\.0\.3 full$") +
			$(has '^protocol ospf4 ospf2 up$') + $(has '^protocol ospf6 ospf3 up$') + $(has '^protocol bfd1 bfd up$'))) "$OUT"
	check "r2 routing: BFD sessions by adapter MAC and peer address" \
		$(($(has "^bfd $R2M1 10\.254\.12\.0 up$") + $(has "^bfd $R2M2 10\.254\.23\.1 up$") +
			$(has "^bfd $R2M1 $(lladdr "$R1M") up$") + $(has "^bfd $R2M2 $(lladdr "$R3M") up$"))) "$OUT"
	check "r2 routing: change counters (neighbour changes > 0, no BFD session down)" \
		$(($(has '^changes neighbor [1-9][0-9]* bfd-down 0$'))) "$OUT"
	# OSPF's dispatcher runs every 100 ms (bird-ospf.patch + `tick 100 ms` in bird.conf):
	# /init writes what `birdcl show ospf` says on the console at the first `routing` after BIRD's start.
	tick_lines=$(tr -d '\r' <"$work/gr2.console" 2>/dev/null | grep -a '^vn: bird ospf[46]: RT scheduler tick: ' || true)
	tick_miss=0
	for p in ospf4 ospf6; do grep -q "^vn: bird $p: RT scheduler tick: 0\.100 s\$" <<<"$tick_lines" || tick_miss=1; done
	check "r2: OSPF dispatcher period 100 ms in effect (birdcl show ospf: RT scheduler tick 0.100 s, ospf4 and ospf6)" \
		$tick_miss "console: ${tick_lines:-nothing}"
	# r1 learns r2-r3's prefixes (wait for the SPF run and the kernel export)
	routes_learned() {
		req r1 15 routes || return 1
		grep -q "^route 10\.254\.23\.0/31 10\.254\.12\.1 $R1M ospf 20$" <<<"$OUT" &&
			grep -q "^route fd76:6e:23::/127 $(lladdr "$R2M1") $R1M ospf 20$" <<<"$OUT"
	}
	wait_until 20 routes_learned >/dev/null || true
	# r3 needs the way back before the pings
	r3_learned() {
		req r3 15 routes || return 1
		grep -q "^route 10\.254\.12\.0/31 10\.254\.23\.0 $R3M ospf 20$" <<<"$OUT" &&
			grep -q "^route fd76:6e:12::/127 $(lladdr "$R2M2") $R3M ospf 20$" <<<"$OUT"
	}
	wait_until 20 r3_learned >/dev/null || true
	check "r3 routes: r1's prefixes via r2 (IPv4 and IPv6)" $(($(ok_rc 0) + $(has "^route 10\.254\.12\.0/31 10\.254\.23\.0 $R3M ospf 20$") +
		$(has "^route fd76:6e:12::/127 $(lladdr "$R2M2") $R3M ospf 20$"))) "$OUT"
	req r1 15 routes || true
	indent "$OUT"
	check "r1 routes: remote prefixes via r2 with proto ospf, cost 20, r1's adapter MAC (IPv4 and IPv6)" \
		$(($(ok_rc 0) + $(has "^route 10\.254\.23\.0/31 10\.254\.12\.1 $R1M ospf 20$") +
			$(has "^route fd76:6e:23::/127 $(lladdr "$R2M1") $R1M ospf 20$"))) "$OUT"
	check "r1 routes: connected prefixes (no link-local, no multicast)" \
		$(($(has "^route 10\.254\.12\.0/31 - $R1M connected 0$") + $(has "^route fd76:6e:12::/127 - $R1M connected 256$") +
			$((1 - $(has '^route (fe[89ab]|ff)'))))) "$OUT"
	req r1 20 ping 10.254.23.1 3 5 || true
	check "r1 -> r3 ping IPv4 across two hops (OSPF routes)" "$(ok_rc 0)" "rc=$RC $(tail -n 2 <<<"$OUT")"
	if [[ $RC != 0 ]]; then
		for g in r2 r3; do
			req "$g" 15 routes || true
			echo "      $g routes:"
			indent "$OUT"
			req "$g" 15 show || true
			indent "$(grep -E 'inet |via|metric|^ipv4' <<<"$OUT")"
		done
	fi
	req r1 20 ping fd76:6e:23::1 3 5 || true
	check "r1 -> r3 ping IPv6 across two hops (OSPFv3 routes)" "$(ok_rc 0)" "rc=$RC $(tail -n 2 <<<"$OUT")"

	# ECMP: the third link makes a triangle; r1 reaches the r2-r3 link through r2 and through r3 at cost 20.
	for g in 1 3; do
		BODY="$(rcfg${g}t)
$(rline $g)" req r$g 30 config || true
		check "r$g: third adapter added, routing reconfigured (rc 0)" $(($(ok_rc 0) + $(has '^routing reconfigured$'))) "rc=$RC $OUT"
	done
	ecmp_routes() {
		req r1 15 routes || return 1
		grep -q "^route 10\.254\.23\.0/31 10\.254\.12\.1 $R1M ospf 20$" <<<"$OUT" &&
			grep -q "^route 10\.254\.23\.0/31 10\.254\.13\.1 $R1M3 ospf 20$" <<<"$OUT" &&
			grep -q "^route fd76:6e:23::/127 $(lladdr "$R2M1") $R1M ospf 20$" <<<"$OUT" &&
			grep -q "^route fd76:6e:23::/127 $(lladdr "$R3M3") $R1M3 ospf 20$" <<<"$OUT"
	}
	if ms=$(wait_until 60 ecmp_routes); then
		check "r1 routes: ECMP - the r2-r3 prefixes via r2 and via r3 (IPv4 and IPv6), one line per next hop" 0
		echo "INFO  triangle closed -> r1 has both equal-cost next hops: $ms ms after the second apply"
	else
		req r1 15 routes || true
		check "r1 routes: ECMP - the r2-r3 prefixes via r2 and via r3 (IPv4 and IPv6), one line per next hop" 1 "$OUT"
	fi
	req r1 15 routes || true
	indent "$(grep ' ospf ' <<<"$OUT")"
	req r1 20 ping 10.254.23.1 3 5 || true
	check "r1 -> r3 ping IPv4 with ECMP routes" "$(ok_rc 0)" "rc=$RC $(tail -n 2 <<<"$OUT")"
	req r1 20 ping fd76:6e:23::1 3 5 || true
	check "r1 -> r3 ping IPv6 with ECMP routes" "$(ok_rc 0)" "rc=$RC $(tail -n 2 <<<"$OUT")"
	wait_until 60 routing_full r2 4 >/dev/null || true

	# BFD: r3's link to r2 goes silent (its tap down): r2's BFD session goes down long before the dead interval.
	req r2 15 routing || true
	downs0=$(sed -n 's/^changes neighbor [0-9]* bfd-down \([0-9]*\)$/\1/p' <<<"$OUT")
	ip link set dev vnimgrt2b down
	bfd_down() {
		req r2 15 routing && [[ $(sed -n 's/^changes neighbor [0-9]* bfd-down \([0-9]*\)$/\1/p' <<<"$OUT") -gt ${downs0:-0} ]] &&
			! grep -q "^neighbor $R2M2 .* full$" <<<"$OUT"
	}
	if ms=$(wait_until 20 bfd_down); then
		check "r2: link to r3 cut -> BFD down counted, r3 no longer a full neighbour" 0
		echo "INFO  link cut -> r2 reports BFD down and the neighbour gone: $ms ms (polling; BFD 100 ms x 5, dead 4 s)"
	else
		req r2 15 routing || true
		check "r2: link to r3 cut -> BFD down counted, r3 no longer a full neighbour" 1 "$OUT"
	fi
	ip link set dev vnimgrt2b up
	if ms=$(wait_until 60 routing_full r2 4); then
		check "r2: link restored -> adjacencies full again" 0
		echo "INFO  link restored -> r2 adjacencies full + BFD up: $ms ms"
	else
		req r2 15 routing || true
		check "r2: link restored -> adjacencies full again" 1 "$OUT"
	fi

	# A different key: r3 never becomes a neighbour again.
	t0=$(now_us)
	BODY="$(rcfg3)
$(rline 3 $RKEY_OTHER)" req r3 30 config || true
	echo "INFO  re-apply with a changed routing line (birdcl configure): $((($(now_us) - t0) / 1000)) ms"
	check "r3: configuration with another key applied (rc 0)" $(($(ok_rc 0) + $(has '^routing reconfigured$'))) "rc=$RC $OUT"
	never=0
	for _ in 1 2 3 4 5 6 7 8; do
		req r3 15 routing || true
		grep -q '^neighbor ' <<<"$OUT" && never=1
		sleep 1
	done
	check "r3 with another key has no OSPF neighbour in 8 s (sampled every ~1 s)" "$never" "$OUT"
	req r2 15 routing || true
	check "r2 has no neighbour 10.255.0.3 (r3, other key) any more" "$(($(has '^neighbor [^ ]* 10\.255\.0\.3 ') == 0))" "$OUT"

	# Without the routing line BIRD stops and its routes go.
	BODY="$(rcfg1)" req r1 30 config || true
	check "r1: configuration without routing applied (routing stopped)" $(($(ok_rc 0) + $(has '^routing stopped$'))) "rc=$RC $OUT"
	req r1 15 routing || true
	check "r1: routing static again" "$(has '^routing static$')" "$OUT"
	req r1 15 routes || true
	check "r1: no ospf routes left" "$(($(has ' ospf ') == 0))" "$OUT"

	for g in r1 r2 r3; do
		req "$g" 10 poweroff || true
		n=0
		while kill -0 "${QPID[$g]}" 2>/dev/null && ((n++ < 100)); do sleep 0.1; done
		stop_guest "$g"
	done

	# The routing line in the boot configuration: BIRD starts at boot.
	{ rcfg1; rline 1; } >"$work/gr1.cfg"
	start=$(now_us)
	start_rguest r1 "vnimgrt1a=$R1M"
	open_channel r1
	if m=$(wait_marker r1 "$start" 60); then
		echo "INFO  boot with a routing line to VN-READY: $m ms (one guest; BIRD starts in the background)"
	fi
	req r1 10 ready || true
	check "r1 booted with a routing line: config ok" $(($(ok_rc 0) + $(has '^config ok$'))) "rc=$RC $OUT"
	bird_up() { req r1 15 routing && grep -q '^protocol ospf4 ospf2 up$' <<<"$OUT" && grep -q '^protocol ospf6 ospf3 up$' <<<"$OUT"; }
	if ms=$(wait_until 30 bird_up); then
		check "r1 booted with a routing line: OSPFv2 and OSPFv3 up" 0
	else
		req r1 15 routing || true
		check "r1 booted with a routing line: OSPFv2 and OSPFv3 up" 1 "$OUT"
	fi
	req r1 10 poweroff || true
	n=0
	while kill -0 "${QPID[r1]}" 2>/dev/null && ((n++ < 100)); do sleep 0.1; done
	stop_guest r1

	# An image without BIRD (build.sh with VN_BIRD=0) rejects a routing line.
	if [[ -n ${VN_SELFTEST_NOBIRD_IMAGE:-} ]]; then
		img_saved=$img
		img=$VN_SELFTEST_NOBIRD_IMAGE
		rcfg1 >"$work/gr1.cfg"
		start_rguest r1 "vnimgrt1a=$R1M"
		open_channel r1
		wait_marker r1 "$(now_us)" 60 >/dev/null || true
		BODY="$(rcfg1)
$(rline 1)" req r1 30 config || true
		check "an image without BIRD rejects a routing line with rc 2" $(($(ok_rc 2) + $(has 'has no BIRD'))) "rc=$RC $OUT"
		req r1 15 routing || true
		check "an image without BIRD: routing static" "$(has '^routing static$')" "$OUT"
		req r1 10 poweroff || true
		n=0
		while kill -0 "${QPID[r1]}" 2>/dev/null && ((n++ < 100)); do sleep 0.1; done
		stop_guest r1
		img=$img_saved
	fi
fi

echo "selftest: $PASS passed, $FAIL failed"
if ((FAIL > 0)); then
	for g in 1 2 r1 r2 r3; do
		[[ -e $work/g$g.console ]] || continue
		echo "--- g$g console (tail)"
		tail -n 20 "$work/g$g.console" 2>/dev/null || true
	done
	exit 1
fi
exit 0
