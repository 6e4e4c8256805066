# C-level declarations of the libjq bridge, included at the top of jq/bridge.pyx.
#
# Why an `include`d .pxd and not a cimported one: core.pyx builds ONE extension from included
# .pyx files, and Cython only honours the .pxd of the module being compiled (core.pxd). The
# `cdef class JqProgram` therefore keeps its attribute declarations in jq/bridge.pyx; included
# files that come after it in core.pyx see the class and call `JqProgram.c_run_one` as a plain C
# call (the class is final, so no virtual dispatch). If core.pxd is ever added, move the class
# declarations there, asyncpg style.

from libc.math cimport modf, fabs, isinf, isnan
from libc.float cimport DBL_MAX
from libc.limits cimport INT_MAX
from cpython.object cimport PyObject
from cpython.dict cimport PyDict_Next
from cpython.long cimport PyLong_AsLongLongAndOverflow, PyLong_FromDouble, PyLong_FromString
from cpython.float cimport PyFloat_AS_DOUBLE
from cpython.mem cimport PyMem_Free
from cpython.unicode cimport PyUnicode_DecodeUTF8

from jqgate._core.includes.libjq cimport *

cdef extern from "Python.h":
    # Declared here without an exception clause: the bridge checks for NULL itself, because a
    # str holding lone surrogates is not an error for us but a slow path (see jqb_str_to_jv).
    const char* jqb_utf8_and_size "PyUnicode_AsUTF8AndSize" (object, Py_ssize_t*)
    int PyErr_ExceptionMatches(object)
    void PyErr_Clear()
    # float.__repr__'s formatting, so a Python float reaches jq with the text json.dumps writes.
    char* PyOS_double_to_string(double, char, int, int, int*) except NULL
    int Py_DTSF_ADD_DOT_0


cdef enum:
    # Deepest nesting converted in either direction; jq's own parser and printer stop at the same
    # depth (MAX_PARSING_DEPTH, MAX_PRINT_DEPTH). Conversion recurses in C; 10 000 frames of a
    # few hundred bytes fit comfortably in the main thread's stack.
    JQB_MAX_DEPTH = 10000
    # run_one counts surplus results only this far, so a program like `repeat(.)` ends in an
    # error instead of looping forever while being counted.
    JQB_MAX_COUNTED_RESULTS = 10000

# Default budgets of one jq run (jq_next to its last result), for the process unless
# set_jq_budgets changes them; a plugin's config.jq_budget overrides them for its programs.
# 2,000,000 libjq instructions are roughly 0.1-0.3 s of one core; 64 MiB is what the run may
# hold at once (net of what it frees), counted by libjq's allocator.
cdef unsigned long long JQB_DEFAULT_STEP_BUDGET = 2000000
cdef long long JQB_DEFAULT_MEMORY_BUDGET = 64 * 1024 * 1024
# Compiling evaluates constant expressions (`"x" * 1e9` is folded into one string): a compile may
# allocate its program's memory budget plus this much for libjq's own bytecode and builtins.
cdef long long JQB_COMPILE_MEMORY_HEADROOM = 32 * 1024 * 1024

# 2**53: beyond this an integer may not survive a trip through a double, so it travels to jq as a
# decimal literal and comes back from that literal.
cdef double JQB_EXACT_INT_LIMIT = 9007199254740992.0
