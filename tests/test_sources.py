"""Sources: real CSV, Parquet, JSON Lines and SQL extracts in; records, quarantine and plans out."""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from mdm.config.specs import LoadMode, SourceSpec
from mdm.errors import MdmError, Reason
from mdm.schema import Entity
from mdm.sources import (
    QUARANTINE_COLUMNS,
    ChangePlan,
    SourceLoad,
    check_source,
    content_hash,
    plan_changes,
    read_source,
    record_columns,
)
from mdm.sources.changes import keys_among
from mdm.sources.validate import parse_deleted, parse_last_modified

POSTGRES_URL = os.environ.get(
    "MDM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
UTC = dt.UTC


def make_spec(**fields: Any) -> SourceSpec:
    defaults: dict[str, Any] = {
        "name": "crm_accounts",
        "system": "crm",
        "entity": "account",
        "format": "csv",
        "path": "data/crm.csv",
        "key": "Id",
        "mapping": {"name": "Name", "city": "City"},
    }
    return SourceSpec.model_validate({**defaults, **fields})


def write(root: Path, relative: str, data: bytes) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def problems(load: SourceLoad) -> list[tuple[int, str | None, str | None, str]]:
    """Quarantine rows as (row_number, source_key, column, reason)."""
    q = load.quarantine.astype(object).where(load.quarantine.notna(), None)
    return list(zip(q["row_number"], q["source_key"], q["column"], q["reason"], strict=True))


def assert_reasons(
    load: SourceLoad, expected: list[tuple[int, str | None, str | None, str]]
) -> None:
    """Exact row, key and column; the reason contains the expected text."""
    found = problems(load)
    assert [row[:3] for row in found] == [row[:3] for row in expected]
    for (*_, reason), (*_, part) in zip(found, expected, strict=True):
        assert part in reason


def assert_shapes(load: SourceLoad, entity: Entity = Entity.ACCOUNT) -> None:
    records = load.records
    assert list(records.columns) == record_columns(entity)
    assert records["row_number"].dtype == "int64"
    assert str(records["last_modified"].dtype) == "datetime64[ns, UTC]"
    assert records["deleted"].dtype == bool
    for name in [*record_columns(entity)[4:], "source_key"]:
        assert isinstance(records[name].dtype, pd.StringDtype), name
    assert list(load.quarantine.columns) == list(QUARANTINE_COLUMNS)
    assert str(load.quarantine["row_number"].dtype) == "Int64"
    assert load.rows_read == len(records) + load.rows_quarantined


def column(load: SourceLoad, name: str) -> list[Any]:
    values = load.records[name]
    return [None if pd.isna(v) else v for v in values]


# ---- CSV -------------------------------------------------------------------------------------

MESSY_CSV = (
    b"\xef\xbb\xbfId,Name,City,Modified,Deleted\n"  # line 1, with a UTF-8 byte order mark
    b"C-1001,Acme Corp ,Paris,2024-03-01,no\n"  # row 1: its key comes again in row 6
    b'C-1002,"Globex\nInternational",Springfield,2024-03-02T10:00:00+02:00,\n'  # row 2: 2 lines
    b"C-1003,Initech,Montr\xe9al,,\n"  # row 3: a latin-1 byte in a utf-8 file
    b",Nameless,Berlin,,\n"  # row 4: no key
    b"C-1005,Hooli,Palo Alto\n"  # row 5 (line 7): two fields short
    b"C-1001,Acme Again,Lyon,,\n"  # row 6
    b"C-1007,Umbrella,,31/31/2024,maybe\n"  # row 7: bad date and bad flag
    b"\n"  # a blank line is not a row
    b'C-1008,"Stark, Inc.", ,2024-03-08 09:30,YES\n'  # row 8
)


def test_csv_good_rows_become_records_and_bad_rows_are_quarantined(tmp_path: Path) -> None:
    write(tmp_path, "data/crm.csv", MESSY_CSV)
    spec = make_spec(last_modified="Modified", deleted_flag="Deleted")
    load = read_source(spec, tmp_path)

    assert_shapes(load)
    assert load.location == "data/crm.csv"
    assert column(load, "source_key") == ["C-1002", "C-1008"]
    assert column(load, "row_number") == [2, 8]
    assert column(load, "name") == ["Globex\nInternational", "Stark, Inc."]
    assert column(load, "city") == ["Springfield", None]  # blank is missing
    assert column(load, "phone") == [None, None]  # unmapped attributes are there, empty
    assert column(load, "last_modified") == [
        pd.Timestamp("2024-03-02T08:00:00Z"),
        pd.Timestamp("2024-03-08T09:30:00Z"),  # naive means UTC
    ]
    assert column(load, "deleted") == [False, True]

    assert_reasons(
        load,
        [
            (1, "C-1001", "Id", "key 'C-1001' appears 2 times (rows 1, 6); both rows quarantined"),
            (3, "C-1003", "City", "bytes not valid utf-8 in column 'City'"),
            (4, None, "Id", "key column 'Id' is empty"),
            (5, "C-1005", None, "row has 3 fields, the header has 5 (line 7)"),
            (6, "C-1001", "Id", "key 'C-1001' appears 2 times (rows 1, 6)"),
            (7, "C-1007", "Modified", "last-modified '31/31/2024' is not a date"),
            (7, "C-1007", "Deleted", "deleted flag 'maybe' is not true/false"),
        ],
    )
    assert (load.rows_read, load.rows_quarantined) == (8, 6)
    raws = [json.loads(raw) for raw in load.quarantine["raw"]]
    assert raws[1] == {
        "Id": "C-1003",
        "Name": "Initech",
        "City": "Montr\\xe9al",
        "Modified": "",
        "Deleted": "",
    }
    assert raws[3] == {"Id": "C-1005", "Name": "Hooli", "City": "Palo Alto"}


def test_csv_ragged_row_names_all_its_lines_and_extra_fields(tmp_path: Path) -> None:
    write(tmp_path, "data/crm.csv", b'Id,Name,City\nA,"two\nlines",X,extra\nB,Beta,Y\n')
    load = read_source(make_spec(), tmp_path)
    assert_reasons(load, [(1, "A", None, "row has 4 fields, the header has 3 (lines 2-3)")])
    assert json.loads(load.quarantine["raw"][0])["_field_4"] == "extra"
    assert column(load, "source_key") == ["B"]
    assert column(load, "row_number") == [2]


def test_csv_with_semicolons_in_latin_1(tmp_path: Path) -> None:
    text = 'Id;Name;City\nK1;"Société; Générale";Besançon\nK2;Müller AG;Zürich\n'
    write(tmp_path, "data/crm.csv", text.encode("latin-1"))
    load = read_source(make_spec(encoding="latin-1", delimiter=";"), tmp_path)
    assert problems(load) == []
    assert column(load, "name") == ["Société; Générale", "Müller AG"]
    assert column(load, "city") == ["Besançon", "Zürich"]


def test_csv_with_only_a_header_gives_empty_typed_frames(tmp_path: Path) -> None:
    write(tmp_path, "data/crm.csv", b"Id,Name,City\n")
    load = read_source(make_spec(), tmp_path)
    assert_shapes(load)
    assert (len(load.records), len(load.quarantine), load.rows_read) == (0, 0, 0)


def test_missing_columns_fail_before_rows_naming_file_and_mapping_key(tmp_path: Path) -> None:
    write(tmp_path, "data/crm.csv", b"Id,Name,city\n1,Acme,Paris\n")
    spec = make_spec(mapping={"name": "Name", "city": "Town", "region": "City"})
    with pytest.raises(MdmError) as raised:
        read_source(spec, tmp_path)
    error = raised.value
    assert error.reason is Reason.SOURCE
    assert [p.where for p in error.problems] == [
        "data/crm.csv (source 'crm_accounts', mapping.city)",
        "data/crm.csv (source 'crm_accounts', mapping.region)",
    ]
    assert "column 'Town' is not in the file's header; it has: Id, Name, city" in str(error)
    assert error.problems[1].hint.startswith("did you mean 'city'?")
    # The pre-flight check finds the same problems and raises nothing.
    assert check_source(spec, tmp_path) == error.problems
    assert check_source(make_spec(mapping={"name": "Name"}), tmp_path) == []


def test_missing_file_is_a_source_error_with_the_path(tmp_path: Path) -> None:
    spec = make_spec(path="data/nowhere.csv")
    with pytest.raises(MdmError, match=r"source 'crm_accounts', path\): no such file"):
        read_source(spec, tmp_path)
    [problem] = check_source(spec, tmp_path)
    assert str(tmp_path / "data" / "nowhere.csv") in problem.message


def test_unknown_encoding_names_the_encoding_key(tmp_path: Path) -> None:
    write(tmp_path, "data/crm.csv", b"Id,Name,City\n")
    [problem] = check_source(make_spec(encoding="klingon-8"), tmp_path)
    assert problem.where == "data/crm.csv (source 'crm_accounts', encoding)"


@pytest.mark.parametrize(
    ("text", "flag"),
    [
        *[("TRUE", True), ("yes", True), ("Y", True), ("t", True), ("1", True)],
        *[(" no ", False), ("F", False), ("0", False), ("n", False), ("", False), (None, False)],
    ],
)
def test_deleted_flag_words(text: str | None, flag: bool) -> None:
    flags, bad = parse_deleted(pd.Series([text], dtype=object), "Deleted", "utf-8")
    assert (flags.tolist(), bad.empty) == ([flag], True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-31", "2024-03-31T00:00:00Z"),
        ("2024-03-31T14:05:00", "2024-03-31T14:05:00Z"),
        ("2024-03-31T14:05:00+02:00", "2024-03-31T12:05:00Z"),
        ("2024-03-31 14:05:00.123456Z", "2024-03-31T14:05:00.123456Z"),
        ("", None),
        ("31/03/2024", "2024-03-31T00:00:00Z"),  # a day over 12: read as dd/mm/yyyy
        ("31/31/2024", "is not a date"),
        ("yesterday", "is not a date"),
        ("9999-12-31", "is outside the dates mdm can store"),
    ],
)
def test_last_modified_values(text: str, expected: str | None) -> None:
    times, bad = parse_last_modified(pd.Series([text], dtype=object), "Modified", "utf-8")
    assert str(times.dtype) == "datetime64[ns, UTC]"
    if expected is None or "Z" in expected:
        assert bad.empty
        value = times.iloc[0]
        assert (None if pd.isna(value) else value) == (expected and pd.Timestamp(expected))
    else:
        assert pd.isna(times.iloc[0])
        assert bad["column"].tolist() == ["Modified"]
        assert expected in bad["reason"].iloc[0]


