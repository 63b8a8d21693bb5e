#!/usr/bin/env python3
"""`maillogsentinel watch`: latency from a line's write to its CSV row, idle CPU, and memory while
10 million lines are appended in bursts.

    cargo build --release --bin maillogsentinel --example gen_traffic
    python3 bench/watch.py [--lines 10000000] [--idle 60] [--dir /tmp/mls-watch]
    python3 bench/watch.py --dns answer --lines 0 --idle 0   # reverse DNS on, a loopback server
    python3 bench/watch.py --dns silent --lines 0 --idle 0   # ... that never answers
    python3 bench/watch.py --journal 200 --idle 30           # entries written to a journal

1. Latency: one failed login at a time, 10-100 ms apart (400 of them), then bursts of 1,000 lines
   a second for 5 s; each line names an account of its own, and a poller reads the CSV's new bytes
   every millisecond and notes when each account's row appears. p50/p99/max of write -> row.
2. Idle: CPU time (utime + stime from /proc/PID/stat) over --idle seconds without a write.
3. Memory: VmRSS at the start and after appending --lines lines of examples/gen_traffic's log
   (a mix of attacks and ordinary traffic from thousands of addresses) in bursts of 100,000
   lines, with the maximum seen; rows must all arrive.
Prints a summary; the CPU model is in the first line. No network: --no-geo, and --no-dns unless
--dns names a loopback server (bench/nxdomain-dns.py answering at once, or a socket that never
answers, with timeout_ms = 1000); then every latency line comes from an address of its own, so
that each row waits for a lookup of its own.
"""
import argparse
import os
import shutil
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
MLS = os.environ.get("MLS", os.path.join(TARGET, "release", "maillogsentinel"))
GEN = os.path.join(TARGET, "release", "examples", "gen_traffic")
TICK = os.sysconf("SC_CLK_TCK")


def cpu_model() -> str:
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def failure(user: str, n: int = 0) -> str:
    stamp = time.strftime("%b %e %H:%M:%S", time.gmtime())
    ip = f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
    return (f"{stamp} mx1 postfix/submission/smtpd[4242]: warning: unknown[{ip}]: "
            f"SASL LOGIN authentication failed: UGFzc3dvcmQ6, sasl_username={user}\n")


