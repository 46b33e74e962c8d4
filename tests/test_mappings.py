"""Mappings that fit real extracts: a whole name split into its parts, several columns joined
into one attribute, each source's date format (or the one its values show), an operation
column marking deletions, US ZIP codes restored, a load stopped when most of its rows are
quarantined for one reason, and every new key checked when the project loads.

Real files in a temporary folder; runs through ``mdm.pipeline`` or the ``mdm`` command, on
SQLite and on PostgreSQL where a store is involved.
"""

from __future__ import annotations

import json
import re
import shutil
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from mdm import pipeline
from mdm.cli import app
from mdm.config import load_project
from mdm.config.specs import ProjectSpec, SourceSpec
from mdm.errors import MdmError
from mdm.project_files import DEFAULT_RULES
from mdm.schema import Entity, Kind
from mdm.sources import SourceLoad, check_source, read_source
from mdm.sources.checks import MIN_ROWS_FOR_SHARE, quarantine_share_problems
from mdm.standardize import clean_values, match_values
from mdm.standardize.full_name import split_full_name, split_full_names
from mdm.store import open_store

# ---- helpers ---------------------------------------------------------------------------------


def make_project(directory: Path, url: str, sources: str, files: dict[str, str | bytes]) -> Path:
    """A project folder: ``sources`` is the [[sources]] part of mdm.toml, ``files`` the
    extracts by file name."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "mdm.toml").write_text(f'[store]\nurl = "{url}"\n{sources}', encoding="utf-8")
    if not (directory / "rules").exists():
        shutil.copytree(DEFAULT_RULES, directory / "rules")
    write_files(directory, files)
    return directory


def write_files(directory: Path, files: dict[str, str | bytes]) -> None:
    for name, data in files.items():
        raw = data.encode("utf-8") if isinstance(data, str) else data
        (directory / name).write_bytes(raw)


def csv(header: str, rows: list[str]) -> str:
    return "\n".join([header, *rows]) + "\n"


def mdm(*args: str) -> tuple[int, str]:
    """The real command, in process: its exit code and its output, white space folded."""
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, " ".join(result.output.split())


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    store = open_store(url)
    try:
        with store.transaction() as connection:
            return [tuple(row) for row in connection.execute(text(sql))]
    finally:
        store.close()


def current_attributes(url: str, source: str) -> dict[str, dict[str, Any]]:
    """The current version's attributes of every record of ``source``, by key."""
    rows = query(
        url,
        "SELECT source_key, attributes FROM source_record "
        f"WHERE is_current AND source = '{source}' ORDER BY source_key",
    )
    return {str(key): json.loads(attributes) for key, attributes in rows}


def current_keys(url: str, source: str) -> dict[str, dict[str, Any]]:
    """The stored match keys of every current live record of ``source``, by key."""
    rows = query(
        url,
        "SELECT source_key, match_keys FROM source_record "
        f"WHERE is_current AND NOT deleted AND source = '{source}' ORDER BY source_key",
    )
    return {str(key): json.loads(keys) for key, keys in rows}


def store_state(url: str) -> dict[str, Any]:
    return {
        "records": query(
            url,
            "SELECT source, source_key, version, is_current, deleted, content_hash, attributes "
            "FROM source_record ORDER BY source, source_key, version",
        ),
        "xref": query(url, "SELECT source, source_key, golden_id FROM xref ORDER BY 1, 2"),
        "golden": query(url, "SELECT * FROM golden_account ORDER BY golden_id"),
        "quarantine": query(url, "SELECT run_id, row_number, reason FROM quarantine ORDER BY 1, 2"),
    }


def reasons(load: SourceLoad) -> list[tuple[int, str | None, str]]:
    q = load.quarantine.astype(object).where(load.quarantine.notna(), None)
    return list(zip(q["row_number"], q["column"], q["reason"], strict=True))


def spec(**fields: Any) -> SourceSpec:
    defaults: dict[str, Any] = {
        "name": "erp_customers",
        "system": "ERP",
        "entity": "account",
        "format": "csv",
        "path": "erp.csv",
        "key": "KUNNR",
        "mapping": {"name": "CUSTNAME"},
    }
    return SourceSpec.model_validate({**defaults, **fields})


# Distinct organisations that no rule matches together, for loads of any size.
WORDS = [
    "Alder", "Birch", "Cedar", "Dogwood", "Elm", "Fir", "Ginkgo", "Hazel", "Ironwood",
    "Juniper", "Kapok", "Larch", "Maple", "Nutmeg", "Oak", "Pine", "Quince", "Rowan",
    "Spruce", "Teak", "Ulmus", "Viburnum", "Willow", "Yew",
]  # fmt: skip


def company(index: int) -> tuple[str, str, str]:
    """(key, name, phone) of the index-th organisation."""
    word = WORDS[index]
    return (
        f"K{index + 1:03d}",
        f"{word} {['Anvils', 'Bakery', 'Clocks', 'Dyes'][index % 4]}",
        (f"+1 415 555 {1000 + index * 37:04d}"),
    )


