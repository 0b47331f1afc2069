# The scheduled connector: `connector serve` syncs on the configured schedule and serves
# /healthz and /metrics on port 8080.
#
#   docker build -t referral-connector .
#   docker run -p 8080:8080 \
#     -e CONNECTOR_CONFIG=/config/connector.toml -v "$PWD/connector.toml:/config/connector.toml:ro" \
#     -e CONNECTOR_DATABASE__URL=postgresql+psycopg://connector@db/connector \
#     -e CONNECTOR_PARTNERSTACK__PUBLIC_KEY=… -e CONNECTOR_PARTNERSTACK__SECRET_KEY=… \
#     -e CONNECTOR_STRIPE__API_KEY=… referral-connector
#   docker run --rm referral-connector connector db upgrade   # once per schema version
#
# Any setting can come from the environment as CONNECTOR_<SECTION>__<NAME>; secrets belong
# there (or in a mounted file), never in the image.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY connector ./connector
COPY adapters ./adapters
COPY sandbox ./sandbox
COPY mappings ./mappings
COPY programs ./programs
RUN pip install . && rm -rf /src

RUN useradd --system --uid 10001 --create-home --home-dir /data connector
USER connector
WORKDIR /data

# The embedded SQLite default lives on the /data volume; point this at PostgreSQL in production.
# CONNECTOR_CONFIG names the settings file the CLI reads when no --config is given.
ENV CONNECTOR_DATABASE__URL=sqlite:////data/connector.db \
    CONNECTOR_SERVE__HOST=0.0.0.0 \
    CONNECTOR_SERVE__PORT=8080 \
    CONNECTOR_LOG__FORMAT=json
VOLUME ["/data"]
EXPOSE 8080

# python:3.11-slim has no curl; urllib raises on a 503, which fails the check.
HEALTHCHECK --interval=60s --timeout=10s --start-period=120s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('CONNECTOR_SERVE__PORT', '8080'), timeout=5)" || exit 1

STOPSIGNAL SIGTERM
CMD ["connector", "serve"]
