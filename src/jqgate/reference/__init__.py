"""The plain-Python reference executor: the oracle the compiled core is tested against.

Same plan, same interface shape (`PlanRun`, `RUN_DONE` / `RUN_PENDING`), same semantics; written
for clarity rather than speed, from datakit.md rather than from the core, and calling nothing in
`jqgate._core`:

    properties.py   the property table (§5.4), by name, D24 aliases applied here
    values.py       value conversion, headers, query strings, bodies (stdlib json, urllib.parse)
    jq_programs.py  jq programs on the PyPI `jq` binding (D1 on top)
    http_call.py    call nodes on the stdlib's http.client (D13 cancellation)
    trace.py        the debug trace document (§8.2, D14-D16)
    executor.py     the §6.2 algorithm: windows, scheduling, failures

What both executors share on purpose is the plan (jqgate.plan) and the node types' own homes:
the tables of jqgate.nodes, and the homes in jqgate.nodes of the node types whose semantics
live in plain Python (cache, xml, jwt, vault) and for the call URL safety and forward-proxy input
rules (one rule, one place). tests/core/test_cases.py runs every engine case, and its trace,
on both.
"""
from jqgate.reference.executor import RUN_DONE, RUN_PENDING, PlanRun  # noqa: F401
from jqgate.reference.request import EngineEnv, RequestView  # noqa: F401
