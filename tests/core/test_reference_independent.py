"""The reference executor is an oracle only if it does not run the code it checks: it imports
nothing from the compiled core (jq runs on the PyPI binding, calls on http.client; issue 14).
The plan it runs may hold the core's compiled jq programs; the reference reads their source."""
import subprocess
import sys

BLOCK_CORE = r"""
import importlib.abc, sys

class NoCore(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "jqgate._core" or name.startswith("jqgate._core."):
            raise ImportError("the reference imported " + name)
        return None

sys.meta_path.insert(0, NoCore())
import jqgate.reference
from jqgate.reference import executor, http_call, jq_programs, nodes, properties, trace, values
assert jq_programs.run_one(".a + 1", {"a": 1}) == 2
print("ok")
"""


def test_the_reference_imports_nothing_from_the_core():
    out = subprocess.run([sys.executable, "-c", BLOCK_CORE], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_the_check_above_can_fail():
    """The import blocker really refuses the core."""
    out = subprocess.run([sys.executable, "-c", BLOCK_CORE.replace(
        "import jqgate.reference\n", "import jqgate.reference\nimport jqgate._core.core\n")],
        capture_output=True, text=True)
    assert out.returncode != 0 and "the reference imported jqgate._core" in out.stderr
