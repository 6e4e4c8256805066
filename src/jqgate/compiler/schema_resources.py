"""Schema of `config.resources` (§2.1 vault, §2.2 cache): rules S25 and S26."""
from __future__ import annotations

import re
from typing import Any

from jqgate.config import checks
from jqgate.config.checks import INT32_MAX
from jqgate.errors import Issues, join

VAULT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
# `{vault://<backend>/<key>[/<json-field>]}`
VAULT_REFERENCE = re.compile(r"\{vault://[^/{}\s]+/[^{}\s]+\}")

PORT = (0, 65535)
REDIS_FIELDS = {
    "host": "string", "port": PORT,
    "connect_timeout": (0, INT32_MAX), "send_timeout": (0, INT32_MAX), "read_timeout": (0, INT32_MAX),
    "username": "string", "password": "string", "database": (0, None),
    "ssl": "bool", "ssl_verify": "bool", "server_name": "string",
    "keepalive_pool_size": (1, INT32_MAX), "keepalive_backlog": (0, INT32_MAX),
    "sentinel_master": "string", "sentinel_role": ("any", "master", "slave"),
    "sentinel_nodes": ("host", "list"), "sentinel_username": "string", "sentinel_password": "string",
    "cluster_nodes": ("ip", "list"), "cluster_max_redirections": (0, INT32_MAX),
    "connection_is_proxied": "bool", "cloud_authentication": "cloud",
}
CLOUD_FIELDS = {
    "auth_provider": ("aws", "azure", "gcp"),
    "aws_access_key_id": "string", "aws_secret_access_key": "string", "aws_region": "string",
    "aws_cache_name": "string", "aws_is_serverless": "bool", "aws_assume_role_arn": "string",
    "aws_role_session_name": "string", "azure_client_id": "string", "azure_client_secret": "string",
    "azure_tenant_id": "string", "gcp_service_account_json": "string",
}
SENTINEL_TRIO = ("sentinel_master", "sentinel_role", "sentinel_nodes")


def validate_resources(resources: Any, location: str, issues: Issues) -> None:
    if not checks.check_object(resources, location, issues):
        return
    checks.check_known_keys(resources, location, issues, ("cache", "vault"))
    if resources.get("vault") is not None:
        validate_vault(resources["vault"], join(location, "vault"), issues)
    if resources.get("cache") is not None:
        validate_cache(resources["cache"], join(location, "cache"), issues)


def validate_vault(vault: Any, location: str, issues: Issues) -> None:
    """S25: secret name → vault reference."""
    if not checks.check_object(vault, location, issues):
        return
    if len(vault) > 64:
        issues.add(location, f"must have at most 64 entries, got {len(vault)}")
    for name, reference in vault.items():
        entry = join(location, str(name))
        if not isinstance(name, str) or not name or len(name) > 255 or not VAULT_NAME.fullmatch(name):
            issues.add(entry, "secret name must start with a letter or underscore and contain only "
                              "letters, numbers, underscores, or hyphens (1-255 characters)")
            continue
        if checks.check_string(reference, entry, issues, max_len=4095) \
                and not VAULT_REFERENCE.fullmatch(reference):
            issues.add(entry, 'expected a vault reference such as "{vault://env/my-secret}"')


def validate_cache(cache: Any, location: str, issues: Issues) -> None:
    """S26: strategy, memory and redis settings."""
    if not checks.check_object(cache, location, issues):
        return
    checks.check_known_keys(cache, location, issues, ("strategy", "memory", "redis"))
    strategy = cache.get("strategy")
    if strategy is None:
        issues.add(location, "missing field `strategy` (memory or redis)")
    else:
        checks.check_enum(strategy, join(location, "strategy"), issues, ("memory", "redis"))
    memory = cache.get("memory")
    if memory is not None and checks.check_object(memory, join(location, "memory"), issues):
        checks.check_known_keys(memory, join(location, "memory"), issues, ("dictionary_name",))
        if memory.get("dictionary_name") is not None:
            checks.check_string(memory["dictionary_name"], join(location, "memory.dictionary_name"), issues)
    redis = cache.get("redis")
    if redis is not None:
        validate_redis(redis, join(location, "redis"), issues)
    # A block for the other strategy would be accepted and then do nothing: refuse it.
    if strategy == "memory" and redis is not None:
        issues.add(join(location, "redis"), 'redis settings given but strategy is "memory"')
    if strategy == "redis" and memory is not None:
        issues.add(join(location, "memory"), 'memory settings given but strategy is "redis"')


def check_typed(kind: Any, value: Any, location: str, issues: Issues) -> bool:
    if kind == "string":
        return checks.check_string(value, location, issues)
    if kind == "bool":
        return checks.check_bool(value, location, issues)
    if isinstance(kind, tuple) and len(kind) == 2 and kind[1] == "list":
        return check_address_list(value, location, issues, host_key=kind[0])
    if isinstance(kind, tuple) and all(isinstance(k, str) for k in kind):
        return checks.check_enum(value, location, issues, kind)
    if isinstance(kind, tuple):
        return checks.check_int(value, location, issues, minimum=kind[0], maximum=kind[1])
    raise AssertionError(kind)


def check_address_list(value: Any, location: str, issues: Issues, host_key: str) -> bool:
    """`sentinel_nodes` ({host, port}) and `cluster_nodes` ({ip, port})."""
    if not checks.check_list(value, location, issues, min_items=1):
        return False
    ok = True
    for index, item in enumerate(value):
        entry = join(location, index)
        if not checks.check_object(item, entry, issues):
            ok = False
            continue
        ok &= checks.check_known_keys(item, entry, issues, (host_key, "port"))
        if item.get(host_key) is None:
            issues.add(entry, f"missing field `{host_key}`")
            ok = False
        else:
            ok &= checks.check_string(item[host_key], join(entry, host_key), issues)
        if item.get("port") is not None:
            ok &= checks.check_int(item["port"], join(entry, "port"), issues, minimum=0, maximum=65535)
    return ok


def validate_redis(redis: Any, location: str, issues: Issues) -> None:
    if not checks.check_object(redis, location, issues):
        return
    checks.check_known_keys(redis, location, issues, REDIS_FIELDS)
    for key, kind in REDIS_FIELDS.items():
        value = redis.get(key)
        if value is None:
            continue
        if kind == "cloud":
            validate_cloud_authentication(value, join(location, key), issues)
        else:
            check_typed(kind, value, join(location, key), issues)
    given = {key for key, value in redis.items() if value is not None}
    if ("host" in given) != ("port" in given):
        issues.add(location, "host and port must be specified together")
    if 0 < len(given & set(SENTINEL_TRIO)) < len(SENTINEL_TRIO):
        issues.add(location, "sentinel_master, sentinel_role and sentinel_nodes must be specified together")
    if redis.get("connection_is_proxied") is True and "host" not in given:
        issues.add(join(location, "connection_is_proxied"), "requires `host`")


def validate_cloud_authentication(value: Any, location: str, issues: Issues) -> None:
    if not checks.check_object(value, location, issues):
        return
    checks.check_known_keys(value, location, issues, CLOUD_FIELDS)
    if value.get("auth_provider") is None:
        issues.add(location, "missing field `auth_provider`")
    for key, kind in CLOUD_FIELDS.items():
        if value.get(key) is not None:
            check_typed(kind, value[key], join(location, key), issues)
