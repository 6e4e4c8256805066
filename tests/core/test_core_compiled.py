"""The installed package runs the compiled core: these fail against a pure-Python stand-in."""
import importlib.machinery
import os
import sysconfig

import pytest

import jqgate._core.core as core
from jqgate._core.core import JqProgram

# CPython sets this flag on every class created by a `class` statement, never on the static
# types an extension module defines.
Py_TPFLAGS_HEAPTYPE = 1 << 9


def test_core_is_a_shared_object_installed_in_site_packages():
    path = os.path.realpath(core.__file__)
    assert path.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)), path
    assert isinstance(core.__loader__, importlib.machinery.ExtensionFileLoader)
    site_packages = os.path.realpath(sysconfig.get_paths()["platlib"])
    assert path.startswith(site_packages + os.sep), (path, site_packages)
    assert os.sep + "src" + os.sep + "jqgate" not in path


def test_jq_program_is_a_static_extension_type():
    assert not JqProgram.__flags__ & Py_TPFLAGS_HEAPTYPE
    assert type(JqProgram.run_one).__name__ == "cython_function_or_method"


def test_jq_program_instances_have_no_attribute_dict():
    program = JqProgram(".")
    with pytest.raises(AttributeError):
        program.anything = 1
    with pytest.raises(AttributeError):
        program.source = "other"  # readonly C attribute


def _call_fields_read(nodes):
    import jqgate
    return core.call_fields_read_of(jqgate.compile({"nodes": nodes}))


CALL = {"name": "AUTH", "type": "call", "url": "http://127.0.0.1:9/token"}


@pytest.mark.parametrize("consumer, wanted", [
    ({"name": "J", "type": "jq", "input": "AUTH.body", "jq": "."}, ("body",)),
    ({"name": "J", "type": "jq", "inputs": {"h": "AUTH.headers", "s": "AUTH.status"},
      "jq": "."}, ("headers", "status")),
    ({"name": "J", "type": "jq", "input": "AUTH", "jq": "."}, None),      # the whole output
])
def test_a_call_builds_only_the_output_fields_some_node_reads(consumer, wanted):
    """The headers map and raw body text of a call's answer cost more than the rest of the
    call's bookkeeping: they are made only when read. (The whole-output slot used to count as
    read even when nothing read it, so every call built every field.)"""
    assert _call_fields_read([CALL, consumer]) == {"AUTH": wanted}
