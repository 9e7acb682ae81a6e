"""A tenant's API key from creation to revocation, across API Gateway and the company-data table.

Creating: the project is checked first (nothing is created for a project that does not exist),
then the key is created, added to the environment's usage plan and bound to the project; if a
later step fails, the key is deleted again, so no key exists that nobody was told about.

Revoking: the key is unbound from every project first (the router reads ``api_key_ids``
consistently, so the key stops acting for them at once), then removed from its usage plans (the
gateway stops admitting it), then deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tools.comms.company_table import CompanyTable
from tools.comms.errors import NotFound
from tools.comms.usage_plans import ApiKeys, UsagePlan


@dataclass(frozen=True)
class Project:
    company_id: str
    project_id: str

    def __str__(self) -> str:
        return f"{self.company_id}/{self.project_id}"


@dataclass(frozen=True)
class CreatedKey:
    id: str
    name: str
    value: str
    usage_plan: UsagePlan
    project: Project | None


def create_key(
    name: str, *, project: Project | None, keys: ApiKeys, company: CompanyTable, now: datetime
) -> CreatedKey:
    if project is not None:
        company.require(project.company_id, project.project_id)
    plan = keys.plan()
    key = keys.create(name)
    try:
        keys.add_to_plan(plan, key.id)
        if project is not None:
            company.bind_key(project.company_id, project.project_id, key.id, now)
    except BaseException:
        keys.delete(key.id)
        raise
    return CreatedKey(key.id, key.name, key.value, plan, project)


@dataclass(frozen=True)
class Revocation:
    """What revoking a key changes: the projects it is unbound from, the plans it leaves, the key."""

    key_id: str
    name: str | None  # None: API Gateway no longer has the key (only stale bindings are left)
    projects: list[Project] = field(default_factory=list)
    usage_plans: list[UsagePlan] = field(default_factory=list)

    @property
    def key_exists(self) -> bool:
        return self.name is not None


def revocation_of(key_id: str, *, keys: ApiKeys, company: CompanyTable) -> Revocation:
    """NotFound when neither API Gateway nor any project knows the key."""
    key = keys.find(key_id)
    projects = [Project(item["company_id"], item["project_id"]) for item in company.projects_bound_to(key_id)]
    if key is None and not projects:
        raise NotFound(f"no API key {key_id}, and no project binds it")
    plans = keys.plans_holding(key_id) if key is not None else []
    return Revocation(key_id, key.name if key else None, projects, plans)


def revoke(revocation: Revocation, *, keys: ApiKeys, company: CompanyTable, now: datetime) -> None:
    for project in revocation.projects:
        company.unbind_key(project.company_id, project.project_id, revocation.key_id, now)
    for plan in revocation.usage_plans:
        keys.remove_from_plan(plan, revocation.key_id)
    if revocation.key_exists:
        keys.delete(revocation.key_id)
