# The two commands that matter: `make run` and `make test`. Both are idempotent and need only
# Python 3.11, make and git; every dependency comes from requirements.lock.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.8
STAMP := $(VENV)/.installed

.PHONY: run test test-fast venv lint lock demo bench clean dashboard portal browser-deps mail-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(BIN)/uv: | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# Reinstall whenever the lock or the project metadata changes. Bytecode is compiled at install:
# where PYTHONDONTWRITEBYTECODE=1 is set, every process (each sandbox worker, pyarrow's import
# of pandas in the loader) would otherwise compile its imports from source, every time.
$(STAMP): requirements.lock pyproject.toml | $(BIN)/uv
	$(BIN)/uv pip sync --quiet --compile-bytecode --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/outreach run --demo-if-empty

PYTEST_ARGS ?=
# Two pytest-xdist workers, a test file at a time (tests/conftest.py hands out the longest file
# first). TEST_WORKERS=0 runs the suite in one process.
TEST_WORKERS ?= 2
test: $(STAMP) browser-deps mail-deps
	$(BIN)/python -m pytest -q tests $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) \
	  --dist loadfile --no-loadscope-reorder) $(PYTEST_ARGS)

# The edit loop: the unit tests (readers, rules, registry, docs, the DAG's wiring, the CLI, the
# demo), none of which needs a built night, a server or a browser; `make test` stays the whole
# suite and CI's command. `pytest -m "not night and not slow" tests` adds every integration
# test that builds no night (about ten minutes on two cores).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS)) \
	  $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

# Re-resolve the lock from pyproject.toml (needs the package index).
lock: | $(BIN)/uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 \
	  --python-platform x86_64-manylinux_2_28 -o requirements.lock

# Benchmarks print figures; they are never timed assertions. The suite's own wall times are
# measured by hand, from a fresh clone: python bench/suite_times.py (it runs make test).
bench: $(STAMP)
	@for script in bench/*.py; do \
	  case $$script in bench/suite_times.py) continue;; esac; \
	  $(BIN)/python $$script || exit 1; done

demo: $(STAMP)
	$(BIN)/outreach demo

# The dashboard (docs/DASHBOARD.md) on OUTREACH_DASHBOARD_PORT (8501), over the published file.
dashboard: $(STAMP)
	$(BIN)/python -m outreach.dashboard

# The portal (报送门户, outreach/portal) on 127.0.0.1:8600; accounts: `outreach accounts add`.
portal: $(STAMP)
	$(BIN)/python -m outreach.portal

# Headless Chromium and CJK fonts for the dashboard's browser test, from Debian's packages.
# Installs only what is missing (root, or passwordless sudo, the first time); then a no-op.
BROWSER_PACKAGES := chromium fonts-noto-cjk
browser-deps:
	@$(MAKE) --no-print-directory debian-packages PACKAGES="$(BROWSER_PACKAGES)"

# The intake tests' real servers: Dovecot (IMAP) and OpenSSH (SFTP), each run from a configuration in a temp folder on
# a loopback port by the tests, which never use the packages' own services.
MAIL_PACKAGES := dovecot-imapd openssh-server
mail-deps:
	@$(MAKE) --no-print-directory debian-packages PACKAGES="$(MAIL_PACKAGES)"

debian-packages:
	@missing=$$(for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then sudo=; else sudo="sudo -n"; fi; \
	  echo "installing" $$missing; \
	  $$sudo apt-get update -q && \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

clean:
	rm -rf var dbt_project/target dbt_project/logs
