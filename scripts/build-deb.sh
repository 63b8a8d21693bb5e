#!/usr/bin/env bash
# The Debian package: target/debian/maillogsentinel_VERSION-1_ARCH.deb (under CARGO_TARGET_DIR when
# set). README.md, "The Debian package", says what it holds.
#
#   bash scripts/build-deb.sh [--profile release|ci]
#
# release (the default) is the profile of real packages (fat LTO: minutes longer to build); ci is
# the test suite's, for scripts/deb-check.sh, which packages the binary scripts/test.sh built
# (the builds below then have nothing to do). Needs cargo-deb (`cargo install cargo-deb --locked`).
#
# First writes what the package holds that is generated, not kept in the repository, into
# target/deb-build/ (examples/gen_package.rs: man pages, completions, the systemd units from the
# templates `setup` fills, the configuration, the changelog), where Cargo.toml's
# [package.metadata.deb] assets take it from. cargo deb warns that it finds no units in
# packaging/deb/: the units are assets, and its systemd support still writes their maintainer
# script snippets.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
profile=release
while [ $# -gt 0 ]; do
    case "$1" in
        --profile) profile="${2:?--profile needs release or ci}"; shift 2 ;;
        --profile=*) profile="${1#--profile=}"; shift ;;
        *) echo "usage: bash scripts/build-deb.sh [--profile release|ci]" >&2; exit 2 ;;
    esac
done
case "$profile" in release | ci) ;; *) echo "build-deb: --profile release or ci, not $profile" >&2; exit 2 ;; esac
command -v cargo-deb >/dev/null || { echo "build-deb: cargo-deb is missing: cargo install cargo-deb --locked" >&2; exit 1; }
cd "$repo"

# The package's dates (its files, the changelog's entry) are the last commit's, so that one commit
# always gives the same package: SOURCE_DATE_EPOCH, for the last two steps only, as the cc crate
# builds every C library again (SQLite, zstd, ...) when it changes.
epoch="${SOURCE_DATE_EPOCH:-}"
if [ -z "$epoch" ] && git rev-parse --git-dir >/dev/null 2>&1; then
    epoch="$(git log -1 --format=%ct)"
fi
target="${CARGO_TARGET_DIR:-$repo/target}"
env -u SOURCE_DATE_EPOCH cargo build --locked --profile "$profile" --bin maillogsentinel
# The generator with the ci profile whatever the package's: its output does not depend on it, and
# the test suite has built it already.
env -u SOURCE_DATE_EPOCH cargo build --locked --profile ci --example gen_package
rm -rf target/deb-build
env ${epoch:+SOURCE_DATE_EPOCH="$epoch"} "$target/ci/examples/gen_package" target/deb-build
# --strip: the release profile keeps line tables (for profiles and backtraces), which a package
# does not ship (lintian: unstripped-binary-or-object); cargo deb would keep them.
env ${epoch:+SOURCE_DATE_EPOCH="$epoch"} cargo deb --locked --profile "$profile" --no-build --strip