# ---- 1. a whole name split into its parts ----------------------------------------------------

CONTACTS_SOURCE = """
[[sources]]
name = "crm_contacts"
system = "CRM"
entity = "contact"
format = "csv"
path = "contacts.csv"
key = "Id"
[sources.mapping]
full_name = "Full Name"
first_name = "First"
email = "Email"
"""

CONTACTS = csv(
    "Id,Full Name,First,Email",
    [
        'C1,"Smith, Dr. John A. Jr",,john.smith@acme.com',
        "C2,JOHN SMITH,,jsmith@globex.com",
        "C3,Mary-Ann O'Neill,,maryann@initech.com",
        'C4,"SMITH, PETER Q",,peter@hooli.com',
        "C5,Jonathan Quincy Public,Jon,jon@public.org",  # its own first name is kept
        "C6,Madonna,,madonna@music.com",  # one word: a first name, as nameparser reads it
        "C7,,Ann,ann@acme.com",  # no full name: nothing to split
        "C8,Mr,,mr@acme.com",  # a title alone names no part
    ],
)


def test_full_names_are_split_into_first_middle_and_last_name(
    tmp_path: Path, store_url: str
) -> None:
    directory = make_project(tmp_path, store_url, CONTACTS_SOURCE, {"contacts.csv": CONTACTS})
    pipeline.run(load_project(directory), export=False)

    stored = current_attributes(store_url, "crm_contacts")
    parts = {
        key: (values["first_name"], values["middle_name"], values["last_name"])
        for key, values in stored.items()
    }
    assert parts == {
        "C1": ("John", "A.", "Smith"),  # title and suffix dropped
        "C2": ("JOHN", None, "SMITH"),  # as written: display casing comes later
        "C3": ("Mary-Ann", None, "O'Neill"),
        "C4": ("PETER", "Q", "SMITH"),  # "Last, First Middle"
        "C5": ("Jon", "Quincy", "Public"),
        "C6": ("Madonna", None, None),
        "C7": ("Ann", None, None),
        "C8": (None, None, None),
    }
    # The whole name is kept as read, beside its parts.
    assert stored["C1"]["full_name"] == "Smith, Dr. John A. Jr"
    assert stored["C7"]["full_name"] is None

    # Golden records show the parts cleaned; the full name is not survived.
    golden = query(
        store_url,
        "SELECT g.first_name, g.middle_name, g.last_name FROM golden_contact g "
        "JOIN xref x ON x.golden_id = g.golden_id WHERE x.source_key = 'C4'",
    )
    assert golden == [("Peter", "Q", "Smith")]
    names = query(
        store_url,
        "SELECT g.middle_name FROM golden_contact g JOIN xref x ON x.golden_id = g.golden_id "
        "WHERE x.source_key = 'C5'",
    )
    assert names == [("Quincy",)]


def test_the_export_lists_middle_name_and_not_full_name(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    directory = make_project(tmp_path, url, CONTACTS_SOURCE, {"contacts.csv": CONTACTS})
    pipeline.run(load_project(directory))
    exported = pd.read_csv(directory / "exports" / "contacts.csv", dtype=str)
    names = list(exported.columns)
    assert names.index("first_name") < names.index("middle_name") < names.index("last_name")
    assert "full_name" not in names


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("Smith, Dr. John A. Jr", ("John", "A.", "Smith")),
        ("JOHN SMITH", ("JOHN", None, "SMITH")),
        ("Mary-Ann O'Neill", ("Mary-Ann", None, "O'Neill")),
        ("SMITH, JOHN A", ("JOHN", "A", "SMITH")),
        ("Smith, John", ("John", None, "Smith")),
        ("DR. JOHN SMITH JR.", ("JOHN", None, "SMITH")),
        ("de la Vega, Juan Carlos", ("Juan", "Carlos", "de la Vega")),
        ('John "Jack" Smith', ("John", None, "Smith")),  # a nickname is dropped
        ("  John   Smith ", ("John", None, "Smith")),
        ("Madonna", ("Madonna", None, None)),
        ("Dr. Smith", (None, None, "Smith")),
        ("Mr", (None, None, None)),
    ],
)
def test_split_full_name(text: str, parts: tuple[str | None, ...]) -> None:
    assert split_full_name(text) == parts


NAME_WORDS = [
    *("Ann", "John", "Mary-Ann", "José", "Zoë", "Hans-Peter", "Lee", "Will", "Mason", "King"),
    *("Smith", "O'Neill", "Müller", "D'Arcy", "Le", "Van", "de", "Bin", "Mac", "St", "Judge"),
    *("Sir", "Esq", "Jr", "Y", "E", "V", "X", "IV", "Mill", "A.", "D.", "Q", "Dr", "Mrs"),
]  # fmt: skip
TITLES = ["", "", "", "Dr. ", "MR ", "Mrs. ", "Prof. "]
SUFFIXES = ["", "", "", " Jr.", " SR", " III", ", Jr."]


