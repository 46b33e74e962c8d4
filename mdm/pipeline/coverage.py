"""Which compared fields a source cannot give: said in the run summary, so that a source
matched on less than the rules compare is visible, not silently weaker."""

from __future__ import annotations

from mdm.config.match_spec import MatchSpec
from mdm.config.specs import SourceSpec

# Attributes a mapped attribute fills in: a full name is parsed into its parts; a contact's
# golden account comes from its account key, its company name or its work email's domain.
_FILLED_BY: dict[str, tuple[str, ...]] = {
    "first_name": ("full_name",),
    "middle_name": ("full_name",),
    "last_name": ("full_name",),
    "account_id": ("account_key", "company", "email"),
}


def fields_not_given(source: SourceSpec, spec: MatchSpec) -> list[str]:
    """The fields the entity's comparisons read that ``source`` maps no column to, in the
    order of the comparisons."""
    mapped = set(source.mapping)
    compared = dict.fromkeys(comparison.field for comparison in spec.comparisons)
    return [
        field
        for field in compared
        if field not in mapped and not mapped.intersection(_FILLED_BY.get(field, ()))
    ]
