"""Fixtures shared by the functional tests: the loopback servers most of them stand up."""
import pytest

from faultproxy import FaultProxy
from netutil import Upstream


@pytest.fixture
def upstream():
    """An echo upstream on loopback, one per test."""
    u = Upstream()
    yield u
    u.stop()


@pytest.fixture
def fault(upstream):
    """A fault proxy in front of `upstream` (pass mode until a test sets a fault)."""
    f = FaultProxy(upstream.port)
    yield f
    f.stop()
