"""The core's C enums of the plan's codes (conversions CONV_*, property families PROP_*) are
generated from jqgate/plan.py, and are current: a code changed in plan.py and not regenerated
fails here (test_conversions.py then shows what each conversion does on both executors, and the
property engine cases what each family does)."""
import os
import subprocess
import sys

from jqgate import plan
from jqgate.compiler.properties import KEYED_FAMILIES, PROPERTIES

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def test_plan_codes_pxi_is_generated_from_plan_py():
    out = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "gen_core_tables.py"), "--check"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_every_property_row_has_its_own_family_code():
    """One PROP_* code per row of the property table (§5.4), none left over: the core switches
    on the code, so two rows sharing one would read each other's values."""
    codes = {name: value for name, value in vars(plan).items() if name.startswith("PROP_")}
    rows = list(PROPERTIES.values()) + list(KEYED_FAMILIES.values())
    assert sorted(spec.code for spec in rows) == sorted(codes.values())
    for spec in rows:      # the constant is named after its row: kong.client.ip -> PROP_CLIENT_IP
        assert codes["PROP_" + spec.family[len("kong."):].upper().replace(".", "_")] == spec.code


def test_the_compiler_puts_the_family_code_and_key_in_the_plan():
    from engine_plans import compile_config
    compiled = compile_config({"nodes": [
        {"name": "A", "type": "property", "property": "kong.ctx.shared.some.key"},
        {"name": "B", "type": "property", "property": "kong.service.request_scheme",   # D24
         "input": "A"}]})
    params = {compiled.nodes[op.node].name: op.params for op in compiled.ops
              if op.kind == "property"}
    assert (params["A"].family_code, params["A"].key) == (plan.PROP_CTX_SHARED, "some.key")
    assert (params["B"].family_code, params["B"].key) == (plan.PROP_SERVICE_REQUEST_SCHEME, None)
