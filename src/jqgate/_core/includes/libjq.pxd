# Declarations of the parts of libjq 1.8 (jv.h, jq.h) that the bridge uses.
#
# Ownership rule of libjq, which every caller must follow: each jv_* function CONSUMES (decrefs)
# the jv values passed to it and RETURNS a new reference, except jv_copy (adds a reference), and
# the read-only helpers noted below. Pass `jv_copy(x)` when x must stay alive after the call.
# libjq is linked statically; see setup.py for how it is built.

# nogil: jq_compile runs with the GIL released (reloads compile on a worker thread), and
# the error callback it calls only touches jv values.
cdef extern from "jv.h" nogil:
    ctypedef enum jv_kind:
        JV_KIND_INVALID
        JV_KIND_NULL
        JV_KIND_FALSE
        JV_KIND_TRUE
        JV_KIND_NUMBER
        JV_KIND_STRING
        JV_KIND_ARRAY
        JV_KIND_OBJECT

    # The struct's fields are private to libjq: only ever handled through the functions below.
    ctypedef struct jv:
        pass

    # Does not consume its argument.
    jv_kind jv_get_kind(jv)
    jv jv_copy(jv)
    void jv_free(jv)

    jv jv_invalid()
    # Both consume their argument.
    bint jv_invalid_has_msg(jv)
    jv jv_invalid_get_msg(jv)

    jv jv_null()
    jv jv_true()
    jv jv_false()

    jv jv_number(double)
    # Keeps the decimal text next to the double (jq >= 1.7 "number literals"): used for integers
    # a double cannot hold exactly. Returns an invalid jv if the text is not a number.
    jv jv_number_with_literal(const char*)
    # The three below do not consume their argument.
    double jv_number_value(jv)
    bint jv_number_has_literal(jv)
    const char* jv_number_get_literal(jv)

    jv jv_array()
    jv jv_array_sized(int)
    int jv_array_length(jv)
    jv jv_array_get(jv, int)
    jv jv_array_set(jv, int, jv)
    jv jv_array_append(jv, jv)

    # jv_string_sized validates UTF-8 and replaces invalid bytes with U+FFFD.
    jv jv_string_sized(const char*, int)
    int jv_string_length_bytes(jv)
    # Does not consume; the pointer lives as long as the jv.
    const char* jv_string_value(jv)

    jv jv_object()
    jv jv_object_set(jv object, jv key, jv value)
    # Object iteration does not consume the object; key/value getters return new references.
    int jv_object_iter(jv)
    int jv_object_iter_next(jv, int)
    bint jv_object_iter_valid(jv, int)
    jv jv_object_iter_key(jv, int)
    jv jv_object_iter_value(jv, int)

    # Serialises like `tojson` (flags 0: compact).
    jv jv_dump_string(jv, int flags)


cdef extern from "jq.h" nogil:
    ctypedef struct jq_state:
        pass

    # Message callbacks receive ownership of the jv they are given.
    ctypedef void (*jq_msg_cb)(void *, jv) noexcept

    jq_state* jq_init()
    void jq_teardown(jq_state**)
    void jq_set_error_cb(jq_state*, jq_msg_cb, void*)
    # Compiles the NUL-terminated program; returns non-zero on success.
    int jq_compile(jq_state*, const char*)
    # Consumes the input value. Resets any run still in progress on this state.
    void jq_start(jq_state*, jv value, int flags)
    # The next result; an invalid jv ends the run (with a message when it is an error).
    jv jq_next(jq_state*)
    bint jq_halted(jq_state*)
    jv jq_get_error_message(jq_state*)

    # Budgets, added by patches/jq-1.8.2-budgets.patch (see there): a run over its step or
    # memory budget stops like a halt that try/catch cannot intercept; jq_budget_exceeded then
    # says which (JQ_BUDGET_STEPS, JQ_BUDGET_MEMORY, else 0), and jq_end_run frees what the
    # stopped run still holds. 0 means unlimited.
    enum:
        JQ_BUDGET_STEPS
        JQ_BUDGET_MEMORY
    void jq_set_budget(jq_state*, unsigned long long steps, long long memory_bytes)
    int jq_budget_exceeded(jq_state*)
    void jq_end_run(jq_state*)


cdef extern from "jv_alloc.h" nogil:
    # Added by the same patch: while `left` is set, this thread's jv allocations count against
    # *left, and an allocation sized by the program (string repeat, array index) that does not
    # fit is refused with a jq error. NULL stops the counting.
    void jv_mem_budget_track(long long* left)
