"""Value pins: a steward fixes a golden value; it overrides survivorship until unpinned."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Connection

from mdm.config.specs import Project
from mdm.errors import MdmError, Reason
from mdm.refs import entity_of_golden_id
from mdm.schema import ATTRIBUTES, Entity, Kind, survived_attribute_names
from mdm.standardize import clean_values, is_valid, match_values
from mdm.stewardship.common import Acted, StewardResult, run_action
from mdm.store import bulk, golden
from mdm.store import stewardship as steward_store
from mdm.store.tables import ValuePin


def pin_value(
    project: Project,
    golden_id: str,
    attribute: str,
    value: str,
    actor: str,
    force: bool = False,
    reason: str | None = None,
) -> StewardResult:
    """Fix a golden value: it overrides survivorship until unpinned.

    The value is standardized and validated like a source value of the attribute (a phone
    becomes E.164; an invalid one is refused); ``force`` pins it exactly as given. ``reason``
    (why, for the audit log) is recorded when given."""
    entity = entity_of_golden_id(golden_id)
    _check_attribute(entity, attribute)
    pinned: list[str] = []

    def act(connection: Connection, run_id: int) -> Acted:
        _require_active(connection, entity, golden_id)
        stored = (
            value
            if force
            else standardized_pin(project, connection, entity, golden_id, attribute, value)
        )
        steward_store.deactivate_pins(connection, golden_id, attribute)
        row = {
            "entity": entity,
            "golden_id": golden_id,
            "attribute": attribute,
            "value": stored,
            "pinned_by": actor,
            "pinned_at": bulk.now(),
            "active": True,
        }
        bulk.insert_frame(connection, ValuePin, pd.DataFrame([row]))
        detail: dict[str, object] = {"value": stored}
        if force:
            detail["forced"] = True
        elif stored != value:
            detail["given"] = value
        if reason is not None:
            detail["reason"] = reason
        pinned.append(stored)
        return Acted({golden_id}, "pin", f"{golden_id}.{attribute}", detail)

    run, audited = run_action(project, entity, actor, act)
    message = f"{golden_id}.{attribute} is pinned to {pinned[0]!r}"
    if force:
        message += ", exactly as given (forced)"
    elif pinned[0] != value:
        message += f" (given as {value!r})"
    return StewardResult(message + ".", run, audited)


# Why a value of each kind is refused (kinds whose every non-empty value is valid are absent).
INVALID_BECAUSE: dict[Kind, str] = {
    Kind.PHONE: "not a valid phone number",
    Kind.EMAIL: "not a well-formed email address",
    Kind.DOMAIN: "not a website or domain with a registrable domain, such as example.com",
    Kind.POSTCODE: "not a recognisable postal code",
    Kind.COUNTRY: "not a country name or ISO 3166 code",
    Kind.IDENTIFIER: "not a VAT number or tax number with a valid format and check digits",
}


def standardized_pin(
    project: Project,
    connection: Connection,
    entity: Entity,
    golden_id: str,
    attribute: str,
    value: str,
) -> str:
    """The pin as a source value of the attribute would be shown (its display form), or an
    error naming the attribute, the value and why it is refused. Reads only: ``pin_value``
    stores what it gives, the action's preview shows it."""
    kind = next(a.kind for a in ATTRIBUTES[entity] if a.name == attribute)
    regional = kind in (Kind.PHONE, Kind.IDENTIFIER, Kind.POSTCODE, Kind.REGION)  # its country
    region = _phone_region(project, connection, entity, golden_id) if regional else "US"
    text = pd.Series([value], dtype="string")
    clean = clean_values(kind, text, region).iloc[0]
    if pd.isna(clean):
        raise MdmError(
            Reason.USAGE,
            f"{golden_id}.{attribute}: a pin needs a value; to let the survivorship rules "
            f"choose again, 'mdm unpin {golden_id} {attribute}'.",
        )
    if not bool(is_valid(kind, text, region).iloc[0]):
        why = INVALID_BECAUSE.get(kind, "not a valid value")
        if kind is Kind.PHONE:
            why += f" (a number without a country code is read as a {region} number)"
        elif kind is Kind.IDENTIFIER:
            why += f" (a number without a country prefix is read as a {region} number)"
        raise MdmError(
            Reason.USAGE,
            f"{golden_id}.{attribute}: {value!r} is refused: it is {why}. Pin a valid "
            f"{attribute}, or add --force to pin this value exactly as given.",
        )
    return str(clean)


def _phone_region(project: Project, connection: Connection, entity: Entity, golden_id: str) -> str:
    """The region a pinned phone is dialled from, as for a source record's phone: the golden
    record's own country if it has one, else the default region of the sources most of its
    records come from (``US`` if none says)."""
    if entity is Entity.ACCOUNT:
        country = golden.golden_in(connection, entity, [golden_id])["country"]
        code = match_values(Kind.COUNTRY, country.astype("string")).dropna()
        if not code.empty:
            return str(code.iloc[0])
    sources = golden.xref_of_golden_ids(connection, [golden_id])["source"]
    regions = {source.name: source.default_region for source in project.spec.sources}
    counts = sources.map(regions).dropna().value_counts()
    if counts.empty:
        return "US"
    # The most common region; among equally common ones the first by name.
    return str(sorted(counts.index, key=lambda r: (-int(counts[r]), str(r)))[0])


def unpin_value(
    project: Project, golden_id: str, attribute: str, actor: str, reason: str | None = None
) -> StewardResult:
    """Unpin a golden value: it follows its survivorship rules again. ``reason`` (why, for
    the audit log) is recorded when given."""
    entity = entity_of_golden_id(golden_id)
    _check_attribute(entity, attribute)

    def act(connection: Connection, run_id: int) -> Acted:
        if steward_store.deactivate_pins(connection, golden_id, attribute) == 0:
            raise MdmError(Reason.NOT_FOUND, f"{golden_id}.{attribute} is not pinned.")
        detail = None if reason is None else {"reason": reason}
        return Acted({golden_id}, "unpin", f"{golden_id}.{attribute}", detail)

    run, audited = run_action(project, entity, actor, act)
    return StewardResult(
        f"{golden_id}.{attribute} follows its survivorship rules again.", run, audited
    )


def _require_active(connection: Connection, entity: Entity, golden_id: str) -> None:
    found = golden.golden_in(connection, entity, [golden_id])
    if found.empty or found["status"].iloc[0] != "active":
        raise MdmError(
            Reason.NOT_FOUND,
            f"{golden_id} is not an active golden {entity}: see 'mdm resolve {golden_id}'.",
        )


def _check_attribute(entity: Entity, attribute: str) -> None:
    known = survived_attribute_names(entity)
    if attribute not in known:
        raise MdmError(
            Reason.USAGE,
            f"{attribute!r} is not an attribute of a golden {entity}; known: {', '.join(known)}.",
        )
