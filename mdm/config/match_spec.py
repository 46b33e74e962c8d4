"""Match rules of one entity: ``rules/match/<entity>.toml``."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, model_validator

from mdm.config.base import Strict
from mdm.schema import Entity, attribute_names


class MatchMethod(StrEnum):
    EXACT = "exact"  # every field equal after standardization, none empty


class MatchRuleSpec(Strict):
    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    method: MatchMethod = MatchMethod.EXACT
    fields: list[str] = Field(min_length=1)


class MatchSpec(Strict):
    """Match rules of one entity (``rules/match/<entity>.toml``)."""

    entity: Entity
    rules: list[MatchRuleSpec] = Field(min_length=1)
    # A blocking key shared by more records than this is too common to be evidence
    # (a placeholder email, a switchboard number): its pairs are skipped with a warning.
    max_block_size: int = Field(default=500, ge=2)

    @model_validator(mode="after")
    def _check_fields(self) -> MatchSpec:
        known = attribute_names(self.entity)
        for rule in self.rules:
            unknown = [f for f in rule.fields if f not in known]
            if unknown:
                raise ValueError(
                    f"rule {rule.name!r} uses {', '.join(map(repr, unknown))}, not attributes "
                    f"of a {self.entity}; known: {', '.join(known)}"
                )
        names = [rule.name for rule in self.rules]
        if len(set(names)) != len(names):
            raise ValueError("match rule names must be unique")
        return self
