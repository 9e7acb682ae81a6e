"""A DynamoDB table built from a ``shared.tables.TableSpec`` and the environment's protections."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from shared.tables import IndexSpec, Key, TableSpec
from stacks.nag import acknowledge
from stacks.names import physical_name
from stacks.settings import EnvironmentSettings

_TYPES = {"S": dynamodb.AttributeType.STRING, "N": dynamodb.AttributeType.NUMBER}
_PROJECTIONS = {
    "ALL": dynamodb.ProjectionType.ALL,
    "KEYS_ONLY": dynamodb.ProjectionType.KEYS_ONLY,
    "INCLUDE": dynamodb.ProjectionType.INCLUDE,
}


def _attribute(key: Key) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=key.name, type=_TYPES[key.type])


def _optional_attribute(key: Key | None) -> dynamodb.Attribute | None:
    return None if key is None else _attribute(key)


def _projection(index: IndexSpec) -> dict:
    extra = {"non_key_attributes": list(index.non_key_attributes)} if index.projection == "INCLUDE" else {}
    return {"projection_type": _PROJECTIONS[index.projection], **extra}


class SpecTable(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: TableSpec,
        settings: EnvironmentSettings,
        omit_indexes: frozenset[str] = frozenset(),
    ):
        """``omit_indexes``: global indexes of the spec left out of this deploy (a table update
        may create only one; see ``stacks.data_stack.conversation_indexes_to_omit``)."""
        super().__init__(scope, construct_id)
        protection = settings.protection
        protected = spec.environment_protected
        point_in_time_recovery = protected and protection.point_in_time_recovery
        self.table = dynamodb.Table(
            self,
            "Table",
            table_name=physical_name(spec.logical_name, settings.name),
            partition_key=_attribute(spec.partition_key),
            sort_key=_optional_attribute(spec.sort_key),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=point_in_time_recovery
            ),
            deletion_protection=protected and protection.deletion_protection,
            removal_policy=(RemovalPolicy.RETAIN if protection.removal_policy == "retain" else RemovalPolicy.DESTROY),
            time_to_live_attribute=spec.time_to_live_attribute,
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES if spec.stream_view else None,
        )
        if not point_in_time_recovery:
            acknowledge(
                self,
                "AwsSolutions-DDB3",
                "Point-in-time recovery is off on purpose: in dev to save its cost (the data is "
                "test data), and on the rate-limit table everywhere because its TTL counters hold "
                "nothing worth restoring.",
            )
        for index in spec.global_indexes:
            if index.name in omit_indexes:
                continue
            self.table.add_global_secondary_index(
                index_name=index.name,
                partition_key=_attribute(index.partition_key),
                sort_key=_optional_attribute(index.sort_key),
                **_projection(index),
            )
        for index in spec.local_indexes:
            if index.sort_key is None:
                raise ValueError(f"local index {index.name}: a local index is defined by its sort key")
            self.table.add_local_secondary_index(
                index_name=index.name, sort_key=_attribute(index.sort_key), **_projection(index)
            )
