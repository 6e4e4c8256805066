# Declarations of jq/native.pyx: what the rest of the core uses from it (via core.pxd).

from libc.math cimport signbit
from cpython.dict cimport PyDict_Copy, PyDict_GetItemWithError
from cpython.long cimport PyLong_AsLongLongAndOverflow, PyLong_AsLongLong
from cpython.unicode cimport PyUnicode_KIND, PyUnicode_1BYTE_KIND

cdef enum:
    # Inputs nested deeper go to libjq; far below JQB_MAX_DEPTH, so the few levels a program
    # adds can never push a native result past the bridge's limit.
    JQN_MAX_INPUT_DEPTH = 1000
    # Recursion of comparison, deep merge and tostring here; deeper -> libjq.
    JQN_MAX_WORK_DEPTH = 2000

cdef int jqn_charge(Py_ssize_t units) except -1

cdef class _JqnEmpty:
    pass

cdef class NativeJq:
    cdef readonly JqProgram fallback
    cdef readonly str source
    cdef readonly tuple description
    cdef readonly Py_ssize_t slots
    cdef readonly Py_ssize_t native_runs
    cdef readonly Py_ssize_t fallback_runs
    cdef JqnNode root

    cdef object _native(self, object value)
    cdef object c_run_one(self, object value)
    cpdef object run_one(self, object value)