# ---- Parquet and JSON Lines ------------------------------------------------------------------


def test_parquet_keeps_integers_and_times_exact(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "Id": pd.array([1001, 1002, 1003, 1003], dtype="int64"),
            "Name": ["Acme", None, "Initech", "Initech 2"],
            "Zip": [2100.0, float("nan"), 10115.0, 1.0],  # a float column, as spreadsheets make
            "Phone": pd.array([4155550134, None, 1, 2], dtype="Int64"),
            "Modified": pd.to_datetime(
                pd.Series(["2024-01-02 03:04:05", None, "2024-01-01 00:00:00", None])
            ),
            "Gone": [False, True, False, False],
        }
    )
    frame.to_parquet(tmp_path / "crm.parquet", index=False)
    spec = make_spec(
        format="parquet",
        path="crm.parquet",
        mapping={"name": "Name", "postcode": "Zip", "phone": "Phone"},
        last_modified="Modified",
        deleted_flag="Gone",
    )
    assert check_source(spec, tmp_path) == []
    load = read_source(spec, tmp_path)
    assert_shapes(load)
    assert column(load, "source_key") == ["1001", "1002"]
    assert column(load, "postcode") == ["2100", None]
    assert column(load, "phone") == ["4155550134", None]
    assert column(load, "last_modified") == [pd.Timestamp("2024-01-02T03:04:05Z"), None]
    assert column(load, "deleted") == [False, True]
    assert_reasons(
        load,
        [(3, "1003", "Id", "appears 2 times (rows 3, 4)"), (4, "1003", "Id", "appears 2 times")],
    )


