"""The identity of the jqgate core a plan module is built against.

A module calls into the core it was built with; any other core build may differ in what the
module relies on, so the version is the package version plus a digest of the core extension's
file. A module refuses to import under any other value (PlanModuleVersionError): rebuild it with
`jqgate build` after upgrading or rebuilding jqgate.
"""
from __future__ import annotations

import hashlib

_CACHED: str | None = None


class PlanModuleVersionError(ImportError):
    """A plan module built for another jqgate core."""


def core_version() -> str:
    global _CACHED
    if _CACHED is None:
        import jqgate
        from jqgate._core import core
        digest = hashlib.sha256()
        with open(core.__file__, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        _CACHED = "%s+core.%s" % (jqgate.__version__, digest.hexdigest()[:16])
    return _CACHED


def check_core(module_name: str, built_for: str) -> None:
    """Raise PlanModuleVersionError unless built_for is this process's core version."""
    running = core_version()
    if built_for != running:
        raise PlanModuleVersionError(
            "plan module %s was built for jqgate core %s, but this is jqgate core %s: "
            "rebuild it with `jqgate build CONFIG -o DIR`" % (module_name, built_for, running))
