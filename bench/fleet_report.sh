#!/usr/bin/env bash
# `report --fleet` over a fleet database of 50 million events (README, "A fleet of servers"):
# 10 servers, the last 400 days up to now, 200,000 attacker addresses each seen on every server
# (a slow botnet: an address comes back every 1.6 days, never twice in a day), 50,000 accounts,
# one login in a thousand. The events are generated inside PostgreSQL (generate_series; shipping
# them would take minutes and is measured by bench/fleet.sh), the insert trigger off and the
# history tables filled after, as the trigger would have. Then times `report --fleet` (yesterday,
# the default), `--since 7d`, `--since 30d` and `--since 400d` (every event), three rounds each;
# with OLD set, each round runs that build first, then BINARY (the machine drifts: compare
# alternating runs).
#
#   [OLD=BINARY] bash bench/fleet_report.sh [BINARY] [EVENTS]
#
# Needs about 12 GB in BENCH_DIR (default /tmp/mls-fleet-report) and a quarter of an hour.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${1:-}
EVENTS=${2:-50000000}
BENCH_DIR=${BENCH_DIR:-/tmp/mls-fleet-report}
if [[ -z $BIN ]]; then
    (cd "$ROOT" && cargo build --release --bin maillogsentinel) >&2
    BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/maillogsentinel
fi
# shellcheck source=bench/pg.sh
source "$ROOT/bench/pg.sh"
bench_postgres -c shared_buffers=1GB -c max_wal_size=8GB -c work_mem=64MB
cat >"$BENCH_DIR/c.toml" <<TOML
server_name = "mx1"
data_dir = "$BENCH_DIR"
timezone = "UTC"
[fleet]
url = "postgresql://mls_admin@127.0.0.1:$PORT/mls?sslmode=disable"
TOML
"$BIN" --config "$BENCH_DIR/c.toml" fleet init >/dev/null
t0=$(date +%s)
psql -d mls >/dev/null <<SQL
ALTER TABLE mls_events DISABLE TRIGGER mls_events_history;
SELECT mls_ship_begin('mx' || s, ARRAY(SELECT generate_series(now() - interval '401 days', now() + interval '31 days', interval '1 month')))
FROM generate_series(1, 10) s;
SQL
CHUNK=5000000
for ((lo = 0; lo < EVENTS; lo += CHUNK)); do
    psql -d mls -c "
    INSERT INTO mls_events (server, source, \"offset\", ts, kind, reason, attempts, ip, host, service, username)
    SELECT 1 + (i / 3) % 10, 7, i,
           now() - interval '400 days' + (i::float8 / $EVENTS) * interval '400 days',
           CASE WHEN i % 1000 = 0 THEN 2 ELSE 1 END, CASE WHEN i % 1000 = 0 THEN 11 ELSE 2 END, 1,
           '10.0.0.0'::inet + (i::bigint * 7919) % 200000, 'mx' || (1 + (i / 3) % 10),
           (ARRAY['postfix/submission/smtpd', 'dovecot/imap-login', 'dovecot/pop3-login'])[1 + i % 3],
           'user' || (i::bigint * 31) % 50000
    FROM generate_series($lo, least($lo + $CHUNK, $EVENTS) - 1) i"
done
psql -d mls <<SQL
INSERT INTO mls_ip_history SELECT ip, min(ts) FROM mls_events GROUP BY ip;
INSERT INTO mls_logins SELECT username, ip, min(ts) FROM mls_events WHERE kind = 2 GROUP BY username, ip;
ALTER TABLE mls_events ENABLE TRIGGER mls_events_history;
VACUUM ANALYZE;
SQL
echo "generated $(psql -d mls -c 'SELECT count(*) FROM mls_events') events in $(($(date +%s) - t0)) s; database $(psql -d mls -c "SELECT pg_size_pretty(pg_database_size('mls'))")"
echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $(nproc) cpu; PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}'); $BIN"
for args in "" "--since 7d" "--since 30d" "--since 400d"; do
    for round in 1 2 3; do
        for bin in ${OLD:+"$OLD"} "$BIN"; do
            start=$(date +%s.%N)
            # shellcheck disable=SC2086
            /usr/bin/time -f %M -o "$BENCH_DIR/rss" "$bin" --config "$BENCH_DIR/c.toml" report --fleet $args --format json \
                >"$BENCH_DIR/report.json" 2>/dev/null
            end=$(date +%s.%N)
            awk -v s="$start" -v e="$end" -v a="${args:-(yesterday)}" -v r="$round" -v b="$([[ $bin == "${OLD:-}" ]] && echo old || echo new)" \
                -v m="$(cat "$BENCH_DIR/rss")" \
                -v n="$(python3 -c "import json; r = json.load(open('$BENCH_DIR/report.json')); print(r['totals']['failed_attempts'], r['shared_attackers']['count'])")" \
                'BEGIN { printf "  report --fleet %-12s round %d %s: %.2f s, %d MB (failed attempts, shared attackers: %s)\n", a, r, b, e - s, m / 1024, n }'
        done
    done
done
