"""The packages import one way: config -> compiler -> plan -> core -> gateway -> admin -> cli.

Two checks. The graph: every `import jqgate...` line in the sources (Python, and the core's
Cython files; imports inside functions count too, since a lazy import is still a dependency),
folded to top-level units (`jqgate.gateway`, `jqgate.admin`, `jqgate.plan`, ...), must have no
cycle, and the layers named in issue #14 must not import upwards. Imports: every module of
the gateway and admin packages and the command line is imported first in a process of its own
(forked from one that has imported nothing of jqgate), so a module that only imports when
something else was imported before it fails here.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"

# What each layer must never import (directly or through a function-level import).
FORBIDDEN = {
    "jqgate.config": {"jqgate.compiler", "jqgate._core", "jqgate.gateway", "jqgate.admin", "jqgate.cli"},
    "jqgate.compiler": {"jqgate.gateway", "jqgate.admin", "jqgate.cli"},
    "jqgate._core": {"jqgate.compiler", "jqgate.config", "jqgate.gateway", "jqgate.admin", "jqgate.cli"},
    "jqgate.gateway": {"jqgate.admin", "jqgate.cli"},
    "jqgate.admin": {"jqgate.cli"},
}

_IMPORT = re.compile(r"^[ \t]*(?:from[ \t]+(jqgate(?:\.[\w.]+)?)[ \t]+c?import[ \t]+"
                     r"(\([^)]*\)|[^\n]*)|c?import[ \t]+(jqgate(?:\.[\w.]+)?)\b)", re.M)


def imported_names(names: str) -> list[str]:
    """`a, b as c  # why` or `(a,\n b)` -> ["a", "b"]."""
    names = "\n".join(line.split("#")[0] for line in names.strip("()").splitlines())
    return [part.split()[0] for part in names.split(",") if part.strip()]


def module_name(path: Path, src: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def unit(module: str) -> str:
    """jqgate.gateway.serve -> jqgate.gateway; jqgate.plan -> jqgate.plan."""
    return ".".join(module.split(".")[:2])


def import_edges(src: Path = SRC) -> dict[str, dict[str, set[str]]]:
    """unit -> imported unit -> the files that import it."""
    edges: dict[str, dict[str, set[str]]] = {}
    for path in sorted((src / "jqgate").rglob("*")):
        if path.suffix not in (".py", ".pyx", ".pxd", ".pxi") or "__pycache__" in path.parts:
            continue
        here = unit(module_name(path, src))
        for m in _IMPORT.finditer(path.read_text(encoding="utf-8")):
            target = m.group(1) or m.group(3)
            if target == "jqgate" and m.group(2):      # from jqgate import a, b
                targets = ["jqgate." + name for name in imported_names(m.group(2))
                           if not name.startswith("__")]    # __version__: the package itself
            else:
                targets = [target]
            for t in targets:
                there = unit(t)
                if there not in (here, "jqgate"):
                    edges.setdefault(here, {}).setdefault(there, set()).add(
                        str(path.relative_to(src)))
    return edges


def cycles(edges) -> list[list[str]]:
    """The strongly connected components with more than one unit (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def describe(edges, component) -> str:
    return "\n".join("  %s -> %s (%s)" % (a, b, ", ".join(sorted(edges[a][b])))
                     for a in component for b in component if b in edges.get(a, {}))


def test_the_sources_are_seen():
    edges = import_edges()
    # the check would pass vacuously if the scan missed the imports it is about
    assert "jqgate.gateway" in edges["jqgate.admin"]
    assert "jqgate._core" in edges["jqgate.gateway"]
    assert "jqgate.nodes" in edges["jqgate._core"]       # a Cython file's import


def test_no_import_cycle_between_packages():
    edges = import_edges()
    found = cycles(edges)
    assert not found, "import cycles:\n" + "\n\n".join(describe(edges, c) for c in found)


def test_layers_do_not_import_upwards():
    edges = import_edges()
    wrong = ["%s -> %s (%s)" % (layer, there, ", ".join(sorted(edges[layer][there])))
             for layer, banned in FORBIDDEN.items()
             for there in sorted(banned & set(edges.get(layer, {})))]
    assert not wrong, "imports against the pipeline:\n" + "\n".join(wrong)


def test_every_serving_module_imports_first():
    """Each module of gateway/, admin/ and the command line, imported before anything else of
    jqgate, in a process forked from one that has imported nothing of jqgate."""
    names = [module_name(p, SRC) for package in ("gateway", "admin")
             for p in sorted((SRC / "jqgate" / package).glob("*.py"))]
    names += ["jqgate.cli", "jqgate"]
    script = textwrap.dedent("""
        import importlib, os, sys, traceback
        failed = []
        for name in sys.argv[1:]:
            pid = os.fork()
            if pid == 0:
                try:
                    importlib.import_module(name)
                except BaseException:
                    traceback.print_exc()
                    os._exit(1)
                os._exit(0)
            _, status = os.waitpid(pid, 0)
            if status != 0:
                failed.append(name)
        print(" ".join(failed))
        """)
    done = subprocess.run([sys.executable, "-c", script, *names], capture_output=True, text=True,
                          timeout=300, env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", "cannot be imported first:\n" + done.stderr
    assert len(names) > 15
