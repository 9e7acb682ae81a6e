# Every target sets itself up first; `make setup` is idempotent.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
ENV ?= dev
# pytest-xdist workers for `make test` (the CI machine has 2 cores): whole files per worker, so a
# module's local stack or moto is never shared across processes.
TEST_WORKERS ?= 2
VENV := .venv
PY := $(VENV)/bin/python
CDK := npx --no-install cdk
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PATH := $(CURDIR)/$(VENV)/bin:$(CURDIR)/node_modules/.bin:$(PATH)

.PHONY: setup test lint synth diff deploy local local-reset show reply smoke bench bench-tenant redrive clean
# `make reply` reads these from its environment, so a TEXT with quotes needs no escaping.
export CONVERSATION TEXT TIMES MEDIA

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

## test: everything CI runs — lint, unit, integration, infrastructure (both environments + cdk-nag), e2e
test: setup lint
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

## local: the whole engine on this machine (moto + sandboxes), in the foreground until Ctrl-C; its state
##        (tables, queues, secrets, API keys, outbox) is saved on stop to .local/state/ and restored on start
local: setup
	$(PY) -m local

## local-reset: the same, but forget the saved state first and start from the seed (a new API key)
local-reset: setup
	$(PY) -m local --reset

## show: what the local stack did — conversations, sandbox outbox, DLQs; one thread in order:
##       WHAT=conversation CONVERSATION=<id> (or ID=<id>)
show: setup
	$(PY) -m local.show $(WHAT) $(or $(CONVERSATION),$(ID))

## reply: the person answers a conversation of a running `make local`: CONVERSATION=<id> TEXT='...'
##        [TIMES=3: the same delivery three times] [MEDIA=image/jpeg]
reply: setup
	$(PY) -m local.reply

## smoke: the operators' curl checks against a stage: API_URL=... API_KEY=... [COMPANY_ID PROJECT_ID CHANNEL
##        RECIPIENT_TEL RECIPIENT_EMAIL]; without API_URL/API_KEY it uses .local/env (a running `make local`)
smoke: setup
	@$(PY) tools/smoke.py

## bench: latency of the engine on the local stack (results go to docs/benchmarks.md)
bench: setup
	$(PY) -m local.benchmark

## bench-tenant: the tenant's side (read API, webhook event latency, index writes) on the local stack
bench-tenant: setup
	$(PY) -m local.benchmark_tenant_api

## redrive: CHANNEL=whatsapp|sms|email|events|webhooks ENV=dev|prod|local — dead letters back to their queue
##          (= comms dlq redrive CHANNEL --env ENV: SQS's move task on AWS; ENV=local: the running make local)
redrive: setup
	$(PY) -m tools.comms dlq redrive $(CHANNEL) --env $(ENV)

## synth: ENV=dev|prod, with cdk-nag; bundles the Lambda assets (cached in .build/)
synth: setup
	$(CDK) synth --no-notices -q -c env=$(ENV)

## diff / deploy need AWS credentials for the target account (AWS_PROFILE or the usual env vars)
diff: setup
	$(CDK) diff --no-notices -c env=$(ENV)

deploy: setup
	$(CDK) deploy --no-notices -c env=$(ENV) --all

clean:
	rm -rf cdk.out .build .pytest_cache .ruff_cache
