"""Test helper: a DataKit config -> the frozen Plan the executors run (the real compiler).

(Until the compiler and the libjq bridge landed, this file held a small stand-in lowering
and a PyPI-jq adapter; the engine cases now run on exactly what production compiles.)
"""
from __future__ import annotations

import jqgate


def compile_config(config):
    plan = jqgate.compile(config)
    return getattr(plan, "plan", plan)          # a Plan, or the embedding wrapper around one
