#!/usr/bin/env bash
# What the alert rules cost a scan: the botnet burst of bench/burst.sh (1,000,000 failures from
# 100,000 addresses at 1,000 a second), dated the last 20 minutes so that every event is recent
# enough to alert, scanned without alert rules and with three (threshold per address, threshold
# per /24, compromise) whose webhook posts to a loopback sink; alternating, ROUNDS times.
#
#   bash bench/alerts.sh [ROUNDS]
#
# Environment: BENCH_DIR (default /tmp/mls-alerts), CARGO_TARGET_DIR.
set -euo pipefail

ROUNDS=${1:-3}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BENCH_DIR=${BENCH_DIR:-/tmp/mls-alerts}
BIN=$TARGET/release/maillogsentinel
mkdir -p "$BENCH_DIR"
cd "$BENCH_DIR"
(cd "$ROOT" && cargo build --release --bin maillogsentinel) >&2

python3 "$ROOT/bench/gen_burst.py" --rate 1000 --start "$(date -u -d '-20 min' +%Y-%m-%dT%H:%M:%S)" --out burst.log
cat >sink.py <<'PY'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
python3 sink.py 18088 &
sink=$!
trap 'kill $sink' EXIT
printf 'timezone = "UTC"\n' >off.toml
cat >on.toml <<'TOML'
timezone = "UTC"
[[alerts.channel]]
name = "hook"
kind = "webhook"
url = "http://127.0.0.1:18088/hook"
[[alerts.rule]]
name = "brute"
kind = "threshold"
count = 20
window = "10m"
channels = ["hook"]
[[alerts.rule]]
name = "net"
kind = "threshold"
per = "network"
count = 100
channels = ["hook"]
[[alerts.rule]]
name = "takeover"
kind = "compromise"
channels = ["hook"]
TOML

echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $(nproc) cpu"
for ((round = 1; round <= ROUNDS; round++)); do
    for c in off on; do
        rm -rf "data-$c" && mkdir "data-$c"
        /usr/bin/time -v "$BIN" --config "$c.toml" scan --log burst.log --data-dir "data-$c" --no-dns --no-geo \
            >"out-$c.txt" 2>time.txt
        wall=$(sed -nE 's/.*Elapsed \(wall clock\).*: ([0-9:.]+)$/\1/p' time.txt |
            awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }')
        rss=$(sed -nE 's/.*Maximum resident set size \(kbytes\): ([0-9]+)/\1/p' time.txt)
        echo "alerts-$c ${wall}s $((rss / 1024)) MiB: $(sed -nE 's/.*: ([0-9,]+ new failed).*/\1/p' "out-$c.txt")$(grep -oE ', [0-9]+ alerts? queued.*' "out-$c.txt" || true)"
    done
done
