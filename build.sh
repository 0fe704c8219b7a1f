#!/usr/bin/env bash
# POSIX-side twin of build.ps1: the same steps, in the same order (it restores the pinned pwsh; build.ps1 needs one).
#
#   ./build.sh build [Debug|Release]   build the solution and stage out/VirtualNetworks/
#   ./build.sh test  [Debug|Release]   install prerequisites, build the router images, build + stage through build.ps1
#                                      in pwsh, then run every xunit project (the Linux end-to-end tests boot real VMs
#                                      as root), the Pester suites, the router.vhdx self-test and the package round
#                                      trip; prints "N passed, N failed, N skipped" over all of them
#   ./build.sh demo  [Debug|Release]   install prerequisites, build the router image, build + stage, then run
#                                      examples/figure1.ps1 in pwsh (needs root: bridges, taps, QEMU)
#   ./build.sh package [Debug|Release] build + stage, then publish out/VirtualNetworks with Publish-PSResource into the
#                                      local repository out/repository (registered as VirtualNetworksLocal):
#                                      out/repository/VirtualNetworks.<version>.nupkg (tools/Publish-Package.ps1)
#   ./build.sh clean                   dotnet clean, and remove out/ and TestResults/
#
# Configuration defaults to Debug (or $CONFIGURATION). Never prompts; safe for CI (no stdin, root).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"

SOLUTION="VirtualNetworks.sln"
MODULE_PROJECT="src/VirtualNetworks/VirtualNetworks.csproj"
HELPGEN_PROJECT="tools/HelpGen/HelpGen.csproj"
STAGE="out/VirtualNetworks"
PUBLISH="out/.publish"
EXPECTED="tools/expected-files.txt"
RESULTS="TestResults"

export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
# Quiet, but errors (and warnings) stay visible; no interactive terminal logger.
DOTNET_QUIET=(-nologo -v quiet -clp:NoSummary --tl:off)

step() { printf '==> %s\n' "$*"; }
die() { printf 'build.sh: %s\n' "$*" >&2; exit 1; }

# System packages the Linux backend needs at run time (QEMU, ip/bridge/tc, the guest's busybox). The router image
# recipe (images/router/build.sh) installs what it needs itself (kernel, cpio, kmod, ...). Missing packages are
# installed non-interactively when running as root (CI runs as root on a fresh clone).
APT_PACKAGES=(qemu-system-x86 iproute2 busybox-static)
IMAGE_DIR="out/images/router"
IMAGE_RECIPE="images/router"
# The files of the recipe that go into the images (README.md and the selftests do not).
IMAGE_INPUTS=("$IMAGE_RECIPE/build.sh" "$IMAGE_RECIPE/build-vhdx.sh" "$IMAGE_RECIPE/bird-stage.sh" "$IMAGE_RECIPE/bird-ospf.patch" "$IMAGE_RECIPE/init" "$IMAGE_RECIPE/vn-probe.c" "$IMAGE_RECIPE/vn-portwait.c" "$IMAGE_RECIPE/vn-route.c" "$IMAGE_RECIPE/vn-decimal.h" "$IMAGE_RECIPE/kernel/build-kernel.sh" "$IMAGE_RECIPE/kernel/router.config")
# Relative to IMAGE_DIR: the Hyper-V image (router.vhdx) is written next to the folder, in out/images.
IMAGE_OUTPUTS=(vmlinuz initramfs.cpio.gz manifest.json ../router.vhdx ../router.vhdx.json)

is_root() { [ "$(id -u)" -eq 0 ]; }

