#!/usr/bin/env bash
# Builds BIRD 2 from Debian's own bird2 source package with our patch (bird-ospf.patch:
# OSPF's dispatcher period below a second, `tick 100 ms`, and a routing table calculation after every
# router-LSA update) and puts the daemon `bird`, the plain
# control client `birdcl` and exactly the shared libraries they load into an initramfs staging
# directory. Used by build.sh (Linux image) and build-vhdx.sh (router.vhdx); guest contract 2
# (docs/guest-contract.md).
#
# Source: the source package of the bird2 version apt offers this machine (apt-cache policy), fetched
# with `apt-get source --download-only` through a private source list (deb-src for the same mirror,
# suite and component that carry the bird2 binary package here; lists and caches in CACHE_DIR, the
# machine's apt configuration is not touched; apt checks the files against the signed Sources index).
# Unpacked with dpkg-source -x (Debian's patches applied), then our patch (patch --fuzz=0: a newer
# Debian source it does not fit stops the build). Configured like debian/rules (same prefix/paths,
# hardening build flags, all protocols) minus what the image does not need: no birdc (readline,
# ncurses: --disable-client still builds birdcl) and no RPKI over SSH (--disable-libssh). So both
# programs need only the C library. Stripped like dh_strip. Built under nice with make -j2 (about
# 1 min of wall time on 2 cores; the compiler, bison, flex, m4, dpkg-dev... are installed with apt-get
# when missing, like the other recipe scripts).
#
# Usage: images/router/bird-stage.sh STAGE_DIR [CACHE_DIR]
#        CACHE_DIR (default <repo>/out/bird-cache, or VN_BIRD_CACHE) keeps the downloaded source
#        (src/) and the built programs in bird2-<source version>-<key>/, key = sha256 of the patch
#        and this script: reused while neither nor the source version changes (rebuilds take ~1 s).
#        The libraries are those of this machine (the ones the programs were linked against),
#        resolved as the ELF NEEDED closure in the multiarch directories (ld.so's default search
#        path, so no ld.so.cache is needed in the guest). A library already present in STAGE_DIR
#        (e.g. the C library of the VHDX's KVP daemon) is kept.
# Output on stdout, for the manifest, one line each:
#        bird2 <source version>+<our revision>      e.g. "bird2 2.0.12-7+vn2" (first line)
#        source bird2 <Debian source version>
#        patch <patch file name> <sha256>
#        <package> <version>                         each package of this machine that gave a library
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
stage=${1:?usage: bird-stage.sh STAGE_DIR [CACHE_DIR]}
cache=${2:-${VN_BIRD_CACHE:-$repo/out/bird-cache}}
patch_file=$here/bird-ospf.patch
vn_rev=vn2 # bump with every change of the patch

