"""A message's delivery as the provider-messages item holds it, and as the conversation record mirrors it.

The item is the truth (the events processor writes it first); the record carries a copy of its
latest message's state, written only forward. Both use the same attribute names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class DeliveryState:
    delivery_status: str | None = None
    delivery_rank: int | None = None
    delivery_updated_at: str | None = None
    delivery_error_code: str | None = None
    delivery_error_reason: str | None = None
    first_opened_at: str | None = None
    first_clicked_at: str | None = None

    @classmethod
    def of(cls, item: Mapping[str, Any]) -> DeliveryState:
        rank = item.get("delivery_rank")
        return cls(
            delivery_status=item.get("delivery_status"),
            delivery_rank=int(rank) if rank is not None else None,
            delivery_updated_at=item.get("delivery_updated_at"),
            delivery_error_code=item.get("delivery_error_code"),
            delivery_error_reason=item.get("delivery_error_reason"),
            first_opened_at=item.get("first_opened_at"),
            first_clicked_at=item.get("first_clicked_at"),
        )

    def fields(self) -> dict[str, Any]:
        """Every attribute, ``None`` for those the message does not have (a transition removes them)."""
        return asdict(self)

    @property
    def delivery_fields(self) -> dict[str, Any]:
        return {name: value for name, value in self.fields().items() if name.startswith("delivery_")}

    @property
    def engagement_fields(self) -> dict[str, Any]:
        return {name: value for name, value in self.fields().items() if name.startswith("first_")}
