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
from typing import Any

import pandas as pd
from sqlalchemy import Connection

from mdm import failpoints
from mdm.errors import MdmError, Reason
from mdm.publish.folder import read_marker, replace_folder, sync_file
from mdm.publish.patch import can_patch, patch_csv
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
    connection: Connection,
    out: Path,
    fmt: ExportFormat,
    *,
    chunk_rows: int = STREAM_CHUNK,
    patch: bool = False,
) -> Path:
    """Replace the folder ``out`` with accounts, contacts, xref and lineage; returns it.

    Readers and a killed process see the previous complete export or the new one, never a mix.
    Each file is read from the store and written ``chunk_rows`` rows at a time; with ``patch``,
    a CSV export of this store already in ``out`` is patched with what changed since it was
    written (``mdm.publish.patch``), which gives the same files.
    """
    last_run = _last_run(connection)
    marker: dict[str, Any] = {
        "written_by": "mdm",
        "run_id": last_run,
        "run_started_at": _started_at(connection, last_run),
        "written_at": datetime.now(UTC).isoformat(timespec="microseconds"),
        "format": str(fmt),
    }
    target = out.resolve()  # a symlinked folder: replace the folder it points to
    since = _patchable_since(connection, target, fmt) if patch else None

    def write(folder: Path) -> list[str]:
        written, patched = _write_all(connection, folder, fmt, chunk_rows, target, since)
        marker["sizes"] = {name: (folder / name).stat().st_size for name in written}
        marker["patched"] = {"since_run": since, "files": patched} if patched else None
        return written

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
    connection: Connection,
    folder: Path,
    fmt: ExportFormat,
    chunk_rows: int,
    previous: Path,
    since: int | None,
) -> tuple[list[str], list[str]]:
    """Write every table into ``folder``; those that can, by patching the export in
    ``previous`` of run ``since`` (None: write everything from the store). Returns the files
    written and those of them patched."""
    written, patched_files = [], []
    for table in export_tables(connection):
        path = folder / f"{table.name}.{fmt}"
        patched = None
        if since is not None and can_patch(table):
            patched = patch_csv(connection, table, previous / path.name, path, since)
        if patched is None:
            _write(connection, table, path, fmt, chunk_rows)
        else:
            patched_files.append(path.name)
        sync_file(path)
        written.append(path.name)
        failpoints.reached(f"export.wrote.{table.name}")
    return written, patched_files


def _patchable_since(connection: Connection, target: Path, fmt: ExportFormat) -> int | None:
    """The run whose export ``target`` holds, if the export can be patched: this store's CSV
    export (the run it shows started when the store's run of that id started), with its files
    as mdm wrote them. None: write it whole."""
    marker = read_marker(target)
    since, sizes = marker.get("run_id"), marker.get("sizes")
    if fmt is not ExportFormat.CSV or marker.get("format") != str(fmt):
        return None
    if not isinstance(since, int) or not isinstance(sizes, dict):
        return None
    if marker.get("run_started_at") != _started_at(connection, since):
        return None  # another store's export, or a store made again since
    for table in ("accounts", "contacts", "xref", "lineage"):
        name = f"{table}.{fmt}"
        path = target / name
        if not path.is_file() or path.stat().st_size != sizes.get(name):
            return None
    return since


def _started_at(connection: Connection, run_id: int | None) -> str | None:
    return None if run_id is None else runs.started_at(connection, run_id)


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