def test_plain_names_split_as_nameparser_splits_them() -> None:
    # Names of plain words skip the parser; they must come out as the parser has them, for
    # words the parser gives a role (titles, particles, roman numerals) as for any other.
    from nameparser import HumanName

    random = np.random.default_rng(20)
    for _ in range(3_000):
        words = [str(w) for w in random.choice(NAME_WORDS, size=random.integers(1, 5))]
        words = [w.upper() if random.random() < 0.2 else w for w in words]
        cut = int(random.integers(1, len(words))) if len(words) > 1 else 0
        body = (
            f"{' '.join(words[:cut])}, {' '.join(words[cut:])}"
            if cut and random.random() < 0.4
            else " ".join(words)
        )
        written = f"{random.choice(TITLES)}{body}{random.choice(SUFFIXES)}"
        name = HumanName(written)
        expected = (name.first or None, name.middle or None, name.last or None)
        assert split_full_name(written) == expected, written


def test_each_distinct_full_name_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import mdm.standardize.full_name as full_name

    seen: list[str] = []
    real = full_name.split_full_name

    def counting(text: str) -> tuple[str | None, str | None, str | None]:
        seen.append(text)
        return real(text)

    monkeypatch.setattr(full_name, "split_full_name", counting)
    values = pd.Series(["Smith, John", None, "Ann Lee", "Smith, John"] * 1000, dtype="string")
    parts = split_full_names(values)
    assert sorted(seen) == ["Ann Lee", "Smith, John"]
    assert parts.iloc[:4].astype(object).where(parts.iloc[:4].notna(), None).values.tolist() == [
        ["John", None, "Smith"],
        [None, None, None],
        ["Ann", None, "Lee"],
        ["John", None, "Smith"],
    ]


# ---- 2. several columns per attribute --------------------------------------------------------

JOINED = spec(
    key="KUNNR",
    mapping={"name": ["CUSTNAME", "CUSTNAME2"], "street": ["STREET1", "STREET2"], "city": "ORT"},
)


def test_several_columns_are_joined_by_one_space(tmp_path: Path) -> None:
    (tmp_path / "erp.csv").write_text(
        csv(
            "KUNNR,CUSTNAME,CUSTNAME2,STREET1,STREET2,ORT",
            [
                "1,Acme , Holdings ,1 Main St,Suite 200,Boston",
                "2,Globex,,  ,Building 7,Springfield",
                "3,,,,,Paris",
            ],
        )
    )
    load = read_source(JOINED, tmp_path)
    records = load.records.set_index("source_key")
    values = records[["name", "street"]].astype(object).where(records[["name", "street"]].notna())
    assert values.replace({float("nan"): None}).to_dict("index") == {
        "1": {"name": "Acme Holdings", "street": "1 Main St Suite 200"},
        "2": {"name": "Globex", "street": "Building 7"},
        "3": {"name": None, "street": None},
    }
    assert JOINED.source_columns == [
        "KUNNR", "CUSTNAME", "CUSTNAME2", "STREET1", "STREET2", "ORT",
    ]  # fmt: skip


def test_every_joined_column_is_checked(tmp_path: Path) -> None:
    (tmp_path / "erp.csv").write_bytes(
        b"KUNNR,CUSTNAME,CUSTNAME2,STREET1,Street2,ORT\n1,Acme,,1 Main St,x,Boston\n"
    )
    [problem] = check_source(JOINED, tmp_path)
    assert problem.where == "erp.csv (source 'erp_customers', mapping.street)"
    assert problem.message.startswith("column 'STREET2' is not in the file's header")
    assert problem.hint.startswith("did you mean 'Street2'?")

    # Undecodable bytes and oversized values in the second column of a list are found too.
    (tmp_path / "erp.csv").write_bytes(
        b"KUNNR,CUSTNAME,CUSTNAME2,STREET1,STREET2,ORT\n"
        b"1,Acme,Caf\xe9,1 Main St,,Boston\n"
        b"2,Globex,,1 Side St," + b"x" * 4_001 + b",Boston\n"
        b"3,Initech,,2 Main St,,Austin\n"
    )
    load = read_source(JOINED, tmp_path)
    assert [(row, column) for row, column, _ in reasons(load)] == [
        (1, "CUSTNAME2"),
        (2, "STREET2"),
    ]
    assert "bytes not valid utf-8 in column 'CUSTNAME2'" in reasons(load)[0][2]
    assert load.records["source_key"].tolist() == ["3"]


# ---- 3. each source's date format ------------------------------------------------------------


