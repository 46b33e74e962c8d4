"""The local matching engine: one entity's records matched in this process, with numpy.

``LocalEngine.match`` checks and encodes the records once (``mdm.matching.encoded``), then runs
the stages of the spec's method over that immutable value:

* ``rules`` (``mdm.matching.deterministic``): records that agree exactly on every field of a
  rule match; clusters are the connected components (cannot-link constraints still split
  them).
* ``probabilistic`` (``mdm.matching.probabilistic``): block -> compare -> train -> score ->
  decide -> cluster, with steward constraints winning over everything.

It implements ``mdm.matching.protocol.MatchEngine``; pick engines with ``engine_named``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import numpy.typing as npt
import pandas as pd

from mdm.config.match_spec import DERIVED_FIELDS, MatchSpec, Method
from mdm.matching.block import block_key_texts, blocking_columns
from mdm.matching.comparisons import Comparison, comparison_from_spec, comparisons_from_spec
from mdm.matching.deterministic import match_by_rules, rule_fields
from mdm.matching.encoded import EncodedRecords, PairsLike, check_records, encode
from mdm.matching.explain import Explanation, explain_pair
from mdm.matching.model import FellegiSunterModel
from mdm.matching.probabilistic import match_probabilistic
from mdm.matching.result import MatchResult
from mdm.matching.stages import Constraints
from mdm.matching.values import FieldValues


class LocalEngine:
    name = "local"

    def match(
        self,
        records: pd.DataFrame,
        spec: MatchSpec,
        *,
        model: FellegiSunterModel | None = None,
        labels: pd.DataFrame | None = None,
        must_link: PairsLike | None = None,
        cannot_link: PairsLike | None = None,
        new: npt.ArrayLike | None = None,
        groups: npt.ArrayLike | None = None,
        frequencies: Mapping[str, pd.Series] | pd.DataFrame | None = None,
        oversized: Collection[str] = (),
    ) -> MatchResult:
        """See ``MatchEngine.match``."""
        if spec.method is Method.RULES:
            fields = rule_fields(spec)
            check_records(records, fields)
            encoded = encode(records, fields, new=new, groups=groups, oversized=oversized)
            return match_by_rules(encoded, spec, Constraints.of(encoded, must_link, cannot_link))
        comparisons = comparisons_from_spec(spec)
        encoded, warnings = _encoded_for_model(
            records, spec, comparisons, new, groups, frequencies, oversized
        )
        return match_probabilistic(
            encoded,
            spec,
            comparisons,
            Constraints.of(encoded, must_link, cannot_link),
            model=model,
            labels=labels,
            warnings=warnings,
        )

    def term_frequencies(self, records: pd.DataFrame, spec: MatchSpec) -> dict[str, pd.Series]:
        """See ``MatchEngine.term_frequencies``."""
        out = {}
        for comparison in (comparison_from_spec(c) for c in spec.comparisons if c.tf_adjust):
            if comparison.field in records.columns:
                values = FieldValues.of(records[comparison.field])
                index = pd.Index(values.uniques, dtype="string")
                out[comparison.name] = pd.Series(values.frequencies(), index=index)
        return out

    def explain(
        self,
        record_a: pd.Series,
        record_b: pd.Series,
        spec: MatchSpec,
        model: FellegiSunterModel,
        *,
        frequencies: Mapping[str, pd.Series] | None = None,
    ) -> Explanation:
        """See ``MatchEngine.explain``."""
        return explain_pair(record_a, record_b, spec, model, frequencies=frequencies)

    def blocking_keys(self, records: pd.DataFrame, spec: MatchSpec) -> pd.DataFrame:
        """See ``MatchEngine.blocking_keys``."""
        return block_key_texts(records, spec)


def _encoded_for_model(
    records: pd.DataFrame,
    spec: MatchSpec,
    comparisons: list[Comparison],
    new: npt.ArrayLike | None,
    groups: npt.ArrayLike | None,
    frequencies: Mapping[str, pd.Series] | pd.DataFrame | None,
    oversized: Collection[str] = (),
) -> tuple[EncodedRecords, list[str]]:
    """Every field the probabilistic stages read, encoded; and warnings about absent ones."""
    warnings, absent = _check_probabilistic_records(records, spec, comparisons)
    if absent:  # derived columns the caller did not add: empty, so no evidence either way
        empty = pd.array([pd.NA] * len(records), dtype="string")
        records = records.assign(**dict.fromkeys(absent, empty))
    if isinstance(frequencies, pd.DataFrame):
        frequencies = {str(c): frequencies[c].dropna() for c in frequencies.columns}
    compared = [c for c in comparisons if not c.members and c.field in records.columns]
    fields = [*blocking_columns(spec), *(c.field for c in compared), *rule_fields(spec)]
    given = frequencies or {}
    encoded = encode(
        records,
        fields,
        swaps=[(c.field, c.swap_with) for c in compared if c.swap_with is not None],
        term_frequencies=[(c.field, given.get(c.name)) for c in compared if c.tf_adjust],
        new=new,
        groups=groups,
        oversized=oversized,
    )
    return encoded, warnings


def _check_probabilistic_records(
    records: pd.DataFrame, spec: MatchSpec, comparisons: list[Comparison]
) -> tuple[list[str], list[str]]:
    """Check the columns; a derived column the caller did not add only earns a warning."""
    derived = set(DERIVED_FIELDS[spec.entity])
    needed = [
        *(f for rule in spec.blocking for key in rule.keys for f in key.inputs),
        *(f for rule in spec.rules for f in rule.all_fields),
        *(f for c in comparisons for f in c.fields),
    ]
    absent_derived = sorted({f for f in needed if f in derived and f not in records.columns})
    check_records(records, [f for f in dict.fromkeys(needed) if f not in absent_derived])
    warnings = [
        f"records have no {name!r} column: blocking, comparisons and rules on it give no evidence"
        for name in absent_derived
    ]
    return warnings, absent_derived