def test_parquet_that_is_not_parquet(tmp_path: Path) -> None:
    write(tmp_path, "crm.parquet", b"Id,Name\n1,Acme\n")
    [problem] = check_source(make_spec(format="parquet", path="crm.parquet"), tmp_path)
    assert "not a readable Parquet file" in problem.message


def test_json_lines_quarantine_broken_lines_by_line_number(tmp_path: Path) -> None:
    lines = [
        '{"id": "J1", "name": "Acme", "tags": ["a", "b"]}',
        "",
        '{"id": "J2", "name": "Beta",',
        "[1, 2]",
        '{"id": 3, "name": null, "modified": "2024-01-01T00:00:00Z", "extra": {"x": 1}}',
    ]
    write(tmp_path, "crm.jsonl", "\n".join(lines).encode())
    spec = make_spec(
        format="jsonl",
        path="crm.jsonl",
        key="id",
        mapping={"name": "name", "tax_id": "tags"},
        last_modified="modified",
    )
    assert check_source(spec, tmp_path) == []
    load = read_source(spec, tmp_path)
    assert_shapes(load)
    assert column(load, "source_key") == ["J1", "3"]
    assert column(load, "row_number") == [1, 5]
    assert column(load, "name") == ["Acme", None]
    assert column(load, "tax_id") == ['["a", "b"]', None]
    assert column(load, "last_modified") == [None, pd.Timestamp("2024-01-01T00:00:00Z")]
    assert_reasons(
        load,
        [
            (3, "J2", None, "line 3 is not valid JSON"),
            (4, None, None, "line 4 is a JSON list, not an object"),
        ],
    )
    assert json.loads(load.quarantine["raw"][1]) == {"_line": "[1, 2]"}
    # A key on no line at all is a missing column.
    [problem] = check_source(spec.model_copy(update={"deleted_flag": "gone"}), tmp_path)
    assert problem.where == "crm.jsonl (source 'crm_accounts', deleted_flag)"


