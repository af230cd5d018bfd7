# kxflow: `make run` starts the product on SQLite with demo data; `make test` runs everything.
SHELL := /bin/bash
# the first Python 3.11 or newer on the PATH
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' && { command -v $$p; break; }; done)
PORT ?= 5000
VENV := .venv
BIN := $(VENV)/bin
LOCK := requirements.lock
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml $(LOCK) | sha1sum | cut -c1-12)
FLASK := $(BIN)/flask --app wsgi
# `make run` is development on purpose; anything else (an image, a WSGI server) is production unless told
DEV := KXFLOW_ENV=development
# uv only regenerates the lock (make lock); installs use pip with --require-hashes.
TOOLS := .venv-tools
UV_VERSION := 0.13.8
UV_STAMP := $(TOOLS)/.uv-$(UV_VERSION)

# (messages: see below)
.PHONY: diagram messages install translations run reset-demo services test test-sqlite test-postgres lint bench replay clean lock vendor

# Every dependency, transitive included, comes from the hashed lock; the project itself is not in it.
$(STAMP): pyproject.toml $(LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check --require-hashes -r $(LOCK)
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -e .
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP) translations

translations: $(STAMP)
	@$(BIN)/pybabel compile -d kxflow/translations > /dev/null

# After changing strings: extract them and update the zh and en catalogues (sorted, no source lines, so
# two changes touch different lines), then translate what is new.
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
	  -o kxflow/translations/messages.pot .
	$(BIN)/pybabel update -N --ignore-obsolete -i kxflow/translations/messages.pot -d kxflow/translations

# e-mail links follow the port (unless KXFLOW_BASE_URL says otherwise)
export KXFLOW_BASE_URL ?= http://127.0.0.1:$(PORT)

run: install
	@bash deploy/papers-packages.sh || echo "make run: the PDF papers (申报书, 公示名单, 命名名单) will answer 503 with what to install: the Chinese fonts (fonts-noto-cjk) or WeasyPrint's libraries are missing."
	$(DEV) $(FLASK) db upgrade
	$(DEV) $(FLASK) kxflow load-regions
	$(DEV) $(FLASK) kxflow seed-demo
	@echo "Web at http://127.0.0.1:$(PORT); a Celery worker with beat runs alongside (no Redis needed);"
	@echo "e-mail is written to instance/mail/, one .eml file per message."
	@trap 'kill 0' EXIT INT TERM; \
	$(DEV) $(BIN)/celery -A workers.celery_app worker -B --concurrency 1 --loglevel warning \
	  -s instance/celerybeat-schedule & \
	$(DEV) $(FLASK) run --host 127.0.0.1 --port $(PORT)

# The demo as new: its database, uploads, e-mail and queue are removed, then built and seeded again.
reset-demo: install
	rm -rf instance/kxflow.sqlite instance/kxflow.sqlite-wal instance/kxflow.sqlite-shm instance/uploads \
	  instance/mail instance/celery instance/celerybeat-schedule
	$(DEV) $(FLASK) db upgrade
	$(DEV) $(FLASK) kxflow load-regions
	$(DEV) $(FLASK) kxflow seed-demo

services:
	@bash tests/services.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

test-sqlite: install services
	KXFLOW_TEST_DB=sqlite $(BIN)/pytest $(PYTEST_ARGS)

test-postgres: install services
	KXFLOW_TEST_DB=postgresql $(BIN)/pytest $(PYTEST_ARGS)

test: install services lint
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory test-sqlite && \
	$(MAKE) --no-print-directory test-postgres && \
	echo "make test: both databases passed in $$(( $$(date +%s) - start )) s"

$(UV_STAMP):
	@test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	@rm -f $(TOOLS)/.uv-* && touch $(UV_STAMP)

# Keeps the pins already in the lock where pyproject.toml allows; LOCK_ARGS=--upgrade refreshes them all.
lock: $(UV_STAMP)
	$(TOOLS)/bin/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
	  --generate-hashes --no-config --custom-compile-command 'make lock' --quiet -o $(LOCK) $(LOCK_ARGS)

vendor: $(STAMP)
	$(BIN)/python -m kxflow.vendoring fetch $(VENDOR_ARGS)

diagram: install
	$(BIN)/python -m tests.render_workflow

# The national cycle replayed on PostgreSQL with a real worker and SMTP server (tests/replay.py); COUNTIES=n
# for a shorter run (make test runs 36).
replay: install services
	KXFLOW_TEST_DB=postgresql KXFLOW_REPLAY_COUNTIES=$(or $(COUNTIES),1869) $(BIN)/pytest tests/test_replay.py -q

bench: install services
	$(BIN)/python -m tests.bench.transitions $(BENCH_ARGS)
	$(BIN)/python -m tests.bench.dashboard
	$(BIN)/python -m tests.bench.mail

clean:
	rm -rf $(VENV) $(TOOLS) instance test-output bench-output .pytest_cache
