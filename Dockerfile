# syntax=docker/dockerfile:1
# The toolfleet operator image: installed into a venv in one stage, copied into a slim one,
# run as a non-root user, with no compiler, build tool or pip cache left behind.
#   docker build -t toolfleet/operator:0.1.0 .
# Tag it with the package version (toolfleet.__version__): the chart's appVersion, and
# so its default image tag, follows it.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# README.m[d]: copied when present (the package metadata reads it), not required.
COPY pyproject.toml README.m[d] ./
COPY operator/toolfleet operator/toolfleet
# A venv, not the system interpreter: a Debian-packaged Python has no pip and
# refuses system installs (PEP 668); python:*-slim works the same way.
RUN python3 -m venv /opt/venv && /opt/venv/bin/pip install .

FROM ${PYTHON_IMAGE}
# Only the venv: no wheel, compiler or pip cache of the build stage comes along.
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# A numeric user (the chart's runAsUser), so that runAsNonRoot can verify it.
USER 65532:65532
# Catalogs, /healthz, /readyz and /metrics (TOOLFLEET_HTTP_PORT).
EXPOSE 8080
ENTRYPOINT ["toolfleet"]
CMD ["run"]
