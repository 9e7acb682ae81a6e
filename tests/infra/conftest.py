"""Synthesises the whole app once per environment (bundling skipped) for template assertions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

import app as cdk_app
from stacks.settings import CDK_JSON, EnvironmentSettings, load_settings
from tests.infra.template_queries import ENGINE_STACKS, alarms_by_name

ENVIRONMENTS = ("dev", "prod")


@dataclass
class Synthesised:
    settings: EnvironmentSettings
    engine: cdk_app.Engine

    def template(self, stack: str) -> Template:
        """``stack`` is the attribute of ``app.Engine``: data, queues, api, processors."""
        return Template.from_stack(getattr(self.engine, stack))

    def alarms(self) -> dict[str, dict[str, Any]]:
        """Every alarm of the engine, whichever stack holds it: its name -> its properties."""
        return {name: alarm for stack in ENGINE_STACKS for name, alarm in alarms_by_name(self.template(stack)).items()}


def app_context(env: str) -> dict[str, Any]:
    """cdk.json's context (feature flags included, as the CLI passes them), bundling skipped."""
    return {**json.loads(CDK_JSON.read_text())["context"], "aws:cdk:bundling-stacks": [], "env": env}


def synthesise(env: str) -> Synthesised:
    app = cdk.App(context=app_context(env))
    settings = load_settings(env)
    return Synthesised(settings=settings, engine=cdk_app.build(app, settings))


_CACHE: dict[str, Synthesised] = {}


@pytest.fixture(scope="session", params=ENVIRONMENTS)
def synthesised(request: pytest.FixtureRequest) -> Synthesised:
    """The app of each environment; tests using it run once for dev and once for prod."""
    return synthesised_env(request.param)


def synthesised_env(env: str) -> Synthesised:
    if env not in _CACHE:
        _CACHE[env] = synthesise(env)
    return _CACHE[env]


@pytest.fixture(scope="session")
def dev() -> Synthesised:
    return synthesised_env("dev")


@pytest.fixture(scope="session")
def prod() -> Synthesised:
    return synthesised_env("prod")
