#!/usr/bin/env python3
"""Password-guessing sessions against a real Postfix and Dovecot on loopback, and the check of what
`maillogsentinel scan` made of their logs. Driven by scripts/real-daemons.sh, which sets the
daemons up.

  real_daemons.py attack PORTS_JSON ROUND > truth.json   # run the sessions, print what happened
  real_daemons.py merge truth1.json truth2.json > truth.json   # two rounds as one
  real_daemons.py check ROUTE truth.json DATA_DIR SUMMARY_FILE
  real_daemons.py journal LOG... > entries.export   # the logs as journald would have stored them

Round 1 connects from 127.0.0.N (and ::1), round 2 from 127.0.1.N, so that the rows of two rounds
against the same daemons stay apart. SUMMARY_FILE holds the summary line of every scan; their
counts are added up.

Every scenario connects from an address of its own (127.0.0.0/8 is all loopback), so that each
scan row can be traced to the session that caused it, and so that Dovecot's per-address auth
penalty, which grows with each failure from one address, stays at its first step: with it, a
third failure from one address can take longer than Postfix waits for Dovecot, and Postfix logs
`Connection lost to authentication server` for what was a password attempt. The scenarios run
side by side, so their lines interleave in the log as a busy server's do.
"""

from __future__ import annotations

import base64
import csv
import datetime
import gzip
import imaplib
import json
import re
import poplib
import smtplib
import socket
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict

TIMEOUT = 60


def server(source: str) -> str:
    """The loopback address of the family of `source`, where the daemons listen."""
    return "::1" if ":" in source else "127.0.0.1"


class FromSource:
    """An imaplib/poplib client that connects from the address `source`."""

    def __init__(self, port: int, source: str):
        self._source = source
        super().__init__(server(source), port, timeout=TIMEOUT)

    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout, source_address=(self._source, 0))


class Imap(FromSource, imaplib.IMAP4):
    pass


class Pop(FromSource, poplib.POP3):
    pass


def smtp(port: int, source: str, attempts, mech: str = "PLAIN", send: bool = False) -> list[int]:
    """SMTP AUTH attempts in one session; after a success, a transaction (Postfix logs a
    successful login only with the queue id of a message)."""
    s = smtplib.SMTP(server(source), port, timeout=TIMEOUT, source_address=(source, 0))
    s.ehlo("bot.example")
    codes = []
    for user, password in attempts:
        if mech == "PLAIN":
            code, _ = s.docmd("AUTH", "PLAIN " + base64.b64encode(f"\0{user}\0{password}".encode()).decode())
        elif mech == "LOGIN":
            s.docmd("AUTH", "LOGIN")
            s.docmd(base64.b64encode(user.encode()).decode())
            code, _ = s.docmd(base64.b64encode(password.encode()).decode())
        else:
            code, _ = s.docmd("AUTH", mech)
            if code == 334:
                code, _ = s.docmd("*")
        codes.append(code)
        if code == 235:
            break
    if send and codes and codes[-1] == 235:
        s.docmd("MAIL", "FROM:<bot@example.test>")
        s.docmd("RCPT", "TO:<root@localhost>")
        s.docmd("RSET")
    s.quit()
    return codes


def logins(login, error, close, attempts) -> list[bool]:
    """Tries each (user, password) with `login` until one is accepted; `error` is a refusal."""
    ok = []
    for user, password in attempts:
        try:
            login(user, password)
            ok.append(True)
            break
        except error:
            ok.append(False)
    close()
    return ok


def imap(port: int, source: str, attempts) -> list[bool]:
    m = Imap(port, source)
    return logins(m.login, imaplib.IMAP4.error, m.logout, attempts)


def pop(port: int, source: str, attempts) -> list[bool]:
    p = Pop(port, source)

    def login(user, password):
        p.user(user)
        p.pass_(password)

    return logins(login, poplib.error_proto, p.quit, attempts)


