#!/usr/bin/env bash
# `watch` under the burst of bench/burst.sh: appends a log to a watched file in pieces and waits
# until the CSV holds every row; prints wall time from the first append, the watch process's CPU
# time (utime + stime) and its peak resident memory (VmHWM).
#
#   bash bench/watch_burst.sh BINARY LOG [ROWS]
#
# LOG is bench/burst.sh's burst.log or spread.log (1,000,000 rows, the default ROWS). Environment:
# PIECE (bytes per append, default 1000000) and PAUSE (seconds between appends, default 0.01):
# small pieces make watch commit often, a pass per piece or so.
set -euo pipefail
BIN=$1 LOG=$2 WANT=${3:-1000000}
D=${BENCH_DIR:-/tmp/mls-watch-burst}/$(basename "$BIN")-$(basename "$LOG" .log)
rm -rf "$D" && mkdir -p "$D/data" && : >"$D/mail.log"
"$BIN" watch --log "$D/mail.log" --data-dir "$D/data" --no-dns --no-geo --timezone UTC 2>"$D/stderr" &
PID=$!
trap 'kill -TERM $PID 2>/dev/null || true' EXIT
sleep 1
start=$(date +%s.%N)
split -b "${PIECE:-1000000}" --filter="cat >> '$D/mail.log'; sleep ${PAUSE:-0.01}" "$LOG"
while :; do
    rows=$(($(wc -l <"$D/data/reports/intrusions.csv" 2>/dev/null || echo 1) - 1))
    [[ $rows -ge $WANT ]] && break
    sleep 0.1
done
end=$(date +%s.%N)
hwm=$(awk '/VmHWM/ { print $2 }' "/proc/$PID/status")
cpu=$(awk '{ print ($14 + $15) / 100 }' "/proc/$PID/stat")
printf '%s %s: %d rows, %.2f s wall, %.2f s CPU, %d MB peak\n' "$(basename "$BIN")" "$(basename "$LOG")" \
    "$rows" "$(echo "$end - $start" | bc)" "$cpu" $((hwm / 1024))
