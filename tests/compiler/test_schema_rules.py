"""Data-driven tests of the DataKit schema rules S1–S26 (`tests/cases/schema/*.yaml`).

Each file holds cases: a DataKit `config`, the exact `location: message` errors expected (in the
order the validator reports them) and optionally the indices of the nodes that pass.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from jqgate.compiler.schema import validate_datakit_schema
from jqgate.errors import Issues

CASES_DIR = Path(__file__).resolve().parent.parent / "cases" / "schema"


def load_cases():
    for path in sorted(CASES_DIR.glob("*.yaml")):
        document = yaml.safe_load(path.read_text())
        for case in document["cases"]:
            yield pytest.param(case, id=f"{path.stem}:{case['name']}")


ALL_CASES = list(load_cases())


@pytest.mark.parametrize("case", ALL_CASES)
def test_schema_case(case):
    issues = Issues()
    passed = validate_datakit_schema(case["config"], "config", issues)
    assert [str(issue) for issue in issues.items] == case["errors"]
    if "passed" in case:
        assert passed == case["passed"]


def test_every_rule_has_valid_and_invalid_cases():
    rules: dict[str, set[bool]] = {}
    for path in CASES_DIR.glob("*.yaml"):
        document = yaml.safe_load(path.read_text())
        for case in document["cases"]:
            for rule in case.get("rules", [document["rule"]]):
                rules.setdefault(rule, set()).add(bool(case["errors"]))
    expected = {f"S{n}" for n in range(1, 27)}
    assert expected <= set(rules), sorted(expected - set(rules))
    for rule in expected:
        assert rules[rule] == {True, False}, f"{rule} needs a valid and an invalid case"
