"""Load-time checks of what the runtime of §5.6-§5.12 can actually do, so nothing is accepted
that would then fail on every request:

- `xml_to_json.xpath` must compile (lxml XPath 1.0);
- `resources.cache.redis`: cluster mode and cloud authentication are refused ("not supported");
- every *used* `vault.<key>` must name a registered vault backend (`env` is built in). Unused
  entries are not checked: a Kong config may declare secrets for backends it does not use here;
- the optional libraries a node type needs (extras `xml`, `jwt`, `redis`) must be installed.
"""
from __future__ import annotations

import importlib.util

from jqgate.errors import Issues, join

# node type -> (module it needs, the jqgate extra that installs it)
NEEDS = {"xml_to_json": ("lxml", "xml"), "json_to_xml": ("lxml", "xml"),
         "jwt_decode": ("jwt", "jwt"), "jwt_sign": ("jwt", "jwt"), "jwt_verify": ("jwt", "jwt")}


def module_available(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def _missing(module: str, extra: str, what: str) -> str | None:
    if module_available(module):
        return None
    return "%s needs the `%s` package, which is not installed (pip install 'jqgate[%s]')" % (
        what, module, extra)


def _labels(node: dict):
    for attr in ("input", "output"):
        if isinstance(node.get(attr), str):
            yield node[attr]
    for attr in ("inputs", "outputs"):
        entries = node.get(attr)
        if isinstance(entries, dict):
            yield from (v for v in entries.values() if isinstance(v, str))


def used_vault_keys(nodes: list[tuple[int, dict]]) -> set[str]:
    used = set()
    for _, node in nodes:
        for label in _labels(node):
            head, _, field = label.partition(".")
            if head == "vault" and field:
                used.add(field)
    return used


def check_runtime_support(nodes: list[tuple[int, dict]], config: dict, location: str, issues: Issues) -> None:
    resources = config.get("resources") if isinstance(config.get("resources"), dict) else {}
    for position, node in nodes:
        need = NEEDS.get(node.get("type"))
        error = need and _missing(need[0], need[1], "node type %s" % node["type"])
        if error:
            issues.add(join(join(location, "nodes"), position), error)
            continue
        if node.get("type") == "xml_to_json" and isinstance(node.get("xpath"), str) and node["xpath"]:
            from jqgate.nodes.xml.convert import XmlNodeError, compile_xpath
            try:
                compile_xpath(node["xpath"])
            except XmlNodeError as e:
                issues.add(join(join(join(location, "nodes"), position), "xpath"), str(e))
    cache = resources.get("cache")
    if isinstance(cache, dict) and cache.get("strategy") == "redis":
        error = _missing("redis", "redis", "cache strategy redis")
        if error:
            issues.add(join(join(join(location, "resources"), "cache"), "strategy"), error)
    if isinstance(cache, dict):
        from jqgate.nodes.cache.store import check_resource
        for sub, message in check_resource(cache):
            issues.add(join(join(join(location, "resources"), "cache"), sub), message)
    vault = resources.get("vault")
    if isinstance(vault, dict):
        from jqgate.nodes.vault import check_reference
        for key in sorted(used_vault_keys(nodes)):
            if isinstance(vault.get(key), str):
                error = check_reference(vault[key])
                if error:
                    issues.add(join(join(join(location, "resources"), "vault"), key), error)
