"""Write the master out as files: golden accounts and contacts, xref and lineage.

An export replaces its folder whole (see ``mdm.publish.folder``). CSV cells that a spreadsheet
would run as a formula are escaped; Parquet keeps every value as it is.

Each file is streamed from the store in chunks of rows (``mdm.publish.tables`` holds the
queries, ``mdm.publish.writers`` the writers): the master is never held whole in memory, and
no data frame is built of it.
"""

from __future__ import annotations

import re
from contextlib import closing
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

import pandas as pd
from sqlalchemy import Connection

from mdm import failpoints
from mdm.errors import MdmError, Reason
from mdm.publish.folder import replace_folder, sync_file
from mdm.publish.tables import (
    FORMULA_STARTS,
    SIGNED_NUMBER_PATTERN,
    ExportTable,
    export_tables,
    parquet_schema,
)
from mdm.publish.writers import write_csv, write_parquet
from mdm.schema import RunStatus
from mdm.store import open_store, runs
from mdm.store.stream import STREAM_CHUNK, stream_rows


class ExportFormat(StrEnum):
    CSV = "csv"
    PARQUET = "parquet"


SIGNED_NUMBER = re.compile(SIGNED_NUMBER_PATTERN)


def export_master(
    connection: Connection, out: Path, fmt: ExportFormat, *, chunk_rows: int = STREAM_CHUNK
) -> Path:
    """Replace the folder ``out`` with accounts, contacts, xref and lineage; returns it.

    Readers and a killed process see the previous complete export or the new one, never a mix.
    Each file is read from the store and written ``chunk_rows`` rows at a time.
    """
    marker = {
        "written_by": "mdm",
        "run_id": _last_run(connection),
        "written_at": datetime.now(UTC).isoformat(timespec="microseconds"),
        "format": str(fmt),
    }
    target = out.resolve()  # a symlinked folder: replace the folder it points to

    def write(folder: Path) -> list[str]:
        return _write_all(connection, folder, fmt, chunk_rows)

    try:
        replace_folder(target, write, marker)
    except OSError as error:
        raise MdmError(
            Reason.USAGE,
            f"Cannot write the export to {out}: {error.strerror or error}. "
            "Choose a folder you can write to with --out.",
        ) from error
    return out


def export_store(store_url: str, out: Path, fmt: ExportFormat) -> Path:
    """Export the master held by the store at ``store_url`` (reads only)."""
    store = open_store(store_url)
    try:
        with store.transaction() as connection:
            return export_master(connection, out, fmt)
    finally:
        store.close()


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every text cell that a spreadsheet would run as a formula escaped by a
    leading single quote; cells that are only a signed number are left as they are."""
    safe = frame.copy()
    for column in safe.columns:
        values = safe[column]
        if not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
            continue
        risky = values.map(_is_formula_like).astype(bool)
        if risky.any():
            safe[column] = values.astype(object).where(~risky, "'" + values[risky].astype(str))
    return safe


def _is_formula_like(value: object) -> bool:
    return (
        isinstance(value, str)
        and value.startswith(FORMULA_STARTS)
        and SIGNED_NUMBER.fullmatch(value) is None
    )


def _write_all(
    connection: Connection, folder: Path, fmt: ExportFormat, chunk_rows: int
) -> list[str]:
    written = []
    for table in export_tables(connection):
        path = folder / f"{table.name}.{fmt}"
        _write(connection, table, path, fmt, chunk_rows)
        sync_file(path)
        written.append(path.name)
        failpoints.reached(f"export.wrote.{table.name}")
    return written


def _last_run(connection: Connection) -> int | None:
    """The latest run that finished writing the master this export shows."""
    recent = runs.recent_runs(connection, 50)
    done = recent[recent["status"] == RunStatus.SUCCEEDED]
    return int(done["id"].iloc[0]) if not done.empty else None


def _write(
    connection: Connection, table: ExportTable, path: Path, fmt: ExportFormat, chunk_rows: int
) -> None:
    if fmt is ExportFormat.PARQUET:
        schema = parquet_schema(connection, table)
        with closing(stream_rows(connection, table.statement(), chunk_rows)) as chunks:
            write_parquet(path, schema, chunks)
    else:
        statement = table.statement(spreadsheet_safe=True)
        with closing(stream_rows(connection, statement, chunk_rows)) as chunks:
            write_csv(path, table.column_names, chunks)
