"""TLS on the proxy listeners: every server-side SSLContext the proxy uses is made here.

    tls = ServerTLS(ssl_cert, ssl_cert_key)     # the default certificate (PEM files)
    ctx = tls.listener_context(http2)           # for loop.create_server(ssl=ctx, ...)
    tls.table = CertificateTable(config.certificates)   # Kong's certificates/snis; on reload

Per handshake, the listener context's SNI callback picks the certificate the way Kong does: the
name the client sent, exactly; then with its first label as a wildcard (`*.example.com`); then
with its last label as one (`example.*`); else the default certificate. The callback switches
the connection to that certificate's context (ssl.SSLContext.sni_callback, OpenSSL's
SSL_set_SSL_CTX) and leaves the name on the SSL object (`jqgate_sni`) where the HTTP server
reads it for routes' `snis` conditions.

Contexts: TLS 1.2 and 1.3 only (Mozilla's intermediate profile: OpenSSL's default ciphers less
what it already excludes at security level 2); session tickets on, so clients resume (tickets
are sealed with keys of the listener context, which every SNI context shares since OpenSSL
takes them from the context the handshake started on; the keys are made when the context is,
before workers fork, so a ticket from one worker resumes at another).

ALPN: `alpn_protocols(http2)` is what a listener offers: "http/1.1", and "h2" first when the
listener says `http2` (the core's HTTP/2 server, _core/server/http2.pyx, reads
`ssl_object.selected_alpn_protocol()` when the connection is made). Certificate contexts are
made per ALPN list (OpenSSL takes ALPN from the context switched to).

Hot reload: a new configuration brings a new CertificateTable, built off the event loop; the
assignment `tls.table = ...` is the switch. A handshake in progress or done keeps its context,
so established connections are untouched; the next handshake sees the new certificates.

Engines: `ServerTLS.server_options(...)` gives loop.create_server what a listener needs. By
default the core's TLS (jqgate._core.tls: OpenSSL over memory BIOs in C, under the HTTP
protocols; the same contexts, its own SNI callback asking `context_for_name`), else, when that
module is missing or cannot use this Python's OpenSSL, uvloop's SSL transport with the
`listener_context` below (its SNI callback in Python). `ServerTLS(..., engine="python")` asks
for uvloop's.
"""
from __future__ import annotations

import logging
import os
import ssl
import tempfile

log = logging.getLogger("jqgate.tls")

DEFAULT_HANDSHAKE_TIMEOUT = 60.0    # seconds; nginx bounds a handshake by client_header_timeout


class TLSFileError(Exception):
    """A default certificate that cannot be loaded (the message names the files)."""


def alpn_protocols(http2: bool) -> tuple[str, ...]:
    return ("h2", "http/1.1") if http2 else ("http/1.1",)


