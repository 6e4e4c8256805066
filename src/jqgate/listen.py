"""Listen addresses, read the same way everywhere (server start-up, the settings layer)."""
from __future__ import annotations


def parse_listen(listen: str) -> tuple[str, int]:
    """"HOST:PORT", ":PORT", "PORT" or "[v6]:PORT"."""
    listen = listen.strip()
    if listen.startswith("["):
        host, _, port = listen[1:].partition("]:")
    elif ":" in listen:
        host, _, port = listen.rpartition(":")
    else:
        host, port = "", listen
    return host or "0.0.0.0", int(port)


# -- Kong's listen syntax: "ADDRESS [flag ...], ADDRESS [flag ...]" ---------------------------

# Kong's flags this gateway acts on, and those it accepts without acting on (said at start-up,
# never silently): `reuseport` is what --workers does anyway, `backlog=N` is fixed at 4096,
# `deferred`/`bind`/`so_keepalive=...` are nginx socket tuning.
LISTEN_FLAGS = ("ssl", "http2")
IGNORED_LISTEN_FLAGS = ("reuseport", "deferred", "bind", "backlog", "so_keepalive",
                        "ipv6only", "fastopen", "rcvbuf", "sndbuf")


class Listener:
    """One listening address and what it speaks: TLS (`ssl`) and HTTP/2 (`http2`: offered by
    ALPN on TLS, jqgate.tls.alpn_protocols; prior knowledge h2c without). `ignored`: Kong flags
    accepted without effect, reported at start-up."""

    __slots__ = ("host", "port", "ssl", "http2", "ignored", "sock")

    def __init__(self, host: str, port: int, ssl: bool = False, http2: bool = False,
                 ignored: tuple = ()):
        self.host, self.port, self.ssl, self.http2 = host, port, ssl, http2
        self.ignored = ignored
        self.sock = None                # a socket bound for it, once bound

    @property
    def address(self) -> str:
        host = "[%s]" % self.host if ":" in self.host else self.host
        return "%s:%d" % (host, self.port)

    def __str__(self) -> str:
        return " ".join([self.address] + [f for f in LISTEN_FLAGS if getattr(self, f)])

    def __repr__(self) -> str:
        return "Listener(%r)" % str(self)


def parse_listeners(text: str) -> list[Listener]:
    """Kong's `proxy_listen`: comma-separated addresses, each followed by flags in any order,
    e.g. "0.0.0.0:8000, 0.0.0.0:8443 ssl http2". ValueError names what is wrong."""
    out = []
    for item in str(text).split(","):
        words = item.split()
        if not words:
            raise ValueError('empty address in "%s"' % text)
        host, port = parse_listen(words[0])
        if not 0 <= port <= 65535:
            raise ValueError('port out of range in "%s"' % words[0])
        flags, ignored = set(), []
        for word in words[1:]:
            name = word.split("=", 1)[0].lower()
            if name in LISTEN_FLAGS:
                flags.add(name)
            elif name in IGNORED_LISTEN_FLAGS:
                ignored.append(word)
            else:
                raise ValueError('unknown listen flag "%s" (known: %s)'
                                 % (word, ", ".join(LISTEN_FLAGS + IGNORED_LISTEN_FLAGS)))
        out.append(Listener(host, port, "ssl" in flags, "http2" in flags, tuple(ignored)))
    return out
