"""Using built plan modules: import them from a directory, and put their plans in place of the
ones the compiler produced for the same DataKit instance and config.

A plan is replaced only when a module carries exactly its (instance, config hash): after a
reload that changed the config, the changed instance runs on the generic executor again (one
log line says so), never on a module built for other content.
"""
from __future__ import annotations

import glob
import importlib.machinery
import importlib.util
import logging
import os
import sys

log = logging.getLogger("jqgate.plan_module")

# (instance, config hash) -> plan of the installed modules (install_plan_modules)
_INSTALLED: dict[tuple[str, str], object] = {}
_MODULE_OF: dict[tuple[str, str], str] = {}


def import_module_file(path: str):
    """Import one built module from its file (its name is the file name's first part)."""
    name = os.path.basename(path).split(".")[0]
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None:
        raise ImportError("not a Python extension module: %s" % path)
    from jqgate.plan_module.version import PlanModuleVersionError, check_core, module_core_of
    built_for = module_core_of(path)
    if built_for is None:
        raise PlanModuleVersionError(
            "plan module %s carries no jqgate core mark (built by another jqgate, or not a "
            "plan module): rebuild it with `jqgate build CONFIG -o DIR`" % name)
    check_core(name, built_for)            # before any of its code is loaded
    try:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)    # PlanModuleVersionError under another core
    except PlanModuleVersionError:
        raise
    except (ImportError, ValueError, TypeError) as e:
        # A module cimports the core it was built with: under another core, loading its
        # classes or C functions can fail before the module's own version check runs.
        raise PlanModuleVersionError(
            "plan module %s cannot be loaded by this jqgate core (%s): rebuild it with "
            "`jqgate build CONFIG -o DIR`" % (name, e)) from e
    sys.modules[name] = module
    return module


def load_plan_modules(directory: str) -> list:
    """Every plan module in directory (raises PlanModuleVersionError for one built for another
    core, FileNotFoundError when the directory does not exist)."""
    if not os.path.isdir(directory):
        raise FileNotFoundError("plan module directory %s does not exist" % directory)
    suffixes = importlib.machinery.EXTENSION_SUFFIXES
    paths = sorted(p for p in glob.glob(os.path.join(directory, "jqgate_plan_*"))
                   if any(p.endswith(s) for s in suffixes))
    return [import_module_file(p) for p in paths]


def install_plan_modules(directory: str | None) -> int:
    """Make the plans of the modules in directory replace compiled plans from now on (None:
    none); -> how many plans were installed."""
    _INSTALLED.clear()
    _MODULE_OF.clear()
    if not directory:
        return 0
    for module in load_plan_modules(directory):
        for instance, digest, plan in zip(module.INSTANCES, module.PLAN_HASHES, module.PLANS):
            _INSTALLED[(instance, digest)] = plan
            _MODULE_OF[(instance, digest)] = module.__name__
    log.info("plan modules: %d plan(s) from %s", len(_INSTALLED), directory)
    return len(_INSTALLED)


def build_missing_modules(directory: str, compiled) -> int:
    """Build, into directory, the module of each plan of compiled that has none there (the
    cache of `jqgate run --build-plan-modules`); -> how many were built. Without a C compiler
    or Cython: one log line, nothing built (those plans run on the generic executor)."""
    from jqgate.plan_module.build import PlanModuleBuildError, compile_modules
    from jqgate.plan_module.source import module_name_for, module_source
    from jqgate.plan_module.version import core_version

    os.makedirs(directory, exist_ok=True)
    present = {os.path.basename(p).split(".")[0] for p in glob.glob(os.path.join(directory, "jqgate_plan_*"))
               if any(p.endswith(s) for s in importlib.machinery.EXTENSION_SUFFIXES)}
    sources = {}
    for _plugin, plan in compiled.plans:
        name = module_name_for(plan)
        if name not in present and name not in sources:
            sources[name] = module_source(name, [plan], core_version())
    if not sources:
        return 0
    try:
        compile_modules(sources, directory)
    except PlanModuleBuildError as e:
        log.warning("plan modules: not built (%s): the generic executor runs those plans", e)
        return 0
    log.info("plan modules: built %d into %s", len(sources), directory)
    return len(sources)


def use_plan_modules(directory: str | None, compiled, build_missing: bool = False) -> None:
    """`jqgate run --plan-modules DIR [--build-plan-modules]`: optionally build what is
    missing, install DIR's modules, and put their plans into compiled (later compiles, on
    reload, pick them up through compile_gateway)."""
    if directory and build_missing:
        build_missing_modules(directory, compiled)
    install_plan_modules(directory)
    if directory:
        compiled.plans = [(plugin, module_plan_for(plan)) for plugin, plan in compiled.plans]


def module_plan_for(plan):
    """The installed module's plan for this compiled plan, else the plan itself (logged)."""
    if not _INSTALLED:
        return plan
    found = _INSTALLED.get((plan.instance, plan.config_hash))
    if found is None:
        log.warning("plan modules: none built for DataKit instance %s (config hash %s): "
                    "it runs on the generic executor", plan.instance, plan.config_hash)
        return plan
    log.info("plan modules: DataKit instance %s runs the plan of module %s",
             plan.instance, _MODULE_OF[(plan.instance, plan.config_hash)])
    return found
