"""Nothing lost, identity: an unmerge gives each id back the records it named; a cluster formed
in one run can be split by naming records; a key that comes back gets its golden id back; a pin
is standardized and validated like a source value. Each through the real command, on SQLite
and PostgreSQL, asserting what the store holds afterwards."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from invariants_helper import assert_store_invariants
from typer.testing import CliRunner, Result

from mdm import cli
from mdm.config import load_project
from mdm.identity import IdentityResult, assign_golden_ids
from mdm.project_files import DEFAULT_RULES
from mdm.schema import Entity
from mdm.store import open_store

PROJECT = """
[store]
url = "{url}"

[[sources]]
name = "crm"
system = "CRM"
entity = "account"
format = "csv"
path = "crm.csv"
key = "Id"
last_modified = "Modified"
mode = "{mode}"
{deleted_flag}

[sources.mapping]
name = "Name"
phone = "Phone"
postcode = "Zip"
country = "Country"
"""

RULES = """
method = "rules"

[[rules]]
name = "same_name_and_postcode"
fields = ["name", "postcode"]
"""

HEADER = "Id,Name,Phone,Zip,Country,Modified,Deleted\n"

# Every table a steward action or a run could write to: compared whole to show that a refused
# action left the store as it was.
TABLES = (
    "run",
    "source_record",
    "golden_account",
    "xref",
    "redirect",
    "lineage",
    "golden_event",
    "golden_version",
    "membership",
    "match_decision",
    "review_item",
    "value_pin",
    "audit_log",
)


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Messages on one line each, so that a phrase is found whole."""
    monkeypatch.setattr(cli.console, "width", 400)
    monkeypatch.setattr(cli.errors, "width", 400)


def make_project(tmp_path: Path, store_url: str, mode: str = "full") -> Path:
    root = tmp_path / "p"
    root.mkdir()
    deleted_flag = 'deleted_flag = "Deleted"' if mode == "delta" else ""
    (root / "mdm.toml").write_text(
        PROJECT.format(url=store_url, mode=mode, deleted_flag=deleted_flag)
    )
    shutil.copytree(DEFAULT_RULES, root / "rules")
    (root / "rules" / "match" / "account.toml").write_text(RULES)
    return root


def extract(root: Path, *rows: str) -> None:
    """The source's next extract: rows of Id,Name,Phone,Zip,Country,Modified,Deleted."""
    (root / "crm.csv").write_text(HEADER + "".join(f"{row}\n" for row in rows))


def mdm(*args: str | Path) -> Result:
    return CliRunner().invoke(cli.app, [str(arg) for arg in args])


def ok(*args: str | Path) -> Result:
    result = mdm(*args)
    assert result.exit_code == 0, result.output
    return result


def refused(*args: str | Path) -> str:
    """The one-paragraph message of a command that must fail with exit code 2."""
    result = mdm(*args)
    assert result.exit_code == 2, result.output
    return " ".join(result.output.split())


def rows(root: Path, sql: str) -> list[tuple[Any, ...]]:
    store = open_store(load_project(root).store_url)
    try:
        with store.transaction() as connection:
            return [tuple(row) for row in connection.exec_driver_sql(sql).fetchall()]
    finally:
        store.close()


def dump(root: Path) -> dict[str, list[str]]:
    """Every row of every table, as text: the store's whole state."""
    return {table: sorted(map(repr, rows(root, f"select * from {table}"))) for table in TABLES}


@dataclass(frozen=True)
class Identity:
    """Who is who in the store: the golden id of each key, each id's status and size, the
    redirects."""

    xref: dict[str, str]
    golden: dict[str, tuple[str, int]]
    redirects: dict[str, str]


def identity(root: Path) -> Identity:
    return Identity(
        xref=dict(rows(root, "select source_key, golden_id from xref")),
        golden={
            golden_id: (status, int(members))
            for golden_id, status, members in rows(
                root, "select golden_id, status, members from golden_account"
            )
        },
        redirects=dict(rows(root, "select from_id, to_id from redirect")),
    )


def events(root: Path, golden_id: str) -> list[tuple[str, str | None]]:
    return [
        (str(event), other)
        for event, other in rows(
            root,
            f"select event, other_id from golden_event where golden_id = '{golden_id}' order by id",
        )
    ]


