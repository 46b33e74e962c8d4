"""Where feeds are written: a folder per source (CSV, Parquet or JSON Lines, replaced whole),
or tables of a target database.

Each write puts there every row of the source's outbox that the source has not acknowledged,
in sequence order, with the range and batches they belong to: the same rows give the same
bytes, so a publish killed half way and run again writes exactly what it would have written.
Values are written as they are (no spreadsheet escaping): a system applies them as given.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
import pyarrow as pa
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    insert,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

from mdm import failpoints
from mdm.errors import MdmError, Reason
from mdm.publish.feed_changes import FEED_COLUMNS
from mdm.publish.feed_store import Cursor, plain_values
from mdm.publish.folder import MARKER, read_marker, replace_folder, sync_file
from mdm.publish.writers import write_csv, write_parquet

CHANGES = "changes"  # the feed file's name, before its format's suffix
MANIFEST = "batch.json"
INTEGER_COLUMNS = frozenset({"seq", "batch", "lineage_run"})
TIME_COLUMN = "lineage_modified"
REQUIRED_COLUMNS = frozenset({"source", "seq", "batch", "change", "action", "entity"})
# The target database's tables: the feed rows, their batches, and the consumer's
# acknowledgements (the consumer writes those; mdm creates the table empty and reads it).
FEED_TABLE, BATCH_TABLE, ACK_TABLE = "mdm_feed", "mdm_feed_batch", "mdm_feed_ack"


class FeedFormat(StrEnum):
    CSV = "csv"
    PARQUET = "parquet"
    JSONL = "jsonl"


@dataclass(frozen=True)
class Unacknowledged:
    """What a source has not acknowledged: its outbox rows after ``cursor.acked_seq`` and the
    batches they belong to."""

    source: str
    rows: pd.DataFrame
    batches: pd.DataFrame
    cursor: Cursor

    def manifest(self) -> dict[str, Any]:
        seqs = [int(seq) for seq in self.rows["seq"]]
        return {
            "source": self.source,
            "first_seq": seqs[0] if seqs else None,
            "last_seq": seqs[-1] if seqs else None,
            "rows": len(seqs),
            "published_seq": self.cursor.last_seq,
            "acked_seq": self.cursor.acked_seq,
            "batches": [
                {
                    "batch": int(batch),
                    "first_seq": int(first),
                    "last_seq": int(last),
                    "run_id": None if run is None or pd.isna(run) else int(run),
                }
                for batch, first, last, run in zip(
                    self.batches["batch"],
                    self.batches["first_seq"],
                    self.batches["last_seq"],
                    self.batches["run_id"],
                    strict=True,
                )
            ],
        }


class FeedTarget(Protocol):
    """Where a publish writes each source's unacknowledged rows."""

    def check(self, sources: list[str]) -> None:
        """Raise an MdmError if the target cannot take the feeds of ``sources``; called before
        the store is changed."""

    def write(self, feed: Unacknowledged) -> str:
        """Write one source's rows; says where."""

    def close(self) -> None: ...


# ---- a folder per source --------------------------------------------------------------------


@dataclass(frozen=True)
class FolderTarget:
    """``out/<source>/changes.<format>`` and ``batch.json``, each source's folder replaced
    whole (``mdm.publish.folder``): a reader sees the previous feed or the new one."""

    out: Path
    fmt: FeedFormat

    def check(self, sources: list[str]) -> None:
        for folder in [self.out, *(self.out / name for name in sources)]:
            if folder.exists() and not folder.is_dir():
                raise _folder_error(folder, "is a file")
        for name in sources:
            folder = self.out / name
            if folder.is_dir() and _foreign(folder):
                raise _folder_error(
                    folder, f"holds files mdm did not write ({', '.join(_foreign(folder)[:5])})"
                )
        try:
            self.out.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise _folder_error(self.out, f"cannot be made: {error.strerror or error}") from error
        if not os.access(self.out, os.W_OK | os.X_OK):
            raise _folder_error(self.out, "is not writable")

    def write(self, feed: Unacknowledged) -> str:
        target = (self.out / feed.source).resolve()

        def fill(folder: Path) -> list[str]:
            name = f"{CHANGES}.{self.fmt}"
            _write_rows(folder / name, feed.rows, self.fmt)
            sync_file(folder / name)
            failpoints.reached("publish.feed.written")
            manifest = folder / MANIFEST
            body = {**feed.manifest(), "format": str(self.fmt), "file": name}
            manifest.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
            sync_file(manifest)
            return [name, MANIFEST]

        marker = {"written_by": "mdm", "feed": feed.source, "format": str(self.fmt)}
        try:
            replace_folder(target, fill, marker)
        except OSError as error:
            raise _folder_error(target, f"cannot be written: {error.strerror or error}") from error
        return str(self.out / feed.source)

    def close(self) -> None:
        pass


def _foreign(folder: Path) -> list[str]:
    marker = read_marker(folder)
    ours = set(marker.get("files", [])) | {MARKER} if marker.get("feed") else {MARKER}
    return sorted(entry.name for entry in folder.iterdir() if entry.name not in ours)


def _folder_error(folder: Path, problem: str) -> MdmError:
    return MdmError(
        Reason.USAGE,
        f"The feed folder {folder} {problem}. Nothing was published: choose another folder "
        "with --out, or move what is there away.",
    )


