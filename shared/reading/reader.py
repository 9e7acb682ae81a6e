"""The tenant's read API: ``GET /conversations/{conversation_id}`` and ``GET /conversations``.

Access is the router's rule: the company/project record is loaded (404 ``COMPANY_NOT_FOUND``) and
the caller's API key must be bound to it (403 ``API_KEY_NOT_AUTHORIZED``) before anything about
the project's conversations is read. An inactive project may still read its conversations. Every
failure is an ``ApiError`` answered with its status and code; what a body shows is decided by
``shared.models.tenant_api`` alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger

from shared.api_errors import ApiError, ConversationNotFound, InternalError, MethodNotAllowed, ServerFault
from shared.consent.address_hash import AddressHasher, load_hasher
from shared.log_masking import describe_error
from shared.models.tenant_api import ConversationPage, ConversationSummary, ConversationView
from shared.processing.errors import CredentialsMissing, SecretsUnavailable
from shared.reading import cursor
from shared.reading.conversation_ids import parse_conversation_id
from shared.reading.conversation_store import ConversationStore
from shared.reading.list_query import ListQuery, parse_list_query
from shared.routing.access import require_bound_api_key
from shared.routing.company_directory import CompanyDirectory
from shared.routing.responses import error_response, ok_response

logger = Logger(child=True)

CONVERSATIONS = "/conversations"
CONVERSATION = "/conversations/{conversation_id}"
ALLOW = "GET, OPTIONS"


@dataclass
class ConversationReader:
    directory: CompanyDirectory
    store: ConversationStore
    secrets: Any  # Secrets Manager client: the consent key signs next_token
    consent_key_secret_id: str

    def answer(self, event: dict[str, Any]) -> dict[str, Any]:
        resource = event.get("resource")
        if resource not in (CONVERSATIONS, CONVERSATION):
            raise ValueError(f"the reader is not wired for resource {resource!r}")
        try:
            if event.get("httpMethod") != "GET":
                raise MethodNotAllowed(f"Only GET is supported on {resource}", headers={"Allow": ALLOW})
            api_key_id = ((event.get("requestContext") or {}).get("identity") or {}).get("apiKeyId") or None
            if resource == CONVERSATION:
                return ok_response(self._conversation(event, api_key_id).model_dump(mode="json"))
            return ok_response(self._listing(event, api_key_id).model_dump(mode="json"))
        except ApiError as error:
            _log_refusal(error)
            return error_response(error, request_id=None)

    def _conversation(self, event: dict[str, Any], api_key_id: str | None) -> ConversationView:
        ref = parse_conversation_id((event.get("pathParameters") or {}).get("conversation_id"))
        logger.append_keys(company_id=ref.company_id, project_id=ref.project_id)
        self._authorise(ref.company_id, ref.project_id, api_key_id)
        record = self.store.find(ref)
        if record is None:
            raise ConversationNotFound("No conversation with this id in this project")
        return ConversationView.of(record)

    def _listing(self, event: dict[str, Any], api_key_id: str | None) -> ConversationPage:
        query = parse_list_query(event.get("queryStringParameters"), event.get("multiValueQueryStringParameters"))
        logger.append_keys(company_id=query.company_id, project_id=query.project_id)
        caller = self._authorise(query.company_id, query.project_id, api_key_id)
        start_key = None
        if query.next_token is not None:
            start_key = cursor.resume_key(self._hasher(), query, caller, query.next_token)
        page = self.store.page(query, start_key)
        return ConversationPage(
            conversations=[ConversationSummary.of(record) for record in page.records],
            next_token=None if page.last_key is None else self._next_token(query, caller, page.last_key),
        )

    def _authorise(self, company_id: str, project_id: str, api_key_id: str | None) -> str:
        """The caller's key id, once it is known to be bound to the project (the router's rule)."""
        require_bound_api_key(self.directory.load(company_id, project_id), api_key_id)
        return str(api_key_id)

    def _next_token(self, query: ListQuery, api_key_id: str, last_key: dict[str, str]) -> str:
        return cursor.issue(self._hasher(), query, api_key_id, last_key)

    def _hasher(self) -> AddressHasher:
        try:
            # Cached per container by load_hasher: one secret read per cold start.
            return load_hasher(self.secrets, self.consent_key_secret_id)
        except (SecretsUnavailable, CredentialsMissing) as error:
            raise InternalError("The listing could not be paged; retry later") from error


def _log_refusal(error: ApiError) -> None:
    fields: dict[str, Any] = {"error_code": error.error_code, "status_code": error.status_code}
    if isinstance(error, ServerFault) and error.__cause__ is not None:
        fields["cause"] = describe_error(error.__cause__)
        logger.error("Read failed", extra=fields)
    else:
        logger.info("Read refused", extra=fields)
