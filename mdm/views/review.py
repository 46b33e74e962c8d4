"""The review queue: pairs of source records the matcher was unsure about, most likely first."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection

from mdm.schema import Entity
from mdm.store import stewardship
from mdm.views.base import ViewModel, plain_rows


class ReviewItemView(ViewModel):
    id: int
    entity: Entity
    left_source: str
    left_key: str
    right_source: str
    right_key: str
    probability: float
    weight: float
    levels: dict[str, Any]  # per comparison, the level of the pair (-1: a value missing)

    @property
    def left(self) -> str:
        return f"{self.left_source}:{self.left_key}"

    @property
    def right(self) -> str:
        return f"{self.right_source}:{self.right_key}"


def review_queue(connection: Connection, entity: Entity | None, limit: int) -> list[ReviewItemView]:
    """The first ``limit`` open review items (of ``entity``, or of both), most likely first."""
    items = plain_rows(stewardship.open_reviews(connection, entity, limit=limit))
    return [
        ReviewItemView.model_validate({**item, "levels": json.loads(item["levels"])})
        for item in items
    ]
