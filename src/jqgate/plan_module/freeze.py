"""A compiled Plan as bytes inside a plan module, and back, without the DataKit compiler.

The Plan is pickled whole (its records are frozen dataclasses; the core's jq programs pickle as
their source and budgets and are compiled by libjq again when the module is imported, which is
no C compiler and no YAML). Objects that do not pickle are stored by what rebuilds them:
lxml's compiled XPath as its expression.
"""
from __future__ import annotations

import io
import pickle

FREEZE_PROTOCOL = 5


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if type(obj).__name__ == "XPath" and type(obj).__module__.startswith("lxml"):
            return ("xpath", obj.path)
        return None


class _Unpickler(pickle.Unpickler):
    def persistent_load(self, pid):
        kind, value = pid
        if kind == "xpath":
            from jqgate.nodes.xml.convert import compile_xpath
            return compile_xpath(value)
        raise pickle.UnpicklingError("unknown persistent object %r" % (kind,))


def freeze(obj) -> bytes:
    buf = io.BytesIO()
    _Pickler(buf, protocol=FREEZE_PROTOCOL).dump(obj)
    return buf.getvalue()


def thaw(data: bytes):
    return _Unpickler(io.BytesIO(data)).load()
