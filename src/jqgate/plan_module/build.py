"""`jqgate build`: write and compile the plan modules of a configuration.

The generated .pyx goes through Cython and setuptools' build_ext, the same toolchain and
optimisation flags as the core (setup.py: -O2, boundscheck and wraparound off), into DIR as
`<module>.<EXT_SUFFIX>` next to its .pyx (kept, so a reader can see what runs). A module
cimports the installed core's declarations (jqgate/_core/core.pxd and what it includes) and is
compiled against the C headers they name (jqgate/_core/include/, copied there by setup.py).
The C compiler is needed here only; importing a built module needs neither it nor Cython.
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile

from jqgate.plan_module.source import module_name_for, module_source
from jqgate.plan_module.version import core_version

log = logging.getLogger("jqgate.plan_module")

SUPPORT_FILE = "straight_jq.pxi"        # straight_jq_source.SOURCE, included by every module
ANSWER_FILE = "answer_fields.pxi"       # answer_fields_source.SOURCE, likewise
# as setup.py's core Extension; the shared support code has helpers a given plan never calls
CORE_CFLAGS = ["-O2", "-Wno-unused-function"]


class PlanModuleBuildError(RuntimeError):
    """No C toolchain (or Cython), or the generated code failed to compile."""


def core_declarations() -> tuple[str, str]:
    """-> (the directory holding the jqgate package, the core's C headers): what a module's
    `cimport jqgate._core.core` needs, as the installed package carries it (the core's .pxd
    files beside its extension, the headers they name in jqgate/_core/include, setup.py)."""
    from jqgate._core import core
    core_dir = os.path.dirname(os.path.abspath(core.__file__))
    headers = os.path.join(core_dir, "include")
    if not os.path.isfile(os.path.join(core_dir, "core.pxd")) or not os.path.isdir(headers):
        raise PlanModuleBuildError(
            "building plan modules needs the jqgate core's declarations (core.pxd and the C "
            "headers in %s), which this installation does not carry: reinstall jqgate from a "
            "wheel or source of this version" % headers)
    return os.path.dirname(os.path.dirname(core_dir)), headers


def compile_modules(sources: dict[str, str], out_dir: str) -> dict[str, str]:
    """{module name: .pyx source} -> {module name: path of the built extension} in out_dir."""
    try:
        from Cython.Build import cythonize
        from setuptools import Distribution, Extension
        from setuptools.command.build_ext import build_ext
    except ImportError as e:
        raise PlanModuleBuildError("building plan modules needs Cython and setuptools (%s)" % e)
    if shutil.which(os.environ.get("CC", "cc").split()[0]) is None:
        raise PlanModuleBuildError("building plan modules needs a C compiler (cc / $CC)")
    from jqgate.plan_module.answer_fields_source import SOURCE as ANSWER_SOURCE
    from jqgate.plan_module.straight_jq_source import SOURCE
    package_root, headers = core_declarations()
    os.makedirs(out_dir, exist_ok=True)
    for name, text in ((SUPPORT_FILE, SOURCE), (ANSWER_FILE, ANSWER_SOURCE)):
        with open(os.path.join(out_dir, name), "w", encoding="utf-8") as f:
            f.write(text)
    extensions = []
    for name, source in sources.items():
        pyx = os.path.join(out_dir, name + ".pyx")
        with open(pyx, "w", encoding="utf-8") as f:
            f.write(source)
        extensions.append(Extension(name, [pyx], include_dirs=[headers],
                                    extra_compile_args=CORE_CFLAGS))
    with tempfile.TemporaryDirectory(prefix="jqgate-build-") as tmp:
        try:
            built = cythonize(extensions, include_path=[out_dir, package_root], build_dir=tmp,
                              quiet=True,
                              compiler_directives={"language_level": "3", "boundscheck": False,
                                                   "wraparound": False})
            dist = Distribution({"ext_modules": built, "script_name": "jqgate-build"})
            cmd = build_ext(dist)
            cmd.build_lib = out_dir
            cmd.build_temp = tmp
            cmd.parallel = os.cpu_count() or 1
            cmd.ensure_finalized()
            cmd.run()
            paths = {name: os.path.join(out_dir, cmd.get_ext_filename(name)) for name in sources}
        except (Exception, SystemExit) as e:       # distutils reports failures as SystemExit
            raise PlanModuleBuildError("compiling plan modules failed: %s" % e) from None
    return paths


def build_plan_modules(compiled, out_dir: str) -> list[tuple[str, str]]:
    """One module per DataKit plan of a CompiledGateway -> [(module name, path)]."""
    version = core_version()
    sources = {}
    for _plugin, plan in compiled.plans:
        sources[module_name_for(plan)] = module_source(module_name_for(plan), [plan], version)
    if not sources:
        os.makedirs(out_dir, exist_ok=True)   # an empty directory: `run --plan-modules` takes it
        return []
    paths = compile_modules(sources, out_dir)
    return sorted(paths.items())
