# batchdrop: every entry point a developer or CI needs. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The deployed runtime is python3.13: the tests also run there, in a venv of its own. PYTHON313 is
# pyenv's newest 3.13, else python3.13 on the PATH, else "3.13": uv then finds one or downloads it.
PYTHON313 ?= $(or $(lastword $(sort $(wildcard $(HOME)/.pyenv/versions/3.13.*/bin/python3))),$(shell command -v python3.13),3.13)
VENV313 := .venv-py313
BIN313 := $(VENV313)/bin
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
CHECKOV_VENV := .venv-checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov
# Pinned: checkov adds checks in patch releases, and a new check must not fail `make test`
# unannounced. To upgrade, change it, rm -rf $(CHECKOV_VENV), run make security, fix or skip.
CHECKOV_VERSION ?= 3.3.30
REGION ?= us-east-1
# sam build checks that the runtime's interpreter exists; pyenv machines keep several.
SAM_PYENV := $(shell command -v pyenv >/dev/null 2>&1 && pyenv versions --bare 2>/dev/null | grep -E '^3\.(11|12|13)\.' | tr '\n' ':' | sed 's/:$$//')

FUNCTION ?= SubmitFunction
EVENT ?= events/s3-put.json

.PHONY: help venv venv-py313 sam-venv checkov-venv lint format security test test-fast test-py313 bench demo local-up emulator build layer-size lock validate invoke clean

help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(BIN)/.installed: pyproject.toml layers/shared/requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "batchdrop needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[local,dev]'
	@touch $@

venv: $(BIN)/.installed ## create .venv with the app, local stack and test tools

$(BIN313)/.installed: $(BIN)/.installed
	$(BIN)/uv venv --quiet --allow-existing --python $(PYTHON313) $(VENV313) \
		|| { echo "no Python 3.13 (PYTHON313=$(PYTHON313)): install one (pyenv install 3.13) or set PYTHON313=/path/to/python3.13"; exit 1; }
	@$(BIN313)/python -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 13) else f"$(VENV313) has Python {sys.version.split()[0]}, not 3.13: set PYTHON313")'
	@echo '*' > $(VENV313)/.gitignore
	$(BIN)/uv pip install --quiet --python $(BIN313)/python -e '.[local,dev]'
	@touch $@

venv-py313: $(BIN313)/.installed ## create .venv-py313: the same, on Python 3.13 (the deployed runtime)

# The layer's lock: requirements.in's pins and everything they pull in, with hashes, resolved for
# the functions' platform (template.yaml: python3.13 on arm64) from manylinux wheels only.
LAYER_PYTHON := 3.13
LAYER_PLATFORM := aarch64-manylinux_2_28
lock: venv ## regenerate layers/shared/requirements.txt (hash-locked) from requirements.in
	UV_PYTHON_DOWNLOADS=never $(BIN)/uv pip compile --quiet --generate-hashes --no-build \
		--python-version $(LAYER_PYTHON) --python-platform $(LAYER_PLATFORM) \
		layers/shared/requirements.in --output-file layers/shared/requirements.txt

$(SAM_VENV)/.installed:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet uv
	$(SAM_VENV)/bin/uv pip install --quiet --python $(SAM_VENV)/bin/python aws-sam-cli
	@touch $@

sam-venv: $(SAM_VENV)/.installed ## aws-sam-cli in its own venv (it pins older boto3/pydantic)

$(CHECKOV_VENV)/.installed:
	$(PYTHON) -m venv $(CHECKOV_VENV)
	@echo '*' > $(CHECKOV_VENV)/.gitignore
	$(CHECKOV_VENV)/bin/python -m pip install --quiet uv
	$(CHECKOV_VENV)/bin/uv pip install --quiet --python $(CHECKOV_VENV)/bin/python checkov==$(CHECKOV_VERSION)
	@touch $@

checkov-venv: $(CHECKOV_VENV)/.installed ## checkov in its own venv (it pins many libraries)

format: venv ## format the code with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

