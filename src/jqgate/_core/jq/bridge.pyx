# The direct libjq bridge: compiled jq programs run on Python values, with no JSON text between.
#
# Public names (exported from jqgate._core.core):
#   JqProgram(source)       compile once; .run_one(value) (DataKit D1), .run_all(value), .source;
#                           cdef c_run_one(value) for other Cython code in this extension.
#   JqCompileError          ValueError; .messages: list[str] from libjq (or our policy check).
#   JqRuntimeError          ValueError; message as the jq CLI prints it, .value the error value.
#   JqBudgetError           JqRuntimeError; a run stopped by its step or memory budget (.budget).
#   set_jq_budgets(steps, memory_bytes), jq_budgets()   the process's default budgets.
#   DEFAULT_JQ_STEP_BUDGET, DEFAULT_JQ_MEMORY_BUDGET    their built-in values.
#
# Values, Python -> jq (as if the value were written by json.dumps and read by jq 1.8):
#   None, bool, int, float, str, list, tuple, dict with str keys. Any other type, or a non-str
#   key, raises TypeError. Integers within +-2**53 become doubles; larger ones carry their exact
#   decimal text (jq's number literals). Finite floats carry float.__repr__ text too, so
#   `tostring`/`tojson` render them as jq renders the JSON text json.dumps writes; NaN and
#   infinities are plain doubles. Strings are UTF-8. A str holding surrogate code points (not
#   valid Unicode text) is repaired rather than refused: a high+low pair becomes the character it
#   encodes and each lone surrogate becomes U+FFFD, as jq treats invalid UTF-8 in its input
#   (the PyPI binding fails there with jq's "Invalid \uXXXX\uXXXX surrogate pair escape").
# Values, jq -> Python (as the PyPI `jq` binding returns them):
#   NaN -> None; +-infinity -> +-1.7976931348623157e+308 (float); a number carrying an integer
#   literal beyond 2**53 -> that exact int (the PyPI binding rounds it through a double; this is
#   the one deliberate difference); any other integral number -> int, else float.
# Nesting deeper than JQB_MAX_DEPTH levels either way raises JqRuntimeError (no crash).
#
# Programs: rejected at compile time, with a JqCompileError naming the reason --
#   $ENV, env                 would expose the gateway's environment (secrets) to configs.
#   input, inputs             a DataKit jq node has exactly one input, `.`; there is no stream.
#   halt, halt_error          stop the jq process, which here is the gateway; use error(...).
#   input_filename, input_line_number   there is no input file.
#   import, include, module, modulemeta, get_search_list, get_prog_origin, get_jq_origin
#                             jq modules would read files from the gateway's disk.
#   Allowed: $__loc__ (constant), debug and stderr (identity; libjq drops the message because
#   no callback is installed), now/mktime/strftime and friends, regexes (oniguruma).
# Detection of builtin calls uses jq's own binder, so it cannot be fooled by syntax: the program
# is compiled a second time after definitions of the forbidden names whose bodies call undefined
# functions; jq binds every call of the builtin to our definition and reports it, while a
# program's own `def env: ...` shadows ours and stays allowed. `$ENV` cannot be shadowed that way,
# so it is found by a scan of the program text that skips strings (not their interpolations) and
# comments; the variable name is refused even when the program binds it itself.
#
# Runs: one jq_state per program for its whole life. Between jq_start and the last jq_next no
# Python code runs (results are converted afterwards), so a run can never be re-entered from a
# finaliser or another thread while the GIL is held. Not for free-threaded (no-GIL) builds.
# Compiling releases the GIL (libjq's messages are gathered as jv values), so a reload can
# compile on a worker thread while the event loop keeps serving.
#
# Budgets (patches/jq-1.8.2-budgets.patch): every run may execute at most `step budget` libjq
# instructions and hold at most `memory budget` bytes more than it started with (libjq's
# allocator counts usable sizes; an array index or string repeat whose size comes from the
# program is refused before it is allocated). Over either, libjq stops the run the way `halt`
# does, so no try/catch in the program can keep it going, and JqBudgetError is raised: the node
# fails, the worker goes on. Defaults: JQB_DEFAULT_* in jq/bridge.pxd, for the process through
# set_jq_budgets (server_main.serve's jq_step_budget / jq_memory_budget_mib), per program
# through JqProgram(source, step_budget, memory_budget) (a plugin's config.jq_budget).
# Not bounded here: oniguruma's own matching (it has a retry limit of its own), and the
# conversion of a result to Python (its size is bounded by the memory budget).

