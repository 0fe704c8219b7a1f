#!/usr/bin/env bash
# PROTOTYPE: builds a minimal router guest kernel from Debian's own kernel source package
# (linux-source-<series>): `make tinyconfig` + router.config (merged with merge_config.sh),
# everything built in (no modules), and copies the bzImage to OUT_DIR/vmlinuz.
# Not used by build.sh or CI; see README.md in this directory.
#
# Usage: sudo images/router/kernel/build-kernel.sh OUT_DIR
# Env:   VN_KSRC_SERIES     linux-source series (default 6.1, Debian 12's kernel)
#        VN_KWORK           work directory (default /tmp/vnkernel); the source is unpacked there
#        VN_KCOMPRESSION    kernel compression: zstd (default) | xz | lz4 | gzip | lzma | lzo
#        VN_KJOBS           make -j (default 2)
# Output: OUT_DIR/vmlinuz (bzImage), OUT_DIR/kernel.config (the full .config),
#         OUT_DIR/kernel-build.txt (source package version, compression, sizes)
# Reproducible: fixed KBUILD_BUILD_TIMESTAMP/USER/HOST, the source tree is unpacked afresh
# from the Debian tarball each time (same packages -> byte-identical vmlinuz).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:?usage: build-kernel.sh OUT_DIR}
series=${VN_KSRC_SERIES:-6.1}
work=${VN_KWORK:-/tmp/vnkernel}
comp=${VN_KCOMPRESSION:-zstd}
jobs=${VN_KJOBS:-2}
fragment=$here/router.config

die() { echo "build-kernel.sh: error: $*" >&2; exit 1; }
say() { echo "build-kernel.sh: $*" >&2; }

[[ $EUID -eq 0 ]] || die "run as root (installs Debian packages with apt-get)"
case $comp in xz | zstd | lz4 | gzip | lzma | lzo) ;; *) die "VN_KCOMPRESSION=$comp unknown" ;; esac

# --- Debian packages ----------------------------------------------------------------------
pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
needed=("linux-source-$series" build-essential bc bison flex libelf-dev libssl-dev cpio xz-utils zstd)
case $comp in lz4) needed+=(lz4) ;; lzo) needed+=(lzop) ;; esac
missing=()
for p in "${needed[@]}"; do pkg_installed "$p" || missing+=("$p"); done
if [[ ${#missing[@]} -gt 0 ]]; then
	compgen -G '/var/lib/apt/lists/*_Packages' >/dev/null || apt-get update -qq
	say "installing: ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
		die "apt-get install ${missing[*]} failed"
fi
tarball=/usr/src/linux-source-$series.tar.xz
[[ -r $tarball ]] || die "$tarball missing"
srcver=$(dpkg-query -W -f='${Version}' "linux-source-$series")

# --- source -------------------------------------------------------------------------------
mkdir -p "$work"
src=$work/linux-source-$series
rm -rf "$src"
say "unpacking $tarball ($srcver)"
tar -C "$work" -xJf "$tarball"
[[ -d $src ]] || die "$src missing after unpacking"

# --- configuration ------------------------------------------------------------------------
mk() { make -C "$src" ARCH=x86_64 "$@"; }
mk -s tinyconfig >/dev/null
frag=$work/router.config.effective
cp "$fragment" "$frag"
# tinyconfig picks KERNEL_XZ; another compression replaces it.
if [[ $comp != xz ]]; then
	printf '# CONFIG_KERNEL_XZ is not set\nCONFIG_KERNEL_%s=y\n' "${comp^^}" >>"$frag"
else
	echo "CONFIG_KERNEL_XZ=y" >>"$frag"
fi
(cd "$src" && ARCH=x86_64 scripts/kconfig/merge_config.sh -m .config "$frag" >/dev/null)
mk -s olddefconfig
# Every option the fragment asks for must have survived olddefconfig (a missing dependency
# silently drops an option otherwise).
bad=0
while IFS= read -r line; do
	case $line in
	CONFIG_*=*) k=${line%%=*} v=${line#*=} ;;
	'# CONFIG_'*' is not set') k=${line#\# } k=${k%% *} v=n ;;
	*) continue ;;
	esac
	have=$(sed -n "s/^$k=//p" "$src/.config")
	[[ -n $have ]] || have=n
	[[ $have == "$v" ]] || { say "option $k: wanted $v, got $have"; bad=1; }
done <"$frag"
[[ $bad -eq 0 ]] || die "the configuration does not contain what router.config asks for"

# --- build --------------------------------------------------------------------------------
# The timestamp must be a date `date -d` understands: usr/gen_initramfs.sh also stamps the
# (empty) built-in initramfs with it, and falls back to the current time otherwise. The source
# tarball's mtime comes from the Debian package, so it is fixed per package version.
KBUILD_BUILD_TIMESTAMP=$(date -u -d "@$(stat -c %Y "$tarball")" '+%Y-%m-%d %H:%M:%S UTC')
export KBUILD_BUILD_TIMESTAMP KBUILD_BUILD_USER=vn KBUILD_BUILD_HOST=virtualnetworks
say "building bzImage (make -j$jobs)"
t0=$SECONDS
mk -j"$jobs" bzImage >"$work/build.log" 2>&1 || { tail -n 30 "$work/build.log" >&2; die "kernel build failed (log: $work/build.log)"; }
secs=$((SECONDS - t0))

mkdir -p "$out"
install -m 0644 "$src/arch/x86/boot/bzImage" "$out/vmlinuz.tmp"
mv -f "$out/vmlinuz.tmp" "$out/vmlinuz"
install -m 0644 "$src/.config" "$out/kernel.config"
{
	echo "source linux-source-$series $srcver"
	echo "kernel $(mk -s kernelrelease)"
	echo "compression $comp"
	echo "vmlinuz $(stat -c %s "$out/vmlinuz")"
	echo "vmlinux $(stat -c %s "$src/vmlinux")"
	echo "config_lines $(grep -c . "$src/.config")"
	echo "config_enabled $(grep -c '=y$' "$src/.config")"
	echo "build_seconds $secs (make -j$jobs, $(nproc) cores)"
} >"$out/kernel-build.txt"
say "done: $out/vmlinuz ($(stat -c %s "$out/vmlinuz") bytes, $comp, built in $secs s)"
