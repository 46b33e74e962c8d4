"""Survivorship rules: each one ranks the candidates for a golden value with a numeric sort key.

A chain of rules is a lexicographic order: the builder sorts the candidates by the first rule's
key, breaks its ties with the next rule's key, and so on, then by the lowest ``record_id``.

A candidate competes for one golden *cell* (a golden record's attribute, or a group of
attributes that survive together). Its ``value`` is the cleaned display value; for a group it is
the record's non-empty values of the group joined by ", ".

To add a rule: add its name to ``SurvivorshipRule`` (``mdm.config.survivorship_spec``), write a
small frozen class with the ``Rule`` members below and a ``from_spec`` factory, and register the
factory in ``RULES``. A rule reads only the candidate frame, whole: no loop over records in
Python. What a rule needs that is not a member column (whether a value is valid, its match key,
how filled its record is, its age) the builder derives, once, when some rule ``needs`` it
(``DERIVED_COLUMNS``).
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
from mdm.survivorship.arrays import Ints, codes, codes_sorted

# One key per candidate, lower is better. Never NaN: NaN equals nothing, so it would break ties
# that are not there. Rank missing inputs with the dtype's maximum (or +inf) instead.
SortKey = npt.NDArray[np.int64] | npt.NDArray[np.float64]

# The rule named in lineage when candidates with different values tie on the whole chain and the
# lowest record_id decides.
TIE_BREAK: Final = "tie_break"

# Columns of every candidate frame, whatever the rules: one row per candidate. ``attribute`` is
# the attribute or group name, ``cell`` an integer code of (golden_id, attribute).
CANDIDATE_COLUMNS: Final = ("golden_id", "record_id", "attribute", "value", "cell")

# Columns the builder derives (rather than carries from the members) when a rule needs them:
#   filled     how many survived attributes the candidate's record has (for a group: how many of
#              the group's attributes)
#   valid      whether the value passes ``is_valid`` for its kind (a group: every part does)
#   match_key  the value in match form (``match_values``), the cleaned value where none can be
#              made; for a group, the parts' keys joined by "\x1f"
#   age_days   days from the record's last_modified to the run's ``now``; NaN when unknown
#   personal_mailbox  whether the value is an email address at a mail provider (a group: a part)
DERIVED_COLUMNS: Final = ("filled", "valid", "match_key", "age_days", "personal_mailbox")


class Rule(Protocol):
    """A survivorship rule compiled from the spec."""

    @property
    def name(self) -> SurvivorshipRule: ...

    @property
    def needs(self) -> tuple[str, ...]:
        """The columns the key reads besides ``CANDIDATE_COLUMNS``: member columns, which the
        builder carries onto the candidates, or ``DERIVED_COLUMNS``, which it computes."""
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
class Trust:
    """The value from the most trusted record: a score per source (or system) and attribute,
    halved every ``half_life_days`` of the record's age.

    The score of a candidate is the first found of: the attribute's own score for its source
    name, for its system, then the general score for its source name, for its system; else 0.
    With a half-life, a record without a last-modified time counts as infinitely old (score 0).
    Ages are measured to the run's ``now``; a record dated after it is not rewarded (age 0).
    Since every score decays alike, the order of two dated candidates does not depend on
    ``now``, only on their scores and how far apart their times are.
    """

    name: ClassVar[SurvivorshipRule] = SurvivorshipRule.TRUST
    by_attribute: Mapping[str, Mapping[str, float]]
    general: Mapping[str, float]
    half_life_days: float | None

    @classmethod
    def from_spec(cls, spec: SurvivorshipSpec) -> Trust:
        by_attribute = {name: dict(scores) for name, scores in spec.trust.attributes.items()}
        return cls(by_attribute, spec.trust.scores, spec.trust_half_life_days)

    @property
    def needs(self) -> tuple[str, ...]:
        decays = self.half_life_days is not None
        return ("source", "system", "age_days") if decays else ("source", "system")

    def sort_key(self, candidates: pd.DataFrame) -> SortKey:
        attribute = candidates["attribute"].to_numpy(dtype=object)
        source = candidates["source"].astype("string").fillna("").to_numpy(dtype=object)
        system = candidates["system"].astype("string").fillna("").to_numpy(dtype=object)
        own = {
            f"{name}\x1f{who}": score
            for name, scores in self.by_attribute.items()
            for who, score in scores.items()
        }
        score = np.full(len(candidates), np.nan)
        for table, keys in (
            (own, attribute + "\x1f" + source),
            (own, attribute + "\x1f" + system),
            (self.general, source),
            (self.general, system),
        ):
            score = np.where(np.isnan(score), _lookup(table, keys), score)
        score = np.nan_to_num(score, nan=0.0)
        if self.half_life_days is not None:
            age = np.maximum(candidates["age_days"].to_numpy(dtype=np.float64), 0.0)
            decay = np.exp2(-age / self.half_life_days)
            score = score * np.nan_to_num(decay, nan=0.0)
        key: npt.NDArray[np.float64] = 0.0 - np.asarray(score, dtype=np.float64)
        return key  # 0.0 - 0.0 is 0.0, never -0.0


def _lookup(table: Mapping[str, float], keys: npt.NDArray[np.object_]) -> npt.NDArray[np.float64]:
    """``table[key]`` for every key, NaN where absent."""
    found = pd.Index(list(table), dtype=object).get_indexer(pd.Index(keys, dtype=object))
    scores = np.asarray([*table.values(), np.nan], dtype=np.float64)
    return scores[np.where(found >= 0, found, len(table))]


def _ticks(candidates: pd.DataFrame) -> tuple[Ints, npt.NDArray[np.bool_]]:
    """last_modified as integers in the column's own unit, and where it is unknown.

    Exact (floats would merge close nanoseconds) and no conversion to nanoseconds that far dates
    ("9999-12-31") would overflow.
    """
    stamps = pd.to_datetime(candidates["last_modified"], utc=True).dt.tz_localize(None)
    unknown = stamps.isna().to_numpy()
    return np.where(unknown, 0, stamps.to_numpy().view(np.int64)), unknown


@dataclass(frozen=True)
class MostRecent:
    """The value from the most recently modified record; an unknown time ranks last."""

    name: ClassVar[SurvivorshipRule] = SurvivorshipRule.MOST_RECENT
    needs: ClassVar[tuple[str, ...]] = ("last_modified",)

    @classmethod
    def from_spec(cls, spec: SurvivorshipSpec) -> MostRecent:
        return cls()

    def sort_key(self, candidates: pd.DataFrame) -> SortKey:
        ticks, unknown = _ticks(candidates)
        return np.where(unknown, np.iinfo(np.int64).max, -ticks)


@dataclass(frozen=True)
class Oldest:
    """The value from the least recently modified record; an unknown time ranks last."""

    name: ClassVar[SurvivorshipRule] = SurvivorshipRule.OLDEST
    needs: ClassVar[tuple[str, ...]] = ("last_modified",)

    @classmethod
    def from_spec(cls, spec: SurvivorshipSpec) -> Oldest:
        return cls()

    def sort_key(self, candidates: pd.DataFrame) -> SortKey:
        ticks, unknown = _ticks(candidates)
        return np.where(unknown, np.iinfo(np.int64).max, ticks)


@dataclass(frozen=True)
class MostFrequent:
    """The value the most candidates of the cell share, compared in match form (so "ACME Inc"
    and "Acme Inc." count together); the winner shows its own record's spelling."""

    name: ClassVar[SurvivorshipRule] = SurvivorshipRule.MOST_FREQUENT
    needs: ClassVar[tuple[str, ...]] = ("match_key",)

    @classmethod
    def from_spec(cls, spec: SurvivorshipSpec) -> MostFrequent:
        return cls()

    def sort_key(self, candidates: pd.DataFrame) -> SortKey:
        key = codes(candidates["match_key"])
        pair = candidates["cell"].to_numpy(dtype=np.int64) * (int(key.max(initial=0)) + 1) + key
        _, inverse, counts = np.unique(pair, return_inverse=True, return_counts=True)
        return -counts[inverse].astype(np.int64)


