# The two commands: `make run` (the whole system) and `make test` (the whole suite).
# Both create .venv from pyproject.toml on first use; nothing else needs installing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run demo test lint typecheck pytest admin migrate bench haproxy clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m services.run

demo: $(STAMP)
	$(BIN)/python -m services.run --demo

admin: $(STAMP)
	$(BIN)/python -m services.registry.cli create-admin --username $${ADMIN_USERNAME:-admin}

migrate: $(STAMP)
	$(BIN)/alembic upgrade head

# Benchmarks against bare baselines (README "Performance"); QUICK=1 for the small size.
bench: $(STAMP) haproxy
	$(BIN)/python -m bench $(if $(QUICK),--quick,) $(if $(SIZE),--size $(SIZE),) $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# HAProxy (Debian package) for the replica test and benchmark; they skip or fail saying so
# where it cannot be installed (and install it themselves when they can).
haproxy:
	@sh scripts/install_haproxy.sh || echo "HAProxy unavailable: tests/e2e/test_replicas.py will be skipped"

pytest: $(STAMP) haproxy
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