def attack(ports: dict, round_: int = 1) -> dict:
    """Runs the scenarios; returns, per source address, what a correct scan must find. Round 2
    uses other source addresses (127.0.1.N, no IPv6) than round 1."""
    evil = "x rip=6.6.6.6, sasl_username=evil"
    scenarios = [
        # (source, what, expected failure rows: service, username; expected successes)
        ("127.0.0.11", lambda s: smtp(ports["smtpd"], s, [("alice", "guess1"), ("alice", "guess2")]),
         "postfix/smtpd", "alice", 2, 0),
        ("127.0.0.12", lambda s: smtp(ports["submission"], s, [("nosuchuser", "a"), ("nosuchuser", "b")], mech="LOGIN"),
         "postfix/submission/smtpd", "nosuchuser", 2, 0),
        ("127.0.0.13", lambda s: smtp(ports["smtps"], s, [("alice", "secret")], send=True),
         None, None, 0, 1),
        ("127.0.0.14", lambda s: smtp(ports["submission"], s, [(evil, "pw")]),
         "postfix/submission/smtpd", evil, 1, 0),
        # A mechanism the server does not offer: a probe, not a password attempt.
        ("127.0.0.15", lambda s: smtp(ports["smtpd"], s, [("", "")], mech="CRAM-MD5"),
         None, None, 0, 0),
        ("127.0.0.16", lambda s: imap(ports["imap"], s, [("alice", "a"), ("alice", "b"), ("alice", "c")]),
         "dovecot/imap-login", "alice", 3, 0),
        ("127.0.0.17", lambda s: imap(ports["imap"], s, [("bob@example.test", "hunter2")]),
         None, None, 0, 1),
        ("127.0.0.18", lambda s: pop(ports["pop3"], s, [("admin", "admin"), ("admin", "123456")]),
         "dovecot/pop3-login", "admin", 2, 0),
        ("127.0.0.19", lambda s: smtp(ports["smtpd"], s, [("bob@example.test", "x"), ("bob@example.test", "hunter2")], send=True),
         "postfix/smtpd", "bob@example.test", 1, 1),
        # Success after failures in one IMAP connection: the failures still count.
        ("127.0.0.20", lambda s: imap(ports["imap"], s, [("alice", "1"), ("alice", "2"), ("alice", "secret")]),
         "dovecot/imap-login", "alice", 2, 1),
    ]
    if ports.get("ipv6"):
        scenarios.append(("::1", lambda s: smtp(ports["submission"], s, [("carol", "pw")], mech="LOGIN"),
                          "postfix/submission/smtpd", "carol", 1, 0))
    if round_ == 2:
        scenarios = [(s.replace("127.0.0.", "127.0.1."), *rest) for s, *rest in scenarios if s != "::1"]
    results: dict = {}

    def run(source, what):
        try:
            results[source] = what(source)
        except Exception as e:  # noqa: BLE001 - reported as the scenario's result
            results[source] = f"error: {e!r}"

    threads = [threading.Thread(target=run, args=(s[0], s[1])) for s in scenarios]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    truth = {"addresses": {}, "failures": 0, "successes": 0, "mechanism_probes": 1}
    for source, _, service, user, failures, successes in scenarios:
        truth["addresses"][source] = {
            "service": service, "username": user, "failures": failures, "successes": successes,
            "client_saw": results.get(source),
        }
        truth["failures"] += failures
        truth["successes"] += successes
    return truth


def merge(paths: list[str]) -> dict:
    """The truths of several rounds as one."""
    merged = {"addresses": {}, "failures": 0, "successes": 0, "mechanism_probes": 0}
    for path in paths:
        truth = json.load(open(path))
        merged["addresses"].update(truth["addresses"])
        for key in ("failures", "successes", "mechanism_probes"):
            merged[key] += truth[key]
    return merged


def summed(summary: str, what: str) -> int:
    """The sum over the scans' summary lines of the count before `what`."""
    return sum(int(n.replace(",", "")) for n in re.findall(rf"(\d[\d,]*) {what}", summary))


