"""Load-time checks of what the runtime of §5.6-§5.12 can actually do, so nothing is accepted
that would then fail on every request:

- `xml_to_json.xpath` must compile (lxml XPath 1.0);
- `resources.cache.redis`: cluster mode and cloud authentication are refused ("not supported");
- every *used* `vault.<key>` must name a registered vault backend (`env` is built in). Unused
  entries are not checked: a Kong config may declare secrets for backends it does not use here.
"""
from __future__ import annotations

from jqgate.errors import Issues, join


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
        if node.get("type") == "xml_to_json" and isinstance(node.get("xpath"), str) and node["xpath"]:
            from jqgate.runtime.xml_nodes import XmlNodeError, compile_xpath
            try:
                compile_xpath(node["xpath"])
            except XmlNodeError as e:
                issues.add(join(join(join(location, "nodes"), position), "xpath"), str(e))
    cache = resources.get("cache")
    if isinstance(cache, dict):
        from jqgate.runtime.cache_store import check_resource
        for sub, message in check_resource(cache):
            issues.add(join(join(join(location, "resources"), "cache"), sub), message)
    vault = resources.get("vault")
    if isinstance(vault, dict):
        from jqgate.runtime.vault import check_reference
        for key in sorted(used_vault_keys(nodes)):
            if isinstance(vault.get(key), str):
                error = check_reference(vault[key])
                if error:
                    issues.add(join(join(join(location, "resources"), "vault"), key), error)
