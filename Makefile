# Two commands do everything on a fresh machine:
#   make demo   a venv, baton installed, the example jobs running with a live view
#   make test   everything the tests need, then lint, layer contracts and the whole suite
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_ARGS ?=

.PHONY: demo test install lint bench clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(PY) examples/demo.py $(DEMO_ARGS)

lint: install
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/ruff format --check src tests benchmarks examples
	$(VENV)/bin/lint-imports

test: lint
	$(VENV)/bin/pytest

bench: install
	$(PY) benchmarks/bench_sqlite.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache baton-demo.db*
