# Quick start: `make demo` and `make test` (each creates .venv when needed).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP_DEMO := $(VENV)/.installed-demo
STAMP_DEV  := $(VENV)/.installed-dev

.PHONY: demo test check lint typecheck bench clean system-packages ui

# The web UI (web/, built with the machine's Node.js into the package; shipped in the wheel).
UI_BUILD   := src/threadline/server/webui/index.html
UI_SOURCES := $(wildcard web/src/*.ts web/src/*/*.ts web/src/*.css) web/index.html \
              web/package.json web/package-lock.json web/vite.config.ts web/tsconfig.json

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_DEMO): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[demo]'
	touch $@

$(STAMP_DEV): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(STAMP_DEMO)

## demo: run the bundled ML pipeline on the embedded store and question its lineage
demo: $(STAMP_DEMO) ui
	$(BIN)/python demo/run_demo.py
	@echo
	@echo "See it in the browser: run $(BIN)/threadline serve here, then open http://127.0.0.1:8765/ui/"

## ui: build the web UI (npm ci + vite) when its sources changed
ui: $(UI_BUILD)

$(UI_BUILD): $(UI_SOURCES)
	@command -v npm >/dev/null 2>&1 || { echo "the web UI needs Node.js and npm (Debian: apt-get install nodejs npm)"; exit 1; }
	cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build

## test: the whole suite (SQLite and PostgreSQL backends)
test: $(STAMP_DEV) system-packages ui
	$(BIN)/python -m pytest -q

# Graphviz draws `trace --format svg|png`; its tests need the real program (Debian: graphviz).
# The web UI's browser tests drive Debian's Chromium (chromium, chromium-driver).
system-packages:
	@command -v dot >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "installing Graphviz (apt-get install graphviz) for the picture tests"; \
	    (apt-get install -y -q graphviz >/dev/null 2>&1 || \
	     (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q graphviz >/dev/null)); \
	  else echo "note: Graphviz's dot is missing: install the graphviz package"; fi; }
	@test -x /usr/bin/chromium || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "installing Chromium (apt-get install chromium chromium-driver) for the web UI tests"; \
	    (apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || \
	     (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium chromium-driver >/dev/null)); \
	  else echo "note: /usr/bin/chromium is missing: install the chromium package"; fi; }

lint: $(STAMP_DEV)
	$(BIN)/ruff check src tests bench demo hatch_build.py
	$(BIN)/ruff format --check src tests bench demo hatch_build.py

typecheck: $(STAMP_DEV)
	$(BIN)/mypy

check: lint typecheck test

bench: $(STAMP_DEV)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .threadline demo-output .bench .pytest_cache .mypy_cache .ruff_cache \
	  .test-artifacts web/node_modules src/threadline/server/webui
