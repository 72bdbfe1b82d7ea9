# `make demo` and `make test` set everything up in .venv on first use.
# TORCH_SPEC picks the torch build: the default is the CPU wheel; for CUDA run
# e.g. `make test TORCH_SPEC=torch`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_SPEC ?= torch==2.13.0

.PHONY: demo test lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[test,benchmark]" ruff
	touch $@

demo: $(VENV)/.installed
	$(PY) benchmarks/demo.py

test: $(VENV)/.installed
	$(PY) -m pytest

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check mgclassifier tests benchmarks
	$(VENV)/bin/ruff format --check mgclassifier tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info