@dataclass(frozen=True)
class MostComplete:
    """The value from the record with the most non-empty survived attributes (for a group: the
    most non-empty attributes of the group)."""

    name: ClassVar[SurvivorshipRule] = SurvivorshipRule.MOST_COMPLETE
    needs: ClassVar[tuple[str, ...]] = ("filled",)

    @classmethod
    def from_spec(cls, spec: SurvivorshipSpec) -> MostComplete:
        return cls()

    def sort_key(self, candidates: pd.DataFrame) -> SortKey:
        return -candidates["filled"].to_numpy(dtype=np.int64)


def _lengths(candidates: pd.DataFrame) -> Ints:
    lengths = candidates["value"].astype("string").str.len()
    return np.asarray(lengths.to_numpy(dtype=np.int64, na_value=0), dtype=np.int64)


@dataclass(frozen=True)
class Longest:
    """The longest cleaned value (in characters)."""

    name: ClassVar[SurvivorshipRule] = SurvivorshipRule.LONGEST
    needs: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def from_spec(cls, spec: SurvivorshipSpec) -> Longest:
        return cls()

    def sort_key(self, candidates: pd.DataFrame) -> SortKey:
        return -_lengths(candidates)


@dataclass(frozen=True)
class Shortest:
    """The shortest cleaned value (in characters)."""

    name: ClassVar[SurvivorshipRule] = SurvivorshipRule.SHORTEST
    needs: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def from_spec(cls, spec: SurvivorshipSpec) -> Shortest:
        return cls()

    def sort_key(self, candidates: pd.DataFrame) -> SortKey:
        return _lengths(candidates)


