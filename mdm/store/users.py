"""Who may use the workbench and the REST API: people (``web_user``) and machine tokens
(``api_token``). Only hashes are kept: an argon2 hash of each password, a SHA-256 of each
token."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from mdm.store.bulk import now, table_of
from mdm.store.tables import ApiToken, WebUser


def add_user(connection: Connection, name: str, role: str, password_hash: str) -> None:
    connection.execute(
        table_of(WebUser)
        .insert()
        .values(name=name, role=role, password_hash=password_hash, active=True, created_at=now())
    )


def user_named(connection: Connection, name: str) -> dict[str, Any] | None:
    table = table_of(WebUser)
    row = connection.execute(select(table).where(table.c.name == name)).mappings().first()
    return dict(row) if row is not None else None


def all_users(connection: Connection) -> list[dict[str, Any]]:
    table = table_of(WebUser)
    rows = connection.execute(select(table).order_by(table.c.name)).mappings().all()
    return [dict(row) for row in rows]


def set_user_active(connection: Connection, name: str, active: bool) -> int:
    """Enable or disable a user; how many users that changed (0: no such user)."""
    table = table_of(WebUser)
    disabled_at: datetime | None = None if active else now()
    result = connection.execute(
        update(table).where(table.c.name == name).values(active=active, disabled_at=disabled_at)
    )
    return int(result.rowcount or 0)


def set_password(connection: Connection, name: str, password_hash: str) -> int:
    table = table_of(WebUser)
    result = connection.execute(
        update(table).where(table.c.name == name).values(password_hash=password_hash)
    )
    return int(result.rowcount or 0)


def add_token(
    connection: Connection, name: str, role: str, token_hash: str, created_by: str
) -> int:
    result = connection.execute(
        table_of(ApiToken)
        .insert()
        .values(
            name=name, role=role, token_hash=token_hash, created_by=created_by, created_at=now()
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def token_with_hash(connection: Connection, token_hash: str) -> dict[str, Any] | None:
    table = table_of(ApiToken)
    statement = select(table).where(table.c.token_hash == token_hash)
    row = connection.execute(statement).mappings().first()
    return dict(row) if row is not None else None


def all_tokens(connection: Connection) -> list[dict[str, Any]]:
    table = table_of(ApiToken)
    rows = connection.execute(select(table).order_by(table.c.id)).mappings().all()
    return [dict(row) for row in rows]


def revoke_tokens(connection: Connection, name_or_id: str) -> int:
    """Revoke the live tokens named ``name_or_id`` (or with that id); how many."""
    table = table_of(ApiToken)
    which = table.c.name == name_or_id
    if name_or_id.isdigit():
        which = which | (table.c.id == int(name_or_id))
    result = connection.execute(
        update(table).where(which, table.c.revoked_at.is_(None)).values(revoked_at=now())
    )
    return int(result.rowcount or 0)
