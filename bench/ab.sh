#!/usr/bin/env bash
# Compares two builds on the benchmark log, run alternately, so that a change of the machine's
# speed between runs (a shared VM) hits both alike.
#
#   bash bench/ab.sh BIN_A BIN_B [ROUNDS]     # ROUNDS (default 5) runs of each, A B A B ...
#
# Needs the log of `bench/run.sh` ($BENCH_DIR, default /tmp/mls-bench). Prints each build's median
# wall time and CPU time (user + system) and grep's median over the same rounds.
set -euo pipefail

A=${1:?usage: ab.sh BIN_A BIN_B [ROUNDS]}
B=${2:?usage: ab.sh BIN_A BIN_B [ROUNDS]}
ROUNDS=${3:-5}
BENCH_DIR=${BENCH_DIR:-/tmp/mls-bench}
LOG=$BENCH_DIR/mail.log
DATA=$BENCH_DIR/ab-data
[[ -s $LOG ]] || { echo "ab.sh: no $LOG; run bash bench/run.sh first" >&2; exit 1; }

median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

cat "$LOG" >/dev/null # into the page cache
wall_a=() cpu_a=() wall_b=() cpu_b=() grep_s=()
for _ in $(seq "$ROUNDS"); do
    for which in A B; do
        bin=$A
        [[ $which == B ]] && bin=$B
        rm -rf "$DATA"
        /usr/bin/time -f '%e %U %S' -o "$BENCH_DIR/ab.time" \
            "$bin" scan --log "$LOG" --data-dir "$DATA" --no-dns --no-geo --timezone UTC >/dev/null
        read -r wall user sys <"$BENCH_DIR/ab.time"
        cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
        if [[ $which == A ]]; then wall_a+=("$wall") cpu_a+=("$cpu"); else wall_b+=("$wall") cpu_b+=("$cpu"); fi
    done
    /usr/bin/time -f '%e' -o "$BENCH_DIR/ab.time" env LC_ALL=C grep -cF 'authentication failed' "$LOG" >"$BENCH_DIR/ab.grep"
    grep_s+=("$(cat "$BENCH_DIR/ab.time")")
done
rm -rf "$DATA"
echo "A: median $(median "${wall_a[@]}") s wall, $(median "${cpu_a[@]}") s CPU  (${wall_a[*]})  $A"
echo "B: median $(median "${wall_b[@]}") s wall, $(median "${cpu_b[@]}") s CPU  (${wall_b[*]})  $B"
echo "grep: median $(median "${grep_s[@]}") s"
