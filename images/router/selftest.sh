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
#
# Creates only: bridge vnimgtest0, taps vnimgtap1/vnimgtap2 (all with ifalias $TAG), a work
# directory under /tmp, QEMU processes it started. The trap removes all of it, also on failure.
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
TAG=virtualnetworks-imgtest
MACS=(02:76:6e:00:00:01 02:76:6e:00:00:02)
NAMES=(vnt1 vnt2)
APPEND="console=ttyS0 quiet panic=-1 cryptomgr.notests nokaslr"
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
	for l in "${TAPS[@]}" "$BR"; do
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
for l in "$BR" "${TAPS[@]}"; do
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

# --- 3. run-time reconfiguration ----------------------------------------------------------
BODY=$G2_BAD req 2 30 config || true
check "invalid config (unknown MAC) is rejected with rc 2" "$(ok_rc 2)" "rc=$RC $OUT"
req 1 20 ping 10.254.0.1 1 3 || true
check "g2 still reachable after the rejected config" "$(ok_rc 0)" "rc=$RC"
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

echo "selftest: $PASS passed, $FAIL failed"
if ((FAIL > 0)); then
	for g in 1 2; do
		echo "--- g$g console (tail)"
		tail -n 20 "$work/g$g.console" 2>/dev/null || true
	done
	exit 1
fi
exit 0
