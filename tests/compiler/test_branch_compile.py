"""Branch rules at load time (§5.6, §7 G11/G12, D3): membership edges count in cycle detection,
D3 sugar, and what the plan records for the executors."""
from __future__ import annotations

import pytest

import jqgate
from jqgate.errors import ConfigError


def compile_nodes(nodes, **extra):
    return jqgate.compile(dict(extra, nodes=nodes))


def test_member_feeding_its_own_branch_is_a_cycle():
    with pytest.raises(ConfigError, match="circular dependency"):
        compile_nodes([
            {"name": "B", "type": "branch", "input": "A", "then": ["A"]},
            {"name": "A", "type": "jq", "jq": "true"}])


def test_listing_an_ancestor_through_data_edges_is_a_cycle():
    with pytest.raises(ConfigError, match="circular dependency"):
        compile_nodes([
            {"name": "SRC", "type": "jq", "jq": "true"},
            {"name": "MID", "type": "jq", "input": "SRC", "jq": "."},
            {"name": "B", "type": "branch", "input": "MID", "then": ["SRC"]}])


def test_nested_branches_listing_each_other_is_a_cycle():
    with pytest.raises(ConfigError, match="circular dependency"):
        compile_nodes([
            {"name": "C", "type": "static", "values": {"v": True}},
            {"name": "B1", "type": "branch", "input": "C.v", "then": ["B2"]},
            {"name": "B2", "type": "branch", "input": "C.v", "then": ["B1"]}])


def test_branch_output_is_a_config_error_d3():
    with pytest.raises(ConfigError, match="a branch has no data output"):
        compile_nodes([
            {"name": "C", "type": "static", "values": {"v": True}},
            {"name": "B", "type": "branch", "input": "C.v", "output": "X"},
            {"name": "X", "type": "jq", "jq": "1"}])


def test_outputs_then_else_are_membership_d3():
    plan = compile_nodes([
        {"name": "C", "type": "static", "values": {"v": True}},
        {"name": "B", "type": "branch", "input": "C.v", "then": ["X"], "outputs": {"then": "Y", "else": "Z"}},
        {"name": "X", "type": "jq", "jq": "1"},
        {"name": "Y", "type": "jq", "jq": "2"},
        {"name": "Z", "type": "jq", "jq": "3"}])
    names = plan.op_names()
    b = plan.ops[names.index("B")]
    assert sorted(names[i] for i in b.params.then_ops) == ["X", "Y"]
    assert [names[i] for i in b.params.else_ops] == ["Z"]
    for member in ("X", "Y", "Z"):
        assert names.index("B") in plan.ops[names.index(member)].deps


@pytest.mark.parametrize("then,match", [(["request"], "unknown branch target"),
                                        (["B"], "circular branch relationship"),
                                        (["NOPE"], "unknown branch target")])
def test_g12_members(then, match):
    with pytest.raises(ConfigError, match=match):
        compile_nodes([
            {"name": "C", "type": "static", "values": {"v": True}},
            {"name": "B", "type": "branch", "input": "C.v", "then": then}])


def test_same_node_in_two_branches_rejected():
    with pytest.raises(ConfigError, match="already belongs to branch"):
        compile_nodes([
            {"name": "C", "type": "static", "values": {"v": True}},
            {"name": "B1", "type": "branch", "input": "C.v", "then": ["X"]},
            {"name": "B2", "type": "branch", "input": "C.v", "else": ["X"]},
            {"name": "X", "type": "jq", "jq": "1"}])


def test_condition_type_checked_at_load_time_when_known():
    with pytest.raises(ConfigError, match="type mismatch"):
        compile_nodes([
            {"name": "C", "type": "static", "values": {"v": "yes"}},
            {"name": "B", "type": "branch", "input": "C.v", "then": ["X"]},
            {"name": "X", "type": "jq", "jq": "1"}])


def test_member_in_another_window_than_its_branch_is_a_located_error():
    """§5.6: members are in their branch's window. Before this check the compiler accepted a
    request-window branch listing a node that (here through another node) reads the upstream's
    answer; every error names the member's place in the branch's list (the fixture
    tests/cases/graph/G12_branch_member_window.yaml has more shapes)."""
    with pytest.raises(ConfigError) as err:
        compile_nodes([
            {"name": "C", "type": "jq", "input": "request.query", "jq": ".wrap == \"1\""},
            {"name": "B", "type": "branch", "input": "C", "else": ["EARLY"], "then": ["WRAP"]},
            {"name": "EARLY", "type": "jq", "input": "request.body", "jq": "."},
            {"name": "BODY", "type": "jq", "input": "service_response.body", "jq": "."},
            {"name": "WRAP", "type": "jq", "input": "BODY", "output": "response.body",
             "jq": "{wrapped: .}"}])
    assert [str(e) for e in err.value.errors] == [
        'config.nodes[1].then[0]: "WRAP" runs in the response window (it depends on '
        'service_response) but its branch "B" runs in the request window: branch members '
        'must be in the same window as their branch']


def test_a_branch_deciding_in_the_response_window_may_list_response_window_nodes():
    plan = compile_nodes([
        {"name": "C", "type": "jq", "input": "service_response.status", "jq": ". >= 500"},
        {"name": "B", "type": "branch", "input": "C", "then": ["WRAP"]},
        {"name": "WRAP", "type": "jq", "input": "service_response.body",
         "output": "response.body", "jq": "{wrapped: .}"}])
    names = plan.op_names()
    assert names.index("C") > names.index("service_response")
    assert names.index("WRAP") > names.index("B")


def test_a_property_get_listed_by_outputs_else_stays_a_get():
    """D3 sugar names a member, it connects no value: a read-only property listed by a branch's
    outputs.else was taken for a SET ("is read-only: it cannot be set") before."""
    plan = compile_nodes([
        {"name": "C", "type": "static", "values": {"v": True}},
        {"name": "B", "type": "branch", "input": "C.v", "outputs": {"else": "IP"}},
        {"name": "IP", "type": "property", "property": "kong.client.ip"}])
    names = plan.op_names()
    assert names.index("B") in plan.ops[names.index("IP")].deps


# ------------------------------------------------------------------ optional libraries (extras)

def test_missing_extras_are_config_errors(monkeypatch):
    from jqgate.compiler import support_checks as runtime_checks
    monkeypatch.setattr(runtime_checks, "module_available", lambda name: False)
    with pytest.raises(ConfigError) as err:
        jqgate.compile({"resources": {"cache": {"strategy": "redis"}}, "nodes": [
            {"name": "X", "type": "xml_to_json", "attributes_name_prefix": "@", "input": "request.body"},
            {"name": "D", "type": "jwt_decode", "input": "request.body"},
            {"name": "C", "type": "cache", "inputs": {"key": "request.path"}}]})
    text = str(err.value)
    assert "jqgate[xml]" in text and "jqgate[jwt]" in text and "jqgate[redis]" in text


def test_loading_a_redis_cache_config_does_not_import_redis():
    """changelog 3.14.0.0: the cache node loaded the Redis module at config time."""
    import subprocess
    import sys
    code = ("import sys, jqgate; jqgate.compile({'resources': {'cache': {'strategy': 'redis'}}, "
            "'nodes': [{'name': 'C', 'type': 'cache', 'inputs': {'key': 'request.path'}}]}); "
            "print('redis' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
