#!/usr/bin/env bash
# Builds the VirtualNetworks router OS image from Debian packages only:
#   <out>/vmlinuz            the Debian cloud kernel, copied from /boot
#   <out>/initramfs.cpio.gz  busybox-static + the virtio/fw_cfg modules + images/router/init
#   <out>/manifest.json      kernel version, package versions, sizes, sha256, build date
# Usage: sudo images/router/build.sh [OUT_DIR]      (default: <repo>/out/images/router)
# Environment: VN_KERNEL_VERSION=<uname -r style version> to pick an installed kernel.
# Idempotent: installs only missing packages; the initramfs is reproducible (fixed mtimes, owner
# root, sorted entries), so re-running with the same packages gives byte-identical images.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${1:-$repo/out/images/router}

# Modules the guest needs; their dependencies are added and ordered automatically.
# virtio_pci is the transport (virtio_net does not depend on it, so list it explicitly);
# virtio_console = virtio-serial command channel; qemu_fw_cfg = configuration hand-over;
# button + evdev = ACPI power button (QEMU system_powerdown -> clean power-off).
wanted_modules=(virtio_pci virtio_net virtio_console qemu_fw_cfg button evdev)

die() { echo "build.sh: error: $*" >&2; exit 1; }
say() { echo "build.sh: $*" >&2; }

[[ $EUID -eq 0 ]] || die "run as root (installs packages with apt-get and creates /dev/console in the image)"

# --- packages -----------------------------------------------------------------------------
pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

apt_updated=0
apt_lists_present() { compgen -G '/var/lib/apt/lists/*_Packages' >/dev/null; }
ensure_apt_lists() {
	if [[ $apt_updated -eq 0 ]] && ! apt_lists_present; then
		say "apt-get update (no package lists yet)"
		apt-get update -qq
		apt_updated=1
	fi
}
pkg_available() { apt-cache show "$1" >/dev/null 2>&1; }

kernel_pkg=linux-image-cloud-amd64
needed=(busybox-static cpio gzip kmod qemu-system-x86)
if ! pkg_installed "$kernel_pkg"; then
	ensure_apt_lists
	if ! pkg_available "$kernel_pkg"; then
		say "$kernel_pkg is not available here; falling back to linux-image-amd64"
		kernel_pkg=linux-image-amd64
	fi
