"""People and machines that may use the workbench and the REST API, and what each may do.

Three roles, each allowed what the one before it is: a viewer reads; a steward also decides
pairs and changes golden records; an admin also manages users and tokens. Passwords are
hashed with argon2id (slow and salted); an API token is random, shown once when created, and
kept as its SHA-256 (a token has 256 bits of entropy: a slow hash would add nothing).

The command line (``mdm user``, ``mdm token``) and the web call these functions.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection

from mdm.errors import MdmError, Reason
from mdm.store import stewardship as steward_store
from mdm.store import users
from mdm.store.migrate import open_migrated

TOKEN_PREFIX = "mdm_"
MIN_PASSWORD_LENGTH = 12
_hasher = PasswordHasher()  # argon2id with the library's current recommended cost


class Role(StrEnum):
    VIEWER = "viewer"
    STEWARD = "steward"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


@dataclass(frozen=True)
class Principal:
    """Who is asking: a signed-in person or an API token, and its role."""

    name: str
    role: Role
    kind: str  # "user" | "token"

    @property
    def actor(self) -> str:
        """The name the audit log records."""
        return self.name if self.kind == "user" else f"token:{self.name}"


def parse_role(text: str) -> Role:
    try:
        return Role(text)
    except ValueError:
        known = ", ".join(role.value for role in Role)
        raise MdmError(Reason.USAGE, f"{text!r} is not a role; choose one of: {known}.") from None


# ---- people -------------------------------------------------------------------------------


def add_user(store_url: str, name: str, role: Role, password: str, actor: str) -> None:
    _check_name(name)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise MdmError(
            Reason.USAGE,
            f"The password is too short: use at least {MIN_PASSWORD_LENGTH} characters.",
        )
    with _writing(store_url) as connection:
        if users.user_named(connection, name) is not None:
            raise MdmError(
                Reason.USAGE,
                f"There is already a user named {name!r}: choose another name, or "
                f"'mdm user disable {name}' first.",
            )
        users.add_user(connection, name, role.value, _hasher.hash(password))
        steward_store.audit(connection, actor, "user-add", name, {"role": role.value})


def disable_user(store_url: str, name: str, actor: str) -> None:
    with _writing(store_url) as connection:
        if users.set_user_active(connection, name, active=False) == 0:
            raise MdmError(
                Reason.NOT_FOUND, f"There is no user named {name!r}: see 'mdm user list'."
            )
        steward_store.audit(connection, actor, "user-disable", name, None)


def list_users(store_url: str) -> list[dict[str, Any]]:
    with _reading(store_url) as connection:
        return [
            {key: row[key] for key in ("name", "role", "active", "created_at", "disabled_at")}
            for row in users.all_users(connection)
        ]


def authenticate(connection: Connection, name: str, password: str) -> Principal | None:
    """The user ``name`` if the password is theirs and they are active; else None (the same
    answer whether the name or the password was wrong)."""
    row = users.user_named(connection, name)
    if row is None:
        _hasher.hash(password)  # about as slow as a real check: names cannot be probed by time
        return None
    try:
        _hasher.verify(row["password_hash"], password)
    except (VerificationError, InvalidHashError):
        return None
    if not row["active"]:
        return None
    return Principal(name=row["name"], role=Role(row["role"]), kind="user")


def active_user(connection: Connection, name: str) -> Principal | None:
    """The user ``name`` as they are now: None once disabled or deleted."""
    row = users.user_named(connection, name)
    if row is None or not row["active"]:
        return None
    return Principal(name=row["name"], role=Role(row["role"]), kind="user")


# ---- machines -----------------------------------------------------------------------------


def create_token(store_url: str, name: str, role: Role, actor: str) -> str:
    """A new API token: returned once, kept only as its hash."""
    _check_name(name)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with _writing(store_url) as connection:
        token_id = users.add_token(connection, name, role.value, token_hash(token), actor)
        steward_store.audit(
            connection, actor, "token-create", name, {"role": role.value, "id": token_id}
        )
    return token


def revoke_token(store_url: str, name_or_id: str, actor: str) -> int:
    with _writing(store_url) as connection:
        count = users.revoke_tokens(connection, name_or_id)
        if count == 0:
            raise MdmError(
                Reason.NOT_FOUND,
                f"No live token is named {name_or_id!r} or has that id: see 'mdm token list'.",
            )
        steward_store.audit(connection, actor, "token-revoke", name_or_id, {"revoked": count})
    return count


def list_tokens(store_url: str) -> list[dict[str, Any]]:
    with _reading(store_url) as connection:
        keys = ("id", "name", "role", "created_by", "created_at", "revoked_at")
        return [{key: row[key] for key in keys} for row in users.all_tokens(connection)]


def token_principal(connection: Connection, token: str) -> Principal | None:
    row = users.token_with_hash(connection, token_hash(token))
    if row is None or row["revoked_at"] is not None:
        return None
    return Principal(name=row["name"], role=Role(row["role"]), kind="token")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# ---- the store ----------------------------------------------------------------------------


def _check_name(name: str) -> None:
    if not name.strip() or len(name) > 128 or any(ch.isspace() for ch in name):
        raise MdmError(
            Reason.USAGE, f"{name!r} is not a usable name: 1 to 128 characters, no spaces."
        )


@contextmanager
def _writing(store_url: str) -> Iterator[Connection]:
    """A transaction that writes users or tokens (migrating the store first if it needs it);
    the write itself is small and takes no run lock."""
    store = open_migrated(store_url, "user", wait_seconds=60.0)
    try:
        with store.transaction() as connection:
            yield connection
    finally:
        store.close()


@contextmanager
def _reading(store_url: str) -> Iterator[Connection]:
    from mdm.views.base import reading

    with reading(store_url) as connection:
        yield connection
