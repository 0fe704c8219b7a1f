#!/usr/bin/env bash
# Builds the VirtualNetworks router image for Hyper-V, router.vhdx, from Debian packages only:
# a Generation 2 disk (GPT, one EFI system partition, UEFI boot) with a boot chain that Secure Boot
# accepts under Hyper-V's "Microsoft UEFI Certificate Authority" template:
#   \EFI\BOOT\BOOTX64.EFI   Debian's shim (shim-signed; signed by the Microsoft UEFI CA)
#   \EFI\BOOT\grubx64.efi   Debian's signed GRUB (grub-efi-amd64-signed; verified by shim)
#   \EFI\debian\grub.cfg    boots \vmlinuz with \initrd.img at once (no menu)
#   \vmlinuz                Debian's signed kernel (linux-image-amd64; verified by GRUB through shim)
#   \initrd.img             busybox-static, the router agent images/router/init (the same as the
#                           Linux image's), hv_kvp_daemon (hyperv-daemons) with the C library it needs,
#                           and Debian's signed modules: virtio (QEMU) and Hyper-V (vmbus, netvsc,
#                           storvsc, utils/KVP). Secure Boot locks the kernel down, so only signed
#                           modules load: they are copied unmodified (not stripped).
# Nothing is mounted and no loop device is used: the FAT file system is made in an image file
# (mkfs.vfat, mtools), placed into a GPT disk image (sgdisk), converted with qemu-img.
#
# Usage: sudo images/router/build-vhdx.sh [OUT_VHDX]    (default <repo>/out/images/router.vhdx)
#        Also writes OUT_VHDX.json (manifest: package versions, sizes, sha256).
# Env:   VN_VHDX_CACHE  downloaded .deb files (default <repo>/out/vhdx-cache); reused when the
#                       package versions are unchanged
# Called by build.sh (after the Linux image) unless VN_VHDX=0.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${1:-$repo/out/images/router.vhdx}
cache=${VN_VHDX_CACHE:-$repo/out/vhdx-cache}

die() { echo "build-vhdx.sh: error: $*" >&2; exit 1; }
say() { echo "build-vhdx.sh: $*" >&2; }
[[ $EUID -eq 0 ]] || die "run as root (installs packages with apt-get, creates device nodes in the initramfs)"

# Disk geometry: 64 MiB virtual disk, the ESP from 1 MiB to 63 MiB (FAT32). A dynamic VHDX with
# 1 MiB blocks stores only what is written (Microsoft's recommendation for Linux guests).
DISK_MIB=64
ESP_MIB=62
# Fixed identifiers (reproducible file system and partition table).
DISK_GUID=6e765f72-6f75-7465-722d-766864780001
ESP_GUID=6e765f72-6f75-7465-722d-766864780002
CMDLINE="console=tty0 console=ttyS0,115200 quiet panic=-1 cryptomgr.notests"

# Modules: always (QEMU testing, like the Linux image) and Hyper-V (loaded only when hv_vmbus
# finds a VMBus). Dependencies are added and ordered automatically.
base_modules=(virtio_pci virtio_net virtio_console qemu_fw_cfg button evdev)
hyperv_modules=(hv_vmbus hv_utils hv_netvsc hv_storvsc)

