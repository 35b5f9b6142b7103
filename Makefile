# Shagym — everything runs from the project's own virtualenv (.venv), created on first use.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run lint test bench stack stack-down locales-extract locales-update locales-compile locales clean

$(STAMP): pyproject.toml
	@test -n "$(PY)" || { echo "need python3.11 (or python3 >= 3.11) on PATH"; exit 1; }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

setup: $(STAMP) locales-compile

## Set up and run the bot (console mode when BOT_TOKEN is empty).
run: setup
	$(BIN)/python -m bot

## The gate: ruff (pyflakes, imports, complexity, bugbear) and mypy (strict on bot/domain and storage).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

## Set up, then the gate, then the whole test suite, on two workers (pytest-xdist; each has its own PostgreSQL
## databases and Redis db; the longest tests start first, and an idle worker takes tests from the other).
test: setup lint
	$(BIN)/python -m pytest -n 2 --dist worksteal

## Set up and run the benchmarks (figures printed as ratios against a baseline of the same run).
bench: setup
	$(BIN)/python -m bench

## A local two-instance stack on loopback: PostgreSQL, Redis, two bot instances (webhook), HAProxy (README "Deploy").
stack: setup
	$(BIN)/python scripts/stack.py up

stack-down:
	$(BIN)/python scripts/stack.py down

locales-extract: $(STAMP)
	$(BIN)/python scripts/i18n.py extract

locales-update: $(STAMP)
	$(BIN)/python scripts/i18n.py update

locales-compile: $(STAMP)
	$(BIN)/python scripts/i18n.py compile

## extract + update + compile
locales: $(STAMP)
	$(BIN)/python scripts/i18n.py all

clean:
	rm -rf $(VENV) locales/*/LC_MESSAGES/*.mo