class Rows:
    """Follows the CSV: when each account's first row appeared."""

    def __init__(self, path: str):
        self.path, self.offset, self.partial, self.seen = path, 0, b"", {}
        self.count = 0
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop:
            self.poll()
            time.sleep(0.001)

    def poll(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return
        if not data:
            return
        now = time.monotonic()
        self.offset += len(data)
        lines = (self.partial + data).split(b"\n")
        self.partial = lines.pop()
        for line in lines:
            self.count += 1
            cells = line.split(b",")
            if len(cells) > 4:
                self.seen.setdefault(cells[4].decode(errors="replace"), now)


REMOTE = "/lib/systemd/systemd-journal-remote"


def journal_entry(user: str, n: int) -> bytes:
    """A Postfix SASL failure in journal export format, dated now."""
    fields = {
        "__REALTIME_TIMESTAMP": str(time.time_ns() // 1000),
        "__MONOTONIC_TIMESTAMP": str(time.monotonic_ns() // 1000),
        "_BOOT_ID": "0123456789abcdef0123456789abcdef",
        "_HOSTNAME": "mx1",
        "_SYSTEMD_UNIT": "postfix@-.service",
        "SYSLOG_IDENTIFIER": "postfix/submission/smtpd",
        "_PID": "4242",
        "MESSAGE": f"warning: unknown[10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}]: SASL LOGIN authentication "
                   f"failed: UGFzc3dvcmQ6, sasl_username={user}",
    }
    return "".join(f"{k}={v}\n" for k, v in fields.items()).encode() + b"\n"


def journal_latency(args) -> int:
    """Latency from an entry's write to the journal (systemd-journal-remote appending it to a
    journal file) to its CSV row, with `watch --journal-dir`."""
    journal, data = os.path.join(args.dir, "journal"), os.path.join(args.dir, "data")
    os.makedirs(journal)
    subprocess.run([REMOTE, f"--output={journal}/a.journal", "-"], input=journal_entry("first", 0), check=True,
                   stderr=subprocess.DEVNULL)
    watch = subprocess.Popen([MLS, "watch", "--journal-dir", journal, "--data-dir", data, "--timezone", "UTC",
                              "--no-dns", "--no-geo"], stderr=open(os.path.join(args.dir, "watch.stderr"), "w"))
    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores; binary {MLS}; the journal")
    rows = Rows(os.path.join(data, "reports", "intrusions.csv"))
    while "first" not in rows.seen:
        time.sleep(0.01)
    import random
    random.seed(1)
    writes = []
    for i in range(args.journal):
        user = f"journal{i}"
        subprocess.run([REMOTE, f"--output={journal}/a.journal", "-"], input=journal_entry(user, i + 1), check=True,
                       stderr=subprocess.DEVNULL)
        writes.append((user, time.monotonic()))
        time.sleep(random.uniform(0.05, 0.3))
    ms = [v * 1000 for v in latency("", rows, writes)]
    print(f"latency, journal ({len(ms)} rows): p50 {percentile(ms, 50):.1f} ms, p99 {percentile(ms, 99):.1f} ms, "
          f"max {max(ms):.1f} ms")
    time.sleep(2)
    cpu0, _ = stat(watch.pid)
    time.sleep(args.idle)
    cpu1, _ = stat(watch.pid)
    if args.idle:
        print(f"idle: {100 * (cpu1 - cpu0) / args.idle:.3f} % of a core")
    watch.terminate()
    return watch.wait()


def stat(pid: int) -> tuple[float, int]:
    """CPU seconds used, and VmRSS in KiB."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / TICK
    rss = next(int(l.split()[1]) for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS:"))
    return cpu, rss


def rss_parts(pid: int) -> str:
    """VmRSS split into anonymous memory and mapped files (the logs' pages in the page cache)."""
    parts = {l.split(":")[0]: int(l.split()[1]) for l in open(f"/proc/{pid}/status") if l.startswith("Rss")}
    return ", ".join(f"{k[3:].lower()} {v / 1024:.1f} MiB" for k, v in parts.items())


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def latency(log: str, rows: Rows, writes: list[tuple[str, float]]) -> list[float]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(u not in rows.seen for u, _ in writes):
        time.sleep(0.01)
    missing = [u for u, _ in writes if u not in rows.seen]
    if missing:
        sys.exit(f"watch: {len(missing)} rows never appeared (first: {missing[0]})")
    return [rows.seen[u] - t for u, t in writes]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=10_000_000)
    ap.add_argument("--idle", type=int, default=60)
    ap.add_argument("--dir", default="/tmp/mls-watch")
    ap.add_argument("--dns", choices=["off", "answer", "silent"], default="off")
    ap.add_argument("--journal", type=int, default=0, help="instead: N entries written to a journal")
    args = ap.parse_args()
    for exe in (MLS, GEN):
        if not os.access(exe, os.X_OK):
            sys.exit(f"{exe} missing: cargo build --release --bin maillogsentinel --example gen_traffic")
    shutil.rmtree(args.dir, ignore_errors=True)
    os.makedirs(args.dir)
    if args.journal:
        return journal_latency(args)
    log, data = os.path.join(args.dir, "mail.log"), os.path.join(args.dir, "data")
    traffic = os.path.join(args.dir, "traffic.log")
    # ~120 bytes a line.
    size = max(1, args.lines * 125 // 1_000_000)
    if args.lines:
        # Dated from now on, after the latency lines: a log whose time jumps back a month keeps
        # the correlator's records of the older lines until the clock passes them again.
        start = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
        subprocess.run([GEN, "--size", f"{size}M", "--seed", "7", "--start", start, "--out", traffic], check=True,
                       stderr=subprocess.DEVNULL)
    open(log, "w").close()
    command = [MLS, "watch", "--log", log, "--data-dir", data, "--timezone", "UTC", "--no-geo"]
    server = None
    if args.dns == "off":
        command.append("--no-dns")
    else:
        port = 5398
        if args.dns == "answer":
            server = subprocess.Popen([sys.executable, os.path.join(ROOT, "bench", "nxdomain-dns.py"), str(port)])
        else:
            server = subprocess.Popen([sys.executable, "-c", "import socket, time; s = socket.socket(socket.AF_INET, "
                                       f"socket.SOCK_DGRAM); s.bind(('127.0.0.1', {port})); time.sleep(1e9)"])
        config = os.path.join(args.dir, "config.toml")
        with open(config, "w") as f:
            f.write(f'[dns]\nnameservers = ["127.0.0.1:{port}"]\ntimeout_ms = 1000\n')
        command[1:1] = ["--config", config]
        time.sleep(0.5)
    watch = subprocess.Popen(command, stderr=open(os.path.join(args.dir, "watch.stderr"), "w"))
    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores; binary {MLS}")
    rows = Rows(os.path.join(data, "reports", "intrusions.csv"))
    while not os.path.exists(rows.path):
        time.sleep(0.01)
    time.sleep(0.5)
    _, rss_start = stat(watch.pid)

    import random
    random.seed(1)
    with open(log, "a") as out:
        writes = []
        for i in range(400):
            user = f"single{i}"
            out.write(failure(user, i))
            out.flush()
            writes.append((user, time.monotonic()))
            time.sleep(random.uniform(0.01, 0.1))
        single = latency(log, rows, writes)
        writes = []
        for second in range(5):
            start = time.monotonic()
            for i in range(1000):
                user = f"burst{second}_{i}"
                out.write(failure(user, 1000 + second * 1000 + i))
                out.flush()
                writes.append((user, time.monotonic()))
                time.sleep(max(0.0, start + (i + 1) / 1000 - time.monotonic()))
        burst = latency(log, rows, writes)
    for name, values in (("one at a time", single), ("1,000 lines/s", burst)):
        ms = [v * 1000 for v in values]
        print(f"latency {name} ({len(ms)} rows): p50 {percentile(ms, 50):.1f} ms, "
              f"p99 {percentile(ms, 99):.1f} ms, max {max(ms):.1f} ms")

    time.sleep(3)
    cpu0, _ = stat(watch.pid)
    time.sleep(args.idle)
    cpu1, rss_idle = stat(watch.pid)
    if args.idle:
        print(f"idle: {cpu1 - cpu0:.3f} s of CPU in {args.idle} s = {100 * (cpu1 - cpu0) / args.idle:.3f} % of a core")

    rows.stop = True
    rows.thread.join()
    rss_max, appended, started = rss_start, 0, time.monotonic()
    with open(traffic if args.lines else os.devnull, "rb") as src, open(log, "ab") as out:
        while appended < args.lines:
            chunk = b"".join(src.readline() for _ in range(100_000))
            if not chunk:
                src.seek(0)
                continue
            out.write(chunk)
            out.flush()
            appended += chunk.count(b"\n")
            time.sleep(0.2)
            rss_max = max(rss_max, stat(watch.pid)[1])
    # Let it catch up: the CSV stops growing.
    last, still = -1, 0
    while still < 10:
        size = os.path.getsize(rows.path)
        still = still + 1 if size == last else 0
        last = size
        time.sleep(0.2)
        rss_max = max(rss_max, stat(watch.pid)[1])
    cpu_end, rss_end = stat(watch.pid)
    parts = rss_parts(watch.pid)
    took = time.monotonic() - started
    print(f"memory: VmRSS {rss_start / 1024:.1f} MiB at start, {rss_idle / 1024:.1f} MiB after the latency runs, "
          f"{rss_end / 1024:.1f} MiB after {appended:,} more lines in bursts of 100,000 "
          f"(max {rss_max / 1024:.1f} MiB; {took:.0f} s, {cpu_end - cpu1:.1f} s of CPU); at the end {parts}")
    watch.terminate()
    t0 = time.monotonic()
    code = watch.wait()
    if server:
        server.kill()
    print(f"SIGTERM: exit {code} after {1000 * (time.monotonic() - t0):.0f} ms")
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