def check(route: str, truth_path: str, data_dir: str, summary_path: str) -> int:
    truth = json.load(open(truth_path))
    summary = open(summary_path).read()
    problems = []
    for source, t in truth["addresses"].items():
        saw = t["client_saw"]
        if isinstance(saw, str):
            problems.append(f"{source}: the session itself failed ({saw}); the daemons are not set up right")
    with open(f"{data_dir}/reports/intrusions.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    by_ip = defaultdict(list)
    for r in rows:
        by_ip[r["client_ip"]].append(r)
    for source, t in truth["addresses"].items():
        got = by_ip.pop(source, [])
        if len(got) != t["failures"]:
            problems.append(f"{source}: {len(got)} rows, expected {t['failures']} ({t['client_saw']})")
        for r in got:
            if (r["service"], r["username"]) != (t["service"], t["username"]):
                problems.append(f"{source}: row {r['service']!r} {r['username']!r}, expected {t['service']!r} {t['username']!r}")
    for ip, got in by_ip.items():
        problems.append(f"{ip}: {len(got)} rows from an address no scenario used")
    for what, want in (("new failed login", truth["failures"]), ("successful login", truth["successes"]),
                       ("mechanism probe", truth["mechanism_probes"])):
        got = summed(summary, what)
        if got != want:
            problems.append(f"summaries count {got} {what}s, expected {want}: {summary.strip()}")
    services = Counter(r["service"] for r in rows)
    for p in problems:
        print(f"MISMATCH {p}")
    print(f"real daemons ({route}): {len(rows)} rows {dict(services)}, expected {truth['failures']}: "
          f"{'OK' if not problems else f'{len(problems)} problems'}")
    return 1 if problems else 0


MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}
# rsyslog's RSYSLOG_TraditionalFileFormat pads the day with a space, Postfix's maillog_file and
# Dovecot's log_path with a zero.
STAMP = re.compile(rb"([A-Z][a-z]{2}) +(\d{1,2}) (\d\d):(\d\d):(\d\d) ")
# `HOST IDENT[PID]: MESSAGE`; Dovecot through syslog sends no PID.
SYSLOG = re.compile(rb"(\S+) ([^\s\[\]:]+)(?:\[(\d+)\])?: (.*)", re.S)
# Dovecot's own log_path: `PROCESS: LEVEL: TEXT`, no host, no PID. A syslog line's host never ends
# in a colon, so this tells the two apart.
DOVECOT_OWN = re.compile(rb"[^\s:]+: .*", re.S)
# Dovecot's lines reach journald from its log process, whose PID neither log shows: one made up.
DOVECOT_LOG_PID = b"1717"
# Where the daemons' lines come from on Debian under systemd: postfix.service only runs
# `postfix@-.service`, the default instance, which runs Postfix.
POSTFIX_UNIT = b"postfix@-.service"
DOVECOT_UNIT = b"dovecot.service"


def realtime(line: bytes, now: float) -> tuple[int, bytes] | None:
    """The microseconds of a log line's year-less local timestamp, and the rest of the line. The
    year is the current one, or the last one for a date ahead of now (a December line read in
    January), as a reader of year-less logs guesses it; local time is the scan's zone too (both
    follow TZ and /etc/localtime)."""
    m = STAMP.match(line)
    if not m:
        return None
    mon, day, h, mi, sec = MONTHS[m[1].decode()], *map(int, m.groups()[1:])
    year = datetime.date.fromtimestamp(now).year
    when = datetime.datetime(year, mon, day, h, mi, sec).timestamp()
    if when > now + 86400:
        when = datetime.datetime(year - 1, mon, day, h, mi, sec).timestamp()
    return int(when) * 1_000_000, line[m.end():]


def entry_of(line: bytes, now: float) -> dict | None:
    """The journal fields of one log line (without the timestamps, boot and host chosen for the
    whole journal), `_HOSTNAME` only when the line names one."""
    dated = realtime(line, now)
    if dated is None:
        return None
    micros, rest = dated
    if DOVECOT_OWN.fullmatch(rest):
        return {"time": micros, "_SYSTEMD_UNIT": DOVECOT_UNIT, "SYSLOG_IDENTIFIER": b"dovecot",
                "_PID": DOVECOT_LOG_PID, "MESSAGE": rest}
    m = SYSLOG.fullmatch(rest)
    if not m:
        return None
    host, ident, pid, message = m.groups()
    if ident == b"dovecot":
        unit, pid = DOVECOT_UNIT, pid or DOVECOT_LOG_PID
    elif ident.startswith(b"postfix"):
        unit = POSTFIX_UNIT
    else:
        return None
    fields = {"time": micros, "_HOSTNAME": host, "_SYSTEMD_UNIT": unit, "SYSLOG_IDENTIFIER": ident, "MESSAGE": message}
    if pid:
        fields["_PID"] = pid
    return fields