# ---- SQL -------------------------------------------------------------------------------------


def postgres_or_skip() -> str:
    engine = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("select 1"))
    except (sa.exc.SQLAlchemyError, ImportError) as error:
        message = f"PostgreSQL not reachable at {POSTGRES_URL} (set MDM_TEST_POSTGRES_URL): {error}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    finally:
        engine.dispose()
    return POSTGRES_URL


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def sql_table(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(url, table): a uniquely named source table, dropped afterwards."""
    url = f"sqlite:///{tmp_path / 'source.db'}" if request.param == "sqlite" else postgres_or_skip()
    name = f"mdm_source_{uuid.uuid4().hex[:12]}"
    table = sa.Table(
        name,
        sa.MetaData(),
        sa.Column("account_id", sa.String(20)),
        sa.Column("name", sa.String(100)),
        sa.Column("city", sa.String(100)),
        sa.Column("employees", sa.Integer),
        sa.Column("modified", sa.DateTime),
        sa.Column("is_deleted", sa.Boolean),
    )
    with created_table(url, table, SQL_ROWS):
        yield url, name


@contextmanager
def created_table(url: str, table: sa.Table, rows: list[dict[str, Any]]) -> Iterator[None]:
    """``table`` made in the database at ``url`` and filled with ``rows``; dropped after."""
    engine = sa.create_engine(url)
    try:
        table.create(engine)
        with engine.begin() as connection:
            connection.execute(table.insert(), rows)
        yield
    finally:
        table.drop(engine, checkfirst=True)
        engine.dispose()


SQL_ROWS = [
    {"account_id": "A-2", "name": "Beta", "city": None, "employees": None}
    | {"modified": dt.datetime(2024, 1, 2, 3, 4, 5), "is_deleted": False},
    {"account_id": "A-1", "name": " Alpha ", "city": "Oslo", "employees": 12}
    | {"modified": None, "is_deleted": True},
    {"account_id": "A-3", "name": "Gamma", "city": "Rome", "employees": 5}
    | {"modified": None, "is_deleted": None},
    {"account_id": "A-3", "name": "Gamma 2", "city": "Rome", "employees": 5}
    | {"modified": None, "is_deleted": None},
]


def sql_spec(url: str, **fields: Any) -> SourceSpec:
    return make_spec(
        format="sql",
        path=None,
        url=url,
        key="account_id",
        mapping={"name": "name", "city": "city", "phone": "employees"},
        **fields,
    )


def test_sql_table(sql_table: tuple[str, str]) -> None:
    url, table = sql_table
    spec = sql_spec(url, table=table, last_modified="modified", deleted_flag="is_deleted")
    assert check_source(spec, Path()) == []
    load = read_source(spec, Path())
    assert_shapes(load)
    assert load.location.endswith(f" table {table}")
    # Ordered by key, so the row numbers are the same on every run.
    assert column(load, "source_key") == ["A-1", "A-2"]
    assert column(load, "row_number") == [1, 2]
    assert column(load, "name") == ["Alpha", "Beta"]
    assert column(load, "phone") == ["12", None]
    assert column(load, "last_modified") == [None, pd.Timestamp("2024-01-02T03:04:05Z")]
    assert column(load, "deleted") == [True, False]
    assert_reasons(load, [(3, "A-3", "account_id", "rows 3, 4"), (4, "A-3", "account_id", "")])


def test_sql_query(sql_table: tuple[str, str]) -> None:
    url, table = sql_table
    query = f"SELECT account_id, name, city, employees FROM {table} WHERE city IS NOT NULL;"
    spec = sql_spec(url, query=query)
    assert check_source(spec, Path()) == []
    load = read_source(spec, Path())
    assert_shapes(load)
    assert sorted(column(load, "source_key")) == ["A-1"]
    assert sorted(load.quarantine["source_key"]) == ["A-3", "A-3"]


def test_sql_problems_name_the_table_or_query(sql_table: tuple[str, str]) -> None:
    url, table = sql_table
    [problem] = check_source(sql_spec(url, table="no_such_table"), Path())
    assert problem.where.endswith("(source 'crm_accounts', table)")
    assert "table 'no_such_table' does not exist; the database has: " in problem.message
    if url.startswith("sqlite"):  # a shared server may list too many tables to show them all
        assert table in problem.message

    query = f"SELECT account_id, name, employees FROM {table}"
    [problem] = check_source(sql_spec(url, query=query), Path())
    assert problem.where.endswith("(source 'crm_accounts', mapping.city)")
    assert "column 'city' is not in the query's result" in problem.message

    with pytest.raises(MdmError) as raised:
        read_source(sql_spec(url, query="SELECT nonsense FROM nowhere"), Path())
    [problem] = raised.value.problems
    assert "query 'SELECT nonsense FROM nowhere' (source 'crm_accounts', query)" in problem.where


# ---- change detection ------------------------------------------------------------------------

ATTRIBUTES = ["name", "city"]


def records(rows: list[tuple[str, str | None, str | None, bool]]) -> pd.DataFrame:
    """Records of (key, name, city, deleted), with their content hash."""
    frame = pd.DataFrame(
        {
            "source_key": pd.array([r[0] for r in rows], dtype="string"),
            "row_number": pd.array(range(1, len(rows) + 1), dtype="int64"),
            "last_modified": pd.array([pd.NaT] * len(rows), dtype="datetime64[ns, UTC]"),
            "deleted": pd.array([r[3] for r in rows], dtype=bool),
            "name": pd.array([r[1] for r in rows], dtype="string"),
            "city": pd.array([r[2] for r in rows], dtype="string"),
        }
    )
    return frame.assign(content_hash=content_hash(frame, ATTRIBUTES))


def test_content_hash_is_pinned_and_blind_to_missing_versus_empty() -> None:
    frame = records([("k", "Acme", None, False), ("k", "Acme", "", False)])
    # Pinned: a change of this digest rewrites every record of every store.
    assert frame["content_hash"].tolist() == ["7d70cef70e0eb3215bba513b846548cf"] * 2
    others = records(
        [("k", "Acme", None, True), ("k", "Acm", "e", False), ("k", "Acme|", None, False)]
    )
    assert len(set(others["content_hash"]) | {frame["content_hash"][0]}) == 4


def test_plan_changes_example() -> None:
    current = records(
        [
            ("same", "A", None, False),
            ("changed", "B", None, False),
            ("tombstoned", "C", None, True),
            ("absent", "D", "Dover", False),
            ("flagged", "E", None, False),
        ]
    )
    incoming = records(
        [
            ("same", "A", "", False),
            ("changed", "B2", None, False),
            ("tombstoned", "C", None, False),
            ("new", "F", None, False),
            ("flagged", "E", None, True),
            ("unknown-flagged", "G", None, True),
        ]
    )
    state = current[["source_key", "content_hash", "deleted", *ATTRIBUTES]]
    full = plan_changes(incoming, state, LoadMode.FULL)
    assert full.inserts["source_key"].tolist() == ["tombstoned", "new"]
    assert full.updates["source_key"].tolist() == ["changed"]
    # A key first seen flagged deleted is kept as a tombstone.
    assert full.deletes["source_key"].tolist() == ["flagged", "unknown-flagged", "absent"]
    assert full.unchanged == 1
    absent = full.deletes.iloc[2]
    assert (absent["name"], absent["city"], bool(absent["deleted"])) == ("D", "Dover", True)
    assert pd.isna(absent["row_number"]) and pd.isna(absent["last_modified"])
    assert absent["content_hash"] == records([("absent", "D", "Dover", True)])["content_hash"][0]
    assert list(full.deletes.columns) == list(incoming.columns)

    delta = plan_changes(incoming, state[["source_key", "content_hash", "deleted"]], LoadMode.DELTA)
    assert delta.deletes["source_key"].tolist() == ["flagged", "unknown-flagged"]
    assert (len(delta.inserts), len(delta.updates), delta.unchanged) == (2, 1, 1)


# A model store: key -> (content hash, deleted).
Store = dict[str, tuple[str, bool]]

KEYS = st.sampled_from([f"k{i}" for i in range(8)])
VALUES = st.sampled_from([None, "", "a", "b"])
VERSIONS = st.tuples(VALUES, st.booleans())


def incoming_of(extract: dict[str, tuple[str | None, bool]]) -> pd.DataFrame:
    return records([(key, name, None, deleted) for key, (name, deleted) in extract.items()])


def current_frame(store: Store) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "source_key": pd.array(list(store), dtype="string"),
            "content_hash": pd.array([h for h, _ in store.values()], dtype="string"),
            "deleted": pd.array([d for _, d in store.values()], dtype=bool),
        }
    )


def store_of(extract: dict[str, tuple[str | None, bool]]) -> Store:
    frame = incoming_of(extract)
    return dict(versions(frame))


def versions(frame: pd.DataFrame) -> Iterator[tuple[str, tuple[str, bool]]]:
    for key, digest, deleted in frame[["source_key", "content_hash", "deleted"]].itertuples(
        index=False
    ):
        yield str(key), (str(digest), bool(deleted))


def apply(store: Store, plan: ChangePlan) -> Store:
    after = dict(store)
    for frame in (plan.inserts, plan.updates, plan.deletes):
        after.update(versions(frame))
    return after


def live(store: Store) -> set[str]:
    return {key for key, (_, deleted) in store.items() if not deleted}


PLAN_CASES = given(
    before=st.dictionaries(KEYS, VERSIONS).map(store_of),
    extract=st.dictionaries(KEYS, VERSIONS),
    mode=st.sampled_from(LoadMode),
)


@settings(max_examples=60, deadline=None)
@PLAN_CASES
def test_planning_again_after_applying_writes_nothing(
    before: Store, extract: dict[str, tuple[str | None, bool]], mode: LoadMode
) -> None:
    incoming = incoming_of(extract)
    after = apply(before, plan_changes(incoming, current_frame(before), mode))
    again = plan_changes(incoming, current_frame(after), mode)
    assert (len(again.inserts), len(again.updates), len(again.deletes)) == (0, 0, 0)
    assert again.unchanged == len(incoming)


@settings(max_examples=60, deadline=None)
@PLAN_CASES
def test_every_incoming_key_ends_live_with_its_hash_unless_flagged(
    before: Store, extract: dict[str, tuple[str | None, bool]], mode: LoadMode
) -> None:
    incoming = incoming_of(extract)
    plan = plan_changes(incoming, current_frame(before), mode)
    after = apply(before, plan)
    for key, (digest, deleted) in versions(incoming):
        assert (key in live(after)) is not deleted
        if not deleted:
            assert after[key] == (digest, False)
    # Each incoming row is counted once: written, tombstoned, or unchanged.
    flagged = {key for key, (_, deleted) in versions(incoming) if deleted}
    tombstoned = flagged & (live(before) | (set(incoming["source_key"]) - set(before)))
    counted = len(plan.inserts) + len(plan.updates) + len(tombstoned) + plan.unchanged
    assert counted == len(incoming)


@settings(max_examples=60, deadline=None)
@PLAN_CASES
def test_full_mode_tombstones_exactly_the_absent_live_keys(
    before: Store, extract: dict[str, tuple[str | None, bool]], mode: LoadMode
) -> None:
    incoming = incoming_of(extract)
    plan = plan_changes(incoming, current_frame(before), mode)
    after = apply(before, plan)
    absent_live = live(before) - set(extract)
    absent_deletes = set(plan.deletes["source_key"]) - set(extract)
    if mode is LoadMode.FULL:
        assert absent_deletes == absent_live
        assert not absent_live & live(after)
    else:  # DELTA never touches a key the extract does not mention
        assert absent_deletes == set()
        assert {key: after[key] for key in before if key not in extract} == {
            key: version for key, version in before.items() if key not in extract
        }


def test_an_empty_json_lines_delta_is_zero_records(tmp_path: Path) -> None:
    (tmp_path / "leads.jsonl").write_text("\n", encoding="utf-8")
    spec = SourceSpec.model_validate(
        {
            "name": "leads",
            "system": "Marketing",
            "entity": "contact",
            "format": "jsonl",
            "path": "leads.jsonl",
            "key": "lead_id",
            "mode": "delta",
            "mapping": {"email": "email"},
        }
    )
    assert check_source(spec, tmp_path) == []
    load = read_source(spec, tmp_path)
    assert (load.rows_read, len(load.records), len(load.quarantine)) == (0, 0, 0)


TEXTS = st.one_of(st.none(), st.sampled_from(["", "a", "A", "a ", "é", "k1"]), st.text(max_size=3))


@settings(max_examples=100, deadline=None)
@given(keys=st.lists(TEXTS, max_size=12), values=st.lists(TEXTS, max_size=12))
def test_keys_among_values_is_what_pandas_isin_says(
    keys: list[str | None], values: list[str | None]
) -> None:
    """The change plan tests key membership by Arrow; missing keys and values count as in
    pandas (a missing key is among values that hold a missing one)."""
    column = pd.Series(keys, dtype="string")
    expected = column.isin(values).to_numpy(dtype=bool).tolist()
    assert keys_among(column, values).tolist() == expected
    assert keys_among(column, pd.Series(values, dtype="string")).tolist() == expected
