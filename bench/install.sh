#!/usr/bin/env bash
# System tools the benchmark needs, from Debian packages: wrk, nginx (light), the njs module,
# the Lua module (lua-nginx-module: OpenResty's core, with LuaJIT and lua-resty-core, the runtime
# Kong runs on) with lua-cjson for the nginx + Lua peer, valgrind for bench/instructions.py, and
# the openssl CLI that makes the TLS runs' certificate.
# Idempotent: does nothing when they are all present; otherwise runs apt-get update once and
# installs what is missing (needs root). The Python side (aiohttp, jq, matplotlib: the `bench`
# extra) is installed into .venv by `make install`, which `make bench` runs first.
set -euo pipefail

NJS_MODULE=/usr/lib/nginx/modules/ngx_http_js_module.so
LUA_MODULE=/usr/lib/nginx/modules/ngx_http_lua_module.so
CJSON=/usr/lib/x86_64-linux-gnu/lua/5.1/cjson.so
missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v nginx >/dev/null 2>&1 || missing+=(nginx-light)
[ -f "$NJS_MODULE" ] || missing+=(libnginx-mod-http-js)
[ -f "$LUA_MODULE" ] || missing+=(libnginx-mod-http-lua)
[ -f "$CJSON" ] || missing+=(lua-cjson)
command -v valgrind >/dev/null 2>&1 || missing+=(valgrind)
command -v taskset >/dev/null 2>&1 || missing+=(util-linux)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)     # the TLS runs' certificate
command -v h2load >/dev/null 2>&1 || missing+=(nghttp2-client)

if [ ${#missing[@]} -eq 0 ]; then
    echo "bench/install.sh: wrk, nginx, the njs and Lua modules, lua-cjson, valgrind and h2load are installed"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "bench/install.sh: missing ${missing[*]}; run as root (sudo bash bench/install.sh)" >&2
    exit 1
fi

echo "bench/install.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"

for f in "$NJS_MODULE" "$LUA_MODULE" "$CJSON"; do
    [ -f "$f" ] || { echo "bench/install.sh: $f not found after install" >&2; exit 1; }
done
echo "bench/install.sh: done"
