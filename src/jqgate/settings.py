"""Settings of `jqgate run`: one table, four sources, one precedence.

    defaults  <  settings file (--settings jqgate.yaml)  <  environment  <  command-line flags

The environment is `JQGATE_<NAME>` (the setting's name in capitals), and for the settings a Kong
user already has, Kong's own name (`KONG_PROXY_LISTEN`...); when both are set, `JQGATE_*` wins.
Other `KONG_*` variables are reported as not supported, never silently ignored.

Every setting is one `Setting` row in SETTINGS: its name (the settings-file key), default, parser,
help text, and where its value goes when the gateway starts:

    "serve"   a keyword option of jqgate.gateway.serve.serve
    "server"  a keyword of core.ServerSettings (serve's `server_options`)
    "pool"    a keyword of core.ConnectionPool (serve's `pool_options`)
    "http2"   a keyword of core.Http2Limits (server_options["http2"], when http2 is on)
    "cli"     read by the command itself (which file to serve, how to log)

Adding a new server limit is one row. docs/configuration.md is the reference (a test checks it
names every row).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from jqgate.errors import ConfigError, ConfigIssue

# -- value parsers: str (environment, flags) or an already-typed value (settings file) -----------

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def parse_bool(value):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError('expected true or false, got "%s"' % value)


def parse_seconds(value):
    """A duration in seconds: 60, 2.5, "30s", "500ms", "2m"."""
    if isinstance(value, bool):
        raise ValueError('expected a duration in seconds, got "%s"' % value)
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        text = str(value).strip().lower()
        scale = 1.0
        for suffix, factor in (("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0)):
            if text.endswith(suffix):
                text, scale = text[:-len(suffix)], factor
                break
        try:
            seconds = float(text) * scale
        except ValueError:
            raise ValueError('expected a duration in seconds (60, 2.5, "500ms", "2m"), got "%s"'
                             % value) from None
    if seconds < 0:
        raise ValueError("must not be negative")
    return seconds


def parse_size(value):
    """A size in bytes: 65536, "64k", "8m" (Kong's size units; k = 1024)."""
    if isinstance(value, bool):
        raise ValueError('expected a size in bytes, got "%s"' % value)
    if isinstance(value, int):
        size = value
    else:
        text = str(value).strip().lower()
        scale = 1
        for suffix, factor in (("k", 1024), ("m", 1024 ** 2), ("g", 1024 ** 3)):
            if text.endswith(suffix):
                text, scale = text[:-1], factor
                break
        try:
            size = int(text) * scale
        except ValueError:
            raise ValueError('expected a size in bytes (65536, "64k", "8m"), got "%s"'
                             % value) from None
    if size < 0:
        raise ValueError("must not be negative")
    return size


def parse_count(value, minimum: int = 1):
    """A whole number of at least `minimum`."""
    if isinstance(value, bool):
        raise ValueError('expected a whole number, got "%s"' % value)
    try:
        count = int(str(value).strip())
    except ValueError:
        raise ValueError('expected a whole number, got "%s"' % value) from None
    if count < minimum:
        raise ValueError("must be at least 1" if minimum == 1 else "must not be negative")
    return count


def parse_count0(value):
    """A whole number, 0 allowed."""
    return parse_count(value, minimum=0)


def parse_workers(value):
    if str(value).strip().lower() == "auto":
        return os.cpu_count() or 1
    try:
        return parse_count(value)
    except ValueError:
        raise ValueError('expected a number or "auto", got "%s"' % value) from None


def parse_listen(value):
    """"HOST:PORT", ":PORT", "PORT", "[v6]:PORT"; "off" for no listener. Kong's list form
    ("0.0.0.0:8000 reuseport backlog=16384, ...") is read for its first address."""
    if value is None:
        return None
    text = str(value).strip()
    if text.lower() in ("off", ""):
        return None
    first = text.split(",")[0].split()[0]
    from jqgate.listen import parse_listen as split
    try:
        host, port = split(first)
    except ValueError:
        raise ValueError('expected HOST:PORT or "off", got "%s"' % value) from None
    if not 0 <= port <= 65535:
        raise ValueError('port out of range in "%s"' % value)
    return first


def parse_proxy_listen(value):
    """Kong's proxy_listen: "ADDR [ssl] [http2] [...], ADDR ..." (jqgate.listen.parse_listeners);
    the text is kept as written once it reads."""
    from jqgate.listen import parse_listeners
    text = str(value).strip()
    parse_listeners(text)           # ValueError: the setting's error
    return text


def parse_path(value):
    if value is None or str(value).strip() == "":
        return None
    return str(value)


def choice(*allowed, aliases=None):
    aliases = aliases or {}

    def parse(value):
        text = str(value).strip().lower()
        text = aliases.get(text, text)
        if text not in allowed:
            raise ValueError("expected one of %s, got \"%s\"" % (", ".join(allowed), value))
        return text
    parse.choices = allowed
    return parse


def parse_access_log(value):
    """stdout, stderr, off or a file path (Kong's "/dev/stdout" and "off" forms too)."""
    text = str(value).strip()
    return {"/dev/stdout": "stdout", "/dev/stderr": "stderr", "": "off"}.get(text, text)


# Kong's nine levels onto Python's (Kong: debug info notice warn error crit alert emerg).
_LOG_LEVEL = choice("debug", "info", "warning", "error", "critical",
                    aliases={"notice": "info", "warn": "warning", "crit": "critical",
                             "alert": "critical", "emerg": "critical"})


# -- the table -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Setting:
    name: str                      # the settings-file key; env JQGATE_<NAME>
    default: object
    parse: object                  # callable(str | typed value) -> value; raises ValueError
    help: str
    target: str = "serve"          # "serve" | "server" | "pool" | "proxy" | "cli"
    option: str = ""               # the keyword at the target (default: name)
    flags: tuple = ()              # command-line flags; the first one is shown in --help
    kong_env: tuple = ()           # Kong's names for the same thing
    metavar: str = ""

    @property
    def env(self) -> str:
        return "JQGATE_" + self.name.upper()

    @property
    def keyword(self) -> str:
        return self.option or self.name


SETTINGS: tuple[Setting, ...] = (
    Setting("config", None, parse_path, "the Kong declarative file to serve (YAML or JSON)",
            target="cli", kong_env=("KONG_DECLARATIVE_CONFIG",), metavar="FILE"),
    Setting("proxy_listen", "0.0.0.0:8000", parse_proxy_listen,
            "proxy listeners as Kong writes them: ADDR [ssl] [http2], ... (docs/tls.md)",
            target="serve", option="listen", flags=("--listen", "--proxy-listen"),
            kong_env=("KONG_PROXY_LISTEN",), metavar="ADDRS"),
    Setting("admin_listen", "127.0.0.1:8001", parse_listen,
            'Admin API listen address, or "off"', target="serve",
            flags=("--admin-listen",), kong_env=("KONG_ADMIN_LISTEN",), metavar="ADDR"),
    Setting("status_listen", None, parse_listen,
            'status listener (/status, /status/ready, /metrics) address, or "off"',
            target="serve", flags=("--status-listen",), kong_env=("KONG_STATUS_LISTEN",),
            metavar="ADDR"),
    Setting("workers", 1, parse_workers, 'worker processes, or "auto" (one per core)',
            flags=("--workers",), kong_env=("KONG_NGINX_WORKER_PROCESSES",), metavar="N"),
    Setting("access_log", "stdout", parse_access_log,
            "where access log lines go: stdout, stderr, off or a file path (appended to by "
            "every worker, whole lines); lines are buffered and written at least every "
            "access_log_flush_interval seconds, on SIGHUP (which reopens the file) and at exit",
            flags=("--access-log",), kong_env=("KONG_PROXY_ACCESS_LOG",), metavar="DEST"),
    Setting("log_format", "plain", choice("plain", "json"),
            "access log lines: plain text, or one JSON object per line",
            flags=("--log-format",)),
    Setting("access_log_buffer_size", 65536, parse_size,
            "bytes of access log lines each worker buffers before writing (nginx's "
            "buffer=); 0 writes every line at once", flags=("--access-log-buffer-size",),
            metavar="BYTES"),
    Setting("access_log_flush_interval", 1.0, parse_seconds,
            "longest time a buffered access log line waits to be written (seconds)",
            flags=("--access-log-flush-interval",), metavar="SECONDS"),
    Setting("log_level", "info", _LOG_LEVEL,
            "log level: debug, info, warning, error (Kong's names are accepted too)",
            target="cli", flags=("--log-level",), kong_env=("KONG_LOG_LEVEL",)),
    Setting("skip_unknown_plugins", False, parse_bool,
            "drop plugins other than datakit with a warning instead of refusing the "
            "configuration", target="cli", flags=("--skip-unknown-plugins",)),
    Setting("plan_modules", None, parse_path,
            "directory of compiled plan modules (jqgate build) whose plans run in place of the "
            "generic executor's; a plan with no module there runs generic (one log line)",
            target="cli", flags=("--plan-modules",), metavar="DIR"),
    Setting("build_plan_modules", False, parse_bool,
            "at start, first build into plan_modules the modules it lacks (needs a C compiler "
            "and Cython; without them one log line, and the generic executor)",
            target="cli", flags=("--build-plan-modules",)),
    Setting("drain_timeout", 10.0, parse_seconds,
            "on SIGTERM, how long in-flight requests may take to finish (seconds)",
            flags=("--drain-timeout",), metavar="SECONDS"),
    Setting("ssl_cert", None, parse_path,
            "the default TLS certificate chain (PEM) of the proxy's ssl listeners (names no "
            "certificates entity serves); without it, a self-signed one made at start-up",
            flags=("--ssl-cert",), kong_env=("KONG_SSL_CERT",), metavar="FILE"),
    Setting("ssl_cert_key", None, parse_path, "the private key (PEM) of ssl_cert",
            flags=("--ssl-cert-key",), kong_env=("KONG_SSL_CERT_KEY",), metavar="FILE"),
    Setting("ssl_handshake_timeout", 60.0, parse_seconds,
            "how long a client may take to finish its TLS handshake on an ssl listener "
            "(seconds); then it is disconnected", flags=("--ssl-handshake-timeout",),
            metavar="SECONDS"),
    Setting("admin_token", None, parse_path,
            "require this token on every Admin API request (Authorization: Bearer, or "
            "Kong-Admin-Token), compared in constant time; default: none",
            flags=("--admin-token",), metavar="TOKEN"),
    Setting("admin_ssl_cert", None, parse_path,
            "serve the Admin API over TLS with this certificate chain (PEM)",
            flags=("--admin-ssl-cert",), kong_env=("KONG_ADMIN_SSL_CERT",), metavar="FILE"),
    Setting("admin_ssl_key", None, parse_path, "the private key (PEM) of admin_ssl_cert",
            flags=("--admin-ssl-key",), kong_env=("KONG_ADMIN_SSL_CERT_KEY",), metavar="FILE"),
    Setting("jq_step_budget", 2_000_000, parse_count,
            "libjq instructions one jq program run may take (about 0.1-0.3 s of one core); "
            "over it the node fails (500); a plugin's config.jq_budget overrides it",
            flags=("--jq-step-budget",), metavar="STEPS"),
    Setting("jq_memory_budget_mib", 64, parse_count,
            "MiB one jq program run may hold; over it the node fails (500)",
            flags=("--jq-memory-budget-mib",), metavar="MIB"),
    # Per-request limits and timeouts of the proxy listener (core.ServerSettings).
    Setting("max_uri_bytes", 8192, parse_size,
            "longest request target; longer answers 414", target="server",
            flags=("--max-uri-bytes",), metavar="BYTES"),
    Setting("max_header_bytes", 32768, parse_size,
            "largest request head; larger answers 431", target="server",
            flags=("--max-header-bytes",), metavar="BYTES"),
    Setting("max_body_bytes", 0, parse_size,
            "largest request body, 0 = unlimited (Kong's client_max_body_size); larger "
            "answers 413", target="server", flags=("--max-body-bytes",),
            kong_env=("KONG_NGINX_HTTP_CLIENT_MAX_BODY_SIZE",), metavar="BYTES"),
    Setting("body_buffer_size", 65536, parse_size,
            "request bodies up to this size are read whole before the flow runs; larger "
            "ones stream", target="server", flags=("--body-buffer-size",),
            kong_env=("KONG_NGINX_HTTP_CLIENT_BODY_BUFFER_SIZE",), metavar="BYTES"),
    Setting("header_timeout", 60.0, parse_seconds,
            "how long a client may take to send a request head (seconds)", target="server",
            flags=("--header-timeout",), metavar="SECONDS"),
    Setting("body_timeout", 60.0, parse_seconds,
            "how long a client may pause while sending a request body (seconds)",
            target="server", flags=("--body-timeout",), metavar="SECONDS"),
    Setting("keepalive_timeout", 60.0, parse_seconds,
            "how long an idle client connection stays open (seconds)", target="server",
            flags=("--keepalive-timeout",), metavar="SECONDS"),
    Setting("send_timeout", 60.0, parse_seconds,
            "how long a client may take to read what the gateway sends it; a client that "
            "stops reading is closed (nginx's send_timeout)", target="server",
            flags=("--send-timeout",), metavar="SECONDS"),
    Setting("body_min_rate", 1024, parse_size,
            "bytes per second a request body larger than body_buffer_size must keep while it "
            "streams upstream (0 = no minimum); slower answers 408 and frees its upstream "
            "connection", target="server", flags=("--body-min-rate",), metavar="BYTES"),
    Setting("body_min_rate_window", 10.0, parse_seconds,
            "the span each body_min_rate check covers (seconds, more than 0)", target="server",
            flags=("--body-min-rate-window",), metavar="SECONDS"),
    # HTTP/2 to clients (core.Http2Limits; docs/limits-and-safety.md).
    Setting("http2", False, parse_bool,
            "every proxy listener speaks HTTP/2 too (h2c with prior knowledge on plaintext, "
            "ALPN h2 on TLS; HTTP/1.1 stays available), unless the listen list names the "
            "listeners that do with Kong's `http2` flag", target="http2", option="enabled",
            flags=("--http2",)),
    Setting("http2_max_concurrent_streams", 128, parse_count,
            "HTTP/2 streams a client may have open on one connection (advertised; nginx's "
            "http2_max_concurrent_streams)", target="http2", option="max_concurrent_streams",
            flags=("--http2-max-concurrent-streams",), metavar="N"),
    Setting("http2_max_header_list_size", 0, parse_size,
            "decoded bytes of one HTTP/2 header block (HPACK bombs); 0 = max_header_bytes; "
            "over it the connection gets GOAWAY", target="http2",
            option="max_header_list_size", flags=("--http2-max-header-list-size",),
            metavar="BYTES"),
    Setting("http2_initial_window_size", 65535, parse_count,
            "bytes of request body a client may send on one HTTP/2 stream before the gateway "
            "acknowledges them", target="http2", option="initial_window_size",
            flags=("--http2-initial-window-size",), metavar="BYTES"),
    Setting("http2_max_resets", 200, parse_count,
            "client stream resets per connection per http2_reset_interval (rapid reset, "
            "CVE-2023-44487); one more and the connection gets GOAWAY", target="http2",
            option="max_resets", flags=("--http2-max-resets",), metavar="N"),
    Setting("http2_reset_interval", 10.0, parse_seconds,
            "the interval http2_max_resets counts over (seconds)", target="http2",
            option="reset_interval", flags=("--http2-reset-interval",), metavar="SECONDS"),
    # The upstream connection pool of each worker (core.ConnectionPool).
    Setting("upstream_max_per_host", 256, parse_count,
            "open connections per upstream host and port, per worker", target="pool",
            option="max_per_host", flags=("--upstream-max-per-host",), metavar="N"),
    Setting("upstream_keepalive_timeout", 60.0, parse_seconds,
            "how long an idle upstream connection is kept (seconds)", target="pool",
            option="idle_timeout", flags=("--upstream-keepalive-timeout",),
            kong_env=("KONG_UPSTREAM_KEEPALIVE_IDLE_TIMEOUT",), metavar="SECONDS"),
    Setting("upstream_queue_limit", 1024, parse_count0,
            "requests that may wait for a connection to one upstream host when all are busy; "
            "one more answers 503", target="pool", option="queue_limit",
            flags=("--upstream-queue-limit",), metavar="N"),
    Setting("upstream_queue_timeout", 60.0, parse_seconds,
            "how long a request may wait for an upstream connection (seconds; 0 = no bound); "
            "then 504", target="pool", option="queue_timeout",
            flags=("--upstream-queue-timeout",), metavar="SECONDS"),
    Setting("upstream_keepalive_pool_size", 512, parse_count0,
            "idle upstream connections kept per host", target="pool",
            option="keepalive_pool_size", flags=("--upstream-keepalive-pool-size",),
            kong_env=("KONG_UPSTREAM_KEEPALIVE_POOL_SIZE",), metavar="N"),
    Setting("upstream_keepalive_max_requests", 1000, parse_count0,
            "requests per upstream connection before it is closed (0 = unlimited)",
            target="pool", option="keepalive_max_requests",
            flags=("--upstream-keepalive-max-requests",),
            kong_env=("KONG_UPSTREAM_KEEPALIVE_MAX_REQUESTS",), metavar="N"),
    Setting("max_call_response_bytes", 10 * 1024 * 1024, parse_size,
            "largest response body a DataKit call node takes (0 = no limit); larger fails "
            "the call; a node's max_response_size overrides it", target="pool",
            flags=("--max-call-response-bytes",), metavar="BYTES"),
    Setting("max_service_response_bytes", 10 * 1024 * 1024, parse_size,
            "largest upstream answer a DataKit flow that reads service_response holds whole "
            "(0 = no limit); larger answers 502 and closes that upstream connection",
            target="pool", flags=("--max-service-response-bytes",), metavar="BYTES"),
    Setting("upstream_max_header_bytes", 65536, parse_size,
            "largest upstream response head; larger fails the request with 502",
            target="pool", option="max_header_bytes", flags=("--upstream-max-header-bytes",),
            metavar="BYTES"),
    Setting("response_buffer_size", 1024 * 1024, parse_size,
            "how far a route with response_buffering (Kong's default) reads an upstream's "
            "answer ahead of a slower client, per request; then the upstream waits",
            target="proxy", flags=("--response-buffer-size",), metavar="BYTES"),
    Setting("tls_certificate_verify", False, parse_bool,
            "block a DataKit call to an https URL whose ssl_verify is false",
            flags=("--tls-certificate-verify",),
            kong_env=("KONG_TLS_CERTIFICATE_VERIFY",)),
)

BY_NAME = {s.name: s for s in SETTINGS}

# Kong settings that mean something here but have no equivalent: said once at start-up.
# KONG_DATABASE=off is jqgate's only mode, so it is accepted silently.
KONG_ACCEPTED_AS_IS = {"KONG_DATABASE": "off"}


class Resolved(dict):
    """name -> value, plus where each value came from (for messages and tests)."""

    def __init__(self):
        super().__init__()
        self.source: dict[str, str] = {}
        self.warnings: list[str] = []

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def serve_options(self) -> dict:
        """Keyword arguments of jqgate.gateway.serve.serve (server_options, pool_options
        included)."""
        options = {"server_options": {}, "pool_options": {}, "proxy_options": {}}
        http2 = {}
        for s in SETTINGS:
            value = self[s.name]
            if s.target == "serve":
                options[s.keyword] = value
            elif s.target == "server":
                options["server_options"][s.keyword] = value
            elif s.target == "pool":
                options["pool_options"][s.keyword] = value
            elif s.target == "proxy":
                options["proxy_options"][s.keyword] = value
            elif s.target == "http2":
                http2[s.keyword] = value
        if http2.get("max_header_list_size") == 0:
            http2["max_header_list_size"] = None        # the server's max_header_bytes
        # HTTP/2 is configured when --http2 says every listener speaks it, or when a listener
        # of the listen list says `http2` (jqgate.gateway.serve.start decides per listener).
        if http2.pop("enabled", False) or _names_http2(self["proxy_listen"]):
            options["server_options"]["http2"] = http2
        return options


def _names_http2(listen) -> bool:
    from jqgate.listen import parse_listeners
    try:
        return any(listener.http2 for listener in parse_listeners(listen or ""))
    except ValueError:
        return False                 # serve() reports the unreadable listen list by name


def _parse(setting: Setting, value, where: str, errors: list):
    try:
        return setting.parse(value)
    except ValueError as exc:
        errors.append(ConfigIssue(where, str(exc)))
        return None


def read_settings_file(path: str) -> dict:
    """The settings file: a YAML (or JSON) mapping of setting names to values."""
    import yaml
    try:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
    except OSError as exc:
        raise ConfigError([ConfigIssue(path, "cannot read the settings file: %s"
                                       % (exc.strerror or exc))]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([ConfigIssue(path, "not valid YAML: %s" % exc)]) from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ConfigError([ConfigIssue(path, "a settings file is a mapping of setting names "
                                       "to values")])
    return doc


def resolve(flags: dict | None = None, settings_file: str | None = None,
            environ=None) -> Resolved:
    """Every setting's value: defaults < settings_file < environment < flags (name -> raw
    value; None = not given). Raises ConfigError naming each malformed value's source."""
    environ = os.environ if environ is None else environ
    flags = flags or {}
    resolved = Resolved()
    errors: list[ConfigIssue] = []
    for s in SETTINGS:
        resolved[s.name] = s.default
        resolved.source[s.name] = "default"
    if settings_file:
        for key, value in read_settings_file(settings_file).items():
            setting = BY_NAME.get(str(key))
            if setting is None:
                errors.append(ConfigIssue("%s: %s" % (settings_file, key),
                                          "unknown setting (docs/configuration.md lists them)"))
                continue
            parsed = _parse(setting, value, "%s: %s" % (settings_file, key), errors)
            resolved[setting.name] = parsed
            resolved.source[setting.name] = settings_file
    notes = []
    for s in SETTINGS:
        # JQGATE_* wins over Kong's name for the same setting.
        for name in (s.env,) + s.kong_env:
            if name in environ:
                resolved[s.name] = _parse(s, environ[name], name, errors)
                resolved.source[s.name] = name
                raw = str(environ[name]).strip()
                if s.parse is parse_listen and resolved[s.name] and raw != resolved[s.name]:
                    # Kong's list form: more addresses, or flags such as `ssl`, `http2`
                    notes.append('%s: only %s is used; the rest of "%s" is ignored'
                                 % (name, resolved[s.name], raw))
                break
    for name, value in flags.items():
        if value is None:
            continue
        s = BY_NAME[name]
        resolved[name] = _parse(s, value, s.flags[0] if s.flags else name, errors)
        resolved.source[name] = "flag"
    if errors:
        raise ConfigError(errors)
    resolved.warnings = notes + unsupported_kong_variables(environ)
    return resolved


def unsupported_kong_variables(environ) -> list[str]:
    known = {name for s in SETTINGS for name in s.kong_env}
    warnings = []
    for name in sorted(environ):
        if not name.startswith("KONG_") or name in known:
            continue
        if KONG_ACCEPTED_AS_IS.get(name) == str(environ[name]).strip().lower():
            continue
        warnings.append("%s is a Kong setting jqgate does not support; it is ignored" % name)
    return warnings


def describe(setting: Setting) -> str:
    """The --help text of a setting: what it does, its default, its environment names."""
    default = setting.default
    shown = "off" if default is None and setting.parse is parse_listen else default
    names = ", ".join((setting.env,) + setting.kong_env)
    if shown is None:
        return "%s (env %s)" % (setting.help, names)
    return "%s (default: %s; env %s)" % (setting.help, shown, names)
