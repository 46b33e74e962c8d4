"""A large CSV export on two cores: a second process writes the later rows of lineage (the
largest table by far) while this one writes the other tables and lineage's first rows; the
second part is then appended to the first, which gives the bytes one process writes.

Only where both processes read the same master: a run's export, which holds the store's
writer lock, of the whole master into a SQLite store (``SecondProcess``). The rows are split
at a golden id (lineage is in golden id order there) chosen so that both processes have about
as many cells to write. If the second process fails, this one writes its rows itself.

The second process is ``python -m mdm.publish.part_writer``; it dies with the process that
started it, and writes into the export's staging folder, which a failed export deletes.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, and_, func, select
from sqlalchemy.sql import ColumnElement

from mdm import failpoints
from mdm.log import logger
from mdm.publish.tables import ExportTable
from mdm.store.bulk import table_of
from mdm.store.tables import Lineage

SPLIT_TABLE = "lineage"
# Lineage rows from which a second process pays for its start (about a second of imports):
# a store of about 100k source records has some 450k.
SPLIT_FROM_ROWS = 400_000
_COPY_BYTES = 1 << 24  # bytes per read when the part is appended
# Rows of lineage this process writes more than an even share, as the other starts later
# (at most a twentieth of them).
_START_ROWS = 100_000


@dataclass(frozen=True)
class SecondProcess:
    """A second process may write part of the export: ``store_url`` reads the same master as
    the export's own connection (no other writer can change it meanwhile)."""

    store_url: str
    from_rows: int | None = None  # lineage rows from which to split; None: SPLIT_FROM_ROWS


@dataclass
class Part:
    """The later rows of a table, written by a second process into ``path`` (no header)."""

    table: ExportTable
    boundary: str  # the first golden id of the later rows
    path: Path
    log: Path
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        """End the second process (an export that failed no longer needs its rows)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def start_part(
    connection: Connection,
    tables: Sequence[ExportTable],
    folder: Path,
    chunk_rows: int,
    second: SecondProcess,
) -> Part | None:
    """Start the second process on the later rows of lineage, if the store is SQLite and
    lineage has enough rows for it to pay; None: this process writes everything."""
    split = next((table for table in tables if table.name == SPLIT_TABLE), None)
    if split is None or connection.dialect.name != "sqlite":
        return None
    from_rows = SPLIT_FROM_ROWS if second.from_rows is None else second.from_rows
    boundary = _boundary(connection, tables, split, from_rows)
    if boundary is None:
        return None
    path, log = folder / f".{SPLIT_TABLE}.part", folder / f".{SPLIT_TABLE}.part.log"
    command = [
        sys.executable,
        "-m",
        "mdm.publish.part_writer",
        second.store_url,
        str(path),
        boundary,
        str(chunk_rows),
        str(os.getpid()),
    ]
    # The second process imports this mdm, and passes no failpoint (the tests kill this one).
    root = str(Path(__file__).resolve().parents[2])
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in (failpoints.KILL_VARIABLE, failpoints.STOP_VARIABLE, failpoints.LOG_VARIABLE)
    }
    environment["PYTHONPATH"] = os.pathsep.join(
        path for path in (root, os.environ.get("PYTHONPATH", "")) if path
    )
    try:
        with log.open("wb") as errors:
            process = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=errors, env=environment, close_fds=True
            )
    except OSError as error:  # no interpreter to start: this process writes everything
        logger.warning("the export's second process could not start: %s", error)
        log.unlink(missing_ok=True)
        return None
    return Part(split, boundary, path, log, process)


def first_rows(table: ExportTable, boundary: str) -> ExportTable:
    """The table's rows before the golden id ``boundary``."""
    return _narrowed(table, table_of(Lineage).c.golden_id < boundary)


def later_rows(table: ExportTable, boundary: str) -> ExportTable:
    """The table's rows from the golden id ``boundary`` on."""
    return _narrowed(table, table_of(Lineage).c.golden_id >= boundary)


def _narrowed(table: ExportTable, condition: ColumnElement[bool]) -> ExportTable:
    return dataclasses.replace(table, where=and_(table.where, condition))


def joined_anchors(
    first: list[int], first_size: int, header: int, later: list[int], later_size: int
) -> list[int]:
    """The anchors of the file the two parts make: the first part (``first_size`` bytes, its
    header ``header`` of them, its anchors ``first``), then the later part (``later_size``
    bytes, its anchors ``later`` offsets in it)."""
    moved = [first_size + anchor for anchor in later] if later_size else []
    if first_size == header:  # the first part has no row: its one anchor is the header's end
        return moved or first
    return first + moved


def later_anchors(part: Part) -> list[int] | None:
    """Wait for the second process; the anchors of its part, or None if it failed (the
    reason is logged)."""
    output, _ = part.process.communicate()
    if part.process.returncode != 0:
        reason = part.log.read_text(encoding="utf-8", errors="replace").strip()
        logger.warning(
            "the second export process failed (exit %s), this one writes its rows: %s",
            part.process.returncode,
            reason.splitlines()[-1] if reason else "no message",
        )
        return None
    try:
        found = json.loads(output)
    except ValueError:
        logger.warning("the second export process gave no anchors, this one writes its rows")
        return None
    if not isinstance(found, list) or not all(isinstance(a, int) for a in found):
        return None
    return found


def append_file(source: Path, target: Path) -> None:
    """Append the bytes of ``source`` to ``target``."""
    with source.open("rb") as old, target.open("ab") as new:
        shutil.copyfileobj(old, new, _COPY_BYTES)


def _boundary(
    connection: Connection, tables: Sequence[ExportTable], split: ExportTable, from_rows: int
) -> str | None:
    """The golden id from which the second process writes lineage: about half of all the
    cells of the export from it on. None if lineage is too small to split."""
    lineage = table_of(Lineage)
    rows = connection.execute(select(func.count()).select_from(lineage)).scalar_one()
    if rows < max(from_rows, 2):
        return None
    width = len(split.columns)
    others = sum(
        _count(connection, table) * len(table.columns) for table in tables if table is not split
    )
    own = (rows * width - others) // (2 * width) + min(_START_ROWS, rows // 20)
    own = min(max(own, 1), rows - 1)
    found = connection.execute(
        select(lineage.c.golden_id).order_by(lineage.c.golden_id).offset(own).limit(1)
    ).scalar_one_or_none()
    return None if found is None else str(found)


def _count(connection: Connection, table: ExportTable) -> int:
    statement = select(func.count()).select_from(table.source).where(table.where)
    return int(connection.execute(statement).scalar_one())
