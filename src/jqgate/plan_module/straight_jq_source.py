"""The Cython support code every generated plan module includes (`include "straight_jq.pxi"`).

Kept as text in a Python module because the wheel carries no Cython sources (pyproject.toml):
build.py writes it next to the generated modules' .pyx files before cythonizing them.
"""

SOURCE = r'''# Runtime support of the straight-line jq code in a compiled plan module (jqgate build).
# Included into every generated module; nothing here is called by the core.
#
# Exactness: a straight-line function answers only when it is certain to give what the plan's
# generic program (NativeJq or JqProgram) gives for the same input; in every other case it
# returns PM_BAIL and the runner hands the *whole* call to the generic program. It bails on
#   - input outside the canonical domain NativeJq answers natively (jq_native.pyx header):
#     this check is stricter (big ints bail here, NativeJq may still answer them);
#   - any jq error (libjq gives the message), any value of a kind the code did not assume;
#   - work beyond the program's step budget, charged in the same units as NativeJq.
# The programs emitted (plan_module/jq_codegen.py) have no `?`, try, select or empty, so every
# construct yields exactly one result or bails: evaluation order cannot change the outcome.

from cpython.dict cimport PyDict_Copy, PyDict_GetItemWithError, PyDict_Next
from cpython.float cimport PyFloat_AS_DOUBLE
from cpython.long cimport PyLong_AsLongLongAndOverflow
from cpython.object cimport PyObject
from cpython.unicode cimport PyUnicode_KIND, PyUnicode_1BYTE_KIND
from libc.math cimport fabs, isinf, isnan, modf, signbit

cdef enum:
    PM_MAX_DEPTH = 1000               # as NativeJq's JQN_MAX_INPUT_DEPTH
    PM_MAX_MERGE_DEPTH = 2000         # as JQN_MAX_WORK_DEPTH

cdef long long PM_INT_LIMIT = 9007199254740992


cdef class _PmBail:
    """The marker a straight-line function returns when the generic program must answer."""


cdef object PM_BAIL = _PmBail()
# The current run's work budget: the step budget of pm_budget_source (the JqProgram whose
# budget applies), read at the first charge only, as most programs charge nothing. Runs happen
# on one thread at a time (the event loop's).
cdef long long pm_work_left = 0
cdef object pm_budget_source = None
cdef bint pm_budget_read = False


cdef bint pm_str_ok(str text):
    cdef Py_UCS4 c
    if PyUnicode_KIND(text) == PyUnicode_1BYTE_KIND:
        return True
    for c in text:
        if 0xD800 <= c <= 0xDFFF:
            return False
    return True


cdef bint pm_scalar_ok(object value, type t):
    cdef int overflow = 0
    cdef long long n
    cdef double d
    cdef double whole
    if t is str:
        return pm_str_ok(<str>value)
    if value is None or value is True or value is False:
        return True
    if t is int:
        n = PyLong_AsLongLongAndOverflow(value, &overflow)
        return overflow == 0 and -PM_INT_LIMIT <= n <= PM_INT_LIMIT
    if t is float:
        d = PyFloat_AS_DOUBLE(value)
        return not (isnan(d) or isinf(d) or modf(d, &whole) == 0)
    return False


cdef bint pm_canonical(object value, int depth):
    """Is value inside the domain where NativeJq answers natively (and big ints excluded)?"""
    cdef type t = type(value)
    cdef Py_ssize_t pos = 0
    cdef PyObject* k
    cdef PyObject* v
    if t is dict:
        if depth >= PM_MAX_DEPTH:
            return False
        while PyDict_Next(value, &pos, &k, &v):
            if type(<object>k) is not str or not pm_str_ok(<str>k):
                return False
            if not pm_canonical(<object>v, depth + 1):
                return False
        return True
    if t is list:
        if depth >= PM_MAX_DEPTH:
            return False
        for item in <list>value:
            if not pm_canonical(item, depth + 1):
                return False
        return True
    return pm_scalar_ok(value, t)


cdef inline int pm_charge(Py_ssize_t units) except -1:
    """0 when the run is over its work budget (the generic program then decides), else 1."""
    global pm_work_left, pm_budget_read
    if units == 0:
        return 1
    if not pm_budget_read:
        pm_work_left = <long long>pm_budget_source.step_budget
        pm_budget_read = True
    pm_work_left -= units
    return pm_work_left >= 0


cdef inline bint pm_truthy(object value):
    return not (value is None or value is False)


cdef inline object pm_index_str(object value, str key):
    """`.key`: an object's member or null; null on null; anything else is a jq error (bail)."""
    cdef PyObject* found
    if type(value) is dict:
        found = PyDict_GetItemWithError(value, key)
        return <object>found if found != NULL else None
    if value is None:
        return None
    return PM_BAIL


cdef object pm_index_int(object value, Py_ssize_t i):
    cdef Py_ssize_t n
    if value is None:
        return None
    if type(value) is not list:
        return PM_BAIL
    n = len(<list>value)
    if i < 0:
        i += n
    if 0 <= i < n:
        return (<list>value)[i]
    return None


cdef inline bint pm_is_number(type t):
    return t is int or t is float


cdef object pm_arith(object a, object b, bint multiply):
    """+ or * of two numbers as the native evaluator computes them (jqn_double, jqn_number):
    in doubles, integral results as int; anything outside that model (integers beyond 2**53,
    NaN, infinities, -0) bails."""
    cdef int overflow = 0
    cdef long long n
    cdef double x, y, d, whole
    if type(a) is float:
        x = PyFloat_AS_DOUBLE(a)
    else:
        n = PyLong_AsLongLongAndOverflow(a, &overflow)
        if overflow or not -PM_INT_LIMIT <= n <= PM_INT_LIMIT:
            return PM_BAIL
        x = <double>n
    if type(b) is float:
        y = PyFloat_AS_DOUBLE(b)
    else:
        n = PyLong_AsLongLongAndOverflow(b, &overflow)
        if overflow or not -PM_INT_LIMIT <= n <= PM_INT_LIMIT:
            return PM_BAIL
        y = <double>n
    d = x * y if multiply else x + y
    if isnan(d) or isinf(d):
        return PM_BAIL
    if modf(d, &whole) != 0:
        return d
    if (d == 0.0 and signbit(d)) or fabs(d) > <double>PM_INT_LIMIT:
        return PM_BAIL
    return <long long>d


cdef object pm_add(object a, object b):
    """jq's +: null, numbers, strings, arrays, objects (shallow merge); mixed kinds bail (jq
    error)."""
    cdef type ta
    cdef type tb
    cdef dict merged
    if a is None:
        return b
    if b is None:
        return a
    ta = type(a)
    tb = type(b)
    if pm_is_number(ta) and pm_is_number(tb):
        return pm_arith(a, b, False)
    if ta is str and tb is str:
        if not pm_charge((len(<str>a) + len(<str>b)) >> 4):
            return PM_BAIL
        return <str>a + <str>b
    if ta is list and tb is list:
        if not pm_charge(len(<list>a) + len(<list>b)):
            return PM_BAIL
        return <list>a + <list>b
    if ta is dict and tb is dict:
        if not pm_charge(len(<dict>a) + len(<dict>b)):
            return PM_BAIL
        merged = PyDict_Copy(a)
        merged.update(<dict>b)
        return merged
    return PM_BAIL


cdef object pm_merge(dict a, dict b, int depth):
    """Object * object (jv_object_merge_recursive), charged as NativeJq charges it."""
    cdef Py_ssize_t pos = 0
    cdef PyObject* k
    cdef PyObject* v
    cdef PyObject* mine
    cdef dict out
    if depth > PM_MAX_MERGE_DEPTH or not pm_charge(len(a) + len(b)):
        return PM_BAIL
    out = PyDict_Copy(a)
    while PyDict_Next(b, &pos, &k, &v):
        mine = PyDict_GetItemWithError(out, <object>k)
        if mine != NULL and type(<object>mine) is dict and type(<object>v) is dict:
            sub = pm_merge(<dict>mine, <dict>v, depth + 1)
            if sub is PM_BAIL:
                return sub
            out[<object>k] = sub
        else:
            out[<object>k] = <object>v
    return out


cdef inline object pm_mul(object a, object b):
    if type(a) is dict and type(b) is dict:
        return pm_merge(<dict>a, <dict>b, 0)
    if pm_is_number(type(a)) and pm_is_number(type(b)):
        return pm_arith(a, b, True)
    return PM_BAIL


cdef int pm_kind(object value):
    """jq's kind order for the scalars pm_eq compares; 0 for containers (bail)."""
    cdef type t = type(value)
    if value is None:
        return 1
    if value is False:
        return 2
    if value is True:
        return 3
    if t is int or t is float:
        return 4
    if t is str:
        return 5
    return 0


cdef object pm_eq(object a, object b):
    """== on scalars (numbers are exact ints <= 2**53 or finite floats: Python's == is jq's);
    containers bail."""
    cdef int ka = pm_kind(a)
    cdef int kb = pm_kind(b)
    if ka == 0 or kb == 0:
        return PM_BAIL
    if ka != kb:
        return False
    if ka <= 3:
        return True
    return a == b


cdef object pm_format(tuple parts):
    """String interpolation whose pieces are all strings (other kinds need jq's tostring)."""
    for part in parts:
        if type(part) is not str:
            return PM_BAIL
    text = "".join(parts)
    if not pm_charge(len(<str>text) >> 4):
        return PM_BAIL
    return text


ctypedef object (*pm_straight_fn)(object)


cdef class StraightJq:
    """A jq program of the plan as straight-line code, with the plan's generic program as the
    exact fallback. Same interface as the core's JqProgram / NativeJq (run_one, run_all,
    source), so the executor runs it like any program."""
    cdef pm_straight_fn fn
    cdef readonly object fallback          # the generic program (NativeJq or JqProgram)
    cdef readonly object budget_source     # the JqProgram whose step budget applies
    cdef readonly str source
    cdef readonly Py_ssize_t straight_runs
    cdef readonly Py_ssize_t fallback_runs

    def __repr__(self):
        return "StraightJq(%r)" % self.source

    cdef object _straight(self, object value):
        global pm_budget_source, pm_budget_read
        if not pm_canonical(value, 0):
            return PM_BAIL
        pm_budget_source = self.budget_source
        pm_budget_read = False
        return self.fn(value)

    cpdef object run_one(self, object value):
        result = self._straight(value)
        if result is PM_BAIL:
            self.fallback_runs += 1
            return self.fallback.run_one(value)
        self.straight_runs += 1
        return result

    def run_all(self, value):
        result = self._straight(value)
        if result is PM_BAIL:
            self.fallback_runs += 1
            return self.fallback.run_all(value)
        self.straight_runs += 1
        return [result]


cdef StraightJq pm_straight(pm_straight_fn fn, object fallback):
    cdef StraightJq runner = StraightJq.__new__(StraightJq)
    runner.fn = fn
    runner.fallback = fallback
    runner.budget_source = getattr(fallback, "fallback", fallback)
    runner.source = fallback.source
    return runner
'''
