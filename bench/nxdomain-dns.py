#!/usr/bin/env python3
"""A DNS server on loopback that answers every query at once with NXDOMAIN: the cheapest
possible resolver, to time a scan with reverse DNS on (bench/README.md, "Reverse DNS").

    python3 bench/nxdomain-dns.py [PORT]      # default 5398; stop with Ctrl-C
"""
import socket
import sys

port = int(sys.argv[1]) if len(sys.argv) > 1 else 5398
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
# Room for a burst of queries (a scan sends up to `concurrency` at once): a dropped one costs
# the scan a timeout.
sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
sock.bind(("127.0.0.1", port))
while True:
    query, client = sock.recvfrom(4096)
    if len(query) < 17:
        continue
    # The question: its name's labels, then type and class (4 bytes).
    end = 12
    while end < len(query) and query[end] != 0:
        end += query[end] + 1
    end += 5
    if end > len(query):
        continue
    # Same id; QR, RD as asked, RA, RCODE 3 (NXDOMAIN); one question, no records.
    flags = bytes([0x80 | (query[2] & 0x01), 0x83])
    sock.sendto(query[:2] + flags + b"\x00\x01\x00\x00\x00\x00\x00\x00" + query[12:end], client)
