#!/usr/bin/env bash
# Botnet burst against the same failures spread out: a commit's cost must follow what changed
# since the last commit, not the size of the correlator's state.
#
#   bash bench/burst.sh [OLD_BINARY] [ROUNDS]
#
# Generates (cached) 1,000,000 failures from 100,000 addresses at 1,000 a second of log time
# (burst.log) and at 10 a second (spread.log) with bench/gen_burst.py, builds the release binary,
# and runs `scan` on each log with each binary (OLD_BINARY first, if given), alternating, ROUNDS
# times (default 3), each on an empty data directory, under /usr/bin/time -v: wall time and
# maximum resident set size per run, then the median per binary and log, and the sha256 of each
# binary's CSV (equal CSVs say the change counted the same attempts the same way).
#
# Environment: BENCH_DIR (default /tmp/mls-burst), CARGO_TARGET_DIR.
set -euo pipefail

OLD=${1:-}
ROUNDS=${2:-3}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BENCH_DIR=${BENCH_DIR:-/tmp/mls-burst}
NEW=$TARGET/release/maillogsentinel
mkdir -p "$BENCH_DIR"

(cd "$ROOT" && cargo build --release --bin maillogsentinel) >&2

gen_hash=$(sha256sum "$ROOT/bench/gen_burst.py" | cut -c1-16)
for name in burst:1000 spread:10; do
    log=$BENCH_DIR/${name%%:*}.log
    if [[ ! -s $log || "$(cat "$log.args" 2>/dev/null)" != "$name $gen_hash" ]]; then
        python3 "$ROOT/bench/gen_burst.py" --rate "${name##*:}" --out "$log"
        echo "$name $gen_hash" >"$log.args"
    fi
done

bins=()
[[ -n $OLD ]] && bins+=("old=$OLD")
bins+=("new=$NEW")
results=$BENCH_DIR/results.txt
: >"$results"
for ((round = 1; round <= ROUNDS; round++)); do
    for log in burst spread; do
        for b in "${bins[@]}"; do
            label=${b%%=*} bin=${b#*=} data=$BENCH_DIR/data-$label-$log
            rm -rf "$data" && mkdir -p "$data"
            /usr/bin/time -v "$bin" scan --log "$BENCH_DIR/$log.log" --data-dir "$data" --no-dns --no-geo \
                --timezone UTC >/dev/null 2>"$BENCH_DIR/time.txt"
            wall=$(sed -nE 's/.*Elapsed \(wall clock\).*: ([0-9:.]+)$/\1/p' "$BENCH_DIR/time.txt" |
                awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }')
            rss=$(sed -nE 's/.*Maximum resident set size \(kbytes\): ([0-9]+)/\1/p' "$BENCH_DIR/time.txt")
            echo "$label $log $wall $rss" | tee -a "$results"
        done
    done
done

echo
echo "median of $ROUNDS rounds ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $(nproc) cpu):"
for b in "${bins[@]}"; do
    label=${b%%=*}
    for log in burst spread; do
        t=$(awk -v l="$label" -v g="$log" '$1 == l && $2 == g { print $3 }' "$results" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
        m=$(awk -v l="$label" -v g="$log" '$1 == l && $2 == g { print $4 }' "$results" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
        printf '  %-4s %-7s %7.2f s %8.0f MB\n' "$label" "$log" "$t" "$(awk -v m="$m" 'BEGIN { print m / 1024 }')"
    done
    for log in burst spread; do
        echo "  $label $log CSV sha256 $(sha256sum <"$BENCH_DIR/data-$label-$log/reports/intrusions.csv" | cut -c1-16)"
    done
done
