#!/usr/bin/env bash
# Regenerates the Hyper-V simulator's schema data from microsoft/wmi (wmigen output, MIT).
#   tools/WmiSchemaGen/generate.sh [GIT_DIR [COMMIT]]
# GIT_DIR: a clone (bare is fine) of https://github.com/microsoft/wmi (default /work/.mirror/microsoft+wmi/repo);
# COMMIT: default HEAD. Only the Go sources of <version>/root/virtualization/v2 and <version>/root/cimv2 are extracted
# (git archive, into a temporary directory that is removed afterwards); the output holds derived facts only.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo_root="$(cd "$here/../.." && pwd)"
git_dir="${1:-/work/.mirror/microsoft+wmi/repo}"
commit="$(git --git-dir="$git_dir" rev-parse "${2:-HEAD}^{commit}")"
out_dir="$repo_root/tests/VirtualNetworks.HyperV.Simulator/Schema"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
versions=(server2019 server23h2)
paths=()
for v in "${versions[@]}"; do paths+=("$v/root/virtualization/v2" "$v/root/cimv2"); done
git --git-dir="$git_dir" archive "$commit" "${paths[@]}" | tar -x -C "$tmp"
dotnet build "$here/WmiSchemaGen.csproj" -nologo -v q -c Release -o "$tmp/bin" >/dev/null
for v in "${versions[@]}"; do
  dotnet "$tmp/bin/WmiSchemaGen.dll" --source "$tmp" --version "$v" --commit "$commit" --out "$out_dir/wmi-$v.json"
done
