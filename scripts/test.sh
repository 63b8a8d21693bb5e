#!/usr/bin/env bash
# The whole test suite: unit and integration tests (which drive the real binary), then the
# acceptance corpus check when ../shared/corpus is present.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --bin maillogsentinel
cargo test --release --locked --all-targets
python3 scripts/corpus-check.py --bin "${CARGO_TARGET_DIR:-target}/release/maillogsentinel"
