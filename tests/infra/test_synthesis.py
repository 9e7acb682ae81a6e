"""cdk-nag over both environments, deterministic CLI synthesis, and Docker-free Lambda assets."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_sqs as sqs

import app as cdk_app
from stacks.bundling import ROOT, build_asset
from stacks.nag import acknowledge, enable_nag
from stacks.settings import load_settings
from tests.infra.conftest import app_context

LAMBDAS = sorted(path for path in (ROOT / "lambdas").iterdir() if (path / "handler.py").is_file())


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_every_stack_passes_cdk_nag(env, tmp_path):
    app = cdk.App(context=app_context(env), outdir=str(tmp_path))
    cdk_app.build(app, load_settings(env))
    enable_nag(app)
    app.synth()  # raises ValidationFailed on any unacknowledged AwsSolutions finding


def test_cdk_nag_fails_synthesis_on_an_unacknowledged_finding(tmp_path):
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Careless")
    sqs.Queue(stack, "NoDlqNoTls")
    enable_nag(app)
    with pytest.raises(Exception, match="AwsSolutions-SQS4"):
        app.synth()


def test_processors_deploy_before_the_api_that_feeds_them(dev):
    engine = dev.engine
    assert engine.processors in engine.api.dependencies


def test_an_acknowledgment_needs_a_reason():
    with pytest.raises(ValueError, match="real reason"):
        acknowledge(cdk.Stack(cdk.App(), "S"), "AwsSolutions-SQS3", "because")


def _cli_synth(env: str, outdir: Path) -> dict[str, str]:
    environ = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    environ["PATH"] = f"{ROOT / '.venv' / 'bin'}:{ROOT / 'node_modules' / '.bin'}:{environ['PATH']}"
    subprocess.run(
        ["npx", "--no-install", "cdk", "synth", "-q", "--no-notices", "-c", f"env={env}", "-o", str(outdir)],
        cwd=ROOT, env=environ, check=True, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    return {
        path.name: path.read_text()
        for path in sorted(outdir.iterdir())
        if path.name.endswith((".template.json", ".assets.json"))
    }


@pytest.mark.skipif(shutil.which("npx") is None, reason="the CDK CLI needs Node (make setup installs it)")
def test_cli_synth_twice_gives_identical_templates_and_asset_hashes(tmp_path):
    first = _cli_synth("dev", tmp_path / "first")
    second = _cli_synth("dev", tmp_path / "second")
    assert any(name.endswith(".template.json") for name in first)
    assert first == second


@pytest.mark.skipif(shutil.which("npx") is None, reason="the CDK CLI needs Node (make setup installs it)")
def test_cli_synth_of_prod_succeeds_with_prod_names(tmp_path):
    outputs = _cli_synth("prod", tmp_path)
    assert "AiMultiComms-Data-prod.template.json" in outputs
    assert "ai-multi-comms-conversations-prod" in outputs["AiMultiComms-Data-prod.template.json"]
    assert not any("-dev" in name for name in outputs)


def _requirement_names(function_dir: Path) -> set[str]:
    lines = (function_dir / "requirements.txt").read_text().splitlines()
    return {line.split("==")[0].strip().lower().replace("-", "_") for line in lines if "==" in line}


def _installed(asset: Path) -> set[str]:
    return {p.name.split("-")[0].lower() for p in asset.glob("*.dist-info")}


@pytest.mark.parametrize("function_dir", LAMBDAS, ids=[p.name for p in LAMBDAS])
def test_a_built_asset_holds_the_handler_the_domain_package_and_only_its_own_dependencies(function_dir):
    asset = build_asset(function_dir)
    assert (asset / "handler.py").read_bytes() == (function_dir / "handler.py").read_bytes()
    assert (asset / "shared" / "__init__.py").is_file()
    installed = _installed(asset)
    own = _requirement_names(function_dir)
    assert own <= installed, f"missing {own - installed}"
    others = set().union(*(_requirement_names(other) for other in LAMBDAS)) - own
    assert not (others & installed), f"{function_dir.name} carries {others & installed} it does not need"
    assert not {"boto3", "botocore"} & installed, "the Lambda runtime provides boto3"
    native = [p.name for p in asset.rglob("*.so")]
    assert all("x86_64" not in name for name in native)
    assert any("cpython-313-aarch64" in name for name in native) or not native
    assert not (asset / "requirements.txt").exists()
