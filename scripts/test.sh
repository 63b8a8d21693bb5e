#!/usr/bin/env bash
# The whole test suite: unit and integration tests (which drive the real binary), then the
# acceptance corpus check when ../shared/corpus is present. Ends with one line counting all tests.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

cargo build --profile ci --locked --bin maillogsentinel
cargo test --profile ci --locked --all-targets 2>&1 | tee "$log"
python3 scripts/corpus-check.py --bin "$target/ci/maillogsentinel" 2>&1 | tee -a "$log"

# cargo prints "test result: ok. N passed; M failed; ..." per test binary, the corpus check
# "corpus: N passed, M failed".
awk '
    /^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
    /^corpus: [0-9]+ passed, [0-9]+ failed$/ { p += $2; f += $4 }
    END { printf "all: %d passed, %d failed\n", p, f; exit (f > 0) }
' "$log"
