"""Survivorship rules of one entity: ``rules/survivorship/<entity>.toml``."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, model_validator

from mdm.config.base import Strict
from mdm.schema import Entity, survived_attribute_names


class SurvivorshipRule(StrEnum):
    SOURCE_PRIORITY = "source_priority"  # the value from the highest-priority source or system
    MOST_RECENT = "most_recent"  # the value from the most recently modified record


class SurvivorshipSpec(Strict):
    """Survivorship of one entity (``rules/survivorship/<entity>.toml``)."""

    entity: Entity
    # Source names or systems, highest priority first; anything unlisted ranks last.
    source_priority: list[str] = Field(default_factory=list)
    default: list[SurvivorshipRule] = Field(min_length=1)
    attributes: dict[str, list[SurvivorshipRule]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_attributes(self) -> SurvivorshipSpec:
        known = survived_attribute_names(self.entity)
        unknown = sorted(set(self.attributes) - set(known))
        if unknown:
            raise ValueError(
                f"attributes {', '.join(map(repr, unknown))} are not survived attributes of a "
                f"{self.entity}; known: {', '.join(known)}"
            )
        for name, chain in self.attributes.items():
            if not chain:
                raise ValueError(f"attribute {name!r} has an empty rule chain")
        return self

    def chain(self, attribute: str) -> list[SurvivorshipRule]:
        return list(self.attributes.get(attribute, self.default))
