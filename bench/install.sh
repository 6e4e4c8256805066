#!/usr/bin/env bash
# System tools the benchmark needs, from Debian packages: wrk, nginx (light) and the njs module.
# Idempotent: does nothing when they are all present; otherwise runs apt-get update once and
# installs what is missing (needs root). The Python side (aiohttp, jq, matplotlib: the `bench`
# extra) is installed into .venv by `make install`, which `make bench` runs first.
set -euo pipefail

NJS_MODULE=/usr/lib/nginx/modules/ngx_http_js_module.so
missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v nginx >/dev/null 2>&1 || missing+=(nginx-light)
[ -f "$NJS_MODULE" ] || missing+=(libnginx-mod-http-js)
command -v taskset >/dev/null 2>&1 || missing+=(util-linux)

if [ ${#missing[@]} -eq 0 ]; then
    echo "bench/install.sh: wrk, nginx and the njs module are installed"
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

[ -f "$NJS_MODULE" ] || { echo "bench/install.sh: $NJS_MODULE not found after install" >&2; exit 1; }
echo "bench/install.sh: done"
