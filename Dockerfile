# agentops (distribution agentops-ledger) for `agentops watch` and `agentops serve` in a cluster.
#   docker build -t agentops-ledger:0.1.0 .
# The tag is the package version; deploy/kubernetes refers to agentops-ledger:0.1.0 and
# kustomization.yaml shows how to point it at your registry (docs/deployment.md).

# Build stage: a virtual environment with the package and the extras a cluster needs.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY rules ./rules
COPY agentops ./agentops
RUN python -m venv /opt/agentops \
    && /opt/agentops/bin/pip install ".[watch,serve,cel]"

# Runtime stage: git (the tool commits), the venv, and an unprivileged user.
FROM python:3.11-slim
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends git openssh-client ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 agentops \
    && useradd --uid 10001 --gid agentops --home-dir /home/agentops --create-home agentops
COPY --from=build /opt/agentops /opt/agentops
ENV PATH=/opt/agentops/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /home/agentops
ENTRYPOINT ["agentops"]
CMD ["--help"]
