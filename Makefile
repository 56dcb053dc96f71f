# Rapport: `make run` (API on a local database with a demo tenant) and `make test` (everything).
SHELL := /bin/bash
PYTHON ?= python3
UV := $(PYTHON) -m uv
RUN := $(UV) run --locked

.PHONY: help install run worker test lint fmt migrate bench bench-subscriptions schema

help:
	@echo "make run      start the API with a project-local Postgres, a demo tenant and GraphiQL"
	@echo "make worker   run background jobs (webhooks, retention) on RAPPORT_DATABASE_URL and RAPPORT_BROKER_URL"
	@echo "make test     install what is needed, lint, run the whole test suite"
	@echo "make lint     ruff + mypy"
	@echo "make fmt      format and auto-fix"
	@echo "make migrate  apply migrations to RAPPORT_OWNER_DATABASE_URL (or RAPPORT_DATABASE_URL)"
	@echo "make schema   regenerate schema/schema.graphql from the code"
	@echo "make bench    benchmark against PostGraphile and raw asyncpg (../shared/bench; see bench/README.md)"
	@echo "make bench-subscriptions  10,000 WebSocket subscriptions on one process: memory per socket, latency"

install:
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check uv
	@$(UV) sync --locked --quiet

run: install
	$(RUN) python -m backend.cli run

worker: install
	$(RUN) python -m backend.cli worker

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

# The shared harness (../shared/bench) runs Rapport (bench/rapport.py), PostGraphile (A) and raw
# Starlette+asyncpg (B) interleaved on the same data; bench/README.md explains the knobs.
BENCH_HARNESS ?= $(abspath ../shared/bench)
BENCH_SYSTEMS ?= postgraphile,python_asyncpg,rapport
ROUNDS ?= 2
DURATION ?= 10
WARMUP ?= 3
PROCS ?= 1
BENCH_ARGS ?= --no-pgbench
export BENCH_DATA ?= /tmp/bench-data

bench: install
	@test -x "$(BENCH_DATA)/venv/bin/python" -a -d "$(BENCH_DATA)/node/node_modules/postgraphile" \
		&& command -v wrk >/dev/null || "$(BENCH_HARNESS)/run.sh" setup
	@test -f "$(BENCH_DATA)/dataset.json" && psql -X -q -h 127.0.0.1 -U root -d "$${BENCH_DB:-bench_crm}" \
		-c "SELECT 1 FROM accounts LIMIT 1" >/dev/null 2>&1 || "$(BENCH_HARNESS)/run.sh" gen
	SYSTEMS=$(BENCH_SYSTEMS) BENCH_SYSTEMS_PATH=$(CURDIR)/bench CRM_PRODUCT_DIR=$(CURDIR) \
		"$(BENCH_HARNESS)/run.sh" bench --rounds $(ROUNDS) --procs $(PROCS) --duration $(DURATION) \
		--warmup $(WARMUP) $(BENCH_ARGS)
	BENCH_HARNESS=$(BENCH_HARNESS) $(RUN) python -m bench._explain

# 10,000 sockets need more file descriptors than the usual default soft limit.
bench-subscriptions: install
	ulimit -n $$(ulimit -Hn) && $(RUN) python bench/subscriptions.py $(BENCH_SUBSCRIPTIONS_ARGS)
