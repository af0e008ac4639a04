# toolfleet: every set-up step a fresh machine needs is a target here.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PYTEST := $(VENV)/bin/pytest
STAMP := $(VENV)/.installed

.PHONY: help venv binaries deps cluster-up cluster-down images real-node crds lint unit e2e test demo bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test,services]'
	touch $(STAMP)

venv: $(STAMP) ## create .venv with the project and its test dependencies

binaries: ## find or build etcd, kube-*, kubectl, kwok and helm (cached in ~/.cache/toolfleet)
	hack/binaries.sh

deps: ## system packages the e2e tests need (Prometheus)
	hack/deps.sh

cluster-up: ## start the local control plane (TOOLFLEET_REAL_NODE=1: and a real node); prints the KUBECONFIG
	hack/cluster.sh up

cluster-down: ## stop the local control plane (and the real node, undoing its host changes)
	hack/cluster.sh down

images: ## build the operator and service images with buildah; imported into the real node when up
	hack/images.sh

real-node: ## the real node's binaries and the images (make test builds them where hack/realnode.sh check allows)
	hack/binaries.sh --real-node >/dev/null
	hack/images.sh

crds: $(STAMP) ## regenerate the CRDs from the API models
	$(PY) hack/gen-crds.py

lint: $(STAMP) ## ruff and mypy --strict
	$(VENV)/bin/ruff check operator services tests hack
	$(VENV)/bin/mypy

unit: $(STAMP) ## unit tests: no cluster needed
	$(PYTEST) -m 'not e2e' -q

e2e: $(STAMP) binaries deps ## e2e tests against the local control plane (started if not up)
	$(PYTEST) -m e2e -q

# The real-pod e2e run where the machine allows it (root, the kernel's netfilter
# features: hack/realnode.sh check says why not) and TOOLFLEET_REAL_NODE is not 0;
# elsewhere they are skipped, each saying why. The session's cluster then has the
# real node, and `hack/cluster.sh down` at its end takes it down. TOOLFLEET_SYSTEM_DEPS=1
# says `deps` ran: a test missing promtool then fails rather than skips.
test: $(STAMP) binaries deps lint ## everything CI runs: lint, unit and e2e tests (real pods where the machine allows)
	@if [ "$${TOOLFLEET_REAL_NODE:-}" != 0 ] && hack/realnode.sh check; then \
	  $(MAKE) --no-print-directory real-node && \
	  TOOLFLEET_SYSTEM_DEPS=1 TOOLFLEET_REAL_NODE=1 $(PYTEST) -q; \
	else \
	  echo "make test: no real node here (see above); its tests will be skipped"; \
	  TOOLFLEET_SYSTEM_DEPS=1 TOOLFLEET_REAL_NODE=0 $(PYTEST) -q; \
	fi

demo: $(STAMP) binaries ## the operator on the local cluster with the sample services (DEMO_ARGS: .venv/bin/python hack/demo.py --help)
	$(PY) hack/demo.py $(DEMO_ARGS)

bench: $(STAMP) binaries ## benchmarks in hack/bench (ratios against baselines)
	hack/deps.sh --bench
	for b in hack/bench/bench_*.py; do $(PY) $$b || exit 1; done

clean: cluster-down ## remove the venv and local cluster state
	rm -rf $(VENV) .cluster
