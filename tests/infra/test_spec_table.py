"""A table is built from its spec (shared/tables.py); a spec the construct cannot build stops the
synthesis with the index's name."""

from __future__ import annotations

import aws_cdk as cdk
import pytest

from shared.tables import IndexSpec, Key, TableSpec
from stacks.constructs.table import SpecTable
from stacks.settings import load_settings


def test_a_local_index_without_a_sort_key_stops_the_synthesis_naming_it() -> None:
    spec = TableSpec(
        logical_name="example",
        partition_key=Key("primary_channel"),
        sort_key=Key("conversation_id"),
        local_indexes=(IndexSpec("unsorted-index", Key("primary_channel"), None),),
    )
    stack = cdk.Stack(cdk.App(), "Data")

    with pytest.raises(ValueError, match="local index unsorted-index: a local index is defined by its sort key"):
        SpecTable(stack, "Example", spec=spec, settings=load_settings("dev"))
