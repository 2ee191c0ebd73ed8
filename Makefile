# Training Zoo: the two commands are `make up` (start the platform) and `make test` (run everything).
# Both install what they need: a venv in .venv, npm packages, the labextension build, and (for
# tests) Chromium from Debian's packages.

SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
LABEXT_OUT := extensions/training_zoo/labextension/package.json
PYTEST_ARGS ?=

.PHONY: up test test-lab install lint bench bench-data bench-models clean help

help:
	@echo "make up     start JupyterHub + proxy + TZ service on http://127.0.0.1:$${TZ_PORT:-8000}"
	@echo "make test   install test dependencies (Chromium included) and run the whole suite"
	@echo "make bench  run the job benchmarks (results: docs/benchmarks.md)"
	@echo "make bench-data  run the workspace listing/upload benchmarks against moto S3 (same doc)"
	@echo "make bench-models  run the model benchmarks: ONNX vs PyTorch, INT8 vs FP32, registry API (same doc)"

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Python dependencies (torch is the CPU wheel pinned in pyproject's [torch] extra).
$(VENV)/.deps: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[test,torch]"
	touch $@

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

labextension/node_modules/.package-lock.json: labextension/package.json labextension/package-lock.json
	cd labextension && npm ci --no-audit --no-fund

$(LABEXT_OUT): $(VENV)/.deps labextension/node_modules/.package-lock.json $(shell find labextension/src labextension/style labextension/schema -type f 2>/dev/null) labextension/package.json
	cd labextension && PATH="$(CURDIR)/$(BIN):$$PATH" npm run build:prod
	touch $@

# The wheel as users get it: prebuilt labextension + server-extension config as data files.
$(VENV)/.installed: $(VENV)/.deps $(LABEXT_OUT) node_modules/.package-lock.json $(shell find extensions jupyterhub_config -type f -not -path '*/__pycache__/*' -not -path '*/labextension/*' -not -path '*.egg-info*') setup.py
	$(BIN)/pip install -q --no-deps --force-reinstall .
	touch $@

install: $(VENV)/.installed

up: install
	$(BIN)/tz up

/usr/bin/chromium:
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

lint: install
	$(BIN)/ruff check .
	cd labextension && npm run --silent lint:check

# The labextension's own unit tests (Jest), before the Python suite.
test-lab: labextension/node_modules/.package-lock.json
	cd labextension && npm test --silent

test: install /usr/bin/chromium /usr/bin/buildah lint test-lab
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Container images (images/README.md): buildah, no Docker daemon. `make images` needs registry
# access for the official bases (PULL=never|missing|always); `make image-cpu-ci` is CI's offline
# path (a debootstrapped Debian base, then a podman check of singleuser-cpu).
REGISTRY ?= registry.example.com/training-zoo
VERSION := $(shell sed -n 's/^__version__ = "\(.*\)"$$/\1/p' extensions/training_zoo/_version.py)
PULL ?= missing
IMAGES_ENV = IMAGE_REGISTRY=$(REGISTRY) IMAGE_VERSION=$(VERSION) IMAGE_PULL=$(PULL) \
	IMAGE_PYTHON=$(CURDIR)/$(BIN)/python

.PHONY: images image-cpu-ci images-push images-lint

images: install /usr/bin/buildah
	$(IMAGES_ENV) images/build.sh all

image-cpu-ci: install /usr/bin/buildah
	$(IMAGES_ENV) images/build.sh ci

images-push: /usr/bin/buildah
	$(IMAGES_ENV) images/build.sh push

images-lint: $(VENV)/.deps
	$(BIN)/python tests/dockerlint.py images/*/Dockerfile
	$(BIN)/hadolint --config images/.hadolint.yaml images/*/Dockerfile

/usr/bin/buildah:
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah podman runc debootstrap

bench: install
	$(BIN)/python benchmarks/bench_jobs.py

# Workspace listing and uploads vs boto3 on one moto S3 (BENCH_DATA_ARGS=--quick for a smoke run).
BENCH_DATA_ARGS ?=
bench-data: install
	$(BIN)/python benchmarks/bench_data.py $(BENCH_DATA_ARGS)

# ONNX Runtime vs PyTorch, INT8 vs FP32 ONNX, registry API at 10,000 versions
# (BENCH_MODELS_ARGS=--quick for a smoke run).
BENCH_MODELS_ARGS ?=
bench-models: install
	$(BIN)/python benchmarks/bench_models.py $(BENCH_MODELS_ARGS)

clean:
	rm -rf $(VENV) node_modules labextension/node_modules labextension/lib extensions/training_zoo/labextension
