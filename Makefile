# Everything bootstraps itself from uv.lock into .venv/: a fresh machine needs only python3.
PYTHON ?= python3
UV_VERSION := 0.13.8
UV := .tools/bin/uv
VENV := .venv
WAREHOUSE ?= $(or $(TREADMILL_WAREHOUSE),warehouse)
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: demo test format ui bench clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet "uv==$(UV_VERSION)"

$(VENV)/.synced: $(UV) uv.lock pyproject.toml
	$(UV) sync --frozen --quiet
	touch $@

demo: $(VENV)/.synced
	$(VENV)/bin/treadmill demo

test: $(VENV)/.synced
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/sqlfluff lint --processes 2 sql/
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache
	scratch=$$(mktemp -d) && TREADMILL_WAREHOUSE=$$scratch $(VENV)/bin/dagster definitions validate; \
		status=$$?; rm -rf $$scratch; exit $$status
	$(VENV)/bin/pytest -n 2

format: $(VENV)/.synced
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/sqlfluff fix --processes 2 sql/

# The Dagster UI on http://127.0.0.1:3000, with run history under the warehouse (dagster.yaml).
ui: $(VENV)/.synced
	TREADMILL_WAREHOUSE=$(abspath $(WAREHOUSE)) $(VENV)/bin/dagster dev -h 127.0.0.1 -p 3000

# Benchmarks (not part of test): BENCH_ARGS=--quick for a smoke run; see README "Benchmarks".
bench: $(VENV)/.synced
	$(VENV)/bin/python -m benchmarks $(BENCH_ARGS)

clean:
	rm -rf .tools $(VENV) .pytest_cache .mypy_cache .ruff_cache
