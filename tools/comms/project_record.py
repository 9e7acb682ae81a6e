"""A project's company-data record as ``secrets check`` and ``prompt test`` read it: with the
router's own reader (``CompanyDirectory``, consistent) and model."""

from __future__ import annotations

from pydantic import ValidationError

from shared.api_errors import CompanyNotFound, DatabaseError
from shared.models.company import CompanyRecord
from shared.routing.company_directory import CompanyDirectory
from tools.comms.errors import CommandError, NotFound
from tools.comms.target import Target


class RecordUnusable(CommandError):
    """The stored record does not validate: the engine refuses the project's requests as well."""

    exit_code = 1


def load_project(target: Target, company_id: str, project_id: str) -> CompanyRecord:
    directory = CompanyDirectory(target.client("dynamodb"), target.name("company-data"))
    try:
        item = directory.load(company_id, project_id)
    except CompanyNotFound:
        raise NotFound(f"no project {company_id}/{project_id} in the company-data table") from None
    except DatabaseError as error:
        raise error.__cause__ or error from None  # the AWS error itself: `comms` prints it, exit 1
    try:
        return CompanyRecord.model_validate(item)
    except ValidationError as invalid:
        where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in invalid.errors())
        raise RecordUnusable(f"the record of {company_id}/{project_id} is not valid ({where})") from None
