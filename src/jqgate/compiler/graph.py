"""The DataKit graph: edges from the four connection attributes, checked, expanded and ordered.

Steps (datakit.md §6.1, rules G1-G16 of §7.2), all errors collected with their location:

1. extract one edge per `input` / `inputs.f` / `output` / `outputs.f` entry (null entries ignored);
2. check both endpoints: the node exists (G1), the port exists on that side (G2, G3, G14), sources
   are not connected into and sinks not out of (G4), no self-connection (G5);
3. expand node-wise `object -> object` edges into one edge per shared field (G9) and type-check
   every edge (G8, G10), recording the runtime conversion it needs;
4. fan-in: one source per input; node-wise and field inputs on one target never mix (G6, G7),
   the same edge written on both ends is reported as such (G16);
5. branch membership edges (G12), the implicit `service_request -> service_response` order and
   `service_response -> GET` for a property GET that reads the upstream's answer;
6. cycles (G11): every strongly connected component is reported with the nodes on its cycle;
7. windows: a node runs after proxying iff it is reachable from `service_response`; a branch
   member runs in its branch's window (§5.6: the decision is taken once, in one window);
8. a topological order per window, ties broken by position in `nodes`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from jqgate.compiler.properties import reads_upstream_answer
from jqgate.compiler.types import edge_conversion, type_label
from jqgate.errors import Issues, join
from jqgate.nodes import USER_NODE_PORTS
from jqgate.nodes.ports import (IMPLICIT_NAMES, IMPLICIT_PORTS, LITERAL, OBJECT, STRING, NodePorts,
                                literal_type)
from jqgate.plan import SELF


@dataclass
class GraphNode:
    name: str
    type: str
    position: int               # 0-based position in `nodes`; implicit nodes: -1
    config: dict[str, Any]
    location: str
    ports: NodePorts

    @property
    def implicit(self) -> bool:
        return self.position < 0

    def describe(self) -> str:
        """How Kong names a node in dependency errors."""
        if self.implicit:
            return f"node {self.name}"
        return f"node #{self.position + 1} ({self.name})"


@dataclass(frozen=True)
class Edge:
    source: str                 # node name
    source_port: str            # field, or SELF
    target: str
    target_port: str
    convert: int
    source_label: str           # as written (for messages): "A", "A.body"
    target_label: str           # the target port's label: "B", "B.body"
    location: str               # where it was declared


@dataclass
class Graph:
    nodes: dict[str, GraphNode]                      # by name, user nodes in config order first
    edges: list[Edge] = field(default_factory=list)  # expanded, checked data edges
    members: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)  # branch -> (then, else)
    deps: dict[str, set[str]] = field(default_factory=dict)      # node -> nodes it waits for
    response_window: set[str] = field(default_factory=set)
    order: list[str] = field(default_factory=list)               # request window, then response window

    def used_implicit(self) -> list[str]:
        return [n for n in IMPLICIT_NAMES if n in self.nodes]


@dataclass(frozen=True)
class _Declared:
    """One connection entry as written, before checks."""
    label: str
    owner: str                  # the node whose attribute declares it
    direction: str              # "in" (input/inputs) or "out" (output/outputs)
    owner_port: str             # SELF or the field named in inputs/outputs
    location: str


LABEL = re.compile(r"^[^.\s]+(\.[^.\s]+)?$")   # S11; malformed labels are the schema's to report


def _values(node: dict) -> dict:
    values = node.get("values")
    return values if isinstance(values, dict) else {}


def _names(value) -> list:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _split_label(label: str) -> tuple[str, str]:
    node, _, port = label.partition(".")
    return node, port or SELF


def _declared_connections(node: dict, name: str, location: str) -> list[_Declared]:
    found: list[_Declared] = []
    for attr, direction in (("input", "in"), ("output", "out")):
        label = node.get(attr)
        if isinstance(label, str) and LABEL.match(label):
            found.append(_Declared(label, name, direction, SELF, join(location, attr)))
    for attr, direction in (("inputs", "in"), ("outputs", "out")):
        if attr == "outputs" and node.get("type") == "branch":
            continue                      # branch outputs.then/else are membership (D3), not data
        entries = node.get(attr)
        if isinstance(entries, dict):
            for port, label in entries.items():
                if isinstance(label, str) and LABEL.match(label):   # null entries are legal and ignored
                    found.append(_Declared(label, name, direction, str(port),
                                           join(join(location, attr), str(port))))
    return found


class GraphBuilder:
    def __init__(self, nodes: list[tuple[int, dict]], resources: dict, location: str, issues: Issues):
        self.location = location
        self.issues = issues
        self.vault_keys = set((resources.get("vault") or {}).keys()) if isinstance(resources, dict) else set()
        self.graph = Graph(nodes={})
        for position, node in nodes:
            kind = node["type"]
            self.graph.nodes[node["name"]] = GraphNode(
                node["name"], kind, position, node,
                join(join(location, "nodes"), position), USER_NODE_PORTS[kind])
        self.user_names = list(self.graph.nodes)

    # -- endpoints ---------------------------------------------------------------------------

    def _node(self, name: str) -> GraphNode | None:
        node = self.graph.nodes.get(name)
        if node is None and name in IMPLICIT_PORTS:
            node = GraphNode(name, name, -1, {}, "", IMPLICIT_PORTS[name])
            self.graph.nodes[name] = node
        return node

    def _output_type(self, node: GraphNode, port: str) -> str | None:
        ports = node.ports
        if port == SELF:
            return ports.self_out
        if node.type == "static":
            values = _values(node.config)
            return literal_type(values[port]) if port in values else None
        if node.type == "vault":
            return STRING if port in self.vault_keys else None
        if ports.fields_out is None:
            return None
        return ports.fields_out.get(port)

    def _input_type(self, node: GraphNode, port: str) -> str | None:
        ports = node.ports
        if port == SELF:
            return ports.self_in
        if ports.fields_in is None:
            return "any"
        return ports.fields_in.get(port)

    def _check_source(self, d: _Declared, name: str, port: str, loc: str) -> GraphNode | None:
        node = self._node(name)
        label = name if port == SELF else f"{name}.{port}"
        if node is None:
            self.issues.add(loc, f'unknown node "{name}"')
            return None
        if node.ports.is_sink:
            self.issues.add(loc, f'cannot source from "{name}": it only receives values')
            return None
        if node.type == "vault":
            if port == SELF:
                self.issues.add(loc, 'a vault value needs its key: use "vault.<name>" with a name from resources.vault')
                return None
            if port not in self.vault_keys:
                self.issues.add(loc, f"vault key '{port}' is not defined in resources.vault")
                return None
            return node
        if port != SELF and not node.ports.fields_out_allowed:
            self.issues.add(loc, f"{node.type} output doesn't allow field access: use \"{name}\"")
            return None
        if self._output_type(node, port) is None:
            if port == SELF:
                self.issues.add(loc, f'"{name}" ({node.type}) has no output')
            else:
                self.issues.add(loc, f'invalid output port name "{label}"')
            return None
        return node

    def _check_target(self, name: str, port: str, loc: str) -> GraphNode | None:
        node = self._node(name)
        label = name if port == SELF else f"{name}.{port}"
        if node is None:
            self.issues.add(loc, f'unknown node "{name}"')
            return None
        if node.ports.is_source:
            self.issues.add(loc, f'cannot target "{name}": it only produces values')
            return None
        if port != SELF and not node.ports.fields_in_allowed:
            self.issues.add(loc, f"{node.type} input doesn't allow field access: use \"{name}\"")
            return None
        if self._input_type(node, port) is None:
            if port == SELF:
                self.issues.add(loc, f'"{name}" ({node.type}) has no input')
            else:
                self.issues.add(loc, f'invalid input port name "{label}"')
            return None
        return node

    # -- edges -------------------------------------------------------------------------------

    def extract(self) -> list[tuple[_Declared, GraphNode, str, GraphNode, str]]:
        """Every declared connection with checked endpoints, in declaration order."""
        result = []
        for name in self.user_names:
            owner = self.graph.nodes[name]
            for d in _declared_connections(owner.config, name, owner.location):
                other, other_port = _split_label(d.label)
                if other == name:
                    self.issues.add(d.location, f"in node `{name}` of type `{owner.type}`: node cannot connect to itself")
                    continue
                if d.direction == "in":
                    src = self._check_source(d, other, other_port, d.location)
                    dst = self._check_target(name, d.owner_port, d.location)
                    if src and dst:
                        result.append((d, src, other_port, dst, d.owner_port))
                else:
                    src = self._check_source(d, name, d.owner_port, d.location)
                    dst = self._check_target(other, other_port, d.location)
                    if src and dst:
                        result.append((d, src, d.owner_port, dst, other_port))
        return result

    def _source_fields(self, node: GraphNode) -> list[str]:
        if node.type == "static":
            return list(_values(node.config))
        return list(node.ports.fields_out or {})

    def expand_and_type(self, declared) -> list[tuple[_Declared, Edge, bool]]:
        """Expanded edges with their conversion; the bool marks a node-wise edge kept whole."""
        result = []
        for d, src, sport, dst, dport in declared:
            slabel = src.name if sport == SELF else f"{src.name}.{sport}"
            dlabel = dst.name if dport == SELF else f"{dst.name}.{dport}"
            stype = self._output_type(src, sport)
            dtype = self._input_type(dst, dport)
            if sport == SELF and dport == SELF and stype in (OBJECT, LITERAL) and dtype == OBJECT:
                target_fields = dst.ports.fields_in or {}
                shared = [f for f in self._source_fields(src) if f in target_fields]
                if not shared:
                    self.issues.add(d.location, f'invalid connection ("{slabel}" -> "{dlabel}"): '
                                    f'the two nodes share no field to connect')
                    continue
                for f in shared:
                    ftype = self._output_type(src, f)
                    conv = edge_conversion(ftype, target_fields[f])
                    if conv is None:
                        self.issues.add(d.location, f'invalid connection ("{src.name}.{f}" -> "{dst.name}.{f}"): '
                                        f'type mismatch: {type_label(ftype)} -> {type_label(target_fields[f])}')
                        continue
                    result.append((d, Edge(src.name, f, dst.name, f, conv, slabel, f"{dst.name}.{f}",
                                           d.location), False))
                continue
            conv = edge_conversion(stype, dtype)
            if conv is None:
                self.issues.add(d.location, f'invalid connection ("{slabel}" -> "{dlabel}"): '
                                f'type mismatch: {type_label(stype)} -> {type_label(dtype)}')
                continue
            result.append((d, Edge(src.name, sport, dst.name, dport, conv, slabel, dlabel, d.location),
                           dport == SELF))
        return result

    def check_fan_in(self, typed) -> None:
        """One source per input; node-wise and field inputs of one target never mix (G6, G7, G16)."""
        whole: dict[str, tuple[_Declared, Edge]] = {}          # target node -> node-wise edge
        fields: dict[tuple[str, str], tuple[_Declared, Edge]] = {}
        for d, edge, nodewise in typed:
            existing = None
            if nodewise:
                existing = whole.get(edge.target) or next(
                    (v for (t, _), v in fields.items() if t == edge.target), None)
            else:
                existing = fields.get((edge.target, edge.target_port)) or whole.get(edge.target)
            if existing is not None:
                other_d, other = existing
                same_edge = (other.source, other.source_port, other.target, other.target_port) == \
                            (edge.source, edge.source_port, edge.target, edge.target_port)
                if same_edge and other_d.direction != d.direction:
                    self.issues.add(d.location, f'Connection specified on both sides: '
                                    f'"{edge.source_label}" -> "{edge.target_label}" is declared by '
                                    f'both "{other_d.owner}" and "{d.owner}"; keep one')
                else:
                    self.issues.add(d.location, f'invalid connection ("{edge.source_label}" -> "{edge.target_label}"): '
                                    f'conflicts with existing connection ("{other.source_label}" -> "{other.target_label}")')
                continue
            if nodewise:
                whole[edge.target] = (d, edge)
            else:
                fields[(edge.target, edge.target_port)] = (d, edge)
            self.graph.edges.append(edge)

    # -- branches, cycles, windows, order ----------------------------------------------------

    def branch_members(self) -> None:
        owner_of: dict[str, str] = {}
        self.member_locations: dict[str, str] = {}        # member -> where its branch lists it
        for name in self.user_names:
            node = self.graph.nodes[name]
            if node.type != "branch":
                continue
            lists = {"then": _names(node.config.get("then")), "else": _names(node.config.get("else"))}
            outputs = node.config.get("outputs") or {}
            for side in ("then", "else"):                     # D3: outputs.then == then: [X]
                target = outputs.get(side) if isinstance(outputs, dict) else None
                if isinstance(target, str):
                    lists[side].append(target)
            if isinstance(node.config.get("output"), str):
                self.issues.add(join(node.location, "output"),
                                'a branch has no data output: use "then"/"else" (or outputs.then / outputs.else)')
            checked: dict[str, list[str]] = {"then": [], "else": []}
            for side in ("then", "else"):
                for i, member in enumerate(lists[side]):
                    loc = join(join(node.location, side), i) if i < len(_names(node.config.get(side))) \
                        else join(join(node.location, "outputs"), side)
                    if member in IMPLICIT_PORTS:
                        self.issues.add(loc, f'unknown branch target "{member}": implicit nodes cannot be branch members')
                    elif member == name:
                        self.issues.add(loc, f'Cannot create a circular branch relationship: "{name}" lists itself')
                    elif member not in self.graph.nodes or self.graph.nodes[member].implicit:
                        self.issues.add(loc, f'unknown branch target "{member}"')
                    elif member in checked["then"] or member in checked["else"]:
                        self.issues.add(loc, f'"{member}" is listed twice by branch "{name}" (in then and else, or repeated)')
                    elif member in owner_of:
                        self.issues.add(loc, f'"{member}" already belongs to branch "{owner_of[member]}"')
                    else:
                        checked[side].append(member)
                        owner_of[member] = name
                        self.member_locations[member] = loc
            self.graph.members[name] = (checked["then"], checked["else"])

    def dependencies(self) -> None:
        deps = {name: set() for name in self.graph.nodes}
        for edge in self.graph.edges:
            deps[edge.target].add(edge.source)
        for branch, (then, els) in self.graph.members.items():
            for member in then + els:
                deps[member].add(branch)
        self._upstream_answer_reads(deps)
        if "service_response" in deps:
            self._node("service_request")
            deps.setdefault("service_request", set())
            deps["service_response"].add("service_request")
        self.graph.deps = deps

    def _upstream_answer_reads(self, deps: dict[str, set[str]]) -> None:
        """A GET of `kong.service.response.*` (no input: GET mode) depends on `service_response`,
        so it lands in the response window (and a request window exit means it never runs)."""
        set_mode = {edge.target for edge in self.graph.edges}
        for name, node in list(self.graph.nodes.items()):
            if node.type == "property" and name not in set_mode \
                    and reads_upstream_answer(node.config.get("property")):
                self._node("service_response")
                deps.setdefault("service_response", set())
                deps[name].add("service_response")

    def check_cycles(self) -> bool:
        """Report every cycle (Tarjan SCCs); True when the graph is acyclic."""
        succ: dict[str, list[str]] = {n: [] for n in self.graph.deps}
        for node, needs in self.graph.deps.items():
            for need in needs:
                succ[need].append(node)
        position = {n: (node.position if node.position >= 0 else 10_000) for n, node in self.graph.nodes.items()}
        for n in succ:
            succ[n].sort(key=lambda x: position[x])
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        on_stack: set[str] = set()
        components: list[list[str]] = []
        counter = [0]

        def strongconnect(root: str) -> None:
            # iterative Tarjan: 64 nodes is small, but configs are user input
            work = [(root, iter(succ[root]))]
            index[root] = low[root] = counter[0]; counter[0] += 1
            stack.append(root); on_stack.add(root)
            while work:
                v, it = work[-1]
                advanced = False
                for w in it:
                    if w not in index:
                        index[w] = low[w] = counter[0]; counter[0] += 1
                        stack.append(w); on_stack.add(w)
                        work.append((w, iter(succ[w])))
                        advanced = True
                        break
                    if w in on_stack:
                        low[v] = min(low[v], index[w])
                if advanced:
                    continue
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop(); on_stack.discard(w); comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        components.append(comp)

        for n in sorted(succ, key=lambda x: position[x]):
            if n not in index:
                strongconnect(n)
        for comp in components:
            members = set(comp)
            start = min(comp, key=lambda x: position[x])
            cycle = self._cycle_through(start, members, succ)
            first, second = self.graph.nodes[cycle[0]], self.graph.nodes[cycle[1]]
            where = first.location or next(self.graph.nodes[n].location for n in cycle if self.graph.nodes[n].location)
            self.issues.add(where, f"invalid dependency ({first.describe()} -> {second.describe()}): "
                            f"circular dependency: {' -> '.join(cycle)}")
        return not components

    @staticmethod
    def _cycle_through(start: str, members: set[str], succ: dict[str, list[str]]) -> list[str]:
        """A shortest cycle from `start` back to itself inside one strongly connected component."""
        previous: dict[str, str] = {}
        frontier = [start]
        while frontier:
            nxt = []
            for v in frontier:
                for w in succ[v]:
                    if w not in members:
                        continue
                    if w == start:
                        path = [v]
                        while path[-1] != start:
                            path.append(previous[path[-1]])
                        return list(reversed(path)) + [start]
                    if w not in previous:
                        previous[w] = v
                        nxt.append(w)
            frontier = nxt
        return [start, start]

    def assign_windows(self) -> None:
        succ: dict[str, list[str]] = {n: [] for n in self.graph.deps}
        for node, needs in self.graph.deps.items():
            for need in needs:
                succ[need].append(node)
        late: set[str] = set()
        if "service_response" in self.graph.nodes:
            todo = ["service_response"]
            while todo:
                v = todo.pop()
                if v in late:
                    continue
                late.add(v)
                todo.extend(succ[v])
        if "response" in self.graph.nodes:
            late.add("response")
        self.graph.response_window = late

    def check_branch_windows(self) -> None:
        """§5.6: members must be in the same window as their branch. A member depends on its
        branch, so the only way out of its window is a request-window branch listing a node
        that reads the upstream's answer: a decision taken before proxying about a node that
        runs after it. Each error is located at the member's entry in the branch's list."""
        late = self.graph.response_window
        for branch, (then, els) in self.graph.members.items():
            if branch in late:
                continue
            for member in then + els:
                if member in late:
                    self.issues.add(self.member_locations[member],
                                    f'"{member}" runs in the response window (it depends on '
                                    f'service_response) but its branch "{branch}" runs in the '
                                    f'request window: branch members must be in the same window '
                                    f'as their branch')

    def order(self) -> None:
        """Topological order: request window then response window; ties by position in `nodes`."""
        def rank(name: str) -> tuple[int, int]:
            node = self.graph.nodes[name]
            window = 1 if name in self.graph.response_window else 0
            if name in ("request", "vault", "service_response"):
                return window, -1                              # sources first in their window
            if name in ("service_request", "response"):
                return window, 1_000_000                       # sinks last in their window
            return window, node.position

        pending = {n: set(d) for n, d in self.graph.deps.items()}
        done: list[str] = []
        ready = sorted((n for n, d in pending.items() if not d), key=rank)
        while ready:
            n = ready.pop(0)
            done.append(n)
            for m, d in pending.items():
                if n in d:
                    d.discard(n)
                    if not d and m not in done and m not in ready:
                        ready.append(m)
            ready.sort(key=rank)
        # No request-window node can depend on a response-window one (that would make it
        # reachable from service_response), and nothing depends on a sink, so the ranked Kahn
        # order already lists each window whole, sources first and sinks last.
        self.graph.order = done


def build_graph(nodes: list[tuple[int, dict]], resources: dict, location: str, issues: Issues) -> Graph | None:
    """Run steps 1-8 over schema-valid nodes; None when a graph-level error was found."""
    before = len(issues)
    builder = GraphBuilder(nodes, resources if isinstance(resources, dict) else {}, location, issues)
    typed = builder.expand_and_type(builder.extract())
    builder.check_fan_in(typed)
    builder.branch_members()
    builder.dependencies()
    acyclic = builder.check_cycles()
    if not acyclic or len(issues) > before:
        return None
    builder.assign_windows()
    builder.check_branch_windows()
    if len(issues) > before:
        return None
    builder.order()
    return builder.graph
