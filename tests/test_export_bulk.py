"""The streamed export writes exactly what the export wrote when it built pandas frames.

``reference_export`` below is that export as it was (whole tables read into frames, escaped,
sorted and written by pandas). Each test fills a real store, on SQLite and on PostgreSQL, and
holds the streamed export to it: the same CSV bytes, the same Parquet tables, schemas (with
their pandas metadata) and frames read back, with any chunk size.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Generator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Connection, String, cast, insert, literal, select

import mdm.publish.export as export_module
import mdm.publish.tables as tables_module
from mdm import pipeline
from mdm.config import load_project
from mdm.demo import generate_demo
from mdm.project_files import DEFAULT_RULES
from mdm.publish import ExportFormat, export_master, spreadsheet_safe
from mdm.publish.tables import FORMULA_STARTS, export_tables, spreadsheet_safe_sql
from mdm.publish.writers import write_parquet
from mdm.schema import Entity, GoldenStatus, survived_attribute_names
from mdm.store import golden, open_store
from mdm.store.bulk import table_of
from mdm.store.migrate import migrate
from mdm.store.stream import stream_rows
from mdm.store.tables import (
    GoldenAccount,
    GoldenContact,
    Lineage,
    Run,
    SourceRecord,
    Xref,
)

NAMES = ("accounts", "contacts", "xref", "lineage")
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


# ---- the export as it was -------------------------------------------------------------------


def reference_frames(connection: Connection) -> dict[str, pd.DataFrame]:
    def golden_frame(entity: Entity) -> pd.DataFrame:
        frame = golden.golden_records(connection, entity)
        frame = frame[frame["status"] == GoldenStatus.ACTIVE]
        contact = ["account_id", "account_link"] if entity is Entity.CONTACT else []
        columns = [
            "golden_id",
            *contact,
            *survived_attribute_names(entity),
            "members",
            "created_run",
            "updated_run",
        ]
        return frame[columns].sort_values("golden_id", ignore_index=True)

    lineage = golden.lineage(connection).astype({"record_id": "Int64"})
    records = golden.xref(connection)[["record_id", "source", "source_key"]]
    merged = lineage.merge(records.astype({"record_id": "Int64"}), on="record_id", how="left")
    return {
        "accounts": golden_frame(Entity.ACCOUNT),
        "contacts": golden_frame(Entity.CONTACT),
        "xref": golden.xref(connection)[["entity", "source", "source_key", "golden_id"]],
        "lineage": merged[LINEAGE_COLUMNS].sort_values(
            ["entity", "golden_id", "attribute"], ignore_index=True
        ),
    }


def reference_export(store_url: str, folder: Path, fmt: ExportFormat) -> Path:
    folder.mkdir(parents=True)
    store = open_store(store_url)
    try:
        with store.transaction() as connection:
            frames = reference_frames(connection)
    finally:
        store.close()
    for name, frame in frames.items():
        path = folder / f"{name}.{fmt}"
        if fmt is ExportFormat.PARQUET:
            frame.to_parquet(path, index=False)
        else:
            spreadsheet_safe(frame).to_csv(path, index=False)
    return folder


def streamed_export(store_url: str, folder: Path, fmt: ExportFormat, chunk_rows: int) -> Path:
    store = open_store(store_url)
    try:
        with store.transaction() as connection:
            return export_master(connection, folder, fmt, chunk_rows=chunk_rows)
    finally:
        store.close()


def assert_same_export(expected: Path, actual: Path, fmt: ExportFormat) -> None:
    written = sorted(path.name for path in actual.iterdir() if not path.name.startswith("."))
    assert written == sorted(f"{name}.{fmt}" for name in NAMES)
    for name in NAMES:
        want, got = expected / f"{name}.{fmt}", actual / f"{name}.{fmt}"
        if fmt is ExportFormat.CSV:
            assert got.read_bytes() == want.read_bytes(), name
            continue
        want_table, got_table = pq.read_table(want), pq.read_table(got)
        assert got_table.schema.equals(want_table.schema, check_metadata=True), name
        assert got_table.equals(want_table), name
        pd.testing.assert_frame_equal(pd.read_parquet(got), pd.read_parquet(want), check_exact=True)


def assert_streamed_equals_reference(
    store_url: str, tmp_path: Path, chunk_sizes: tuple[int, ...] = (1, 2, 3, 50_000)
) -> None:
    for fmt in ExportFormat:
        expected = reference_export(store_url, tmp_path / f"reference-{fmt}", fmt)
        for chunk_rows in chunk_sizes:
            actual = streamed_export(
                store_url, tmp_path / f"streamed-{fmt}-{chunk_rows}", fmt, chunk_rows
            )
            assert_same_export(expected, actual, fmt)


# ---- stores -----------------------------------------------------------------------------------


def demo_store(directory: Path, store_url: str, accounts: int = 40) -> Path:
    """A store a real run filled from the demo's sources."""
    generate_demo(directory, accounts=accounts, seed=11)
    shutil.copytree(DEFAULT_RULES, directory / "rules", dirs_exist_ok=True)
    project_file = directory / "mdm.toml"
    text = project_file.read_text(encoding="utf-8")
    text = re.sub(r'(?m)^url = "sqlite:///mdm.db"', f'url = "{store_url}"', text, count=1)
    project_file.write_text(text, encoding="utf-8")
    pipeline.run(load_project(directory), export=False)
    return directory


