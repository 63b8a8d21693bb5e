#!/usr/bin/env python3
"""Alert latency under `watch`: from a failed login written to the log to the webhook receiving its
alert (a honeypot rule, quiet period 1 s, a new address each time, one line every 1.2 s).

    python3 bench/alert_latency.py target/release/maillogsentinel
"""
import http.server, threading, time, subprocess, os, sys, datetime, tempfile, statistics
got = []
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0))); got.append(time.monotonic())
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *a): pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
threading.Thread(target=srv.serve_forever, daemon=True).start()
d = tempfile.mkdtemp(); log = os.path.join(d, "mail.log"); open(log, "w").close()
cfg = os.path.join(d, "c.toml")
open(cfg, "w").write(f'''timezone = "UTC"
[alerts]
quiet_period = "1s"
[[alerts.channel]]
name = "hook"
kind = "webhook"
url = "http://127.0.0.1:{srv.server_address[1]}/x"
[[alerts.rule]]
name = "trap"
kind = "honeypot"
usernames = ["trap"]
channels = ["hook"]
''')
p = subprocess.Popen([sys.argv[1], "--config", cfg, "watch", "--log", log, "--data-dir", os.path.join(d, "data"), "--no-dns", "--no-geo"], stderr=subprocess.DEVNULL)
time.sleep(1.5)
lat = []
for i in range(20):
    n = len(got)
    ts = datetime.datetime.now(datetime.timezone.utc).strftime("%b %e %H:%M:%S")
    t0 = time.monotonic()
    with open(log, "a") as f:
        f.write(f"{ts} mx1 postfix/submission/smtpd[42]: warning: unknown[192.0.2.{i+1}]: SASL LOGIN authentication failed: UGFzc3dvcmQ6, sasl_username=trap\n")
    while len(got) == n and time.monotonic() - t0 < 10: time.sleep(0.001)
    lat.append((got[-1] - t0) * 1000 if len(got) > n else float("inf"))
    time.sleep(1.2)
p.terminate(); p.wait()
lat.sort()
print(f"n={len(lat)} p50={statistics.median(lat):.1f} ms p90={lat[int(len(lat)*0.9)-1]:.1f} ms max={lat[-1]:.1f} ms")
