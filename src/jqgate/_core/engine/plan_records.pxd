# Declarations of engine/plan_records.pyx: what the rest of the core uses from it (via core.pxd).

cdef enum:
    EXEC_MAX_OPS = 128          # 64 user nodes (schema limit) + implicit ops, with room

# op kinds
cdef enum:
    OPK_UNSUPPORTED = 0
    OPK_STATIC = 1
    OPK_JQ = 2
    OPK_CALL = 3
    OPK_EXIT = 4
    OPK_PROPERTY = 5
    OPK_REQUEST = 6
    OPK_SERVICE_REQUEST = 7
    OPK_SERVICE_RESPONSE = 8
    OPK_RESPONSE = 9
    OPK_BRANCH = 10
    OPK_PYTHON = 11            # cache, xml, jwt, vault: jqgate.nodes.python_ops via ops/python_nodes.pyx

# jq input modes (JqParams.input_mode)
cdef enum:
    JQ_INPUT_NONE = 0
    JQ_INPUT_SELF = 1
    JQ_INPUT_FIELDS = 2

cdef class CompiledBinding:
    cdef str port              # "" = node-wise ($self)
    cdef Py_ssize_t slot
    cdef int convert
    cdef str source            # "NODE.field", for error texts

cdef class CompiledOp:
    cdef int index
    cdef int kind
    cdef int node              # position in plan.nodes
    cdef bint is_async
    cdef tuple dependents      # op indices (ints)
    cdef tuple inputs          # CompiledBinding
    cdef bint has_self_input
    cdef tuple obj_fields      # see _OBJECT_INPUT_FIELDS; None when $self stays whole
    cdef Py_ssize_t out_self   # -1: none
    cdef tuple out_names       # output field names ...
    cdef tuple out_slots       # ... and their slots
    cdef object params
    cdef str kind_name
    # call: its fixed request parts, converted once (ops/call.pyx), and the output fields some
    # op reads (None: the whole output is read, so every field)
    cdef object call_template
    cdef tuple call_wanted
    # jq
    cdef object program
    cdef int jq_mode
    cdef tuple field_names
    # static: the values dict (already in the slot template)
    cdef dict values
    # exit
    cdef int exit_status
    # property: the table row (PROP_*) and <key> the compiler resolved, and the node's options
    cdef int prop_family
    cdef object prop_key        # str for kong.ctx.*.<key> / kong.configuration.<key>, else None
    cdef bint prop_json         # content_type application/json: SET encodes, GET decodes
    cdef bint prop_non_nil
    cdef str prop_name          # the property as written, for error texts
    # branch: the op indices each outcome allows (the other list is skipped)
    cdef tuple then_ops
    cdef tuple else_ops
    # sinks wait for their whole window; a skipped op counts as done for them
    cdef bint is_sink

cdef class CompiledPlan:
    cdef readonly object plan
    cdef tuple ops             # CompiledOp, plan order
    # The metrics observer's histogram for each op (by node type), kept here rather than in
    # the observer so that a replaced plan is freed with its configuration.
    cdef object metrics_owner
    cdef list op_histograms
    cdef int nops
    cdef int response_start
    cdef tuple slot_template
    cdef tuple nodes           # PlanNode
    cdef bint debug
    cdef bint request_async    # any call in the request window
    cdef bint response_async
    cdef bint has_response_window
    cdef readonly bint reads_request_body   # the server reads a streamed body whole first
    cdef int ndeps[EXEC_MAX_OPS]
    cdef frozenset xml_slots   # json_to_xml output slots (D11), see engine/ops/python_nodes.pyx
    # A compiled plan module's pass over the ops in place of PlanRun._pump (None: the generic
    # pass); set by the module when it is imported (jqgate/plan_module/driver_codegen.py).
    cdef public PlanDriver driver
