#!/usr/bin/env bash
# A/B boot-time comparison of router image directories (e.g. two builds of images/router/build.sh
# with different settings). Boots each image ROUNDS times, interleaved (A B C A B C ...) so that
# changing host load affects all of them alike, and reports per image the median and range of
#   wall: QEMU start -> "VN-READY" on ttyS0 (ms), and
#   cpu:  QEMU's CPU time (user+system) until then (ms) - hardly depends on other host load.
#
# Usage: sudo images/router/boot-ab.sh ROUNDS IMAGE_DIR...      (needs no bridge or tap: user-mode
#        networking; one virtio-net NIC, the vn.cmd port and a fw_cfg configuration like the backend)
# Env:   VN_AB_APPEND   extra kernel command-line words (e.g. vn.trace=1)
#        VN_AB_SHOW=1   print each guest's console
set -euo pipefail

(($# >= 2)) || { echo "usage: $0 ROUNDS IMAGE_DIR..." >&2; exit 2; }
rounds=$1
shift
for d in "$@"; do
	[[ -r $d/vmlinuz && -r $d/initramfs.cpio.gz ]] || { echo "boot-ab: $d: no vmlinuz/initramfs.cpio.gz" >&2; exit 2; }
done
bios=/usr/share/qemu/qboot.rom
bios_args=()
[[ -r $bios ]] && bios_args=(-bios "$bios")
work=$(mktemp -d /tmp/vnbootab.XXXXXX)
qpid=
trap '[[ -n $qpid ]] && kill "$qpid" 2>/dev/null; rm -rf "$work"' EXIT
printf 'name ab\nif 52:54:00:00:00:01 10.0.0.0/31 fd00::/127\n' >"$work/cfg"
hz=$(getconf CLK_TCK)
now_us() { local t=$EPOCHREALTIME; echo $((10#${t%.*} * 1000000 + 10#${t#*.})); }
declare -A wall=() cpu=()

for r in $(seq 1 "$rounds"); do
	for d in "$@"; do
		rm -f "$work/console" "$work/cmd"
		start=$(now_us)
		qemu-system-x86_64 -accel tcg -m 128 -smp 1 -nodefaults -no-user-config -display none -no-reboot \
			"${bios_args[@]}" -kernel "$d/vmlinuz" -initrd "$d/initramfs.cpio.gz" \
			-append "console=ttyS0 quiet panic=-1 cryptomgr.notests nokaslr no_timer_check ${VN_AB_APPEND:-}" \
			-serial "file:$work/console" -fw_cfg "name=opt/vn/config,file=$work/cfg" \
			-netdev user,id=n0 -device virtio-net-pci,netdev=n0,mac=52:54:00:00:00:01,romfile= \
			-device virtio-serial -chardev "socket,id=c0,path=$work/cmd,server=on,wait=off" \
			-device virtserialport,chardev=c0,name=vn.cmd 2>/dev/null &
		qpid=$!
		ok=0
		for _ in $(seq 1 2000); do
			grep -q '^VN-READY' "$work/console" 2>/dev/null && { ok=1; break; }
			sleep 0.01
		done
		ms=$((($(now_us) - start) / 1000))
		c=$(awk -v hz="$hz" '{ print int(($14 + $15) * 1000 / hz) }' "/proc/$qpid/stat" 2>/dev/null || echo 0)
		[[ ${VN_AB_SHOW:-0} == 1 ]] && cat "$work/console"
		kill "$qpid" 2>/dev/null || true
		wait "$qpid" 2>/dev/null || true
		qpid=
		if ((ok)); then
			wall[$d]+=" $ms"
			cpu[$d]+=" $c"
		else
			echo "boot-ab: $d did not reach VN-READY within 20 s:" >&2
			tail -n 5 "$work/console" >&2 || true
		fi
	done
done

med() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { if (NR) printf "%s (%s-%s)", a[int((NR + 1) / 2)], a[1], a[NR]; else printf "-" }'; }
for d in "$@"; do
	# shellcheck disable=SC2086
	printf '%s: %s bytes; wall median %s ms; cpu median %s ms; n=%s\n' "$d" \
		"$(($(stat -c %s "$d/vmlinuz") + $(stat -c %s "$d/initramfs.cpio.gz")))" \
		"$(med ${wall[$d]:-})" "$(med ${cpu[$d]:-})" "$(wc -w <<<"${wall[$d]:-}")"
done
echo "host load $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
