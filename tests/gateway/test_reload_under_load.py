"""Hot reload under load: clients hammer keep-alive requests while POST /config swaps the
configuration back and forth; nothing fails, nothing is dropped, every answer comes from either
configuration, and keep-alive connections carry on across the swaps."""
from __future__ import annotations

import json
import threading


from adminutil import AdminGateway, KeepAliveClient, declarative
from netutil import Upstream

SWAPS = 50


def hammer(port, stop, results, errors):
    """One keep-alive connection; record the upstream path of every answer."""
    try:
        client = KeepAliveClient(port)
    except OSError as exc:
        errors.append(repr(exc))
        return
    try:
        for i in range(100000):                    # bounded; `stop` ends it much sooner
            if stop.is_set():
                break
            status, body = client.get("/req%d" % i)
            if status != 200:
                errors.append("status %d: %r" % (status, body[:200]))
                break
            results.append(json.loads(body)["path"])
    except Exception as exc:                       # a dropped connection is a failure
        errors.append(repr(exc))
    finally:
        client.close()


def run_swaps(tmp_path, upstream, workers, clients):
    docs = [declarative(upstream.port, service_path="/old/"),
            declarative(upstream.port, service_path="/new/")]
    gw = AdminGateway(tmp_path, docs[0], workers=workers)
    stop = threading.Event()
    results: list[list[str]] = [[] for _ in range(clients)]
    errors: list[str] = []
    threads = [threading.Thread(target=hammer, args=(gw.port, stop, results[i], errors))
               for i in range(clients)]
    hashes = []
    try:
        for t in threads:
            t.start()
        for i in range(SWAPS):
            s, out, _ = gw.admin("POST", "/config", docs[(i + 1) % 2])
            assert s == 201, out
            hashes.append(out["configuration_hash"])
            # Applied everywhere before the answer: every worker reports the new hash.
            status = gw.status()
            assert {w["configuration_hash"] for w in status["workers"]} == {out["configuration_hash"]}
            assert len(status["workers"]) == workers
            if i == SWAPS // 2:
                # An invalid configuration in the middle is refused; the clients notice nothing.
                s, err, _ = gw.admin("POST", "/config", {"_format_version": "3.0",
                                                          "services": [{"name": "x"}]})
                assert s == 400 and gw.status()["configuration_hash"] == out["configuration_hash"]
    finally:
        stop.set()
        for t in threads:
            t.join(60)
        gw.stop()
    assert not errors, errors[:5]
    assert gw.proc.returncode == 0
    assert len(set(hashes)) == 2                   # two configurations, alternating
    seen = [p for r in results for p in r]
    assert all(r for r in results), "every client got answers"
    assert all(p.startswith("/old/req") or p.startswith("/new/req") for p in seen), \
        [p for p in seen if not p.startswith(("/old/req", "/new/req"))][:5]
    assert any(p.startswith("/old/") for p in seen) and any(p.startswith("/new/") for p in seen)
    return results


def test_reload_under_load_one_worker(tmp_path, upstream):
    results = run_swaps(tmp_path, upstream, workers=1, clients=2)
    # The same connection saw both configurations: keep-alive survived the swaps.
    assert any({p.split("/")[1] for p in r} == {"old", "new"} for r in results)


def test_reload_under_load_two_workers(tmp_path, upstream):
    run_swaps(tmp_path, upstream, workers=2, clients=4)


def test_request_in_flight_finishes_on_its_plan(tmp_path):
    """A slow request started before a swap is answered by the configuration it started with,
    while a request after the swap already goes to the new one."""
    old, new = Upstream(), Upstream()
    gw = AdminGateway(tmp_path, declarative(old.port))
    try:
        out = {}
        slow = threading.Thread(target=lambda: out.setdefault("r", gw.proxy("/delay/1")))
        slow.start()
        # Wait until the slow request reached the old upstream (bounded poll).
        from adminutil import wait_until
        wait_until(lambda: any(s[1] == b"/delay/1" for s in old.seen), "slow request upstream")
        s, body, _ = gw.admin("POST", "/config", declarative(new.port))
        assert s == 201, body
        assert gw.proxy("/after")[0] == 200
        assert [s[1] for s in new.seen] == [b"/after"]
        slow.join(30)
        status, body, _ = out["r"]
        assert status == 200 and body == b"delayed"
        assert not any(s[1] == b"/delay/1" for s in new.seen)
    finally:
        gw.stop()
        old.stop()
        new.stop()

