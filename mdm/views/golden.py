"""The 360 view of one golden record: its values, its source records by system, its contacts
(an account) or its account (a contact), and its lineage. Read by key: the record, its xref
rows, its members' versions, its lineage, and the one related record or the related contacts."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from mdm.config.specs import ProjectSpec
from mdm.errors import MdmError, Reason
from mdm.refs import entity_of_golden_id
from mdm.schema import Entity, attribute_names
from mdm.store import golden, records
from mdm.views.base import ViewModel, plain_rows
from mdm.views.history import LineageRow, lineage_rows
from mdm.views.redirects import current_id


class MemberRecord(ViewModel):
    """A source record of the golden record, as it was loaded."""

    system: str
    source: str
    source_key: str
    version: int
    last_modified: datetime | None
    values: dict[str, Any]  # canonical attribute values, in the entity's attribute order


class ContactSummary(ViewModel):
    golden_id: str
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    title: str | None


class AccountSummary(ViewModel):
    golden_id: str
    name: str | None
    domain: str | None
    city: str | None
    country: str | None


class GoldenView(ViewModel):
    requested: str
    golden_id: str  # the id that answers for ``requested`` now
    entity: Entity
    record: dict[str, Any]  # the golden values and status
    members: list[MemberRecord]  # by system, source and key
    contacts: list[ContactSummary]  # an account's active contacts, by name
    account: AccountSummary | None  # a contact's account
    account_link: str | None  # how a contact's account was found
    lineage: list[LineageRow]


def golden_view(connection: Connection, spec: ProjectSpec, golden_id: str) -> GoldenView:
    """The 360 view of the golden record that answers for ``golden_id``."""
    entity = entity_of_golden_id(golden_id)
    current = current_id(connection, golden_id)
    found = plain_rows(golden.golden_record(connection, entity, current))
    if not found:
        raise MdmError(
            Reason.NOT_FOUND,
            f"No golden {entity} {golden_id}. Find ids in the export's {entity}s file.",
        )
    record = found[0]
    account = _account(connection, record) if entity is Entity.CONTACT else None
    return GoldenView(
        requested=golden_id,
        golden_id=current,
        entity=entity,
        record=record,
        members=_members(connection, spec, entity, current),
        contacts=_contacts(connection, current) if entity is Entity.ACCOUNT else [],
        account=account,
        account_link=record.get("account_link"),
        lineage=lineage_rows(connection, current),
    )


def _members(
    connection: Connection, spec: ProjectSpec, entity: Entity, golden_id: str
) -> list[MemberRecord]:
    xref = golden.xref_of_golden_ids(connection, [golden_id])
    versions = records.records_by_id(connection, xref["record_id"].astype(int).tolist())
    systems = {source.name: source.system for source in spec.sources}
    names = attribute_names(entity)
    members = [
        MemberRecord(
            system=systems.get(row["source"], row["source"]),
            source=row["source"],
            source_key=row["source_key"],
            version=row["version"],
            last_modified=row["last_modified"],
            values=_in_order(json.loads(row["attributes"]), names),
        )
        for row in plain_rows(versions)
    ]
    return sorted(members, key=lambda m: (m.system, m.source, m.source_key))


def _in_order(values: dict[str, Any], names: list[str]) -> dict[str, Any]:
    return {name: values.get(name) for name in names}


def _contacts(connection: Connection, account_id: str) -> list[ContactSummary]:
    contacts = golden.active_contacts_of_account(connection, account_id)
    ordered = contacts.sort_values(["last_name", "first_name", "golden_id"], kind="stable")
    return [ContactSummary.model_validate(row) for row in plain_rows(ordered)]


def _account(connection: Connection, contact: dict[str, Any]) -> AccountSummary | None:
    account_id = contact.get("account_id")
    if not account_id:
        return None
    found = plain_rows(golden.golden_record(connection, Entity.ACCOUNT, str(account_id)))
    return AccountSummary.model_validate(found[0]) if found else None
