# Declarations of jq/bridge.pyx: the libjq bridge's C-level imports, limits and defaults, its
# conversion functions and the JqProgram class (core.pxd includes this, so every file of the
# core calls `JqProgram.c_run_one` as a plain C call: the class is final, no virtual dispatch).

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

# Default budgets of one jq run and the compile headroom (values and reasons in jq/bridge.pyx).
cdef unsigned long long JQB_DEFAULT_STEP_BUDGET
cdef long long JQB_DEFAULT_MEMORY_BUDGET
cdef long long JQB_COMPILE_MEMORY_HEADROOM
# 2**53: beyond this an integer may not survive a trip through a double.
cdef double JQB_EXACT_INT_LIMIT

cdef str jqb_size_text(long long size)
cdef str jqb_message_text(jv message)
cdef object jqb_runtime_error(jv end)
cdef void jqb_collect_message(void* messages, jv message) noexcept nogil
cdef void jqb_drop_message(void* unused, jv message) noexcept nogil
cdef list jqb_compile(jq_state* jq, bytes source, long long memory_budget)
cdef object jqb_policy()
cdef class JqProgram:
    cdef jq_state* _jq
    cdef readonly str source
    cdef readonly unsigned long long own_step_budget
    cdef readonly long long own_memory_budget

    cdef inline unsigned long long c_step_budget(self) noexcept
    cdef inline long long c_memory_budget(self) noexcept
    cdef inline void _start(self, jv input_value) noexcept
    cdef object c_run_one(self, object value)
    cdef int _raise_if_failed(self, jv end) except -1
    cpdef object run_one(self, object value)