def export_field(key: str, value: bytes) -> bytes:
    """One field in journal export format: binary framing for a value with a newline or a byte
    outside ASCII (journal-remote takes any other as text)."""
    if b"\n" in value or not value.isascii():
        return key.encode() + b"\n" + len(value).to_bytes(8, "little") + value + b"\n"
    return key.encode() + b"=" + value + b"\n"


def journal(paths: list[str]) -> bytes:
    """The lines of `paths` (a `.gz` decompressed) as journald would have stored them, in
    journal export format: one boot, one host, in time order (within one second, the lines of an
    earlier path first: the logs' timestamps tell no finer), and a few foreign entries that a scan
    must not count. A line that is no daemon's line stops it: the conversion would otherwise
    hide a change of the log formats."""
    now = time.time()
    entries = []
    for path in paths:
        with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
            for line in f.read().splitlines():
                fields = entry_of(line, now)
                if fields is None:
                    raise SystemExit(f"{path}: not a line of Postfix or Dovecot: {line!r}")
                entries.append(fields)
    entries.sort(key=lambda e: e["time"])
    if not entries:
        raise SystemExit("no log lines to turn into a journal")
    # journald stamps every entry with the machine's host name; the files route's Dovecot log
    # names none, so it takes the one of Postfix's lines.
    hosts = [e["_HOSTNAME"] for e in entries if "_HOSTNAME" in e]
    host = hosts[0] if hosts else socket.gethostname().encode()
    failure = next((e for e in entries if re.search(rb"SASL (PLAIN|LOGIN) authentication failed", e["MESSAGE"])), None)
    if failure is None:
        raise SystemExit("no SASL failure in the logs to imitate")
    foreign_text = re.sub(rb"\[[0-9a-f.:]+\]: SASL", b"[127.0.9.1]: SASL", failure["MESSAGE"])
    # Entries of the mail units that are not the daemons' (and the daemons' text from another
    # unit): a cron job echoing a Postfix SASL failure, a `logger` run by Postfix's unit and
    # systemd's own message about it; their address is no scenario's, so a count shows.
    foreign = [
        {"_SYSTEMD_UNIT": b"cron.service", "SYSLOG_IDENTIFIER": failure["SYSLOG_IDENTIFIER"], "_PID": b"2323",
         "MESSAGE": foreign_text},
        {"_SYSTEMD_UNIT": POSTFIX_UNIT, "SYSLOG_IDENTIFIER": b"logger", "_PID": b"2324",
         "MESSAGE": foreign_text.replace(b"127.0.9.1", b"127.0.9.2")},
        {"_SYSTEMD_UNIT": b"init.scope", "UNIT": POSTFIX_UNIT, "SYSLOG_IDENTIFIER": b"systemd", "_PID": b"1",
         "MESSAGE": foreign_text.replace(b"127.0.9.1", b"127.0.9.3")},
    ]
    at = entries.index(failure)
    for f in foreign:
        f["time"] = failure["time"]
    entries[at + 1:at + 1] = foreign
    boot = uuid.uuid4().hex.encode()
    booted = entries[0]["time"] - 3600 * 1_000_000
    out = bytearray()
    for e in entries:
        out += export_field("__REALTIME_TIMESTAMP", str(e["time"]).encode())
        out += export_field("__MONOTONIC_TIMESTAMP", str(e["time"] - booted).encode())
        out += export_field("_BOOT_ID", boot)
        out += export_field("_HOSTNAME", host)
        for key, value in e.items():
            if key not in ("time", "_HOSTNAME"):
                out += export_field(key, value)
        out += b"\n"
    return bytes(out)


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "attack":
        json.dump(attack(json.loads(sys.argv[2]), int(sys.argv[3])), sys.stdout, indent=1)
        return 0
    if len(sys.argv) >= 3 and sys.argv[1] == "merge":
        json.dump(merge(sys.argv[2:]), sys.stdout, indent=1)
        return 0
    if len(sys.argv) >= 3 and sys.argv[1] == "journal":
        sys.stdout.buffer.write(journal(sys.argv[2:]))
        return 0
    if len(sys.argv) == 6 and sys.argv[1] == "check":
        return check(*sys.argv[2:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
