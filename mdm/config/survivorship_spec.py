"""Survivorship rules of one entity: ``rules/survivorship/<entity>.toml``.

```toml
source_priority = ["ERP", "CRM", "Support", "Marketing"]
default = ["source_priority", "most_recent"]
trust_half_life_days = 365

[trust]                      # per source name or system, 0..1
ERP = 0.9
CRM = 0.8
[trust.attributes.phone]     # per attribute (or group): overrides the line above
Support = 0.95

[attributes]                 # a chain of its own
email = ["valid_first", "trust", "most_recent"]

[groups.address]             # survive together, from one record
attributes = ["street", "city", "region", "postcode", "country"]
rules = ["most_complete", "most_recent"]
```

Every name is checked here, so a typo fails when the rules load: rule names (enum), attribute
names, group names and members, trust attributes, and where a rule may stand in a chain.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Final

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from mdm.config.base import Strict
from mdm.schema import Entity, survived_attribute_names


class SurvivorshipRule(StrEnum):
    SOURCE_PRIORITY = "source_priority"  # the value from the highest-priority source or system
    TRUST = "trust"  # the most trusted source for the attribute, trust decaying with age
    MOST_RECENT = "most_recent"  # the value from the most recently modified record
    OLDEST = "oldest"  # the value from the least recently modified record
    MOST_FREQUENT = "most_frequent"  # the value most members share (compared in match form)
    MOST_COMPLETE = "most_complete"  # the value from the record with the most values filled
    LONGEST = "longest"  # the longest value
    SHORTEST = "shortest"  # the shortest value
    MAX = "max"  # the greatest value: numbers as numbers, dates as dates, else text
    MIN = "min"  # the least value: numbers as numbers, dates as dates, else text
    VALID_FIRST = "valid_first"  # a valid value before an invalid one (bad email, phone, ...)
    WORK_EMAIL_FIRST = "work_email_first"  # an address at a mail provider (gmail.com) ranks last
    KEEP_ALL = "keep_all"  # every distinct value left, as a JSON array


# Rules that rank one value by its own text; a group survives as a whole record, so its chain
# may not use them.
VALUE_RULES: Final = frozenset(
    {
        SurvivorshipRule.LONGEST,
        SurvivorshipRule.SHORTEST,
        SurvivorshipRule.MAX,
        SurvivorshipRule.MIN,
        SurvivorshipRule.KEEP_ALL,
    }
)


def _check_chain(chain: list[SurvivorshipRule]) -> list[SurvivorshipRule]:
    if SurvivorshipRule.KEEP_ALL in chain[:-1]:
        raise ValueError(
            "keep_all keeps every value the rules before it left, so it must come last"
        )
    return chain


Chain = Annotated[list[SurvivorshipRule], Field(min_length=1), AfterValidator(_check_chain)]
Score = Annotated[float, Field(ge=0, le=1)]


def _known(info: ValidationInfo) -> tuple[Entity | None, list[str]]:
    """The entity and its survived attributes, if the entity validated."""
    entity = info.data.get("entity")
    return (entity, survived_attribute_names(entity)) if isinstance(entity, Entity) else (None, [])


def _check_attribute_key(name: str, info: ValidationInfo) -> str:
    entity, known = _known(info)
    groups: dict[str, GroupSpec] = info.data.get("groups", {})
    if name in groups:
        raise ValueError(f"{name!r} is a group: set its chain as groups.{name}.rules")
    if entity is None:
        return name
    if name not in known:
        raise ValueError(
            f"{name!r} is not a survived {entity} attribute; known: {', '.join(known)}"
        )
    grouped = [group for group, spec in groups.items() if name in spec.attributes]
    if grouped:
        raise ValueError(
            f"{name!r} survives with its group {grouped[0]!r}: "
            f"set the group's chain as groups.{grouped[0]}.rules"
        )
    return name


def _check_group_name(name: str, info: ValidationInfo) -> str:
    entity, known = _known(info)
    if name in known:
        raise ValueError(f"a group may not be named after the attribute {name!r} ({entity})")
    return name


class GroupSpec(Strict):
    """Attributes that survive together: every one of them comes from the winning record."""

    attributes: list[str] = Field(min_length=2)
    # The chain ranking the records that have a value in the group; the default chain if unset.
    rules: Chain | None = None


class TrustSpec(BaseModel):
    """``[trust]``: source or system = score (0..1); ``[trust.attributes.<name>]`` overrides."""

    model_config = ConfigDict(extra="allow", frozen=True)
    __pydantic_extra__: dict[str, Score]

    attributes: dict[str, dict[str, Score]] = Field(default_factory=dict)

    @property
    def scores(self) -> dict[str, float]:
        """The scores of every attribute, by source name or system."""
        return dict(self.model_extra or {})


class SurvivorshipSpec(Strict):
    """Survivorship of one entity (``rules/survivorship/<entity>.toml``)."""

    entity: Entity
    # Source names or systems, highest priority first; anything unlisted ranks last.
    source_priority: list[str] = Field(default_factory=list)
    default: Chain
    groups: dict[Annotated[str, AfterValidator(_check_group_name)], GroupSpec] = Field(
        default_factory=dict
    )
    attributes: dict[Annotated[str, AfterValidator(_check_attribute_key)], Chain] = Field(
        default_factory=dict
    )
    trust: TrustSpec = Field(default_factory=TrustSpec)
    # Trust halves every this many days of a record's age (now - last_modified); unset: no decay.
    trust_half_life_days: float | None = Field(default=None, gt=0)

    @field_validator("groups")
    @classmethod
    def _check_groups(
        cls, groups: dict[str, GroupSpec], info: ValidationInfo
    ) -> dict[str, GroupSpec]:
        entity, known = _known(info)
        problems: list[str] = []
        owner: dict[str, str] = {}
        default = info.data.get("default")
        for name, group in groups.items():
            for attribute in group.attributes:
                if entity is not None and attribute not in known:
                    problems.append(
                        f"group {name!r} names {attribute!r}, not a survived {entity} attribute; "
                        f"known: {', '.join(known)}"
                    )
                elif attribute in owner:
                    problems.append(
                        f"{attribute!r} is in the groups {owner[attribute]!r} and {name!r}; "
                        "an attribute survives in one group at most"
                    )
                else:
                    owner[attribute] = name
            chain = group.rules if group.rules is not None else default
            misplaced = [rule.value for rule in chain or [] if rule in VALUE_RULES]
            if misplaced:
                where = "its rules" if group.rules is not None else "the default chain it uses"
                problems.append(
                    f"group {name!r}: {where} use {', '.join(misplaced)}, which rank single "
                    "values; a group is ranked as a whole record"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return groups

    @field_validator("trust")
    @classmethod
    def _check_trust(cls, trust: TrustSpec, info: ValidationInfo) -> TrustSpec:
        entity, known = _known(info)
        if entity is None:
            return trust
        names = [*known, *info.data.get("groups", {})]
        unknown = [name for name in trust.attributes if name not in names]
        if unknown:
            raise ValueError(
                f"trust.attributes names {', '.join(map(repr, unknown))}, not a survived "
                f"{entity} attribute or group; known: {', '.join(names)}"
            )
        return trust

    def group_of(self, attribute: str) -> str | None:
        """The group ``attribute`` survives in, if any."""
        for name, group in self.groups.items():
            if attribute in group.attributes:
                return name
        return None

    def chain(self, attribute: str) -> list[SurvivorshipRule]:
        """The chain deciding ``attribute``: its group's chain if it is grouped."""
        group = self.group_of(attribute) or (attribute if attribute in self.groups else None)
        if group is not None:
            return list(self.groups[group].rules or self.default)
        return list(self.attributes.get(attribute, self.default))

    def trust_scores(self, attribute: str) -> tuple[dict[str, float], dict[str, float]]:
        """The trust of each source or system for ``attribute`` (or group): its own, general."""
        return dict(self.trust.attributes.get(attribute, {})), self.trust.scores
