"""The TLS clients of bench/instructions.py --tls: requests over kept-alive TLS connections, one
full handshake per request, and a description of the handshake a server does.

Every client here behaves the same towards every server, so instruction counts compare: TLS 1.2
or 1.3 as the server allows (both allow 1.3), OpenSSL's default groups and ciphers, the SNI name
SNI_NAME (as wrk and browsers send one), no certificate check (the run's own self-signed pair).
A new connection is either a full handshake (no session offered) or a resumed one: it offers the
session (TLS 1.3 ticket) of the connection before it, which is what wrk does (it reuses one SSL
object per connection slot with SSL_shutdown + SSL_clear, which keeps the session), so the
new-connection rows of bench/run.py measure resumed handshakes when the server resumes.
"""
from __future__ import annotations

import re
import socket
import ssl
import subprocess

import layout

SNI_NAME = "bench.test"
CONNECTIONS = 4


def client_context() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _connect(ctx: ssl.SSLContext, port: int, sni: str | None, session=None) -> ssl.SSLSocket:
    raw = socket.create_connection((layout.HOST, port))
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return ctx.wrap_socket(raw, server_hostname=sni, session=session)


def keepalive_requests(port: int, path: str, n: int, sni: str | None = SNI_NAME,
                       read_response=None) -> None:
    """n GETs over CONNECTIONS kept-alive TLS connections, one at a time on each (the
    handshakes happen before the first request: count them apart with new_connection_requests)."""
    ctx = client_context()
    conns = [_connect(ctx, port, sni) for _ in range(CONNECTIONS)]
    req = f"GET {path} HTTP/1.1\r\nHost: bench\r\nUser-Agent: instructions\r\n\r\n".encode()
    pending = [b""] * len(conns)
    for _ in range(0, n, len(conns)):
        for c in conns:
            c.sendall(req)
        for j, c in enumerate(conns):
            pending[j] = read_response(c, pending[j])
    for c in conns:
        c.close()


def new_connection_requests(port: int, path: str, n: int, sni: str | None = SNI_NAME,
                            read_response=None, resume: bool = False) -> None:
    """n GETs, each on a new TLS connection with `Connection: close`, the way wrk's
    new-connection rows send them; the server closes. resume=False: full handshakes (no
    session offered); True: each connection offers the previous one's session, and every
    one must resume (SystemExit otherwise: the comparison would not be the one intended)."""
    ctx = client_context()
    req = (f"GET {path} HTTP/1.1\r\nHost: bench\r\nUser-Agent: instructions\r\n"
           "Connection: close\r\n\r\n").encode()
    session = None
    for i in range(n):
        c = _connect(ctx, port, sni, session if resume else None)
        if resume and session is not None and not c.session_reused:
            raise SystemExit(f"port {port}: a TLS session was offered and not resumed")
        c.sendall(req)
        read_response(c, b"")       # the server's tickets arrive before its answer is read
        session = c.session
        c.close()


def describe_handshake(port: int, sni: str | None = SNI_NAME) -> str:
    """What a handshake with the server agrees on, from `openssl s_client`: protocol version,
    cipher, key exchange group, signature, and the session tickets the server sends. Two
    servers measured against each other must print the same (else the bench is unfair)."""
    argv = ["openssl", "s_client", "-connect", f"{layout.HOST}:{port}", "-ign_eof"]
    argv += ["-servername", sni] if sni else ["-noservername"]
    # A request, so the server's post-handshake tickets (TLS 1.3) are read before the close.
    request = b"GET /nothing HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"
    done = subprocess.run(argv, input=request, capture_output=True, timeout=30)
    text = done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace")
    facts = []
    for label, pattern in (("protocol", r"(?m)^\s*Protocol\s*:\s*(\S+)"),
                           ("cipher", r"(?m)^\s*Cipher\s*:\s*(\S+)"),
                           ("group", r"(?m)^Server Temp Key: (.+)$"),
                           ("signature", r"(?m)^Peer signature type: (.+)$"),
                           ("certificate key", r"(?m)^Server public key is (.+)$")):
        m = re.search(pattern, text)
        facts.append(f"{label} {m.group(1).strip() if m else '?'}")
    facts.append("tickets %d" % len(re.findall(r"Post-Handshake New Session Ticket arrived", text)))
    return ", ".join(facts)
