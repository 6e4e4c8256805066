"""Golden dumps of compiled plans: a change in ordering, slots, windows or lowering shows up here.

Regenerate after an intended change with JQGATE_UPDATE_GOLDEN=1 and review the diff.
"""
import os
from pathlib import Path

import pytest
import yaml

import jqgate
from jqgate.plan_dump import plan_to_dot, plan_to_json, plan_to_text

GOLDEN = Path(__file__).parent.parent / "cases" / "golden"
CASES = sorted(GOLDEN.glob("*.yaml"))
DUMPS = {"txt": plan_to_text, "json": plan_to_json, "dot": plan_to_dot}


@pytest.mark.parametrize("kind", sorted(DUMPS))
@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_plan_dump_matches_golden(path, kind):
    plan = jqgate.compile(yaml.safe_load(path.read_text()), instance="golden")
    dump = DUMPS[kind](plan)
    golden = path.with_suffix(f".plan.{kind}")
    if os.environ.get("JQGATE_UPDATE_GOLDEN"):
        golden.write_text(dump)
    assert dump == golden.read_text()
