"""Before a target is measured, check that it produces its flow's result, so every implementation
is measured doing the same work. A target that fails is reported as such and not measured.

F1: the upstream saw `Authorization: Bearer tok-<api_key>` (the mock echoes it as X-Seen-Auth),
    and `tok-none` without an api key. F2: the upstream's answer, no Authorization added.
F3: 200 JSON {"author": "Yours Truly", "uuid": <the T1 mock's request id>}.
F4: 200 JSON equal to the chain evaluated here with the PyPI jq binding.
"""
from __future__ import annotations

import http.client
import json
import re
import time

import yaml

import layout

UPSTREAM_BODY = {"ok": True, "service": "upstream-echo"}


def fetch(port: int, path: str, tls: bool = False) -> tuple[int, dict, bytes]:
    if tls:
        import ssl
        context = ssl._create_unverified_context()      # the run's own self-signed certificate
        conn = http.client.HTTPSConnection(layout.HOST, port, timeout=5, context=context)
    else:
        conn = http.client.HTTPConnection(layout.HOST, port, timeout=5)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def expected_compute_body() -> object:
    """F4's result, evaluating the declarative file's nodes in order with the PyPI jq binding."""
    import jq
    doc = yaml.safe_load(layout.FLOW_FILES["F4"].read_text())
    nodes = doc["services"][0]["routes"][0]["plugins"][0]["config"]["nodes"]
    values = {}
    for node in nodes:
        if node["type"] == "static":
            values[node["name"]] = node["values"]
        elif node["type"] == "jq":
            wiring = node.get("inputs") or node["input"]
            arg = {k: values[v] for k, v in wiring.items()} if isinstance(wiring, dict) else values[wiring]
            values[node["name"]] = jq.compile(node["jq"]).input_value(arg).first()
        elif node["type"] == "exit":
            return values[node["inputs"]["body"]]
    raise ValueError("F4 has no exit node")


def check(flow: str, port: int, attempts: int = 5, tls: bool = False) -> str | None:
    """None when the target answers like its flow; otherwise what is wrong. Retried a few times:
    a server may accept connections (a bound socket) a moment before its workers answer."""
    problem = None
    for attempt in range(attempts):
        try:
            problem = _check(flow, port, tls)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            problem = f"{exc.__class__.__name__}: {exc}"
        if problem is None:
            return None
        time.sleep(0.5)
    return problem


def _json(headers: dict, body: bytes):
    if not headers.get("content-type", "").startswith("application/json"):
        return None, f"content-type {headers.get('content-type')!r}, expected application/json"
    return json.loads(body), None


def _check(flow: str, port: int, tls: bool = False) -> str | None:
    status, headers, body = fetch(port, layout.FLOW_PATHS.get(flow, "/anything"), tls)
    if status != 200:
        return f"status {status}: {body[:200]!r}"
    if flow == "F1":
        if headers.get("x-seen-auth") != "Bearer tok-bench":
            return f"upstream saw Authorization {headers.get('x-seen-auth')!r}, expected 'Bearer tok-bench'"
        status, headers, _ = fetch(port, "/anything", tls)
        if status != 200 or headers.get("x-seen-auth") != "Bearer tok-none":
            return f"without api_key: status {status}, upstream saw {headers.get('x-seen-auth')!r}"
    if flow in ("F1", "F2") and json.loads(body) != UPSTREAM_BODY:
        return f"body {body[:200]!r} is not the upstream's"
    if flow == "F2" and headers.get("x-seen-auth"):
        return f"plain proxy added Authorization {headers['x-seen-auth']!r}"
    if flow == "F3":
        doc, problem = _json(headers, body)
        if problem:
            return problem
        if doc.get("author") != "Yours Truly" or not re.fullmatch(r"[0-9a-f]{32}", str(doc.get("uuid"))):
            return f"join gave {doc!r}"
    if flow == "F4":
        doc, problem = _json(headers, body)
        if problem:
            return problem
        expected = expected_compute_body()
        if doc != expected:
            return f"compute gave {json.dumps(doc)[:200]}, expected {json.dumps(expected)[:200]}"
    return None


def check_h2(flow: str, port: int, attempts: int = 5) -> str | None:
    """check() over HTTP/2 (curl --http2-prior-knowledge): status 200, HTTP/2, a JSON body."""
    import subprocess
    url = f"http://{layout.HOST}:{port}{layout.FLOW_PATHS.get(flow, '/anything')}"
    problem = None
    for attempt in range(attempts):
        done = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "-o", "/dev/null",
                               "-w", "%{http_version} %{response_code} %{content_type}", url],
                              capture_output=True, text=True, timeout=30)
        problem = None if done.stdout.startswith("2 200 application/json") else (
            f"curl --http2-prior-knowledge: {done.stdout!r} {done.stderr.strip()[:200]}")
        if problem is None:
            return None
        time.sleep(0.5)
    return problem
