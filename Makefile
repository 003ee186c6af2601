# make demo : set up (once) and run the CPU demo      make test : set up (once) and run the tests
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
export HF_HUB_OFFLINE ?= 1
export WANDB_MODE ?= offline
export WANDB_SILENT ?= true

.PHONY: setup test test-fast demo bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $@

test: setup
	$(PY) -m pytest -n 2 --dist loadfile

test-fast: setup
	$(PY) -m pytest -n 2 --dist loadfile -m "not slow"

demo: setup
	$(VENV)/bin/t2i-rl demo --out runs/demo

bench: setup
	$(PY) scripts/bench_train_step.py

clean:
	rm -rf runs .pytest_cache
