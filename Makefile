# Backhaul — `make run` starts the platform with a demo ISP; `make test` runs the whole suite.
# Both need only Python 3.11 and access to the package registries.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
# pgserver asks platformdirs for a private runtime dir; give it one inside the checkout.
export XDG_RUNTIME_DIR := $(CURDIR)/.data/run

.PHONY: run test lint typecheck bench setup clean-data radius

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip==25.3"
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

setup: $(VENV)/.installed
	@mkdir -p -m 700 $(XDG_RUNTIME_DIR)

run: setup
	BACKHAUL_MODE=development $(PY) -m config.run

# FreeRADIUS on the dev database (installs freeradius + freeradius-postgresql via apt-get when root,
# else prints the command). Options: make radius ARGS="--auth-port 1812 --acct-port 1813 --listen 127.0.0.1"
radius: setup
	$(PY) -m network.radius.run $(ARGS)

test: setup
	$(PY) -m tests.run $(ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: setup
	BACKHAUL_MODE=test $(VENV)/bin/mypy .

bench: setup
	$(PY) -m bench.run

clean-data:
	-BACKHAUL_MODE=development $(PY) -m config.embedded stop dev
	-BACKHAUL_MODE=test $(PY) -m config.embedded stop test
	rm -rf .data
