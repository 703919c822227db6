# syntax=docker/dockerfile:1
# The Helpdesk API: a slim image that runs as an unprivileged user. Build: docker build -t helpdesk .
# compose.yaml runs it with PostgreSQL and Redis (migrations first, then the server).

# Pinned: bump deliberately (and consider pinning the digest, name@sha256:..., as well).
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/helpdesk
COPY pyproject.toml README.md ./
COPY server ./server
COPY schema ./schema
COPY resolvers ./resolvers
COPY models ./models
COPY permissions ./permissions
COPY subscriptions ./subscriptions
# A regular (not editable) install: the package, its migrations and its static assets.
RUN /opt/helpdesk/bin/pip install .

FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/helpdesk/bin:$PATH \
    HELPDESK_ENV=production \
    HELPDESK_DATA_DIR=/var/lib/helpdesk
RUN groupadd --system --gid 10001 helpdesk \
    && useradd --system --uid 10001 --gid helpdesk --home-dir /var/lib/helpdesk \
       --shell /usr/sbin/nologin helpdesk \
    && install -d -o helpdesk -g helpdesk -m 0700 /var/lib/helpdesk
COPY --from=build /opt/helpdesk /opt/helpdesk
USER 10001:10001
WORKDIR /var/lib/helpdesk
EXPOSE 8000
# Liveness only (/readyz also checks PostgreSQL and Redis: an outage of those should not get
# the container restarted). No curl in the slim image: the interpreter does the request.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]
CMD ["helpdesk", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
