# cmsync as a container image. The entrypoint is `cmsync`: the default command `run` is the supervisor,
# `worker --metrics-listen 0.0.0.0:9465` runs the Dramatiq workers (RabbitMQ), and every other command
# works too (`check-config`, `status`, `sync-now` …).
#   docker build -t cmsync .
# Mount the configuration at /etc/cmsync/cmsync.yaml, the secrets as files in /run/secrets (each
# `credential:NAME` of the configuration reads /run/secrets/NAME, as Docker and Compose secrets are
# mounted), and a volume at /var/lib/cmsync for a SQLite state store (state.url:
# sqlite:////var/lib/cmsync/state.db, four slashes: an absolute path). README, Containers.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# Build: cmsync and its dependencies in a virtual environment, the only thing the image keeps. Only cmsync/
# is copied and no extra installed: the image has no sandbox (cmsync_sandbox, the `sandbox` extra).
FROM ${PYTHON_IMAGE} AS build
ARG PREFIX=/opt/cmsync
WORKDIR /src
COPY pyproject.toml README.md ./
COPY cmsync ./cmsync
RUN python -m venv "$PREFIX" \
    && "$PREFIX/bin/pip" install --quiet .

# Runtime: the slim base, the virtual environment, an unprivileged user.
FROM ${PYTHON_IMAGE}
ARG PREFIX=/opt/cmsync
RUN groupadd --system --gid 10001 cmsync \
    && useradd --system --uid 10001 --gid cmsync --home-dir /var/lib/cmsync --shell /usr/sbin/nologin cmsync \
    && install --directory --owner cmsync --group cmsync --mode 0700 /var/lib/cmsync
COPY --from=build ${PREFIX} ${PREFIX}
ENV PATH="${PREFIX}/bin:${PATH}" \
    CMSYNC_CONFIG=/etc/cmsync/cmsync.yaml \
    CREDENTIALS_DIRECTORY=/run/secrets \
    PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /var/lib/cmsync
VOLUME ["/var/lib/cmsync"]
# The supervisor's metrics.listen must be 0.0.0.0:9464 in a container; workers serve metrics on 9465.
EXPOSE 9464 9465
# The supervisor's /healthz: 200 while its loop goes round. (A worker container checks its metrics
# port instead: README, Containers.)
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9464/healthz', timeout=4)"]
ENTRYPOINT ["cmsync"]
CMD ["run"]