def decisions(root: Path) -> list[tuple[str, str, str, bool]]:
    found = rows(
        root,
        "select left_source, left_key, right_source, right_key, decision, active "
        "from match_decision order by id",
    )
    return [(f"{ls}:{lk}", f"{rs}:{rk}", str(d), bool(a)) for ls, lk, rs, rk, d, a in found]


def audit(root: Path) -> list[tuple[str, str, str, dict[str, Any]]]:
    """The audit rows without the golden records' state before and after each action (its
    own tests check those)."""
    found = rows(root, "select actor, action, target, detail from audit_log order by id")
    return [
        (actor, action, target, without_states(json.loads(detail)))
        for actor, action, target, detail in found
    ]


def without_states(detail: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in detail.items() if key not in ("before", "after")}


def pins(root: Path) -> list[tuple[str, str, str, bool]]:
    return [
        (golden_id, attribute, value, bool(active))
        for golden_id, attribute, value, active in rows(
            root, "select golden_id, attribute, value, active from value_pin order by id"
        )
    ]


def golden_value(root: Path, golden_id: str, attribute: str) -> str | None:
    [(value,)] = rows(
        root, f"select {attribute} from golden_account where golden_id = '{golden_id}'"
    )
    return None if value is None else str(value)


def split_by_id(xref: dict[str, str]) -> dict[str, list[str]]:
    """golden id -> its keys, sorted."""
    by_id: dict[str, list[str]] = {}
    for key, golden_id in sorted(xref.items()):
        by_id.setdefault(golden_id, []).append(key)
    return by_id


def check(root: Path) -> None:
    """Every store invariant holds (``mdm check``)."""
    assert_store_invariants(load_project(root))


def assert_kept(root: Path, after: Identity, nightly: list[str]) -> None:
    """The next nightly run (``nightly``: its extract, which changes every record) and a full
    recompute keep every id on its records."""
    check(root)
    extract(root, *nightly)
    ok("run", "-p", root)
    assert identity(root) == after
    ok("run", "--full", "-p", root)
    assert identity(root) == after
    check(root)


# ---- an unmerge gives each id back the records it named ---------------------------------------


def test_an_unmerge_after_a_tie_gives_each_id_back_its_own_record(
    tmp_path: Path, store_url: str
) -> None:
    root = make_project(tmp_path, store_url)
    extract(root, "2,Acme Inc,(415) 555-0102,94105,US,2024-01-02,", "3,Globex LLC,,10001,US,,")
    ok("run", "-p", root)
    before = identity(root)
    # The situation of the report: both golden records were made in one run, so the merge
    # keeps the smaller id, crm:3's; the merged-away one's record, crm:2, is the first record.
    x, y = before.xref["3"], before.xref["2"]
    assert x < y

    ok("decide", "crm:2", "crm:3", "--same", "-p", root)
    assert identity(root) == Identity(
        {"2": x, "3": x}, {x: ("active", 2), y: ("merged", 1)}, {y: x}
    )

    result = ok("unmerge", y, "-p", root, "--by", "ana")
    assert f"{y} is separated again from {x}." in result.output
    after = identity(root)
    assert after == Identity({"2": y, "3": x}, {x: ("active", 1), y: ("active", 1)}, {})
    assert events(root, y) == [("created", None), ("merged", x), ("revived", None)]
    assert events(root, x) == [("created", None), ("updated", None), ("updated", None)]
    # The must-link that made the merge is withdrawn; a cannot-link keeps them apart.
    assert decisions(root) == [
        ("crm:2", "crm:3", "must_link", False),
        ("crm:2", "crm:3", "cannot_link", True),
    ]
    assert audit(root)[-1] == (
        "ana",
        "unmerge",
        y,
        {"survivor": x, "records": ["crm:2"], "withdrawn": ["crm:2 crm:3"], "reason": None},
    )
    assert ok("resolve", y, "-p", root).output.strip() == f"{y} (active)"
    assert_kept(
        root,
        after,
        ["2,Acme Inc,(415) 555-0122,94105,US,2024-02-02,", "3,Globex LLC,,10001,US,2024-02-03,"],
    )


