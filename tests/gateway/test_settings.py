"""The settings layer: defaults < settings file < environment (JQGATE_*, then KONG_*) < flags,
errors that name the source, Kong's names and the warnings for the unsupported ones."""
from __future__ import annotations

import pytest

from jqgate.cli import build_parser, resolve_run_settings
from jqgate.errors import ConfigError
from jqgate.settings import BY_NAME, SETTINGS, resolve


def _file(tmp_path, text):
    path = tmp_path / "jqgate.yaml"
    path.write_text(text)
    return str(path)


def test_defaults():
    s = resolve({}, None, environ={})
    assert s.proxy_listen == "0.0.0.0:8000" and s.admin_listen == "127.0.0.1:8001"
    assert s.status_listen is None and s.workers == 1 and s.max_body_bytes == 0
    assert all(s.source[name] == "default" for name in s)
    assert s.warnings == []


def test_precedence_file_env_flag(tmp_path):
    path = _file(tmp_path, "workers: 3\nkeepalive_timeout: 5\nmax_body_bytes: 1m\n"
                           "proxy_listen: 127.0.0.1:9000\n")
    env = {"JQGATE_KEEPALIVE_TIMEOUT": "7", "JQGATE_PROXY_LISTEN": "127.0.0.1:9001"}
    s = resolve({"proxy_listen": "127.0.0.1:9002"}, path, environ=env)
    assert s.workers == 3 and s.source["workers"] == path                 # file over default
    assert s.max_body_bytes == 1024 * 1024
    assert s.keepalive_timeout == 7.0 and s.source["keepalive_timeout"] == "JQGATE_KEEPALIVE_TIMEOUT"
    assert s.proxy_listen == "127.0.0.1:9002" and s.source["proxy_listen"] == "flag"


def test_kong_names_and_jqgate_wins():
    env = {"KONG_PROXY_LISTEN": "0.0.0.0:8000 reuseport backlog=16384, 0.0.0.0:8443 http2 ssl",
           "KONG_ADMIN_LISTEN": "off", "KONG_NGINX_WORKER_PROCESSES": "2",
           "KONG_DECLARATIVE_CONFIG": "/etc/kong/kong.yml", "KONG_LOG_LEVEL": "notice",
           "KONG_PROXY_ACCESS_LOG": "/dev/stdout", "KONG_STATUS_LISTEN": "0.0.0.0:8100",
           "KONG_DATABASE": "off"}
    s = resolve({}, None, environ=env)
    # Kong's listen list is read whole: both addresses, the flags (docs/tls.md)
    assert s.proxy_listen == env["KONG_PROXY_LISTEN"] and s.admin_listen is None
    assert s.workers == 2
    assert s.config == "/etc/kong/kong.yml" and s.log_level == "info"
    assert s.access_log == "stdout" and s.status_listen == "0.0.0.0:8100"
    assert s.warnings == []             # DATABASE=off is what jqgate does
    with pytest.raises(ConfigError) as bad:
        resolve({}, None, environ={"KONG_PROXY_LISTEN": "0.0.0.0:8443 ssl quic"})
    assert 'unknown listen flag "quic"' in str(bad.value)
    s = resolve({}, None, environ={"KONG_NGINX_WORKER_PROCESSES": "2", "JQGATE_WORKERS": "4"})
    assert s.workers == 4


def test_unsupported_kong_variables_warn():
    s = resolve({}, None, environ={"KONG_DATABASE": "postgres", "KONG_PG_HOST": "db",
                                   "KONG_LOG_LEVEL": "warn"})
    assert s.log_level == "warning"
    assert len(s.warnings) == 2
    assert any("KONG_PG_HOST" in w and "not support" in w for w in s.warnings)
    assert any("KONG_DATABASE" in w for w in s.warnings)


def test_errors_name_the_source(tmp_path):
    path = _file(tmp_path, "workers: many\nlisten_proxy: 1\n")
    with pytest.raises(ConfigError) as exc:
        resolve({"header_timeout": "soon"}, path, environ={"JQGATE_MAX_URI_BYTES": "big"})
    text = str(exc.value)
    assert '%s: workers: expected a number or "auto", got "many"' % path in text
    assert "%s: listen_proxy: unknown setting" % path in text
    assert "JQGATE_MAX_URI_BYTES: expected a size in bytes" in text
    assert "--header-timeout: expected a duration" in text


