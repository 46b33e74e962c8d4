"""What the checks share: the invariants, a violation, and how they are collected."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

import pandas as pd

from mdm.schema import Entity

ACTIVE: Final = "active"
MERGED: Final = "merged"
KEEP_ALL: Final = "keep_all"
REBUILD_HINT: Final = "'mdm run --full' rebuilds the index"
EXAMPLES: Final = 5  # examples named in a message that sums up many keys


class Invariant(StrEnum):
    MEMBERSHIP = "membership"
    GOLDEN_MEMBERS = "golden-members"
    DECISIONS = "decisions"
    LINEAGE = "lineage"
    REDIRECTS = "redirects"
    RECORD_INDEX = "record-index"


@dataclass(frozen=True)
class Violation:
    """One thing wrong in a store: the invariant, what it concerns (golden ids, records as
    ``SOURCE:KEY``, index keys) and what is wrong, for a person to read."""

    invariant: Invariant
    entity: str
    subjects: tuple[str, ...]
    message: str

    def __str__(self) -> str:
        return f"[{self.invariant}] {self.message}"


@dataclass
class Found:
    """The violations of one invariant for one entity, as they are found."""

    invariant: Invariant
    entity: Entity
    violations: list[Violation] = field(default_factory=list)

    def add(self, subjects: list[Any], message: str) -> None:
        names = tuple(str(subject) for subject in subjects)
        self.violations.append(Violation(self.invariant, str(self.entity), names, message))


def record_ref(source: Any, key: Any) -> str:
    return f"{source}:{key}"


def dict_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]