# Cells a spreadsheet would run, cells it would not, and cells CSV must quote.
CELLS = [
    "=1+2",
    "+1+2",
    "-1+2",
    "@SUM(A1)",
    "\t=1",
    "\r=1",
    "-",
    "+",
    "=",
    "+1 212 555 0123",
    "+12125550123",
    "-42",
    "-3.25",
    "+.5",
    "-5.",
    "-0.5.5",
    "+12\n",
    "+\u0661\u0662",
    "+1\u0662",
    "-1a",
    "--1",
    "+0",
    "a=b",
    "Zoë",
    'say "hi", then',
    "two\nlines",
    "cr\ronly",
    "1,000",
    "A=1",
    "?=1",
    "[=1]",
    "é=1",
    "'quoted",
    " lead",
    "",
]


def fill_store(store_url: str, rows: dict[type[Any], list[dict[str, Any]]]) -> None:
    """A store at this version's schema holding exactly ``rows``."""
    store = open_store(store_url, writing=True)
    try:
        migrate(store)
        with store.transaction() as connection:
            for model, values in rows.items():
                keys = {key for row in values for key in row}
                if values:  # every row names every column (None where it has no value)
                    uniform = [{key: row.get(key) for key in keys} for row in values]
                    connection.execute(insert(table_of(model)), uniform)
    finally:
        store.close()


