"""A node type's ports have one home, its module in jqgate/nodes: the schema, the graph stage,
the compiled core and the reference executor all read the tables gathered from those modules,
not copies of them (there were four: compiler/ports.py, _core/engine/plan_records.pyx,
reference/nodes.py and nodes/python_ops.py)."""
from __future__ import annotations

import pytest

import jqgate.nodes as nodes
from jqgate._core import core
from jqgate.nodes.ports import IMPLICIT_PORTS, OBJECT
from jqgate.reference import executor as reference_executor
from jqgate.reference import nodes as reference_nodes


def test_the_graph_stage_reads_the_ports_of_the_node_modules():
    for node_type, spec in nodes.NODE_SPECS.items():
        assert nodes.USER_NODE_PORTS[node_type] is spec.ports


@pytest.mark.parametrize("node_type", sorted(nodes.NODE_SPECS))
def test_the_schema_view_is_derived_from_the_ports(node_type):
    spec = nodes.NODE_SPECS[node_type]
    ports = spec.ports
    assert spec.has_inputs == (ports.self_in is not None or ports.fields_in_allowed)
    if ports.fields_in is not None and ports.fields_in_allowed:
        assert spec.input_fields == tuple(ports.fields_in)


def test_object_input_fields_are_every_object_typed_input():
    """Every type whose node-wise input is an object, and only those, splits it into its
    declared input fields, in their declared order."""
    everything = {**nodes.USER_NODE_PORTS, **IMPLICIT_PORTS}
    expected = {t: tuple(p.fields_in) for t, p in everything.items()
                if p.self_in == OBJECT and p.fields_in}
    assert nodes.OBJECT_INPUT_FIELDS == expected
    assert set(expected) >= {"call", "exit", "cache", "jwt_sign", "jwt_verify",
                             "service_request", "response"}


def test_both_executors_read_the_one_table():
    assert core._OBJECT_INPUT_FIELDS is nodes.OBJECT_INPUT_FIELDS
    assert core.EXEC_REQUEST_FIELDS is nodes.REQUEST_FIELDS
    assert reference_executor.OBJECT_INPUT_FIELDS is nodes.OBJECT_INPUT_FIELDS
    assert reference_nodes.REQUEST_FIELDS is nodes.REQUEST_FIELDS
    assert nodes.REQUEST_FIELDS == tuple(IMPLICIT_PORTS["request"].fields_out)
