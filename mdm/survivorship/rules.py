"""Survivorship rules: each one ranks the candidates for a golden value with a numeric sort key.

A chain of rules is a lexicographic order: the builder sorts the candidates by the first rule's
key, breaks its ties with the next rule's key, and so on, then by the lowest ``record_id``.

To add a rule: add its name to ``SurvivorshipRule`` (``mdm.config.specs``), write a small frozen
class with the ``Rule`` members below and a ``from_spec`` factory, and register the factory in
``RULES``. A rule reads only the candidate frame, whole: no loop over records in Python.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar, Final, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd

from mdm.config import SurvivorshipRule, SurvivorshipSpec

# One key per candidate, lower is better. Never NaN: NaN equals nothing, so it would break ties
# that are not there. Rank missing inputs with the dtype's maximum (or +inf) instead.
SortKey = npt.NDArray[np.int64] | npt.NDArray[np.float64]

# The rule named in lineage when candidates with different values tie on the whole chain and the
# lowest record_id decides.
TIE_BREAK: Final = "tie_break"

# Columns of every candidate frame, whatever the rules: one row per non-empty member value.
CANDIDATE_COLUMNS: Final = ("golden_id", "record_id", "attribute", "value")


class Rule(Protocol):
    """A survivorship rule compiled from the spec."""

    @property
    def name(self) -> SurvivorshipRule: ...

    @property
    def needs(self) -> tuple[str, ...]:
        """The member columns the key reads; the builder carries them onto the candidates."""
        ...

    def sort_key(self, candidates: pd.DataFrame) -> SortKey:
        """One key per row of ``candidates`` (``CANDIDATE_COLUMNS`` plus ``needs``)."""
        ...


RuleFactory = Callable[[SurvivorshipSpec], Rule]


@dataclass(frozen=True)
class SourcePriority:
    """The value from the most trusted source: listed by source name, else by system."""

    name: ClassVar[SurvivorshipRule] = SurvivorshipRule.SOURCE_PRIORITY
    needs: ClassVar[tuple[str, ...]] = ("source", "system")
    priority: tuple[str, ...]

    @classmethod
    def from_spec(cls, spec: SurvivorshipSpec) -> SourcePriority:
        # A name listed twice keeps its first (highest) place; get_indexer needs unique labels.
        return cls(tuple(dict.fromkeys(spec.source_priority)))

    def sort_key(self, candidates: pd.DataFrame) -> SortKey:
        listed = pd.Index(self.priority, dtype=object)
        # Names are matched exactly; -1 means not listed (or missing).
        by_source = listed.get_indexer(pd.Index(candidates["source"], dtype=object))
        by_system = listed.get_indexer(pd.Index(candidates["system"], dtype=object))
        unlisted = len(self.priority)
        rank = np.where(by_source >= 0, by_source, np.where(by_system >= 0, by_system, unlisted))
        return rank.astype(np.int64)


@dataclass(frozen=True)
class MostRecent:
    """The value from the most recently modified record; an unknown time ranks last."""

    name: ClassVar[SurvivorshipRule] = SurvivorshipRule.MOST_RECENT
    needs: ClassVar[tuple[str, ...]] = ("last_modified",)

    @classmethod
    def from_spec(cls, spec: SurvivorshipSpec) -> MostRecent:
        return cls()

    def sort_key(self, candidates: pd.DataFrame) -> SortKey:
        # Integers in the column's own unit: exact (floats would merge close nanoseconds) and no
        # conversion to nanoseconds that far dates ("9999-12-31") would overflow.
        stamps = pd.to_datetime(candidates["last_modified"], utc=True).dt.tz_localize(None)
        ticks = stamps.to_numpy().view(np.int64)
        unknown = stamps.isna().to_numpy()
        return np.where(unknown, np.iinfo(np.int64).max, -np.where(unknown, 0, ticks))


RULES: Final[Mapping[SurvivorshipRule, RuleFactory]] = MappingProxyType(
    {
        SurvivorshipRule.SOURCE_PRIORITY: SourcePriority.from_spec,
        SurvivorshipRule.MOST_RECENT: MostRecent.from_spec,
    }
)


def compile_rule(spec: SurvivorshipSpec, name: SurvivorshipRule) -> Rule:
    """The rule ``name`` with its parameters from ``spec``."""
    return RULES[name](spec)
