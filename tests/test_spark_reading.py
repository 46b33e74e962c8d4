"""Sources read on Spark (``mdm.sources.spark_reading``) give exactly the local readers' loads:
the same records, quarantine, row numbers and kept keys, for CSV (damaged rows included) and
Parquet; and they read what the local readers do not: a folder of extract files and a URI.

Spark runs in ``local[2]``, the test process's one session (``conftest``). The tests skip when
PySpark or Java is missing, except under CI=true, where they must run.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import random
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from conftest import postgres_or_skip, spark_settings
from sqlalchemy import text
from test_sources import created_table, make_spec, write

from mdm import pipeline
from mdm.config import load_project
from mdm.config.specs import SourceSpec
from mdm.demo import generate_demo
from mdm.errors import MdmError
from mdm.project_files import DEFAULT_RULES
from mdm.sources import SourceLoad, check_source, read_source, spark_tables
from mdm.sources.spark_reading import READ_JOBS
from mdm.store import open_store

pytestmark = pytest.mark.spark


def read_jobs(spark: Any) -> int:
    return len(spark.sparkContext.statusTracker().getJobIdsForGroup(READ_JOBS))


def assert_same_load(local: SourceLoad, spark: SourceLoad) -> None:
    pd.testing.assert_frame_equal(spark.records, local.records)
    pd.testing.assert_frame_equal(spark.quarantine, local.quarantine)
    assert spark.rows_read == local.rows_read
    assert spark.quarantined_keys == local.quarantined_keys
    assert spark.unkeyed_rows == local.unkeyed_rows
    assert spark.checks == local.checks
    assert spark.location == local.location


def test_every_demo_extract_reads_the_same_damaged_rows_included(
    spark: Any, tmp_path: Path
) -> None:
    generate_demo(tmp_path, accounts=120, seed=11, faults=True)
    shutil.copytree(DEFAULT_RULES, tmp_path / "rules")
    project = load_project(tmp_path)
    quarantined = 0
    for spec in project.spec.sources:
        before = read_jobs(spark)
        local = read_source(spec, project.root)
        on_spark = read_source(spec, project.root, spark_settings())
        spark_read = read_jobs(spark) > before
        assert spark_read == (spec.format in ("csv", "parquet")), spec.name
        assert_same_load(local, on_spark)
        quarantined += on_spark.rows_quarantined
    assert quarantined > 0  # the faults: the comparison covered damaged rows


DAMAGED = (
    "Id,Name,City\n"
    '1,"Acme, Inc.",Berlin\n'
    "2,Globex,Paris,extra\n"  # a field too many
    "\n"  # a blank line is no row
    '3,"Initech\nSecond line",Austin\n'  # a value over two lines
    '4,"Umbrella,Raccoon City\n'  # a quote left open
    "5,Hooli,Palo Alto\n"
    "6,Stark,New York\n"
    "7,Caf\xe9 Bleu,Lyon\n"  # latin-1 bytes in a UTF-8 file
)


def test_a_damaged_csv_is_quarantined_as_the_local_reader_does(spark: Any, tmp_path: Path) -> None:
    # A byte order mark, then text in UTF-8 but for one latin-1 byte.
    write(tmp_path, "data/crm.csv", b"\xef\xbb\xbf" + DAMAGED.encode("latin-1"))
    spec = make_spec()
    local = read_source(spec, tmp_path)
    on_spark = read_source(spec, tmp_path, spark_settings())
    assert_same_load(local, on_spark)
    assert list(on_spark.records["source_key"]) == ["1", "3", "5", "6"]
    assert on_spark.rows_quarantined == 3  # the ragged row, the open quote, the bad bytes


def test_a_folder_of_csv_files_reads_as_one_extract_in_path_order(
    spark: Any, tmp_path: Path
) -> None:
    lines = [f"{n},Company {n},City {n % 7}\n" for n in range(1, 31)]
    whole = "Id,Name,City\n" + "".join(lines)
    write(tmp_path, "one/crm.csv", whole.encode())
    for part, chunk in enumerate((lines[:12], lines[12:13], lines[13:])):
        write(tmp_path, f"parts/part-{part:05d}.csv", ("Id,Name,City\n" + "".join(chunk)).encode())
    write(tmp_path, "parts/_SUCCESS", b"")  # what Spark and Hadoop jobs leave beside parts
    write(tmp_path, "parts/part-00003.csv", b"")  # an empty partition's part file
    settings = spark_settings()
    one = read_source(make_spec(path="one/crm.csv"), tmp_path, settings)
    parts = read_source(make_spec(path="parts"), tmp_path, settings)
    pd.testing.assert_frame_equal(parts.records, one.records)
    assert list(parts.records["row_number"]) == list(range(1, 31))
    assert parts.rows_read == 30
    # A folder of empty files is no extract: it stops the read, as an empty file does.
    for part in range(3):
        write(tmp_path, f"parts/part-{part:05d}.csv", b"")
    with pytest.raises(MdmError) as raised:
        read_source(make_spec(path="parts"), tmp_path, settings)
    assert raised.value.problems[0].message == "no file with any content to read"


def test_a_damaged_row_in_a_folder_names_its_file_and_keeps_its_number(
    spark: Any, tmp_path: Path
) -> None:
    write(tmp_path, "parts/a.csv", b"Id,Name,City\n1,Acme,Berlin\n2,Globex,Paris\n")
    write(tmp_path, "parts/b.csv", b"Id,Name,City\n3,Initech,Austin,extra\n4,Hooli,Palo Alto\n")
    load = read_source(make_spec(path="parts"), tmp_path, spark_settings())
    assert list(load.records["source_key"]) == ["1", "2", "4"]
    assert list(load.records["row_number"]) == [1, 2, 4]
    row = load.quarantine.iloc[0]
    assert (row["row_number"], row["source_key"]) == (3, "3")
    assert row["reason"] == "b.csv: row has 4 fields, the header has 3 (line 2)"
    assert load.quarantined_keys == frozenset({"3"})


def test_a_file_uri_is_read_by_spark_and_refused_by_the_local_reader(
    spark: Any, tmp_path: Path
) -> None:
    write(tmp_path, "data/crm.csv", b"Id,Name,City\n1,Acme,Berlin\n")
    spec = make_spec(path=(tmp_path / "data" / "crm.csv").as_uri())
    assert spec.path == f"file://{tmp_path}/data/crm.csv"  # the URI as written, '//' kept
    load = read_source(spec, Path("/elsewhere"), spark_settings())
    assert list(load.records["name"]) == ["Acme"]
    with pytest.raises(MdmError) as raised:
        read_source(spec, tmp_path)
    assert "a URI: the local engine reads one file" in str(raised.value)
    assert 'engine = "spark"' in str(raised.value)


def test_a_missing_folder_and_a_file_without_a_mapped_column_stop_the_read(
    spark: Any, tmp_path: Path
) -> None:
    settings = spark_settings()
    with pytest.raises(MdmError) as raised:
        read_source(make_spec(path="nowhere"), tmp_path, settings)
    assert raised.value.problems[0].where.endswith("(source 'crm_accounts', path)")
    assert raised.value.problems[0].message == f"no such file or folder: {tmp_path}/nowhere"
    write(tmp_path, "parts/a.csv", b"Id,Name,City\n1,Acme,Berlin\n")
    write(tmp_path, "parts/b.csv", b"Id,Name\n2,Globex\n")
    spec = make_spec(path="parts")
    with pytest.raises(MdmError) as raised:
        read_source(spec, tmp_path, settings)
    assert "b.csv" in raised.value.problems[0].where
    assert "'City'" in raised.value.problems[0].message
    # The check before a run finds the same, file by file, without reading the rows.
    found = check_source(spec, tmp_path, settings)
    assert [(p.where.rsplit("/", 1)[-1], "'City'" in p.message) for p in found] == [
        ("b.csv (source 'crm_accounts', mapping.city)", True)
    ]


# ---- Parquet ---------------------------------------------------------------------------------


def parquet_table(keys: list[int]) -> pa.Table:
    n = len(keys)
    return pa.table(
        {
            "Id": pa.array(keys, pa.int64()),
            "Name": [f"Company {k}" if k % 5 else None for k in keys],
            "City": [f"City {k % 3}" for k in keys],
            "Zip": pa.array([2100 + k if k % 4 else None for k in keys], pa.int32()),
            "Closed": pa.array([k % 9 == 0 for k in keys]),
            "Modified": pa.array(
                [pd.Timestamp("2025-03-01 08:30", tz="UTC") + pd.Timedelta(hours=k) for k in keys],
                pa.timestamp("us", "UTC"),
            ),
            "Revenue": pa.array([k * 1.5 for k in range(n)], pa.float64()),
        }
    )


def parquet_spec(path: str) -> SourceSpec:
    return make_spec(
        format="parquet",
        path=path,
        last_modified="Modified",
        deleted_flag="Closed",
        mapping={"name": "Name", "city": "City", "postcode": "Zip"},
    )


def test_a_parquet_file_reads_the_same_values_and_types(spark: Any, tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    pq.write_table(
        parquet_table(list(range(1, 41))), tmp_path / "data/crm.parquet", row_group_size=7
    )
    spec = parquet_spec("data/crm.parquet")
    local = read_source(spec, tmp_path)
    before = read_jobs(spark)
    on_spark = read_source(spec, tmp_path, spark_settings())
    assert read_jobs(spark) > before
    assert_same_load(local, on_spark)
    assert on_spark.records["postcode"].iloc[:4].tolist() == ["2101", "2102", "2103", pd.NA]
    assert on_spark.records["deleted"].sum() == 4


def test_a_folder_of_parquet_parts_reads_as_the_whole_file(spark: Any, tmp_path: Path) -> None:
    keys = list(range(1, 61))
    (tmp_path / "whole").mkdir()
    (tmp_path / "parts").mkdir()
    pq.write_table(parquet_table(keys), tmp_path / "whole/crm.parquet")
    for part, chunk in enumerate((keys[:25], keys[25:26], keys[26:])):
        pq.write_table(parquet_table(chunk), tmp_path / f"parts/part-{part:05d}.parquet")
    local = read_source(parquet_spec("whole/crm.parquet"), tmp_path)
    parts = read_source(parquet_spec("parts"), tmp_path, spark_settings())
    pd.testing.assert_frame_equal(parts.records, local.records)


# ---- a whole run -------------------------------------------------------------------------------


def test_a_run_on_spark_reads_a_folder_of_parts_into_the_store(spark: Any, tmp_path: Path) -> None:
    """The demo project on the spark engine, its CRM accounts split into three part files in a
    folder: the store holds what the one file gives on the local engine."""
    stores = {}
    for engine in ("local", "spark"):
        root = tmp_path / engine
        generate_demo(root, accounts=50, seed=3, faults=False)
        shutil.copytree(DEFAULT_RULES, root / "rules")
        toml = root / "mdm.toml"
        if engine == "spark":
            crm = next(s for s in load_project(root).spec.sources if s.name == "crm_accounts")
            csv = root / str(crm.path)
            header, *rows = csv.read_text(encoding="utf-8").splitlines(keepends=True)
            parts = root / "data" / "crm_accounts"
            parts.mkdir()
            for part, start in enumerate(range(0, len(rows), 20)):
                chunk = [header, *rows[start : start + 20]]
                (parts / f"part-{part:05d}.csv").write_text("".join(chunk), encoding="utf-8")
            csv.unlink()
            body = toml.read_text(encoding="utf-8").replace(
                f'path = "{crm.path}"', 'path = "data/crm_accounts"'
            )
            settings = '\n[spark]\nmaster = "local[2]"\npartitions = 2\n'
            toml.write_text('engine = "spark"\n' + body + settings, encoding="utf-8")
        project = load_project(root)
        pipeline.run(project)
        store = open_store(project.store_url)
        try:
            with store.engine.connect() as connection:
                stores[engine] = connection.execute(
                    text(
                        "SELECT source, source_key, attributes FROM source_record "
                        "ORDER BY source, source_key"
                    )
                ).all()
        finally:
            store.close()
    assert len(stores["spark"]) > 50
    assert [(s, k, json.loads(a)) for s, k, a in stores["spark"]] == [
        (s, k, json.loads(a)) for s, k, a in stores["local"]
    ]


# ---- SQL tables ------------------------------------------------------------------------------


def table_rows() -> list[dict[str, Any]]:
    """Sixty rows whose keys sort as text (A-010 after A-009), two rows sharing a key, two
    without one, and values whose types Spark's JDBC reader would change."""
    rows = []
    for n in range(1, 61):
        key = None if n in (17, 44) else f"A-{n:03d}"
        rows.append(
            {
                "account_id": "A-030" if n == 31 else key,
                "name": f"Company {n}",
                "city": None if n % 6 == 0 else f"City {n % 4}",
                "revenue": decimal.Decimal(f"{n}.50"),
                "modified": dt.datetime(2025, 1, 1, tzinfo=dt.UTC) + dt.timedelta(hours=n),
                "is_deleted": n % 10 == 0,
            }
        )
    random.Random(4).shuffle(rows)  # the table's physical order is not the key's
    return rows


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def source_table(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(url, table): a source table of ``table_rows``, dropped afterwards."""
    sqlite = f"sqlite:///{tmp_path / 'source.db'}"
    url = sqlite if request.param == "sqlite" else postgres_or_skip()
    name = f"mdm_spark_source_{uuid.uuid4().hex[:12]}"
    table = sa.Table(
        name,
        sa.MetaData(),
        sa.Column("account_id", sa.String(20)),
        sa.Column("name", sa.String(100)),
        sa.Column("city", sa.String(100)),
        sa.Column("revenue", sa.Numeric),
        sa.Column("modified", sa.DateTime(timezone=True)),
        sa.Column("is_deleted", sa.Boolean),
    )
    with created_table(url, table, table_rows()):
        yield url, name


def table_spec(url: str, table: str) -> SourceSpec:
    return make_spec(
        format="sql",
        path=None,
        url=url,
        table=table,
        key="account_id",
        last_modified="modified",
        deleted_flag="is_deleted",
        mapping={"name": "name", "city": "city", "phone": "revenue"},
    )


def test_a_table_read_by_spark_tasks_in_key_ranges_is_the_local_read(
    spark: Any, source_table: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, table = source_table
    spec = table_spec(url, table)
    monkeypatch.setattr(spark_tables, "SQL_ROWS_PER_TASK", 10)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            ranges = spark_tables.key_ranges(spec, connection, partitions=4)
    finally:
        engine.dispose()
    # Four ranges of keys, and the rows without a key where the database sorts them: first on
    # SQLite, last on PostgreSQL.
    assert len(ranges) == 5
    assert [r.null_keys for r in ranges] == (
        [True] + [False] * 4 if "sqlite" in url else [False] * 4 + [True]
    )
    local = read_source(spec, Path())
    before = read_jobs(spark)
    on_spark = read_source(spec, Path(), spark_settings(4))
    assert read_jobs(spark) > before
    assert_same_load(local, on_spark)
    assert on_spark.rows_read == 60
    assert len(on_spark.records) == 56  # less the two keyless rows and the shared key's two
    keys = list(on_spark.records["source_key"])
    assert keys == sorted(keys) and keys[0] == "A-001"


def test_an_unreachable_database_on_spark_names_the_source(spark: Any, tmp_path: Path) -> None:
    spec = table_spec(f"sqlite:///{tmp_path / 'missing' / 'source.db'}", "accounts")
    with pytest.raises(MdmError) as raised:
        read_source(spec, Path(), spark_settings())
    assert raised.value.problems[0].where.startswith("sqlite:///")
    assert "(source 'crm_accounts', table)" in raised.value.problems[0].where
