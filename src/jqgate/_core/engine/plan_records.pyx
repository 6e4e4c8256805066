from jqgate.nodes import python_ops as _python_ops

# The frozen Plan (jqgate/plan.py) converted once into typed records the executor walks per
# request: op kinds as ints, bindings as small cdef objects, dependency counts in a C array.
# `executor_compiled(plan)` caches the result on the plan object, so a plan compiled by the
# compiler is converted the first time it runs and never again.

_OPK_BY_NAME = {"static": OPK_STATIC, "jq": OPK_JQ, "call": OPK_CALL, "exit": OPK_EXIT,
                "property": OPK_PROPERTY, "request": OPK_REQUEST,
                "service_request": OPK_SERVICE_REQUEST, "service_response": OPK_SERVICE_RESPONSE,
                "response": OPK_RESPONSE, "branch": OPK_BRANCH}
for _kind in _python_ops.PYTHON_KINDS:
    _OPK_BY_NAME[_kind] = OPK_PYTHON

# Input fields of the node types whose node-wise input is an object (an any -> object binding
# delivers the value's matching keys to these fields, §3.4), and the request node's fields:
# gathered from the node modules (jqgate/nodes), the same tables the reference executor reads.
from jqgate.nodes import OBJECT_INPUT_FIELDS as _OBJECT_INPUT_FIELDS
from jqgate.nodes import REQUEST_FIELDS as EXEC_REQUEST_FIELDS


cdef class CompiledBinding:
    # attributes and C methods: declared in the .pxd beside this file
    pass


cdef class CompiledOp:
    # attributes and C methods: declared in the .pxd beside this file
    pass


cdef class CompiledPlan:

    def __init__(self, plan):
        cdef int i
        cdef CompiledOp cop
        cdef CompiledBinding cb
        if len(plan.ops) > EXEC_MAX_OPS:
            raise ValueError("plan has %d ops; the executor supports %d"
                             % (len(plan.ops), EXEC_MAX_OPS))
        self.plan = plan
        self.nops = len(plan.ops)
        self.response_start = plan.response_start
        self.slot_template = tuple(plan.slot_template)
        self.nodes = tuple(plan.nodes)
        self.debug = plan.debug
        self.xml_slots = frozenset(getattr(plan, "xml_slots", ()) or ())
        self.has_response_window = plan.has_response_window
        self.reads_request_body = plan.reads_request_body
        self.request_async = False
        self.response_async = False
        ops = []
        for i, op in enumerate(plan.ops):
            cop = CompiledOp()
            cop.index = i
            cop.kind_name = op.kind
            cop.kind = _OPK_BY_NAME.get(op.kind, OPK_UNSUPPORTED)
            cop.node = op.node
            cop.is_async = op.is_async        # calls, and cache ops on Redis
            if cop.is_async:
                if i < self.response_start:
                    self.request_async = True
                else:
                    self.response_async = True
            cop.dependents = tuple(op.dependents)
            self.ndeps[i] = len(op.deps)
            bindings = []
            cop.has_self_input = False
            for b in op.inputs:
                cb = CompiledBinding()
                cb.port = b.port
                cb.slot = b.slot
                cb.convert = b.convert
                cb.source = b.source
                if b.port == "":
                    cop.has_self_input = True
                bindings.append(cb)
            cop.inputs = tuple(bindings)
            cop.obj_fields = _OBJECT_INPUT_FIELDS.get(op.kind)
            cop.out_self = op.out_self
            cop.out_names = tuple(f for f, _ in op.out_fields)
            cop.out_slots = tuple(s for _, s in op.out_fields)
            cop.params = op.params
            if cop.kind == OPK_JQ:
                cop.program = op.params.program
                cop.jq_mode = {"self": JQ_INPUT_SELF, "fields": JQ_INPUT_FIELDS}.get(
                    op.params.input_mode, JQ_INPUT_NONE)
                cop.field_names = tuple(op.params.field_names)
            elif cop.kind == OPK_STATIC:
                cop.values = dict(op.params.values)
            elif cop.kind == OPK_EXIT:
                cop.exit_status = op.params.status
            elif cop.kind == OPK_PROPERTY:
                cop.prop_family = op.params.family_code
                cop.prop_key = op.params.key
                cop.prop_json = op.params.content_type == "application/json"
                cop.prop_non_nil = op.params.non_nil
                cop.prop_name = op.params.property
            elif cop.kind == OPK_CALL:
                cop.call_template = ops_call_template(op.params, cop)
            elif cop.kind == OPK_BRANCH:
                cop.then_ops = tuple(op.params.then_ops)
                cop.else_ops = tuple(op.params.else_ops)
            cop.is_sink = cop.kind == OPK_SERVICE_REQUEST or cop.kind == OPK_RESPONSE
            ops.append(cop)
        self.ops = tuple(ops)
        # Slots are read only through op inputs: a call's headers map and raw body text are
        # built only when one of them (or the call's whole output) is read.
        read = {b.slot for op in plan.ops for b in op.inputs}
        for cop in self.ops:
            if cop.kind == OPK_CALL and not (cop.out_self >= 0 and cop.out_self in read):
                cop.call_wanted = tuple(n for n, slot in zip(cop.out_names, cop.out_slots)
                                        if slot in read)


def executor_compiled(plan):
    """The CompiledPlan of a Plan, converted on first use and cached on the plan."""
    cp = plan.__dict__.get("_jqgate_compiled")
    if cp is None:
        cp = CompiledPlan(plan)
        object.__setattr__(plan, "_jqgate_compiled", cp)
    return cp


def call_fields_read_of(plan):
    """Test hook: {call node name: the output fields some op reads (None: all of them)}."""
    cdef CompiledPlan cp = executor_compiled(plan)
    cdef CompiledOp cop
    return {cp.nodes[cop.node].name: cop.call_wanted for cop in cp.ops if cop.kind == OPK_CALL}
