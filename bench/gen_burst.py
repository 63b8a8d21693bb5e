#!/usr/bin/env python3
"""Writes a log of password-guessing failures at a fixed rate of log time, for bench/burst.sh.

    python3 bench/gen_burst.py --failures 1000000 --addresses 100000 --rate 1000 --out burst.log

Every failure comes from one of ADDRESSES addresses (198.18.0.0/15, a benchmarking range), drawn
at random with a fixed seed, RATE failures a second of log time. One failure in four is logged
twice, as a Postfix + Dovecot setup does: Dovecot's auth process first (a Backend line without
session), then Postfix's SASL warning one second later; the others are Postfix alone. So the
correlator holds some attempts pending and merges their lines, as it would on a real server.

Same arguments give the same bytes. Times are classic syslog (`Mmm dd HH:MM:SS`), starting at
START (in the past: a scan holds back attempts of the last seconds before *now*).
"""

import argparse
import collections
import datetime
import random
import sys

MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
USERS = ["admin", "info", "test", "sales", "support", "office", "contact", "webmaster", "postmaster", "user"]


def stamp(t):
    return f"{MONTHS[t.month - 1]} {t.day:2d} {t:%H:%M:%S}"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--failures", type=int, default=1_000_000)
    p.add_argument("--addresses", type=int, default=100_000)
    p.add_argument("--rate", type=float, default=1000.0, help="failures per second of log time")
    p.add_argument("--start", default="2025-11-01T00:00:00")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    if a.addresses > 1 << 17:
        sys.exit("gen_burst.py: at most 131072 addresses (198.18.0.0/15)")
    rng = random.Random(a.seed)
    start = datetime.datetime.fromisoformat(a.start)
    # Lines are written in time order: a Dovecot line dated one second before its Postfix line is
    # queued until that second comes.
    later = collections.deque()  # (second, text) of Postfix lines that follow a Dovecot line

    with open(a.out, "w", encoding="ascii", newline="\n") as f:
        out = []
        for i in range(a.failures):
            sec = int(i / a.rate)
            while later and later[0][0] <= sec:
                out.append(later.popleft()[1])
            n = rng.randrange(a.addresses)
            ip = f"198.{18 + (n >> 16)}.{(n >> 8) & 255}.{n & 255}"
            t = stamp(start + datetime.timedelta(seconds=sec))
            pid = 4000 + i % 20000
            postfix = f"mx1 postfix/submission/smtpd[{pid}]: warning: unknown[{ip}]: SASL LOGIN authentication failed: UGFzc3dvcmQ6"
            if rng.randrange(4) == 0:
                user = USERS[rng.randrange(len(USERS))]
                out.append(f"{t} mx1 dovecot: auth: passwd-file({user},{ip}): Password mismatch")
                t2 = stamp(start + datetime.timedelta(seconds=sec + 1))
                later.append((sec + 1, f"{t2} {postfix}"))
            else:
                out.append(f"{t} {postfix}")
            if len(out) >= 65536:
                f.write("\n".join(out) + "\n")
                out.clear()
        out.extend(text for _, text in later)
        if out:
            f.write("\n".join(out) + "\n")
    print(f"{a.failures} failures from {a.addresses} addresses at {a.rate:g}/s: {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
