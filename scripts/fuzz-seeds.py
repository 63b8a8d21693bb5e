#!/usr/bin/env python3
"""Writes the hand-made seed inputs of the fuzz targets into fuzz/corpus/TARGET/seed-*.

The committed corpus is what libFuzzer kept after running from these seeds and `cargo fuzz cmin`;
this script only documents (and can recreate) where the seeds came from. Every address is from a
documentation range and every name is invented. Needs gzip, bzip2, xz and zstd.
"""

import json
import os
import struct
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# --- lines: the parser fixture's lines, one seed each, plus hostile forms.
fixture = os.path.join(ROOT, "tests", "fixtures", "parse", "lines.log")
with open(fixture, "rb") as f:
    fixture_lines = [l for l in f.read().split(b"\n") if l and not l.startswith(b"#")]
for i, line in enumerate(fixture_lines):
    put("lines", "fixture-%02d" % i, line + b"\n")
hostile = [
    b"<22>Nov 24 10:00:05 mx1 postfix/smtpd[1]: warning: unknown[192.0.2.1]: SASL LOGIN authentication failed: x\r\n",
    b"\0\0\0Nov 24 10:00:05 mx1 postfix/smtpd[1]: warning: unknown[192.0.2.1]: SASL PLAIN authentication failed: x\0\0",
    b"2026-03-29T02:30:00 mx1 dovecot: auth: passwd-file(\xff\x1b[31m,192.0.2.9): unknown user\n",
    b"2026-12-07T10:00:00.123456789+05:45 mx1 dovecot: imap-login: Disconnected (auth failed, 3 attempts in 9 secs): "
    b"user=<a\"b,c@example.org>, method=PLAIN, rip=2001:db8::7, lip=2001:db8::1, TLS, session=<abc>\n",
    b"2026-12-07 10:00:00,5 mx1 postfix/smtpd[1]: warning: host[::ffff:192.0.2.3]: SASL LOGIN authentication failed: UGFz\n",
    b"Feb 29 23:59:60.999 mx1 postfix/smtpd[1]: message repeated 4294967295 times: [ warning: unknown[192.0.2.4]: "
    b"SASL LOGIN authentication failed: x]\n",
    b"Nov 24 10:00:06 mx1 last message repeated 3 times\n--- last message repeated 2 times ---\n",
    b"@4000000068a1b2c3000000ff auth-worker(22401): Info: pam(=cmd,192.0.2.5,<sess>): pam_authenticate() failed: "
    b"Authentication failure (password mismatch?)\n",
    b"Dec 31 23:59:59 mx1 dovecot: auth: Error: pam_unix(dovecot:auth): authentication failure; logname= uid=0 "
    b"euid=0 tty=dovecot ruser=+x rhost=192.0.2.6 user=@admin\n",
    b"Jan  1 00:00:00 mx1 dovecot: pop3-login: Aborted login (no auth attempts in 0 secs): user=<>, rip=192.0.2.7\n",
    b"Jan  1 00:00:00 mx1 postfix/smtpd[5]: disconnect from unknown[192.0.2.8] ehlo=1 auth=0/1 commands=1/2\n",
    b"9999-12-31T23:59:59-25:59 mx1 postfix/submission/smtpd[1]: 1D8: client=a[192.0.2.9]:1, sasl_method=LOGIN, "
    b"sasl_username=-1+2\n",
    b"0000-01-01T00:00:00+25:59 mx1 dovecot: imap-login: Login: user=<u>, method=PLAIN, rip=192.0.2.10, lip=192.0.2.1\n",
]
for i, line in enumerate(hostile):
    put("lines", "hostile-%02d" % i, line)
with open(os.path.join(ROOT, "tests", "fixtures", "parse", "lines.log"), "rb") as f:
    put("lines", "fixture-all", b"\n".join(fixture_lines) + b"\n")

# --- journal: journalctl -o json lines.
def entry(cursor, micros, unit, ident, message, host="mx1", pid="42"):
    e = {"__CURSOR": cursor, "__REALTIME_TIMESTAMP": micros, "_SYSTEMD_UNIT": unit, "SYSLOG_IDENTIFIER": ident,
         "MESSAGE": message}
    if host is not None:
        e["_HOSTNAME"] = host
    if pid is not None:
        e["_PID"] = pid
    return json.dumps(e).encode()

pf = "warning: unknown[192.0.2.1]: SASL LOGIN authentication failed: UGFzc3dvcmQ6"
dv = ("imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<bob>, method=PLAIN, rip=2001:db8::5, "
      "lip=2001:db8::1, TLS, session=<x>")