@pytest.mark.parametrize(
    ("survivor_keys", "merged_keys"),
    [(["1"], ["2", "3", "4"]), (["1", "2", "3"], ["4"])],
    ids=["merged-away-had-more", "survivor-had-more"],
)
def test_an_unmerge_gives_each_id_back_its_records_whichever_side_is_larger(
    tmp_path: Path, store_url: str, survivor_keys: list[str], merged_keys: list[str]
) -> None:
    root = make_project(tmp_path, store_url)
    acme = [f"{key},Acme Inc,,94105,US,2024-01-01," for key in survivor_keys]
    globex = [f"{key},Globex LLC,,10001,US,2024-01-01," for key in merged_keys]
    extract(root, *acme)
    ok("run", "-p", root)
    extract(root, *acme, *globex)
    ok("run", "-p", root)  # Globex's golden record is younger: a merge keeps Acme's id
    before = identity(root)
    x, y = before.xref[survivor_keys[0]], before.xref[merged_keys[0]]
    sizes = {x: ("active", len(survivor_keys)), y: ("active", len(merged_keys))}
    assert before == Identity(before.xref, sizes, {})
    assert split_by_id(before.xref) == {x: survivor_keys, y: merged_keys}

    # A must-link inside the larger side stays; the one across the sides goes with the unmerge.
    larger = max(survivor_keys, merged_keys, key=len)
    inside = (f"crm:{larger[0]}", f"crm:{larger[1]}", "must_link", True)
    ok("decide", inside[0], inside[1], "--same", "-p", root)
    ok("decide", f"crm:{survivor_keys[0]}", f"crm:{merged_keys[0]}", "--same", "-p", root)
    merged = identity(root)
    assert set(merged.xref.values()) == {x} and merged.redirects == {y: x}

    ok("unmerge", y, "-p", root)
    after = identity(root)
    assert after == before
    assert events(root, y) == [("created", None), ("merged", x), ("revived", None)]
    cannot = [
        (f"crm:{a}", f"crm:{b}", "cannot_link", True) for a in merged_keys for b in survivor_keys
    ]
    must = (f"crm:{survivor_keys[0]}", f"crm:{merged_keys[0]}", "must_link", False)
    assert sorted(decisions(root)) == sorted([inside, must, *cannot])
    assert_kept(
        root,
        after,
        [
            *(f"{key},Acme Inc,(415) 555-01{key}0,94105,US,2024-03-01," for key in survivor_keys),
            *(f"{key},Globex LLC,(212) 555-01{key}0,10001,US,2024-03-01," for key in merged_keys),
        ],
    )


# ---- a cluster formed in one run is split by naming records ------------------------------------

ONE_RUN = [
    "1,Acme Inc,(415) 555-0101,94105,US,2024-01-01,",
    "2,Acme Inc,(415) 555-0102,94105,US,2024-01-02,",
    "3,Acme Inc,(415) 555-0103,94105,US,2024-01-03,",
    "4,Globex LLC,(212) 555-0104,10001,US,2024-01-04,",
]


def test_a_cluster_formed_in_one_run_is_split_by_naming_records(
    tmp_path: Path, store_url: str
) -> None:
    root = make_project(tmp_path, store_url)
    extract(root, *ONE_RUN)
    ok("run", "-p", root)
    before = identity(root)
    acme, globex = before.xref["1"], before.xref["4"]
    assert split_by_id(before.xref) == {acme: ["1", "2", "3"], globex: ["4"]}

    # The named records leave, even though they are more: the id stays with crm:1.
    result = ok(
        "unmerge", acme, "--records", "crm:2", "-r", "crm:3", "-p", root, "--by", "ana",
        "--reason", "two shops at one address",
    )  # fmt: skip
    after = identity(root)
    [new] = set(after.xref.values()) - {acme, globex}
    assert after == Identity(
        {"1": acme, "2": new, "3": new, "4": globex},
        {acme: ("active", 1), new: ("active", 2), globex: ("active", 1)},
        {},
    )
    assert f"crm:2, crm:3 split out of {acme} into {new}" in " ".join(result.output.split())
    assert events(root, new) == [("created", acme)]
    assert events(root, acme) == [("created", None), ("split", new), ("updated", None)]
    assert decisions(root) == [
        ("crm:2", "crm:1", "cannot_link", True),
        ("crm:3", "crm:1", "cannot_link", True),
    ]
    assert audit(root) == [
        (
            "ana",
            "split",
            acme,
            {"records": ["crm:2", "crm:3"], "withdrawn": [], "reason": "two shops at one address"},
        )
    ]
    assert_kept(
        root,
        after,
        [row.replace("2024-01", "2024-05").replace("555-01", "555-02") for row in ONE_RUN],
    )


