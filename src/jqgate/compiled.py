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
        if plan is not None:
            # a compiled plan module built for exactly this plan runs in its place
            compiled.plans.append((plugin, module_plan_for(plan)))
    return compiled if len(issues) == before else None
