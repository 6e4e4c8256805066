"""The op order and slot layout of a plan as straight-line Cython: a plan module's PlanDriver.

`driver_source(p, plan, straight)` emits `cdef class _Driver_<p>(PlanDriver)` whose `pump(run)`
is the executor's forward pass (PlanRun._pump) unrolled for this plan: each op of the window, in
plan order, runs when it is pending and its dependency count is zero, exactly as the generic
pass decides. What an op does:

  - a jq op whose program is straight-line code (jq_codegen.py), with plain bindings: its input
    read from fixed slots (a fields object built as a literal), the domain check skipped where
    canonical.py proves it, the C function called directly, the output stored in its fixed slot;
  - a static op: nothing but its completion (its values are in the slot template);
  - an exit op whose inputs are all static values: the answer encoded once, when the module is
    imported, and copied per request while the slots still hold those values;
  - anything else, and any of the above when the value is not of the shape assumed (a BadJson
    input, input outside the domain, a straight-line function that bails): PlanRun._run_op,
    the generic op, which also gives every failure and its text.

Calls stay callback-driven: the generic op dispatches them, and the pool's callback runs the
next pass through the same pump. A traced run never reaches a driver (executor.pyx).
"""
from __future__ import annotations

from jqgate.plan_module.canonical import (PROVEN_DEPTH_LIMIT, constants_canonical,
                                          literal_nesting, value_depth)
from jqgate.plan_module.jq_codegen import input_keys

# jqgate._core.core's op kinds as plan.py names them (plan_records.pyx _OPK_BY_NAME)
_JQ_MODES = ("self", "fields")


class _Op:
    """What the emitter decided for one op."""

    def __init__(self, index):
        self.index = index
        self.code = None          # lines of its specialised code, None: the generic op
        self.proves_output = False
        self.out_depth = None


def _producers(plan) -> dict[int, int]:
    out = {}
    for op in plan.ops:
        if op.out_self >= 0:
            out[op.out_self] = op.index
        for _name, slot in op.out_fields:
            out[slot] = op.index
    return out


