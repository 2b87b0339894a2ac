# Every target installs what it needs; `make test` is what CI runs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
MYPY_TARGETS := pyqueue_client tests typings bench
# Test tools for the matrix venvs: the newest versions that still install on Python 3.8.
MATRIX_TOOLS := pytest==8.3.5
MATRIX_VERSIONS := 3.8 3.9 3.10 3.11 3.12 3.13

.PHONY: install lint typecheck pytest test matrix bench demo dist clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy --strict --platform linux $(MYPY_TARGETS)
	$(BIN)/mypy --strict --platform win32 $(MYPY_TARGETS)

# The dashboard's browser tests need Debian's chromium (.ci/run installs it); without it they skip.
CHROMIUM := /usr/bin/chromium

pytest: install
	@test -x $(CHROMIUM) || printf '\n%s\n%s\n%s\n\n' '*****************************************' \
		'*** $(CHROMIUM) is missing: the dashboard browser tests are SKIPPED' \
		'*** install it: apt-get install -y chromium chromium-driver'
	$(BIN)/python -m pytest --cov --cov-branch --cov-report=term-missing -p no:cacheprovider

test: lint typecheck pytest

matrix:
	@bash scripts/matrix.sh $(MATRIX_VERSIONS) -- $(MATRIX_TOOLS)

# bench/run.py runs every suite (local-json, remote, sqlite, waiting, sqs); each prints its tables and
# writes bench/results/. A suite that misses a target is reported and the others still run; the run then
# exits 1. Studies (bench/studies/) are not part of it.
bench: install
	-$(BIN)/python bench/run.py

demo:
	$(PYTHON) -m pyqueue_client demo

# The sdist and the wheel, in dist/ (install one with: pip install dist/pyqueue_client-*.whl).
dist: install
	rm -rf dist
	$(BIN)/python -m build --outdir dist .

clean:
	rm -rf $(VENV) .venv-matrix .mypy_cache .ruff_cache .coverage .coverage.* htmlcov dist build
