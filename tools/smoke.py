#!/usr/bin/env python3
"""Smoke test of a deployed stage (or the local stack): the checks the operators ran with curl.

    make smoke API_URL=https://<api-id>.execute-api.<region>.amazonaws.com/dev/ API_KEY=<key value>

Settings come from the command line, else the environment (API_URL, API_KEY, COMPANY_ID,
PROJECT_ID, CHANNEL, RECIPIENT_TEL, RECIPIENT_EMAIL), else ``.local/env`` written by ``make
local``. The last check opens a real conversation: on a deployed stage, point RECIPIENT_TEL /
RECIPIENT_EMAIL at a person who expects it. Only the Python standard library is used, and the
API key is never printed.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "initiate_request.example.json"
LOCAL_ENV = ROOT / ".local" / "env"
RESOURCE = "initiate-conversation"
TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class Settings:
    api_url: str
    api_key: str
    company_id: str
    project_id: str
    channel: str
    recipient_tel: str
    recipient_email: str

    @property
    def endpoint(self) -> str:
        return f"{self.api_url.rstrip('/')}/{RESOURCE}"


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]  # lower-cased names
    text: str

    def json(self) -> Any:
        try:
            return json.loads(self.text)
        except ValueError:
            return None

    def code(self) -> str | None:
        body = self.json()
        return body.get("error_code") if isinstance(body, dict) else None


def request(method: str, url: str, *, headers: dict[str, str], body: bytes | None = None) -> Reply:
    prepared = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(prepared, timeout=TIMEOUT_SECONDS) as response:
            return Reply(response.status, _lower(response.headers.items()), response.read().decode("utf-8", "replace"))
    except urllib.error.HTTPError as error:
        return Reply(error.code, _lower(error.headers.items()), error.read().decode("utf-8", "replace"))


def _lower(items: Any) -> dict[str, str]:
    return {name.lower(): value for name, value in items}


def valid_body(settings: Settings) -> dict[str, Any]:
    body = json.loads(EXAMPLE.read_text())
    body["company_data"] = {"company_id": settings.company_id, "project_id": settings.project_id}
    body["recipient_data"]["recipient_tel"] = settings.recipient_tel
    body["recipient_data"]["recipient_email"] = settings.recipient_email
    body["request_data"] = {
        "request_id": str(uuid.uuid4()),
        "channel_method": settings.channel,
        "initial_request_timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    return body


# --- the checks: each returns None when it passed, else what went wrong -------------------------


def _expect(reply: Reply, status: int, code: str | None = None) -> str | None:
    problems = []
    if reply.status != status:
        problems.append(f"status {reply.status}, expected {status}")
    if code is not None and reply.code() != code:
        problems.append(f"error_code {reply.code()!r}, expected {code!r}")
    if "access-control-allow-origin" not in reply.headers:
        problems.append("no Access-Control-Allow-Origin header")
    return "; ".join(problems) or None


def check_preflight(settings: Settings) -> str | None:
    reply = request(
        "OPTIONS",
        settings.endpoint,
        headers={
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-api-key",
        },
    )
    if reply.status not in (200, 204):
        return f"status {reply.status}, expected 200 or 204"
    methods = reply.headers.get("access-control-allow-methods", "").upper()
    allowed_headers = reply.headers.get("access-control-allow-headers", "").lower()
    problems = []
    if "access-control-allow-origin" not in reply.headers:
        problems.append("no Access-Control-Allow-Origin")
    if "POST" not in methods:
        problems.append(f"POST not in Access-Control-Allow-Methods ({methods!r})")
    if "x-api-key" not in allowed_headers:
        problems.append(f"x-api-key not in Access-Control-Allow-Headers ({allowed_headers!r})")
    return "; ".join(problems) or None


def _post(settings: Settings, body: Any, *, key: str | None, raw: bytes | None = None) -> Reply:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["x-api-key"] = key
    data = raw if raw is not None else json.dumps(body).encode()
    return request("POST", settings.endpoint, headers=headers, body=data)


def check_no_key(settings: Settings) -> str | None:
    return _expect(_post(settings, valid_body(settings), key=None), 403)


def check_wrong_key(settings: Settings) -> str | None:
    return _expect(_post(settings, valid_body(settings), key=f"smoke-wrong-{uuid.uuid4().hex}"), 403)


def check_wrong_method(settings: Settings) -> str | None:
    reply = request("GET", settings.endpoint, headers={"x-api-key": settings.api_key})
    problem = _expect(reply, 405, "METHOD_NOT_ALLOWED")
    if problem is None and "POST" not in reply.headers.get("allow", ""):
        return "no Allow header naming POST"
    return problem


def check_body_not_an_object(settings: Settings) -> str | None:
    return _expect(_post(settings, None, key=settings.api_key, raw=b"[1, 2, 3]"), 400, "INVALID_REQUEST")


def check_body_missing_a_section(settings: Settings) -> str | None:
    body = valid_body(settings)
    del body["company_data"]
    return _expect(_post(settings, body, key=settings.api_key), 400, "MISSING_COMPANY_DATA")


def check_valid_request(settings: Settings) -> str | None:
    body = valid_body(settings)
    reply = _post(settings, body, key=settings.api_key)
    problem = _expect(reply, 200)
    if problem:
        code = reply.code()
        return f"{problem}" + (f" (error_code {code})" if code else "")
    answer = reply.json() or {}
    request_id = body["request_data"]["request_id"]
    prefix = f"{settings.company_id}#{settings.project_id}#{request_id}#"
    if answer.get("status") != "success" or answer.get("request_id") != request_id:
        return f"unexpected body {answer}"
    if not str(answer.get("conversation_id", "")).startswith(prefix) or not answer.get("queue_timestamp"):
        return f"unexpected conversation_id/queue_timestamp in {answer}"
    return None


CHECKS: tuple[tuple[str, Callable[[Settings], str | None]], ...] = (
    ("CORS preflight (OPTIONS) is answered", check_preflight),
    ("no x-api-key -> 403", check_no_key),
    ("unknown x-api-key -> 403", check_wrong_key),
    ("GET -> 405 METHOD_NOT_ALLOWED", check_wrong_method),
    ("body not a JSON object -> 400 INVALID_REQUEST", check_body_not_an_object),
    ("body without company_data -> 400 MISSING_COMPANY_DATA", check_body_missing_a_section),
    ("valid request -> 200 with request_id and conversation_id", check_valid_request),
)


def run(settings: Settings, out: Callable[[str], None] = print) -> bool:
    out(f"Smoke test of POST {settings.endpoint} (company {settings.company_id}, project {settings.project_id})")
    passed = True
    for name, check in CHECKS:
        try:
            problem = check(settings)
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            problem = f"request failed: {error}"
        out(f"{'PASS' if problem is None else 'FAIL'}  {name}" + ("" if problem is None else f": {problem}"))
        passed = passed and problem is None
    out("all checks passed" if passed else "some checks FAILED")
    return passed


def _env_file(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    values = {}
    # Standalone (standard library only, run as a script): not local.env_file's reader.
    for line in path.read_text().splitlines():
        name, sep, value = line.strip().removeprefix("export ").partition("=")
        if sep and name.strip() and not name.startswith("#"):
            parts = shlex.split(value)
            values[name.strip()] = parts[0] if parts else ""
    return values


def settings_from(argv: list[str] | None = None, environ: dict[str, str] | None = None) -> Settings:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api-url", help="invoke URL of the stage, e.g. https://…/dev/ (env API_URL)")
    parser.add_argument("--api-key", help="a tenant's API key value (env API_KEY)")
    parser.add_argument("--company-id", help="project bound to that key (env COMPANY_ID)")
    parser.add_argument("--project-id", help="(env PROJECT_ID)")
    parser.add_argument("--channel", help="whatsapp, sms or email (env CHANNEL; default whatsapp)")
    parser.add_argument("--recipient-tel", help="E.164 (env RECIPIENT_TEL; default the example's)")
    parser.add_argument("--recipient-email", help="(env RECIPIENT_EMAIL; default the example's)")
    parser.add_argument("--env-file", type=Path, default=LOCAL_ENV, help="fallback values (default .local/env)")
    args = parser.parse_args(argv)
    environ = dict(os.environ if environ is None else environ)
    fallback = _env_file(args.env_file)
    example = json.loads(EXAMPLE.read_text())

    def pick(option: str | None, name: str, default: str | None = None) -> str:
        value = option or environ.get(name) or fallback.get(name) or default
        if not value:
            parser.error(f"{name} is required (--{name.lower().replace('_', '-')} or the {name} variable)")
        return value

    return Settings(
        api_url=pick(args.api_url, "API_URL"),
        api_key=pick(args.api_key, "API_KEY"),
        company_id=pick(args.company_id, "COMPANY_ID", example["company_data"]["company_id"]),
        project_id=pick(args.project_id, "PROJECT_ID", example["company_data"]["project_id"]),
        channel=pick(args.channel, "CHANNEL", "whatsapp"),
        recipient_tel=pick(args.recipient_tel, "RECIPIENT_TEL", example["recipient_data"]["recipient_tel"]),
        recipient_email=pick(args.recipient_email, "RECIPIENT_EMAIL", example["recipient_data"]["recipient_email"]),
    )


def main(argv: list[str] | None = None) -> int:
    return 0 if run(settings_from(argv)) else 1


if __name__ == "__main__":
    sys.exit(main())