def test_unmerge_of_an_id_never_merged_says_how_to_split_it(tmp_path: Path, store_url: str) -> None:
    root = make_project(tmp_path, store_url)
    extract(root, *ONE_RUN)
    ok("run", "-p", root)
    acme = identity(root).xref["1"]
    before = dump(root)
    message = refused("unmerge", acme, "-p", root)
    assert f"{acme} was not merged into another record, so there is no merge to undo." in message
    assert f"'mdm unmerge {acme} --records SOURCE:KEY [--records SOURCE:KEY ...]'" in message
    assert "Its records: crm:1, crm:2, crm:3." in message
    assert dump(root) == before


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        (["crm:9"], "crm:9: no live record has this key (deleted, or never loaded)"),
        (["crm:2", "crm:4"], "crm:4: belongs to {globex}"),
        (["crm:1", "crm:2", "crm:3"], "crm:1, crm:2, crm:3 are every record of {acme}"),
        (["crm_x:2"], "No source 'crm_x'; sources: crm."),
        (["crm2"], "'crm2' is not a record reference: write SOURCE:KEY."),
    ],
    ids=["unknown-key", "record-of-another-id", "every-record", "unknown-source", "not-a-ref"],
)
def test_a_split_that_cannot_be_done_is_refused_and_writes_nothing(
    tmp_path: Path, store_url: str, records: list[str], expected: str
) -> None:
    root = make_project(tmp_path, store_url)
    extract(root, *ONE_RUN)
    ok("run", "-p", root)
    acme, globex = identity(root).xref["1"], identity(root).xref["4"]
    before = dump(root)
    named = [arg for record in records for arg in ("--records", record)]
    message = refused("unmerge", acme, *named, "-p", root)
    assert expected.format(acme=acme, globex=globex) in message
    assert dump(root) == before


@pytest.mark.parametrize("records", [[], ["--records", "crm:1"]], ids=["unmerge", "split"])
def test_an_unknown_golden_id_is_refused(
    tmp_path: Path, store_url: str, records: list[str]
) -> None:
    root = make_project(tmp_path, store_url)
    extract(root, *ONE_RUN)
    ok("run", "-p", root)
    before = dump(root)
    message = refused("unmerge", "A-000000000000", *records, "-p", root)
    assert "A-000000000000 is not a golden account of this store." in message
    assert dump(root) == before


# ---- a key that comes back gets its golden id back ---------------------------------------------

# A full extract of eleven accounts: dropping one is under a tenth of them.
ELEVEN = [f"{key},Company {key} Inc,,{94100 + key},US,2024-01-01,false" for key in range(1, 12)]


def without(extract_rows: list[str], key: str) -> list[str]:
    return [row for row in extract_rows if not row.startswith(f"{key},")]


@pytest.mark.parametrize("mode", ["delta", "full"])
def test_a_key_that_comes_back_gets_its_golden_id_back(
    tmp_path: Path, store_url: str, mode: str
) -> None:
    root = make_project(tmp_path, store_url, mode)
    extract(root, *ELEVEN)
    ok("run", "-p", root)
    before = identity(root)
    gone = before.xref["5"]

    # Deleted: flagged in a delta, absent from a full extract.
    if mode == "delta":
        extract(root, "5,Company 5 Inc,,94105,US,2024-02-01,true")
    else:
        extract(root, *without(ELEVEN, "5"))
    ok("run", "-p", root)
    retired = identity(root)
    assert "5" not in retired.xref and retired.golden[gone][0] == "retired"

    # Back, live: the same id again, active, no redirect.
    back = "5,Company 5 Inc,(415) 555-0105,94105,US,2024-03-01,false"
    extract(root, *([back] if mode == "delta" else [*without(ELEVEN, "5"), back]))
    ok("run", "-p", root)
    after = identity(root)
    assert after == before
    assert events(root, gone) == [("created", None), ("retired", None), ("revived", None)]
    assert ok("resolve", gone, "-p", root).output.strip() == f"{gone} (active)"
    ok("run", "--full", "-p", root)
    assert identity(root) == after
    check(root)


