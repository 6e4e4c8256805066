"""Fixtures shared by every layer's tests, and the hypothesis profile of this run.

The helpers themselves live in tests/harness/ (on the import path through pyproject's
`pythonpath`): loopback servers (netutil), the Admin API gateway process (adminutil), the
engine harness that runs a plan on both executors (engine_harness, engine_plans), a real Redis
(redis_fixture), a TCP fault proxy (faultproxy), and the ports they listen on (ports)."""
from __future__ import annotations

import pytest
from hypothesis import settings

from hypothesis_budget import PROFILE
from faultproxy import FaultProxy
from netutil import Upstream

settings.load_profile(PROFILE)


@pytest.fixture
def upstream():
    """A loopback HTTP upstream that echoes what it received (method, path, headers, body) and
    counts its connections; stopped after the test."""
    u = Upstream()
    yield u
    u.stop()


@pytest.fixture
def fault(upstream):
    """A fault proxy in front of `upstream` (pass mode until a test sets a fault)."""
    f = FaultProxy(upstream.port)
    yield f
    f.stop()