# --- host tools (Debian packages) ---------------------------------------------------------
pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
needed=(busybox-static cpio zstd kmod mtools dosfstools gdisk qemu-utils libc6 binutils)
missing=()
for p in "${needed[@]}"; do pkg_installed "$p" || missing+=("$p"); done
if [[ ${#missing[@]} -gt 0 ]]; then
	compgen -G '/var/lib/apt/lists/*_Packages' >/dev/null || apt-get update -qq
	say "installing: ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
		die "apt-get install ${missing[*]} failed"
fi

# --- the image's packages: downloaded and unpacked, never installed on this machine ---------
# (installing a kernel, shim or GRUB would run their hooks: initramfs, grub-install.)
compgen -G '/var/lib/apt/lists/*_Packages' >/dev/null || apt-get update -qq
# linux-image-amd64 depends on exactly one linux-image-<version>-amd64 (signed) package.
kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n 1)
[[ -n $kpkg ]] || die "cannot resolve linux-image-amd64 to a kernel package"
image_pkgs=("$kpkg" shim-signed grub-efi-amd64-signed hyperv-daemons)
mkdir -p "$cache"
declare -A pkgver=() debfile=()
for p in "${image_pkgs[@]}"; do
	v=$(apt-cache policy "$p" | sed -n 's/^ *Candidate: //p')
	[[ -n $v && $v != "(none)" ]] || die "package $p is not available"
	pkgver[$p]=$v
	f=$(compgen -G "$cache/${p}_*.deb" | while read -r d; do
		[[ $(dpkg-deb -f "$d" Version) == "$v" ]] && echo "$d"; done | head -n 1 || true)
	if [[ -z $f ]]; then
		say "downloading $p $v"
		rm -f "$cache/${p}_"*.deb
		if ! (cd "$cache" && apt-get download -q "$p=$v" >/dev/null 2>&1); then
			# The lists may be older than the mirror (a security update replaced the version): update once.
			[[ ${VN_VHDX_APT_REFRESHED:-0} == 0 ]] || die "apt-get download $p=$v failed"
			say "apt-get download $p=$v failed; apt-get update and starting again"
			apt-get update -qq || die "apt-get update failed"
			VN_VHDX_APT_REFRESHED=1 exec bash "${BASH_SOURCE[0]}" "$@"
		fi
		f=$(compgen -G "$cache/${p}_*.deb" | head -n 1)
	fi
	[[ -s $f ]] || die "no .deb for $p"
	debfile[$p]=$f
done

work=$(mktemp -d "${TMPDIR:-/tmp}/vn-vhdx.XXXXXX")
trap 'rm -rf "$work"' EXIT
for p in "${image_pkgs[@]}"; do
	mkdir -p "$work/pkg/$p"
	dpkg-deb -x "${debfile[$p]}" "$work/pkg/$p"
done
kroot=$work/pkg/$kpkg
kver=$(ls "$kroot/lib/modules" | head -n 1)
kimage=$kroot/boot/vmlinuz-$kver
[[ -s $kimage ]] || die "$kimage missing"
shim=$work/pkg/shim-signed/usr/lib/shim/shimx64.efi.signed
grub=$work/pkg/grub-efi-amd64-signed/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed
kvpd=$work/pkg/hyperv-daemons/usr/sbin/hv_kvp_daemon
for f in "$shim" "$grub" "$kvpd"; do [[ -s $f ]] || die "$f missing"; done
for opt in CONFIG_HYPERV CONFIG_HYPERV_UTILS CONFIG_HYPERV_NET CONFIG_HYPERV_STORAGE CONFIG_VIRTIO_NET \
	CONFIG_VIRTIO_PCI CONFIG_VIRTIO_CONSOLE CONFIG_FW_CFG_SYSFS CONFIG_RD_ZSTD CONFIG_EFI_STUB; do
	grep -Eq "^$opt=(y|m)" "$kroot/boot/config-$kver" || die "kernel $kver lacks $opt"
done
say "kernel $kver ($kpkg ${pkgver[$kpkg]})"

# --- modules: dependency closure in load order ---------------------------------------------
depmod -b "$kroot" "$kver" 2>/dev/null || die "depmod failed"
declare -A mod_state=()
order=()
visit() {
	local m=${1//-/_} path deps d
	[[ -n ${mod_state[$m]:-} ]] && return
	mod_state[$m]=1
	path=$(modinfo -b "$kroot" -k "$kver" -F filename "$m" 2>/dev/null | head -n 1) || true
	[[ -n $path ]] || die "module $m not found for kernel $kver"
	[[ $path == /* ]] || return 0 # built in
	deps=$(modinfo -b "$kroot" -k "$kver" -F depends "$m" | tr ',' ' ')
	for d in $deps; do visit "$d"; done
	order+=("$m:$path")
}
for m in "${base_modules[@]}"; do visit "$m"; done
base_order=("${order[@]}")
order=()
for m in "${hyperv_modules[@]}"; do visit "$m"; done
hyperv_order=("${order[@]}")

# --- initramfs ------------------------------------------------------------------------------
busybox=$(dpkg-query -L busybox-static | grep -E '/bin/busybox$' | head -n 1)
[[ -x $busybox ]] || die "busybox-static binary not found"
"$busybox" sh -n "$here/init" || die "images/router/init has a syntax error"
stage=$work/stage
mkdir -p "$stage"/{bin,sbin,dev,proc,sys,run,tmp,etc,root,lib/modules,lib64,var/lib}
chmod 1777 "$stage/tmp"
cp "$busybox" "$stage/bin/busybox"
for a in $("$busybox" --list); do
	[[ $a == busybox ]] || ln -s busybox "$stage/bin/$a"
done
mknod -m 600 "$stage/dev/console" c 5 1
mknod -m 666 "$stage/dev/null" c 1 3
install -m 0755 "$here/init" "$stage/init"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$stage/etc/passwd"
printf 'root:x:0:\n' >"$stage/etc/group"
printf '127.0.0.1 localhost\n::1 localhost\n' >"$stage/etc/hosts"
printf 'hosts: files\n' >"$stage/etc/nsswitch.conf"
# hv_kvp_daemon reports these to the host (GuestIntrinsicExchangeItems: OSName, OSVersion).
printf 'NAME="VirtualNetworks router"\nID=virtualnetworks-router\nVERSION_ID="1"\nPRETTY_NAME="VirtualNetworks router (Debian %s kernel)"\n' \
	"$kver" >"$stage/etc/os-release"
# The marker that turns on the agent's KVP transport.
echo "kvp" >"$stage/etc/vn-kvp"
install -m 0755 "$kvpd" "$stage/sbin/hv_kvp_daemon"
# The daemon is linked against the C library only (checked); copied from Debian's libc6.
libs=$(LC_ALL=C ldd "$kvpd" | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p')
for l in $libs; do
	case $(basename "$l") in libc.so.6) ;; *) die "hv_kvp_daemon needs $l (only libc.so.6 expected)" ;; esac
done
mkdir -p "$stage/lib/x86_64-linux-gnu"
cp -L /lib/x86_64-linux-gnu/libc.so.6 "$stage/lib/x86_64-linux-gnu/libc.so.6"
cp -L /lib64/ld-linux-x86-64.so.2 "$stage/lib64/ld-linux-x86-64.so.2"
# Hyper-V's shutdown integration service (hv_utils) calls orderly_poweroff(), which runs
# /sbin/poweroff; busybox's would only signal init. Power off at once (nothing to flush).
cat >"$stage/sbin/poweroff" <<'EOF'
#!/bin/sh
n=router
[ -r /run/vn/name ] && read -r n </run/vn/name
echo "VN-POWEROFF $n" >/dev/console
exec /bin/poweroff -f
EOF
chmod 0755 "$stage/sbin/poweroff"
# BIRD 2 (guest contract 2), with its libraries; the C library above is kept.
bird_pkgs=$("$here/bird-stage.sh" "$stage") || die "staging BIRD failed"
bird_ver=$(sed -n 's/^bird2 //p' <<<"$bird_pkgs")
[[ -n $bird_ver ]] || die "bird-stage.sh reported no bird2 version"
bird_src=$(sed -n 's/^source bird2 //p' <<<"$bird_pkgs")
read -r _ bird_patch bird_patch_sha < <(grep '^patch ' <<<"$bird_pkgs") || die "bird-stage.sh reported no patch"
: >"$stage/lib/modules/load.list"
: >"$stage/lib/modules/load-hyperv.list"
add_modules() { # LIST ENTRIES...
	local list=$1 e m p
	shift
	for e in "$@"; do
		m=${e%%:*} p=${e#*:}
		case $p in
		*.ko) cp "$p" "$stage/lib/modules/$m.ko" ;; # signed: copied unmodified
		*.ko.xz) xz -dc "$p" >"$stage/lib/modules/$m.ko" ;;
		*.ko.zst) zstd -qdc "$p" >"$stage/lib/modules/$m.ko" ;;
		*) die "unexpected module file $p" ;;
		esac
		tail -c 28 "$stage/lib/modules/$m.ko" | grep -q 'Module signature appended' ||
			die "module $m is not signed (Secure Boot would refuse it)"
		echo "$m" >>"$stage/lib/modules/$list"
	done
}
add_modules load.list "${base_order[@]}"
add_modules load-hyperv.list "${hyperv_order[@]}"
echo "$kver" >"$stage/etc/vn-kernel"
find "$stage" -exec touch -h -d @0 {} +
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
	cpio --quiet -o -H newc -R 0:0 --reproducible) | zstd -q -19 -T1 >"$work/initrd.img"

# --- EFI system partition (FAT32 in an image file, filled with mtools) -----------------------
cat >"$work/grub.cfg" <<EOF
# VirtualNetworks router (router.vhdx): boots at once.
set timeout=0
search --no-floppy --file --set=root /vn-router
linux /vmlinuz $CMDLINE
initrd /initrd.img
boot
EOF
echo "VirtualNetworks router; kernel $kver" >"$work/vn-router"
esp=$work/esp.img
truncate -s $((ESP_MIB * 1024 * 1024)) "$esp"
mkfs.vfat -F 32 -S 512 -s 1 -n VNROUTER --invariant "$esp" >/dev/null
export MTOOLS_SKIP_CHECK=1
mmd -i "$esp" ::/EFI ::/EFI/BOOT ::/EFI/debian
fixed_time() { touch -d '2020-01-01 00:00:00 UTC' "$@"; }
cp "$shim" "$work/BOOTX64.EFI"
cp "$grub" "$work/grubx64.efi"
cp "$kimage" "$work/vmlinuz"
fixed_time "$work/BOOTX64.EFI" "$work/grubx64.efi" "$work/grub.cfg" "$work/vmlinuz" "$work/initrd.img" "$work/vn-router"
mcopy -m -i "$esp" "$work/BOOTX64.EFI" "$work/grubx64.efi" ::/EFI/BOOT/
mcopy -m -i "$esp" "$work/grub.cfg" ::/EFI/debian/grub.cfg
mcopy -m -i "$esp" "$work/grub.cfg" ::/EFI/BOOT/grub.cfg
mcopy -m -i "$esp" "$work/vmlinuz" "$work/initrd.img" "$work/vn-router" ::/

# --- GPT disk, then VHDX ---------------------------------------------------------------------
disk=$work/disk.raw
truncate -s $((DISK_MIB * 1024 * 1024)) "$disk"
sgdisk -o -U "$DISK_GUID" -n "1:2048:+${ESP_MIB}M" -t 1:EF00 -c "1:EFI system partition" \
	-u "1:$ESP_GUID" "$disk" >/dev/null 2>&1 || die "sgdisk failed"
dd if="$esp" of="$disk" bs=1M seek=1 conv=notrunc status=none
sgdisk -v "$disk" >/dev/null || die "the partition table does not verify"
# (sgdisk -v passes on a disk without a table: check that the ESP is there.)
sgdisk -i 1 "$disk" 2>/dev/null | grep -q "^Partition GUID code: C12A7328-F81F-11D2-BA4B-00A0C93EC93B" ||
	die "the EFI system partition is missing from the partition table"
mkdir -p "$(dirname "$out")"
tmpv=$(mktemp "$(dirname "$out")/.router.vhdx.XXXXXX")
qemu-img convert -q -f raw -O vhdx -o subformat=dynamic,block_size=1048576 "$disk" "$tmpv" ||
	die "qemu-img convert failed"
qemu-img check -q -f vhdx "$tmpv" || die "qemu-img check failed on the new VHDX"

# --- manifest --------------------------------------------------------------------------------
size() { stat -c %s "$1"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
jlist() { local e s=; for e in "$@"; do s+="\"${e%%:*}\","; done; echo "${s%,}"; }
{
	printf '{\n'
	printf '  "image": "virtualnetworks-router-vhdx",\n'
	printf '  "format": 1,\n'
	printf '  "generation": 2,\n'
	printf '  "secureBootTemplate": "MicrosoftUEFICertificateAuthority",\n'
	printf '  "kernel": { "version": "%s", "package": "%s", "packageVersion": "%s" },\n' "$kver" "$kpkg" "${pkgver[$kpkg]}"
	printf '  "shim": { "package": "shim-signed", "packageVersion": "%s" },\n' "${pkgver[shim-signed]}"
	printf '  "grub": { "package": "grub-efi-amd64-signed", "packageVersion": "%s" },\n' "${pkgver[grub-efi-amd64-signed]}"
	printf '  "kvpDaemon": { "package": "hyperv-daemons", "packageVersion": "%s" },\n' "${pkgver[hyperv-daemons]}"
	printf '  "busybox": { "package": "busybox-static", "packageVersion": "%s" },\n' "$(dpkg-query -W -f='${Version}' busybox-static)"
	printf '  "libc": { "package": "libc6", "packageVersion": "%s" },\n' "$(dpkg-query -W -f='${Version}' libc6)"
	printf '  "bird": { "package": "bird2", "packageVersion": "%s", "sourcePackageVersion": "%s", "patch": "%s", "patchSha256": "%s", "programs": ["bird","birdcl"] },\n' \
		"$bird_ver" "$bird_src" "$bird_patch" "$bird_patch_sha"
	printf '  "guestContract": 2,\n'
	printf '  "modules": [%s],\n' "$(jlist "${base_order[@]}")"
	printf '  "hypervModules": [%s],\n' "$(jlist "${hyperv_order[@]}")"
	printf '  "kernelCommandLine": "%s",\n' "$CMDLINE"
	printf '  "virtualSize": %s,\n' $((DISK_MIB * 1024 * 1024))
	printf '  "files": {\n'
	printf '    "vmlinuz": { "size": %s, "sha256": "%s" },\n' "$(size "$work/vmlinuz")" "$(sha "$work/vmlinuz")"
	printf '    "initrd.img": { "size": %s, "sha256": "%s", "compression": "zstd" },\n' "$(size "$work/initrd.img")" "$(sha "$work/initrd.img")"
	printf '    "router.vhdx": { "size": %s, "sha256": "%s" }\n' "$(size "$tmpv")" "$(sha "$tmpv")"
	printf '  },\n'
	printf '  "readyMarker": "VN-READY",\n'
	printf '  "buildDate": "%s"\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	printf '}\n'
} >"$work/manifest.json"
chmod 0644 "$tmpv"
install -m 0644 "$work/manifest.json" "$out.json.tmp"
mv -f "$tmpv" "$out"
mv -f "$out.json.tmp" "$out.json"
say "done: $out ($(size "$out") bytes; vmlinuz $(size "$work/vmlinuz"), initrd.img $(size "$work/initrd.img"))"