lint: venv ## ruff, mypy and cfn-lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy layers/shared/batchdrop local/batchdrop_local ops/batchdrop_ops functions tests
	$(BIN)/cfn-lint template.yaml

validate: sam-venv ## sam validate --lint (offline)
	$(SAM) validate --lint --region $(REGION)

# Fails on any failed check. Suppressions live in template.yaml, as Metadata.checkov.skip on the
# resource with the reason; --skip-download keeps checkov offline (no Prisma Cloud calls).
security: checkov-venv ## checkov on template.yaml: zero failed checks
	$(CHECKOV) -f template.yaml --framework cloudformation --quiet --compact --skip-download

# The fault matrix runs on four local stacks at once: its scenarios mostly wait (leases,
# redeliveries), so four cut its time to about a quarter even on two cores (118 scenarios on
# both backends: 9 min 18 s here on 2026-12-02, alone on the machine).
MATRIX_WORKERS ?= 4
# make test also runs the fast tiers on Python 3.13, the deployed runtime (about 1.5 to 3 minutes
# on two cores); make test-py313 runs every tier there (about as long as make test's own runs).
PY313_TIERS ?= tests/unit tests/template tests/emulator
test: venv venv-py313 lint validate security ## every test on Python 3.11, and the unit, template and emulator tiers on 3.13
	$(BIN)/pytest --ignore=tests/faults -n 2
	$(BIN313)/pytest $(PY313_TIERS) -n 2
	$(BIN)/pytest tests/faults -n $(MATRIX_WORKERS) --dist load

test-py313: venv-py313 ## every test (every tier, the fault matrix too) on Python 3.13
	$(BIN313)/pytest --ignore=tests/faults -n 2
	$(BIN313)/pytest tests/faults -n $(MATRIX_WORKERS) --dist load

test-fast: venv ## unit and emulator tests only
	$(BIN)/pytest tests/unit tests/emulator

# BENCH_ARGS="--sizes 1000,10000" for a shorter run; the default takes about 15 minutes.
BENCH_ARGS ?=
bench: venv ## benchmarks: Submit, Complete, Poll, cold starts vs Powertools (tables; see README)
	$(BIN)/python -m batchdrop_local.bench $(BENCH_ARGS)

demo: venv ## run the whole pipeline locally on samples/ and print the job summary
	$(BIN)/batchdrop demo

local-up: venv ## start the local stack (Ctrl-C stops it)
	$(BIN)/batchdrop local up

emulator: venv ## start only the Anthropic Message Batches emulator
	$(BIN)/batchdrop local emulator

build: sam-venv ## sam build (the deployable artifacts in .aws-sam/), then the layer's size
	$(SAM) validate --lint --region $(REGION)
	PYENV_VERSION=$(SAM_PYENV) $(SAM) build
	@$(MAKE) --no-print-directory layer-size

# What sam build put in the layer: its unzipped size (Lambda allows 250 MB for a function and its
# layers together), its file count, and the largest packages in it.
LAYER_ID := SharedLayer
LAYER_BUILD := .aws-sam/build/$(LAYER_ID)
layer-size: ## the built layer's size, file count and largest packages (after make build)
	@test -d $(LAYER_BUILD)/python || { echo "no $(LAYER_BUILD)/python: run make build first"; exit 1; }
	@printf '%s: %.1f MB unzipped, %d files\n' $(LAYER_ID) \
		"$$(du -sk $(LAYER_BUILD) | awk '{print $$1 / 1024}')" "$$(find $(LAYER_BUILD) -type f | wc -l)"
	@echo "largest packages (MB unzipped):"
	@find $(LAYER_BUILD)/python -mindepth 1 -maxdepth 1 ! -name '*.dist-info' -exec du -sk {} + \
		| sort -rn | head -12 | awk '{n = split($$2, p, "/"); printf "  %6.1f  %s\n", $$1 / 1024, p[n]}'

invoke: venv ## sam local invoke FUNCTION with EVENT; without a container runtime, in process against the local stack
	$(BIN)/batchdrop invoke $(FUNCTION) $(EVENT)

clean: ## remove build output and caches (keeps the venvs)
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache demo-results
