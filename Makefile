# Quick start: `make demo` and `make test` (each creates .venv when needed).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP_DEMO := $(VENV)/.installed-demo
STAMP_DEV  := $(VENV)/.installed-dev

.PHONY: demo test check lint typecheck bench clean system-packages

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
demo: $(STAMP_DEMO)
	$(BIN)/python demo/run_demo.py

## test: the whole suite (SQLite and PostgreSQL backends)
test: $(STAMP_DEV) system-packages
	$(BIN)/python -m pytest -q

# Graphviz draws `trace --format svg|png`; its tests need the real program (Debian: graphviz).
system-packages:
	@command -v dot >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "installing Graphviz (apt-get install graphviz) for the picture tests"; \
	    (apt-get install -y -q graphviz >/dev/null 2>&1 || \
	     (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q graphviz >/dev/null)); \
	  else echo "note: Graphviz's dot is missing: install the graphviz package"; fi; }

lint: $(STAMP_DEV)
	$(BIN)/ruff check src tests bench demo
	$(BIN)/ruff format --check src tests bench demo

typecheck: $(STAMP_DEV)
	$(BIN)/mypy

check: lint typecheck test

bench: $(STAMP_DEV)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .threadline demo-output .bench .pytest_cache .mypy_cache .ruff_cache
