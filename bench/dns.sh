#!/usr/bin/env bash
# Reverse DNS against a loopback server: a scan of 1,000 SASL failures from 1,000 new addresses
# (198.18.0.0/15), wall time, and every row's reverse_dns_status checked.
#
#   bench/dns.sh [slow|nxdomain] [CONCURRENCY] [RUNS]
#
# slow (default): bench/slow-dns.py, every answer after DELAY seconds (default 1), each row must
# be `ok` (PTR, then the forward confirmation). nxdomain: bench/nxdomain-dns.py, answers at once,
# each row must be `nxdomain`. At the end slow-dns.py says how many queries it received, in all
# runs (hickory sends a query again when its answer is slower than usual). CONCURRENCY sets
# `[dns] concurrency` (default: the built-in one). Each run starts with an empty data directory,
# so every address is new. Needs a release build (target/release, or $CARGO_TARGET_DIR; BIN=path
# to time another build).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
bin="${BIN:-${CARGO_TARGET_DIR:-$repo/target}/release/maillogsentinel}"
kind="${1:-slow}"
concurrency="${2:-}"
runs="${3:-1}"
delay="${DELAY:-1}"
port="${PORT:-5399}"
work="$(mktemp -d)"
server=
cleanup() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

case "$kind" in
    slow) python3 "$repo/bench/slow-dns.py" "$port" "$delay" & server=$!; want=ok ;;
    nxdomain) python3 "$repo/bench/nxdomain-dns.py" "$port" & server=$!; want=nxdomain ;;
    *) echo "usage: $0 [slow|nxdomain] [CONCURRENCY] [RUNS]" >&2; exit 2 ;;
esac
sleep 0.3

python3 - "$work/mail.log" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for n in range(1000):
        ip = f"198.{18 + (n >> 16 & 1)}.{n >> 8 & 255}.{n & 255}"
        s = n % 60
        f.write(f"Dec  7 10:{n // 60 % 60:02d}:{s:02d} mx1 postfix/submission/smtpd[4242]: warning: "
                f"unknown[{ip}]: SASL LOGIN authentication failed: UGFzc3dvcmQ6, "
                f"sasl_username=user{n}\n")
PY

{
    echo "timezone = \"UTC\""
    echo "[dns]"
    echo "nameservers = [\"127.0.0.1:$port\"]"
    if [ -n "$concurrency" ]; then echo "concurrency = $concurrency"; fi
    # Empty, for BIN= builds of bdadd80, which refused a configuration without it.
    echo "[metrics]"
} >"$work/config.toml"

for run in $(seq "$runs"); do
    rm -rf "$work/data"
    start=$(date +%s.%N)
    "$bin" --config "$work/config.toml" scan --log "$work/mail.log" --data-dir "$work/data" --no-geo \
        --timezone UTC >/dev/null 2>"$work/stderr" || { cat "$work/stderr" >&2; exit 1; }
    # hickory warns of answers that reach a port reused after their query gave up; counted.
    late=$(grep -c 'wrong message id' "$work/stderr" || true)
    end=$(date +%s.%N)
    csv="$work/data/reports/intrusions.csv"
    rows=$(tail -n +2 "$csv" | wc -l)
    good=$(python3 - "$csv" "$want" <<'PY'
import collections, csv, sys
seen = collections.Counter(r["reverse_dns_status"] for r in csv.DictReader(open(sys.argv[1])))
print(seen[sys.argv[2]])
if set(seen) - {sys.argv[2]}:
    print("statuses:", dict(seen), file=sys.stderr)
PY
)
    printf '%s concurrency=%s run %s: %.2f s, %s of %s rows %s, %s late answers\n' "$kind" \
        "${concurrency:-default}" "$run" "$(echo "$end - $start" | bc)" "$good" "$rows" "$want" "$late"
    if [ "$rows" != 1000 ] || [ "$good" != 1000 ]; then
        echo "FAIL: expected 1000 rows, all $want" >&2
        exit 1
    fi
done