journal = [
    entry("s=0;i=1", "1796637600123456", "postfix@-.service", "postfix/smtpd", pf),
    entry("s=1;i=2;t=6620849f20a40", "1796637601000000", "dovecot.service", "dovecot", dv, host="mx 1"),
    entry("s=2;i=3", "1796637602000000", "postfix.service", "postfix-out/submission/smtpd",
          list(b"warning: x[192.0.2.2]: SASL PLAIN authentication failed: \xff\n\r"), pid=None),
    entry("s=3;i=4", "1", "evil.service", "postfix/smtpd", pf),
    entry("s=4;i=5", "-62135596800000000", "dovecot.service", "dovecot", dv),
    entry("s=5;i=6", "253402300799999999", "dovecot.service", "dovecot", dv, host=""),
    b'{"__CURSOR":"s=6","__REALTIME_TIMESTAMP":"1796637600000000","_SYSTEMD_UNIT":["a","b"],"MESSAGE":null}',
    b'{"__CURSOR":"s=7","__REALTIME_TIMESTAMP":"1796637600000000","_SYSTEMD_UNIT":"postfix@x.service",'
    b'"SYSLOG_IDENTIFIER":"postfix/smtpd","SYSLOG_PID":"7","_HOSTNAME":"a:","MESSAGE":"' + pf.encode() + b'"}',
    b"not json",
    b"{\"__CURSOR\": 5}",
]
put("journal", "mixed", b"\n".join(journal) + b"\n")
for i, line in enumerate(journal):
    put("journal", "entry-%02d" % i, line + b"\n")
put("journal", "unterminated", journal[0])

# --- archive: a small log in every format, whole, truncated and damaged.
log = b"".join(l + b"\n" for l in fixture_lines[:12])
put("archive", "plain", log + b"partial line without newline")
def compress(cmd, data):
    return subprocess.run(cmd, input=data, stdout=subprocess.PIPE, check=True).stdout
