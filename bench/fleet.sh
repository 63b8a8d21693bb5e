#!/usr/bin/env bash
# Shipping to the fleet database (README, "A fleet of servers"): `fleet ship` of 1,000,000
# events (100,000 addresses, 1,000 accounts, one log) to a PostgreSQL on loopback, started here
# from Debian's binaries in BENCH_DIR (fsync on, as a real server), then `report --fleet` of a
# day and of the whole month.
#
#   bash bench/fleet.sh [BINARY] [EVENTS]
#
# Prints the shipping rate (events a second, wall clock of `fleet ship`) and the reports' times.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${1:-}
EVENTS=${2:-1000000}
BENCH_DIR=${BENCH_DIR:-/tmp/mls-fleet}
if [[ -z $BIN ]]; then
    (cd "$ROOT" && cargo build --release --bin maillogsentinel) >&2
    BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/maillogsentinel
fi
# shellcheck source=bench/pg.sh
source "$ROOT/bench/pg.sh"
bench_postgres -c shared_buffers=512MB -c max_wal_size=4GB
mkdir -p "$BENCH_DIR/data"

python3 - "$BENCH_DIR/mail.log" "$EVENTS" <<'PY'
import sys
path, n = sys.argv[1], int(sys.argv[2])
with open(path, "w") as f:
    for i in range(n):
        s = i * 2_000_000 // n
        f.write(f"Nov {1 + s // 86400 % 28:2} {s // 3600 % 24:02}:{s // 60 % 60:02}:{s % 60:02} mx1 postfix/submission/smtpd[{1000 + i % 5000}]: "
                f"warning: unknown[10.{(i % 100000) >> 16}.{((i % 100000) >> 8) & 255}.{i % 256}]: SASL LOGIN authentication failed: "
                f"UGFzc3dvcmQ6, sasl_username=user{i % 1000}\n")
PY
cat >"$BENCH_DIR/c.toml" <<TOML
server_name = "mx1"
data_dir = "$BENCH_DIR/data"
timezone = "UTC"
[fleet]
url = "postgresql://mls_admin@127.0.0.1:$PORT/mls?sslmode=disable"
TOML
# Stored first without a fleet, so that `fleet ship` is timed alone.
"$BIN" scan --data-dir "$BENCH_DIR/data" --log "$BENCH_DIR/mail.log" --no-dns --no-geo --year 2026 --timezone UTC --quiet 2>/dev/null || true
"$BIN" --config "$BENCH_DIR/c.toml" fleet init >/dev/null
echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $(nproc) cpu; PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}'); $BIN"
start=$(date +%s.%N)
"$BIN" --config "$BENCH_DIR/c.toml" fleet ship 2>/dev/null
end=$(date +%s.%N)
awk -v s="$start" -v e="$end" -v n="$EVENTS" 'BEGIN { printf "  fleet ship: %.2f s, %.0f events/s\n", e - s, n / (e - s) }'
for args in "--day 2026-11-10" "--since 40d"; do
    start=$(date +%s.%N)
    # shellcheck disable=SC2086
    "$BIN" --config "$BENCH_DIR/c.toml" report --fleet $args --format json >/dev/null 2>&1
    end=$(date +%s.%N)
    awk -v s="$start" -v e="$end" -v a="$args" 'BEGIN { printf "  report --fleet %s: %.2f s\n", a, e - s }'
done
