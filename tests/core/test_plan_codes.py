"""The core's C enum of conversion codes is generated from jqgate/plan.py, and is current: a
code changed in plan.py and not regenerated fails here (test_conversions.py then shows what
each code does on both executors)."""
import os
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def test_plan_codes_pxi_is_generated_from_plan_py():
    out = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "gen_core_tables.py"), "--check"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
