"""SQL sources: a table or a query, read through SQLAlchemy as the driver returns it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from mdm.config.specs import SourceSpec
from mdm.sources.columns import listing, require_columns
from mdm.sources.parsing import Parsed, fail, parsed_frame


@contextmanager
def connection_to(spec: SourceSpec, location: str) -> Iterator[sa.Connection]:
    try:
        engine = sa.create_engine(spec.url or "")
    except ImportError as error:
        hint = "install the database driver, e.g. pip install 'mdm[postgres]'"
        raise fail(spec, location, "url", f"no driver: {error}", hint) from error
    except sa.exc.ArgumentError as error:
        hint = "a SQLAlchemy URL such as postgresql+psycopg://user@host/db"
        raise fail(spec, location, "url", str(error), hint) from error
    try:
        with engine.connect() as connection:
            yield connection
    except sa.exc.SQLAlchemyError as error:
        message = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        hint = "check 'url', 'table' or 'query' in mdm.toml, and that the database is up"
        raise fail(spec, location, "table" if spec.table else "query", message, hint) from error
    finally:
        engine.dispose()


def _table_name(table: str) -> tuple[str | None, str]:
    schema, _, name = table.rpartition(".")
    return schema or None, name


def _sql_columns_of(spec: SourceSpec, connection: sa.Connection, location: str) -> list[str]:
    if spec.table:
        schema, name = _table_name(spec.table)
        inspector = sa.inspect(connection)
        if not inspector.has_table(name, schema=schema):
            tables = inspector.get_table_names(schema=schema)
            message = f"table '{spec.table}' does not exist; the database has: {listing(tables)}"
            raise fail(spec, location, "table", message, "check 'table' in mdm.toml")
        return [str(column["name"]) for column in inspector.get_columns(name, schema=schema)]
    # Only the result's columns: no row is fetched.
    probe = sa.text(f"SELECT * FROM ({_query(spec)}) AS mdm_source LIMIT 0")
    return list(connection.execute(probe).keys())


def _query(spec: SourceSpec) -> str:
    return (spec.query or "").strip().rstrip(";")


def container(spec: SourceSpec) -> str:
    return f"table '{spec.table}'" if spec.table else "the query's result"


def sql_columns(spec: SourceSpec, root: Path, location: str) -> tuple[list[str], str]:
    with connection_to(spec, location) as connection:
        return _sql_columns_of(spec, connection, location), container(spec)


def read_sql(spec: SourceSpec, root: Path, location: str) -> Parsed:
    with connection_to(spec, location) as connection:
        statement = table_statement(spec, connection, location)
        # The values as the driver returns them. pandas.read_sql would infer types: integers
        # with gaps become floats (losing digits past 2**53) and bytes fail to convert.
        result = connection.execute(statement)
        names = [str(name) for name in list(result.keys())]
        rows = [list(row) for row in result]
        frame = parsed_frame(names, rows, list(range(1, len(rows) + 1)))
    return Parsed(frame, [], len(frame))


def table_statement(
    spec: SourceSpec, connection: sa.Connection, location: str
) -> sa.TextClause | sa.Select[Any]:
    """What reads the source's rows; a missing table or mapped column fails here."""
    columns = _sql_columns_of(spec, connection, location)
    require_columns(spec, location, columns, container(spec))
    if spec.query:
        return sa.text(_query(spec))
    schema, name = _table_name(spec.table or "")
    table = sa.Table(name, sa.MetaData(), schema=schema, autoload_with=connection)
    # A table has no order of its own; ordering by key makes row numbers repeatable.
    return sa.select(table).order_by(table.c[spec.key])
