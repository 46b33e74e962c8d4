"""Write the master out as files: golden accounts and contacts, xref and lineage, and on
request the contacts with their accounts and the golden records' history.

An export replaces its folder whole (see ``mdm.publish.folder``). CSV cells that a spreadsheet
would run as a formula are escaped; Parquet keeps every value as it is. ``mdm export`` can
narrow the export (``mdm.publish.filters``) and mask its personal data (``mdm.publish.mask``);
the export a run writes is always the whole master, as it is.

Each file is streamed from the store in chunks of rows (``mdm.publish.tables`` holds the
queries, ``mdm.publish.writers`` the writers): the master is never held whole in memory, and
no data frame is built of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Connection

from mdm import failpoints
from mdm.errors import MdmError, Reason
from mdm.log import logger
from mdm.publish.filters import ExportFilter, ResolvedFilter, resolve_filter
from mdm.publish.folder import read_marker, replace_folder, sync_file
from mdm.publish.mask import Masker, Unmasker, masked_columns, row_masker, unmask_files
from mdm.publish.patch import can_patch, patch_csv, thinned
from mdm.publish.split import (
    Part,
    SecondProcess,
    append_file,
    first_rows,
    joined_anchors,
    later_anchors,
    later_rows,
    start_part,
)
from mdm.publish.tables import (
    ExportTable,
    Extra,
    declared_schema,
    export_tables,
    is_formula_like,
    parquet_schema,
)
from mdm.publish.writers import Rows, cell_converter, write_csv, write_parquet
from mdm.schema import RunStatus
from mdm.store import open_store, runs
from mdm.store.stream import STREAM_CHUNK, stream_rows


class ExportFormat(StrEnum):
    CSV = "csv"
    PARQUET = "parquet"


# The tables whose Parquet types are by default those pandas gave them when the export built
# frames (a column of nothing but None: Arrow's null type), for files written as before.
_PANDAS_TYPED = frozenset({"accounts", "contacts", "xref", "lineage"})


@dataclass(frozen=True)
class ExportOptions:
    """What ``mdm export`` asks beyond the whole master (the defaults: the run's export)."""

    include: frozenset[Extra] = frozenset()
    filter: ExportFilter = field(default_factory=ExportFilter)
    # The sources the project declares: a filter may name them before any record is loaded.
    project_sources: tuple[str, ...] = ()
    masker: Masker | None = None
    # Parquet columns typed by what they hold, also where no row has a value (text: strings).
    declared_types: bool = False

    @property
    def is_whole_master(self) -> bool:
        return not self.include and self.filter.is_empty and self.masker is None


def export_master(
    connection: Connection,
    out: Path,
    fmt: ExportFormat,
    *,
    chunk_rows: int = STREAM_CHUNK,
    patch: bool = False,
    options: ExportOptions | None = None,
    second_process: SecondProcess | None = None,
) -> Path:
    """Replace the folder ``out`` with accounts, contacts, xref and lineage (and what
    ``options`` add, keep and mask); returns it.

    Readers and a killed process see the previous complete export or the new one, never a mix.
    Each file is read from the store and written ``chunk_rows`` rows at a time; with ``patch``,
    a CSV export of this store already in ``out`` is patched with what changed since it was
    written (``mdm.publish.patch``), which gives the same files. A filter that names what the
    store does not have is refused before anything is written. ``second_process``: a caller
    that holds the store's writer lock lets a second process write part of a large CSV
    export (``mdm.publish.split``).
    """
    options = options or ExportOptions()
    wanted = resolve_filter(connection, options.filter, options.project_sources)
    last_run = _last_run(connection)
    marker: dict[str, Any] = {
        "written_by": "mdm",
        "run_id": last_run,
        "run_started_at": _started_at(connection, last_run),
        "written_at": datetime.now(UTC).isoformat(timespec="microseconds"),
        "format": str(fmt),
    }
    if not options.is_whole_master:
        marker["selection"] = _selection(options, wanted)
    target = out.resolve()  # a symlinked folder: replace the folder it points to
    whole = patch and options.is_whole_master
    since, anchors = _patchable_since(connection, target, fmt) if whole else (None, {})
    tables = export_tables(connection, options.include, wanted)

    def write(folder: Path) -> list[str]:
        previous = _Previous(target, since, anchors)
        written, patched, new_anchors = _write_all(
            connection, tables, folder, fmt, chunk_rows, previous, options, second_process
        )
        marker["sizes"] = {name: (folder / name).stat().st_size for name in written}
        marker["patched"] = {"since_run": since, "files": patched} if patched else None
        if new_anchors:
            marker["anchors"] = new_anchors
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


def export_store(
    store_url: str, out: Path, fmt: ExportFormat, options: ExportOptions | None = None
) -> Path:
    """Export the master held by the store at ``store_url`` (reads only)."""
    store = open_store(store_url)
    try:
        with store.transaction() as connection:
            return export_master(connection, out, fmt, options=options)
    finally:
        store.close()


def unmask_export(source: Path, out: Path, unmasker: Unmasker) -> Path:
    """Replace the folder ``out`` with the CSV and Parquet files of ``source`` (a masked
    export's folder or one of its files) with their reversible tokens turned back into values.

    The files are as the export would have written them unmasked (CSV cells escaped as the
    export escapes them); irreversible tokens stay as they are."""
    target = out.resolve()
    if source.resolve() == target:
        raise MdmError(
            Reason.USAGE,
            f"--unmask {source} and --out {out} are one folder: write the unmasked files "
            "elsewhere (the masked ones are what you share).",
        )
    marker = {
        "written_by": "mdm",
        "unmasked_from": str(source.resolve()),
        "written_at": datetime.now(UTC).isoformat(timespec="microseconds"),
    }
    try:
        replace_folder(target, lambda folder: unmask_files(source, folder, unmasker), marker)
    except OSError as error:
        raise MdmError(
            Reason.USAGE,
            f"Cannot write the unmasked files to {out}: {error.strerror or error}. "
            "Choose a folder you can write to with --out.",
        ) from error
    return out


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every text cell that a spreadsheet would run as a formula escaped by a
    leading single quote; cells that are only a signed number are left as they are."""
    safe = frame.copy()
    for column in safe.columns:
        values = safe[column]
        if not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
            continue
        risky = values.map(is_formula_like).astype(bool)
        if risky.any():
            safe[column] = values.astype(object).where(~risky, "'" + values[risky].astype(str))
    return safe


def _selection(options: ExportOptions, wanted: ResolvedFilter) -> dict[str, Any]:
    """What a narrowed or masked export holds, for its marker (and so that a run's export
    never patches it as if it were the whole master)."""
    return {
        "include": sorted(str(extra) for extra in options.include),
        **wanted.describe(),
        "mask": None if options.masker is None else str(options.masker.mode),
    }


@dataclass(frozen=True)
class _Previous:
    """The export a new one may patch: its folder, its run (None: write everything from the
    store) and its files' anchors (``mdm.publish.patch``)."""

    folder: Path
    since: int | None
    anchors: dict[str, list[int]]


def _write_all(
    connection: Connection,
    tables: list[ExportTable],
    folder: Path,
    fmt: ExportFormat,
    chunk_rows: int,
    previous: _Previous,
    options: ExportOptions,
    second: SecondProcess | None,
) -> tuple[list[str], list[str], dict[str, list[int]]]:
    """Write every table into ``folder``; those that can, by patching the ``previous``
    export, and with ``second``, lineage's later rows by a second process if it is large.
    Returns the files written, those of them patched, and the anchors of the CSV files of
    the whole master (for the next export to patch them)."""
    written, patched_files = [], []
    anchors: dict[str, list[int]] = {}
    whole_csv = fmt is ExportFormat.CSV and options.is_whole_master and previous.since is None
    part = (
        start_part(connection, tables, folder, chunk_rows, second) if second and whole_csv else None
    )
    try:
        for table in tables:
            path = folder / f"{table.name}.{fmt}"
            found = None
            if previous.since is not None and can_patch(table):
                old = previous.folder / path.name
                found = patch_csv(
                    connection, table, old, path, previous.since, previous.anchors.get(path.name)
                )
            if found is not None:
                patched_files.append(path.name)
            elif part is not None and table is part.table:
                found = _write_split(connection, part, path, chunk_rows, options)
            else:
                found = write_table(connection, table, path, fmt, chunk_rows, options)
            if found is not None and options.is_whole_master and can_patch(table):
                anchors[path.name] = thinned(found)
            sync_file(path)
            written.append(path.name)
            failpoints.reached(f"export.wrote.{table.name}")
    finally:
        if part is not None:
            part.stop()
            part.path.unlink(missing_ok=True)
            part.log.unlink(missing_ok=True)
    return written, patched_files, anchors


def _write_split(
    connection: Connection, part: Part, path: Path, chunk_rows: int, options: ExportOptions
) -> list[int]:
    """Write the rows before the part's boundary into ``path``, then append the second
    process's part (or, if it failed, the rows it was to write); the file's anchors."""
    csv = ExportFormat.CSV
    first = write_table(
        connection, first_rows(part.table, part.boundary), path, csv, chunk_rows, options
    )
    first = first or []
    first_size = path.stat().st_size
    later = later_anchors(part)
    if later is not None:
        logger.debug("%s: rows from %s written by a second process", path.name, part.boundary)
    else:
        table = later_rows(part.table, part.boundary)
        later = write_table(connection, table, part.path, csv, chunk_rows, options, header=False)
    later_size = part.path.stat().st_size
    append_file(part.path, path)
    # The first anchor of a CSV file is its header's end, whether it has rows or not.
    return joined_anchors(first, first_size, first[0], later or [], later_size)


def _patchable_since(
    connection: Connection, target: Path, fmt: ExportFormat
) -> tuple[int | None, dict[str, list[int]]]:
    """The run whose export ``target`` holds, if the export can be patched: this store's CSV
    export (the run it shows started when the store's run of that id started), with its files
    as mdm wrote them; and the anchors its marker keeps per file (a file without: none). A run
    of None: write it whole."""
    marker = read_marker(target)
    since, sizes = marker.get("run_id"), marker.get("sizes")
    if fmt is not ExportFormat.CSV or marker.get("format") != str(fmt):
        return None, {}
    if not isinstance(since, int) or not isinstance(sizes, dict):
        return None, {}
    if marker.get("run_started_at") != _started_at(connection, since):
        return None, {}  # another store's export, or a store made again since
    if marker.get("selection") is not None:
        return None, {}  # a narrowed or masked export: not the whole master
    for table in ("accounts", "contacts", "xref", "lineage"):
        name = f"{table}.{fmt}"
        path = target / name
        if not path.is_file() or path.stat().st_size != sizes.get(name):
            return None, {}
    return since, _anchors(marker.get("anchors"))


def _anchors(found: object) -> dict[str, list[int]]:
    """The anchors of a marker, those that are lists of whole numbers (a patch checks them
    against its file)."""
    if not isinstance(found, dict):
        return {}
    return {
        str(name): anchors
        for name, anchors in found.items()
        if isinstance(anchors, list)
        and all(isinstance(a, int) and not isinstance(a, bool) for a in anchors)
    }


def _started_at(connection: Connection, run_id: int | None) -> str | None:
    return None if run_id is None else runs.started_at(connection, run_id)


def _last_run(connection: Connection) -> int | None:
    """The latest run that finished writing the master this export shows."""
    recent = runs.recent_runs(connection, 50)
    done = recent[recent["status"] == RunStatus.SUCCEEDED]
    return int(done["id"].iloc[0]) if not done.empty else None


def write_table(
    connection: Connection,
    table: ExportTable,
    path: Path,
    fmt: ExportFormat,
    chunk_rows: int,
    options: ExportOptions,
    *,
    header: bool = True,
) -> list[int] | None:
    """Write the table whole; a CSV file's anchors (``mdm.publish.writers.write_csv``).
    Without ``header``, a CSV file of the rows only (a part of a file)."""
    csv = fmt is ExportFormat.CSV
    changes = [
        change
        for change in (
            options.masker and row_masker(table, options.masker, escape=csv),
            cell_converter([column.kind for column in table.columns], for_csv=csv),
        )
        if change
    ]
    if not csv:
        pandas_typed = table.name in _PANDAS_TYPED and not options.declared_types
        schema = parquet_schema(connection, table) if pandas_typed else declared_schema(table)
        with closing(stream_rows(connection, table.statement(), chunk_rows)) as chunks:
            write_parquet(path, schema, _changed(chunks, changes))
        return None
    # Masked columns are read as they are: the values are masked, not their escaped text.
    raw = masked_columns(table) if options.masker else frozenset()
    statement = table.statement(spreadsheet_safe=True, raw=raw)
    anchors: list[int] = []
    with closing(stream_rows(connection, statement, chunk_rows)) as chunks:
        names = table.column_names if header else None
        write_csv(path, names, _changed(chunks, changes), anchors)
    return anchors


def _changed(chunks: Iterable[Rows], changes: list[Callable[[Rows], Rows]]) -> Iterator[Rows]:
    for rows in chunks:
        for change in changes:
            rows = change(rows)
        yield rows
