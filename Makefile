# `make demo` and `make test` set everything up in .venv on first use.
# torch is installed first, as `pip install $(TORCH_SPEC)` from pip's
# configured index: with plain PyPI on x86-64 Linux that is the CUDA build.
# For the CPU build name PyTorch's index, e.g.
#   make test TORCH_INDEX=https://download.pytorch.org/whl/cpu
# The choice is remembered (in $(VENV)/torch-choice.mk) for later make calls
# until it is given again with another value; `TORCH_INDEX=` (empty) goes back
# to pip's own index. Changing TORCH_SPEC or TORCH_INDEX reinstalls torch.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_CHOICE := $(VENV)/torch-choice.mk
# Precedence: the command line, the environment, the remembered choice, the
# defaults below (the remembered file only sets what is still unset).
-include $(TORCH_CHOICE)
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
define TORCH_CHOICE_TEXT
# The torch build make installs into $(VENV); written by the Makefile.
TORCH_SPEC ?= $(TORCH_SPEC)
TORCH_INDEX ?= $(TORCH_INDEX)
endef
# Remember the choice when it differs from what is remembered.
ifneq ($(strip $(file < $(TORCH_CHOICE))),$(strip $(TORCH_CHOICE_TEXT)))
$(shell mkdir -p $(VENV))
$(file > $(TORCH_CHOICE),$(TORCH_CHOICE_TEXT))
endif
# One stamp per torch spec and index, so that changing either reinstalls.
TORCH_ID := $(shell printf '%s %s' '$(TORCH_SPEC)' '$(TORCH_INDEX)' | cksum | cut -d' ' -f1)
TORCH_STAMP := $(VENV)/.torch-$(TORCH_ID)

.PHONY: demo test test-min lint docs test-docs clean

# torch is uninstalled first: pip keeps an installed torch that satisfies the
# spec, whatever its build.
$(TORCH_STAMP):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip uninstall -q -y torch
	$(PY) -m pip install -q "$(TORCH_SPEC)"$(if $(TORCH_INDEX), --index-url $(TORCH_INDEX))
	rm -f $(VENV)/.torch-*
	touch $@

$(VENV)/.installed: pyproject.toml $(TORCH_STAMP)
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

demo: $(VENV)/.installed
	$(PY) benchmarks/demo.py

test: $(VENV)/.installed
	$(PY) -m pytest

# The whole suite on the lowest versions pyproject.toml allows (numpy, scipy,
# scikit-learn, skorch; torch as TORCH_SPEC says), in a venv of its own.
MIN_VENV ?= .venv-min
$(MIN_VENV)/.installed: pyproject.toml .ci/min_requirements.py
	$(PYTHON) -m venv $(MIN_VENV)
	$(MIN_VENV)/bin/python -m pip install -q --upgrade pip
	$(PYTHON) .ci/min_requirements.py > $(MIN_VENV)/constraints.txt
	$(MIN_VENV)/bin/python -m pip install -q "$(TORCH_SPEC)"$(if $(TORCH_INDEX), --index-url $(TORCH_INDEX))
	$(MIN_VENV)/bin/python -m pip install -q -c $(MIN_VENV)/constraints.txt -e ".[test]"
	touch $@

test-min: $(MIN_VENV)/.installed
	$(MIN_VENV)/bin/python -m pip list 2>/dev/null | grep -i -E "^(numpy|scipy|scikit-learn|skorch|torch) "
	$(MIN_VENV)/bin/python -m pytest -q

# The documentation site (docs/, examples/) into docs/_build/html, every
# warning an error; the gallery runs every example. test-docs checks the
# built site in headless Chromium (Debian's chromium and chromium-driver),
# its internal links, and builds, checks and installs the sdist and wheel.
$(VENV)/.docs-installed: pyproject.toml $(VENV)/.installed
	$(PY) -m pip install -q -e ".[docs]"
	touch $@

docs: $(VENV)/.docs-installed
	$(VENV)/bin/sphinx-build -W --keep-going -b html docs docs/_build/html

test-docs: $(VENV)/.docs-installed
	MGC_TEST_PACKAGING=1 TORCH_SPEC='$(TORCH_SPEC)' TORCH_INDEX='$(TORCH_INDEX)' \
		$(PY) -m pytest tests/test_docs_site.py tests/test_packaging.py

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check mgclassifier tests benchmarks examples docs/conf.py
	$(VENV)/bin/ruff format --check mgclassifier tests benchmarks examples docs/conf.py
	$(VENV)/bin/lint-imports  # ARCHITECTURE.md's import rules (pyproject.toml)

clean:
	rm -rf $(VENV) $(MIN_VENV) build dist *.egg-info docs/_build docs/generated \
		docs/auto_examples docs/gen_modules docs/sg_execution_times.rst