die() { echo "bird-stage.sh: error: $*" >&2; exit 1; }
say() { echo "bird-stage.sh: $*" >&2; }
[[ -s $patch_file ]] || die "$patch_file missing"
[[ $stage == /* ]] || stage=$PWD/$stage
[[ $cache == /* ]] || cache=$PWD/$cache

apt_lists_present() { compgen -G '/var/lib/apt/lists/*_Packages' >/dev/null; }
apt_lists_present || apt-get update -qq
pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

# --- which source ------------------------------------------------------------------------------
policy=$(apt-cache policy bird2)
binver=$(sed -n 's/^ *Candidate: //p' <<<"$policy")
[[ -n $binver && $binver != "(none)" ]] || die "package bird2 is not available (apt-get update?)"
srcver=$(apt-cache show "bird2=$binver" 2>/dev/null | sed -n 's/^Source: bird2 (\(.*\))$/\1/p' | head -n 1)
srcver=${srcver:-$binver}
# The archive that carries the candidate: the first "<prio> <uri> <suite>/<component> <arch> Packages"
# line under its entry in the version table.
read -r src_uri src_dist < <(awk -v v="$binver" '
	/^ *Version table:/ { t = 1; next }
	t && $0 ~ "^ (\\*\\*\\*)? +" && ($1 == v || $2 == v) { c = 1; next }
	c && $NF == "Packages" && $2 ~ /^[a-z]+:\/\// { print $2, $3; exit }' <<<"$policy") || true
[[ -n ${src_uri:-} && ${src_dist:-} == */* ]] || die "cannot tell which archive carries bird2 $binver (apt-cache policy bird2)"
src_suite=${src_dist%%/*}
src_comp=${src_dist#*/}
patch_sha=$(sha256sum "$patch_file" | cut -d' ' -f1)
key=$(cat "$patch_file" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-16)
ver="${srcver}+$vn_rev"
built=$cache/bird2-${srcver//[:\/]/_}-$key

# --- build (unless cached) ---------------------------------------------------------------------
if [[ ! -x $built/bird || ! -x $built/birdcl ]]; then
	needed=(binutils bison build-essential dpkg-dev flex m4 make patch xz-utils)
	missing=()
	for p in "${needed[@]}"; do pkg_installed "$p" || missing+=("$p"); done
	if ((${#missing[@]} > 0)); then
		say "installing: ${missing[*]}"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
			die "apt-get install ${missing[*]} failed"
	fi
	srcdir=$cache/src
	dsc=$srcdir/bird2_${srcver#*:}.dsc
	mkdir -p "$srcdir"
	if [[ ! -s $dsc ]]; then
		priv=$cache/apt
		rm -rf "$priv"
		mkdir -p "$priv/lists/partial" "$priv/cache/archives/partial"
		echo "deb-src $src_uri $src_suite $src_comp" >"$priv/sources.list"
		aptopts=(-q -o "Dir::Etc::SourceList=$priv/sources.list" -o Dir::Etc::SourceParts=/nonexistent
			-o "Dir::State::Lists=$priv/lists" -o "Dir::Cache=$priv/cache" -o APT::Sandbox::User=root)
		say "downloading the source of bird2 $srcver (deb-src $src_uri $src_suite $src_comp)"
		apt-get "${aptopts[@]}" update >/dev/null || die "apt-get update (deb-src $src_uri $src_suite $src_comp) failed"
		(cd "$srcdir" && apt-get "${aptopts[@]}" source --download-only "bird2=$srcver" >/dev/null) ||
			die "apt-get source bird2=$srcver failed"
		rm -rf "$priv"
		[[ -s $dsc ]] || die "no $dsc after apt-get source"
	fi
	work=$(mktemp -d "${TMPDIR:-/tmp}/vn-bird-build.XXXXXX")
	trap 'rm -rf "$work"' EXIT
	say "building bird2 $ver (Debian's source + ${patch_file##*/}) in $work"
	t0=$(date +%s)
	dpkg-source -x "$dsc" "$work/src" >"$work/dpkg-source.log" 2>&1 ||
		{ cat "$work/dpkg-source.log" >&2; die "dpkg-source -x $dsc failed"; }
	patch -d "$work/src" -p1 --fuzz=0 --no-backup-if-mismatch -s <"$patch_file" ||
		die "${patch_file##*/} does not apply to bird2 $srcver"
	export DEB_BUILD_MAINT_OPTIONS=hardening=+all
	# debian/rules: CFLAGS/LDFLAGS from dpkg-buildflags plus these.
	extra="-g -O2 -fno-strict-aliasing -fno-strict-overflow -fPIC"
	(
		cd "$work/src"
		CPPFLAGS="$(dpkg-buildflags --get CPPFLAGS)" \
			CFLAGS="$(dpkg-buildflags --get CFLAGS) $extra" \
			LDFLAGS="$(dpkg-buildflags --get LDFLAGS) $extra -Wl,-z,defs -Wl,--as-needed" \
			nice -n 19 ./configure --prefix=/usr --sysconfdir=/etc/bird --localstatedir=/var --runstatedir=/run/bird \
			--with-protocols=all --disable-client --disable-libssh >"$work/configure.log" 2>&1 ||
			{ tail -n 20 "$work/configure.log" >&2; exit 1; }
		nice -n 19 make -j2 bird birdcl >"$work/make.log" 2>&1 || { tail -n 30 "$work/make.log" >&2; exit 1; }
	) || die "building bird2 failed"
	mkdir -p "$built.tmp"
	for b in bird birdcl; do
		strip --remove-section=.comment --remove-section=.note --strip-unneeded -o "$built.tmp/$b" "$work/src/$b"
		chmod 0755 "$built.tmp/$b"
	done
	printf '%s\n' "$ver" >"$built.tmp/version"
	rm -rf "$built"
	mv "$built.tmp" "$built"
	# Older builds (another source version or patch) are not needed any more.
	for d in "$cache"/bird2-*; do [[ $d == "$built" ]] || rm -rf "$d"; done
	say "built in $(($(date +%s) - t0)) s"
	rm -rf "$work"
	trap - EXIT
fi
"$built/bird" --version 2>&1 | grep -q '^BIRD version 2\.' || die "$built/bird does not run"

# --- stage ---------------------------------------------------------------------------------------
mkdir -p "$stage/usr/sbin" "$stage/lib/x86_64-linux-gnu" "$stage/lib64"
for b in bird birdcl; do install -m 0755 "$built/$b" "$stage/usr/sbin/$b"; done
# The programs' interpreter (PT_INTERP) must be where the kernel looks for it.
interp=$(readelf -l "$built/bird" | sed -n 's/.*Requesting program interpreter: \(.*\)]$/\1/p')
[[ $interp == /lib64/ld-linux-x86-64.so.2 ]] || die "unexpected ELF interpreter '$interp'"

find_lib() {
	local d
	for d in /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu; do
		[[ -e $d/$1 ]] && { echo "$d/$1"; return 0; }
	done
	return 1
}
declare -A done_lib=()
libs=()
todo=("$built/bird" "$built/birdcl")
while ((${#todo[@]} > 0)); do
	f=${todo[0]}
	todo=("${todo[@]:1}")
	for n in $(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p'); do
		[[ -n ${done_lib[$n]:-} ]] && continue
		done_lib[$n]=1
		l=$(find_lib "$n") || die "library $n (needed by ${f##*/}) not found"
		libs+=("$n")
		todo+=("$l")
	done
done
for n in "${libs[@]}"; do
	[[ -e $stage/lib/x86_64-linux-gnu/$n ]] && continue
	cp -L "$(find_lib "$n")" "$stage/lib/x86_64-linux-gnu/$n"
	chmod 0755 "$stage/lib/x86_64-linux-gnu/$n"
done
[[ -e $stage/lib64/ld-linux-x86-64.so.2 ]] || ln -s ../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$stage/lib64/ld-linux-x86-64.so.2"
say "bird $ver: bird, birdcl and ${#libs[@]} libraries (${libs[*]}); $(du -cb "$stage/usr/sbin/bird" "$stage/usr/sbin/birdcl" $(printf "$stage/lib/x86_64-linux-gnu/%s " "${libs[@]}") | tail -n 1 | cut -f1) bytes"

echo "bird2 $ver"
echo "source bird2 $srcver"
echo "patch ${patch_file##*/} $patch_sha"
# The packages of this machine that gave a library.
declare -A lib_pkgs=()
for n in "${libs[@]}"; do
	p=$(dpkg-query -S "$(readlink -f "$(find_lib "$n")")" 2>/dev/null | head -n 1 | cut -d: -f1) ||
		p=$(dpkg-query -S "$(find_lib "$n")" 2>/dev/null | head -n 1 | cut -d: -f1) || true
	[[ -n $p ]] || p=$(dpkg-query -S "/lib/x86_64-linux-gnu/$n" "/usr/lib/x86_64-linux-gnu/$n" 2>/dev/null | head -n 1 | cut -d: -f1) || true
	[[ -n $p ]] || die "no package owns $n"
	[[ -n ${lib_pkgs[$p]:-} ]] && continue
	lib_pkgs[$p]=1
	echo "$p $(dpkg-query -W -f='${Version}' "$p")"
done
exit 0
