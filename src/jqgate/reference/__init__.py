"""The plain-Python reference executor: the oracle the compiled core is tested against.

Same plan, same interface shape (`PlanRun`, `RUN_DONE` / `RUN_PENDING`), same semantics; written
for clarity rather than speed. See `executor.py`.
"""
from jqgate.reference.executor import RUN_DONE, RUN_PENDING, PlanRun  # noqa: F401
from jqgate.reference.request import EngineEnv, RequestView  # noqa: F401
