"""A whole gateway configuration compiled: every DataKit plugin instance turned into a plan.

This is what `jqgate check`, `jqgate plan`, `jqgate run` and `jqgate.load()` work from. Errors of
every plugin are collected in one pass, each located in the document the user wrote
(`plugins[0].config.nodes[2].inputs.headers: ...`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from jqgate.compiler import compile_datakit
from jqgate.config.model import GatewayConfig, PluginInstance
from jqgate.errors import Issues
from jqgate.plan import Plan
from jqgate.plan_module.loading import module_plan_for


def instance_namespace(plugin: PluginInstance) -> str:
    """D19: the plugin id, else its instance_name, else its scope."""
    if plugin.id:
        return plugin.id
    if plugin.instance_name:
        return plugin.instance_name
    if plugin.route_id:
        return f"route:{plugin.route_id}"
    if plugin.service_id:
        return f"service:{plugin.service_id}"
    return "global"


@dataclass
class CompiledGateway:
    config: GatewayConfig
    plans: list[tuple[PluginInstance, Plan]] = field(default_factory=list)


def compile_gateway(config: GatewayConfig, issues: Issues) -> CompiledGateway | None:
    """Compile every enabled DataKit plugin; None when any error was collected."""
    before = len(issues)
    compiled = CompiledGateway(config)
    for plugin in config.plugins:
        if plugin.name != "datakit" or not plugin.enabled:
            continue
        plan = compile_datakit(plugin.config, plugin.config_location, instance_namespace(plugin), issues)
        if plan is not None and plugin.config.get("ca_certificates"):
            plan = with_trust_store(plan, config, plugin, issues)
        if plan is not None:
            # a compiled plan module built for exactly this plan runs in its place
            compiled.plans.append((plugin, module_plan_for(plan)))
    return compiled if len(issues) == before else None


def compile_document(doc: dict, source: str) -> CompiledGateway:
    """Load and compile a declarative document (as the Admin API keeps it); ConfigError with
    every located error."""
    from jqgate.config.declarative import load_declarative
    issues = Issues()
    compiled = compile_gateway(load_declarative(doc, source), issues)
    issues.raise_if_any()
    return compiled


def with_trust_store(plan: Plan, config: GatewayConfig, plugin: PluginInstance, issues: Issues):
    """The plugin's `config.ca_certificates` (ids of ca_certificates entities, Kong 3.16) as one
    trust store for its call nodes' https requests; None when an id names no entity."""
    from dataclasses import replace

    from jqgate.errors import join
    from jqgate.nodes.call.tls import trust_store
    pems = []
    for index, ref in enumerate(plugin.config["ca_certificates"]):
        pem = config.ca_certificates.get(ref)
        if pem is None:
            issues.add(join(plugin.config_location, f"ca_certificates[{index}]"),
                       f'no ca_certificates entity with id "{ref}"')
        else:
            pems.append(pem)
    if len(pems) != len(plugin.config["ca_certificates"]):
        return None
    context = trust_store(pems)
    ops = tuple(replace(op, params=replace(op.params, ssl_context=context))
                if op.kind == "call" else op for op in plan.ops)
    return replace(plan, ops=ops)