def crafted_rows(
    *, with_xref: bool = True, active: bool = True
) -> dict[type[Any], list[dict[str, Any]]]:
    """Golden records whose values are ``CELLS``; a column typed only by a retired record, one
    of nothing but None; lineage with pins, records gone from xref and an empty group."""
    now = datetime(2024, 1, 1, tzinfo=UTC)
    runs = [
        {"id": n, "command": "run", "status": "succeeded", "started_at": now, "config": "{}"}
        for n in (1, 2)
    ]
    records = [
        {
            "id": n,
            "source": "crm" if n % 2 else "erp",
            "entity": "account" if n <= 20 else "contact",
            "source_key": f"k{n:03d}",
            "version": 1,
            "is_current": True,
            "deleted": False,
            "content_hash": "h",
            "run_id": 1,
            "attributes": "{}",
        }
        for n in range(1, 41)
    ]
    status = GoldenStatus.ACTIVE.value if active else GoldenStatus.RETIRED.value
    accounts = [
        {
            "golden_id": f"A-{n:03d}" if n % 3 else f"a-{n:03d}",  # case: code point order
            "name": cell,
            "phone": CELLS[(n + 5) % len(CELLS)],
            "city": None if n % 4 == 0 else CELLS[(n + 9) % len(CELLS)],
            "status": status,
            "members": n,
            "content_hash": "h",
            "created_run": 1,
            "updated_run": 2,
        }
        for n, cell in enumerate(CELLS)
    ]
    accounts.append(
        {
            "golden_id": "A-999",
            "name": "Gone Inc",
            "tax_id": "=taxed",  # typed only by a retired record
            "status": GoldenStatus.RETIRED.value,
            "members": 0,
            "content_hash": "h",
            "created_run": 1,
            "updated_run": 2,
        }
    )
    contacts = [
        {
            "golden_id": f"C-{n:03d}",
            "account_id": f"A-{n:03d}" if n % 2 else None,
            "account_link": "account_key" if n % 2 else None,
            "first_name": cell,
            "last_name": CELLS[-1 - n],
            "email": f"p{n}@example.org",
            "status": status if n != 3 else GoldenStatus.MERGED.value,
            "members": 1,
            "content_hash": "h",
            "created_run": 1,
            "updated_run": 1,
        }
        for n, cell in enumerate(CELLS[:12])
    ]
    xref = [
        {
            "source": record["source"],
            "source_key": record["source_key"],
            "entity": record["entity"],
            "golden_id": f"A-{n % 7:03d}" if record["entity"] == "account" else f"C-{n % 5:03d}",
            "record_id": record["id"],
            "run_id": 1,
        }
        for n, record in enumerate(records)
        if record["id"] % 10 != 0  # records 10, 20, 30, 40: gone from xref
    ]
    lineage = []
    for n, cell in enumerate(CELLS):
        entity = "account" if n % 2 else "contact"
        lineage.append(
            {
                "entity": entity,
                # ids with their entity's prefix (A-, C-), as mdm makes them; within one,
                # upper case sorts before lower (code point order), not after
                "golden_id": f"A-{'b' if n % 4 == 1 else 'B'}{n:03d}"
                if entity == "account"
                else f"C-{n:03d}",
                "attribute": ("name", "phone", "city", "Zip", "éclair")[n % 5],
                "value": cell,
                "record_id": None if n % 6 == 0 else (n % 40) + 1,  # a pin: no record
                "rule": "most_recent" if n % 3 else "=rule",
                "candidates": n % 4,
                "run_id": 1 + n % 2,
                "beaten": None if n % 2 else f'[{{"value": "{n}"}}]',
                "group_name": None,
            }
        )
    return {
        Run: runs,
        SourceRecord: records,
        GoldenAccount: accounts,
        GoldenContact: contacts,
        Xref: xref if with_xref else [],
        Lineage: lineage,
    }


# ---- the tests ----------------------------------------------------------------------------------


def test_a_real_run_exports_as_before_with_any_chunk_size(store_url: str, tmp_path: Path) -> None:
    demo_store(tmp_path / "demo", store_url)
    assert_streamed_equals_reference(store_url, tmp_path, chunk_sizes=(2, 7, 50_000))


def test_crafted_cells_are_escaped_quoted_and_typed_as_before(
    store_url: str, tmp_path: Path
) -> None:
    fill_store(store_url, crafted_rows())
    assert_streamed_equals_reference(store_url, tmp_path)
    # The escaping did happen: a formula is quoted, a phone number is not.
    text = (tmp_path / "streamed-csv-1" / "accounts.csv").read_bytes().decode("utf-8")
    assert "\na-000,'=1+2," in text and ",=1+2," not in text
    assert ",+12125550123," in text and ',"1,000",' in text and ',"\'+12\n",' in text
    assert text.index("\nA-001,") < text.index("\na-000,")  # code point order: A before a


@pytest.mark.parametrize(
    "rows",
    [
        pytest.param({}, id="empty store"),
        pytest.param(crafted_rows(with_xref=False), id="lineage without xref"),
        pytest.param(crafted_rows(active=False), id="no active golden record"),
    ],
)
def test_edge_stores_export_as_before(
    store_url: str, tmp_path: Path, rows: dict[type[Any], list[dict[str, Any]]]
) -> None:
    fill_store(store_url, rows)
    assert_streamed_equals_reference(store_url, tmp_path)


