#!/usr/bin/env bash
# Self-test of the Hyper-V router image (router.vhdx) under QEMU (TCG) with Debian's OVMF:
#   1. `qemu-img check` passes and `qemu-img info` says vhdx.
#   2. Two VMs boot the VHDX (through per-VM qcow2 overlays, as Hyper-V uses differencing disks) with
#      Secure Boot ENFORCED: q35 + SMM, OVMF_CODE_4M.secboot.fd with the Microsoft keys of
#      OVMF_VARS_4M.ms.fd (the equivalent of Hyper-V's "Microsoft UEFI Certificate Authority"
#      template): shim -> GRUB -> kernel -> /init, to the agent's "VN-READY <name>" line, and the
#      kernel reports "Secure boot enabled".
#   3. Each VM gets its configuration as a KVP pool-0 file in hv_kvp_daemon's format (records of a
#      512-byte key and a 2048-byte value; written here independently, with Python's struct), in the
#      items the Hyper-V backend writes (vn.config.<i> chunks of <= 1000 characters, vn.config.count,
#      vn.config.sha256; docs/hyperv-backend.md section 4). TEST ONLY transport: the fw_cfg file
#      opt/vn/test/kvp_pool_0, which the agent copies to /var/lib/hyperv/.kvp_pool_0 (Hyper-V has no
#      fw_cfg). Both configure their addresses (the VN-READY name comes from the KVP configuration).
#   4. Probes: vm1's pool 0 holds vn.probe.neg = "ping <vm2> count=1 deadline=2" while vm2 is not
#      running (answer code != 0); vm2's holds vn.probe.pos = "ping <vm1> ..." (answer code 0 with
#      rtt_ms). The answers are read from the guest's pool-1 file (/var/lib/hyperv/.kvp_pool_1),
#      which the agent mirrors to the console in test mode only, and parsed in the daemon's format.
#   5. The two VMs ping each other (IPv4 and IPv6, both directions) over the command channel.
#   6. With Secure Boot on, a copy of the disk whose kernel has one byte changed does not boot: GRUB
#      reports "bad shim signature" (the chain really verifies the kernel).
#
# Usage: sudo images/router/selftest-vhdx.sh [VHDX]   (default <repo>/out/images/router.vhdx;
#        built with build-vhdx.sh first when missing)
# Env:   VN_SELFTEST_KEEP=1       keep the work directory (console logs)
#        VN_SELFTEST_BOOT_TIMEOUT seconds to wait for each VN-READY (default 300: TCG, loaded hosts)
#        VN_SELFTEST_MEMORY       MB per VM (default 384: the least that boots; with 256 and less Debian's
#                                 signed GRUB cannot allocate the kernel's 63 MB init_size under OVMF)
#        VN_SELFTEST_SECUREBOOT=0 boot without Secure Boot (OVMF_CODE_4M.fd; for diagnosis only)
# Creates only a work directory under /tmp and the QEMU processes it starts (no bridges or taps:
# the two VMs are linked by a QEMU datagram socket pair); the trap removes them, also on failure.
# Exit status: 0 all checks passed, 1 a check failed, 2 the test could not run.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
vhdx=${1:-$repo/out/images/router.vhdx}
BOOT_TIMEOUT=${VN_SELFTEST_BOOT_TIMEOUT:-300}
SECUREBOOT=${VN_SELFTEST_SECUREBOOT:-1}
MEMORY=${VN_SELFTEST_MEMORY:-384}
OVMF_CODE=/usr/share/OVMF/OVMF_CODE_4M.secboot.fd
OVMF_VARS=/usr/share/OVMF/OVMF_VARS_4M.ms.fd
[[ $SECUREBOOT == 1 ]] || OVMF_CODE=/usr/share/OVMF/OVMF_CODE_4M.fd

NAMES=(vhx1 vhx2)
MACS=(00:15:5d:76:68:01 00:15:5d:76:68:02)
V4=(10.254.7.0 10.254.7.1)
V6=(fd76:6e:7::0 fd76:6e:7::1)

