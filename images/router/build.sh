#!/usr/bin/env bash
# Builds the VirtualNetworks router OS image from Debian packages only:
#   <out>/vmlinuz            the Debian cloud kernel, copied from /boot
#   <out>/initramfs.cpio.gz  busybox-static + the virtio/fw_cfg modules (stripped) + images/router/init;
#                            zstd-compressed by default despite the name (the file name is what the
#                            backend looks for; the kernel detects the format by its magic number)
#   <out>/manifest.json      kernel version, package versions, sizes, sha256, build date
#   <out>/../router.vhdx     the Hyper-V image (Generation 2, Secure Boot with the Microsoft UEFI CA
#                            template) and router.vhdx.json, made by build-vhdx.sh (not with --install)
# Usage: sudo images/router/build.sh [OUT_DIR]      (default: <repo>/out/images/router)
#        Build experiments into another OUT_DIR: the output files are replaced one by one with
#        rename(2), so a running QEMU never sees a half-written file, but the set changes at once
#        only per file.
#        sudo images/router/build.sh --install [--from BUILT_DIR] [IMAGES_DIR]
#        Installs the image for every user of the machine as IMAGES_DIR/router (default
#        /var/lib/virtualnetworks/images, the per-machine folder the module searches; docs/install.md):
#        builds it into a temporary folder first, or takes the one already built in BUILT_DIR (e.g.
#        out/images/router; nothing is built then). The files are copied into a new folder
#        IMAGES_DIR/.router-<sha256 prefix> (root-owned, 0644; folder 0755), then the symbolic link
#        IMAGES_DIR/router is switched to it with one rename(2): a QEMU starting meanwhile sees either
#        the old or the new image, never a mix. The previous version is kept (a router starting from
#        it still finds its files); older ones are removed.
#        sudo images/router/build.sh --uninstall [IMAGES_DIR]
#        Removes IMAGES_DIR/router and its versions.
# Environment: VN_KERNEL=source (default) builds the guest kernel from Debian's linux-source package with
#              kernel/build-kernel.sh (cached in VN_KERNEL_CACHE, default <repo>/out/kernel, keyed by the
#              fragment and script); VN_KERNEL=debian ships Debian's linux-image-cloud-amd64 vmlinuz + modules.
#              VN_KERNEL_VERSION=<uname -r style version> to pick an installed kernel (debian only).
#              VN_INITRAMFS_COMPRESSION=zstd (default) | gzip | xz | lz4 | none
#              VN_VHDX=0 skips router.vhdx; VN_VHDX_OUT=<path> puts it elsewhere
#              VN_BIRD=1 (default): BIRD 2 built from Debian's bird2 source with bird-ospf.patch
#              (bird-stage.sh; source and build cache VN_BIRD_CACHE, default <repo>/out/bird-cache) unpacked
#              in the initramfs;
#              VN_BIRD=lazy: as one gzip'd tar, /usr/lib/vn/bird.tar.gz, that /init unpacks only when a
#              configuration has a `routing` line (static routers boot ~0.15 s faster, but busybox gunzip
#              takes 3-4 s under TCG at the first routing apply); VN_BIRD=0: left out (guest contract 2
#              without dynamic routing: a `routing` line is rejected)
# Idempotent: installs only missing packages; the initramfs is reproducible (fixed mtimes, owner
# root, sorted entries), so re-running with the same packages gives byte-identical images.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

# --- install / uninstall (the per-machine image folder) -------------------------------------
machine_images=/var/lib/virtualnetworks/images
image_files=(vmlinuz initramfs.cpio.gz manifest.json)
mode=build install_from= images_dir=
case ${1:-} in
--install)
	mode=install
	shift
	if [[ ${1:-} == --from ]]; then
		[[ -n ${2:-} ]] || { echo "build.sh: error: --from needs the folder of a built image" >&2; exit 2; }
		install_from=$2
		shift 2
	fi
	images_dir=${1:-$machine_images}
	;;
--uninstall)
	mode=uninstall
	images_dir=${2:-$machine_images}
	;;
-h | --help)
	sed -n '2,/^set -euo/p' "$0" | grep -v '^set -euo' | sed 's/^# \{0,1\}//'
	exit 0
	;;
-*)
	echo "build.sh: error: unknown option $1 (see --help)" >&2
	exit 2
	;;
esac
[[ $mode == build ]] && out=${1:-$repo/out/images/router}