def test_the_database_escapes_cells_as_spreadsheet_safe_does(store_url: str) -> None:
    cells = [*CELLS, None]
    expected = spreadsheet_safe(pd.DataFrame({"value": cells}, dtype=object))["value"].tolist()
    fill_store(store_url, {})
    store = open_store(store_url)
    try:
        with store.transaction() as connection:
            dialect = connection.dialect.name
            escaped = [
                connection.execute(
                    select(spreadsheet_safe_sql(cast(literal(cell), String), dialect))
                ).scalar_one()
                for cell in cells
            ]
    finally:
        store.close()
    want = {
        cell: None if cell is None else safe for cell, safe in zip(cells, expected, strict=True)
    }
    assert dict(zip(cells, escaped, strict=True)) == want
    assert escaped[CELLS.index("=1+2")] == "'=1+2"  # the rule bites
    assert escaped[CELLS.index("+12125550123")] == "+12125550123"


def test_every_formula_start_sorts_before_the_cheap_check() -> None:
    assert all(start < tables_module._AFTER_FORMULA_STARTS for start in FORMULA_STARTS)


def test_rows_stream_in_chunks_of_at_most_the_chunk_size(store_url: str) -> None:
    fill_store(store_url, crafted_rows())
    store = open_store(store_url)
    try:
        with store.transaction() as connection:
            lineage = next(table for table in export_tables(connection) if table.name == "lineage")
            whole = [row for chunk in stream_rows(connection, lineage.statement()) for row in chunk]
            for size in (1, 2, 5):
                chunks = list(stream_rows(connection, lineage.statement(), size))
                assert all(1 <= len(chunk) <= size for chunk in chunks)
                assert [row for chunk in chunks for row in chunk] == whole
            with pytest.raises(ValueError, match="chunk_rows"):
                next(stream_rows(connection, lineage.statement(), 0))
    finally:
        store.close()
    assert len(whole) == len(CELLS)


def test_an_export_failing_mid_file_leaves_the_previous_export(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill_store(store_url, crafted_rows())
    out = tmp_path / "exports"
    streamed_export(store_url, out, ExportFormat.CSV, chunk_rows=2)
    before = {path.name: path.read_bytes() for path in out.iterdir()}

    def failing(
        connection: Connection, statement: Any, chunk_rows: int
    ) -> Generator[Any, None, None]:
        """The rows of a file, but lineage fails after its first chunk."""
        with closing(stream_rows(connection, statement, chunk_rows)) as chunks:
            for chunk in chunks:
                yield chunk
                if "lineage" in str(statement):
                    raise RuntimeError("the store went away")

    monkeypatch.setattr(export_module, "stream_rows", failing)
    for fmt in ExportFormat:
        with pytest.raises(RuntimeError, match="went away"):
            streamed_export(store_url, out, fmt, chunk_rows=2)
        assert {path.name: path.read_bytes() for path in out.iterdir()} == before
        assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".")] == []


def test_parquet_row_groups_gather_chunks_up_to_their_size(tmp_path: Path) -> None:
    frame = pd.DataFrame({"name": ["a", None, "=c", "d", "e"], "count": [1, 2, 3, 4, 5]})
    schema = pa.Schema.from_pandas(frame, preserve_index=False)
    rows = [("a", 1), (None, 2), ("=c", 3), ("d", 4), ("e", 5)]
    path = tmp_path / "t.parquet"
    written = write_parquet(path, schema, [rows[:1], rows[1:2], rows[2:4], rows[4:]], 2)
    assert written == 5
    assert [
        pq.ParquetFile(path).metadata.row_group(i).num_rows
        for i in range(pq.ParquetFile(path).num_row_groups)
    ] == [2, 2, 1]
    pd.testing.assert_frame_equal(pd.read_parquet(path), frame)
