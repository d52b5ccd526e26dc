# Everything bootstraps itself from uv.lock into .venv/: a fresh machine needs only python3.
PYTHON ?= python3
UV_VERSION := 0.13.8
UV := .tools/bin/uv
VENV := .venv
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: demo test lint typecheck format ui bench clean

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
	$(VENV)/bin/mypy
	$(VENV)/bin/dagster definitions validate -m pipelines.definitions
	$(VENV)/bin/pytest -n 2

format: $(VENV)/.synced
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

ui: $(VENV)/.synced
	$(VENV)/bin/treadmill ui

clean:
	rm -rf .tools $(VENV) .pytest_cache .mypy_cache .ruff_cache
