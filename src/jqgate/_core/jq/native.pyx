# Native evaluation of the jq subset the compiler recognises (compiler/jq_native.py).
#
# Public names (exported from jqgate._core.core):
#   NativeJq(program, description, slots)  a JqProgram-compatible runner: .run_one(value),
#       .run_all(value), .source, cdef c_run_one(value); .fallback is the libjq program;
#       .run_native(value) -> (status, value) for tests; .native_runs / .fallback_runs counters.
#
# Exactness by construction: the native evaluator only ever answers when it is sure to produce
# what JqProgram.run_one produces; otherwise the *whole call* is re-run on libjq (the evaluator
# has no side effects, so re-running is exact). That happens when
#   - the input is not "canonical": anything but None/bool/str/exact int/finite non-integral
#     float/list/dict with str keys -- e.g. 1.0 (jq keeps the literal text "1.0"), NaN, tuples,
#     subclasses, strings with surrogates, nesting deeper than JQN_MAX_INPUT_DEPTH;
#   - a jq error is raised and not caught by `?`: libjq then reports it with its own
#     message (so messages are libjq's by definition, and the native code never formats one);
#   - a value the native number model does not cover shows up: an integer beyond 2**53 in
#     arithmetic, comparison, length or tostring; a float in tostring (jq prints a float's
#     literal text); a computed -0, NaN, infinity or integral result beyond 2**53; a string
#     times a number; nesting beyond JQN_MAX_WORK_DEPTH in comparison, merge or tostring;
#   - a node combining several operands (binary operators, object construction, string
#     interpolation) sees one operand produce no result while another fails: which one jq
#     meets first depends on its evaluation order, so libjq decides.
# With canonical input, every value inside the evaluator is canonical too: numbers computed
# here are an int when integral (|x| <= 2**53) and a float otherwise, which is exactly what the
# bridge returns for jq's doubles; so results need no conversion pass, and sub-values of the
# input are shared with the result, not copied (values are immutable once produced).
#
# Zero results (select, empty, `?`) are carried as JQN_EMPTY and become None (rule D1); no
# construct here yields more than one result (the compiler refuses those).
#
# Budget: the subset has no loops, recursion, range or repetition, so a run's work is bounded by
# the program's size times the input's; but values are shared, not copied, so a few
# `[., .]` or `. + .` in a row can build a value whose printing, comparison or concatenation
# costs exponentially more than the input. Those operations charge work units (one per value
# visited or item produced, one per 16 characters of text) against the program's step budget;
# a run over it bails to libjq, which re-runs it under its own step and memory budgets (and so
# fails it with JqBudgetError when it really is over).

from libc.math cimport signbit
import sys
from cpython.dict cimport PyDict_Copy, PyDict_GetItemWithError
from cpython.long cimport PyLong_AsLongLongAndOverflow, PyLong_AsLongLong
from cpython.unicode cimport PyUnicode_KIND, PyUnicode_1BYTE_KIND

cdef long long JQN_INT_LIMIT = 9007199254740992

# Work units the current native run may still spend (see the header): set by NativeJq._native
# from its program's step budget. Runs happen on the event loop thread, one at a time.
cdef long long jqn_work_left = 0


cdef inline int jqn_charge(Py_ssize_t units) except -1:
    global jqn_work_left
    jqn_work_left -= units
    if jqn_work_left < 0:
        raise JqnBail()
    return 0


class JqnError(Exception):
    """A jq error inside the native evaluator (its message is libjq's to give)."""


class JqnBail(Exception):
    """The native evaluator cannot answer this call exactly: re-run it on libjq."""


@cython.final
cdef class _JqnEmpty:
    def __repr__(self):
        return "<no result>"


cdef object JQN_EMPTY = _JqnEmpty()


# ---------------------------------------------------------------------------------------------
# The runner

@cython.final
cdef class NativeJq:
    """A jq program run by the native evaluator, with its libjq compilation as the exact
    fallback (see this file's header). Same interface as JqProgram."""


    def __init__(self, JqProgram fallback not None, tuple description not None,
                 Py_ssize_t slots=0):
        self.fallback = fallback
        self.source = fallback.source
        self.description = description
        self.slots = slots
        self.root = jqn_build(description)

    def __repr__(self):
        return "NativeJq(%r)" % self.source

    def __reduce__(self):
        return (NativeJq, (self.fallback, self.description, self.slots))

    cdef object _native(self, object value):
        """The native result (JQN_EMPTY for none), or raise JqnError / JqnBail."""
        global jqn_work_left
        cdef list env = None
        if not jqn_canonical(value):
            raise JqnBail()
        jqn_work_left = <long long>self.fallback.c_step_budget()
        if self.slots:
            env = [None] * self.slots
        return self.root.eval(value, env)

    cdef object c_run_one(self, object value):
        """run_one for Cython callers: the native result, or libjq's for the same call."""
        try:
            result = self._native(value)
        except (JqnError, JqnBail):
            self.fallback_runs += 1
            return self.fallback.c_run_one(value)
        self.native_runs += 1
        if result is JQN_EMPTY:
            return None
        return result

    cpdef object run_one(self, object value):
        """As JqProgram.run_one (DataKit rule D1)."""
        return self.c_run_one(value)

    def run_all(self, value):
        """Every result, in order (at most one for a native program)."""
        try:
            result = self._native(value)
        except (JqnError, JqnBail):
            self.fallback_runs += 1
            return self.fallback.run_all(value)
        self.native_runs += 1
        return [] if result is JQN_EMPTY else [result]

    def run_native(self, value):
        """For tests: ("ok", result) / ("empty", None) from the native evaluator alone,
        ("error", None) for a jq error it would hand to libjq, ("bail", None) when it cannot
        answer exactly (libjq would run)."""
        try:
            result = self._native(value)
        except JqnError:
            return ("error", None)
        except JqnBail:
            return ("bail", None)
        if result is JQN_EMPTY:
            return ("empty", None)
        return ("ok", result)
