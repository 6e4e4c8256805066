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
# Values cross in both directions by jq/convert.pyx (its header gives the rules).
#
# Programs: what DataKit refuses in a jq program (env, input, halt, modules, ...) is decided
# by jqgate.jq_policy, a plain-Python scanner that runs only when a program is
# compiled; JqProgram's constructor applies it to every program, so no caller can skip it.
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
# set_jq_budgets (gateway/serve.py serve's jq_step_budget / jq_memory_budget_mib), per program
# through JqProgram(source, step_budget, memory_budget) (a plugin's config.jq_budget).
# Not bounded here: oniguruma's own matching (it has a retry limit of its own), and the
# conversion of a result to Python (its size is bounded by the memory budget).

cimport cython
import re

# Default budgets of one jq run (jq_next to its last result), for the process unless
# set_jq_budgets changes them; a plugin's config.jq_budget overrides them for its programs.
# 2,000,000 libjq instructions are roughly 0.1-0.3 s of one core; 64 MiB is what the run may
# hold at once (net of what it frees), counted by libjq's allocator.
JQB_DEFAULT_STEP_BUDGET = 2000000
JQB_DEFAULT_MEMORY_BUDGET = 64 * 1024 * 1024
# Compiling evaluates constant expressions (`"x" * 1e9` is folded into one string): a compile may
# allocate its program's memory budget plus this much for libjq's own bytecode and builtins.
JQB_COMPILE_MEMORY_HEADROOM = 32 * 1024 * 1024

# 2**53: beyond this an integer may not survive a trip through a double, so it travels to jq as a
# decimal literal and comes back from that literal.
JQB_EXACT_INT_LIMIT = 9007199254740992.0


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
# The compiled program

cdef object _jqb_policy_module = None


cdef object jqb_policy():
    """jqgate.jq_policy (a plain-Python leaf module the compiler shares), imported on the
    first compile rather than when the core loads."""
    global _jqb_policy_module
    if _jqb_policy_module is None:
        from jqgate import jq_policy
        _jqb_policy_module = jq_policy
    return _jqb_policy_module


@cython.final
cdef class JqProgram:
    """A jq program compiled once by libjq, run on Python values (see jq/bridge.pyx's header
    for conversions and the builtins DataKit refuses).

    run_one(value): DataKit's rule D1 -- no result gives None, one result gives it, more than
    one raises JqRuntimeError. run_all(value) returns every result as a list.
    step_budget / memory_budget (bytes): this program's own budgets; 0 (the default) follows
    the process's (set_jq_budgets). Over budget a run raises JqBudgetError.
    """


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
        policy = jqb_policy()
        refused = policy.refused_before_compiling(source)
        if refused:
            # Refused before compiling: libjq would look for the module on disk.
            raise JqCompileError(refused)
        # libjq's compile costs ~1-2 ms (it re-parses its builtins each time), so the program is
        # compiled once, behind the probe definitions: they are unused unless the program calls
        # a refused builtin, and then their names show in libjq's messages.
        self._jq = jq_init()
        if self._jq == NULL:
            raise MemoryError("jq_init failed")
        probe_messages = jqb_compile(self._jq, (policy.PROBE_DEFINITIONS + source).encode("utf-8"),
                                     self.c_memory_budget())
        if not probe_messages:
            refused = policy.env_refusal(source)
            if refused:
                raise JqCompileError(refused)
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
        raise JqCompileError(policy.violations(source, probe_messages))

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