fi
needed+=("$kernel_pkg")
missing=()
for p in "${needed[@]}"; do pkg_installed "$p" || missing+=("$p"); done
if [[ ${#missing[@]} -gt 0 ]]; then
	ensure_apt_lists
	say "installing: ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
		die "apt-get install ${missing[*]} failed"
fi

# --- kernel -------------------------------------------------------------------------------
kver=${VN_KERNEL_VERSION:-}
if [[ -z $kver ]]; then
	# The meta package depends on exactly one linux-image-<version> package.
	dep=$(dpkg-query -W -f='${Depends}' "$kernel_pkg" 2>/dev/null | tr ',|' '\n\n' |
		sed -n 's/^ *linux-image-\([0-9][^ ]*\).*/\1/p' | head -n 1)
	if [[ -n $dep && -e /boot/vmlinuz-$dep ]]; then
		kver=$dep
	else
		flavour=${kernel_pkg#linux-image-}
		kver=$(ls /boot | sed -n "s/^vmlinuz-\(.*-$flavour\)\$/\1/p" | sort -V | tail -n 1)
	fi
fi
[[ -n $kver && -e /boot/vmlinuz-$kver ]] || die "no kernel found in /boot for $kernel_pkg (set VN_KERNEL_VERSION)"
[[ -d /lib/modules/$kver ]] || die "/lib/modules/$kver missing"
say "kernel $kver"

if [[ -r /boot/config-$kver ]]; then
	for opt in CONFIG_VIRTIO_NET CONFIG_VIRTIO_PCI CONFIG_VIRTIO_CONSOLE CONFIG_FW_CFG_SYSFS \
		CONFIG_IPV6 CONFIG_DEVTMPFS CONFIG_BLK_DEV_INITRD CONFIG_RD_GZIP CONFIG_SERIAL_8250_CONSOLE; do
		grep -Eq "^$opt=(y|m)" "/boot/config-$kver" || die "kernel $kver lacks $opt"
	done
fi

# --- busybox ------------------------------------------------------------------------------
busybox=$(dpkg-query -L busybox-static | grep -E '/bin/busybox$' | head -n 1)
[[ -x $busybox ]] || die "busybox-static binary not found"
if LC_ALL=C ldd "$busybox" 2>&1 | grep -q '=>'; then
	die "$busybox is dynamically linked"
fi

"$busybox" sh -n "$here/init" || die "images/router/init has a syntax error"

# --- modules: dependency closure, topological order ---------------------------------------
declare -A mod_state=() mod_path=()
order=()
is_builtin() { grep -q "/$1\.ko\$" "/lib/modules/$kver/modules.builtin" 2>/dev/null; }
visit() {
	local m=${1//-/_} deps d path
	case ${mod_state[$m]:-} in done) return ;; active) die "module dependency cycle at $m" ;; esac
	mod_state[$m]=active
	path=$(modinfo -k "$kver" -F filename "$m" 2>/dev/null | head -n 1) || true
	if [[ -z $path || $path != /* ]]; then
		is_builtin "$m" || [[ $path == "(builtin)" ]] || die "module $m not found for kernel $kver"
		mod_state[$m]=done # built into the kernel
		return
	fi
	deps=$(modinfo -k "$kver" -F depends "$m" | tr ',' ' ')
	for d in $deps; do visit "$d"; done
	mod_state[$m]=done
	mod_path[$m]=$path
	order+=("$m")
}
for m in "${wanted_modules[@]}"; do visit "$m"; done
say "modules: ${order[*]}"

# --- stage --------------------------------------------------------------------------------
mkdir -p "$out"
stage=$(mktemp -d "${TMPDIR:-/tmp}/vn-router-stage.XXXXXX")
tmpout=$(mktemp -d "$out/.build.XXXXXX")
trap 'rm -rf "$stage" "$tmpout"' EXIT

mkdir -p "$stage"/{bin,dev,proc,sys,run,tmp,etc,root,lib/modules}
chmod 1777 "$stage/tmp"
cp "$busybox" "$stage/bin/busybox"
chmod 0755 "$stage/bin/busybox"
for a in $("$busybox" --list); do
	[[ $a == busybox ]] || ln -s busybox "$stage/bin/$a"
done
mknod -m 600 "$stage/dev/console" c 5 1
mknod -m 666 "$stage/dev/null" c 1 3
install -m 0755 "$here/init" "$stage/init"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$stage/etc/passwd"
printf 'root:x:0:\n' >"$stage/etc/group"

: >"$stage/lib/modules/load.list"
for m in "${order[@]}"; do
	src=${mod_path[$m]}
	dst=$stage/lib/modules/$m.ko
	case $src in
	*.ko) cp "$src" "$dst" ;;
	*.ko.xz) xz -dc "$src" >"$dst" ;;
	*.ko.zst)
		command -v zstd >/dev/null || { ensure_apt_lists; apt-get install -y -qq --no-install-recommends zstd >/dev/null; }
		zstd -qdc "$src" >"$dst"
		;;
	*.ko.gz) gzip -dc "$src" >"$dst" ;;
	*) die "unexpected module file $src" ;;
	esac
	echo "$m" >>"$stage/lib/modules/load.list"
done
echo "$kver" >"$stage/etc/vn-kernel"

# Reproducible archive: fixed mtimes, owner root, sorted names, no gzip timestamp.
find "$stage" -exec touch -h -d @0 {} +
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
	cpio --quiet -o -H newc -R 0:0 --reproducible) | gzip -9 -n >"$tmpout/initramfs.cpio.gz"
cp "/boot/vmlinuz-$kver" "$tmpout/vmlinuz"
chmod 0644 "$tmpout/vmlinuz" "$tmpout/initramfs.cpio.gz"

# --- manifest -----------------------------------------------------------------------------
pkgver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo unknown; }
size() { stat -c %s "$1"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
mods_json=$(printf '"%s",' "${order[@]}")
{
	printf '{\n'
	printf '  "image": "virtualnetworks-router",\n'
	printf '  "format": 1,\n'
	printf '  "kernel": { "version": "%s", "package": "%s", "packageVersion": "%s" },\n' \
		"$kver" "linux-image-$kver" "$(pkgver "linux-image-$kver")"
	printf '  "busybox": { "package": "busybox-static", "packageVersion": "%s" },\n' "$(pkgver busybox-static)"
	printf '  "modules": [%s],\n' "${mods_json%,}"
	printf '  "files": {\n'
	printf '    "vmlinuz": { "size": %s, "sha256": "%s" },\n' "$(size "$tmpout/vmlinuz")" "$(sha "$tmpout/vmlinuz")"
	printf '    "initramfs.cpio.gz": { "size": %s, "sha256": "%s" }\n' \
		"$(size "$tmpout/initramfs.cpio.gz")" "$(sha "$tmpout/initramfs.cpio.gz")"
	printf '  },\n'
	printf '  "totalSize": %s,\n' $(($(size "$tmpout/vmlinuz") + $(size "$tmpout/initramfs.cpio.gz")))
	printf '  "configFwCfgName": "opt/vn/config",\n'
	printf '  "commandPortName": "vn.cmd",\n'
	printf '  "kernelCommandLine": "console=ttyS0 quiet panic=-1 cryptomgr.notests nokaslr",\n'
	printf '  "readyMarker": "VN-READY",\n'
	printf '  "buildDate": "%s"\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	printf '}\n'
} >"$tmpout/manifest.json"

for f in vmlinuz initramfs.cpio.gz manifest.json; do mv -f "$tmpout/$f" "$out/$f"; done
say "done: $out ($(du -ch "$out/vmlinuz" "$out/initramfs.cpio.gz" | tail -n 1 | cut -f1) total)"
ls -l "$out" >&2
