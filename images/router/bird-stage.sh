#!/usr/bin/env bash
# Puts BIRD 2 (Debian's bird2 package: the daemon `bird` and the plain control client `birdcl`) and
# exactly the shared libraries they load into an initramfs staging directory. Used by build.sh
# (Linux image) and build-vhdx.sh (router.vhdx); guest contract 2 (docs/guest-contract.md).
# The packages are downloaded (apt-get download) and unpacked, never installed on this machine.
# The libraries are the ELF NEEDED closure of the two programs, resolved in the unpacked packages
# (bird2 and its library dependencies, recursively); nothing else of the packages is copied
# (no birdc: it needs readline; no configuration files: /init writes bird.conf).
#
# Usage: images/router/bird-stage.sh STAGE_DIR [CACHE_DIR]
#        CACHE_DIR (default <repo>/out/bird-cache) keeps the .deb files; reused while the
#        package versions are unchanged.
#        A library already present in STAGE_DIR (e.g. the C library of the VHDX's KVP daemon) is kept.
# Output on stdout: one line per package used, "<package> <version>" (bird2 first), for the manifest.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
stage=${1:?usage: bird-stage.sh STAGE_DIR [CACHE_DIR]}
cache=${2:-${VN_BIRD_CACHE:-$repo/out/bird-cache}}

die() { echo "bird-stage.sh: error: $*" >&2; exit 1; }
say() { echo "bird-stage.sh: $*" >&2; }
command -v readelf >/dev/null || die "readelf missing (binutils)"
compgen -G '/var/lib/apt/lists/*_Packages' >/dev/null || apt-get update -qq

# bird2 and its library dependencies, recursively (lib* and zlib1g; not adduser/ucf/perl...).
pkgs=(bird2)
queue=(bird2)
declare -A seen=([bird2]=1)
while ((${#queue[@]} > 0)); do
	p=${queue[0]}
	queue=("${queue[@]:1}")
	for d in $(apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces \
		--no-enhances "$p" 2>/dev/null | sed -n 's/^ *|\{0,1\}\(Pre\)\{0,1\}Depends: \([^ <>]*\)$/\2/p'); do
		d=${d%:any}
		case $d in lib* | zlib1g) ;; *) continue ;; esac
		[[ -n ${seen[$d]:-} ]] && continue
		seen[$d]=1
		pkgs+=("$d")
		queue+=("$d")
	done
done

mkdir -p "$cache"
root=$(mktemp -d "${TMPDIR:-/tmp}/vn-bird-root.XXXXXX")
trap 'rm -rf "$root"' EXIT
declare -A ver=()
for p in "${pkgs[@]}"; do
	v=$(apt-cache policy "$p" | sed -n 's/^ *Candidate: //p')
	[[ -n $v && $v != "(none)" ]] || die "package $p is not available"
	ver[$p]=$v
	f=$(compgen -G "$cache/${p}_*.deb" | while read -r d; do
		[[ $(dpkg-deb -f "$d" Package) == "$p" && $(dpkg-deb -f "$d" Version) == "$v" ]] && echo "$d"; done | head -n 1 || true)
	if [[ -z $f ]]; then
		say "downloading $p $v"
		rm -f "$cache/${p}_"*.deb
		(cd "$cache" && apt-get download -q "$p=$v" >/dev/null 2>&1) || die "apt-get download $p=$v failed (apt-get update?)"
		f=$(compgen -G "$cache/${p}_*.deb" | head -n 1)
	fi
	[[ -s $f ]] || die "no .deb for $p"
	dpkg-deb -x "$f" "$root"
done

mkdir -p "$stage/usr/sbin" "$stage/lib/x86_64-linux-gnu" "$stage/lib64"
for b in bird birdcl; do
	[[ -x $root/usr/sbin/$b ]] || die "bird2 has no /usr/sbin/$b"
	install -m 0755 "$root/usr/sbin/$b" "$stage/usr/sbin/$b"
done
# The programs' interpreter (PT_INTERP) must be where the kernel looks for it.
interp=$(readelf -l "$root/usr/sbin/bird" | sed -n 's/.*Requesting program interpreter: \(.*\)]$/\1/p')
[[ $interp == /lib64/ld-linux-x86-64.so.2 ]] || die "unexpected ELF interpreter '$interp'"

# NEEDED closure, searched in the multiarch directories of the unpacked packages (ld.so's default
# search path in Debian's build, so no ld.so.cache is needed in the guest).
find_lib() {
	local d
	for d in lib/x86_64-linux-gnu usr/lib/x86_64-linux-gnu; do
		[[ -e $root/$d/$1 ]] && { echo "$root/$d/$1"; return 0; }
	done
	return 1
}
declare -A done_lib=()
libs=()
todo=("$root/usr/sbin/bird" "$root/usr/sbin/birdcl")
while ((${#todo[@]} > 0)); do
	f=${todo[0]}
	todo=("${todo[@]:1}")
	for n in $(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p'); do
		[[ -n ${done_lib[$n]:-} ]] && continue
		done_lib[$n]=1
		l=$(find_lib "$n") || die "library $n (needed by ${f##*/}) is in none of: ${pkgs[*]}"
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
say "bird ${ver[bird2]}: bird, birdcl and ${#libs[@]} libraries (${libs[*]}); $(du -cb "$stage/usr/sbin/bird" "$stage/usr/sbin/birdcl" $(printf "$stage/lib/x86_64-linux-gnu/%s " "${libs[@]}") | tail -n 1 | cut -f1) bytes"

# Packages that contributed a file (for the manifest).
for p in "${pkgs[@]}"; do
	used=0
	[[ $p == bird2 ]] && used=1
	listing=$(dpkg-deb -c "$(compgen -G "$cache/${p}_*.deb" | head -n 1)")
	for n in "${libs[@]}"; do
		grep -q "/$n\$\|/$n -> " <<<"$listing" && { used=1; break; }
	done
	[[ $used == 1 ]] && echo "$p ${ver[$p]}"
done
exit 0
