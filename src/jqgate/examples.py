"""Configurations used by the demo, the benchmarks and the tests.

SEED_FLOW is the "authenticate to a third-party service" flow from the Kong DataKit docs, with the
token service URL as a parameter.
"""
from __future__ import annotations


def seed_flow(token_url: str = "https://my-token-service/auth-token") -> dict:
    return {
        "nodes": [
            {"name": "STATIC_INPUTS", "type": "static",
             "values": {"headers": {"Content-Type": "application/x-www-form-urlencoded"},
                        "body": "grant_type=client_credentials"}},
            {"name": "BUILD_HEADERS", "type": "jq",
             "inputs": {"headers": "STATIC_INPUTS.headers", "query": "request.query"},
             "jq": '.headers * {\n "X-Api-Key": (.query.api_key // "none")\n}\n'},
            {"name": "AUTH_REQUEST", "type": "call",
             "inputs": {"headers": "BUILD_HEADERS", "body": "STATIC_INPUTS.body"},
             "url": token_url, "method": "POST"},
            {"name": "UPSTREAM_AUTH_HEADER", "type": "jq",
             "input": "AUTH_REQUEST.body", "output": "service_request.headers",
             "jq": '{\n Authorization: (.token_type + " " + .access_token)\n}\n'},
        ]
    }


def dense_flow(count: int = 64) -> dict:
    """`count` nodes, each consuming every node before it: the most connected valid config."""
    nodes = [{"name": "N0", "type": "static", "values": {"v": 0}}]
    for i in range(1, count - 1):
        nodes.append({"name": f"N{i}", "type": "jq",
                      "inputs": {f"i{j}": f"N{j}" for j in range(i)},
                      "jq": f"[.[] | tostring] | length + {i}"})
    nodes.append({"name": f"N{count - 1}", "type": "exit",
                  "inputs": {"body": f"N{count - 2}"}, "status": 200})
    return {"nodes": nodes}


def compute_flow(count: int = 30) -> dict:
    """F4 of the benchmarks: `count` nodes, a chain of static and jq nodes ending in exit."""
    nodes = [{"name": "S0", "type": "static", "values": {"n": 1, "tag": "x"}}]
    while len(nodes) < count - 1:
        i, previous = len(nodes), nodes[-1]["name"]
        if i % 5 == 0 and len(nodes) < count - 2:
            nodes.append({"name": f"S{i}", "type": "static", "values": {"k": i}})
            nodes.append({"name": f"J{i}", "type": "jq", "inputs": {"a": previous, "b": f"S{i}"},
                          "jq": ".a * {k: .b.k}"})
        else:
            nodes.append({"name": f"J{i}", "type": "jq", "input": previous,
                          "jq": '. + {n: ((.n // 0) + 1), tag: ((.tag // "") + "y")}'})
    nodes.append({"name": "EXIT", "type": "exit", "inputs": {"body": nodes[-1]["name"]}, "status": 200})
    return {"nodes": nodes}
