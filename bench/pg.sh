# Sourced by bench/fleet.sh and bench/fleet_report.sh: a PostgreSQL cluster of Debian's newest
# binaries in "$BENCH_DIR/pg" (emptied first), on a random loopback port, with the server settings
# given as arguments (`-c name=value ...`) and PGOPTS; the database `mls` made, the superuser
# `mls_admin` trusted; stopped when the script exits. Sets PGBIN, PORT and the function psql.
bench_postgres() {
    PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    rm -rf "$BENCH_DIR" && mkdir -p "$BENCH_DIR"
    as_pg=()
    if [[ $(id -u) == 0 ]]; then
        chown postgres "$BENCH_DIR"
        as_pg=(runuser -u postgres --)
    fi
    PORT=$((20000 + RANDOM % 20000))
    "${as_pg[@]}" "$PGBIN/initdb" -D "$BENCH_DIR/pg" -U mls_admin -A trust --no-sync >/dev/null
    "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$BENCH_DIR/pg" -w -l "$BENCH_DIR/pg.log" \
        -o "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$BENCH_DIR $* ${PGOPTS:-}" start >/dev/null
    trap '"${as_pg[@]}" "$PGBIN/pg_ctl" -D "$BENCH_DIR/pg" -m fast stop >/dev/null' EXIT
    psql -d postgres -c "CREATE DATABASE mls"
}

psql() { "$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U mls_admin "$@"; }