def dates_load(tmp_path: Path, values: list[str], fmt: str | None = None) -> SourceLoad:
    rows = [f"{n},Company {n},{value}" for n, value in enumerate(values, start=1)]
    (tmp_path / "erp.csv").write_text(csv("KUNNR,CUSTNAME,LASTCHG", rows))
    return read_source(spec(last_modified="LASTCHG", last_modified_format=fmt), tmp_path)


def times(load: SourceLoad) -> dict[str, str | None]:
    return {
        str(key): None if pd.isna(time) else time.isoformat()
        for key, time in zip(load.records["source_key"], load.records["last_modified"], strict=True)
    }


@pytest.mark.parametrize(
    ("fmt", "values", "expected"),
    [
        (
            "iso",
            ["2024-03-31", "2024-03-31T14:05:00+02:00"],
            ["2024-03-31T00:00:00+00:00", "2024-03-31T12:05:00+00:00"],
        ),
        (
            "compact",
            ["20240331140509", "20240331"],
            ["2024-03-31T14:05:09+00:00", "2024-03-31T00:00:00+00:00"],
        ),
        (
            "us",
            ["03/31/2024", "3/1/2024 14:05", "12/01/2024 14:05:09"],
            ["2024-03-31T00:00:00+00:00", "2024-03-01T14:05:00+00:00", "2024-12-01T14:05:09+00:00"],
        ),
        (
            "eu",
            ["31/03/2024", "1.3.2024 14:05", "01.12.2024 14:05:09"],
            ["2024-03-31T00:00:00+00:00", "2024-03-01T14:05:00+00:00", "2024-12-01T14:05:09+00:00"],
        ),
        (
            "epoch",
            ["1711893900", "1711893900123"],
            ["2024-03-31T14:05:00+00:00", "2024-03-31T14:05:00.123000+00:00"],
        ),
        ("%d-%b-%Y %H.%M", ["31-Mar-2024 14.05"], ["2024-03-31T14:05:00+00:00"]),
    ],
)
def test_each_date_format(tmp_path: Path, fmt: str, values: list[str], expected: list[str]) -> None:
    load = dates_load(tmp_path, values, fmt)
    assert reasons(load) == []
    assert list(times(load).values()) == expected


@pytest.mark.parametrize(
    ("fmt", "value", "expected"),
    [
        ("compact", "2024-03-31", "yyyymmddhhmmss or yyyymmdd"),
        ("compact", "2024331", "yyyymmddhhmmss or yyyymmdd"),  # strptime would take it
        ("us", "31/03/2024", "mm/dd/yyyy with an optional hh:mm"),
        ("eu", "03/31/2024", "dd/mm/yyyy or dd.mm.yyyy"),
        ("epoch", "2024-03-31", "unix seconds"),
        ("iso", "31.03.2024", "ISO 8601"),
        ("%Y%m%d", "31.03.2024", "%Y%m%d"),
    ],
)
def test_a_value_not_in_the_configured_format_is_quarantined(
    tmp_path: Path, fmt: str, value: str, expected: str
) -> None:
    load = dates_load(tmp_path, [value], fmt)
    [(row, column, reason)] = reasons(load)
    assert (row, column) == (1, "LASTCHG")
    assert reason.startswith(
        f"last-modified '{value}' in column 'LASTCHG' does not fit "
        f'last_modified_format = "{fmt}" (expected {expected}'
    )


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        # ISO first; what is not ISO is read in the one format the column's values fit.
        (
            ["2024-03-31", "20240331140509"],
            ["2024-03-31T00:00:00+00:00", "2024-03-31T14:05:09+00:00"],
        ),
        (["20240331", "20240401"], ["2024-03-31T00:00:00+00:00", "2024-04-01T00:00:00+00:00"]),
        (["01.03.2024", "02.03.2024"], ["2024-03-01T00:00:00+00:00", "2024-03-02T00:00:00+00:00"]),
        # One day over 12 in the first place: every a/b/yyyy of the column is dd/mm/yyyy.
        (
            ["01/03/2024 14:05", "31/03/2024"],
            ["2024-03-01T14:05:00+00:00", "2024-03-31T00:00:00+00:00"],
        ),
        # ... in the second place: mm/dd/yyyy.
        (["01/03/2024", "03/31/2024"], ["2024-01-03T00:00:00+00:00", "2024-03-31T00:00:00+00:00"]),
        # dd.mm.yyyy is European: the slashed dates of the column are too.
        (["01.03.2024", "02/03/2024"], ["2024-03-01T00:00:00+00:00", "2024-03-02T00:00:00+00:00"]),
    ],
)
def test_the_date_format_is_detected_per_column(
    tmp_path: Path, values: list[str], expected: list[str]
) -> None:
    load = dates_load(tmp_path, values)
    assert reasons(load) == []
    assert list(times(load).values()) == expected


