FROM python:3.11-slim
# ---------------------------------------------------------------------------------------
# Stage 0 (unnamed, first so it is also what `COPY --from=0` means): the locked
# dependencies, in a venv of their own. Only requirements.lock is copied, so a code edit
# never reinstalls them; pip checks every hash and takes wheels only.
#
# Targets (the last stage, `production`, is the default):
#   docker build -t referral-connector:0.1.0 \
#     --build-arg REVISION="$(git rev-parse HEAD)" \
#     --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" .
#   docker build --target demo -t referral-connector-demo:0.1.0 .   # + sandbox, runs `connector demo`
#
# Run `connector serve` (syncs on the schedule, /healthz and /metrics on 8080). Give it at
# least serve.shutdown_grace_seconds (default 300) plus a margin to stop, or Docker kills
# the run in flight after its default 10 s:
#   docker run --stop-timeout 330 -p 8080:8080 \
#     -e CONNECTOR_CONFIG=/config/connector.toml -v "$PWD/connector.toml:/config/connector.toml:ro" \
#     -e CONNECTOR_DATABASE__URL=postgresql+psycopg://connector@db/connector \
#     -e CONNECTOR_PARTNERSTACK__PUBLIC_KEY=… -e CONNECTOR_PARTNERSTACK__SECRET_KEY=… \
#     -e CONNECTOR_STRIPE__API_KEY=… referral-connector:0.1.0
#   docker run --rm referral-connector:0.1.0 connector db upgrade   # once per schema version
# (compose: `stop_grace_period: 330s`; Kubernetes: terminationGracePeriodSeconds, see
# deploy/kubernetes/.) Any setting can come from the environment as
# CONNECTOR_<SECTION>__<NAME>; secrets belong there (or in a mounted file), never in the image.
# ---------------------------------------------------------------------------------------
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY requirements.lock /tmp/requirements.lock
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --require-hashes --only-binary=:all: --no-deps \
       -r /tmp/requirements.lock \
    && rm /tmp/requirements.lock

# The project itself, without the sandbox (emulated APIs) or the bench: built offline with
# the locked setuptools into its own prefix, /opt/app, so it is a small layer of its own.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=0 /opt/venv /opt/venv
WORKDIR /src
COPY pyproject.toml README.md ./
COPY connector ./connector
COPY adapters ./adapters
COPY mappings ./mappings
COPY programs ./programs
RUN /opt/venv/bin/pip install . --no-cache-dir --no-deps --no-build-isolation --no-index --prefix=/opt/app

# The same plus the sandbox, for the demo image only.
FROM python:3.11-slim AS build-demo
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=0 /opt/venv /opt/venv
WORKDIR /src
COPY pyproject.toml README.md ./
COPY connector ./connector
COPY adapters ./adapters
COPY mappings ./mappings
COPY programs ./programs
COPY sandbox ./sandbox
RUN /opt/venv/bin/pip install . --no-cache-dir --no-deps --no-build-isolation --no-index --prefix=/opt/app

# What both images share: the dependency layer, a non-root user, the settings for a container.
FROM python:3.11-slim AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="referral-connector" \
      org.opencontainers.image.description="Sync worker that pays referral partners exactly what their program promises: PartnerStack + Stripe." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11-slim"
RUN groupadd --system --gid 10001 connector \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin connector \
    && install -d -o 10001 -g 10001 -m 0750 /data
COPY --from=0 /opt/venv /opt/venv
# The embedded SQLite default lives on the /data volume; point CONNECTOR_DATABASE__URL at
# PostgreSQL in production. CONNECTOR_CONFIG names the settings file the CLI reads when no
# --config is given.
ENV PATH=/opt/app/bin:/opt/venv/bin:$PATH \
    PYTHONPATH=/opt/app/lib/python3.11/site-packages \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CONNECTOR_DATABASE__URL=sqlite:////data/connector.db \
    CONNECTOR_SERVE__HOST=0.0.0.0 \
    CONNECTOR_SERVE__PORT=8080 \
    CONNECTOR_LOG__FORMAT=json
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
# python:3.11-slim has no curl; urllib raises on a 503, so python exits 1: unhealthy.
HEALTHCHECK --interval=60s --timeout=10s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('CONNECTOR_SERVE__PORT', '8080'), timeout=5)"]
# SIGTERM: stop scheduling, let the run in flight finish within serve.shutdown_grace_seconds.
STOPSIGNAL SIGTERM

# `docker build --target demo`: the bundled sandbox scenario, synced; reports in /data/demo-output.
FROM runtime AS demo
COPY --from=build-demo /opt/app /opt/app
CMD ["connector", "demo", "--workdir", "/data/demo-output"]

# The default target: `connector serve`, no sandbox, no bench, no tests.
FROM runtime AS production
COPY --from=build /opt/app /opt/app
CMD ["connector", "serve"]