def base_context(alpn: tuple[str, ...]) -> ssl.SSLContext:
    """A server context without a certificate: the protocol versions and ALPN of every one."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    ctx.set_alpn_protocols(list(alpn))
    return ctx


def load_pem_pair(ctx: ssl.SSLContext, cert_pem: str, key_pem: str) -> None:
    """load_cert_chain from PEM text: Python's ssl reads files only, so the pair goes through
    a private temporary file (mode 0600) that lives for the call."""
    fd, path = tempfile.mkstemp(prefix="jqgate-cert-", suffix=".pem")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(key_pem.rstrip("\n") + "\n" + cert_pem.rstrip("\n") + "\n")
        ctx.load_cert_chain(path)
    finally:
        os.unlink(path)


class CertificateTable:
    """Kong's certificates by SNI name, for one configuration. `context_for(name, alpn)` is the
    handshake's look-up; a certificate's context is made once per ALPN list, the http/1.1 one
    as the table is built (off the loop, with the rest of a reload), others at first use."""

    def __init__(self, certificates=()):
        self.by_name: dict[str, object] = {}
        for cert in certificates:
            for name in cert.snis:
                self.by_name[name] = cert
        self._contexts: dict[tuple[str, tuple], ssl.SSLContext] = {}
        for cert in certificates:
            self._context(cert, alpn_protocols(False))

    def __bool__(self):
        return bool(self.by_name)

    def certificate_for(self, name: str):
        """Exact name, then `*.` + all but the first label, then all but the last + `.*`."""
        name = name.lower().rstrip(".")
        cert = self.by_name.get(name)
        if cert is not None:
            return cert
        dot = name.find(".")
        if dot > 0:
            cert = self.by_name.get("*" + name[dot:])
            if cert is not None:
                return cert
        dot = name.rfind(".")
        if dot > 0:
            return self.by_name.get(name[:dot + 1] + "*")
        return None

    def context_for(self, name: str, alpn: tuple[str, ...]) -> ssl.SSLContext | None:
        cert = self.certificate_for(name)
        return None if cert is None else self._context(cert, alpn)

    def _context(self, cert, alpn):
        key = (cert.id, alpn)
        ctx = self._contexts.get(key)
        if ctx is None:
            ctx = base_context(alpn)
            load_pem_pair(ctx, cert.cert, cert.key)
            if cert.cert_alt:
                load_pem_pair(ctx, cert.cert_alt, cert.key_alt)    # e.g. RSA next to ECDSA
            self._contexts[key] = ctx
        return ctx


EMPTY_TABLE = CertificateTable()


def self_signed_default(directory: str) -> tuple[str, str]:
    """Kong's answer to an `ssl` listener without ssl_cert: a self-signed default certificate
    (ECDSA P-256, CN "localhost", a year), made at start-up into `directory` (0600 key).
    Clients that verify refuse it; it is for names no `certificates` entity serves."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), False)
            .sign(key, hashes.SHA256()))
    cert_file = os.path.join(directory, "jqgate-default.crt")
    key_file = os.path.join(directory, "jqgate-default.key")
    with open(os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    with open(cert_file, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    return cert_file, key_file


def core_tls():
    """jqgate._core.tls when it is built and can use Python's OpenSSL, else None."""
    try:
        from jqgate._core import tls as core
    except ImportError:
        return None
    return core if core.available else None


def _core_tls_why() -> str:
    """Why jqgate._core.tls cannot be used (it failed to import, or its OpenSSL checks failed)."""
    try:
        from jqgate._core import tls as core
    except ImportError as e:
        return str(e)
    return core.why


ENGINES = ("auto", "core", "python")


class ServerTLS:
    """The TLS side of a gateway process: the default certificate and the current table.
    Without files (`cert_file` None), Kong's way: a self-signed default made at start-up.
    `engine`: "auto" (the core's TLS when available, else uvloop's), "core" or "python"
    (uvloop's SSL transport); see the module docstring."""

    def __init__(self, cert_file: str | None, key_file: str | None, engine: str = "auto"):
        if engine not in ENGINES:
            raise ValueError("TLS engine must be one of %s, not %r" % (", ".join(ENGINES), engine))
        self.core = core_tls() if engine != "python" else None
        if engine != "python" and self.core is None:
            why = _core_tls_why()
            if engine == "core":
                raise TLSFileError("the core's TLS cannot be used here: %s" % why)
            # Still correct, but every TLS request costs more: say so once, at start-up.
            log.warning("TLS: the core's TLS engine cannot be used here (%s); serving TLS "
                        "through uvloop's SSL transport", why)
        if not cert_file:
            try:
                self._tmp = tempfile.TemporaryDirectory(prefix="jqgate-tls-")
                cert_file, key_file = self_signed_default(self._tmp.name)
            except ImportError:
                raise TLSFileError("an ssl listener without ssl_cert/ssl_cert_key needs the "
                                   "`cryptography` package to make a default certificate "
                                   "(pip install jqgate[tls]), or give ssl_cert and "
                                   "ssl_cert_key") from None
            log.warning("TLS: no ssl_cert/ssl_cert_key; serving a self-signed default "
                        "certificate (CN localhost) to names no certificate entity serves")
        self.cert_file, self.key_file = cert_file, key_file
        self.table = EMPTY_TABLE
        self._listeners: dict[tuple, ssl.SSLContext] = {}
        self._core_listeners: dict[tuple, ssl.SSLContext] = {}
        self.listener_context(False)          # load the default pair now: fail at start-up

    @property
    def engine(self) -> str:
        return "core" if self.core is not None else "python"

    def server_options(self, app_factory, http2: bool, loop, handshake_timeout: float) -> dict:
        """loop.create_server's protocol factory and TLS arguments for a listener whose
        connections speak `app_factory()`'s protocol once their handshake is done."""
        if self.core is None:
            return {"protocol_factory": app_factory, "ssl": self.listener_context(http2),
                    "ssl_handshake_timeout": handshake_timeout}
        alpn = alpn_protocols(http2)
        return {"protocol_factory": self.core.TLSListener(
            app_factory, self.core_listener_context(http2),
            lambda name: self.context_for_name(name, alpn), loop, handshake_timeout)}

    def prepare(self, http2: bool) -> None:
        """Make the listener context the engine uses now, before workers fork: its session
        ticket keys are made with it, and every worker must share them."""
        if self.core is None:
            self.listener_context(http2)
        else:
            self.core_listener_context(http2)

    def core_listener_context(self, http2: bool) -> ssl.SSLContext:
        """The context of a listener on the core's TLS (one per ALPN list): a context of its
        own, as the core sets its SNI callback, which must not replace listener_context's."""
        alpn = alpn_protocols(http2)
        ctx = self._core_listeners.get(alpn)
        if ctx is None:
            ctx = self._core_listeners[alpn] = self._default_context(alpn)
        return ctx

    def context_for_name(self, server_name: str, alpn: tuple[str, ...]) -> ssl.SSLContext | None:
        """The context of the certificate Kong's rule picks for a server name in the current
        table, or None for the default certificate. Runs inside a handshake, on the loop."""
        table = self.table
        if not table:
            return None
        try:
            return table.context_for(server_name, alpn)
        except (OSError, ssl.SSLError):
            log.exception("TLS: cannot load the certificate for %r", server_name)
            return None                # the default certificate, rather than no answer

    def _default_context(self, alpn: tuple[str, ...]) -> ssl.SSLContext:
        ctx = base_context(alpn)
        try:
            ctx.load_cert_chain(self.cert_file, self.key_file)
        except (OSError, ssl.SSLError) as exc:
            raise TLSFileError("TLS certificate %s with key %s: %s" % (
                self.cert_file, self.key_file, getattr(exc, "strerror", None) or exc)) from None
        return ctx

    def listener_context(self, http2: bool) -> ssl.SSLContext:
        """The context of a listener on uvloop's SSL transport (one per ALPN list, shared by
        listeners alike), its SNI callback in Python."""
        alpn = alpn_protocols(http2)
        ctx = self._listeners.get(alpn)
        if ctx is not None:
            return ctx
        ctx = self._default_context(alpn)

        def choose(ssl_object, server_name, _ctx):
            # Runs inside the handshake, on the event loop: dictionary look-ups only.
            if server_name is None:
                return None
            ssl_object.jqgate_sni = server_name
            chosen = self.context_for_name(server_name, alpn)
            if chosen is not None:
                ssl_object.context = chosen
            return None

        ctx.sni_callback = choose
        self._listeners[alpn] = ctx
        return ctx
