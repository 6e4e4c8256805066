"""The Kong docs' own curl commands (from the seed page), run unchanged by a shell against the
gateway's Admin API, only `localhost:8001` pointed at the test's port and the placeholders
filled in."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest

from adminutil import AdminGateway, declarative
from netutil import Upstream

SEED_PAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared",
                         "seed", "authenticate-to-a-third-party-service.txt")
COMMAND = re.compile(r"curl -i -X POST http://localhost:8001/\S*plugins/ \\\n.*?\n'\n", re.S)

pytestmark = pytest.mark.skipif(shutil.which("curl") is None or not os.path.exists(SEED_PAGE),
                                reason="needs curl and the seed page (shared/seed)")


def seed_commands():
    with open(SEED_PAGE) as f:
        return COMMAND.findall(f.read())


def test_the_seed_page_has_five_admin_commands():
    paths = [re.search(r"8001(/\S*) ", c).group(1) for c in seed_commands()]
    assert paths == ["/plugins/", "/services/{serviceName|Id}/plugins/",
                     "/routes/{routeName|Id}/plugins/", "/consumers/{consumerName|Id}/plugins/",
                     "/consumer_groups/{consumerGroupName|Id}/plugins/"]


def test_seed_curl_commands_unchanged(tmp_path):
    up = Upstream()
    gw = AdminGateway(tmp_path, declarative(up.port))
    try:
        results = []
        for command in seed_commands():
            command = (command.replace("localhost:8001", "127.0.0.1:%d" % gw.admin_port)
                       .replace("{serviceName|Id}", "svc").replace("{routeName|Id}", "main")
                       .replace("{consumerName|Id}", "alice")
                       .replace("{consumerGroupName|Id}", "gold"))
            out = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60)
            assert out.returncode == 0, out.stderr
            head, _, body = out.stdout.replace("\r\n", "\n").partition("\n\n")
            results.append((int(head.split()[1]), json.loads(body)))
        assert [status for status, _ in results] == [201, 201, 201, 400, 400]
        glob, svc, route = (body for _, body in results[:3])
        assert glob["service"] is None and glob["route"] is None
        assert svc["service"]["id"] and route["route"]["id"]
        assert "consumer" in results[3][1]["message"]
        assert "consumer group" in results[4][1]["message"]
        listed = gw.admin("GET", "/plugins")[1]["data"]
        assert sorted(p["id"] for p in listed) == sorted(b["id"] for b in (glob, svc, route))
    finally:
        gw.stop()
        up.stop()
