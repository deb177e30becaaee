# Two commands do everything on a fresh machine:
#   make demo   a venv, baton installed, `baton demo` serving a simulated CML fleet
#   make test   everything the tests need, then lint, layer contracts and the whole suite
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_ARGS ?=

.PHONY: demo test install system-deps lint bench clean

# Servers and tools the tests start themselves (Debian/Ubuntu; needs root or sudo).
SYSTEM_TOOLS := redis-server:redis-server faketime:faketime curl:curl
system-deps:
	@missing=""; for pair in $(SYSTEM_TOOLS); do \
		command -v $${pair%%:*} >/dev/null || missing="$$missing $${pair##*:}"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,redis,fleet,demo]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(VENV)/bin/baton demo $(DEMO_ARGS)

lint: install
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/ruff format --check src tests benchmarks examples
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

test: system-deps lint
	$(VENV)/bin/pytest

bench: install
	$(PY) benchmarks/bench_sqlite.py
	$(PY) benchmarks/bench_fleet.py
	$(PY) benchmarks/bench_cli.py
	$(PY) benchmarks/bench_startup.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache baton-demo baton-demo.db*