def test_a_key_that_comes_back_into_another_golden_record_redirects_its_old_id(
    tmp_path: Path, store_url: str
) -> None:
    root = make_project(tmp_path, store_url, "delta")
    extract(root, "1,Acme Inc,,94105,US,2024-01-01,false", "2,Globex LLC,,10001,US,2024-01-01,")
    ok("run", "-p", root)
    before = identity(root)
    acme, globex = before.xref["1"], before.xref["2"]
    extract(root, "1,Acme Inc,,94105,US,2024-02-01,true")
    ok("run", "-p", root)
    assert identity(root).golden[acme] == ("retired", 1)

    # It comes back as a record of Globex: it joins Globex's golden record, and its old id
    # answers for it there.
    extract(root, "1,Globex LLC,,10001,US,2024-03-01,false")
    ok("run", "-p", root)
    after = identity(root)
    assert after == Identity(
        {"1": globex, "2": globex}, {acme: ("merged", 1), globex: ("active", 2)}, {acme: globex}
    )
    assert events(root, acme) == [("created", None), ("retired", None), ("merged", globex)]
    assert ok("resolve", acme, "-p", root).output.strip() == f"{globex} (active)"
    ok("run", "--full", "-p", root)
    assert identity(root) == after
    check(root)


# ---- a pin is standardized and validated like a source value -----------------------------------

TWO_COUNTRIES = [
    "1,Acme Inc,(415) 555-0101,94105,US,2024-01-01,",
    "2,Globex GmbH,030 1234567,10115,DE,2024-01-02,",
]


def test_a_pin_is_standardized_like_a_source_value(tmp_path: Path, store_url: str) -> None:
    root = make_project(tmp_path, store_url)
    extract(root, *TWO_COUNTRIES)
    ok("run", "-p", root)
    acme, globex = identity(root).xref["1"], identity(root).xref["2"]

    result = ok("pin", acme, "phone", "(212) 555-0123", "-p", root, "--by", "ana")
    assert f"{acme}.phone is pinned to '+12125550123' (given as '(212) 555-0123')." in (
        " ".join(result.output.split())
    )
    # A number without a country code is dialled from the golden record's country.
    ok("pin", globex, "phone", "030 7654321", "-p", root, "--by", "ana")
    ok("pin", globex, "country", "Deutschland", "-p", root, "--by", "ana")
    assert pins(root) == [
        (acme, "phone", "+12125550123", True),
        (globex, "phone", "+49307654321", True),
        (globex, "country", "DE", True),
    ]
    assert golden_value(root, acme, "phone") == "+12125550123"
    assert golden_value(root, globex, "phone") == "+49307654321"
    assert audit(root) == [
        ("ana", "pin", f"{acme}.phone", {"value": "+12125550123", "given": "(212) 555-0123"}),
        ("ana", "pin", f"{globex}.phone", {"value": "+49307654321", "given": "030 7654321"}),
        ("ana", "pin", f"{globex}.country", {"value": "DE", "given": "Deutschland"}),
    ]
    check(root)


@pytest.mark.parametrize(
    ("attribute", "value", "why"),
    [
        ("phone", "not a phone", "it is not a valid phone number (a number without a country "
         "code is read as a US number)"),
        ("phone", "555-0101", "it is not a valid phone number"),
        ("country", "Atlantis", "it is not a country name or ISO 3166 code"),
        ("domain", "not a domain", "it is not a website or domain with a registrable domain"),
        ("tax_id", "DE136695977", "it is not a VAT number or tax number with a valid format "
         "and check digits (a number without a country prefix is read as a US number)"),
        ("phone", "   ", "a pin needs a value"),
    ],
)  # fmt: skip
def test_an_invalid_pin_is_refused_and_writes_nothing(
    tmp_path: Path, store_url: str, attribute: str, value: str, why: str
) -> None:
    root = make_project(tmp_path, store_url)
    extract(root, *TWO_COUNTRIES)
    ok("run", "-p", root)
    acme = identity(root).xref["1"]
    before = dump(root)
    message = refused("pin", acme, attribute, value, "-p", root)
    assert f"{acme}.{attribute}:" in message
    assert why in message
    if value.strip():
        assert f"{value!r} is refused" in message
        assert "add --force to pin this value exactly as given" in message
    assert dump(root) == before


def test_force_pins_a_value_exactly_as_given_and_says_so_in_the_audit_log(
    tmp_path: Path, store_url: str
) -> None:
    root = make_project(tmp_path, store_url)
    extract(root, *TWO_COUNTRIES)
    ok("run", "-p", root)
    acme = identity(root).xref["1"]
    result = ok("pin", acme, "phone", "ask for Ann", "--force", "-p", root, "--by", "ana")
    assert f"{acme}.phone is pinned to 'ask for Ann', exactly as given (forced)." in (
        " ".join(result.output.split())
    )
    assert pins(root) == [(acme, "phone", "ask for Ann", True)]
    assert golden_value(root, acme, "phone") == "ask for Ann"
    assert rows(
        root, f"select rule from lineage where golden_id = '{acme}' and attribute = 'phone'"
    ) == [("steward_pin",)]
    assert audit(root) == [
        ("ana", "pin", f"{acme}.phone", {"value": "ask for Ann", "forced": True})
    ]
    check(root)


