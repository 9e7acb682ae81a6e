"""The read API (issue 13): ``GET /conversations`` and ``GET /conversations/{conversation_id}`` in
front of the conversation reader, and a role that reads a project's record, the conversations by
key and through their two reading indexes, and the consent key (the listing cursor's signing key)."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from shared.reading.settings import ReaderSettings
from shared.routing import cors
from shared.routing.gateway_contract import read_method_not_allowed
from shared.secret_names import consent_key_secret_name
from shared.tables import CONVERSATION_ID_INDEX, PROJECT_CREATED_AT_INDEX
from stacks.constructs.api_contract import add_method_not_allowed
from stacks.constructs.consent_access import grant_consent_key_read
from stacks.constructs.policy import allow
from stacks.constructs.python_function import PythonFunction
from stacks.names import CONVERSATION_READER
from stacks.settings import EnvironmentSettings

FOLDER = "conversation_reader"
COLLECTION_PATH = "conversations"
ID_PARAMETER = "{conversation_id}"
READ_INDEXES = (CONVERSATION_ID_INDEX, PROJECT_CREATED_AT_INDEX)


class ConversationReader(Construct):
    function: PythonFunction
    collection: apigw.Resource
    item: apigw.Resource

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: EnvironmentSettings,
        api: apigw.RestApi,
        company_data: dynamodb.ITable,
        conversations: dynamodb.ITable,
        consent_key: secretsmanager.ISecret,
    ):
        super().__init__(scope, construct_id)
        self.function = PythonFunction(
            self,
            "Reader",
            folder=FOLDER,
            name=CONVERSATION_READER,
            settings=settings,
            memory_mb=settings.reader.memory_mb,
            timeout_seconds=settings.reader.timeout_seconds,
            description="Answers a tenant's reads of its conversations (by id, and listed newest first)",
            environment=ReaderSettings(
                environment=settings.name,
                company_table_name=company_data.table_name,
                conversations_table_name=conversations.table_name,
                consent_key_secret_id=consent_key_secret_name(settings.name),
            ).to_environment(),
        )
        self._grant(company_data, conversations, consent_key)
        self.collection, self.item = self._routes(api)

    def _grant(
        self, company_data: dynamodb.ITable, conversations: dynamodb.ITable, consent_key: secretsmanager.ISecret
    ) -> None:
        # Explicit statements, not table.grant(): grant() would add every index of the table.
        role = self.function.role
        # The project's record by key: its bound API keys decide 403 before anything is read.
        allow(role, sid="ProjectConfiguration", actions=["dynamodb:GetItem"], resources=[company_data.table_arn])
        # A conversation by its key, once the id index named it: never a scan or a write.
        allow(role, sid="ConversationRecords", actions=["dynamodb:GetItem"], resources=[conversations.table_arn])
        # The id lookup and the project's listing; the reply indexes are not the reader's.
        allow(
            role,
            sid="ReadingIndexes",
            actions=["dynamodb:Query"],
            resources=[f"{conversations.table_arn}/index/{name}" for name in READ_INDEXES],
        )
        # The listing's next_token is signed under the consent key (purpose list-cursor-v1).
        grant_consent_key_read(role, consent_key)

    def _routes(self, api: apigw.RestApi) -> tuple[apigw.Resource, apigw.Resource]:
        """Both GETs need an API key (the usage plan of the stage); the reader checks that the key
        is bound to the project. The query is validated by the reader alone (its error codes:
        UNKNOWN_QUERY_PARAMETER, INVALID_LIMIT …), so the gateway declares no parameters."""
        preflight = apigw.CorsOptions(
            allow_origins=[cors.ALLOW_ORIGIN],
            allow_methods=list(cors.READ_ALLOW_METHODS),
            allow_headers=list(cors.ALLOW_HEADERS),
            max_age=Duration.seconds(cors.PREFLIGHT_MAX_AGE_SECONDS),
        )
        integration = apigw.LambdaIntegration(self.function.function, proxy=True, allow_test_invoke=False)
        collection = api.root.add_resource(COLLECTION_PATH, default_cors_preflight_options=preflight)
        item = collection.add_resource(ID_PARAMETER, default_cors_preflight_options=preflight)
        for resource in (collection, item):
            resource.add_method("GET", integration, api_key_required=True)
            add_method_not_allowed(resource, read_method_not_allowed(resource.path))
        return collection, item