class _PlanEmitter:
    def __init__(self, p, plan, straight):
        self.p = p
        self.plan = plan
        self.straight = straight            # {op index: straight-line function name}
        self.producer = _producers(plan)
        self.ops = [_Op(i) for i in range(len(plan.ops))]
        self.attrs: list[str] = []          # cdef attributes of the driver class
        self.init: list[str] = []           # lines of the factory, filling them
        self.flags: list[str] = []          # per-pass locals: op i completed on its fast path
        self.locals: list[str] = []         # object locals of the fields inputs
        # {jq op index: (call op index, the call's body slot, keys)}: the jq op is the one
        # reader of that call's body, and reads only those keys of it (answer_readers)
        self.part_readers: dict[int, tuple[int, int, tuple]] = {}

    # -- what a slot is known to hold -------------------------------------------------------

    def proven(self, slot):
        """-> (runtime condition, depth bound) when the slot's value is canonical without a
        check, else None. A static value: always; a straight op's output: when that op took
        its fast path in this same pass (its flag)."""
        j = self.producer.get(slot)
        if j is None:
            return None
        op = self.plan.ops[j]
        if op.kind == "static":
            depth = value_depth(self.plan.slot_template[slot])
            return None if depth is None else ("True", depth)
        decided = self.ops[j]
        if decided.proves_output and j < len(self.ops) and slot == op.out_self:
            return ("fresh%d" % j, decided.out_depth)
        return None

    # -- jq -------------------------------------------------------------------------------------

    def jq(self, op):
        name = self.straight.get(op.index)
        params = op.params
        if name is None or params.input_mode not in _JQ_MODES + ("none",):
            return
        if any(b.convert for b in op.inputs):
            return
        i = op.index
        lines = []
        checks = []          # conditions under which the fast path may run
        depth = 0
        all_proven = True
        if params.input_mode == "fields":
            if any(b.port == "" for b in op.inputs):
                return
            order = list(params.field_names) + [b.port for b in op.inputs
                                                if b.port not in params.field_names]
            slot_of = {b.port: b.slot for b in op.inputs}
            entries = []
            for k, port in enumerate(order):
                if port not in slot_of:
                    entries.append("%s: None" % ascii(port))
                    continue
                var = "f%d_%d" % (i, k)
                lines.append("%s = run.slots[%d]" % (var, slot_of[port]))
                checks.append(self._value_check(var, slot_of[port], 1))
                entries.append("%s: %s" % (ascii(port), var))
                known = self.proven(slot_of[port])
                if known is None:
                    all_proven = False
                else:
                    depth = max(depth, known[1] + 1)
            if any(not isinstance(port, str) or value_depth(port) is None for port in order):
                return                        # a field name outside the domain (surrogates)
            self.locals += [line.split(" = ")[0] for line in lines]
            build_input = "v = {%s}" % ", ".join(entries)
        elif params.input_mode == "self":
            selfs = [b for b in op.inputs if b.port == ""]
            if len(op.inputs) != len(selfs) or len(selfs) > 1:
                return
            if selfs:
                lines.append("v = run.slots[%d]" % selfs[0].slot)
                checks.append(self._value_check("v", selfs[0].slot, 0))
                known = self.proven(selfs[0].slot)
                if known is None:
                    all_proven = False
                else:
                    depth = known[1]
            else:
                lines.append("v = None")
            build_input = None
        else:
            if op.inputs:
                return
            lines.append("v = None")
            build_input = None
        part = self.part_readers.get(i)
        if part is not None:
            lines = self._part_lines(i, name, part[1], op.out_self) + \
                ["if run.state[%d] == ST_PENDING:" % i] + ["    " + line for line in lines]
        description = params.program.description
        decided = self.ops[i]
        out_depth = depth + literal_nesting(description)
        if all_proven and constants_canonical(description) and out_depth <= PROVEN_DEPTH_LIMIT \
                and op.out_self >= 0:
            decided.proves_output = True
            decided.out_depth = out_depth
            self.flags.append("fresh%d" % i)
        self.attrs += ["cdef CompiledOp op%d" % i, "cdef StraightJq jq%d" % i]
        self.init += ["d.op%d = <CompiledOp>cp.ops[%d]" % (i, i),
                      "d.jq%d = <StraightJq>(<CompiledOp>cp.ops[%d]).program" % (i, i)]
        body = list(lines)
        condition = " and ".join(c for c in checks if c != "True") or "True"
        if part is not None:
            body.append("    if %s:" % condition)
            fast_indent = "        "
        else:
            body.append("if %s:" % condition)
            fast_indent = "    "
        fast = []
        if build_input:
            fast.append(build_input)
        fast += ["pm_budget_source = self.jq%d.budget_source" % i,
                 "pm_budget_read = False",
                 "t0 = mono_now()",
                 "r = %s(v)" % name,
                 "if r is not PM_BAIL:",
                 "    run.started[%d] = t0" % i]
        if op.out_self >= 0:
            fast.append("    run.slots[%d] = r" % op.out_self)
        fast += ["    run._complete(self.op%d)" % i,
                 "    self.jq%d.straight_runs += 1" % i]
        if decided.proves_output:
            fast.append("    fresh%d = True" % i)
        body += [fast_indent + line for line in fast]
        body += ["if run.state[%d] == ST_PENDING:    # not done above: the generic op" % i,
                 "    run._run_op(%d)" % i,
                 "    if run.finished:",
                 "        return 0"]
        decided.code = body

    def _part_lines(self, i, name, slot, out_self):
        """A jq op reading a call's answer cut down to the keys it uses (a PmAnswerPart in
        the call's body slot): the straight-line function on those fields; when it bails,
        the slot gets the whole decoded body and the op goes on as any other."""
        lines = ["v = run.slots[%d]" % slot,
                 "if type(v) is PmAnswerPart:",
                 "    if pm_canonical((<PmAnswerPart>v).fields, 0):",
                 "        pm_budget_source = self.jq%d.budget_source" % i,
                 "        pm_budget_read = False",
                 "        t0 = mono_now()",
                 "        r = %s((<PmAnswerPart>v).fields)" % name,
                 "        if r is not PM_BAIL:",
                 "            run.started[%d] = t0" % i]
        if out_self >= 0:
            lines.append("            run.slots[%d] = r" % out_self)
        lines += ["            run._complete(self.op%d)" % i,
                  "            self.jq%d.straight_runs += 1" % i,
                  "            self.answer_parts%d += 1" % i,
                  "    if run.state[%d] == ST_PENDING:" % i,
                  "        run.slots[%d] = (<PmAnswerPart>v).whole()" % slot]
        self.attrs.append("cdef public long long answer_parts%d" % i)
        return lines

    # -- call -------------------------------------------------------------------------------

    def answer_readers(self):
        """Which calls' answers are read for only the fields their one reader uses: the call's
        `body` output is read by exactly one binding, the whole input of a straight-line jq
        op that only looks up constant keys of it (jq_codegen.input_keys)."""
        readers = {}
        for op in self.plan.ops:
            for b in op.inputs:
                readers.setdefault(b.slot, []).append((op, b))
        xml = set(getattr(self.plan, "xml_slots", ()) or ())
        for op in self.plan.ops:
            if op.kind != "call":
                continue
            body = dict(op.out_fields).get("body")
            if body is None or body == op.out_self or body in xml:
                continue
            if op.out_self >= 0 and readers.get(op.out_self):
                continue                      # the whole output is read: every field
            found = readers.get(body, [])
            if len(found) != 1:
                continue
            reader, b = found[0]
            name = self.straight.get(reader.index)
            if reader.kind != "jq" or name is None or b.port != "" or b.convert \
                    or reader.params.input_mode != "self" or len(reader.inputs) != 1:
                continue
            keys = input_keys(reader.params.program.description)
            if keys is None:
                continue
            self.part_readers[reader.index] = (op.index, body, keys)

    def call(self, op):
        """A call's request head prebuilt from its static inputs (ops_call_prebuild), and the
        reader of its answer when answer_readers chose one."""
        i = op.index
        static = {b.port: b.slot for b in op.inputs
                  if b.port and not b.convert and b.slot in self.producer
                  and self.plan.ops[self.producer[b.slot]].kind == "static"}
        self.init.append("ops_call_prebuild(<CompiledOp>cp.ops[%d], {%s})" % (
            i, ", ".join("%s: cp.slot_template[%d]" % (ascii(port), slot)
                         for port, slot in static.items())))
        for j, (c, _slot, keys) in self.part_readers.items():
            if c == i and self.ops[j].code is not None:     # its reader's code handles a part
                self.init.append("ops_call_read_answers_with(<CompiledOp>cp.ops[%d], "
                                 "PmAnswerFields(%r))" % (i, keys))

    def _value_check(self, var, slot, depth):
        known = self.proven(slot)
        bad = "type(%s) is not BadJson" % var
        if known is None:
            return "(%s and pm_canonical(%s, %d))" % (bad, var, depth)
        if known[0] == "True":
            return "True"             # a static value: never BadJson, canonical
        return "(%s or (%s and pm_canonical(%s, %d)))" % (known[0], bad, var, depth)

    # -- static, exit -----------------------------------------------------------------------

    def static(self, op):
        i = op.index
        self.attrs.append("cdef CompiledOp op%d" % i)
        self.init.append("d.op%d = <CompiledOp>cp.ops[%d]" % (i, i))
        self.ops[i].code = ["run.started[%d] = mono_now()" % i,
                            "run._complete(self.op%d)" % i]

    def exit(self, op):
        i = op.index
        xml = set(getattr(self.plan, "xml_slots", ()) or ())
        if not op.inputs or any(b.port == "" or b.convert or b.slot in xml for b in op.inputs):
            return
        if any(self.plan.ops[self.producer.get(b.slot, 0)].kind != "static"
               or b.slot not in self.producer for b in op.inputs):
            return
        self.attrs += ["cdef CompiledOp op%d" % i, "cdef tuple answer%d" % i]
        self.attrs += ["cdef object k%d_%d" % (i, b.slot) for b in op.inputs]
        self.init += ["d.op%d = <CompiledOp>cp.ops[%d]" % (i, i),
                      "d.answer%d = _exit_answer(cp, %d, %d, {%s})" % (
                          i, i, op.params.status,
                          ", ".join("%s: %d" % (ascii(b.port), b.slot) for b in op.inputs))]
        self.init += ["d.k%d_%d = cp.slot_template[%d]" % (i, b.slot, b.slot) for b in op.inputs]
        same = " and ".join("run.slots[%d] is self.k%d_%d" % (b.slot, i, b.slot)
                            for b in op.inputs)
        self.ops[i].code = [
            "if self.answer%d is not None and %s:" % (i, same),
            "    run.started[%d] = mono_now()" % i,
            "    run._answer((self.answer%d[0], list(self.answer%d[1]), self.answer%d[2]))"
            % (i, i, i),
            '    run.exit_source = "exit"',
            "    run._complete(self.op%d)" % i,
            "    run.finished = True",
            "    return 0",
            "run._run_op(%d)" % i,
            "if run.finished:",
            "    return 0",
        ]

    # -- the class --------------------------------------------------------------------------

    def window(self, lo, hi) -> list[str]:
        out = []
        for i in range(lo, hi):
            op = self.plan.ops[i]
            name = self.plan.nodes[op.node].name
            out.append("# op %d: %s %s" % (i, op.kind, ascii(name)))
            out.append("if run.state[%d] == ST_PENDING and run.countdown[%d] == 0:" % (i, i))
            code = self.ops[i].code or ["run._run_op(%d)" % i,
                                        "if run.finished:",
                                        "    return 0"]
            out += ["    " + line for line in code]
        return out or ["pass"]

    def source(self) -> str:
        self.answer_readers()
        for op in self.plan.ops:
            if op.kind == "jq":
                self.jq(op)
            elif op.kind == "static":
                self.static(op)
            elif op.kind == "exit":
                self.exit(op)
        for op in self.plan.ops:
            if op.kind == "call":
                self.call(op)
        p = self.p
        rs = self.plan.response_start
        n = len(self.plan.ops)
        lines = ["cdef class _Driver_%d(PlanDriver):" % p,
                 '    """Plan %d\'s forward pass (plan_module/driver_codegen.py)."""' % p]
        lines += ["    " + a for a in self.attrs]
        lines += ["",
                  "    cdef int pump(self, PlanRun run) except -1:",
                  "        global pm_budget_source, pm_budget_read",
                  "        cdef object v, r",
                  "        cdef double t0"]
        if self.locals:
            lines.append("        cdef object " + ", ".join(self.locals))
        lines += ["        cdef bint %s = False" % f for f in self.flags]
        lines.append("        if not run.in_response:")
        lines += ["            " + line for line in self.window(0, rs)]
        lines.append("        else:")
        lines += ["            " + line for line in self.window(rs, n)]
        lines.append("        return 0")
        lines += ["", "", "def _driver_%d(plan):" % p,
                  '    """Install plan %d\'s driver on its compiled form (cached on the plan)."""' % p,
                  "    cdef CompiledPlan cp = executor_compiled(plan)",
                  "    cdef _Driver_%d d = _Driver_%d.__new__(_Driver_%d)" % (p, p, p)]
        lines += ["    " + line for line in self.init]
        lines += ["    cp.driver = d", "    return d", ""]
        return "\n".join(lines)


def driver_source(p: int, plan, straight: dict[int, str]) -> str:
    """The Cython source of plan p's driver class and its `_driver_<p>(plan)` installer."""
    return _PlanEmitter(p, plan, straight).source()


PRELUDE = '''
from jqgate._core.core cimport (PlanDriver, PlanRun, CompiledPlan, CompiledOp, BadJson,
                                mono_now, ops_exit_answer, ops_call_prebuild,
                                ops_call_read_answers_with, ST_PENDING)
from jqgate._core.core import executor_compiled


cdef tuple _exit_answer(CompiledPlan cp, int i, int status, dict slots):
    """An exit op's answer on its static inputs, encoded as the generic op does (None when the
    generic op would fail on them: it then runs per request and fails there)."""
    fields = {port: cp.slot_template[slot] for port, slot in slots.items()}
    try:
        return ops_exit_answer(status, fields.get("body"), fields.get("headers"))
    except Exception:
        return None
'''