def test_bad_settings_file(tmp_path):
    with pytest.raises(ConfigError, match="a mapping"):
        resolve({}, _file(tmp_path, "- a\n- b\n"), environ={})
    with pytest.raises(ConfigError, match="cannot read the settings file"):
        resolve({}, str(tmp_path / "missing.yaml"), environ={})


def test_serve_options_reach_their_targets():
    s = resolve({"max_header_bytes": "16k", "upstream_max_per_host": "8",
                 "status_listen": "127.0.0.1:8100", "drain_timeout": "2s"}, None, environ={})
    options = s.serve_options()
    assert options["server_options"]["max_header_bytes"] == 16384
    assert options["pool_options"]["max_per_host"] == 8
    assert options["status_listen"] == "127.0.0.1:8100" and options["drain_timeout"] == 2.0
    assert options["listen"] == "0.0.0.0:8000"
    # every server/pool option is a keyword the core takes, and the defaults are the core's own
    import asyncio
    from jqgate._core import core
    defaults = resolve({}, None, environ={}).serve_options()
    for opts in (options, defaults):
        settings = core.ServerSettings(lambda req, resp: None, **opts["server_options"])
        for name, value in opts["server_options"].items():
            assert getattr(settings, name) == value
        loop = asyncio.new_event_loop()
        try:
            pool = core.ConnectionPool(loop, **opts["pool_options"])
            for name, value in opts["pool_options"].items():
                assert getattr(pool, name) == value
            pool.close()
        finally:
            loop.close()
    plain = core.ServerSettings(lambda req, resp: None)
    for name, value in defaults["server_options"].items():
        assert getattr(plain, name) == value, name


def test_http2_settings_become_the_listeners_limits():
    from jqgate._core import core
    off = resolve({"http2_max_resets": "5"}, None, environ={}).serve_options()
    assert "http2" not in off["server_options"]          # the limits alone turn nothing on
    assert core.ServerSettings(lambda req, resp: None, **off["server_options"]).http2 is None
    on = resolve({"http2": True, "http2_max_concurrent_streams": "16", "http2_max_resets": "5",
                  "http2_reset_interval": "2s"}, None, environ={"JQGATE_HTTP2_MAX_HEADER_LIST_SIZE": "8k"})
    limits = core.ServerSettings(lambda req, resp: None, **on.serve_options()["server_options"]).http2
    assert (limits.max_concurrent_streams, limits.max_resets, limits.reset_interval) == (16, 5, 2.0)
    assert limits.max_header_list_size == 8192 and limits.initial_window_size == 65535
    default = resolve({"http2": True}, None, environ={}).serve_options()["server_options"]["http2"]
    assert default["max_header_list_size"] is None      # the server's max_header_bytes
    with pytest.raises(ConfigError):
        resolve({"http2_max_concurrent_streams": "0"}, None, environ={})


def test_every_serve_setting_is_a_serve_keyword():
    import inspect
    from jqgate.gateway.serve import serve
    params = inspect.signature(serve).parameters
    for setting in SETTINGS:
        if setting.target == "serve":
            assert setting.keyword in params, setting


def test_cli_flags_over_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("JQGATE_WORKERS", "3")
    monkeypatch.setenv("KONG_ADMIN_LISTEN", "127.0.0.1:9999")
    args = build_parser().parse_args(["run", "kong.yaml", "--workers", "2", "--no-admin"])
    s = resolve_run_settings(args)
    assert s.workers == 2 and s.admin_listen is None and s.config == "kong.yaml"
    args = build_parser().parse_args(["run", "kong.yaml"])
    s = resolve_run_settings(args)
    assert s.workers == 3 and s.admin_listen == "127.0.0.1:9999"


def test_help_shows_defaults_and_environment_names(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "--help"])
    out = capsys.readouterr().out
    for setting in SETTINGS:
        assert setting.env in out.replace("\n", " ").replace("  ", ""), setting.env
    assert "default: 0.0.0.0:8000" in out and "KONG_PROXY_LISTEN" in out
    import re
    assert not re.search(r"\b(D\d+|S\d+|G\d+|§)", out)


def test_version(capsys):
    import jqgate
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == "jqgate " + jqgate.__version__


def test_table_is_consistent():
    assert len(BY_NAME) == len(SETTINGS)
    flags = [f for s in SETTINGS for f in s.flags]
    assert len(flags) == len(set(flags))
