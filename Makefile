# Two jobs: `make demo` sets up and runs the main job; `make test` sets up and runs the tests.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python

$(VENV)/.installed-runtime: requirements.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed-runtime requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	touch $@

.PHONY: setup setup-dev bytecode demo test lint
setup: $(VENV)/.installed-runtime
setup-dev: $(VENV)/.installed-dev

# Byte-compile our own sources, as pip does for installed packages. Where Python may not write bytecode
# (PYTHONDONTWRITEBYTECODE, set on some CI machines) every process would otherwise compile every module it
# imports (~0.1 s each time). Only changed files are compiled again; a stale cache is never used.
bytecode: setup
	$(PY) -m compileall -q executor.py core exchange memory runtime tools reports oracle scouts

demo: setup bytecode
	$(PY) executor.py backtest --synthetic --seed 7 --format text

lint: setup-dev
	$(PY) -m ruff check .

test: setup-dev bytecode
	$(PY) -m ruff check .
	$(PY) -m pytest -n 2
