"""Write the master out as files: golden accounts and contacts, xref and lineage."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import pandas as pd
from sqlalchemy import Connection

from mdm.errors import MdmError, Reason
from mdm.schema import Entity, survived_attribute_names
from mdm.store import io as store_io


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


def export_master(connection: Connection, out: Path, fmt: ExportFormat) -> Path:
    """Write accounts, contacts, xref and lineage into ``out``; returns the folder."""
    tables = {
        "accounts": _golden(connection, Entity.ACCOUNT),
        "contacts": _golden(connection, Entity.CONTACT),
        "xref": store_io.xref(connection)[XREF_COLUMNS],
        "lineage": _lineage(connection),
    }
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, frame in tables.items():
            _write(frame, out / f"{name}.{fmt}", fmt)
    except OSError as error:
        raise MdmError(
            Reason.USAGE,
            f"Cannot write the export to {out}: {error.strerror}. "
            "Choose a folder you can write to with --out.",
        ) from error
    return out


def _golden(connection: Connection, entity: Entity) -> pd.DataFrame:
    frame = store_io.golden_records(connection, str(entity))
    frame = frame[frame["status"] == "active"]
    leading = ["golden_id", *(["account_id", "account_link"] if entity is Entity.CONTACT else [])]
    columns = [*leading, *survived_attribute_names(entity), "members", "created_run", "updated_run"]
    return frame[columns].sort_values("golden_id", ignore_index=True)


def _lineage(connection: Connection) -> pd.DataFrame:
    lineage = store_io.lineage(connection).astype({"record_id": "Int64"})
    records = store_io.xref(connection)[["record_id", "source", "source_key"]]
    # A steward's pin has no record: its source and key stay empty.
    merged = lineage.merge(records.astype({"record_id": "Int64"}), on="record_id", how="left")
    return merged[LINEAGE_COLUMNS].sort_values(
        ["entity", "golden_id", "attribute"], ignore_index=True
    )


def _write(frame: pd.DataFrame, path: Path, fmt: ExportFormat) -> None:
    if fmt is ExportFormat.PARQUET:
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