def test_ambiguous_dates_are_quarantined_not_guessed(tmp_path: Path) -> None:
    load = dates_load(tmp_path, ["2024-03-31", "01/03/2024", "02/03/2024"])
    assert times(load) == {"1": "2024-03-31T00:00:00+00:00"}
    assert reasons(load) == [
        (
            row,
            "LASTCHG",
            f"last-modified '{value}' in column 'LASTCHG' is ambiguous: no date of the column "
            "has a day over 12, so it may be mm/dd/yyyy or dd/mm/yyyy; set "
            'last_modified_format = "us" or "eu" for this source',
        )
        for row, value in [(2, "01/03/2024"), (3, "02/03/2024")]
    ]
    # Told which, the same column loads.
    us = dates_load(tmp_path, ["01/03/2024", "02/03/2024"], "us")
    assert list(times(us).values()) == ["2024-01-03T00:00:00+00:00", "2024-02-03T00:00:00+00:00"]


def test_dates_in_more_than_one_format_are_quarantined(tmp_path: Path) -> None:
    load = dates_load(tmp_path, ["20240331140509", "31/03/2024", "yesterday"])
    found = reasons(load)
    assert [row for row, _, _ in found] == [1, 2, 3]
    assert "come in more than one format (yyyymmdd[hhmmss] and dd/mm/yyyy)" in found[0][2]
    assert "set last_modified_format" in found[1][2]
    assert found[2][2].startswith("last-modified 'yesterday' is not a date")

    both = dates_load(tmp_path, ["13/01/2024", "01/13/2024"])
    assert [reason for _, _, reason in reasons(both)] == [
        f"last-modified '{value}' in column 'LASTCHG': the column's dates are written both "
        "mm/dd/yyyy (such as '01/13/2024') and dd/mm/yyyy (such as '13/01/2024'); set "
        "last_modified_format for this source"
        for value in ["13/01/2024", "01/13/2024"]
    ]


# ---- 4. an operation column ------------------------------------------------------------------

OPS_SOURCE = """
[[sources]]
name = "erp_customers"
system = "ERP"
entity = "account"
format = "csv"
path = "erp.csv"
key = "KUNNR"
mode = "delta"
last_modified = "LASTCHG"
last_modified_format = "%Y%m%d%H%M%S"
op_column = "op"
[sources.mapping]
name = "CUSTNAME"
phone = "TEL"
"""


def test_an_operation_column_deletes_a_record_in_a_delta(tmp_path: Path, store_url: str) -> None:
    header = "KUNNR,CUSTNAME,TEL,LASTCHG,op"
    rows = [
        f"{key},{name},{phone},20240301120000,{op}"
        for (key, name, phone), op in zip(map(company, range(3)), ["I", "insert", "U"], strict=True)
    ]
    directory = make_project(tmp_path, store_url, OPS_SOURCE, {"erp.csv": csv(header, rows)})
    pipeline.run(load_project(directory), export=False)
    golden_of = dict(query(store_url, "SELECT source_key, golden_id FROM xref"))
    assert sorted(golden_of) == ["K001", "K002", "K003"]

    key, name, phone = company(1)
    write_files(directory, {"erp.csv": csv(header, [f"{key},{name},{phone},20240302080000, d "])})
    summary = pipeline.run(load_project(directory), export=False)
    assert summary.sources[0].deleted == 1

    current = query(
        store_url,
        "SELECT source_key, deleted, version FROM source_record WHERE is_current ORDER BY 1",
    )
    assert [(k, bool(d), int(v)) for k, d, v in current] == [
        ("K001", False, 1),
        ("K002", True, 2),
        ("K003", False, 1),
    ]
    statuses = dict(query(store_url, "SELECT golden_id, status FROM golden_account"))
    assert statuses[golden_of["K002"]] == "retired"
    assert statuses[golden_of["K001"]] == statuses[golden_of["K003"]] == "active"
    assert sorted(k for (k,) in query(store_url, "SELECT source_key FROM xref")) == [
        "K001",
        "K003",
    ]


def test_operation_values_and_a_deleted_flag_together(tmp_path: Path) -> None:
    (tmp_path / "erp.csv").write_text(
        csv(
            "KUNNR,CUSTNAME,op,gone",
            [
                "1,A,I,false",
                "2,B,U,true",  # the flag says deleted
                "3,C,X,false",  # a configured delete value
                "4,D,x ,",
                "5,E,D,false",  # not a delete value here
                "6,F,,false",  # no operation: a live row
            ],
        )
    )
    load = read_source(
        spec(op_column="op", op_delete=["X"], deleted_flag="gone", mode="full"), tmp_path
    )
    assert reasons(load) == []
    assert dict(zip(load.records["source_key"], load.records["deleted"], strict=True)) == {
        "1": False,
        "2": True,
        "3": True,
        "4": True,
        "5": False,
        "6": False,
    }
    default = read_source(spec(op_column="op", mode="full"), tmp_path)
    assert default.records["deleted"].tolist() == [False, False, False, False, True, False]


