"""A DataKit flow that reads the service's answer holds it whole, so that answer is bounded
(issue 15, items 6 and 7): over the pool's max_service_response_bytes (10 MiB by default) the
request gets 502, the upstream connection is closed (never pooled, never read to the end) and
no other request notices. The memory figure for a 50 MB answer is in
bench/response_window_rss.py, not here."""
import threading

import orjson

from jqgate.gateway.plans import compile_gateway
from jqgate.config import load_declarative
from jqgate.errors import Issues
from jqgate.gateway.plan_selection import gateway_for, handler_factory

from netutil import GatewayThread, http_get

SIZE_OF_ANSWER = {"nodes": [
    {"name": "SIZE", "type": "jq", "input": "service_response.body",
     "jq": "{size: length}", "output": "response.body"}]}


def gateway(upstream_port, **kw):
    doc = {"_format_version": "3.0",
           "services": [{"name": "svc", "url": f"http://127.0.0.1:{upstream_port}",
                         "retries": 2,
                         "routes": [{"name": "window", "paths": ["/window"],
                                     "strip_path": True},
                                    {"name": "plain", "paths": ["/plain"],
                                     "strip_path": True}]}],
           "plugins": [{"name": "datakit", "route": "window", "config": SIZE_OF_ANSWER}]}
    issues = Issues()
    compiled = compile_gateway(load_declarative(doc, "<test>"), issues)
    issues.raise_if_any()
    return GatewayThread(gateway_for(compiled), handler_factory=handler_factory, **kw)


def wait_for(predicate, timeout=20.0):
    """Until predicate() holds (checked on a short period), at most `timeout` seconds."""
    done = threading.Event()
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return True
        done.wait(0.02)
    return predicate()


def test_a_50_mb_answer_fails_its_request_alone_with_502(upstream):
    gw = gateway(upstream.port)
    try:
        results = {}

        def big():
            results["big"] = http_get(gw.port, "/window/big/%d" % (50 * 1000 * 1000))

        t = threading.Thread(target=big)
        t.start()
        others = [http_get(gw.port, "/window/big/1000") for _ in range(5)]
        others += [http_get(gw.port, "/plain/big/%d" % (20 * 1000 * 1000))]
        t.join(60)
        status, _, body = results["big"]
        assert status == 502
        assert orjson.loads(body)["message"] == \
            "An invalid response was received from the upstream server"
        assert [s for s, _, _ in others] == [200] * 6
        assert orjson.loads(others[0][2]) == {"size": 1000}
        assert len(others[-1][2]) == 20 * 1000 * 1000     # a streamed answer has no such bound
        # Not retried on the next try (the service has retries): the same answer would come
        # again. The upstream connection was closed, not pooled: nothing is open but idle ones.
        assert sum(1 for m, url, _, _ in upstream.seen if url.endswith(b"/50000000")) == 1
        pool = gw.running.pool
        assert wait_for(lambda: pool.stats["open"] == pool.stats["idle"])
        assert wait_for(lambda: len(upstream.open_transports) == pool.stats["open"])
    finally:
        gw.stop()


def test_the_bound_is_a_pool_option(upstream):
    gw = gateway(upstream.port, pool_options={"max_service_response_bytes": 100_000})
    try:
        status, _, body = http_get(gw.port, "/window/big/100000")
        assert status == 200 and orjson.loads(body) == {"size": 100_000}
        assert http_get(gw.port, "/window/big/100001")[0] == 502
        # the scanner's path above (whole head, Content-Length); llhttp's: a chunked answer
        gw2 = gateway(upstream.port, pool_options={"max_service_response_bytes": 8})
        try:
            assert http_get(gw2.port, "/window/chunked")[0] == 502
            assert http_get(gw2.port, "/window/big/8")[0] == 200
        finally:
            gw2.stop()
    finally:
        gw.stop()