include "bridge.pxd"

cimport cython
import re


class JqCompileError(ValueError):
    """A jq program that libjq cannot compile, or that DataKit does not allow."""

    def __init__(self, messages):
        self.messages = list(messages)
        ValueError.__init__(self, "\n".join(self.messages))


class JqRuntimeError(ValueError):
    """A jq program failed on a value; str() is the message the jq CLI would print."""

    def __init__(self, message, value=None):
        ValueError.__init__(self, message)
        # The jq error value as Python (`error({"a": 1})` -> {"a": 1}); None when the failure
        # came from the bridge (too many results, nesting too deep).
        self.value = value


class JqBudgetError(JqRuntimeError):
    """A jq run stopped by its step or memory budget; .budget is "steps" or "memory"."""

    def __init__(self, message, budget):
        JqRuntimeError.__init__(self, message)
        self.budget = budget


DEFAULT_JQ_STEP_BUDGET = JQB_DEFAULT_STEP_BUDGET
DEFAULT_JQ_MEMORY_BUDGET = JQB_DEFAULT_MEMORY_BUDGET

# The process's budgets for programs without their own (set_jq_budgets).
cdef unsigned long long jqb_step_budget = JQB_DEFAULT_STEP_BUDGET
cdef long long jqb_memory_budget = JQB_DEFAULT_MEMORY_BUDGET


def set_jq_budgets(steps=None, memory_bytes=None):
    """Set the default step and memory budgets of every later jq run in this process (None
    keeps one as it is). Both must be positive: an unbounded program is what they prevent."""
    global jqb_step_budget, jqb_memory_budget
    if steps is not None:
        if type(steps) is not int or not 1 <= steps <= 2 ** 62:
            raise ValueError("jq step budget must be an integer from 1 to 2**62, got %r"
                             % (steps,))
        jqb_step_budget = steps
    if memory_bytes is not None:
        if type(memory_bytes) is not int or not 1 <= memory_bytes <= 2 ** 62:
            raise ValueError("jq memory budget must be a positive integer of bytes, got %r"
                             % (memory_bytes,))
        jqb_memory_budget = memory_bytes


def jq_budgets():
    """(steps, memory_bytes): the process's default budgets."""
    return (jqb_step_budget, jqb_memory_budget)