# ---- 5. US ZIP codes restored ----------------------------------------------------------------

ZIP_SOURCES = """
[[sources]]
name = "{name}"
system = "ERP"
entity = "account"
format = "csv"
path = "{name}.csv"
key = "Id"
default_region = "{region}"
[sources.mapping]
name = "Name"
postcode = "Zip"
country = "Country"
"""


def test_us_zip_codes_are_padded_and_zip_plus_four_restored(tmp_path: Path, store_url: str) -> None:
    us = csv(
        "Id,Name,Zip,Country",
        [
            "1,Alder Anvils,6982,US",  # lost its leading zero in a number column
            "2,Birch Bakery,069821234,",  # ZIP+4 without its dash; no country: the source's US
            "3,Cedar Clocks,06982-1234,USA",
            "4,Dogwood Dyes,2100,DK",  # a Danish postcode stays
            "5,Elm Engines,501,US",
        ],
    )
    danish = csv("Id,Name,Zip,Country", ["1,Fir Foods,2100,"])  # no country: the source's DK
    sources = ZIP_SOURCES.format(name="erp", region="US") + ZIP_SOURCES.format(
        name="dk", region="DK"
    )
    directory = make_project(tmp_path, store_url, sources, {"erp.csv": us, "dk.csv": danish})
    pipeline.run(load_project(directory), export=False)

    golden = dict(
        query(
            store_url,
            "SELECT x.source || ':' || x.source_key, g.postcode FROM golden_account g "
            "JOIN xref x ON x.golden_id = g.golden_id",
        )
    )
    assert golden == {
        "erp:1": "06982",
        "erp:2": "06982-1234",
        "erp:3": "06982-1234",
        "erp:4": "2100",
        "erp:5": "00501",
        "dk:1": "2100",
    }
    keys = {
        f"{source}:{key}": values["postcode"]
        for source in ("erp", "dk")
        for key, values in current_keys(store_url, source).items()
    }
    assert keys == {
        "erp:1": "06982",
        "erp:2": "06982",
        "erp:3": "06982",
        "erp:4": "2100",
        "erp:5": "00501",
        "dk:1": "2100",
    }
    # The records keep the values as read.
    assert current_attributes(store_url, "erp")["1"]["postcode"] == "6982"


@pytest.mark.parametrize(
    ("raw", "region", "clean", "key"),
    [
        ("6982", "US", "06982", "06982"),
        ("6982.0", "US", "06982", "06982"),
        ("069821234", "US", "06982-1234", "06982"),
        ("06982-1234", "US", "06982-1234", "06982"),
        ("6982-1234", "US", "06982-1234", "06982"),
        ("94105", "US", "94105", "94105"),
        ("69821234", "US", "06982-1234", "06982"),  # a ZIP+4 as a number: its zero lost
        ("1234567", "US", "1234567", "1234567"),  # 7 digits: not a ZIP to restore
        ("6982", "DK", "6982", "6982"),
        ("2100", "DE", "2100", "2100"),
        ("SW1A1AA", "GB", "SW1A 1AA", "SW1A1AA"),
    ],
)
def test_postcode_forms_by_region(raw: str, region: str, clean: str, key: str) -> None:
    values = pd.Series([raw], dtype="string")
    assert clean_values(Kind.POSTCODE, values, region).tolist() == [clean]
    assert match_values(Kind.POSTCODE, values, region).tolist() == [key]


def test_a_record_without_a_country_reads_its_postcode_in_the_source_region() -> None:
    from mdm.standardize import clean_frame

    frame = pd.DataFrame(
        {"postcode": ["6982", "6982", "6982"], "country": ["US", None, "DK"]}, dtype="string"
    )
    regions = pd.Series(["DK", "US", "US"])
    assert clean_frame(Entity.ACCOUNT, frame, regions)["postcode"].tolist() == [
        "06982",
        "06982",
        "6982",
    ]


# ---- 6. a load stopped when most rows are quarantined for one reason -------------------------

ERP_SOURCE = """
[[sources]]
name = "erp_customers"
system = "ERP"
entity = "account"
format = "csv"
path = "erp.csv"
key = "KUNNR"
last_modified = "LASTCHG"
{extra}
[sources.mapping]
name = "CUSTNAME"
phone = "TEL"
"""


def erp_extract(dates: list[str]) -> str:
    return csv(
        "KUNNR,CUSTNAME,TEL,LASTCHG",
        [",".join([*company(n), date]) for n, date in enumerate(dates)],
    )


