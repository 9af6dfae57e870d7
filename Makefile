# Sova — every target sets itself up; `make setup` is idempotent and fast when nothing changed.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || echo python3)
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
TOOLS_STAMP := tools/node_modules/.installed
INTEROP_STAMP := tools/interop/node_modules/.installed
PACKAGES := identity wallet policies skills runtime
AGENTS ?= agents.yaml

.PHONY: setup run test lint typecheck imports unit unit-fast bench bench-smoke contracts clean

CHROMIUM := /usr/bin/chromium

setup: $(STAMP) $(TOOLS_STAMP) $(INTEROP_STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if (3, 11) <= v < (3, 13) else "Sova needs Python 3.11 or 3.12 (didkit has no wheels for newer): install python3.11 and run make again")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@# compat: the checkout is a sys.path entry, so a user's `policies/` folder (python -m pytest in a
	@# `sova init` project) cannot shadow our package as a namespace package; the finder mode let it.
	PYTHONWARNINGS=ignore $(PY) -m pip install --quiet -e '.[dev]' --config-settings editable_mode=compat
	@touch $@

$(TOOLS_STAMP): tools/package.json tools/package-lock.json
	cd tools && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Reference JS libraries (Digital Bazaar vc, jose, the A2A JS SDK) used only by the interop tests.
$(INTEROP_STAMP): tools/interop/package.json tools/interop/package-lock.json
	cd tools/interop && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The browser tests (tests/browser) drive Debian's chromium through the playwright package of the dev
# extras, launched with executable_path; never `playwright install` (no browser downloads).
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	$$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

# The demo market: local chain, contracts, keys, funds, one process per agent; Ctrl-C stops it all.
run: setup
	$(BIN)/sova up -f $(AGENTS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(PY) tools/check_sizes.py

typecheck: setup
	$(BIN)/mypy

imports: setup
	$(BIN)/lint-imports

# Only the tests need a browser: `make run` does not install one.
unit: setup $(CHROMIUM)
	$(BIN)/pytest

# The inner loop (under 2 minutes): no chain, no processes, no browser, nothing marked slow.
# tests/conftest.py marks each test by its folder; `make test` still runs every test.
FAST := not chain and not e2e and not browser and not interop and not slow

unit-fast: setup
	$(BIN)/pytest -q -m "$(FAST)"

test: lint typecheck imports unit bench-smoke

# The uAgents baseline of bench/messages.py lives in its own venv: uagents pins protobuf<6, which
# does not fit beside a2a-sdk's.
UAGENTS_VENV := .venv-uagents
UAGENTS_STAMP := $(UAGENTS_VENV)/.installed

$(UAGENTS_STAMP):
	@test -x $(UAGENTS_VENV)/bin/python || $(PYTHON) -m venv $(UAGENTS_VENV)
	$(UAGENTS_VENV)/bin/python -m pip install --quiet 'uagents==0.26.1'
	@touch $@

bench: setup $(UAGENTS_STAMP)
	@mkdir -p bench/results
	@# -P: do not put bench/ on sys.path, where bench/wallet.py would shadow the wallet package.
	@# Every script runs even when one misses its target (exit 1); make fails at the end if any did.
	@fail=0; for b in bench/*.py; do echo "== $$b"; $(PY) -P $$b || fail=1; done; exit $$fail

# Every bench script end to end with tiny counts (~1 min), so none can rot unnoticed: crashes and wrong
# results fail it (a deal not released, a signature while paused, the policy engines disagreeing),
# missed speed targets do not, and bench/results/ is left alone. The uAgents baseline runs only when
# its venv is already there (`make bench` makes it); otherwise its row says it was not run.
bench-smoke: setup
	@fail=0; for b in bench/*.py; do echo "== $$b --smoke"; $(PY) -P $$b --smoke || { echo "FAILED: $$b --smoke"; fail=1; }; done; exit $$fail

contracts: $(TOOLS_STAMP)
	$(PY) tools/compile_contracts.py

clean:
	rm -rf $(VENV) tools/node_modules .mypy_cache .ruff_cache .pytest_cache