# ---- the identity rules, as plain data ---------------------------------------------------------


def frame(columns: str, *data: tuple[Any, ...]) -> pd.DataFrame:
    return pd.DataFrame(list(data), columns=columns.split())


def assign(
    members: pd.DataFrame,
    previous: pd.DataFrame,
    former: pd.DataFrame | None = None,
    leaving: pd.DataFrame | None = None,
    age: dict[str, float] | None = None,
) -> IdentityResult:
    return assign_golden_ids(
        Entity.ACCOUNT,
        members,
        previous,
        pd.Series(age or {}, dtype="float64"),
        {"A-x", "A-y", "A-z", "A-old", "A-older"},
        former=former,
        leaving=leaving,
    )


NOBODY = frame("source source_key golden_id")


def test_records_a_steward_took_out_do_not_hold_their_id() -> None:
    # crm:b (the first cluster) leaves A-x, which stays with crm:a although the two parts tie.
    members = frame("source source_key label", ("crm", "b", 0), ("crm", "a", 1))
    previous = frame("source source_key golden_id", ("crm", "a", "A-x"), ("crm", "b", "A-x"))
    leaving = frame("source source_key golden_id", ("crm", "b", "A-x"))
    split = assign(members, previous, leaving=leaving, age={"A-x": 1})
    [new] = split.created
    assert split.golden_ids.tolist() == [new, "A-x"]
    assert split.split_from == {new: "A-x"} and split.revived == [] and split.retired == []
    # Had it been merged into A-x from A-y, it takes A-y back.
    former = frame("source source_key golden_id status", ("crm", "b", "A-y", "merged"))
    undone = assign(members, previous, former, leaving, age={"A-x": 1, "A-y": 1})
    assert undone.golden_ids.tolist() == ["A-y", "A-x"]
    assert undone.revived == ["A-y"] and undone.created == [] and undone.redirects.empty


def test_a_returning_record_takes_back_its_retired_id() -> None:
    members = frame("source source_key label", ("crm", "5", 0))
    former = frame("source source_key golden_id status", ("crm", "5", "A-old", "retired"))
    result = assign(members, NOBODY, former)
    assert result.golden_ids.tolist() == ["A-old"]
    assert result.revived == ["A-old"] and result.created == [] and result.redirects.empty


def test_a_record_returning_into_another_golden_record_redirects_its_retired_id() -> None:
    members = frame("source source_key label", ("crm", "1", 0), ("crm", "2", 0))
    previous = frame("source source_key golden_id", ("crm", "2", "A-z"))
    former = frame("source source_key golden_id status", ("crm", "1", "A-old", "retired"))
    result = assign(members, previous, former, age={"A-z": 2, "A-old": 1})
    assert result.golden_ids.tolist() == ["A-z", "A-z"]
    assert result.redirects.to_dict("records") == [{"from_id": "A-old", "to_id": "A-z"}]
    assert result.revived == [] and result.created == []


def test_a_cluster_of_returning_records_takes_the_older_of_their_ids() -> None:
    members = frame("source source_key label", ("crm", "1", 0), ("crm", "2", 0), ("crm", "3", 0))
    former = frame(
        "source source_key golden_id status",
        ("crm", "1", "A-old", "retired"),
        ("crm", "2", "A-older", "retired"),
    )
    result = assign(members, NOBODY, former, age={"A-old": 5, "A-older": 2})
    assert result.golden_ids.tolist() == ["A-older"] * 3
    assert result.revived == ["A-older"]
    assert result.redirects.to_dict("records") == [{"from_id": "A-old", "to_id": "A-older"}]


def test_an_id_still_in_use_is_never_claimed() -> None:
    members = frame("source source_key label", ("crm", "1", 0), ("crm", "2", 1))
    previous = frame("source source_key golden_id", ("crm", "2", "A-x"))
    former = frame("source source_key golden_id status", ("crm", "1", "A-x", "active"))
    result = assign(members, previous, former, age={"A-x": 1})
    [new] = result.created
    assert result.golden_ids.tolist() == [new, "A-x"]
    assert result.revived == [] and result.redirects.empty