def test_a_load_mostly_quarantined_for_one_reason_stops_and_changes_nothing(
    tmp_path: Path, store_url: str
) -> None:
    directory = make_project(
        tmp_path,
        store_url,
        ERP_SOURCE.format(extra=""),
        {"erp.csv": erp_extract(["2024-03-01"] * 24)},
    )
    code, output = mdm("run", "-p", str(directory))
    assert code == 0, output
    before = store_state(store_url)

    # The ERP's next extract has its dates as yyyymmdd-hhmm: not a date mdm can read.
    dates = ["20240302-0800"] * 13 + ["2024-03-02"] * 11
    write_files(directory, {"erp.csv": erp_extract(dates)})
    for command in ("run", "ingest"):
        code, output = mdm(command, "-p", str(directory))
        assert code == 2, output
        assert (
            "erp.csv (source 'erp_customers', column 'LASTCHG'): 13 of 24 rows (54.2%) have a "
            "last-modified value that is not a date in the expected format, more than "
            "max_quarantine_share = 0.5 allows (50%); for example row 1 (LASTCHG = "
            "'20240302-0800'): last-modified '20240302-0800' is not a date"
        ) in output
        assert "set last_modified_format for this source in mdm.toml" in output
        assert "or raise max_quarantine_share" in output
        assert store_state(store_url) == before

    # At the share, the rows are quarantined and the rest loads.
    write_files(directory, {"erp.csv": erp_extract(["20240302-0800"] * 12 + ["2024-03-02"] * 12)})
    code, output = mdm("run", "-p", str(directory))
    assert code == 0, output
    assert len(query(store_url, "SELECT row_number FROM quarantine")) == 12


def test_the_share_is_per_source_and_configurable(tmp_path: Path, store_url: str) -> None:
    dates = ["20240302-0800"] * 20 + ["2024-03-02"] * 4
    directory = make_project(
        tmp_path,
        store_url,
        ERP_SOURCE.format(extra="max_quarantine_share = 0.9"),
        {"erp.csv": erp_extract(dates)},
    )
    code, output = mdm("run", "-p", str(directory))
    assert code == 0, output
    assert len(query(store_url, "SELECT row_number FROM quarantine")) == 20


def test_a_small_load_is_not_stopped(tmp_path: Path) -> None:
    (tmp_path / "erp.csv").write_text(erp_extract(["bad"] * (MIN_ROWS_FOR_SHARE - 1)))
    load = read_source(spec(last_modified="LASTCHG"), tmp_path)
    assert load.rows_quarantined == MIN_ROWS_FOR_SHARE - 1
    assert quarantine_share_problems(load) == []


@pytest.mark.parametrize(
    ("header", "row", "fields", "where", "what", "fix"),
    [
        (
            "KUNNR,CUSTNAME,TEL,LASTCHG",
            "{key},{name},{phone},2024-03-01,extra",
            {},
            "(source 'erp_customers')",
            "have another number of fields than the header",
            "check delimiter and encoding",
        ),
        (
            "KUNNR,CUSTNAME,TEL,LASTCHG",
            "1,{name},{phone},2024-03-01",
            {},
            "(source 'erp_customers', column 'KUNNR')",
            "repeat a key",
            "check key = in mdm.toml",
        ),
        (
            "KUNNR,CUSTNAME,TEL,LASTCHG",
            "{key},Caf\udce9 {name},{phone},2024-03-01",
            {},
            "(source 'erp_customers', column 'CUSTNAME')",
            "hold bytes the encoding cannot decode",
            "set encoding for this source",
        ),
        (
            "KUNNR,CUSTNAME,TEL,LASTCHG,gone",
            "{key},{name},{phone},2024-03-01,deleted",
            {"deleted_flag": "gone"},
            "(source 'erp_customers', column 'gone')",
            "have a deleted flag that is not true/false",
            "check deleted_flag =",
        ),
        (
            "KUNNR,CUSTNAME,TEL,LASTCHG",
            "{key},{name},{phone},03/0{day}/2024",
            {},
            "(source 'erp_customers', column 'LASTCHG')",
            "have a last-modified date that may be mm/dd or dd/mm",
            'set last_modified_format = "us" or "eu"',
        ),
    ],
)
def test_each_reason_names_its_fix(
    tmp_path: Path,
    header: str,
    row: str,
    fields: dict[str, str],
    where: str,
    what: str,
    fix: str,
) -> None:
    lines = [
        row.format(key=key, name=name, phone=phone, day=n % 9 + 1)
        for n, (key, name, phone) in enumerate(map(company, range(24)))
    ]
    data = csv(header, lines).encode("utf-8", errors="surrogateescape")
    (tmp_path / "erp.csv").write_bytes(data)
    load = read_source(
        spec(last_modified="LASTCHG", mapping={"name": "CUSTNAME"}, **fields), tmp_path
    )
    [problem] = quarantine_share_problems(load)
    assert problem.where == f"erp.csv {where}"
    assert problem.message.startswith(f"24 of 24 rows (100%) {what}")
    assert problem.hint.startswith(fix)


# ---- 7. every new key checked when the project loads -----------------------------------------

TYPO_SOURCE = """
[[sources]]
name = "erp_customers"
system = "ERP"
entity = "{entity}"
format = "csv"
path = "erp.csv"
key = "KUNNR"
last_modified = "LASTCHG"
{extra}
[sources.mapping]
{mapping}
"""


