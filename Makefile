# Rapport: `make run` (API on a local database with a demo tenant) and `make test` (everything).
SHELL := /bin/bash
PYTHON ?= python3
UV := $(PYTHON) -m uv
RUN := $(UV) run --locked

.PHONY: help install run test lint fmt migrate bench schema

help:
	@echo "make run      start the API with a project-local Postgres, a demo tenant and GraphiQL"
	@echo "make test     install what is needed, lint, run the whole test suite"
	@echo "make lint     ruff + mypy"
	@echo "make fmt      format and auto-fix"
	@echo "make migrate  apply migrations to RAPPORT_OWNER_DATABASE_URL (or RAPPORT_DATABASE_URL)"
	@echo "make schema   regenerate schema/schema.graphql from the code"
	@echo "make bench    benchmark against PostGraphile and raw asyncpg (../shared/bench)"

install:
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check uv
	@$(UV) sync --locked --quiet

run: install
	$(RUN) python -m backend.cli run

test: install lint
	$(RUN) pytest

lint: install
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy .

fmt: install
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

migrate: install
	$(RUN) python -m backend.cli migrate

schema: install
	$(RUN) python -m schema