def _dense_rank(*keys: Ints) -> Ints:
    """Dense rank of the rows by ``keys`` (first key primary): equal tuples, equal ranks."""
    if not len(keys[0]):
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort(tuple(reversed(keys)))
    step = np.zeros(len(order), dtype=np.int64)
    for key in keys:
        ordered = key[order]
        step[1:] |= (ordered[1:] != ordered[:-1]).astype(np.int64)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.cumsum(step)
    return rank


def _value_order(candidates: pd.DataFrame) -> Ints:
    """The ascending rank of each value among its cell's candidates.

    Within a cell: numbers by value when every candidate parses as a number ("9" < "10"); else
    dates when every candidate is an ISO 8601 date; else text, case-insensitively first
    ("apple" < "Banana"), then by code point.
    """
    text = candidates["value"].astype("string")
    cell = codes(candidates["cell"])
    number = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    stamps = pd.to_datetime(text, errors="coerce", utc=True, format="ISO8601")
    dated = stamps.notna().to_numpy()
    numeric = ~np.isnan(number)
    cells = int(cell.max(initial=-1)) + 1
    all_numeric = (np.bincount(cell, weights=~numeric, minlength=cells) == 0)[cell]
    all_dated = (np.bincount(cell, weights=~dated, minlength=cells) == 0)[cell] & ~all_numeric
    as_text = ~all_numeric & ~all_dated
    ticks = stamps.dt.tz_localize(None).to_numpy().view(np.int64)
    number_rank = np.unique(np.where(numeric, number, 0.0), return_inverse=True)[1]
    folded = codes_sorted(text.str.casefold())
    exact = codes_sorted(text)
    return _dense_rank(
        np.where(all_numeric, number_rank.reshape(-1), 0).astype(np.int64),
        np.where(all_dated, ticks, 0),
        np.where(as_text, folded, 0),
        np.where(as_text, exact, 0),
    )


@dataclass(frozen=True)
class Max:
    """The greatest value: numbers as numbers, ISO dates as dates, else text (see
    ``_value_order``)."""

    name: ClassVar[SurvivorshipRule] = SurvivorshipRule.MAX
    needs: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def from_spec(cls, spec: SurvivorshipSpec) -> Max:
        return cls()

    def sort_key(self, candidates: pd.DataFrame) -> SortKey:
        return -_value_order(candidates)


