# Guess the Doodle: `make run` plays, `make test` tests. Both install what is missing first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
# pytest-xdist workers for make test (a file at a time each; see tests/conftest.py's LONG_FILES).
TEST_WORKERS ?= 2
PORT ?= 8000

.PHONY: run dev worker test lint install install-dev system-deps npm migrate train-default bench evaluate clean

# The training worker (django-tasks' db_worker on the "training" queue): `make run` starts one beside the web
# process and stops it with it; `make worker` runs one alone (e.g. on a second host).
TRAINING_WORKER := $(PY) manage.py training_worker

# Safe to share: Daphne exactly as deployed (frame limits), DEBUG off, a secret key generated into var/ on
# first start, this machine's addresses allowed when HOST=0.0.0.0; prints the URLs to share.
# The web server is the last command of the recipe (it runs in the foreground until Ctrl-C).
run: install npm migrate
	$(TRAINING_WORKER) & trap 'kill $$! 2>/dev/null' EXIT; $(PY) -m config.serve --host $(HOST) --port $(PORT)

# Development: DEBUG on (tracebacks in the browser) and autoreload on code changes.
dev: install npm migrate
	$(TRAINING_WORKER) & trap 'kill $$! 2>/dev/null' EXIT; DEBUG=1 BIND_HOST=$(HOST) $(PY) manage.py runserver $(HOST):$(PORT)

worker: install migrate
	$(TRAINING_WORKER)

test: install-dev npm system-deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/vulture
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/vulture

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# A stamp per requirements file: pip runs again only when a pin changes.
$(VENV)/.runtime: requirements.txt requirements.lock | $(VENV)/bin/python
	$(PIP) install -q -r requirements.txt -c requirements.lock
	touch $@

$(VENV)/.dev: requirements.txt requirements-train.txt requirements-tools.txt requirements-dev.txt requirements.lock | $(VENV)/bin/python
	$(PIP) install -q -r requirements-dev.txt -c requirements.lock
	touch $@ $(VENV)/.runtime

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

npm: node_modules/.installed

system-deps:
	./scripts/system-deps.sh

migrate: install
	$(PY) manage.py migrate --noinput

# The command that made the shipped default model (see inference/shipped_model/COMMAND.txt).
# The shipped model is two networks of two recipes: the second (label smoothing 0.2) is trained first and exported
# under var/, then the first is trained and exported carrying it (inference/shipped_model/COMMAND.txt).
train-default: install-dev
	$(PY) manage.py train --source ../shared/quickdraw/simplified --epochs 70 --partial-rate 0.4 --patience 12 --channels 3 --dropout 0.1 \
		--label-smoothing 0.2 --mirror-below auto --export-dir var/second_network --no-register
	$(PY) manage.py train --source ../shared/quickdraw/simplified --epochs 70 --partial-rate 0.4 --patience 12 --channels 3 --dropout 0.1 \
		--mirror-below 0.55 --second-network var/second_network --turns 10 --export-dir inference/shipped_model --no-register

bench: install-dev
	$(PY) manage.py bench_inference --json

clean:
	rm -rf $(VENV) node_modules staticfiles var db.sqlite3
