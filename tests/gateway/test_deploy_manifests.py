"""deploy/ and the Dockerfile name only what exists: every manifest parses, every JQGATE_/KONG_
variable is a setting with a valid value, probes and ports point at the status listener's real
paths and the listeners' real ports, the ConfigMap's configuration compiles and is the same as
deploy/config/kong.yaml (what the image carries)."""
from __future__ import annotations

import glob
import os
import re

import yaml

from jqgate.admin.status_listener import STATUS_ROUTES
from jqgate.config import load_declarative
from jqgate.gateway.plans import compile_gateway
from jqgate.errors import Issues
from jqgate.gateway.serve import parse_listen
from jqgate.settings import resolve
from dockerfile_facts import dockerfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
STATUS_PATHS = {path for path, _ in STATUS_ROUTES}


def _manifests():
    docs = []
    for path in sorted(glob.glob(os.path.join(ROOT, "deploy", "*.yaml"))):
        with open(path) as f:
            docs.extend((os.path.basename(path), d) for d in yaml.safe_load_all(f) if d)
    return docs


def _compiles(text: str, where: str):
    issues = Issues()
    compiled = compile_gateway(load_declarative(yaml.safe_load(text), where), issues)
    assert compiled is not None, [str(i) for i in issues.items]


def test_every_manifest_parses_and_has_a_kind():
    docs = _manifests()
    kinds = {d["kind"] for _, d in docs}
    assert {"Deployment", "Service", "ConfigMap", "HorizontalPodAutoscaler"} <= kinds
    assert all("apiVersion" in d and d["metadata"]["name"] for _, d in docs)


def test_the_gateway_deployment_names_real_settings_ports_and_paths():
    docs = [d for _, d in _manifests()]
    [deployment] = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "jqgate"]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert all(name.startswith(("JQGATE_", "KONG_")) for name in env)
    settings = resolve({}, None, environ=env)          # raises on an unknown value
    assert not settings.warnings
    assert all(settings.source[name] != "default" for name in
               ("config", "proxy_listen", "status_listen"))
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["proxy"] == parse_listen(settings.proxy_listen)[1]
    assert ports["status"] == parse_listen(settings.status_listen)[1]
    for probe in ("readinessProbe", "livenessProbe"):
        get = container[probe]["httpGet"]
        assert get["path"] in STATUS_PATHS and get["port"] == "status"
    assert container["readinessProbe"]["httpGet"]["path"] == "/status/ready"
    assert container["resources"]["requests"]
    # the configuration is mounted where JQGATE_CONFIG says, from the ConfigMap
    [mount] = container["volumeMounts"]
    assert settings.config == mount["mountPath"] + "/kong.yaml"
    [configmap] = [d for d in docs if d["kind"] == "ConfigMap"]
    [volume] = deployment["spec"]["template"]["spec"]["volumes"]
    assert volume["configMap"]["name"] == configmap["metadata"]["name"]
    _compiles(configmap["data"]["kong.yaml"], "configmap")
    with open(os.path.join(ROOT, "deploy", "config", "kong.yaml")) as f:
        assert yaml.safe_load(f) == yaml.safe_load(configmap["data"]["kong.yaml"])
    # the Service and the autoscaler point at what exists
    [service] = [d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == "jqgate"]
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= set(ports)
    [hpa] = [d for d in docs if d["kind"] == "HorizontalPodAutoscaler"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "jqgate"
    # Redis, where the flow's cache points
    redis_host = yaml.safe_load(configmap["data"]["kong.yaml"])["services"][0]["plugins"][0][
        "config"]["resources"]["cache"]["redis"]["host"]
    assert any(d["kind"] == "Service" and d["metadata"]["name"] == redis_host for d in docs)


def test_dockerfile_names_real_settings_and_files():
    text, env = dockerfile()
    settings = resolve({}, None, environ=env)
    assert not settings.warnings
    healthcheck = next(l for l in text.splitlines() if l.startswith("HEALTHCHECK"))
    port = parse_listen(settings.status_listen)[1]
    assert "http://127.0.0.1:%d/status/ready" % port in healthcheck
    assert "EXPOSE %d %d" % (parse_listen(settings.proxy_listen)[1], port) in text
    assert "USER 10001" in text and text.count("FROM ") == 2
    for source in re.findall(r"^COPY (?!--from)(\S+)", text, re.M):
        assert source == "." or os.path.exists(os.path.join(ROOT, source)), source
    with open(os.path.join(ROOT, "deploy", "config", "kong.yaml")) as f:
        _compiles(f.read(), "deploy/config/kong.yaml")
