"""Graph-level rules G1-G16 (datakit.md §7.2): one valid and one invalid fixture per rule.

Each file in tests/cases/graph holds an `invalid` config with the exact `location: message`
errors it must produce, and a `valid` config that must compile.
"""
from pathlib import Path

import pytest
import yaml

import jqgate
from jqgate.errors import ConfigError

CASES = sorted((Path(__file__).parent.parent / "cases" / "graph").glob("*.yaml"))


def load(path):
    return yaml.safe_load(path.read_text())


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_invalid_fixture_reports_exact_errors(path):
    case = load(path)
    with pytest.raises(ConfigError) as caught:
        jqgate.compile(case["invalid"])
    assert sorted(str(e) for e in caught.value.errors) == sorted(case["errors"])


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_valid_fixture_compiles(path):
    plan = jqgate.compile(load(path)["valid"])
    assert plan is not None


def test_every_graph_rule_has_a_fixture():
    rules = {load(p)["rule"].split()[0] for p in CASES}
    assert rules == {f"G{i}" for i in range(1, 17)}
