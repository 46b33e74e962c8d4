"""Bring a store to the schema of this version of mdm with Alembic migrations."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@cache
def head_revision() -> str:
    script = ScriptDirectory(str(MIGRATIONS))
    head = script.get_current_head()
    if head is None:
        raise RuntimeError("the package ships no migrations")
    return head


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


@cache
def known_revisions() -> frozenset[str]:
    script = ScriptDirectory(str(MIGRATIONS))
    return frozenset(revision.revision for revision in script.walk_revisions())


def upgrade(connection: Connection, revision: str = "head") -> None:
    command.upgrade(alembic_config(connection), revision)


@dataclass(frozen=True)
class SchemaState:
    """Where a store's schema is against this version of mdm."""

    current: str | None  # None: no revision recorded
    head: str
    empty: bool  # no tables at all: a store no command has created yet

    @property
    def at_head(self) -> bool:
        return self.current == self.head

    @property
    def newer(self) -> bool:
        """Made by a newer mdm: a revision this one does not know."""
        return self.current is not None and self.current not in known_revisions()


def schema_state(connection: Connection) -> SchemaState:
    current = current_revision(connection)
    empty = current is None and not inspect(connection).get_table_names()
    return SchemaState(current=current, head=head_revision(), empty=empty)
