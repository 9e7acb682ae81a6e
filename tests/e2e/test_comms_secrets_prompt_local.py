"""``comms secrets check`` and ``comms prompt test`` against a running ``make local``, from a fresh
shell as the README writes them: the seeded tenant's secrets pass the strict shapes, and a
rehearsal reaches the stack's OpenAI sandbox and no provider."""

from __future__ import annotations

import requests

from tests.fixtures.comms import run_comms

PROJECT = ("--company-id", "ci-demo-001", "--project-id", "pi-demo-001")


def _recorded(url: str) -> list:
    return requests.get(f"{url}/_sandbox/requests", timeout=10).json()


def test_the_seeded_tenant_has_every_secret_it_needs(local_stack):
    result = run_comms(local_stack.state_dir / "env", "secrets", "check", *PROJECT, "--json", subprocess_run=True)

    assert result.code == 0, result.stdout + result.stderr
    assert {row["kind"] for row in result.json()} == {"openai", "credentials"}
    assert all(row["valid"] for row in result.json())


def test_a_prompt_rehearsal_asks_the_stacks_openai_sandbox_and_sends_nothing(local_stack):
    env = local_stack.env
    before = {name: len(_recorded(env[name])) for name in ("OPENAI_SANDBOX_URL", "TWILIO_SANDBOX_URL")}

    result = run_comms(
        local_stack.state_dir / "env", "prompt", "test", *PROJECT, "--channel", "sms", "--json", subprocess_run=True
    )

    assert result.code == 0, result.stderr
    assert result.json()["draft"]["body"]
    assert len(_recorded(env["OPENAI_SANDBOX_URL"])) == before["OPENAI_SANDBOX_URL"] + 1
    assert len(_recorded(env["TWILIO_SANDBOX_URL"])) == before["TWILIO_SANDBOX_URL"]
