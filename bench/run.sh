#!/usr/bin/env bash
# Throughput benchmark: `maillogsentinel scan` against `grep -cF` on a generated log.
#
#   bash bench/run.sh [SIZE]        # SIZE like 10M, 1G (default 1G)
#
# Environment: BENCH_DIR (default /tmp/mls-bench), SEED (42), START (2025-11-01T00:00:00),
# RUNS (3), CARGO_TARGET_DIR (default <repo>/target), SCAN_EXTRA_ARGS (appended to the scan),
# NO_HYPERFINE=1 (use the built-in timing loop), MLS (binary to run instead of the built one).
# See bench/README.md.
set -euo pipefail

SIZE=${1:-1G}
SEED=${SEED:-42}
# In the past on purpose: at its end a scan holds back the attempts of the last 2 x correlation
# window before *now* (their partner line may still be written); a log reaching into the future
# would leave its last unpaired attempts uncounted until a later scan.
START=${START:-2025-11-01T00:00:00}
RUNS=${RUNS:-3}
BENCH_DIR=${BENCH_DIR:-/tmp/mls-bench}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
GEN=$TARGET/release/examples/gen_traffic
MLS=${MLS:-$TARGET/release/maillogsentinel} # MLS=/path/to/stand-in to test this script
LOG=$BENCH_DIR/mail.log
COUNTS=$LOG.counts.json
STAMP=$LOG.args
DATA=$BENCH_DIR/data
REPORT=$BENCH_DIR/report.txt

say() { printf '%s\n' "$*" >&2; }
die() { say "run.sh: $*"; exit 1; }

# `json_num KEY FILE`: the number after "KEY": in a (pretty-printed, flat-ish) JSON file.
json_num() { sed -nE "s/^[[:space:]]*\"$1\":[[:space:]]*(-?[0-9.eE+-]+).*/\1/p" "$2" | head -n1; }
json_str() { sed -nE "s/^[[:space:]]*\"$1\":[[:space:]]*\"([^\"]*)\".*/\1/p" "$2" | head -n1; }
# `calc EXPR [DECIMALS]`: floating-point arithmetic.
calc() { awk "BEGIN { printf \"%.${2:-3}f\", $1 }"; }
# `ratio A B [DECIMALS]`: A / B, or n/a when B is zero.
ratio() { awk -v a="$1" -v b="$2" -v d="${3:-1}" 'BEGIN { if (b + 0 > 0) printf "%.*f", d, a / b; else printf "n/a" }'; }
# `median N...`: median of the numbers given.
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
# `now`: seconds since the epoch, with nanoseconds.
now() { date +%s.%N; }

mkdir -p "$BENCH_DIR"

# --- 1. build -------------------------------------------------------------------------------------
say "== building (release)"
(cd "$ROOT" && cargo build --release --example gen_traffic --bin maillogsentinel) ||
    die "cargo build failed"

# --- 2. generate (cached) ---------------------------------------------------------------------------
gen_hash=$(sha256sum "$ROOT/examples/gen_traffic.rs" | cut -c1-16)
want="size=$SIZE seed=$SEED start=$START gen=$gen_hash"
if [[ -s $LOG && -s $COUNTS && -f $STAMP && "$(cat "$STAMP")" == "$want" ]]; then
    say "== reusing $LOG ($want)"
else
    say "== generating $LOG ($want)"
    rm -f "$LOG" "$COUNTS" "$STAMP"
    t0=$(now)
    "$GEN" --size "$SIZE" --seed "$SEED" --start "$START" --out "$LOG" 2>"$BENCH_DIR/gen.stderr" ||
        { cat "$BENCH_DIR/gen.stderr" >&2; die "generator failed"; }
    t1=$(now)
    tail -n1 "$BENCH_DIR/gen.stderr" >&2
    gen_s=$(calc "$t1 - $t0")
    say "   generated in $gen_s s ($(ratio "$(calc "$(stat -c %s "$LOG") / 1000000")" "$gen_s") MB/s)"
    # A log's mtime is its last write: the scan may take the year of the newest line from it.
    last=$(json_str last_line "$COUNTS")
    [[ -n $last ]] && touch -d "${last/T/ }" "$LOG"
    echo "$want" >"$STAMP"
fi
BYTES=$(stat -c %s "$LOG")
MB=$(calc "$BYTES / 1000000" 1)

# --- 3. measure -------------------------------------------------------------------------------------
GREP_CMD="env LC_ALL=C grep -cF 'authentication failed' '$LOG'"
SCAN_CMD="'$MLS' scan --log '$LOG' --data-dir '$DATA' --no-dns --no-geo --timezone UTC ${SCAN_EXTRA_ARGS:-}"
PREP_CMD="bash -c \"rm -rf '$DATA' && mkdir -p '$DATA'\""