die() { echo "selftest-vhdx: $*" >&2; exit 2; }
[[ $EUID -eq 0 ]] || die "run as root (installs packages)"
t_start=$SECONDS

# --- prerequisites ------------------------------------------------------------------------
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v qemu-img >/dev/null || need+=(qemu-utils)
command -v socat >/dev/null || need+=(socat)
command -v python3 >/dev/null || need+=(python3)
command -v mcopy >/dev/null || need+=(mtools)
[[ -r /usr/share/OVMF/OVMF_CODE_4M.secboot.fd && -r $OVMF_VARS ]] || need+=(ovmf)
if [[ ${#need[@]} -gt 0 ]]; then
	compgen -G '/var/lib/apt/lists/*_Packages' >/dev/null || apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null ||
		die "apt-get install ${need[*]} failed"
fi
if [[ ! -s $vhdx ]]; then
	echo "selftest-vhdx: no image at $vhdx; building it" >&2
	"$here/build-vhdx.sh" "$vhdx"
fi

work=$(mktemp -d /tmp/vnvhdxtest.XXXXXX)
declare -a QPIDS=() SPIDS=()
cleanup() {
	local p
	for p in "${SPIDS[@]}" "${QPIDS[@]}"; do [[ -n $p ]] && kill "$p" 2>/dev/null || true; done
	for p in "${SPIDS[@]}" "${QPIDS[@]}"; do [[ -n $p ]] && wait "$p" 2>/dev/null || true; done
	if [[ ${VN_SELFTEST_KEEP:-0} == 1 ]]; then
		echo "selftest-vhdx: work directory kept: $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 2' INT TERM

pass=0 fail=0
ok() { echo "PASS  $*"; pass=$((pass + 1)); }
bad() { echo "FAIL  $*"; fail=$((fail + 1)); }
check() { # DESCRIPTION COMMAND...
	local d=$1
	shift
	if "$@"; then ok "$d"; else bad "$d"; fi
}

# --- 1. the file ----------------------------------------------------------------------------
check "qemu-img check $vhdx" qemu-img check -q "$vhdx"
fmt=$(qemu-img info --output=json "$vhdx" | python3 -c 'import json,sys; print(json.load(sys.stdin)["format"])')
check "qemu-img info: format vhdx (got $fmt)" test "$fmt" = vhdx
echo "INFO  size $(stat -c %s "$vhdx") bytes, virtual $(qemu-img info --output=json "$vhdx" | python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])') bytes"

# --- KVP pool files (hv_kvp_daemon's format), written independently of the guest ------------
# pool0.py OUT NAME MAC V4 V6 PROBEKEY PROBEVALUE: the items the Hyper-V backend writes for this
# router, plus an item that is not ours and records with left-over bytes after the NUL (the daemon
# reuses record memory without clearing it).
cat >"$work/pool.py" <<'EOF'
import hashlib, struct, sys
KEY, VALUE = 512, 2048  # HV_KVP_EXCHANGE_MAX_KEY_SIZE, HV_KVP_EXCHANGE_MAX_VALUE_SIZE
def record(key, value, junk=b""):
    k = key.encode() + b"\0"
    v = value.encode() + b"\0"
    assert len(k) <= KEY and len(v) <= VALUE
    return struct.pack("%ds%ds" % (KEY, VALUE), k + junk[: KEY - len(k)], v + junk[: VALUE - len(v)])
def write(argv):
    out, name, mac, v4, v6, pkey, pval = argv
    text = "# VirtualNetworks router configuration\n# vn af 4\nname %s\n" % name
    # padding comments: the text spans two chunks, as a larger router's would
    text += "".join("# vn padding line %03d: the guest ignores comment lines\n" % i for i in range(20))
    text += "# vn link l1 peer - -\nif %s %s/31 %s/127\n" % (mac, v4, v6)
    chunks = [text[i:i + 1000] for i in range(0, len(text), 1000)]
    assert len(chunks) >= 2
    items = [("Hyper-V.Unrelated", "an item of someone else")]
    items += [("vn.config.%d" % i, c) for i, c in enumerate(chunks)]
    items += [("vn.config.count", str(len(chunks))), ("vn.config.sha256", hashlib.sha256(text.encode()).hexdigest())]
    items += [(pkey, pval)]
    with open(out, "wb") as f:
        for i, (k, v) in enumerate(items):
            f.write(record(k, v, b"\xa5" * 4096 if i % 2 else b""))
def read(path):
    data = open(path, "rb").read()
    if len(data) % (KEY + VALUE):
        sys.exit("pool file size %d is not a multiple of %d" % (len(data), KEY + VALUE))
    for off in range(0, len(data), KEY + VALUE):
        k, v = struct.unpack_from("%ds%ds" % (KEY, VALUE), data, off)
        print("%s=%s" % (k.split(b"\0")[0].decode(), v.split(b"\0")[0].decode()))
if sys.argv[1] == "write": write(sys.argv[2:])
else: read(sys.argv[2])
EOF
python3 "$work/pool.py" write "$work/pool0.1" "${NAMES[0]}" "${MACS[0]}" "${V4[0]}" "${V6[0]}" \
	vn.probe.neg "ping ${V4[1]} count=1 deadline=2"
python3 "$work/pool.py" write "$work/pool0.2" "${NAMES[1]}" "${MACS[1]}" "${V4[1]}" "${V6[1]}" \
	vn.probe.pos "ping ${V4[0]} count=1 deadline=2"

# --- VMs ----------------------------------------------------------------------------------------
boot_vm() { # G
	local g=$1 other=$((3 - $1))
	qemu-img create -q -f qcow2 -F vhdx -b "$(readlink -f "$vhdx")" "$work/disk$g.qcow2"
	cp "$OVMF_VARS" "$work/vars$g.fd"
	nice -n 19 qemu-system-x86_64 -accel tcg -machine q35,smm=on -m "$MEMORY" -smp 1 \
		-nodefaults -no-user-config -display none -no-reboot \
		-global driver=cfi.pflash01,property=secure,value=on -global ICH9-LPC.disable_s3=1 \
		-drive "if=pflash,format=raw,unit=0,readonly=on,file=$OVMF_CODE" \
		-drive "if=pflash,format=raw,unit=1,file=$work/vars$g.fd" \
		-drive "if=none,id=d0,file=$work/disk$g.qcow2,format=qcow2" -device virtio-blk-pci,drive=d0,bootindex=0 \
		-serial "file:$work/console$g.log" \
		-fw_cfg "name=opt/vn/test/kvp_pool_0,file=$work/pool0.$g" \
		-netdev "dgram,id=n0,local.type=unix,local.path=$work/net$g.sock,remote.type=unix,remote.path=$work/net$other.sock" \
		-device "virtio-net-pci,netdev=n0,mac=${MACS[$((g - 1))]},romfile=" \
		-device virtio-serial \
		-chardev "socket,id=vncmd,path=$work/cmd$g.sock,server=on,wait=off" \
		-device virtserialport,chardev=vncmd,name=vn.cmd \
		>"$work/qemu$g.log" 2>&1 &
	QPIDS+=($!)
}
console() { [[ -e $work/console$1.log ]] || return 0; tr -d '\r' <"$work/console$1.log" | sed 's/\x1b\[[0-9;=?]*[A-Za-z]//g'; }
wait_ready() { # G NAME -> seconds on stdout
	local g=$1 t0=$SECONDS
	while ((SECONDS - t0 < BOOT_TIMEOUT)); do
		if console "$g" | grep -q "^VN-READY $2\$"; then
			echo $((SECONDS - t0))
			return 0
		fi
		kill -0 "${QPIDS[$((g - 1))]}" 2>/dev/null || return 1
		sleep 1
	done
	return 1
}
# pool1 G KEY: the value of KEY in the latest pool-1 file vm G reported (empty if none).
pool1() {
	local line
	line=$(console "$1" | grep '^VN-TEST-KVP-POOL1 ' | tail -n 1) || true
	[[ -n $line ]] || return 0
	echo "${line#VN-TEST-KVP-POOL1 }" | base64 -d >"$work/pool1.$1" 2>/dev/null || return 0
	python3 "$work/pool.py" read "$work/pool1.$1" | sed -n "s/^$2=//p"
}
wait_pool1() { # G KEY SECS
	local t0=$SECONDS v
	while ((SECONDS - t0 < $3)); do
		v=$(pool1 "$1" "$2")
		[[ -n $v ]] && { echo "$v"; return 0; }
		sleep 1
	done
	return 1
}
# chan G CMD...: one request over vm G's command channel; the response body on stdout, returns its code.
# (Called in $(...): the request id comes from the subshell's pid.)
chan() {
	local g=$1 id f rc=
	shift
	id=t$BASHPID
	f=$work/chan$BASHPID
	mkfifo "$f.in"
	socat - "UNIX-CONNECT:$work/cmd$g.sock" <"$f.in" >"$f.out" 2>/dev/null &
	local sp=$!
	SPIDS+=($sp)
	exec {w}>"$f.in"
	printf '%s %s\n' "$id" "$*" >&"$w"
	local t0=$SECONDS
	while ((SECONDS - t0 < 60)); do
		if grep -q "^$id END " "$f.out"; then
			rc=$(sed -n "s/^$id END //p" "$f.out")
			break
		fi
		sleep 0.5
	done
	exec {w}>&-
	kill "$sp" 2>/dev/null || true
	wait "$sp" 2>/dev/null || true
	sed -n "/^$id BEGIN/,/^$id END/p" "$f.out" | sed '1d;$d'
	[[ -n $rc ]] || return 124
	return "$rc"
}

# --- 2-4. vm1 (its probe target, vm2, is not running yet) ---------------------------------------
t_boot=$SECONDS
boot_vm 1
if s=$(wait_ready 1 "${NAMES[0]}"); then
	ok "vm1 booted router.vhdx to 'VN-READY ${NAMES[0]}' (name from its KVP configuration) in $s s"
else
	bad "vm1 did not reach 'VN-READY ${NAMES[0]}' within $BOOT_TIMEOUT s"
	console 1 | cut -c1-160 | tail -n 40
	exit 1
fi
boot1=$s
if [[ $SECUREBOOT == 1 ]]; then
	check "vm1: Secure Boot enforced (kernel: 'Secure boot enabled')" grep -q 'Secure boot enabled' <(console 1)
fi
check "vm1: configuration from KVP applied (ok)" grep -q 'vn: configuration from kvp applied (ok)' <(console 1)
check "vm1: test-only pool-0 hook reported" grep -q 'TEST ONLY: KVP pool 0 taken from fw_cfg' <(console 1)
if v=$(wait_pool1 1 vn.probe.neg 30); then
	case $v in
	"code 0"*) bad "vm1: probe to a stopped peer answered reachable: '$v'" ;;
	"code "[1-9]*) ok "vm1: probe to a stopped peer answered in pool 1: '$v'" ;;
	*) bad "vm1: probe answer malformed: '$v'" ;;
	esac
else
	bad "vm1: no answer to vn.probe.neg in pool 1"
fi

# --- vm2: probe to vm1, which is up --------------------------------------------------------------
boot_vm 2
if s=$(wait_ready 2 "${NAMES[1]}"); then
	ok "vm2 booted router.vhdx to 'VN-READY ${NAMES[1]}' in $s s"
else
	bad "vm2 did not reach 'VN-READY ${NAMES[1]}' within $BOOT_TIMEOUT s"
	console 2 | cut -c1-160 | tail -n 40
	exit 1
fi
boot2=$s
check "vm2: configuration from KVP applied (ok)" grep -q 'vn: configuration from kvp applied (ok)' <(console 2)
if v=$(wait_pool1 2 vn.probe.pos 30); then
	if [[ $v =~ ^code\ 0\ rtt_ms\ [0-9.]+$ ]]; then
		ok "vm2: probe to vm1 answered in pool 1: '$v'"
	else
		bad "vm2: probe to vm1 answer: '$v' (want 'code 0 rtt_ms <ms>')"
	fi
else
	bad "vm2: no answer to vn.probe.pos in pool 1"
fi
if [[ -s $work/pool1.2 ]]; then
	sz=$(stat -c %s "$work/pool1.2")
	check "vm2: pool-1 file is whole records of 2560 bytes ($sz bytes)" test $((sz % 2560)) -eq 0 -a "$sz" -gt 0
fi

# --- 5. ping each other --------------------------------------------------------------------------
for pair in "1 ${V4[1]}" "1 ${V6[1]}" "2 ${V4[0]}" "2 ${V6[0]}"; do
	set -- $pair
	if out=$(chan "$1" ping "$2" 3 10 0.2); then
		ok "vm$1 pings $2: $(echo "$out" | grep -o '[0-9]* packets received' || true)"
	else
		bad "vm$1 cannot ping $2: $(echo "$out" | tail -n 2 | tr '\n' ' ')"
	fi
done
if out=$(chan 1 show); then
	check "vm1: show lists ${V4[0]}/31 on its adapter" grep -q "inet ${V4[0]}/31" <<<"$out"
else
	bad "vm1: show failed"
fi

# --- 6. a tampered kernel is refused -------------------------------------------------------------
if [[ $SECUREBOOT == 1 ]]; then
	qemu-img convert -O raw "$vhdx" "$work/tampered.raw"
	MTOOLS_SKIP_CHECK=1 mcopy -i "$work/tampered.raw@@1M" ::/vmlinuz "$work/vmlinuz"
	python3 -c 'import sys; p=sys.argv[1]; d=bytearray(open(p,"rb").read()); d[len(d)//2]^=0xff; open(p,"wb").write(d)' "$work/vmlinuz"
	MTOOLS_SKIP_CHECK=1 mcopy -o -i "$work/tampered.raw@@1M" "$work/vmlinuz" ::/vmlinuz
	cp "$OVMF_VARS" "$work/vars3.fd"
	nice -n 19 qemu-system-x86_64 -accel tcg -machine q35,smm=on -m "$MEMORY" -smp 1 \
		-nodefaults -no-user-config -display none -no-reboot \
		-global driver=cfi.pflash01,property=secure,value=on -global ICH9-LPC.disable_s3=1 \
		-drive "if=pflash,format=raw,unit=0,readonly=on,file=$OVMF_CODE" \
		-drive "if=pflash,format=raw,unit=1,file=$work/vars3.fd" \
		-drive "if=none,id=d0,file=$work/tampered.raw,format=raw" -device virtio-blk-pci,drive=d0,bootindex=0 \
		-serial "file:$work/console3.log" >"$work/qemu3.log" 2>&1 &
	QPIDS+=($!)
	t0=$SECONDS
	while ((SECONDS - t0 < BOOT_TIMEOUT)) && ! console 3 | grep -q -E 'bad shim signature|^VN-READY'; do sleep 1; done
	if console 3 | grep -q 'bad shim signature'; then
		ok "a kernel with one byte changed is refused under Secure Boot (GRUB: 'bad shim signature', $((SECONDS - t0)) s)"
	else
		bad "a tampered kernel was not refused: $(console 3 | grep -v '^ *$' | tail -n 3 | tr '\n' ' ')"
	fi
	kill "${QPIDS[2]}" 2>/dev/null || true
fi

echo "INFO  boot to VN-READY (Secure Boot $([[ $SECUREBOOT == 1 ]] && echo on || echo off), TCG, OVMF): vm1 $boot1 s, vm2 $boot2 s; both VMs from first boot to end $((SECONDS - t_boot)) s; whole test $((SECONDS - t_start)) s"
echo "selftest-vhdx: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
