"""The Admin API with several workers: a change reaches every worker before the answer, /status
shows each worker's configuration hash, and workers do not outlive the admin process."""
from __future__ import annotations

import os
import signal


from adminutil import AdminGateway, declarative, seed_body, wait_until


def test_plugin_changes_reach_every_worker(tmp_path, upstream):
    gw = AdminGateway(tmp_path, declarative(upstream.port), workers=3)
    try:
        st = gw.status()
        assert len(st["workers"]) == 3 and len({w["pid"] for w in st["workers"]}) == 3
        assert {w["configuration_hash"] for w in st["workers"]} == {st["configuration_hash"]}
        s, plugin, _ = gw.admin("POST", "/plugins", seed_body("admin-global.json"))
        assert s == 201, plugin
        st = gw.status()
        assert {w["configuration_hash"] for w in st["workers"]} == {st["configuration_hash"]}
        assert gw.admin("DELETE", "/plugins/" + plugin["id"])[0] == 204
        after = gw.status()
        assert after["configuration_hash"] != st["configuration_hash"]
        assert {w["configuration_hash"] for w in after["workers"]} == {after["configuration_hash"]}
        # An invalid change is refused before any worker sees it.
        s, err, _ = gw.admin("POST", "/plugins", {"name": "datakit", "config": {"nodes": []}})
        assert s == 400
        assert {w["configuration_hash"] for w in gw.status()["workers"]} == {after["configuration_hash"]}
    finally:
        gw.stop()
    assert gw.proc.returncode == 0


def test_workers_exit_when_the_admin_process_dies(tmp_path, upstream):
    gw = AdminGateway(tmp_path, declarative(upstream.port), workers=2)
    pids = [w["pid"] for w in gw.status()["workers"]]
    try:
        gw.proc.send_signal(signal.SIGKILL)
        gw.proc.wait(30)

        def gone(pid):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            # A zombie (reaped by init later) counts as gone.
            with open("/proc/%d/stat" % pid) as f:
                return f.read().split(") ")[1].startswith("Z")
        wait_until(lambda: all(gone(p) for p in pids), "workers exit after their parent")
    finally:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_a_dead_worker_does_not_block_changes(tmp_path, upstream):
    gw = AdminGateway(tmp_path, declarative(upstream.port), workers=2)
    try:
        first, second = [w["pid"] for w in gw.status()["workers"]]
        os.kill(first, signal.SIGKILL)
        wait_until(lambda: [w["pid"] for w in gw.status()["workers"]] == [second],
                   "the dead worker leaves /status")
        s, out, _ = gw.admin("POST", "/config", declarative(upstream.port, service_path="/n/"))
        assert s == 201, out
        [w] = gw.status()["workers"]
        assert w["configuration_hash"] == out["configuration_hash"]
        # A connection the kernel queued on the killed worker's socket just before it died is
        # reset; new connections go to the live worker.
        for attempt in range(3):
            try:
                answer = gw.proxy("/q")
                break
            except ConnectionResetError:
                if attempt == 2:
                    raise
        assert answer[1]["path"] == "/n/q"
    finally:
        gw.stop()
    assert any("worker %d exited" % first in l for l in gw.lines)


def test_a_killed_worker_is_replaced_with_the_current_configuration(tmp_path, upstream):
    gw = AdminGateway(tmp_path, declarative(upstream.port), workers=2)
    try:
        # A change made after the start: the replacement must run it, not the start's.
        s, plugin, _ = gw.admin("POST", "/plugins", seed_body("admin-global.json"))
        assert s == 201, plugin
        answer = gw.proxy("/")[0]       # what the flow answers (its token call has no service)
        pids = [w["pid"] for w in gw.status()["workers"]]
        os.kill(pids[0], signal.SIGKILL)

        def replaced():
            st = gw.status()
            now = [w["pid"] for w in st["workers"]]
            return st if len(now) == 2 and pids[0] not in now else None
        st = wait_until(replaced, "a new worker in place of the killed one", attempts=600)
        assert st["supervisor"]["restarts"] == 1
        assert {w["configuration_hash"] for w in st["workers"]} == {st["configuration_hash"]}
        s, metrics, _ = gw.admin("GET", "/metrics")
        assert b'jqgate_worker_restarts_total{reason="exited"} 1.0' in metrics
        for _ in range(10):         # both workers, the new one included, run the flow
            assert gw.proxy("/")[0] == answer
    finally:
        gw.stop()
    assert gw.proc.returncode == 0
