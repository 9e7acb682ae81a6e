"""``comms prompt test``: a project's prompt rendered for a sample request, and the draft OpenAI
(or the local OpenAI sandbox) writes for it. Sends nothing and writes nothing
(``tools.comms.prompt_rehearsal``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from shared.channels import Channel
from tools.comms.arguments import CHANNELS, project_options
from tools.comms.errors import CommandError
from tools.comms.options import Subcommands, add_command, add_group
from tools.comms.output import emit_one
from tools.comms.project_record import load_project
from tools.comms.prompt_rehearsal import Rendered, content_check, read_request, render, utc_now, write_draft
from tools.comms.target import Target

SANDBOX_URL = "OPENAI_SANDBOX_URL"


def register(groups: Subcommands) -> None:
    commands = add_group(
        groups,
        "prompt",
        help="rehearse a project's prompt (sends nothing)",
        description="Rehearse a project's first message as the processor writes it; nothing is queued, "
        "recorded or sent.",
    )
    test = add_command(
        commands,
        "test",
        _test,
        help="render the project's prompt for a sample request and run it against OpenAI (or the sandbox)",
    )
    project_options(test)
    test.add_argument("--channel", required=True, choices=CHANNELS)
    test.add_argument(
        "--request",
        type=Path,
        metavar="FILE",
        help="the sample request (default examples/initiate_request.example.json); its company and channel "
        "become the project's and --channel's",
    )
    test.add_argument("--render-only", action="store_true", help="print the instructions and input; no AI call")


def _test(args: argparse.Namespace, target: Target) -> int | None:
    document = read_request(args.request)
    record = load_project(target, args.company_id, args.project_id)
    rendered = render(record, Channel(args.channel), document, now=utc_now())
    result: dict[str, Any] = _rendering(rendered)
    if not args.render_only:
        draft = write_draft(
            rendered,
            secretsmanager=target.client("secretsmanager"),
            env=target.env,
            openai_base_url=_openai_base_url(target),
        )
        result |= {
            "draft": draft.content,
            "response_id": draft.response_id,
            "usage": draft.usage.model_dump(),
            "content_check": content_check(rendered, draft.content),
        }
    if args.json:
        emit_one(result, as_json=True)
    else:
        _print_text(result)
    # The processor would fail this conversation ``failed_content_check``: a script must notice.
    return 1 if result.get("content_check", "passed") != "passed" else None


def _openai_base_url(target: Target) -> str | None:
    """The local stack's OpenAI sandbox; on AWS the SDK's own (OpenAI itself)."""
    if not target.is_local:
        return None
    url = target.local_values.get(SANDBOX_URL)
    if not url:
        raise CommandError(f"the local stack's env file names no {SANDBOX_URL}: restart `make local`")
    return url


def _rendering(rendered: Rendered) -> dict[str, Any]:
    return {
        "channel": rendered.message.channel.value,
        "model": rendered.config.model,
        "prompt_version": rendered.config.template_sender.prompt_version,
        "output_contract": rendered.contract.name,
        "fields": {name: spec["description"] for name, spec in rendered.contract.json_schema()["properties"].items()},
        "instructions": rendered.instructions,
        "input": rendered.input,
    }


def _print_text(result: dict[str, Any]) -> None:
    out = sys.stdout
    emit_one({name: result[name] for name in ("channel", "model", "prompt_version", "output_contract")}, as_json=False)
    for title, name in (("instructions", "instructions"), ("input", "input")):
        out.write(f"\n--- {title} ---\n{result[name]}\n")
    out.write("\n--- output fields ---\n")
    emit_one(result["fields"], as_json=False)
    if "draft" not in result:
        out.write("\n(--render-only: no AI call)\n")
        return
    out.write("\n--- draft ---\n")
    emit_one(result["draft"], as_json=False)
    out.write("\n")
    outcome = {"content_check": result["content_check"], "response_id": result["response_id"]}
    emit_one(outcome | result["usage"], as_json=False)
