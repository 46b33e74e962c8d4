"""Where a store's schema stands against this version of mdm, and bringing it there with Alembic
migrations.

Opening a store needs only the revision the store records and the revisions this version ships.
Both are read without Alembic: the first with one SELECT of Alembic's version table, the second
from the ``revision`` and ``down_revision`` lines of the migration files. Importing Alembic and
the migrations costs more than a reading command's whole work (``mdm status``), so they are
imported only to migrate, or when the migration files are more than one plain chain (Alembic
then reads them, and says what is wrong with them).
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Column, Connection, MetaData, String, Table, inspect, select

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
VERSIONS = MIGRATIONS / "versions"
# Alembic's record of a store's revision, under Alembic's default name (env.py keeps it).
VERSION_NAME = "alembic_version"
VERSION_TABLE = Table(VERSION_NAME, MetaData(), Column("version_num", String))
# The files Alembic takes for migrations (its ``_only_source_rev_file``).
MIGRATION_FILE = re.compile(r"(?!\.\#|__init__)(.*\.py)$")


def alembic_config(connection: Connection) -> Config:
    from alembic.config import Config  # only to migrate (see the module docstring)

    # Alembic's default stdout is the one of the moment it was first imported, which may be
    # closed by now (an import inside a captured CLI call): the current one, explicitly.
    config = Config(stdout=sys.stdout)
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@cache
def head_revision() -> str:
    shipped = _shipped_chain()
    if shipped is not None:
        return shipped.head
    from alembic.script import ScriptDirectory  # the files are not one chain: Alembic decides

    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    if head is None:
        raise RuntimeError("the package ships no migrations")
    return head


@cache
def known_revisions() -> frozenset[str]:
    shipped = _shipped_chain()
    if shipped is not None:
        return shipped.revisions
    from alembic.script import ScriptDirectory  # the files are not one chain: Alembic decides

    script = ScriptDirectory(str(MIGRATIONS))
    return frozenset(revision.revision for revision in script.walk_revisions())


def current_revision(connection: Connection) -> str | None:
    """The revision the store records; None if it records none (as Alembic's
    ``MigrationContext.get_current_revision`` reads it)."""
    if not connection.dialect.has_table(connection, VERSION_NAME):
        return None
    found = connection.execute(select(VERSION_TABLE.c.version_num)).scalars().all()
    if len(found) > 1:  # unmerged branches: Alembic says so
        from alembic.runtime.migration import MigrationContext

        return MigrationContext.configure(connection).get_current_revision()
    return found[0] if found else None


def upgrade(connection: Connection, revision: str = "head") -> None:
    from alembic import command  # only to migrate (see the module docstring)

    command.upgrade(alembic_config(connection), revision)


@dataclass(frozen=True)
class ShippedChain:
    """The migrations this version of mdm ships, when they form one chain."""

    head: str
    revisions: frozenset[str]


@cache
def _shipped_chain() -> ShippedChain | None:
    """The migration files' revisions as their text declares them, without importing them;
    None unless every file declares its revision plainly and together they have one head."""
    if not VERSIONS.is_dir():
        return None
    parents: dict[str, tuple[str, ...]] = {}
    for path in sorted(VERSIONS.iterdir()):
        if not path.is_file() or not MIGRATION_FILE.match(path.name):
            continue
        declared = _declared_revision(path)
        if declared is None or declared[0] in parents:
            return None
        parents[declared[0]] = declared[1]
    named = {parent for down in parents.values() for parent in down}
    heads = parents.keys() - named
    if not named <= parents.keys() or len(heads) != 1:
        return None
    return ShippedChain(head=heads.pop(), revisions=frozenset(parents))


def _declared_revision(path: Path) -> tuple[str, tuple[str, ...]] | None:
    """A migration file's ``revision`` and its ``down_revision`` (none, one or several);
    None if either is not a plain literal at the top of the file."""
    try:
        module = ast.parse(path.read_bytes(), str(path))
    except (SyntaxError, ValueError):
        return None
    values: dict[str, object] = {}
    for statement in module.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target, value = statement.targets[0], statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            target, value = statement.target, statement.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
            try:
                values[target.id] = ast.literal_eval(value)
            except (ValueError, TypeError, SyntaxError, RecursionError):
                return None
    revision, down = values.get("revision"), values.get("down_revision", ...)
    if not isinstance(revision, str) or down is ...:
        return None
    if down is None:
        return revision, ()
    if isinstance(down, str):
        return revision, (down,)
    if isinstance(down, (tuple, list)) and all(isinstance(parent, str) for parent in down):
        return revision, tuple(down)
    return None


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
