# Two entry points for a new user: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
BUNDLE := var/models/current

.PHONY: run test lint train bench clean browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Stamp files: reinstall only when pyproject.toml or the C source of model/ changes (the install compiles it).
# `make run` installs the core and the `train` extra (serving and `otklik train`); `make test` adds `dev`.
$(VENV)/.installed: pyproject.toml model/_matchloop.c | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[train]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml model/_matchloop.c | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[train,dev]'
	touch $@ $(VENV)/.installed

$(BUNDLE)/meta.json: | $(VENV)/.installed
	$(BIN)/otklik train

run: $(VENV)/.installed $(BUNDLE)/meta.json
	$(BIN)/otklik serve --host 127.0.0.1 --port 8000

train: $(VENV)/.installed
	$(BIN)/otklik train

# The browser tests (tests/web) drive Debian's chromium; install it when missing and possible, never fail.
browser:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		echo "no chromium: browser tests will skip"

test: $(VENV)/.installed-dev browser
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -q
	$(BIN)/python .ci/runtime_check.py

clean:
	rm -rf var mlruns .pytest_cache .mypy_cache .ruff_cache
