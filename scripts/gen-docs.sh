#!/usr/bin/env bash
# Man pages and shell completions, generated from the command line definition (examples/gen_docs.rs).
#
#   bash scripts/gen-docs.sh [OUT_DIR]     # default: target/docs
#
# OUT_DIR/man/*.1.gz: maillogsentinel(1) and maillogsentinel-COMMAND(1) for every command;
# OUT_DIR/completions/: maillogsentinel.bash, _maillogsentinel (zsh), maillogsentinel.fish.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$repo/target/docs}"
cargo run --quiet --manifest-path "$repo/Cargo.toml" --profile "${PROFILE:-ci}" --example gen_docs -- "$out"
echo "man pages and completions in $out"