# Modules the guest needs; their dependencies are added and ordered automatically.
# virtio_pci is the transport (virtio_net does not depend on it, so list it explicitly);
# virtio_console = virtio-serial command channel; qemu_fw_cfg = configuration hand-over;
# button + evdev = ACPI power button (QEMU system_powerdown -> clean power-off).
wanted_modules=(virtio_pci virtio_net virtio_console qemu_fw_cfg button evdev)

die() { echo "build.sh: error: $*" >&2; exit 1; }
say() { echo "build.sh: $*" >&2; }

[[ $EUID -eq 0 ]] || die "run as root (installs packages with apt-get and creates /dev/console in the image; installs root-owned files)"

# install_image BUILT_DIR IMAGES_DIR: copies the image into a new version folder, then switches IMAGES_DIR/router to it
# atomically (rename of a symbolic link over the old one).
install_image() {
	local from=$1 images=$2 f hash version previous tmp link old
	for f in "${image_files[@]}"; do
		[[ -s $from/$f ]] || die "$from/$f is missing: build the image first (images/router/build.sh [OUT_DIR])"
	done
	[[ $images == /* ]] || images=$PWD/$images
	install -d -m 0755 -o root -g root "$images"
	hash=$(cat "$from/vmlinuz" "$from/initramfs.cpio.gz" "$from/manifest.json" | sha256sum | cut -c1-16)
	version=.router-$hash
	previous=$(readlink "$images/router" 2>/dev/null || true)
	if [[ ! -d $images/$version ]]; then
		tmp=$(mktemp -d "$images/.router-new.XXXXXX")
		for f in "${image_files[@]}"; do install -m 0644 -o root -g root "$from/$f" "$tmp/$f"; done
		chmod 0755 "$tmp"
		chown root:root "$tmp"
		sync -f "$tmp/vmlinuz" 2>/dev/null || sync
		mv -T "$tmp" "$images/$version"
	fi
	if [[ -e $images/router && ! -L $images/router ]]; then
		# A plain folder from before: moved aside once (the only step that is not a single rename).
		old=$images/.router-old.$$
		mv -T "$images/router" "$old"
		rm -rf "$old"
	fi
	link=$images/.router-link.$$
	ln -sfn "$version" "$link"
	mv -T "$link" "$images/router"
	for f in "$images"/.router-????????????????; do
		[[ -d $f && $(basename "$f") != "$version" && $(basename "$f") != "$previous" ]] && rm -rf "$f"
	done
	say "installed: $images/router -> $version ($(du -ch "$images/$version/vmlinuz" "$images/$version/initramfs.cpio.gz" | tail -n 1 | cut -f1))"
	ls -l "$images/" "$images/$version/" >&2
}

if [[ $mode == uninstall ]]; then
	rm -f "$images_dir/router"
	rm -rf "$images_dir"/.router-????????????????
	rmdir "$images_dir" 2>/dev/null || true
	say "removed $images_dir/router"
	exit 0
fi
if [[ $mode == install && -n $install_from ]]; then
	install_image "$install_from" "$images_dir"
	exit 0
fi
if [[ $mode == install ]]; then
	# Built into a temporary folder first, then installed from there.
	out=$(mktemp -d "${TMPDIR:-/tmp}/vn-router-install.XXXXXX")
	trap 'rm -rf "$out"' EXIT
fi

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
# ensure_tool COMMAND PACKAGE: installs PACKAGE when COMMAND is missing (tools needed only sometimes).
ensure_tool() {
	command -v "$1" >/dev/null && return 0
	ensure_apt_lists
	say "installing $2 (for $1)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null ||
		die "apt-get install $2 failed"
}

kernel_src=${VN_KERNEL:-source}
case $kernel_src in source | debian) ;; *) die "VN_KERNEL=$kernel_src: use source or debian" ;; esac
kernel_pkg=linux-image-cloud-amd64
# binutils: strip for the modules; zstd: initramfs compression (and .ko.zst modules).
needed=(binutils busybox-static cpio gzip kmod qemu-system-x86 zstd)
if [[ $kernel_src == debian ]] && ! pkg_installed "$kernel_pkg"; then
	ensure_apt_lists
	if ! pkg_available "$kernel_pkg"; then
		say "$kernel_pkg is not available here; falling back to linux-image-amd64"
		kernel_pkg=linux-image-amd64
	fi
fi
[[ $kernel_src == debian ]] && needed+=("$kernel_pkg")
missing=()
for p in "${needed[@]}"; do pkg_installed "$p" || missing+=("$p"); done
if [[ ${#missing[@]} -gt 0 ]]; then
	ensure_apt_lists
	say "installing: ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
		die "apt-get install ${missing[*]} failed"
fi

# --- kernel -------------------------------------------------------------------------------
if [[ $kernel_src == source ]]; then
	# Built from Debian's kernel source with everything the guest needs built in: no modules.
	khash=$(cat "$here/kernel/router.config" "$here/kernel/build-kernel.sh" | sha256sum | cut -c1-16)
	kcache=${VN_KERNEL_CACHE:-$repo/out/kernel}/$khash
	if [[ ! -s $kcache/vmlinuz || ! -s $kcache/kernel.config ]]; then
		say "building the guest kernel from Debian's source into $kcache (a few minutes)"
		rm -rf "$kcache.tmp"
		"$here/kernel/build-kernel.sh" "$kcache.tmp" || die "building the guest kernel failed"
		rm -rf "$kcache"
		mv "$kcache.tmp" "$kcache"
	fi
	kimage=$kcache/vmlinuz
	kconfig=$kcache/kernel.config
	ksrcpkg=$(dpkg-query -W -f='${Package}\n' 'linux-source-*' 2>/dev/null | grep -E '^linux-source-[0-9.]+$' | sort -V | tail -n 1)
	kver="source-$(dpkg-query -W -f='${Version}' "$ksrcpkg" 2>/dev/null || echo unknown)-$khash"
	kpkg=$ksrcpkg
	wanted_modules=()
	required_opts=(CONFIG_VIRTIO_NET CONFIG_VIRTIO_PCI CONFIG_VIRTIO_CONSOLE CONFIG_FW_CFG_SYSFS CONFIG_IPV6 CONFIG_DEVTMPFS
		CONFIG_BLK_DEV_INITRD CONFIG_SERIAL_8250_CONSOLE CONFIG_ACPI_BUTTON CONFIG_INPUT_EVDEV
		CONFIG_IP_MULTICAST CONFIG_IP_ROUTE_MULTIPATH)
else
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
kimage=/boot/vmlinuz-$kver
kconfig=/boot/config-$kver
kpkg=linux-image-$kver
required_opts=(CONFIG_VIRTIO_NET CONFIG_VIRTIO_PCI CONFIG_VIRTIO_CONSOLE CONFIG_FW_CFG_SYSFS CONFIG_IPV6 CONFIG_DEVTMPFS
	CONFIG_BLK_DEV_INITRD CONFIG_RD_GZIP CONFIG_SERIAL_8250_CONSOLE CONFIG_IP_MULTICAST CONFIG_IP_ROUTE_MULTIPATH)
fi
say "kernel $kver"

if [[ -r $kconfig ]]; then
	for opt in "${required_opts[@]}"; do
		grep -Eq "^$opt=(y|m)" "$kconfig" || die "kernel $kver lacks $opt"
	done
fi

# --- initramfs compression ----------------------------------------------------------------
# zstd: about 14 % smaller than gzip -9 and no slower to unpack under TCG (measured: QEMU CPU
# time to VN-READY within noise of an uncompressed initramfs). xz is another ~9 % smaller but
# costs 0.17-0.25 s more CPU per boot under TCG, and needs a small dictionary: the kernel's
# unxz allocates the whole dictionary, and xz -9's 64 MiB does not fit a 128 MB guest.
comp=${VN_INITRAMFS_COMPRESSION:-zstd}
case $comp in
zstd) rd_opt=CONFIG_RD_ZSTD ;;
xz) rd_opt=CONFIG_RD_XZ ;;
lz4) rd_opt=CONFIG_RD_LZ4 ;;
gzip) rd_opt=CONFIG_RD_GZIP ;;
none) rd_opt= ;;
*) die "VN_INITRAMFS_COMPRESSION=$comp: use zstd, gzip, xz, lz4 or none" ;;
esac
if [[ -n $rd_opt && -r $kconfig ]] && ! grep -q "^$rd_opt=y" "$kconfig"; then
	[[ -n ${VN_INITRAMFS_COMPRESSION:-} ]] && die "kernel $kver cannot unpack a $comp initramfs ($rd_opt)"
	say "kernel $kver lacks $rd_opt; using gzip"
	comp=gzip
fi
case $comp in xz) ensure_tool xz xz-utils ;; lz4) ensure_tool lz4 lz4 ;; esac
compress() {
	case $comp in
	zstd) zstd -q -19 -T1 ;;
	xz) xz -q --check=crc32 --x86 --lzma2=preset=9e,dict=1MiB ;;
	lz4) lz4 -q -l -12 ;;  # the kernel reads only the legacy lz4 frame format
	gzip) gzip -9 -n ;;
	none) cat ;;
	esac
}

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
for m in "${wanted_modules[@]+"${wanted_modules[@]}"}"; do visit "$m"; done
say "modules: ${order[*]:-none (built into the kernel)}"

# --- stage --------------------------------------------------------------------------------
mkdir -p "$out"
stage=$(mktemp -d "${TMPDIR:-/tmp}/vn-router-stage.XXXXXX")
tmpout=$(mktemp -d "$out/.build.XXXXXX")
if [[ $mode == install ]]; then
	trap 'rm -rf "$stage" "$tmpout" "$out"' EXIT
else
	trap 'rm -rf "$stage" "$stage.bird" "$tmpout"' EXIT
fi

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
# vn-probe: the prober behind the guest command `probe` (one process per request instead of one busybox
# ping per address); static, so it needs nothing else in the image.
ensure_tool gcc gcc
[[ -e /usr/lib/x86_64-linux-gnu/libc.a ]] || ensure_tool /usr/lib/x86_64-linux-gnu/libc.a libc6-dev
# The same binary is /bin/vn-route (vn-route.c): the init's vn_apply adds all routes with one process
# instead of a busybox `ip route add` per route (one static C library in the image, not two).
gcc -static -Os -s -Wall -Wextra -Werror -ffunction-sections -fdata-sections -Wl,--gc-sections \
	-o "$stage/bin/vn-probe" "$here/vn-probe.c" "$here/vn-route.c" || die "building vn-probe failed"
ln -s vn-probe "$stage/bin/vn-route"
# vn-portwait: the command-channel agent sleeps in it until a host connects, instead of polling the port.
gcc -static -Os -s -Wall -Wextra -Werror -ffunction-sections -fdata-sections -Wl,--gc-sections \
	-o "$stage/bin/vn-portwait" "$here/vn-portwait.c" || die "building vn-portwait failed"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$stage/etc/passwd"
printf 'root:x:0:\n' >"$stage/etc/group"

: >"$stage/lib/modules/load.list"
for m in "${order[@]+"${order[@]}"}"; do
	src=${mod_path[$m]}
	dst=$stage/lib/modules/$m.ko
	case $src in
	*.ko) cp "$src" "$dst" ;;
	*.ko.xz) ensure_tool xz xz-utils && xz -dc "$src" >"$dst" ;;
	*.ko.zst) zstd -qdc "$src" >"$dst" ;;
	*.ko.gz) gzip -dc "$src" >"$dst" ;;
	*) die "unexpected module file $src" ;;
	esac
	# Drop what loading does not need: the local symbols, the BTF type information (used only
	# by BPF tracing; loading a module with BTF makes the kernel parse vmlinux's BTF too) and
	# the appended signature (Debian's kernel does not enforce signatures; an unsigned module
	# only sets the taint flag E, silently under "quiet"). About 14 % of the modules' size.
	strip --strip-unneeded --remove-section=.BTF --remove-section=.comment "$dst" ||
		die "strip $dst failed"
	echo "$m" >>"$stage/lib/modules/load.list"
done
echo "$kver" >"$stage/etc/vn-kernel"

# BIRD 2 (dynamic routing, guest contract 2): bird + birdcl and their libraries.
bird_json=
bird_mode=${VN_BIRD:-1}
case $bird_mode in 0 | 1 | lazy) ;; *) die "VN_BIRD=$bird_mode: use lazy, 1 or 0" ;; esac
if [[ $bird_mode == 1 ]]; then
	bird_pkgs=$("$here/bird-stage.sh" "$stage") || die "staging BIRD failed"
elif [[ $bird_mode == lazy ]]; then
	bstage=$stage.bird
	mkdir -p "$bstage" "$stage/usr/lib/vn"
	bird_pkgs=$("$here/bird-stage.sh" "$bstage") || die "staging BIRD failed"
	# Reproducible: sorted names (usr/sbin/birdcl last: /init checks for it), owner root, fixed mtimes.
	find "$bstage" -exec touch -h -d @0 {} +
	(cd "$bstage" && find . -mindepth 1 | LC_ALL=C sort |
		tar --no-recursion --numeric-owner --owner=0 --group=0 -cf - -T -) | gzip -9 -n >"$stage/usr/lib/vn/bird.tar.gz"
	rm -rf "$bstage"
fi
if [[ $bird_mode != 0 ]]; then
	bird_ver=$(sed -n 's/^bird2 //p' <<<"$bird_pkgs")
	[[ -n $bird_ver ]] || die "bird-stage.sh reported no bird2 version"
	bird_src=$(sed -n 's/^source bird2 //p' <<<"$bird_pkgs")
	read -r _ bird_patch bird_patch_sha < <(grep '^patch ' <<<"$bird_pkgs") || die "bird-stage.sh reported no patch"
	libpkgs=$(grep -v '^\(bird2\|source\|patch\) ' <<<"$bird_pkgs" | awk '{ printf "%s{ \"package\": \"%s\", \"packageVersion\": \"%s\" }", (NR > 1 ? ", " : ""), $1, $2 }')
	bird_json=$(printf '  "bird": { "package": "bird2", "packageVersion": "%s", "built": "from Debian'"'"'s bird2 %s source package with images/router/%s", "sourcePackageVersion": "%s", "patch": "%s", "patchSha256": "%s", "programs": ["bird","birdcl"], "packing": "%s", "libraryPackages": [%s] },\n' \
		"$bird_ver" "$bird_src" "$bird_patch" "$bird_src" "$bird_patch" "$bird_patch_sha" "$([[ $bird_mode == lazy ]] && echo "usr/lib/vn/bird.tar.gz" || echo unpacked)" "$libpkgs")
fi

# Reproducible archive: fixed mtimes, owner root, sorted names, no gzip timestamp.
find "$stage" -exec touch -h -d @0 {} +
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
	cpio --quiet -o -H newc -R 0:0 --reproducible) >"$tmpout/initramfs.cpio"
compress <"$tmpout/initramfs.cpio" >"$tmpout/initramfs.cpio.gz"
cp "$kimage" "$tmpout/vmlinuz"
chmod 0644 "$tmpout/vmlinuz" "$tmpout/initramfs.cpio.gz"

# --- manifest -----------------------------------------------------------------------------
pkgver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo unknown; }
size() { stat -c %s "$1"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
mods_json=$( ((${#order[@]} == 0)) || printf '"%s",' "${order[@]}")
{
	printf '{\n'
	printf '  "image": "virtualnetworks-router",\n'
	printf '  "format": 1,\n'
	printf '  "kernel": { "version": "%s", "package": "%s", "packageVersion": "%s" },\n' \
		"$kver" "$kpkg" "$(pkgver "$kpkg")"
	printf '  "busybox": { "package": "busybox-static", "packageVersion": "%s" },\n' "$(pkgver busybox-static)"
	printf '  "modules": [%s],\n' "${mods_json%,}"
	printf '  "guestContract": 2,\n'
	[[ -n $bird_json ]] && printf '%s\n' "$bird_json"
	printf '  "files": {\n'
	printf '    "vmlinuz": { "size": %s, "sha256": "%s" },\n' "$(size "$tmpout/vmlinuz")" "$(sha "$tmpout/vmlinuz")"
	printf '    "initramfs.cpio.gz": { "size": %s, "sha256": "%s", "compression": "%s", "uncompressedSize": %s }\n' \
		"$(size "$tmpout/initramfs.cpio.gz")" "$(sha "$tmpout/initramfs.cpio.gz")" "$comp" "$(size "$tmpout/initramfs.cpio")"
	printf '  },\n'
	printf '  "totalSize": %s,\n' $(($(size "$tmpout/vmlinuz") + $(size "$tmpout/initramfs.cpio.gz")))
	printf '  "configFwCfgName": "opt/vn/config",\n'
	printf '  "commandPortName": "vn.cmd",\n'
	printf '  "kernelCommandLine": "console=ttyS0 quiet panic=-1 cryptomgr.notests nokaslr no_timer_check",\n'
	printf '  "readyMarker": "VN-READY",\n'
	printf '  "buildDate": "%s"\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	printf '}\n'
} >"$tmpout/manifest.json"

for f in vmlinuz initramfs.cpio.gz manifest.json; do mv -f "$tmpout/$f" "$out/$f"; done
say "done: $out ($(du -ch "$out/vmlinuz" "$out/initramfs.cpio.gz" | tail -n 1 | cut -f1) total)"
ls -l "$out" >&2
if [[ $mode == install ]]; then
	install_image "$out" "$images_dir"
elif [[ ${VN_VHDX:-1} != 0 ]]; then
	"$here/build-vhdx.sh" "${VN_VHDX_OUT:-$(dirname "$out")/router.vhdx}" || die "building router.vhdx failed"
fi
exit 0
