"""The canonical attributes of accounts (organisations) and contacts (people).

Every source is mapped onto these names. Each attribute has a kind, which says how its values
are cleaned for display and keyed for matching (see ``mdm.standardize``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Entity(StrEnum):
    ACCOUNT = "account"
    CONTACT = "contact"


# The states the store keeps, as the strings it stores them as.


class GoldenStatus(StrEnum):
    ACTIVE = "active"
    MERGED = "merged"  # merged into another golden record: its id redirects there
    RETIRED = "retired"  # every member record deleted


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class ReviewStatus(StrEnum):
    OPEN = "open"
    DECIDED = "decided"  # a steward decided the pair
    GONE = "gone"  # a later run no longer found the pair uncertain


class LinkDecision(StrEnum):
    """A steward's decision on two source records."""

    MUST_LINK = "must_link"
    CANNOT_LINK = "cannot_link"


class Kind(StrEnum):
    """How an attribute's values are standardized."""

    COMPANY_NAME = "company_name"
    PERSON_NAME = "person_name"
    EMAIL = "email"
    PHONE = "phone"
    DOMAIN = "domain"
    STREET = "street"
    CITY = "city"
    REGION = "region"
    POSTCODE = "postcode"
    COUNTRY = "country"
    IDENTIFIER = "identifier"
    TEXT = "text"
    KEY = "key"


@dataclass(frozen=True)
class Attribute:
    name: str
    kind: Kind
    description: str
    # Attributes that describe the entity and are built into golden values by survivorship.
    # Reference keys (such as a contact's account_key) are used to relate, not survived as text.
    survived: bool = True


ACCOUNT_ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute("name", Kind.COMPANY_NAME, "legal or trading name of the organisation"),
    Attribute("domain", Kind.DOMAIN, "website or its registrable domain"),
    Attribute("phone", Kind.PHONE, "main switchboard number"),
    Attribute("street", Kind.STREET, "street address, one line"),
    Attribute("city", Kind.CITY, "city or town"),
    Attribute("region", Kind.REGION, "state, province or county"),
    Attribute("postcode", Kind.POSTCODE, "postal or ZIP code"),
    Attribute("country", Kind.COUNTRY, "country (name or code; stored as ISO 3166 alpha-2)"),
    Attribute("tax_id", Kind.IDENTIFIER, "VAT number, EIN or other tax identifier"),
)

CONTACT_ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute("first_name", Kind.PERSON_NAME, "given name"),
    Attribute("middle_name", Kind.PERSON_NAME, "middle names or initials"),
    Attribute("last_name", Kind.PERSON_NAME, "family name"),
    Attribute("email", Kind.EMAIL, "email address"),
    Attribute("phone", Kind.PHONE, "office phone"),
    Attribute("mobile", Kind.PHONE, "mobile phone"),
    Attribute("title", Kind.TEXT, "job title"),
    Attribute("company", Kind.COMPANY_NAME, "company name, for sources without account keys"),
    Attribute(
        "account_key",
        Kind.KEY,
        "key of the contact's account in the source's own account system",
        survived=False,
    ),
    # A whole name in one column, as read: split at ingest into first, middle and last name
    # (those the row does not give itself); matching and survivorship use the parts.
    Attribute(
        "full_name",
        Kind.PERSON_NAME,
        "the whole name in one value; split into first, middle and last name when loaded",
        survived=False,
    ),
)

ATTRIBUTES: dict[Entity, tuple[Attribute, ...]] = {
    Entity.ACCOUNT: ACCOUNT_ATTRIBUTES,
    Entity.CONTACT: CONTACT_ATTRIBUTES,
}


def attribute_names(entity: Entity) -> list[str]:
    return [attribute.name for attribute in ATTRIBUTES[entity]]


def survived_attribute_names(entity: Entity) -> list[str]:
    return [attribute.name for attribute in ATTRIBUTES[entity] if attribute.survived]


def attribute(entity: Entity, name: str) -> Attribute:
    for candidate in ATTRIBUTES[entity]:
        if candidate.name == name:
            return candidate
    raise KeyError(f"{entity} has no attribute {name!r}")


# Golden id prefixes: an id says what it is at a glance.
GOLDEN_ID_PREFIX: dict[Entity, str] = {Entity.ACCOUNT: "A", Entity.CONTACT: "C"}