@pytest.mark.parametrize(
    ("extra", "mapping", "entity", "key", "message"),
    [
        (
            'last_modified_format = "isoo"',
            'name = "CUSTNAME"',
            "account",
            "last_modified_format",
            '\'isoo\' is neither a named format ("iso", "compact", "us", "eu", "epoch") '
            'nor a strftime pattern such as "%Y%m%d%H%M%S"; did you mean "iso"?',
        ),
        (
            'last_modified_format = "%H:%M"',
            'name = "CUSTNAME"',
            "account",
            "last_modified_format",
            "the strftime pattern '%H:%M' has no date directive (such as %Y, %m, %d)",
        ),
        (
            'last_modified_format = "%Y-%Q"',
            'name = "CUSTNAME"',
            "account",
            "last_modified_format",
            "the strftime pattern '%Y-%Q' has directives strptime does not know: %Q",
        ),
        (
            'op_delete = ["D"]',
            'name = "CUSTNAME"',
            "account",
            "op_delete",
            "op_delete says which values of op_column delete: set op_column",
        ),
        (
            'op_column = "KUNNR"',
            'name = "CUSTNAME"',
            "account",
            "op_column",
            "'KUNNR' is the key column; the operation is another column",
        ),
        (
            'op_column = "op"\nop_delete = []',
            'name = "CUSTNAME"',
            "account",
            "op_delete",
            "list the values of op_column that mean a deletion",
        ),
        (
            "max_quarantine_share = 1.5",
            'name = "CUSTNAME"',
            "account",
            "max_quarantine_share",
            "Input should be less than or equal to 1",
        ),
        (
            'op_colum = "op"',
            'name = "CUSTNAME"',
            "account",
            "op_colum",
            "Extra inputs are not permitted (unknown key: check its spelling against the README)",
        ),
        (
            "",
            "name = []",
            "account",
            "mapping.name",
            "an empty list maps no column: name one column, or several to join",
        ),
        (
            "",
            'street = ["STREET1", "STREET2", "STREET1"]',
            "account",
            "mapping.street",
            "the list names 'STREET1' more than once; name each column once",
        ),
        (
            "",
            'name = "CUSTNAME"\nfull_name = "FULLNAME"',
            "account",
            "mapping",
            "'full_name' is a contact attribute (a person's whole name); an account source maps "
            "its organisation's name to 'name'",
        ),
        (
            "",
            "first_name = 3",
            "contact",
            "mapping.first_name",
            "map a column name, or a list of column names to join",
        ),
    ],
)
def test_a_typo_in_a_new_key_is_reported_with_file_and_key(
    tmp_path: Path, extra: str, mapping: str, entity: str, key: str, message: str
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    source = TYPO_SOURCE.format(extra=extra, mapping=mapping, entity=entity)
    directory = make_project(tmp_path, url, source, {})
    with pytest.raises(MdmError) as raised:
        load_project(directory)
    text = str(raised.value)
    assert f"{directory / 'mdm.toml'}: sources[0] (erp_customers).{key}: {message}" in text


def test_a_format_needs_its_column(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="a format without 'last_modified'"):
        spec(last_modified_format="eu")


def test_the_new_keys_load(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    extra = (
        'last_modified_format = "%Y%m%d%H%M%S"\nop_column = "op"\nop_delete = ["D", "X"]\n'
        "max_quarantine_share = 0.25"
    )
    mapping = 'name = ["CUSTNAME", "CUSTNAME2"]\nstreet = ["STREET1", "STREET2"]'
    source = TYPO_SOURCE.format(extra=extra, mapping=mapping, entity="account")
    loaded = load_project(make_project(tmp_path, url, source, {})).spec.sources[0]
    assert loaded.mapped_columns("name") == ["CUSTNAME", "CUSTNAME2"]
    assert loaded.op_delete_values == frozenset({"d", "x"})
    assert loaded.max_quarantine_share == 0.25
    assert "op" in loaded.source_columns


def test_the_readme_examples_are_valid_project_files() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## A project\n", 1)[1].split("\n### Match rules", 1)[0]
    examples = re.findall(r"```toml\n(.*?)```", section, flags=re.DOTALL)
    assert len(examples) == 2
    crm_accounts, crm_contacts = ProjectSpec.model_validate(tomllib.loads(examples[0])).sources
    assert crm_accounts.mapped_columns("street") == ["BillingStreet", "BillingStreet2"]
    assert crm_contacts.mapped_columns("full_name") == ["display_name"]
    [erp] = ProjectSpec.model_validate(tomllib.loads(examples[1])).sources
    assert erp.mapped_columns("name") == ["CUSTNAME", "CUSTNAME2"]
    assert (erp.op_column, erp.op_delete_values) == ("op", frozenset({"d"}))
