"""The identity of the jqgate core a plan module is built against.

A module calls into the core it was built with; any other core build may differ in what the
module relies on, so the version is the package version plus a digest of the core extension's
file. A module refuses to import under any other value (PlanModuleVersionError): rebuild it with
`jqgate build` after upgrading or rebuilding jqgate.
"""
from __future__ import annotations

import hashlib
import re

_CACHED: str | None = None


# The core version a module was built for, also as a C string in the module's file, so that
# a loader reads it before any of the module's code runs (module_core_of): a module built
# against other declarations of the core could otherwise crash while it is being loaded.
CORE_MARK = b"jqgate-plan-module-core="
_VERSION_TEXT = re.compile(r"[A-Za-z0-9.+_-]+")


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


def core_mark_source(version: str) -> str:
    """The Cython lines that put CORE_MARK + version into the module's file."""
    if not _VERSION_TEXT.fullmatch(version):
        raise ValueError("unexpected core version text %r" % version)
    return "\n".join([
        "cdef extern from *:",
        '    """',
        "    __attribute__((used)) static const char jqgate_plan_module_core[] =",
        '        "\\\\n%s%s\\\\n";' % (CORE_MARK.decode(), version),   # C's newline escape
        '    """',
        "    const char jqgate_plan_module_core[]",
        ""])


def module_core_of(path: str) -> str | None:
    """The core version the module file at path was built for (its CORE_MARK), without
    loading it; None when the file carries no mark (not a module of this jqgate)."""
    with open(path, "rb") as f:
        data = f.read()
    at = data.find(b"\n" + CORE_MARK)
    if at < 0:
        return None
    start = at + 1 + len(CORE_MARK)
    end = data.find(b"\n", start)
    text = data[start:end].decode("ascii", "replace") if end > start else ""
    return text if _VERSION_TEXT.fullmatch(text) else None
