# Entry points. `make up` runs the platform on this machine; `make test` runs the whole test suite.
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := python3 -m uv
endif
CHECKOV_VERSION := checkov==3.3.30
# the checkov that `make services` installs as a uv tool (tests/integration/test_checkov.py runs it)
export CHECKOV ?= $(shell $(UV) tool dir --bin 2>/dev/null)/checkov

.PHONY: help install up up-regions up-containers images container-tools pipeline data-job bench chaos failover-drill test test-unit test-integration lint format services clean-data

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

install: ## install uv (from PyPI) if missing, then the locked workspace, byte-compiled (like the images)
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	@python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required (python3 is " + sys.version.split()[0] + ")")'
	@# byte-compiled once (~30 s): every service, job and test process then starts in ~5 s instead of ~13 s
	$(UV) sync --frozen --quiet --compile-bytecode

up: install ## run the whole platform in the foreground (Ctrl-C stops it; data stays in .data/)
	$(UV) run --frozen --no-sync platform up

up-containers: install images ## the same platform from its images (podman or docker), on the same ports; Ctrl-C removes every container
	images/pubsub_emulator.sh
	$(UV) run --frozen --no-sync platform up --containers

images: container-tools ## build every image, tagged with the commit (stand-in base images where no registry is reachable)
	images/build.sh

container-tools: ## install podman, runc, netavark and debootstrap where neither podman nor a Docker daemon is present
	@scripts/install_container_tools.sh

up-regions: install services ## two regional platforms (region-a on make up's ports, region-b on 9080-9082) behind HAProxy on 8090, with the failover controller (metrics on 8095)
	$(UV) run --frozen --no-sync platform up-regions

pipeline: install ## run the data job and every trainer once against the running platform
	$(UV) run --frozen --no-sync platform pipeline

data-job: install ## run only the data job against the running platform; the dispatcher then retrains every family
	$(UV) run --frozen --no-sync platform data-job

bench: install ## measure serving, batch, data job and training; prints a table, writes bench/results/*.json (~10 min)
	@scripts/install_system_packages.sh
	$(UV) run --frozen --no-sync bench

failover-drill: install services ## start make up-regions, hold region-a's webapp and mlapp down 10 s under load; prints the timeline and the failover table (~3 min)
	$(UV) run --frozen --no-sync failover-drill

chaos: install ## SIGKILL each component in turn under load; prints who lost or duplicated what (~5 min)
	$(UV) run --frozen --no-sync chaos

services: ## install the Debian packages the tests, the bench and make up's monitoring use (chromium, prometheus, prometheus-alertmanager, wrk) and checkov; start PostgreSQL if stopped
	@scripts/install_system_packages.sh
	@scripts/ensure_test_services.sh
	@# checkov in its own tool environment: it needs a fork of python-hcl2 that would shadow the one the tests use
	@$(UV) tool install --quiet $(CHECKOV_VERSION) >/dev/null 2>&1 || echo "warning: could not install $(CHECKOV_VERSION): the checkov tests will skip"

lint: install ## ruff lint and format check, and mypy (strict) over every package's sources
	$(UV) run --frozen --no-sync ruff check .
	$(UV) run --frozen --no-sync ruff format --check .
	$(UV) run --frozen --no-sync mypy

test: install services container-tools lint ## the whole suite: lint, unit, integration, end to end
	$(UV) run --frozen --no-sync pytest

test-unit: install ## only the fast tier
	$(UV) run --frozen --no-sync pytest tests/unit

test-integration: install services ## only the tier with real components
	$(UV) run --frozen --no-sync pytest tests/integration

format: install ## apply ruff's fixes and formatting
	$(UV) run --frozen --no-sync ruff check --fix .
	$(UV) run --frozen --no-sync ruff format .

clean-data: ## delete the local platform's data (.data/): every dataset, model and stored prediction
	rm -rf .data
