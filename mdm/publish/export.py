"""Write the master out as files: golden accounts and contacts, xref and lineage.

An export replaces its folder whole (see ``mdm.publish.folder``). CSV cells that a spreadsheet
would run as a formula are escaped; Parquet keeps every value as it is.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

import pandas as pd
from sqlalchemy import Connection

from mdm import failpoints
from mdm.errors import MdmError, Reason
from mdm.publish.folder import replace_folder, sync_file
from mdm.schema import Entity, GoldenStatus, RunStatus, survived_attribute_names
from mdm.store import golden, open_store, runs


class ExportFormat(StrEnum):
    CSV = "csv"
    PARQUET = "parquet"


XREF_COLUMNS = ["entity", "source", "source_key", "golden_id"]
LINEAGE_COLUMNS = [
    "entity",
    "golden_id",
    "attribute",
    "value",
    "source",
    "source_key",
    "record_id",
    "rule",
    "candidates",
    "group_name",
    "beaten",
    "run_id",
]


# The OWASP rule: a cell starting with one of these is a formula to a spreadsheet.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# ... unless the cell is only a signed number (an E.164 phone, a negative amount): a number
# runs nothing, and escaping it would break every program that reads the file.
SIGNED_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")


def export_master(connection: Connection, out: Path, fmt: ExportFormat) -> Path:
    """Replace the folder ``out`` with accounts, contacts, xref and lineage; returns it.

    Readers and a killed process see the previous complete export or the new one, never a mix.
    """
    tables = {
        "accounts": _golden(connection, Entity.ACCOUNT),
        "contacts": _golden(connection, Entity.CONTACT),
        "xref": golden.xref(connection)[XREF_COLUMNS],
        "lineage": _lineage(connection),
    }
    marker = {
        "written_by": "mdm",
        "run_id": _last_run(connection),
        "written_at": datetime.now(UTC).isoformat(timespec="microseconds"),
        "format": str(fmt),
    }
    target = out.resolve()  # a symlinked folder: replace the folder it points to
    try:
        replace_folder(target, lambda folder: _write_all(tables, folder, fmt), marker)
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


def _write_all(tables: dict[str, pd.DataFrame], folder: Path, fmt: ExportFormat) -> list[str]:
    written = []
    for name, frame in tables.items():
        path = folder / f"{name}.{fmt}"
        _write(frame, path, fmt)
        sync_file(path)
        written.append(path.name)
        failpoints.reached(f"export.wrote.{name}")
    return written


def _last_run(connection: Connection) -> int | None:
    """The latest run that finished writing the master this export shows."""
    recent = runs.recent_runs(connection, 50)
    done = recent[recent["status"] == RunStatus.SUCCEEDED]
    return int(done["id"].iloc[0]) if not done.empty else None


def _golden(connection: Connection, entity: Entity) -> pd.DataFrame:
    frame = golden.golden_records(connection, entity)
    frame = frame[frame["status"] == GoldenStatus.ACTIVE]
    leading = ["golden_id", *(["account_id", "account_link"] if entity is Entity.CONTACT else [])]
    columns = [*leading, *survived_attribute_names(entity), "members", "created_run", "updated_run"]
    return frame[columns].sort_values("golden_id", ignore_index=True)


def _lineage(connection: Connection) -> pd.DataFrame:
    lineage = golden.lineage(connection).astype({"record_id": "Int64"})
    records = golden.xref(connection)[["record_id", "source", "source_key"]]
    # A steward's pin has no record: its source and key stay empty.
    merged = lineage.merge(records.astype({"record_id": "Int64"}), on="record_id", how="left")
    return merged[LINEAGE_COLUMNS].sort_values(
        ["entity", "golden_id", "attribute"], ignore_index=True
    )


def _write(frame: pd.DataFrame, path: Path, fmt: ExportFormat) -> None:
    if fmt is ExportFormat.PARQUET:
        frame.to_parquet(path, index=False)
    else:
        spreadsheet_safe(frame).to_csv(path, index=False)
