# Two entry points for a fresh machine (see README.md):
#   make report   install everything into .venv and run the approximation-error report
#   make test     install everything into .venv and run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
OUT    ?= report

.PHONY: install report report-quick test test-all lint bench

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -e '.[test]'
	touch $@

install: $(VENV)/.installed

report: install
	$(VENV)/bin/mitheory report --out $(OUT)

report-quick: install
	$(VENV)/bin/mitheory report --quick --out $(OUT)

test: install
	$(PY) -m pytest

test-all: install
	$(PY) -m pytest -m ''

lint: install
	$(VENV)/bin/ruff check .

bench: install
	$(PY) benchmarks/estimators_bench.py