HYPERFINE=0
[[ -z ${NO_HYPERFINE:-} ]] && command -v hyperfine >/dev/null && HYPERFINE=1
if [[ -z ${NO_HYPERFINE:-} ]] && ((!HYPERFINE)) && [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    say "== installing hyperfine"
    apt-get install -y -qq hyperfine >/dev/null 2>&1 ||
        { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq hyperfine >/dev/null 2>&1; } ||
        say "   (could not install hyperfine; falling back to a timing loop)"
    command -v hyperfine >/dev/null && HYPERFINE=1
fi
TIME_BIN=""
if [[ -x /usr/bin/time ]] && /usr/bin/time -f %M true 2>/dev/null; then TIME_BIN=/usr/bin/time; fi

# `measure NAME PREPARE CMD`: median wall seconds of $RUNS runs (after one warm-up) -> $MEDIAN.
measure() {
    local name=$1 prep=$2 cmd=$3
    if ((HYPERFINE)); then
        # -N: no intermediate shell, so even millisecond runs are timed right.
        # --output=pipe: GNU grep skips the work when its output is /dev/null (hyperfine's default).
        local args=(-N --output=pipe --style basic --warmup 1 --runs "$RUNS" --export-json "$BENCH_DIR/$name.json")
        [[ -n $prep ]] && args+=(--prepare "$prep")
        hyperfine "${args[@]}" --command-name "$name" "$cmd" >&2
        MEDIAN=$(calc "$(json_num median "$BENCH_DIR/$name.json")" 4)
    else
        local times=() i t0 t1
        for ((i = 0; i <= RUNS; i++)); do
            [[ -n $prep ]] && eval "$prep"
            t0=$(now)
            eval "$cmd" >"$BENCH_DIR/$name.out" # not /dev/null: GNU grep would skip the work
            t1=$(now)
            ((i > 0)) && times+=("$(calc "$t1 - $t0" 4)") # run 0 is the warm-up
        done
        MEDIAN=$(median "${times[@]}")
        say "   $name: runs ${times[*]} s, median $MEDIAN s"
    fi
}

say "== grep baseline: $GREP_CMD"
GREP_COUNT=$(eval "$GREP_CMD")
measure grep "" "$GREP_CMD"
GREP_S=$MEDIAN

# One probe run of the scan: does it work, what does it print and find, how much memory.
say "== scan probe: $SCAN_CMD"
eval "$PREP_CMD"
SCAN_OK=0
set +e
if [[ -n $TIME_BIN ]]; then
    eval "$TIME_BIN -f %M -o '$BENCH_DIR/scan.rss' $SCAN_CMD" >"$BENCH_DIR/scan.stdout" 2>"$BENCH_DIR/scan.stderr"
else
    eval "$SCAN_CMD" >"$BENCH_DIR/scan.stdout" 2>"$BENCH_DIR/scan.stderr"
fi
status=$?
set -e
CSV=$(find "$DATA" -maxdepth 2 -name '*.csv' 2>/dev/null | sort | head -n1)
SUMMARY=$(grep -v '^[[:space:]]*$' "$BENCH_DIR/scan.stdout" "$BENCH_DIR/scan.stderr" -h | tail -n1 || true)
if ((status != 0)); then
    say "!! the scan exited with status $status; its stderr ends with:"
    tail -n5 "$BENCH_DIR/scan.stderr" | sed 's/^/   | /' >&2
    say "!! (does this build support \`maillogsentinel scan\` yet?) scan not timed"
elif [[ -z $SUMMARY && -z $CSV ]]; then
    say "!! the scan exited 0 but printed nothing and wrote no CSV under $DATA:"
    say "!! this build does not implement \`scan\` yet; scan not timed"
else
    SCAN_OK=1
fi

RSS_KB=""
if ((SCAN_OK)); then
    [[ -s $BENCH_DIR/scan.rss ]] && RSS_KB=$(tail -n1 "$BENCH_DIR/scan.rss")
    say "== scan timing"
    measure scan "$PREP_CMD" "$SCAN_CMD"
    SCAN_S=$MEDIAN
fi

# `check_printed LABEL EXPECTED WORD_REGEX [quiet]`: finds "N [word] WORD" in the scan summary
# and compares N with EXPECTED (quiet: say nothing when the summary has no such number).
check_printed() {
    local label=$1 expected=$2 word=$3 n
    n=$(grep -oiE "[0-9][0-9,_]*[[:space:]]+([a-z]+[[:space:]]+)?$word" <<<"$SUMMARY" | head -n1 |
        grep -oE '^[0-9][0-9,_]*' | tr -d ',_' || true)
    if [[ -n $n ]]; then
        echo "  printed $label: $n$([[ $n == "$expected" ]] && echo '  OK' || echo "  MISMATCH (expected $expected)")"
    elif [[ -z ${4:-} ]]; then
        echo "  printed $label: (not recognised in the summary)"
    fi
}

# --- 4. report --------------------------------------------------------------------------------------
exp_fail=$(json_num failures "$COUNTS")
exp_records=$(json_num failure_records "$COUNTS")
exp_succ=$(json_num successes "$COUNTS")
exp_backend=$(json_num backend_errors "$COUNTS")
exp_mech=$(json_num mechanism_invalid "$COUNTS")
exp_ips=$(json_num distinct_attacker_ips "$COUNTS")
exp_grep=$(json_num grep_authentication_failed "$COUNTS")

{
    echo "MailLogSentinel benchmark  $(date -u +%Y-%m-%dT%H:%M:%SZ)  $(uname -srm)  $(nproc) cpu"
    echo "log:   $LOG  ($BYTES bytes = $MB MB, $(json_num lines "$COUNTS") lines, $want)"
    echo "runs:  $RUNS after 1 warm-up, page cache warm; $( ((HYPERFINE)) && echo hyperfine || echo 'timing loop') median"
    printf '%-6s %10.3f s %10s MB/s\n' grep "$GREP_S" "$(ratio "$MB" "$GREP_S")"
    if ((SCAN_OK)); then
        printf '%-6s %10.3f s %10s MB/s\n' scan "$SCAN_S" "$(ratio "$MB" "$SCAN_S")"
        echo "ratio scan/grep: $(ratio "$SCAN_S" "$GREP_S")x"
        [[ -n $RSS_KB ]] && echo "scan max RSS: $RSS_KB KiB ($(calc "$RSS_KB / 1024" 1) MiB)"
    else
        echo "scan:  NOT MEASURED (the binary does not run \`scan\` yet; see messages above)"
    fi
    echo
    echo "sanity (expected from $COUNTS):"
    echo "  grep lines 'authentication failed': $GREP_COUNT (generator: $exp_grep)$([[ $GREP_COUNT == "$exp_grep" ]] && echo '  OK' || echo '  MISMATCH')"
    echo "  expected: failures=$exp_fail (one per attempt; $exp_records failure lines after correlation) successes=$exp_succ backend_errors=$exp_backend mechanism_invalid=$exp_mech attacker_ips=$exp_ips"
    if ((SCAN_OK)); then
        echo "  scan summary: ${SUMMARY:-(none)}"
        # The summary reads like `...: 31 new failed logins, 3 successful logins, 1 auth backend errors`.
        check_printed "failures" "$exp_fail" '(failed|failures?)\b'
        check_printed "successes" "$exp_succ" '(successful|successes|success)\b'
        check_printed "backend errors" "$exp_backend" '(auth )?backend'
        check_printed "mechanism-invalid" "$exp_mech" '(invalid|mechanism)' quiet
        if [[ -n $CSV ]]; then
            rows=$(($(wc -l <"$CSV") - 1))
            verdict="MISMATCH (expected $exp_fail rows, one per attempt, or $exp_records, one per line)"
            [[ $rows == "$exp_fail" ]] && verdict="OK (one row per attempt)"
            [[ $rows == "$exp_records" ]] && verdict="OK (one row per failure line; check the count column)"
            echo "  CSV data rows: $rows in $CSV  $verdict"
            ipcol=$(head -n1 "$CSV" | tr ',' '\n' | grep -nxE '"?client_ip"?' | head -n1 | cut -d: -f1 || true)
            if [[ -n $ipcol ]]; then
                ips=$(awk -F, -v c="$ipcol" 'NR > 1 { print $c }' "$CSV" | sort -u | wc -l)
                echo "  CSV distinct client_ip: $ips$([[ $ips == "$exp_ips" ]] && echo '  OK' || echo "  MISMATCH (expected $exp_ips)")"
            fi
            # If the CSV has a count/attempts column, its sum must be the number of attempts.
            col=$(head -n1 "$CSV" | tr ',' '\n' | grep -niE '^"?(count|attempts)"?$' | head -n1 | cut -d: -f1 || true)
            if [[ -n $col ]]; then
                sum=$(awk -F, -v c="$col" 'NR > 1 { s += $c } END { print s + 0 }' "$CSV")
                echo "  CSV column $col sum: $sum$([[ $sum == "$exp_fail" ]] && echo '  OK' || echo "  MISMATCH (expected $exp_fail)")"
            fi
        else
            echo "  CSV: none found under $DATA"
        fi
    fi
} | tee "$REPORT"
say "(report saved to $REPORT)"
