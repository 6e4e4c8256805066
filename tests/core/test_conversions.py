"""Runtime conversions on bindings (plan.py CONV_*, §3.4), on hand-built plans, both executors."""
import dataclasses

import pytest

from jqgate import plan as P
from engine_harness import EXECUTORS, request_view
from engine_plans import compile_config


def plan_with_conversion(value_jq, conv):
    """J produces a value; OUT (jq, self input) receives it through a binding with `conv`."""
    cfg = {"nodes": [
        {"name": "J", "type": "jq", "jq": value_jq},
        {"name": "OUT", "type": "jq", "input": "J", "jq": "{v: .}"},
        {"name": "EXIT", "type": "exit", "inputs": {"body": "OUT"}}]}
    plan = compile_config(cfg)
    ops = list(plan.ops)
    for i, op in enumerate(ops):
        if plan.nodes[op.node].name == "OUT":
            b = dataclasses.replace(op.inputs[0], convert=conv)
            ops[i] = dataclasses.replace(op, inputs=(b,))
    return dataclasses.replace(plan, ops=tuple(ops))


CASES = [
    ('"12"', P.CONV_NUMBER, b'{"v":12}'),
    ('"1.5"', P.CONV_NUMBER, b'{"v":1.5}'),
    ('" 7 "', P.CONV_NUMBER, b'{"v":7}'),
    ('3', P.CONV_NUMBER, b'{"v":3}'),
    ('"abc"', P.CONV_NUMBER, 'input $self (from J): expected a number, got the string "abc"'),
    ('"-2.5"', P.CONV_NUMBER, b'{"v":-2.5}'),
    ('".5"', P.CONV_NUMBER, b'{"v":0.5}'),
    # §3.4 "decimal/float text": not what else Python's int() and float() take (the core did,
    # until the reference, written from the spec, disagreed)
    ('"1_000"', P.CONV_NUMBER, 'expected a number, got the string "1_000"'),
    ('"\uff11\uff12"', P.CONV_NUMBER, "expected a number, got the string"),     # fullwidth 12
    ('"nan"', P.CONV_NUMBER, 'expected a number, got the string "nan"'),
    ('"0x10"', P.CONV_NUMBER, 'expected a number, got the string "0x10"'),
    ('true', P.CONV_NUMBER, "expected a number, got boolean"),
    ('30', P.CONV_BOOLEAN, "expected a boolean, got number"),    # jq's name for 30, as config errors say
    ('12', P.CONV_STRING, b'{"v":"12"}'),
    ('1.25', P.CONV_STRING, b'{"v":"1.25"}'),
    ('"s"', P.CONV_STRING, b'{"v":"s"}'),
    ('{}', P.CONV_STRING, "expected a string, got object"),
    ('true', P.CONV_BOOLEAN, b'{"v":true}'),
    ('"yes"', P.CONV_BOOLEAN, "expected a boolean, got string"),
    ('{"a":1}', P.CONV_MAP, b'{"v":{"a":1}}'),
    ('[1]', P.CONV_MAP, "expected an object, got array"),
    ('null', P.CONV_MAP, b'{"v":null}'),
    ('null', P.CONV_NUMBER, b'{"v":null}'),
]


@pytest.mark.parametrize("executor", list(EXECUTORS))
@pytest.mark.parametrize("jq,conv,expected", CASES)
def test_conversion(executor, jq, conv, expected, caplog):
    plan = plan_with_conversion(jq, conv)
    run = EXECUTORS[executor](plan, request_view({}), None, {})
    run.start_request_window(None)
    if isinstance(expected, bytes):
        assert run.exit_status == 200 and run.exit_body == expected
    else:
        assert run.exit_status == 500
        assert any(expected in r.getMessage() for r in caplog.records), \
            [r.getMessage() for r in caplog.records]
