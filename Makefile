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

.PHONY: setup setup-dev demo test lint
setup: $(VENV)/.installed-runtime
setup-dev: $(VENV)/.installed-dev

demo: setup
	$(PY) executor.py backtest --synthetic --seed 7 --format text

lint: setup-dev
	$(PY) -m ruff check .

test: setup-dev
	$(PY) -m ruff check .
	$(PY) -m pytest -n 2
