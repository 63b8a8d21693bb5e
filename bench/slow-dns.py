#!/usr/bin/env python3
"""A DNS server on loopback that answers every query after a delay, without holding up the
others: a slow resolver, to time reverse DNS with forward confirmation (bench/README.md,
"Reverse DNS against a slow resolver"; bench/dns.sh starts it).

PTR a.b.c.d  -> host-a-b-c-d.example.net.
A   host-a-b-c-d.example.net. -> a.b.c.d
anything else (AAAA included) -> NOERROR without records

    python3 bench/slow-dns.py [PORT [DELAY_SECONDS]]   # default 5399, 1.0; stop with Ctrl-C

On exit (Ctrl-C, SIGTERM) it prints how many queries it received: a query the client sent again
before the answer came counts each time.
"""
import heapq
import select
import signal
import socket
import sys
import time

port = int(sys.argv[1]) if len(sys.argv) > 1 else 5399
delay = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
# Room for a burst of queries (a scan sends up to twice `concurrency` at once): a dropped one
# costs the scan a timeout.
sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
sock.bind(("127.0.0.1", port))
sock.setblocking(False)


def labels(query, at):
    """The question's labels (lower case) and where the name ends."""
    out = []
    while at < len(query) and query[at] != 0:
        n = query[at]
        out.append(query[at + 1:at + 1 + n].decode("ascii", "replace").lower())
        at += n + 1
    return out, at + 1


def encode(name):
    return b"".join(bytes([len(l)]) + l.encode() for l in name.split(".") if l) + b"\x00"


def answer(query):
    if len(query) < 17:
        return None
    names, end = labels(query, 12)
    if end + 4 > len(query):
        return None
    qtype = int.from_bytes(query[end:end + 2], "big")
    rdata, rtype = None, qtype
    if qtype == 12 and len(names) == 6 and names[4:] == ["in-addr", "arpa"]:
        rdata = encode("host-" + "-".join(reversed(names[:4])) + ".example.net")
    elif qtype == 1 and len(names) == 3 and names[1:] == ["example", "net"] \
            and names[0].startswith("host-"):
        parts = names[0][5:].split("-")
        if len(parts) == 4 and all(p.isdigit() and int(p) < 256 for p in parts):
            rdata = bytes(int(p) for p in parts)
    # Same id; QR, RD as asked, RA; NOERROR; one question, one answer or none.
    flags = bytes([0x80 | (query[2] & 0x01), 0x80])
    counts = b"\x00\x01" + (b"\x00\x01" if rdata else b"\x00\x00") + b"\x00\x00\x00\x00"
    out = query[:2] + flags + counts + query[12:end + 4]
    if rdata:
        # The answer's name points at the question's (offset 12).
        out += b"\xc0\x0c" + rtype.to_bytes(2, "big") + b"\x00\x01" + (60).to_bytes(4, "big")
        out += len(rdata).to_bytes(2, "big") + rdata
    return out


def stop(*_):
    print(f"slow-dns: {received} queries received", file=sys.stderr)
    sys.exit(0)


signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
due = []  # (when, sequence, bytes, client)
seq = 0
received = 0
while True:
    wait = max(0.0, due[0][0] - time.monotonic()) if due else None
    readable, _, _ = select.select([sock], [], [], wait)
    if readable:
        while True:
            try:
                query, client = sock.recvfrom(4096)
            except BlockingIOError:
                break
            received += 1
            reply = answer(query)
            if reply is not None:
                seq += 1
                heapq.heappush(due, (time.monotonic() + delay, seq, reply, client))
    now = time.monotonic()
    while due and due[0][0] <= now:
        _, _, reply, client = heapq.heappop(due)
        try:
            sock.sendto(reply, client)
        except OSError:
            pass