# ensure_prereqs [required]: installs missing APT_PACKAGES. With "required" (the demo) a missing package that
# cannot be installed (not root, no apt) is fatal; otherwise (tests) it is a warning and the tests that need it
# skip themselves (or fail when CI=true).
ensure_prereqs() {
    local required="${1:-}"
    command -v dotnet >/dev/null 2>&1 || die "the .NET SDK (dotnet) is not on PATH; see global.json for the version."
    local missing=() p
    if command -v dpkg-query >/dev/null 2>&1; then
        for p in "${APT_PACKAGES[@]}"; do
            dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
        done
    else
        command -v qemu-system-x86_64 >/dev/null 2>&1 || missing+=(qemu-system-x86)
        command -v ip >/dev/null 2>&1 || missing+=(iproute2)
    fi
    ((${#missing[@]})) || return 0
    if ! is_root || ! command -v apt-get >/dev/null 2>&1; then
        local why="missing packages: ${missing[*]} (install them with apt-get, or run as root)"
        [ -n "$required" ] && die "$why"
        printf 'build.sh: warning: %s; the tests that need them will be skipped\n' "$why" >&2
        return 0
    fi
    step "Installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null
}

# True when out/images/router lacks a file or is older than a recipe input.
image_stale() {
    local o i
    for o in "${IMAGE_OUTPUTS[@]}"; do
        [ -s "$IMAGE_DIR/$o" ] || return 0
        for i in "${IMAGE_INPUTS[@]}"; do
            [ "$i" -nt "$IMAGE_DIR/$o" ] && return 0
        done
    done
    return 1
}

# ensure_image [required]: builds the router OS image with images/router/build.sh when it is missing or stale.
# Needs root (apt-get, /dev/console in the image). Not root: fatal with "required", else a warning.
ensure_image() {
    local required="${1:-}"
    image_stale || return 0
    if ! is_root; then
        local why="the router image $IMAGE_DIR is missing or older than $IMAGE_RECIPE/; build it as root: sudo $IMAGE_RECIPE/build.sh"
        [ -n "$required" ] && die "$why"
        printf 'build.sh: warning: %s; the tests that need it will be skipped\n' "$why" >&2
        return 0
    fi
    step "Building the router image ($IMAGE_RECIPE/build.sh -> $IMAGE_DIR)"
    bash "$IMAGE_RECIPE/build.sh" "$ROOT/$IMAGE_DIR" </dev/null || die "$IMAGE_RECIPE/build.sh failed"
    image_stale && die "$IMAGE_RECIPE/build.sh did not produce ${IMAGE_OUTPUTS[*]} in $IMAGE_DIR"
    return 0
}

# The pinned tools the build and the tests use, restored from NuGet: PowerShell (pwsh, a local .NET tool, version in
# .config/dotnet-tools.json) and Pester (tools/Pester/Pester.Restore.csproj). Writes out/tools/pwsh, a launcher of the
# restored pwsh (so scripts and tests need not be in the repository to run it), out/tools/pwsh.path (the path of its
# pwsh.dll, which the tests run with dotnet) and out/tools/pester.path (the path of the restored Pester manifest).
TOOLS="out/tools"
PWSH_VERSION_FILE=".config/dotnet-tools.json"
PESTER_PROJECT="tools/Pester/Pester.Restore.csproj"
ensure_tools() {
    step "Restoring tools (pwsh, Pester)"
    dotnet tool restore >/dev/null </dev/null || die "dotnet tool restore failed (PowerShell, $PWSH_VERSION_FILE)"
    dotnet restore "$PESTER_PROJECT" "${DOTNET_QUIET[@]}" </dev/null || die "restoring Pester failed ($PESTER_PROJECT)"
    local packages pwsh_version pester_version pwsh_dir pester
    packages="$(dotnet nuget locals global-packages -l </dev/null | sed -n 's/^global-packages: //p')"
    packages="${packages%/}"
    pwsh_version="$(sed -n '/"powershell"/,/}/s/.*"version": *"\([^"]*\)".*/\1/p' "$PWSH_VERSION_FILE")"
    pester_version="$(sed -n 's/.*PackageDownload Include="Pester" Version="\[\([^]]*\)\]".*/\1/p' "$PESTER_PROJECT")"
    pwsh_dir="$packages/powershell/$pwsh_version/tools/net10.0/any/unix"
    pester="$packages/pester/$pester_version/tools/Pester.psd1"
    [ -f "$pwsh_dir/pwsh.dll" ] || die "pwsh $pwsh_version was restored but $pwsh_dir/pwsh.dll is missing"
    [ -f "$pester" ] || die "Pester $pester_version was restored but $pester is missing"
    mkdir -p "$TOOLS"
    printf '#!/bin/sh\n# pwsh %s restored by build.sh (dotnet tool restore); written by build.sh\nexec dotnet "%s/pwsh.dll" "$@"\n' \
        "$pwsh_version" "$pwsh_dir" > "$TOOLS/pwsh"
    chmod 755 "$TOOLS/pwsh"
    printf '%s\n' "$pwsh_dir/pwsh.dll" > "$TOOLS/pwsh.path"
    printf '%s\n' "$pester" > "$TOOLS/pester.path"
}
PWSH="$ROOT/$TOOLS/pwsh"

# One MSBuild property of a project (evaluation only, no build).
msbuild_property() { # project property
    dotnet msbuild "$1" -nologo "-getProperty:$2" "-p:Configuration=$CONFIG" </dev/null
}

do_clean() {
    step "Cleaning"
    for c in Debug Release; do
        dotnet clean "$SOLUTION" "${DOTNET_QUIET[@]}" -c "$c" </dev/null
    done
    rm -rf out "$RESULTS"
}

do_build() {
    ensure_tools
    step "Building $SOLUTION ($CONFIG)"
    dotnet build "$SOLUTION" "${DOTNET_QUIET[@]}" -c "$CONFIG" </dev/null

    step "Publishing the cmdlet assembly with its dependencies"
    rm -rf "$PUBLISH"
    dotnet publish "$MODULE_PROJECT" "${DOTNET_QUIET[@]}" -c "$CONFIG" --no-build -o "$PUBLISH" </dev/null

    step "Staging $STAGE"
    local version
    version="$(msbuild_property "$MODULE_PROJECT" VersionPrefix)"
    [ -n "$version" ] || die "VersionPrefix is empty (Directory.Build.props)"
    rm -rf "$STAGE"
    mkdir -p "$STAGE/en-US"
    # The manifest: the source one with ModuleVersion '0.0.0' replaced by the version.
    grep -Eq "^[[:space:]]*ModuleVersion[[:space:]]*=[[:space:]]*'0\.0\.0'" VirtualNetworks.psd1 \
        || die "VirtualNetworks.psd1 must hold the line ModuleVersion = '0.0.0' (the placeholder stamped at staging)"
    sed -E "s/^([[:space:]]*ModuleVersion[[:space:]]*=[[:space:]]*)'0\.0\.0'/\1'$version'/" VirtualNetworks.psd1 > "$STAGE/VirtualNetworks.psd1"
    stamp_release_notes "$version" "$STAGE/VirtualNetworks.psd1"
    cp LICENSE "$STAGE/"
    local f
    for f in VirtualNetworks.dll VirtualNetworks.Core.dll VirtualNetworks.Linux.dll VirtualNetworks.HyperV.dll Newtonsoft.Json.dll; do
        [ -f "$PUBLISH/$f" ] && cp "$PUBLISH/$f" "$STAGE/"
    done
    [ -f src/VirtualNetworks/VirtualNetworks.format.ps1xml ] && cp src/VirtualNetworks/VirtualNetworks.format.ps1xml "$STAGE/"

    step "Generating help (docs/help -> $STAGE/en-US)"
    local helpgen
    helpgen="$(msbuild_property "$HELPGEN_PROJECT" TargetPath)"
    [ -f "$PUBLISH/VirtualNetworks.dll" ] || die "$PUBLISH/VirtualNetworks.dll was not produced"
    dotnet "$helpgen" --assembly "$PUBLISH/VirtualNetworks.dll" --help-dir docs/help --out "$STAGE/en-US" </dev/null \
        || die "help generation failed (see the gaps above; format: docs/help-format.md)"

    check_staged
    step "Staged $STAGE (version $version)"
}

# stamp_release_notes VERSION MANIFEST: replaces the line ReleaseNotes = 'Stamped at staging from CHANGELOG.md.' of the
# staged manifest with the section "## [VERSION]" of CHANGELOG.md, else "## [Unreleased]" (blank lines around it dropped,
# every quote PowerShell ends a single-quoted string with doubled). build.ps1 does the same, byte for byte.
stamp_release_notes() {
    local version="$1" manifest="$2" notes heading
    notes="$(mktemp)"
    for heading in "## [$version]" "## [Unreleased]"; do
        awk -v h="$heading" 'index($0, "## ") == 1 { if (f) exit; if (index($0, h) == 1) { f = 1; next } } f' CHANGELOG.md \
            | sed "s/'/''/g; s/‘/‘‘/g; s/’/’’/g; s/‚/‚‚/g; s/‛/‛‛/g" > "$notes"
        grep -q '[^[:space:]]' "$notes" && break
    done
    grep -q '[^[:space:]]' "$notes" || { rm -f "$notes"; die "CHANGELOG.md has no section '## [$version]' nor '## [Unreleased]' for the ReleaseNotes"; }
    local placeholder="^[[:space:]]*ReleaseNotes[[:space:]]*=[[:space:]]*'Stamped at staging from CHANGELOG[.]md[.]'[[:space:]]*\$"
    grep -Eq "$placeholder" "$manifest" \
        || { rm -f "$notes"; die "VirtualNetworks.psd1 must hold the line ReleaseNotes = 'Stamped at staging from CHANGELOG.md.'"; }
    awk -v notes="$notes" -v placeholder="$placeholder" '
        BEGIN { while ((getline line < notes) > 0) lines[++n] = line
                first = 1; while (first <= n && lines[first] ~ /^[[:space:]]*$/) first++
                last = n; while (last >= first && lines[last] ~ /^[[:space:]]*$/) last-- }
        $0 ~ placeholder { sub(/\047.*/, ""); printf "%s\047", $0
                           for (i = first; i <= last; i++) printf "%s%s", lines[i], (i < last ? "\n" : "")
                           print "\047"; next }
        { print }' "$manifest" > "$manifest.tmp"
    mv "$manifest.tmp" "$manifest"
    rm -f "$notes"
}

# The staged tree must match tools/expected-files.txt exactly.
check_staged() {
    local expected actual missing unexpected
    expected="$(grep -v '^[[:space:]]*#' "$EXPECTED" | sed 's/[[:space:]]*$//' | grep -v '^$' | sort)"
    actual="$(cd "$STAGE" && find . -type f | sed 's|^\./||' | sort)"
    missing="$(comm -23 <(printf '%s\n' "$expected") <(printf '%s\n' "$actual"))"
    unexpected="$(comm -13 <(printf '%s\n' "$expected") <(printf '%s\n' "$actual"))"
    if [ -n "$missing" ] || [ -n "$unexpected" ]; then
        [ -z "$missing" ] || printf 'build.sh: missing from %s:\n%s\n' "$STAGE" "$(printf '%s\n' "$missing" | sed 's/^/  - /')" >&2
        [ -z "$unexpected" ] || printf 'build.sh: not in %s but staged:\n%s\n' "$EXPECTED" "$(printf '%s\n' "$unexpected" | sed 's/^/  - /')" >&2
        exit 1
    fi
}

do_test() {
    ensure_prereqs
    ensure_image
    # The build of the test run goes through build.ps1 in the restored pwsh (its twin; both stage the same tree), so CI
    # proves build.ps1 on Linux too.
    ensure_tools
    step "Building with build.ps1 in pwsh ($CONFIG)"
    "$PWSH" -NoProfile -NonInteractive -File build.ps1 -Configuration "$CONFIG" </dev/null || die "build.ps1 failed"
    check_staged
    step "Testing ($CONFIG)"
    rm -rf "$RESULTS"
    local rc=0
    # The tests use the router image just built: the per-machine folder (/var/lib/virtualnetworks/images) comes before
    # out/images in the search order, and an older image installed there must not be what is tested.
    export VIRTUALNETWORKS_IMAGE_PATH="$ROOT/out/images"
    # The module tests import the staged module.
    VIRTUALNETWORKS_MODULE="$ROOT/$STAGE/VirtualNetworks.psd1" \
        dotnet test "$SOLUTION" -nologo -c "$CONFIG" --no-build --tl:off -v quiet \
        --logger "trx" --results-directory "$RESULTS" </dev/null || rc=$?

    # Sum the TRX counters of every test project: failed = failed + error + timeout + aborted;
    # skipped = total - executed (xunit's skipped tests are not counted in notExecuted).
    local passed=0 failed=0 skipped=0 trx counters
    counter() { local n; n="$(sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p" <<<"$counters")"; printf '%s' "${n:-0}"; }
    shopt -s nullglob
    local files=("$RESULTS"/*.trx)
    for trx in "${files[@]}"; do
        counters="$(grep -o '<Counters [^>]*>' "$trx" | head -n1)"
        passed=$((passed + $(counter passed)))
        failed=$((failed + $(counter failed) + $(counter error) + $(counter timeout) + $(counter aborted)))
        skipped=$((skipped + $(counter total) - $(counter executed)))
    done
    if ((${#files[@]} == 0)); then
        printf 'build.sh: no test results were written to %s\n' "$RESULTS" >&2
        [ "$rc" -ne 0 ] || rc=1
    fi
    if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
        printf 'build.sh: dotnet test failed (exit %s) without failed test results; see its output above\n' "$rc" >&2
    fi
    printf 'xunit: %s passed, %s failed, %s skipped\n' "$passed" "$failed" "$skipped"

    # The Pester suites (tests/Pester/*.Tests.ps1) in the pinned pwsh with the pinned Pester; NUnit XML in out/pester.
    # Their runner prints one line "pester: N passed, N failed, N skipped", added to the totals.
    step "Pester suites (tests/Pester, results in out/pester)"
    local pester_log="$RESULTS/pester.log" prc=0 line
    mkdir -p "$RESULTS"
    # As root (CI) the prerequisites were installed above, so a Linux suite that would skip itself fails instead.
    local required=""
    if is_root || [ "${CI:-}" = true ]; then required=1; fi
    VIRTUALNETWORKS_MODULE="$ROOT/$STAGE/VirtualNetworks.psd1" VIRTUALNETWORKS_LINUX_REQUIRED="$required" \
        "$PWSH" -NoProfile -NonInteractive -File tests/Pester/Invoke-VirtualNetworksPester.ps1 -OutputDirectory "$ROOT/out/pester" \
        </dev/null 2>&1 | tee "$pester_log" || prc=$?
    line="$(grep -E '^pester: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$pester_log" | tail -n1 || true)"
    if [ -z "$line" ]; then
        printf 'build.sh: the Pester runner printed no summary line (exit %s); counted as 1 failure\n' "$prc" >&2
        failed=$((failed + 1))
    else
        local pp pf ps
        read -r pp pf ps < <(sed -E 's/^pester: ([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped$/\1 \2 \3/' <<<"$line")
        passed=$((passed + pp)); failed=$((failed + pf)); skipped=$((skipped + ps))
        if [ "$prc" -ne 0 ] && [ "$pf" -eq 0 ]; then
            printf 'build.sh: the Pester runner failed (exit %s) without failed tests; counted as 1 failure\n' "$prc" >&2
            failed=$((failed + 1))
        fi
    fi

    # The Hyper-V router image (out/images/router.vhdx): qemu-img check, two VMs booted under OVMF with Secure Boot
    # enforced (Microsoft keys), configured through KVP pool files, probes answered, pings (images/router/README.md).
    if is_root && [ -s out/images/router.vhdx ]; then
        step "Hyper-V image self-test (images/router/selftest-vhdx.sh)"
        if bash "$IMAGE_RECIPE/selftest-vhdx.sh" "$ROOT/out/images/router.vhdx" </dev/null; then
            passed=$((passed + 1)); printf 'router.vhdx self-test: passed\n'
        else
            failed=$((failed + 1)); printf 'build.sh: router.vhdx self-test FAILED (see above)\n' >&2
        fi
    else
        printf 'build.sh: router.vhdx self-test skipped: needs root and out/images/router.vhdx\n' >&2
        if [ "${CI:-}" = true ]; then failed=$((failed + 1)); else skipped=$((skipped + 1)); fi
    fi

    # The package round trip: publish to a local repository, install into a clean scope, import by name in a fresh
    # pwsh, deploy/test/remove a two-router network with the installed copy. One test in the totals.
    # Needs root and the image (it installs the image into the per-machine folder, as a user would; docs/install.md).
    if is_root && [ -s "$IMAGE_DIR/vmlinuz" ]; then
        step "Package round trip (tools/Publish-Package.ps1, tests/Package/Test-PackageRoundTrip.ps1)"
        if "$PWSH" -NoProfile -NonInteractive -File tools/Publish-Package.ps1 \
               -ModulePath "$ROOT/$STAGE" -RepositoryPath "$ROOT/out/repository" </dev/null \
           && "$PWSH" -NoProfile -NonInteractive -File tests/Package/Test-PackageRoundTrip.ps1 </dev/null; then
            passed=$((passed + 1)); printf 'package round trip: passed\n'
        else
            failed=$((failed + 1)); printf 'build.sh: package round trip FAILED (see above)\n' >&2
        fi
    else
        printf 'build.sh: package round trip skipped: needs root and %s\n' "$IMAGE_DIR" >&2
        if [ "${CI:-}" = true ]; then failed=$((failed + 1)); else skipped=$((skipped + 1)); fi
    fi

    printf '%s passed, %s failed, %s skipped\n' "$passed" "$failed" "$skipped"
    if [ "$failed" -ne 0 ] || [ "$rc" -ne 0 ]; then
        exit 1
    fi
}

do_demo() {
    [ -f examples/figure1.ps1 ] || die "no demo exists (examples/figure1.ps1)"
    ensure_prereqs required
    ensure_image required
    do_build
    step "Running examples/figure1.ps1 in pwsh"
    # The demo uses the default state directory (/var/lib/virtualnetworks), whatever the caller's environment says; it
    # imports the staged module next to it (out/VirtualNetworks).
    env -u VIRTUALNETWORKS_STATE_DIR -u VIRTUALNETWORKS_MODULE VIRTUALNETWORKS_IMAGE_PATH="$ROOT/out/images" "$PWSH" -NoProfile -NonInteractive -File examples/figure1.ps1 </dev/null
}

do_package() {
    do_build
    step "Publishing the package (tools/Publish-Package.ps1 -> out/repository)"
    POWERSHELL_TELEMETRY_OPTOUT=1 "$PWSH" -NoProfile -NonInteractive -File tools/Publish-Package.ps1 \
        -ModulePath "$ROOT/$STAGE" -RepositoryPath "$ROOT/out/repository" </dev/null || die "publishing the package failed"
}

usage() {
    sed -n '2,/^set -euo/p' "$0" | grep -v '^set -euo' | sed 's/^# \{0,1\}//'
}

COMMAND="${1:-build}"
CONFIG="${2:-${CONFIGURATION:-Debug}}"
case "$CONFIG" in
    Debug|Release) ;;
    *) die "unknown configuration '$CONFIG' (Debug or Release)" ;;
esac

case "$COMMAND" in
    build) do_build ;;
    test) do_test ;;
    demo) do_demo ;;
    package) do_package ;;
    clean) do_clean ;;
    -h|--help|help) usage ;;
    *) usage >&2; exit 2 ;;
esac