for name, cmd in [("gz", ["gzip", "-9c"]), ("bz2", ["bzip2", "-9c"]), ("xz", ["xz", "-c"]),
                  ("zst", ["zstd", "-q", "-c"])]:
    whole = compress(cmd, log)
    put("archive", name, whole)
    put("archive", name + "-multi", whole + compress(cmd, b"second member\n"))
    put("archive", name + "-truncated", whole[: len(whole) // 2])
    damaged = bytearray(whole)
    damaged[len(damaged) // 2] ^= 0x55
    put("archive", name + "-damaged", bytes(damaged))
    put("archive", name + "-empty", compress(cmd, b""))

# --- csv_writer: 40 bytes of parameters, then \x1e-separated texts.
def csv_seed(seconds, delay, zone, counts, flags, reason, asn, ip, texts):
    head = struct.pack("<qQBBBBI", seconds, delay, zone, counts, flags, reason, asn) + ip.ljust(16, b"\0")
    return head + b"\x1e".join(texts)
put("csv_writer", "plain", csv_seed(1796637600, 1800, 0, 0, 0, 0, 0, bytes([192, 0, 2, 1]),
                                    [b"mx1", b"postfix/smtpd", b"alice", b"login", b"unknown"]))
put("csv_writer", "enriched", csv_seed(1796637600, 2500, 1, 4, 0x13 | 2, 3, 3320, bytes(range(16)),
                                       [b"mx1", b"imap-login", b"bob@example.org", b"plain", b"host.example",
                                        b"-x,y.example", b"de", b"Deutsche Telekom AG"]))
put("csv_writer", "hostile", csv_seed(-1, 7199, 2, 8, 0x75, 10, 1, bytes([198, 51, 100, 7]),
                                      [b"=cmd|' /C calc'!A0", b"+x", b"a,\"b\"\r\nc", b"\xff\x00\x1b[31m",
                                       b"\xe2\x80\xaeevil", b"@SUM(1)", b"\t-tab", b"\\x41 back\\slash"]))
put("csv_writer", "dst", csv_seed(1806281100, 3599, 1, 2, 0x04, 5, 0, bytes([203, 0, 113, 9]),
                                  [b"", b"auth", b"", b"", b""]))

# --- config: the documented example and small files.
with open(os.path.join(ROOT, "maillogsentinel.example.toml"), "rb") as f:
    put("config", "example", f.read())
configs = [
    b"",
    b'data_dir = "/d"\nlogs = ["/a.log", "/b.log"]\ntimezone = "Europe/Paris"\nserver_name = "mx1"\n'
    b"[scan]\ninvalid_mechanism_is_intrusion = true\n",
    b'[dns]\nnameservers = ["192.0.2.53", "[2001:db8::53]:5353"]\ntimeout_ms = 0\ncache_ttl = "7d"\n',
    b'[geo]\ncountry_db = ["/g/c.mmdb", "/g/c.csv"]\nasn_db = "/g/a.csv"\n',
    b'[email]\nto = ["a@example.org"]\nfrom = "MLS <m@example.org>"\ntransport = "smtp"\npassword = "x"\n'
    b'password_file = "/p"\n',
    b'[journal]\nenabled = true\nunits = ["postfix@*.service"]\n[blocklist]\nnever = ["192.0.2.0/24"]\n',
    b'[alerts]\nquiet_period = "15m"\n[[alerts.rule]]\nname = "burst"\nkind = "threshold"\nper = "network"\n'
    b'count = 10\nwindow = "5m"\nchannels = ["w"]\n[[alerts.rule]]\nname = "trap"\nkind = "honeypot"\n'
    b'usernames = ["admin"]\nchannels = ["w"]\n[[alerts.channel]]\nname = "w"\nkind = "webhook"\n'
    b'url = "https://example.org/h"\nformat = "slack"\n',
    b"timezone = \"../../etc/passwd\"\nlogs = []\nserver_name = \" \"\n",
    b"[scan]\ncorrelation_window_secs = -1\n[report]\nunknown = 1\n",
    b'data_dir = "\\u0000"\n[dns]\ncache_ttl = "99999999999999999999d"\n',
]
for i, c in enumerate(configs):
    put("config", "small-%02d" % i, c)

# --- geo_csv: both kinds, dotted and integer, a header, a quoted organisation, an HTML page.
geo_csvs = [
    b"1.0.0.0,1.0.0.255,AU\n2001::,2001:0:ffff:ffff:ffff:ffff:ffff:ffff,us\n",
    b"ip_range_start,ip_range_end,country_code\n1.0.0.0,1.0.0.255,AU\n8.8.8.0,8.8.8.255,US\n",
    b"16777216,16777471,13335,\"Cloudflare, Inc.\"\n134744064,134744319,AS15169,Google LLC\n",
    b"42540528726795050063891204319802818560,42540528806023212578155541913346768895,2500,WIDE\n",
    b"1.0.0.0,1.0.0.255,1,\"Evil\x1b[31m\"\nbad,row,x\n2.0.0.0,1.0.0.0,2,reversed\n::,::1,3,\"multi\nline\"\n",
    b"<html>\n<body>404 Not Found</body>\n</html>\n",
    b"0.0.0.0,255.255.255.255,ZZ\n::,ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff,zz\n1.0.0.0,1.0.0.0,x1\n",
]
for i, c in enumerate(geo_csvs):
    put("geo_csv", "db-%02d" % i, c)

# --- geo_mmdb: tiny databases in the GeoLite2 and IPinfo shapes (the writer of tests/enrich.rs).
def enc(v):
    if isinstance(v, str):
        b = v.encode()
        return (bytes([(2 << 5) | len(b)]) if len(b) < 29 else bytes([(2 << 5) | 29, len(b) - 29])) + b
    if isinstance(v, int):
        return bytes([(6 << 5) | 4]) + struct.pack(">I", v)
    out = bytes([(7 << 5) | len(v)])
    for k, x in v:
        out += enc(k) + enc(x)
    return out

def mmdb(networks):
    import ipaddress
    nodes = [["e", "e"]]
    data = b""
    for net, length, val in networks:
        addr = ipaddress.ip_address(net)
        bits = int(addr) if addr.version == 6 else int(addr)
        length = length if addr.version == 6 else 96 + length
        off = len(data)
        data += enc(val)
        cur = 0
        for depth in range(length):
            bit = (bits >> (127 - depth)) & 1
            if depth == length - 1:
                nodes[cur][bit] = ("d", off)
            else:
                r = nodes[cur][bit]
                if isinstance(r, tuple) and r[0] == "n":
                    cur = r[1]
                else:
                    nodes.append(["e", "e"])
                    nodes[cur][bit] = ("n", len(nodes) - 1)
                    cur = len(nodes) - 1
    n = len(nodes)
    out = b""
    for node in nodes:
        for r in node:
            v = n if r == "e" else (r[1] if r[0] == "n" else n + 16 + r[1])
            out += struct.pack(">I", v)[1:]
    out += b"\0" * 16 + data + b"\xab\xcd\xefMaxMind.com"
    out += bytes([(7 << 5) | 9])
    out += enc("node_count") + enc(n)
    for k, v in [("record_size", 24), ("ip_version", 6), ("binary_format_major_version", 2),
                 ("binary_format_minor_version", 0)]:
        out += enc(k) + bytes([(5 << 5) | 2]) + struct.pack(">H", v)
    out += enc("database_type") + enc("test")
    out += enc("build_epoch") + bytes([8, 2, 0x65, 0, 0, 0, 0, 0, 0, 0])
    out += enc("languages") + bytes([0, 4])
    out += enc("description") + bytes([7 << 5])
    return out

put("geo_mmdb", "geolite-country", mmdb([("1.0.0.0", 24, [("country", [("iso_code", "AU")])]),
                                         ("2001:db8::", 32, [("country", [("iso_code", "de")])])]))
put("geo_mmdb", "geolite-asn", mmdb([("1.0.0.0", 24, [("autonomous_system_number", 13335),
                                                        ("autonomous_system_organization", "Cloudflare, Inc.")])]))
put("geo_mmdb", "ipinfo", mmdb([("8.8.8.0", 24, [("country_code", "US"), ("asn", "AS15169"),
                                                  ("as_name", "Google\x1bLLC")])]))
whole = mmdb([("192.0.2.0", 24, [("country", "not a map"), ("registered_country", [("iso_code", "FR")])])])
put("geo_mmdb", "odd-shapes", whole)
put("geo_mmdb", "truncated", whole[: len(whole) // 2] + whole[-200:])
sys.exit(0)
