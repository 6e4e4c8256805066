# jqgate container image: build the wheel in one stage, run it from a slim image in another.
#   docker build -t jqgate .
#   docker run -p 8000:8000 -p 8100:8100 -v $PWD/kong.yaml:/etc/jqgate/kong.yaml:ro jqgate
# Settings come from the environment (JQGATE_* or Kong's KONG_* names; docs/configuration.md).

FROM python:3.11-slim AS build
# A compiler for the core and libjq; `patch` for patches/ (applied to the jq source).
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev make patch \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The same command tests/gateway/test_packaging.py runs.
RUN pip wheel --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
COPY --from=build /wheels /wheels
# [nodes]: the optional node types (Redis cache, JWT, XML) work out of the box.
RUN pip install --no-cache-dir --find-links /wheels "jqgate[nodes]" \
 && rm -rf /wheels \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin jqgate
COPY deploy/config/kong.yaml /etc/jqgate/kong.yaml
USER 10001
# The proxy on 8000, the status listener on 8100; the Admin API stays on loopback.
ENV JQGATE_CONFIG=/etc/jqgate/kong.yaml \
    JQGATE_PROXY_LISTEN=0.0.0.0:8000 \
    JQGATE_STATUS_LISTEN=0.0.0.0:8100 \
    JQGATE_ADMIN_LISTEN=127.0.0.1:8001 \
    JQGATE_ACCESS_LOG=stdout \
    JQGATE_LOG_FORMAT=json
EXPOSE 8000 8100
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8100/status/ready', timeout=2).status != 200)"]
ENTRYPOINT ["jqgate"]
CMD ["run"]
