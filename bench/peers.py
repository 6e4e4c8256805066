"""What gets started: the mocks, each implementation's server(s), and which flow each one serves.

An implementation is a set of servers; a target is one (implementation, flow) pair measured by
wrk at one URL. nginx configs are copied into the run directory (their pid and log paths are
relative to the `-p` prefix) and, for the multi-worker run, rewritten to `worker_processes N`.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import layout

JQGATE = "jqgate"
NJS = "nginx+njs"
LUA = "nginx+lua"
AIOHTTP = "aiohttp+jq"
DIRECT = "ceiling: nginx fixed 200"
UVLOOP = "ceiling: uvloop+httptools"
# The same servers with their access log on, to a file: jqgate's own (its default, buffered
# 64 KiB / 1 s) against nginx's `access_log ... buffer=64k flush=1s`. F1 and F2 only; the other
# implementations above run with their access log off.
JQGATE_LOG = "jqgate (access log on)"
NJS_LOG = "nginx+njs (access log on)"
LUA_LOG = "nginx+lua (access log on)"
# jqgate running the plan modules `jqgate build` compiled from the flow (issue #13 item 3),
# access log off and on (to a file), F1-F4.
JQGATE_MODULE = "jqgate compiled module"
JQGATE_MODULE_LOG = "jqgate compiled module (access log on)"
LOG_FLOWS = ("F1", "F2")
# Over TLS (issue #17): jqgate's `ssl` listener and nginx's `listen ... ssl`, the same
# certificate (an ECDSA P-256 one made per run, bench_tls_files), F1 and F2. Kept-alive
# connections measure the encrypted request path; "new connection" sends `Connection: close`
# on every request, so each one pays a full handshake: the handshake rate.
JQGATE_TLS = "jqgate TLS"
NGINX_TLS = "nginx TLS"
JQGATE_HANDSHAKE = "jqgate TLS new connection"
NGINX_HANDSHAKE = "nginx TLS new connection"
TLS_FLOWS = ("F1", "F2")
TLS_IMPLS = (JQGATE_TLS, NGINX_TLS, JQGATE_HANDSHAKE, NGINX_HANDSHAKE)
IMPLEMENTATIONS = [JQGATE, NJS, LUA, AIOHTTP, DIRECT, UVLOOP, JQGATE_LOG, NJS_LOG, LUA_LOG,
                   JQGATE_MODULE, JQGATE_MODULE_LOG, *TLS_IMPLS]
assert not any("," in impl for impl in IMPLEMENTATIONS), "run.py --impls splits on commas"
CEILINGS = [DIRECT, UVLOOP]
# Table order of the implementations that serve flows.
COMPARED = [JQGATE, NJS, LUA, AIOHTTP, JQGATE_LOG, NJS_LOG, LUA_LOG, JQGATE_MODULE,
            JQGATE_MODULE_LOG, *TLS_IMPLS]
# nginx has no DataKit flow for F2: its F2 peer is the plain reverse proxy (peers/plain_proxy.conf),
# measured once under NJS (and NJS_LOG); LUA (LUA_LOG) compares against that same server.
F2_PEER = {LUA: NJS, LUA_LOG: NJS_LOG}
NGINX_ACCESS_LOG = "access_log logs/access.log combined buffer=64k flush=1s;"


@dataclass(frozen=True)
class ServerSpec:
    key: str            # unique name, also the log file name
    argv: tuple
    port: int           # the server is ready when this port accepts connections


@dataclass(frozen=True)
class Target:
    impl: str
    flow: str           # F1..F4, or "fixed" for the ceilings
    server: str         # ServerSpec.key
    port: int
    tls: bool = False
    headers: tuple = ()  # sent by wrk on every request

    @property
    def key(self) -> str:
        return f"{self.impl} / {self.flow}"

    @property
    def url(self) -> str:
        path = layout.FLOW_PATHS.get(self.flow, "/anything")
        return f"{'https' if self.tls else 'http'}://{layout.HOST}:{self.port}{path}"


def nginx_argv(conf: str, run_dir: Path, name: str, workers: int = 1, access_log: bool = False,
               master_process: bool = True, tls: tuple | None = None,
               http2_port: int | None = None) -> tuple:
    """Copy bench/peers/<conf> (and dk_flow.js, which js_import finds beside it) into its own
    prefix under the run directory; nginx runs in the foreground (daemon off).

    access_log: log every request to <prefix>/logs/access.log (buffered like jqgate's) and
    listen on the ports + layout.LOG_PORT_OFFSET, so it runs beside the log-off copy.
    master_process=False: one process serving requests (what callgrind measures).
    tls=(cert, key): every listener speaks TLS with that pair, on its port + TLS_PORT_OFFSET."""
    prefix = run_dir / name
    (prefix / "logs").mkdir(parents=True, exist_ok=True)
    text = (layout.PEERS / conf).read_text()
    text = re.sub(r"^worker_processes \d+;", f"worker_processes {workers};", text, flags=re.M)
    if access_log:
        text = text.replace("access_log off;", NGINX_ACCESS_LOG)
        text = re.sub(r"listen 127\.0\.0\.1:(\d+)",
                      lambda m: f"listen 127.0.0.1:{int(m.group(1)) + layout.LOG_PORT_OFFSET}", text)
    if not master_process:
        text = re.sub(r"^master_process on;", "master_process off;", text, flags=re.M)
    if tls is not None:
        text = re.sub(r"listen 127\.0\.0\.1:(\d+)([^;]*);",
                      lambda m: f"listen 127.0.0.1:{int(m.group(1)) + layout.TLS_PORT_OFFSET}"
                                f"{m.group(2)} ssl;\n        ssl_certificate {tls[0]};\n"
                                f"        ssl_certificate_key {tls[1]};\n"
                                f"        ssl_protocols TLSv1.2 TLSv1.3;", text)
    if http2_port is not None:
        # nginx 1.22's plaintext `http2` listener speaks h2c with prior knowledge only
        text = re.sub(r"listen 127\.0\.0\.1:\d+", f"listen 127.0.0.1:{http2_port} http2", text)
    (prefix / conf).write_text(text)
    shutil.copy(layout.PEERS / "dk_flow.js", prefix / "dk_flow.js")
    return ("nginx", "-p", f"{prefix}/", "-c", str(prefix / conf), "-e", str(prefix / "logs" / "error.log"))


def python() -> str:
    return sys.executable


def jqgate_argv(flow: str, port: int, workers: int = 1, access_log: str = "off",
                plan_modules: Path | None = None, tls: tuple | None = None) -> tuple:
    """`jqgate run` for a flow; access_log "off" or a file path (its default is stdout);
    plan_modules: a directory from build_plan_modules (the compiled-module rows);
    tls=(cert, key): the listener says `ssl` and serves that pair."""
    exe = Path(sys.executable).parent / "jqgate"
    listen = f"{layout.HOST}:{port}" + (" ssl" if tls else "")
    argv = (str(exe), "run", str(layout.FLOW_FILES[flow]), "--listen", listen,
            "--workers", str(workers), "--no-admin", "--log-level", "warning",
            "--access-log", access_log)
    if tls:
        argv += ("--ssl-cert", tls[0], "--ssl-cert-key", tls[1])
    return argv + (("--plan-modules", str(plan_modules)) if plan_modules else ())


def bench_tls_files(run_dir: Path) -> tuple[str, str]:
    """An ECDSA P-256 certificate and key for 127.0.0.1 (openssl CLI), shared by jqgate and
    nginx so both pay for the same signatures."""
    cert, key = run_dir / "tls-cert.pem", run_dir / "tls-key.pem"
    if not cert.exists():
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key), "-out", str(cert),
                        "-days", "7", "-subj", "/CN=127.0.0.1", "-addext",
                        "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return str(cert), str(key)


_BUILT: set[Path] = set()      # built in this run already


def build_plan_modules(flow: str, run_dir: Path) -> Path:
    """`jqgate build` of a flow's declarative file into run_dir/plan-modules/<flow> (afresh:
    a module refuses to load under another core build)."""
    out = run_dir / "plan-modules" / flow
    if out in _BUILT:
        return out
    _BUILT.add(out)
    if out.exists():
        shutil.rmtree(out)
    exe = Path(sys.executable).parent / "jqgate"
    subprocess.run([str(exe), "build", str(layout.FLOW_FILES[flow]), "-o", str(out),
                    "--log-level", "warning"], check=True, stdout=subprocess.DEVNULL)
    return out


H2_JQGATE = "jqgate (HTTP/2)"
H2_NGINX = "nginx (HTTP/2)"


def http2(run_dir: Path, impls: list[str]):
    """F2 over HTTP/2 (h2load, h2c prior knowledge): jqgate with http2 on its listener, and the
    plain nginx proxy listening with `http2` (peers/plain_proxy.conf, its listen rewritten)."""
    specs: list[ServerSpec] = []
    targets: list[Target] = []
    if JQGATE in impls:
        specs.append(ServerSpec("jqgate-h2", jqgate_argv("F2", layout.JQGATE_H2_PORT) + ("--http2",),
                                layout.JQGATE_H2_PORT))
        targets.append(Target(H2_JQGATE, "F2", "jqgate-h2", layout.JQGATE_H2_PORT))
    if NJS in impls:
        specs.append(ServerSpec("nginx-proxy-h2", nginx_argv(
            "plain_proxy.conf", run_dir, "nginx-proxy-h2", http2_port=layout.NGINX_H2_PORT),
            layout.NGINX_H2_PORT))
        targets.append(Target(H2_NGINX, "F2", "nginx-proxy-h2", layout.NGINX_H2_PORT))
    return specs, targets


def mocks(run_dir: Path) -> ServerSpec:
    return ServerSpec("mocks", nginx_argv("mocks.conf", run_dir, "mocks"), layout.T1_PORT)


def servers_and_targets(run_dir: Path, impls: list[str], flows: list[str]):
    """The single-core phase: every server to start and every target to measure."""
    specs: list[ServerSpec] = []
    targets: list[Target] = []
    if JQGATE in impls:
        for flow in flows:
            port = layout.JQGATE_BASE_PORT + layout.FLOW_INDEX[flow]
            specs.append(ServerSpec(f"jqgate-{flow}", jqgate_argv(flow, port), port))
            targets.append(Target(JQGATE, flow, f"jqgate-{flow}", port))
    if NJS in impls:
        if {"F1", "F3"} & set(flows):
            specs.append(ServerSpec("nginx-njs", nginx_argv("njs_proxy.conf", run_dir, "nginx-njs"),
                                    layout.NJS_F3_PORT))
        if "F1" in flows:
            targets.append(Target(NJS, "F1", "nginx-njs", layout.NJS_F1_PORT))
        if "F2" in flows:
            specs.append(ServerSpec("nginx-proxy", nginx_argv("plain_proxy.conf", run_dir, "nginx-proxy"),
                                    layout.NGINX_PROXY_PORT))
            targets.append(Target(NJS, "F2", "nginx-proxy", layout.NGINX_PROXY_PORT))
        if "F3" in flows:
            targets.append(Target(NJS, "F3", "nginx-njs", layout.NJS_F3_PORT))
    if LUA in impls and "F1" in flows:
        specs.append(ServerSpec("nginx-lua", nginx_argv("lua_proxy.conf", run_dir, "nginx-lua"),
                                layout.LUA_F1_PORT))
        targets.append(Target(LUA, "F1", "nginx-lua", layout.LUA_F1_PORT))
    log_flows = [f for f in LOG_FLOWS if f in flows]
    if JQGATE_LOG in impls:
        for flow in log_flows:
            port = layout.JQGATE_LOG_BASE_PORT + layout.FLOW_INDEX[flow]
            name = f"jqgate-log-{flow}"
            (run_dir / name).mkdir(parents=True, exist_ok=True)
            specs.append(ServerSpec(name, jqgate_argv(flow, port, access_log=str(
                run_dir / name / "access.log")), port))
            targets.append(Target(JQGATE_LOG, flow, name, port))
    for impl, base, logged in ((JQGATE_MODULE, layout.JQGATE_MODULE_BASE_PORT, False),
                               (JQGATE_MODULE_LOG, layout.JQGATE_MODULE_LOG_BASE_PORT, True)):
        if impl not in impls:
            continue
        for flow in flows:
            port = base + layout.FLOW_INDEX[flow]
            name = f"jqgate-module{'-log' if logged else ''}-{flow}"
            (run_dir / name).mkdir(parents=True, exist_ok=True)
            access_log = str(run_dir / name / "access.log") if logged else "off"
            specs.append(ServerSpec(name, jqgate_argv(flow, port, access_log=access_log,
                                                      plan_modules=build_plan_modules(flow, run_dir)),
                                    port))
            targets.append(Target(impl, flow, name, port))
    off = layout.LOG_PORT_OFFSET
    if NJS_LOG in impls:
        if "F1" in log_flows:
            specs.append(ServerSpec("nginx-njs-log", nginx_argv("njs_proxy.conf", run_dir, "nginx-njs-log",
                                                                access_log=True), layout.NJS_F1_PORT + off))
            targets.append(Target(NJS_LOG, "F1", "nginx-njs-log", layout.NJS_F1_PORT + off))
        if "F2" in log_flows:
            specs.append(ServerSpec("nginx-proxy-log", nginx_argv("plain_proxy.conf", run_dir, "nginx-proxy-log",
                                                                  access_log=True), layout.NGINX_PROXY_PORT + off))
            targets.append(Target(NJS_LOG, "F2", "nginx-proxy-log", layout.NGINX_PROXY_PORT + off))
    if LUA_LOG in impls and "F1" in log_flows:
        specs.append(ServerSpec("nginx-lua-log", nginx_argv("lua_proxy.conf", run_dir, "nginx-lua-log",
                                                            access_log=True), layout.LUA_F1_PORT + off))
        targets.append(Target(LUA_LOG, "F1", "nginx-lua-log", layout.LUA_F1_PORT + off))
    tls_flows = [f for f in TLS_FLOWS if f in flows]
    if tls_flows and set(TLS_IMPLS) & set(impls):
        pair = bench_tls_files(run_dir)
        tls_off = layout.TLS_PORT_OFFSET
        close = ("Connection: close",)
        if {JQGATE_TLS, JQGATE_HANDSHAKE} & set(impls):
            for flow in tls_flows:
                port = layout.JQGATE_BASE_PORT + layout.FLOW_INDEX[flow] + tls_off
                name = f"jqgate-tls-{flow}"
                specs.append(ServerSpec(name, jqgate_argv(flow, port, tls=pair), port))
                if JQGATE_TLS in impls:
                    targets.append(Target(JQGATE_TLS, flow, name, port, tls=True))
                if JQGATE_HANDSHAKE in impls:
                    targets.append(Target(JQGATE_HANDSHAKE, flow, name, port, tls=True,
                                          headers=close))
        if {NGINX_TLS, NGINX_HANDSHAKE} & set(impls):
            for flow in tls_flows:
                conf, name, port = (("njs_proxy.conf", "nginx-njs-tls", layout.NJS_F1_PORT)
                                    if flow == "F1" else
                                    ("plain_proxy.conf", "nginx-proxy-tls", layout.NGINX_PROXY_PORT))
                port += tls_off
                specs.append(ServerSpec(name, nginx_argv(conf, run_dir, name, tls=pair),
                                        layout.NJS_F3_PORT + tls_off if flow == "F1" else port))
                if NGINX_TLS in impls:
                    targets.append(Target(NGINX_TLS, flow, name, port, tls=True))
                if NGINX_HANDSHAKE in impls:
                    targets.append(Target(NGINX_HANDSHAKE, flow, name, port, tls=True,
                                          headers=close))
    if AIOHTTP in impls:
        for flow in flows:
            port = layout.AIOHTTP_BASE_PORT + layout.FLOW_INDEX[flow]
            argv = [python(), str(layout.PEERS / "aiohttp_jq_proxy.py"), "--flow", flow.lower(),
                    "--port", str(port), "--auth-url", layout.TOKEN_URL, "--upstream", layout.UPSTREAM_URL,
                    "--t1", layout.T1_URL]
            if flow == "F4":
                argv += ["--compute-flow", str(layout.FLOW_FILES["F4"])]
            specs.append(ServerSpec(f"aiohttp-{flow}", tuple(argv), port))
            targets.append(Target(AIOHTTP, flow, f"aiohttp-{flow}", port))
    if DIRECT in impls:
        specs.append(ServerSpec("nginx-direct", nginx_argv("direct.conf", run_dir, "nginx-direct"),
                                layout.DIRECT_PORT))
        targets.append(Target(DIRECT, "fixed", "nginx-direct", layout.DIRECT_PORT))
    if UVLOOP in impls:
        specs.append(ServerSpec("uvloop-httptools",
                                (python(), str(layout.PEERS / "uvloop_httptools_200.py"), str(layout.UVLOOP_PORT)),
                                layout.UVLOOP_PORT))
        targets.append(Target(UVLOOP, "fixed", "uvloop-httptools", layout.UVLOOP_PORT))
    return specs, targets


def multi_worker(run_dir: Path, workers: int, impls: list[str]):
    """F1 with `workers` processes each (jqgate --workers N, nginx worker_processes N)."""
    specs, targets = [], []
    if JQGATE in impls:
        port = layout.JQGATE_BASE_PORT
        specs.append(ServerSpec(f"jqgate-F1-x{workers}", jqgate_argv("F1", port, workers), port))
        targets.append(Target(JQGATE, "F1", f"jqgate-F1-x{workers}", port))
    if NJS in impls:
        name = f"nginx-njs-x{workers}"
        specs.append(ServerSpec(name, nginx_argv("njs_proxy.conf", run_dir, name, workers), layout.NJS_F3_PORT))
        targets.append(Target(NJS, "F1", name, layout.NJS_F1_PORT))
    if LUA in impls:
        name = f"nginx-lua-x{workers}"
        specs.append(ServerSpec(name, nginx_argv("lua_proxy.conf", run_dir, name, workers), layout.LUA_F1_PORT))
        targets.append(Target(LUA, "F1", name, layout.LUA_F1_PORT))
    return specs, targets