@dataclass(frozen=True)
class Min:
    """The least value: numbers as numbers, ISO dates as dates, else text."""

    name: ClassVar[SurvivorshipRule] = SurvivorshipRule.MIN
    needs: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def from_spec(cls, spec: SurvivorshipSpec) -> Min:
        return cls()

    def sort_key(self, candidates: pd.DataFrame) -> SortKey:
        return _value_order(candidates)


@dataclass(frozen=True)
class ValidFirst:
    """A valid value before an invalid one: a malformed email, an impossible phone, an unknown
    country lose to a well-formed one (``is_valid`` of the attribute's kind)."""

    name: ClassVar[SurvivorshipRule] = SurvivorshipRule.VALID_FIRST
    needs: ClassVar[tuple[str, ...]] = ("valid",)

    @classmethod
    def from_spec(cls, spec: SurvivorshipSpec) -> ValidFirst:
        return cls()

    def sort_key(self, candidates: pd.DataFrame) -> SortKey:
        return np.where(candidates["valid"].to_numpy(dtype=bool), 0, 1).astype(np.int64)


@dataclass(frozen=True)
class WorkEmailFirst:
    """Any value before an email address at a mail provider or an ISP (gmail.com, comcast.net):
    the master of a business contact sends their work address back to the CRM, not a private
    one that a newer support ticket happened to carry."""

    name: ClassVar[SurvivorshipRule] = SurvivorshipRule.WORK_EMAIL_FIRST
    needs: ClassVar[tuple[str, ...]] = ("personal_mailbox",)

    @classmethod
    def from_spec(cls, spec: SurvivorshipSpec) -> WorkEmailFirst:
        return cls()

    def sort_key(self, candidates: pd.DataFrame) -> SortKey:
        personal = candidates["personal_mailbox"].to_numpy(dtype=bool)
        return np.where(personal, 1, 0).astype(np.int64)


@dataclass(frozen=True)
class KeepAll:
    """Every distinct value the rules before it left (distinct in match form), as a JSON array.

    It ranks nothing (every candidate ties); the builder keeps one candidate per match key.
    """

    name: ClassVar[SurvivorshipRule] = SurvivorshipRule.KEEP_ALL
    needs: ClassVar[tuple[str, ...]] = ("match_key",)

    @classmethod
    def from_spec(cls, spec: SurvivorshipSpec) -> KeepAll:
        return cls()

    def sort_key(self, candidates: pd.DataFrame) -> SortKey:
        return np.zeros(len(candidates), dtype=np.int64)


RULES: Final[Mapping[SurvivorshipRule, RuleFactory]] = MappingProxyType(
    {
        SurvivorshipRule.SOURCE_PRIORITY: SourcePriority.from_spec,
        SurvivorshipRule.TRUST: Trust.from_spec,
        SurvivorshipRule.MOST_RECENT: MostRecent.from_spec,
        SurvivorshipRule.OLDEST: Oldest.from_spec,
        SurvivorshipRule.MOST_FREQUENT: MostFrequent.from_spec,
        SurvivorshipRule.MOST_COMPLETE: MostComplete.from_spec,
        SurvivorshipRule.LONGEST: Longest.from_spec,
        SurvivorshipRule.SHORTEST: Shortest.from_spec,
        SurvivorshipRule.MAX: Max.from_spec,
        SurvivorshipRule.MIN: Min.from_spec,
        SurvivorshipRule.VALID_FIRST: ValidFirst.from_spec,
        SurvivorshipRule.WORK_EMAIL_FIRST: WorkEmailFirst.from_spec,
        SurvivorshipRule.KEEP_ALL: KeepAll.from_spec,
    }
)


def compile_rule(spec: SurvivorshipSpec, name: SurvivorshipRule) -> Rule:
    """The rule ``name`` with its parameters from ``spec``."""
    return RULES[name](spec)
