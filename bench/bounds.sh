#!/usr/bin/env bash
# Resource bounds at full scale (README, "Resource bounds"): the peak memory and wall time of a
# scan of
#   - line-1G:     a log whose middle line is 1 GiB long (plain file), between 1,000 failures
#                  before and after it;
#   - sessions:    1,000,000 Dovecot auth lines, each of a new session that never ends (no login
#                  line), 2,000 a second of log time, every one of account `bob`;
#   - sessions-u:  the same with a new account on every line (the worst case for memory).
# bench/burst.sh measures the botnet burst against the same failures spread out.
#
#   bash bench/bounds.sh [BINARY]
#
# Each log is generated once into BENCH_DIR (default /tmp/mls-bounds, about 1.3 GB) and scanned
# on an empty data directory under /usr/bin/time -v; prints wall time, maximum RSS and the CSV's
# row count, which must equal the attempts logged (2,000, 1,000,000, 1,000,000).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${1:-}
BENCH_DIR=${BENCH_DIR:-/tmp/mls-bounds}
mkdir -p "$BENCH_DIR"
if [[ -z $BIN ]]; then
    (cd "$ROOT" && cargo build --release --bin maillogsentinel) >&2
    BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/maillogsentinel
fi

python3 - "$BENCH_DIR" <<'EOF'
import os, sys
d = sys.argv[1]

def failure(n):
    return (f"Mar  2 {n // 3600 % 24:02}:{n // 60 % 60:02}:{n % 60:02} mx1 postfix/submission/smtpd[{1000 + n % 5000}]: "
            f"warning: unknown[198.51.100.{n % 250 + 1}]: SASL LOGIN authentication failed: UGFzc3dvcmQ6, "
            f"sasl_username=user{n}\n")

path = os.path.join(d, "line-1G.log")
if not os.path.exists(path):
    with open(path, "w") as f:
        f.writelines(failure(n) for n in range(1000))
        f.write(failure(1000)[:-1])
        block = "x" * (1 << 20)
        for _ in range(1024):
            f.write(block)
        f.write("\n")
        f.writelines(failure(n) for n in range(1001, 2001))
for name, unique in (("sessions", False), ("sessions-u", True)):
    path = os.path.join(d, name + ".log")
    if os.path.exists(path):
        continue
    with open(path, "w") as f:
        for i in range(1_000_000):
            s = i // 2000
            user = f"u{i}" if unique else "bob"
            f.write(f"Mar  1 {s // 3600 % 24:02}:{s // 60 % 60:02}:{s % 60:02} mx1 dovecot: auth: "
                    f"passwd-file({user},10.{i >> 16}.{(i >> 8) & 255}.{i & 255},<S{i:x}>): Password mismatch\n")
EOF

echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $(nproc) cpu; $BIN"
for name in line-1G sessions sessions-u; do
    data=$BENCH_DIR/data-$name
    rm -rf "$data" && mkdir -p "$data"
    # Exit 1 is expected for line-1G: the overlong line is a problem of the file, reported.
    /usr/bin/time -v "$BIN" scan --log "$BENCH_DIR/$name.log" --data-dir "$data" --no-dns --no-geo \
        --timezone UTC --year 2026 >/dev/null 2>"$BENCH_DIR/time.txt" || true
    wall=$(sed -nE 's/.*Elapsed \(wall clock\).*: ([0-9:.]+)$/\1/p' "$BENCH_DIR/time.txt" |
        awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }')
    rss=$(sed -nE 's/.*Maximum resident set size \(kbytes\): ([0-9]+)/\1/p' "$BENCH_DIR/time.txt")
    rows=$(($(wc -l <"$data/reports/intrusions.csv") - 1))
    printf '  %-11s %7.2f s %6.0f MB  %8d rows\n' "$name" "$wall" "$(awk -v m="$rss" 'BEGIN { print m / 1024 }')" "$rows"
    grep -h "correlator's limits\|over the 16 MiB limit" "$BENCH_DIR/time.txt" | sed -E 's/.*"Resource bounds"\): //; s/\. Nothing was lost.*//' |
        cut -c1-240 | sed 's/^/      /' || true
done
