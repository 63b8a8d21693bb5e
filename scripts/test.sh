#!/usr/bin/env bash
# The whole test suite: unit and integration tests (which drive the real binary), then the
# acceptance corpus check when ../shared/corpus is present, then, as root where Postfix and
# Dovecot are installed (CI installs them), the check against those real daemons
# (scripts/real-daemons.sh), and as root where dpkg is, the Debian package's
# (scripts/deb-check.sh). Ends with one line counting all tests.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

cargo build --profile ci --locked --bin maillogsentinel
cargo test --profile ci --locked --all-targets 2>&1 | tee "$log"
python3 scripts/corpus-check.py --bin "$target/ci/maillogsentinel" 2>&1 | tee -a "$log"
if [ "$(id -u)" = 0 ] && command -v postfix >/dev/null && command -v dovecot >/dev/null; then
    bash scripts/real-daemons.sh "$target/ci/maillogsentinel" 2>&1 | tee -a "$log"
else
    echo "real daemons: skipped (needs root and Debian's postfix and dovecot packages; CI has them)"
fi
if [ "$(id -u)" = 0 ] && command -v dpkg >/dev/null; then
    # Its failures are counted below (and fail the suite) rather than ending it here.
    if ! bash scripts/deb-check.sh 2>&1 | tee -a "$log"; then
        grep -q '^deb package (.*: FAILED' "$log" \
            || echo "deb package (scripts/deb-check.sh): FAILED: it stopped without naming a check" | tee -a "$log"
    fi
else
    echo "deb package: skipped (needs root and dpkg; CI has them)"
fi

# cargo prints "test result: ok. N passed; M failed; ..." per test binary, the corpus check
# "corpus: N passed, M failed", the real-daemon check "real daemons (ROUTE): ...: OK" per route,
# the package check "deb package (CHECK): OK ..." per check, or one "...: FAILED: ..." line, which
# it also prints when it stops on an unexpected error.
awk '
    /^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
    /^corpus: [0-9]+ passed, [0-9]+ failed$/ { p += $2; f += $4 }
    /^real daemons \(/ { if ($NF == "OK") p++; else f++ }
    /^deb package \(/ { if ($0 ~ /\): OK( |$)/) p++; else f++ }
    END { printf "all: %d passed, %d failed\n", p, f; exit (f > 0) }
' "$log"
