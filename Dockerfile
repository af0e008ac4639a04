# syntax=docker/dockerfile:1
# The toolfleet operator image: a wheel built in one stage, installed into a slim one,
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
# The operator's wheel and one for each dependency: the final stage installs offline.
RUN pip wheel --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# The wheels are mounted, not copied, so they never become a layer of the image.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels toolfleet
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# A numeric user (the chart's runAsUser), so that runAsNonRoot can verify it.
USER 65532:65532
# Catalogs, /healthz, /readyz and /metrics (TOOLFLEET_HTTP_PORT).
EXPOSE 8080
ENTRYPOINT ["toolfleet"]
CMD ["run"]
