#!/usr/bin/env python3
"""A real SMTP server on loopback for tests/email.rs (aiosmtpd).

Every message received is parsed back with Python's email package and written to OUT_DIR as
msg-N.json: headers, the MIME structure, each part's decoded content (a gzipped attachment is
gunzipped), and the user that authenticated. Prints "ready" once listening.

usage: smtp_server.py PORT OUT_DIR [--cert C --key K] [--starttls | --tls] [--auth USER:PASS]
                      [--reject CODE]
"""
import argparse, asyncio, gzip, json, os, ssl, sys, time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
import email
from email import policy

p = argparse.ArgumentParser()
p.add_argument("port", type=int)
p.add_argument("out")
p.add_argument("--cert")
p.add_argument("--key")
p.add_argument("--starttls", action="store_true")
p.add_argument("--tls", action="store_true")
p.add_argument("--auth")
p.add_argument("--reject")
a = p.parse_args()


class Handler:
    def __init__(self):
        self.n = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if a.reject:
            return f"{a.reject} 4.7.1 Test server says no: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=policy.default)
        parts = []
        for part in msg.walk():
            entry = {"content_type": part.get_content_type(), "filename": part.get_filename()}
            if not part.is_multipart():
                payload = part.get_payload(decode=True) or b""
                if part.get_content_type() == "application/gzip":
                    payload = gzip.decompress(payload)
                    entry["gzipped"] = True
                entry["content"] = payload.decode("utf-8", "replace")
            parts.append(entry)
        auth = session.auth_data
        record = {
            "subject": str(msg["subject"]),
            "message_id": msg["message-id"] and str(msg["message-id"]),
            "date": msg["date"] and str(msg["date"]),
            "from": str(msg["from"]),
            "to": str(msg["to"]),
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "content_type": msg.get_content_type(),
            "parts": parts,
            "auth_user": auth.login.decode() if isinstance(auth, LoginPassword) else None,
            "tls": session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None,
        }
        self.n += 1
        tmp = os.path.join(a.out, f".msg-{self.n}.tmp")
        with open(tmp, "w") as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(a.out, f"msg-{self.n}.json"))
        return "250 Message accepted"


def authenticator(server, session, envelope, mechanism, auth_data):
    user, _, password = a.auth.partition(":")
    ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user \
        and auth_data.password.decode() == password
    # handled=False: let aiosmtpd send its 535 reply on failure.
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


ctx = None
if a.cert:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(a.cert, a.key)
kw = {}
if a.starttls:
    kw.update(tls_context=ctx, require_starttls=True)
if a.tls:
    kw.update(ssl_context=ctx)
if a.auth:
    kw.update(authenticator=authenticator, auth_required=True, auth_require_tls=bool(ctx))
controller = Controller(Handler(), hostname="127.0.0.1", port=a.port, server_hostname="localhost", **kw)
controller.start()
print("ready", flush=True)
try:
    # The test kills this process when done; exit on our own after a while in any case.
    time.sleep(120)
finally:
    controller.stop()