cdef str jqb_size_text(long long size):
    if size % (1024 * 1024) == 0:
        return "%d MiB" % (size // (1024 * 1024))
    return "%d bytes" % size


# ---------------------------------------------------------------------------------------------
# Python -> jv

cdef int jqb_str_to_jv(object text, jv* out) except -1:
    cdef Py_ssize_t size
    cdef const char* data = jqb_utf8_and_size(text, &size)
    if data == NULL:
        if not PyErr_ExceptionMatches(UnicodeEncodeError):
            return -1  # MemoryError and the like: already set, propagate it
        PyErr_Clear()
        # Surrogate code points: pairs join into their character, lone ones become U+FFFD (see
        # the file header). Rare, so the slow path is plain Python.
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
        data = jqb_utf8_and_size(text, &size)
        if data == NULL:
            return -1
    if size > INT_MAX:
        raise ValueError("string of %d bytes is too long for jq" % size)
    # jv_string_sized validates the bytes again (CPython's UTF-8 is already valid); libjq has no
    # public constructor that skips that pass.
    out[0] = jv_string_sized(data, <int>size)
    return 0


cdef int jqb_int_to_jv(object number, jv* out) except -1:
    cdef int overflow = 0
    cdef long long small = PyLong_AsLongLongAndOverflow(number, &overflow)
    if overflow == 0 and -9007199254740992 <= small <= 9007199254740992:
        out[0] = jv_number(<double>small)
        return 0
    # int.__repr__, not str(): an int subclass may override __str__, json.dumps ignores that.
    cdef bytes digits = int.__repr__(number).encode("ascii")
    out[0] = jv_number_with_literal(digits)
    if jv_get_kind(out[0]) == JV_KIND_INVALID:
        raise OverflowError("integer with %d digits is too large for jq" % len(digits))
    return 0


cdef int jqb_float_to_jv(double number, jv* out) except -1:
    if isnan(number) or isinf(number):
        out[0] = jv_number(number)
        return 0
    cdef char* text = PyOS_double_to_string(number, b'r', 0, Py_DTSF_ADD_DOT_0, NULL)
    out[0] = jv_number_with_literal(text)
    PyMem_Free(text)
    if jv_get_kind(out[0]) == JV_KIND_INVALID:
        out[0] = jv_number(number)
    return 0


cdef int jqb_dict_to_jv(object mapping, jv* out, int depth) except -1:
    cdef jv obj = jv_object()
    cdef jv key
    cdef jv item
    cdef Py_ssize_t pos = 0
    cdef PyObject* k
    cdef PyObject* v
    try:
        if type(mapping) is dict:
            while PyDict_Next(mapping, &pos, &k, &v):
                jqb_key_to_jv(<object>k, &key)
                try:
                    jqb_from_py(<object>v, &item, depth)
                except BaseException:
                    jv_free(key)
                    raise
                obj = jv_object_set(obj, key, item)
        else:
            # dict subclasses (OrderedDict...) may order items differently from their storage.
            for pk, pv in mapping.items():
                jqb_key_to_jv(pk, &key)
                try:
                    jqb_from_py(pv, &item, depth)
                except BaseException:
                    jv_free(key)
                    raise
                obj = jv_object_set(obj, key, item)
    except BaseException:
        jv_free(obj)
        raise
    out[0] = obj
    return 0


cdef int jqb_key_to_jv(object key, jv* out) except -1:
    if not isinstance(key, str):
        raise TypeError("jq object keys must be str, not %s (%r)" % (type(key).__name__, key))
    return jqb_str_to_jv(key, out)


# Bounds stay checked here: converting an item can run Python code (a dict subclass's items())
# that shrinks the list being read.
@cython.boundscheck(True)
cdef int jqb_sequence_to_jv(object sequence, jv* out, int depth) except -1:
    cdef Py_ssize_t count = len(sequence)
    cdef Py_ssize_t i
    cdef jv arr = jv_array_sized(<int>count if count > 0 else 1)
    cdef jv item
    try:
        for i in range(count):
            jqb_from_py(sequence[i], &item, depth)
            arr = jv_array_set(arr, <int>i, item)
    except BaseException:
        jv_free(arr)
        raise
    out[0] = arr
    return 0


cdef int jqb_from_py(object value, jv* out, int depth) except -1:
    """Store in *out a new jv equal to value; `depth` counts the containers around value."""
    if isinstance(value, str):
        return jqb_str_to_jv(value, out)
    if value is None:
        out[0] = jv_null()
        return 0
    if value is True:
        out[0] = jv_true()
        return 0
    if value is False:
        out[0] = jv_false()
        return 0
    if isinstance(value, int):
        return jqb_int_to_jv(value, out)
    if isinstance(value, float):
        return jqb_float_to_jv(PyFloat_AS_DOUBLE(value), out)
    if depth >= JQB_MAX_DEPTH:
        raise JqRuntimeError("value is nested deeper than %d levels" % JQB_MAX_DEPTH)
    if isinstance(value, dict):
        return jqb_dict_to_jv(value, out, depth + 1)
    if isinstance(value, (list, tuple)):
        return jqb_sequence_to_jv(value, out, depth + 1)
    raise TypeError("cannot convert %s to a jq value" % type(value).__name__)


# ---------------------------------------------------------------------------------------------
# jv -> Python

cdef inline str jqb_str_from_jv(jv text):
    """The Python str of a jv string; does not consume it."""
    return PyUnicode_DecodeUTF8(<char*>jv_string_value(text),
                                jv_string_length_bytes(jv_copy(text)), NULL)


cdef bint jqb_is_integer_literal(const char* literal) noexcept:
    """True when a jq number literal is digits with an optional minus: no point, no exponent."""
    if literal[0] == b'-':
        literal += 1
    if literal[0] == 0:
        return False
    while literal[0] != 0:
        if literal[0] < b'0' or literal[0] > b'9':
            return False
        literal += 1
    return True


cdef object jqb_number_from_jv(jv number):
    """Does not consume number."""
    cdef double value = jv_number_value(number)
    cdef double whole
    cdef const char* literal
    if fabs(value) >= JQB_EXACT_INT_LIMIT and jv_number_has_literal(number):
        literal = jv_number_get_literal(number)
        if literal != NULL and jqb_is_integer_literal(literal):
            return PyLong_FromString(<char*>literal, NULL, 10)
    if isnan(value):
        return None
    if isinf(value):
        return DBL_MAX if value > 0 else -DBL_MAX
    if modf(value, &whole) == 0:
        return PyLong_FromDouble(value)
    return value


cdef object jqb_to_py(jv value, int depth):
    """Consume value and return it as a Python object; `depth` counts the containers around it."""
    cdef jv_kind kind = jv_get_kind(value)
    if kind == JV_KIND_STRING:
        try:
            return jqb_str_from_jv(value)
        finally:
            jv_free(value)
    if kind == JV_KIND_NUMBER:
        try:
            return jqb_number_from_jv(value)
        finally:
            jv_free(value)
    if kind == JV_KIND_NULL:
        return None
    if kind == JV_KIND_TRUE:
        return True
    if kind == JV_KIND_FALSE:
        return False
    if kind == JV_KIND_OBJECT or kind == JV_KIND_ARRAY:
        try:
            if depth >= JQB_MAX_DEPTH:
                raise JqRuntimeError("result is nested deeper than %d levels" % JQB_MAX_DEPTH)
            if kind == JV_KIND_OBJECT:
                return jqb_object_to_py(value, depth + 1)
            return jqb_array_to_py(value, depth + 1)
        finally:
            jv_free(value)
    jv_free(value)
    raise JqRuntimeError("jq produced an invalid value")


cdef dict jqb_object_to_py(jv obj, int depth):
    """Does not consume obj."""
    cdef dict result = {}
    cdef int it = jv_object_iter(obj)
    cdef jv key
    while jv_object_iter_valid(obj, it):
        key = jv_object_iter_key(obj, it)
        try:
            py_key = jqb_str_from_jv(key)
        finally:
            jv_free(key)
        result[py_key] = jqb_to_py(jv_object_iter_value(obj, it), depth)
        it = jv_object_iter_next(obj, it)
    return result


cdef list jqb_array_to_py(jv arr, int depth):
    """Does not consume arr."""
    cdef int count = jv_array_length(jv_copy(arr))
    cdef int i
    cdef list result = []
    for i in range(count):
        result.append(jqb_to_py(jv_array_get(jv_copy(arr), i), depth))
    return result


# ---------------------------------------------------------------------------------------------
# Errors out of libjq

cdef str jqb_message_text(jv message):
    """Consume a jq message (compile message or error value) and return it as text."""
    if jv_get_kind(message) == JV_KIND_STRING:
        return jqb_to_py(message, 0)
    return "(not a string): " + jqb_to_py(jv_dump_string(message, 0), 0)


cdef object jqb_runtime_error(jv end):
    """Consume the invalid jv that ended a run; return the exception to raise, or None when the
    run simply ran out of results."""
    if not jv_invalid_has_msg(jv_copy(end)):
        jv_free(end)
        return None
    cdef jv message = jv_invalid_get_msg(end)
    try:
        text = jqb_message_text(jv_copy(message))
    except BaseException:
        jv_free(message)
        raise
    try:
        value = jqb_to_py(message, 0)
    except JqRuntimeError:
        value = None  # an error value nested too deep to convert: the text still says it
    return JqRuntimeError(text, value)


cdef void jqb_collect_message(void* messages, jv message) noexcept nogil:
    """libjq's error callback while compiling (without the GIL): append the message to a jv
    array, converted to text once the GIL is back."""
    (<jv*>messages)[0] = jv_array_append((<jv*>messages)[0], message)


cdef void jqb_drop_message(void* unused, jv message) noexcept nogil:
    """libjq's error callback after compiling: it reports nothing the caller does not already
    get from jq_next, and its default would write to the process's stderr."""
    jv_free(message)


_JQ_ERROR_PREFIX = "jq: error: "
_JQ_ERROR_COUNT = re.compile(r"jq: \d+ compile errors?\Z")


@cython.boundscheck(True)
@cython.wraparound(True)
cdef list jqb_compile(jq_state* jq, bytes source, long long memory_budget):
    """Compile source into jq; return libjq's messages (empty on success). The GIL is released
    while libjq compiles (1-2 ms a program), so other threads run meanwhile. Constant folding
    runs under `memory_budget` (plus headroom): `"x" * 1e9` compiles into a run-time error
    instead of a gigabyte allocated at load time."""
    cdef jv collected = jv_array()
    cdef const char* text = source
    cdef long long left = memory_budget + JQB_COMPILE_MEMORY_HEADROOM
    cdef int ok
    cdef int i
    jq_set_error_cb(jq, jqb_collect_message, <void*>&collected)
    with nogil:
        jv_mem_budget_track(&left)
        ok = jq_compile(jq, text)
        jv_mem_budget_track(NULL)
    jq_set_error_cb(jq, jqb_drop_message, NULL)
    cdef list messages = []
    try:
        for i in range(jv_array_length(jv_copy(collected))):
            messages.append(jqb_message_text(jv_array_get(jv_copy(collected), i)))
    finally:
        jv_free(collected)
    cleaned = []
    for message in messages:
        if _JQ_ERROR_COUNT.match(message):
            continue  # the "jq: 1 compile error" summary repeats what the list says
        if message.startswith(_JQ_ERROR_PREFIX):
            message = message[len(_JQ_ERROR_PREFIX):]
        cleaned.append(message)
    if not ok and not cleaned:
        cleaned.append("jq program did not compile")
    return cleaned


# ---------------------------------------------------------------------------------------------
# Policy: what a per-request gateway program may not use (see the header of this file)

_ENV_MESSAGE = ("$ENV and env are not available in DataKit jq programs: "
                "they would expose the gateway's environment")
_FORBIDDEN_BUILTINS = {
    # name: (arities, reason)
    "env": ((0,), None),
    "input": ((0,), "a jq node has exactly one input, `.`"),
    "inputs": ((0,), "a jq node has exactly one input, `.`"),
    "halt": ((0,), "it would stop the gateway's jq engine; use error(...) to fail the node"),
    "halt_error": ((0, 1), "it would stop the gateway's jq engine; use error(...) to fail the node"),
    "input_filename": ((0,), "the input is not read from a file"),
    "input_line_number": ((0,), "the input is not read from a file"),
    "modulemeta": ((0,), "jq modules are not available"),
    "get_search_list": ((0,), "jq modules are not available"),
    "get_prog_origin": ((0,), "jq modules are not available"),
    "get_jq_origin": ((0,), "jq modules are not available"),
}
_PROBE_PREFIX = "__jqgate_forbidden_"
_PROBE_DEFINITIONS = "".join(
    "def %s%s: %s%s; " % (name, "(%s)" % "; ".join("p%d" % i for i in range(arity)) if arity else "",
                          _PROBE_PREFIX, name)
    for name, (arities, _) in _FORBIDDEN_BUILTINS.items() for arity in arities
)  # no newline: the program keeps its own line numbers ($__loc__), as it runs with these in front
_PROBE_HIT = re.compile(re.escape(_PROBE_PREFIX) + r"([A-Za-z_0-9]+)/0 is not defined")
_IDENT_CHAR = re.compile(r"[A-Za-z0-9_]")
_BINDING = re.compile(r"\$(?:[a-zA-Z_][a-zA-Z_0-9]*::)*[a-zA-Z_][a-zA-Z_0-9]*")
_BLANK = " \t\r\n"

# setup.py compiles with boundscheck and wraparound off; the cold-path text helpers below index
# Python strings and lists, so they turn both back on.


def _forbidden_message(name):
    reason = _FORBIDDEN_BUILTINS[name][1]
    if reason is None:
        return _ENV_MESSAGE
    return "%s is not available in DataKit jq programs: %s" % (name, reason)


@cython.boundscheck(True)
@cython.wraparound(True)
def _skip_comment(str source, Py_ssize_t i):
    """Index just past the jq comment starting at source[i] == '#'. As in jq's lexer, a
    backslash before a newline continues the comment, and a doubled backslash is literal."""
    cdef Py_ssize_t n = len(source)
    i += 1
    while i < n:
        c = source[i]
        if c == "\\" and i + 1 < n and source[i + 1] in "\\\n":
            i += 2
        elif c == "\\" and source.startswith("\r\n", i + 1):
            i += 3
        elif c == "\n":
            return i + 1
        else:
            i += 1
    return n


@cython.boundscheck(True)
@cython.wraparound(True)
def _first_word(str source):
    """The first token of the program when it is a word (jq directives can only come first)."""
    cdef Py_ssize_t i = 0
    cdef Py_ssize_t n = len(source)
    while i < n:
        if source[i] in _BLANK:
            i += 1
        elif source[i] == "#":
            i = _skip_comment(source, i)
        else:
            break
    start = i
    while i < n and _IDENT_CHAR.match(source, i):
        i += 1
    return source[start:i]


@cython.boundscheck(True)
@cython.wraparound(True)
def _variables_used(str source):
    """Names of the `$variables` in the program's code: outside string literals (but inside
    their \\( ... ) interpolations) and outside comments."""
    cdef Py_ssize_t i = 0
    cdef Py_ssize_t n = len(source)
    names = set()
    # One entry per string interpolation being read: how many '(' are open inside it.
    interpolations = []
    in_string = False
    while i < n:
        c = source[i]
        if in_string:
            if c == "\\":
                if source.startswith("(", i + 1):
                    interpolations.append(0)
                    in_string = False
                i += 2
            elif c == '"':
                in_string = False
                i += 1
            else:
                i += 1
        elif c == '"':
            in_string = True
            i += 1
        elif c == "#":
            i = _skip_comment(source, i)
        elif c == "$":
            match = _BINDING.match(source, i)
            if match is None:
                i += 1
            else:
                names.add(match.group()[1:])
                i = match.end()
        elif c == "(" and interpolations:
            interpolations[-1] += 1
            i += 1
        elif c == ")" and interpolations:
            if interpolations[-1] == 0:
                interpolations.pop()
                in_string = True  # back in the string the interpolation opened from
            else:
                interpolations[-1] -= 1
            i += 1
        else:
            i += 1
    return names


@cython.boundscheck(True)
@cython.wraparound(True)
cdef list jqb_policy_violations(str source, list messages):
    """Messages for everything in a program that DataKit does not allow, given libjq's
    messages from compiling it behind the probe definitions (empty when that compiled)."""
    cdef list problems = []
    first = _first_word(source)
    if first in ("import", "include", "module"):
        return ["%s is not available in DataKit jq programs: jq modules are not available"
                % first]
    if "ENV" in _variables_used(source):
        problems.append(_ENV_MESSAGE)
    hits = []
    for message in messages:
        for name in _PROBE_HIT.findall(message):
            if name in _FORBIDDEN_BUILTINS and name not in hits:
                hits.append(name)
    if messages and not hits:
        # The program compiled alone but not after our definitions: fail closed.
        return ["jq program could not be checked for builtins DataKit does not allow: "
                + "; ".join(messages)]
    for name in hits:
        message = _forbidden_message(name)
        if message not in problems:
            problems.append(message)
    return problems


# ---------------------------------------------------------------------------------------------
# The compiled program

@cython.final
cdef class JqProgram:
    """A jq program compiled once by libjq, run on Python values (see jq/bridge.pyx's header
    for conversions and the builtins DataKit refuses).

    run_one(value): DataKit's rule D1 -- no result gives None, one result gives it, more than
    one raises JqRuntimeError. run_all(value) returns every result as a list.
    step_budget / memory_budget (bytes): this program's own budgets; 0 (the default) follows
    the process's (set_jq_budgets). Over budget a run raises JqBudgetError.
    """

    cdef jq_state* _jq
    cdef readonly str source
    cdef readonly unsigned long long own_step_budget
    cdef readonly long long own_memory_budget

    def __cinit__(self, str source, unsigned long long step_budget=0,
                  long long memory_budget=0):
        self._jq = NULL
        self.source = source
        if memory_budget < 0:
            raise ValueError("jq memory budget must not be negative")
        self.own_step_budget = step_budget
        self.own_memory_budget = memory_budget
        if "\0" in source:
            raise JqCompileError(["jq program contains a NUL character"])
        try:
            encoded = source.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise JqCompileError(["jq program is not valid Unicode text: %s" % exc]) from None
        first = _first_word(source)
        if first in ("import", "include", "module"):
            # Refused before compiling: libjq would look for the module on disk.
            raise JqCompileError(jqb_policy_violations(source, []))
        # libjq's compile costs ~1-2 ms (it re-parses its builtins each time), so the program is
        # compiled once, behind the probe definitions: they are unused unless the program calls
        # a refused builtin, and then their names show in libjq's messages.
        self._jq = jq_init()
        if self._jq == NULL:
            raise MemoryError("jq_init failed")
        probe_messages = jqb_compile(self._jq, (_PROBE_DEFINITIONS + source).encode("utf-8"),
                                     self.c_memory_budget())
        if not probe_messages:
            if "ENV" in _variables_used(source):
                raise JqCompileError([_ENV_MESSAGE])
            return
        # Failed: compile the program alone so its own errors carry its own positions.
        jq_teardown(&self._jq)
        self._jq = jq_init()
        if self._jq == NULL:
            raise MemoryError("jq_init failed")
        messages = jqb_compile(self._jq, encoded,
                               self.c_memory_budget())
        if messages:
            raise JqCompileError(messages)
        raise JqCompileError(jqb_policy_violations(source, probe_messages))

    def __dealloc__(self):
        if self._jq != NULL:
            jq_teardown(&self._jq)

    def __repr__(self):
        return "JqProgram(%r)" % self.source

    def __reduce__(self):
        return (JqProgram, (self.source, self.own_step_budget, self.own_memory_budget))

    @property
    def step_budget(self):
        """The step budget a run gets now (its own, else the process's)."""
        return self.c_step_budget()

    @property
    def memory_budget(self):
        """The memory budget in bytes a run gets now (its own, else the process's)."""
        return self.c_memory_budget()

    cdef inline unsigned long long c_step_budget(self) noexcept:
        return self.own_step_budget or jqb_step_budget

    cdef inline long long c_memory_budget(self) noexcept:
        return self.own_memory_budget or jqb_memory_budget

    cdef inline void _start(self, jv input_value) noexcept:
        """jq_start under this program's budgets (they may have changed since the last run)."""
        jq_set_budget(self._jq, self.c_step_budget(), self.c_memory_budget())
        jq_start(self._jq, input_value, 0)

    cdef object c_run_one(self, object value):
        """run_one for Cython callers in this extension: a direct C call."""
        cdef jv input_value
        cdef jv first
        cdef jv extra
        cdef int count
        jqb_from_py(value, &input_value, 0)
        self._start(input_value)
        # No Python code from here to the end of the run (see the file header).
        first = jq_next(self._jq)
        if jv_get_kind(first) == JV_KIND_INVALID:
            self._raise_if_failed(first)
            return None
        extra = jq_next(self._jq)
        if jv_get_kind(extra) == JV_KIND_INVALID:
            if jv_invalid_has_msg(jv_copy(extra)) or jq_halted(self._jq):
                jv_free(first)
                self._raise_if_failed(extra)
            jv_free(extra)
            return jqb_to_py(first, 0)
        jv_free(first)
        jv_free(extra)
        count = 2
        while True:
            extra = jq_next(self._jq)
            if jv_get_kind(extra) == JV_KIND_INVALID:
                break
            jv_free(extra)
            count += 1
            if count > JQB_MAX_COUNTED_RESULTS:
                extra = jv_invalid()
                break
        # A failure after some results still fails the run: report the failure itself.
        self._raise_if_failed(extra)
        if count > JQB_MAX_COUNTED_RESULTS:
            raise JqRuntimeError("jq program produced more than %d results; wrap it in [ ... ] "
                                 "to collect them" % JQB_MAX_COUNTED_RESULTS)
        raise JqRuntimeError("jq program produced %d results; wrap it in [ ... ] to collect them"
                             % count)

    cdef int _raise_if_failed(self, jv end) except -1:
        """Consume the invalid jv that ended a run; raise if the run failed."""
        cdef int exceeded = jq_budget_exceeded(self._jq)
        if exceeded:
            jv_free(end)
            jq_end_run(self._jq)    # give back what the stopped run holds, now
            if exceeded == JQ_BUDGET_MEMORY:
                raise JqBudgetError(
                    "jq program exceeded its memory budget of %s (config.jq_budget.memory_mib)"
                    % jqb_size_text(self.c_memory_budget()), "memory")
            raise JqBudgetError(
                "jq program exceeded its step budget of %d steps (config.jq_budget.steps)"
                % self.c_step_budget(), "steps")
        error = jqb_runtime_error(end)
        if error is not None:
            raise error
        if jq_halted(self._jq):
            raise JqRuntimeError("jq program halted")
        return 0

    cpdef object run_one(self, object value):
        """The only result of the program on value, None when there is none; more than one
        result raises JqRuntimeError (DataKit rule D1)."""
        return self.c_run_one(value)

    def run_all(self, value):
        """Every result of the program on value, in order."""
        cdef jv input_value
        cdef jv results = jv_array_sized(4)
        cdef jv result
        try:
            jqb_from_py(value, &input_value, 0)
        except BaseException:
            jv_free(results)
            raise
        self._start(input_value)
        # Results are collected as jv and converted after the run (no Python code during it).
        while True:
            result = jq_next(self._jq)
            if jv_get_kind(result) == JV_KIND_INVALID:
                break
            results = jv_array_append(results, result)
        try:
            self._raise_if_failed(result)
        except BaseException:
            jv_free(results)
            raise
        # The list itself is not a jq container: its items start at depth 0.
        return jqb_to_py(results, -1)