def _write_rows(path: Path, rows: pd.DataFrame, fmt: FeedFormat) -> None:
    columns = list(FEED_COLUMNS)
    values = plain_values(rows.reindex(columns=columns), columns)
    if fmt is FeedFormat.PARQUET:
        write_parquet(path, _parquet_schema(), [values] if values else [])
        return
    shown = [
        tuple(_shown(column, value) for column, value in zip(columns, row, strict=True))
        for row in values
    ]
    if fmt is FeedFormat.CSV:
        write_csv(path, columns, [shown])
        return
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for row in shown:
            handle.write(json.dumps(dict(zip(columns, row, strict=True)), ensure_ascii=False))
            handle.write("\n")


def _shown(column: str, value: Any) -> Any:
    """A value as the text formats write it: integers as numbers, times in ISO 8601 (UTC)."""
    if value is None:
        return None
    if column in INTEGER_COLUMNS:
        return int(value)
    if column == TIME_COLUMN:
        return _utc(value).isoformat()
    return str(value)


def _utc(value: Any) -> datetime:
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)
    moment: datetime = stamp.to_pydatetime()
    return moment


def _parquet_schema() -> pa.Schema:
    return pa.schema(
        [
            pa.field(
                name,
                pa.int64()
                if name in INTEGER_COLUMNS
                else pa.timestamp("us", tz="UTC")
                if name == TIME_COLUMN
                else pa.string(),
            )
            for name in FEED_COLUMNS
        ]
    )


# ---- tables of a target database -------------------------------------------------------------


def _target_tables() -> tuple[Table, Table, Table]:
    metadata = MetaData()
    feed = Table(
        FEED_TABLE,
        metadata,
        *(
            Column(
                name,
                BigInteger
                if name in INTEGER_COLUMNS
                else DateTime(timezone=True)
                if name == TIME_COLUMN
                else String(128)
                if name == "source"
                else Text,
                primary_key=name in ("source", "seq"),
                nullable=name not in REQUIRED_COLUMNS,
            )
            for name in FEED_COLUMNS
        ),
    )
    batches = Table(
        BATCH_TABLE,
        metadata,
        Column("source", String(128), primary_key=True),
        Column("batch", Integer, primary_key=True),
        Column("first_seq", BigInteger, nullable=False),
        Column("last_seq", BigInteger, nullable=False),
        Column("run_id", Integer, nullable=True),
    )
    acks = Table(
        ACK_TABLE,
        metadata,
        Column("source", String(128), primary_key=True),
        Column("acked_seq", BigInteger, nullable=False),
    )
    return feed, batches, acks


@dataclass
class DatabaseTarget:
    """Tables ``mdm_feed`` (the rows), ``mdm_feed_batch`` (their batches) and
    ``mdm_feed_ack`` (the consumer's acknowledgements) in the database at ``url``, made if
    absent. Each write replaces one source's rows there in one transaction."""

    url: str
    engine: Engine | None = None

    def check(self, sources: list[str]) -> None:
        self.engine = open_target(self.url)

    def write(self, feed: Unacknowledged) -> str:
        engine = self.engine or open_target(self.url)
        rows, batches, _acks = _target_tables()
        try:
            with engine.begin() as connection:
                rows.metadata.create_all(connection)
                connection.execute(delete(rows).where(rows.c.source == feed.source))
                connection.execute(delete(batches).where(batches.c.source == feed.source))
                columns = list(FEED_COLUMNS)
                values = plain_values(feed.rows.reindex(columns=columns), columns)
                if values:
                    connection.execute(
                        insert(rows), [dict(zip(columns, row, strict=True)) for row in values]
                    )
                listed = feed.manifest()["batches"]
                if listed:
                    connection.execute(
                        insert(batches), [{"source": feed.source, **batch} for batch in listed]
                    )
                failpoints.reached("publish.target.written")
        except SQLAlchemyError as error:
            raise _target_error(self.url, error, "cannot be written") from error
        return f"{safe_url(self.url)} ({FEED_TABLE})"

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()


def open_target(url: str) -> Engine:
    """An engine on the target database, after one round trip to it; an MdmError if it
    cannot be opened."""
    try:
        engine = create_engine(url)
    except (ArgumentError, NoSuchModuleError, ValueError) as error:
        raise _target_error(url, error, "is not a database URL SQLAlchemy can open") from error
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except DBAPIError as error:
        engine.dispose()
        raise _target_error(url, error, "cannot be opened") from error
    return engine


def read_target_ack(url: str, source: str) -> int:
    """The sequence number the consumer acknowledged for ``source`` in its ``mdm_feed_ack``
    table of the target database."""
    engine = open_target(url)
    _rows, _batches, acks = _target_tables()
    try:
        with engine.connect() as connection:
            if not engine.dialect.has_table(connection, ACK_TABLE):
                raise MdmError(
                    Reason.NOT_FOUND,
                    f"The target database {safe_url(url)} has no {ACK_TABLE} table: nothing "
                    "was ever published there. Publish with --url first.",
                )
            found = connection.execute(
                select(acks.c.acked_seq).where(acks.c.source == source)
            ).first()
    except DBAPIError as error:
        raise _target_error(url, error, "cannot be read") from error
    finally:
        engine.dispose()
    if found is None or found[0] is None:
        raise MdmError(
            Reason.NOT_FOUND,
            f"The consumer of {source!r} has acknowledged nothing in {ACK_TABLE} at "
            f"{safe_url(url)}: it writes a row (source, acked_seq) there when it has applied "
            "a feed. Nothing was changed.",
        )
    return int(found[0])


def safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(an unreadable URL)"


def _target_error(url: str, error: Exception, problem: str) -> MdmError:
    cause = getattr(error, "orig", None) or error
    first_line = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
    return MdmError(
        Reason.USAGE,
        f"The target database {safe_url(url)} {problem}: {first_line}. Nothing was published "
        "or acknowledged: check the URL given with --url and that the database accepts "
        "connections.",
    )
