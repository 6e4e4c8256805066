"""Where everything listens and what each flow's request is: the one place ports are written.

Loopback only. The mocks (token service, upstream echo, T1) run on the load core with wrk; every
measured server runs on the server core.
"""
from __future__ import annotations

from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PEERS = BENCH / "peers"
FLOWS = BENCH / "flows"
RESULTS = BENCH / "results"
RUN_DIR = BENCH / "run"          # per-run scratch (nginx prefixes, logs); git-ignored

HOST = "127.0.0.1"
TOKEN_PORT = 18001               # mock token service: POST /token
UPSTREAM_PORT = 18002            # mock upstream echo
T1_PORT = 18004                  # mock T1 for F3: GET /json, GET /uuid
DIRECT_PORT = 18003              # the upstream mock's answer served from the server core (ceiling)
NJS_F1_PORT = 18010
NGINX_PROXY_PORT = 18011
NJS_F3_PORT = 18012
LUA_F1_PORT = 18013              # nginx + Lua (peers/lua_proxy.conf)
AIOHTTP_BASE_PORT = 18020        # + flow index (f1 → 18020 … f4 → 18023)
UVLOOP_PORT = 18030
JQGATE_BASE_PORT = 18040         # + flow index
JQGATE_MULTI_PORT = 18050        # the multi-worker run
NJS_MULTI_PORT = 18060           # the multi-worker nginx + njs run (F1)
JQGATE_LOG_BASE_PORT = 18070     # + flow index: jqgate with its access log on (to a file)
LOG_PORT_OFFSET = 100            # nginx peers with access_log on: their ports + this
TLS_PORT_OFFSET = 200            # the TLS listeners of jqgate and nginx: their ports + this
JQGATE_MODULE_BASE_PORT = 18080  # + flow index: jqgate running `jqgate build`'s plan modules
JQGATE_MODULE_LOG_BASE_PORT = 18090   # ... with its access log on (to a file)
JQGATE_H2_PORT = 18300           # F2 over HTTP/2 (h2c prior knowledge): jqgate
NGINX_H2_PORT = 18301            # F2 over HTTP/2: nginx `listen ... http2`, the plain proxy

TOKEN_URL = f"http://{HOST}:{TOKEN_PORT}/token"
UPSTREAM_URL = f"http://{HOST}:{UPSTREAM_PORT}"
T1_URL = f"http://{HOST}:{T1_PORT}"

# The request wrk sends for each flow (same path and query for every implementation).
FLOW_PATHS = {
    "F1": "/anything?api_key=bench",
    "F2": "/anything",
    "F3": "/join",
    "F4": "/compute",
}
FLOW_TITLES = {
    "F1": "F1 seed flow (auth call + upstream)",
    "F2": "F2 proxy only",
    "F3": "F3 two calls joined, exit",
    "F4": "F4 30-node static/jq plan, exit",
}
FLOW_INDEX = {"F1": 0, "F2": 1, "F3": 2, "F4": 3}
FLOW_FILES = {
    "F1": FLOWS / "f1_seed.yaml",
    "F2": FLOWS / "f2_proxy.yaml",
    "F3": FLOWS / "f3_join.yaml",
    "F4": FLOWS / "f4_compute.yaml",
}
