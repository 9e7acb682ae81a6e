"""``python -m local.tenant_webhook``: point a local project's tenant events at a URL (issue 13).

What a tenant's operator sets up once: the project's ``webhook`` (``shared.models.company.
WebhookConfig``: the URL and the name of its signing secret) and the signing secret itself
(``ai-multi-comms/webhook-secrets/<company>/<project>-<env>``, ``whsec_<base64>``, the Standard
Webhooks form). The secret is made on the first run and printed once: the tenant's receiver needs
it to check ``webhook-signature``, and the engine never shows it again. A later ``--url`` keeps it;
``--new-secret`` replaces it (printed once too; the sender may sign with the old one for up to
five minutes, its cache).

    python -m local.tenant_webhook --url http://127.0.0.1:9000/events     # the seeded tenant
    python -m local.tenant_webhook --url https://example.com/hooks --company-id ci-demo-001 --project-id pi-demo-001
    python -m local.tenant_webhook --url http://127.0.0.1:9000/events --new-secret
    python -m local.tenant_webhook --remove                                # no more tenant events

A project's webhook set, changed or removed applies within a minute (the tenant-events function
reads it once a minute).

Local URLs may be ``http://`` and loopback (the local stack sets ``WEBHOOK_ALLOW_LOCAL_TARGETS``);
private and link-local addresses are refused as in AWS. Reads ``.local/env`` (written by
``make local``); the company and project default to its ``COMPANY_ID``/``PROJECT_ID``.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from local.show import ENV_FILE, aws_client, read_env
from shared.models.company import CompanyRecord
from shared.secret_names import webhook_secret_name
from shared.tenant_webhooks.signing_secrets import new_signing_secret
from shared.url_safety import configuration_problem
from stacks.names import physical_name


class TenantWebhookError(ValueError):
    """A webhook the project cannot have, or a project that is not there; the message says why."""


def set_webhook(
    env: dict[str, str], company_id: str, project_id: str, url: str, *, new_secret: bool = False
) -> str | None:
    """Write the project's ``webhook`` and, when it has none (or ``new_secret``), a signing
    secret; the secret written (to show once), or None when the project's own was kept."""
    problem = configuration_problem(url, allow_local=True)
    if problem:
        raise TenantWebhookError(problem)
    record = _project_record(env, company_id, project_id)
    secret_id = webhook_secret_name(company_id, project_id, env["ENVIRONMENT"])
    webhook = {"url": url, "secret_reference": secret_id}
    _check(record | {"webhook": webhook}, env["ENVIRONMENT"])  # before anything is written
    manager = aws_client(env, "secretsmanager")
    secret = new_signing_secret()
    try:
        if not new_secret:
            manager.describe_secret(SecretId=secret_id)
            secret = None  # it has one: kept
        else:
            manager.put_secret_value(SecretId=secret_id, SecretString=secret)
    except manager.exceptions.ResourceNotFoundException:
        manager.create_secret(Name=secret_id, SecretString=secret)
    _project_table(env).put_item(Item=record | {"webhook": webhook})
    return secret


def remove_webhook(env: dict[str, str], company_id: str, project_id: str) -> bool:
    """Unset the project's ``webhook`` and delete its secret; whether it had one."""
    record = _project_record(env, company_id, project_id)
    had = "webhook" in record
    if had:
        _project_table(env).put_item(Item={k: v for k, v in record.items() if k != "webhook"})
    manager = aws_client(env, "secretsmanager")
    with contextlib.suppress(manager.exceptions.ResourceNotFoundException):  # never made, or removed before
        manager.delete_secret(
            SecretId=webhook_secret_name(company_id, project_id, env["ENVIRONMENT"]), ForceDeleteWithoutRecovery=True
        )
    return had


def _check(record: dict[str, Any], environment: str) -> None:
    try:
        company = CompanyRecord.model_validate(record)
    except ValidationError as invalid:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in invalid.errors())
        raise TenantWebhookError(problems) from None
    problems = company.secret_problems(environment)
    if problems:
        raise TenantWebhookError("; ".join(problems))


def _project_table(env: dict[str, str]) -> Any:
    return aws_client(env, "dynamodb", resource=True).Table(physical_name("company-data", env["ENVIRONMENT"]))


def _project_record(env: dict[str, str], company_id: str, project_id: str) -> dict[str, Any]:
    key = {"company_id": company_id, "project_id": project_id}
    item = _project_table(env).get_item(Key=key, ConsistentRead=True).get("Item")
    if item is None:
        raise TenantWebhookError(f"no project {company_id}/{project_id} in the local stack")
    return item


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local.tenant_webhook", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--url", help="where the project's tenant events are POSTed")
    action.add_argument("--remove", action="store_true", help="unset the project's webhook and delete its secret")
    parser.add_argument("--new-secret", action="store_true", help="replace the project's signing secret")
    parser.add_argument("--company-id", default=None, help="the company (default: COMPANY_ID of .local/env)")
    parser.add_argument("--project-id", default=None, help="the project (default: PROJECT_ID of .local/env)")
    parser.add_argument("--env-file", type=Path, default=ENV_FILE)
    args = parser.parse_args(argv)
    env = read_env(args.env_file)
    company_id, project_id = args.company_id or env["COMPANY_ID"], args.project_id or env["PROJECT_ID"]
    try:
        if args.remove:
            had = remove_webhook(env, company_id, project_id)
            print(f"{company_id}/{project_id}: {'webhook removed' if had else 'had no webhook'}; no tenant events")
            return 0
        secret = set_webhook(env, company_id, project_id, args.url, new_secret=args.new_secret)
    except TenantWebhookError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{company_id}/{project_id}: tenant events go to {args.url} (within a minute)")
    if secret is None:
        print("signing secret unchanged (--new-secret replaces it)")
    else:
        print(f"signing secret (shown once; verify webhook-signature with it): {secret}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
