"""Per-source sync feeds (``mdm publish``): what each system must change to agree with the master,
as an outbox with sequence numbers, acknowledged by its consumer.

The project is the demo's five systems for 20 organisations. The user's sequences: a first
run and publish; every feed acknowledged; a nightly delta in which the support desk brings a
newer phone for a contact that CRM and marketing also hold, and a contact from a business card
under a CRM account; publish again, again without acknowledging, then acknowledged. Each on
SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import shutil
import typing
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from first_runs import first_run
from sqlalchemy import create_engine, text
from typer.testing import CliRunner, Result

from mdm.cli import app
from mdm.cli.publish_commands import FeedFormatName
from mdm.demo import generate_demo
from mdm.project_files import DEFAULT_RULES
from mdm.publish.feed_changes import FEED_COLUMNS, Moves, xref_rows
from mdm.publish.feed_targets import FeedFormat
from mdm.store import open_store

SOURCES = ("crm_accounts", "erp_customers", "crm_contacts", "marketing_leads", "support_contacts")
SUPPORT = Path("data/support_contacts.parquet")
NEW_PHONE, NEW_PHONE_E164 = "(404) 872-3150", "+14048723150"
CARD_KEY = 362416799999  # the business card's contact in the support desk
NIGHT = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)
PUBLISH_TABLES = (
    "publish_outbox",
    "publish_batch",
    "publish_cursor",
    "publish_state",
    "publish_created",
)
runner = CliRunner()


@pytest.fixture
def project(tmp_path: Path, store_url: str) -> Iterator[Path]:
    """The demo project for 20 organisations on the store of ``store_url``, run once."""

    def prepare(folder: Path) -> None:
        generate_demo(folder, accounts=20, seed=5, faults=False)
        shutil.copytree(DEFAULT_RULES, folder / "rules")

    yield first_run(tmp_path / "project", store_url, "feeds", prepare, lambda f: mdm(f, "run")).root


def mdm(project: Path, *arguments: str, code: int = 0) -> Result:
    result = runner.invoke(app, [*arguments, "--project", str(project)])
    assert result.exit_code == code, f"mdm {' '.join(arguments)}:\n{result.output}"
    return result


def feed(project: Path, source: str) -> pd.DataFrame:
    return pd.read_csv(project / "feeds" / source / "changes.csv", dtype=str, keep_default_na=False)


def manifest(project: Path, source: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(
        (project / "feeds" / source / "batch.json").read_text(encoding="utf-8")
    )
    return loaded


def feed_bytes(project: Path) -> dict[str, bytes]:
    folder = project / "feeds"
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def store_url_of(project: Path) -> str:
    from mdm.config.load import load_project_for_reading

    return load_project_for_reading(project).store_url


def query(project: Path, sql: str, **values: Any) -> pd.DataFrame:
    store = open_store(store_url_of(project))
    try:
        with store.transaction() as connection:
            result = connection.execute(text(sql), values)
            return pd.DataFrame(result.all(), columns=list(result.keys()))
    finally:
        store.close()


def publish_state(project: Path) -> dict[str, list[tuple[Any, ...]]]:
    """The store's feed tables, row by row in key order (batch times left out: wall clock)."""
    ordered = {
        "publish_outbox": "source, seq",
        "publish_batch": "source, batch",
        "publish_cursor": "source",
        "publish_state": "source, entity, source_key",
        "publish_created": "source, entity, golden_id",
    }
    state = {}
    for table, order in ordered.items():
        rows = query(project, f"SELECT * FROM {table} ORDER BY {order}")
        rows = rows.drop(columns=[c for c in ("created_at", "acked_at") if c in rows.columns])
        state[table] = [tuple(str(v) for v in row) for row in rows.itertuples(index=False)]
    return state


def members(project: Path, golden_id: str, source: str) -> list[str]:
    found = query(
        project,
        "SELECT source_key FROM xref WHERE golden_id = :g AND source = :s ORDER BY source_key",
        g=golden_id,
        s=source,
    )
    return [str(key) for key in found["source_key"]]


def acknowledge_all(project: Path) -> None:
    for source in SOURCES:
        mdm(project, "publish", "--ack", source)


def shared_support_contact(project: Path) -> tuple[str, str]:
    """A support contact whose golden contact CRM and marketing also hold: its key and golden
    id (the first by key)."""
    found = query(
        project,
        "SELECT s.source_key, s.golden_id FROM xref s"
        " WHERE s.source = 'support_contacts'"
        " AND EXISTS (SELECT 1 FROM xref c WHERE c.golden_id = s.golden_id"
        "   AND c.source = 'crm_contacts')"
        " AND EXISTS (SELECT 1 FROM xref m WHERE m.golden_id = s.golden_id"
        "   AND m.source = 'marketing_leads')"
        " ORDER BY s.source_key",
    )
    assert not found.empty, "the demo has no contact held by support, CRM and marketing"
    return str(found["source_key"].iloc[0]), str(found["golden_id"].iloc[0])


def nightly_delta(project: Path, support_key: str) -> str:
    """The support desk's nightly extract: a newer phone for ``support_key``, and a contact
    from a business card linked to that contact's CRM account. Returns that account's key."""
    path = project / SUPPORT
    support = pd.read_parquet(path)
    row = support["contact_id"].astype(str) == support_key
    support.loc[row, "phone"] = NEW_PHONE
    support.loc[row, "modified"] = pd.Timestamp(NIGHT)
    account_key = str(support.loc[row, "org_key"].iloc[0])
    card = pd.DataFrame(
        {
            "contact_id": [CARD_KEY],
            "first_name": ["Nora"],
            "last_name": ["Quinlan"],
            "email": ["nora.quinlan@example.org"],
            "phone": ["(404) 872-3999"],
            "org_key": [account_key],
            "organization": [None],
            "modified": [pd.Timestamp(NIGHT)],
        }
    ).astype(support.dtypes.to_dict())
    pd.concat([support, card], ignore_index=True).to_parquet(path, index=False)
    return account_key


# ---- the nightly sequence -----------------------------------------------------------------------


def test_a_nightly_phone_from_support_reaches_crm_and_marketing_and_is_sent_until_acked(
    project: Path,
) -> None:
    mdm(project, "publish")
    acknowledge_all(project)
    mdm(project, "publish")
    assert {source: manifest(project, source)["rows"] for source in SOURCES} == dict.fromkeys(
        SOURCES, 0
    ), "after every feed was acknowledged, a publish with nothing new sends nothing"
    published = {s: manifest(project, s)["published_seq"] for s in SOURCES}

    support_key, contact = shared_support_contact(project)
    account_key = nightly_delta(project, support_key)
    mdm(project, "run")
    assert members(project, contact, "support_contacts") == [support_key]
    card_contact = query(
        project,
        "SELECT golden_id FROM xref WHERE source = 'support_contacts' AND source_key = :k",
        k=str(CARD_KEY),
    )["golden_id"].iloc[0]
    mdm(project, "publish")

    # CRM and marketing: the new phone for exactly the records of that contact, from support.
    for source in ("crm_contacts", "marketing_leads"):
        rows = feed(project, source)
        updates = rows[rows["change"] == "update"]
        keys = members(project, contact, source)
        assert sorted(updates["source_key"]) == keys
        assert set(updates["attribute"]) == {"phone"}
        assert set(updates["value"]) == {NEW_PHONE_E164}
        assert set(updates["golden_id"]) == {contact}
        assert set(updates["lineage_source"]) == {"support_contacts"}
        assert set(updates["lineage_key"]) == {support_key}
        assert set(updates["lineage_rule"]) == {"most_recent"}
        assert set(updates["lineage_modified"]) == {NIGHT.isoformat()}
        assert (updates["old_value"] != NEW_PHONE_E164).all()
        assert not (rows["change"] == "xref").any()
        first = published[source] + 1
        assert rows["seq"].astype(int).tolist() == list(range(first, first + len(rows)))
        assert manifest(project, source)["first_seq"] == first

    # CRM: the business card's contact, to create under the account CRM holds it by.
    creates = feed(project, "crm_contacts").query("change == 'create'")
    assert set(creates["golden_id"]) == {card_contact}
    crm_account = query(
        project,
        "SELECT min(a.source_key) AS k FROM golden_contact c"
        " JOIN xref a ON a.golden_id = c.account_id AND a.source = 'crm_accounts'"
        " WHERE c.golden_id = :g",
        g=card_contact,
    )["k"].iloc[0]
    assert (
        crm_account
        in query(
            project,
            "SELECT source_key FROM xref WHERE golden_id = (SELECT golden_id FROM xref"
            " WHERE source = 'crm_accounts' AND source_key = :k)",
            k=account_key,
        )["source_key"].tolist()
    )
    assert set(creates["account_key"]) == {crm_account}
    assert dict(zip(creates["attribute"], creates["value"], strict=True)) == {
        "first_name": "Nora",
        "last_name": "Quinlan",
        "email": "nora.quinlan@example.org",
        "phone": "+14048723999",
    }
    assert set(creates["lineage_source"]) == {"support_contacts"}
    assert set(creates["source_key"]) == {""}

    # Support: never its own phone back; only the golden id of its new record.
    support = feed(project, "support_contacts")
    assert support[["change", "action", "source_key", "golden_id"]].values.tolist() == [
        ["xref", "new", str(CARD_KEY), card_contact]
    ]
    # The others hold no contact: nothing for them.
    for source in ("crm_accounts", "erp_customers"):
        assert manifest(project, source)["rows"] == 0

    # Again without acknowledging: the same batch, byte for byte, and no new batch.
    files, state = feed_bytes(project), publish_state(project)
    mdm(project, "publish")
    assert feed_bytes(project) == files
    assert publish_state(project) == state

    # CRM applied part of its batch: only the rest is sent again.
    crm = feed(project, "crm_contacts")
    applied = int(crm["seq"].iloc[0])
    mdm(project, "publish", "--ack", "crm_contacts", str(applied))
    mdm(project, "publish", "--source", "crm_contacts")
    assert feed(project, "crm_contacts")["seq"].tolist() == crm["seq"].tolist()[1:]

    # Everything acknowledged: nothing more is sent, and the CRM is not asked twice to create.
    acknowledge_all(project)
    mdm(project, "run")
    mdm(project, "publish")
    assert {source: manifest(project, source)["rows"] for source in SOURCES} == dict.fromkeys(
        SOURCES, 0
    )


# ---- the first publish --------------------------------------------------------------------------


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_the_first_publish_gives_each_source_its_golden_ids_and_what_it_lacks(
    project: Path,
) -> None:
    mdm(project, "publish")
    systems = {
        "crm_accounts": "CRM",
        "crm_contacts": "CRM",
        "erp_customers": "ERP",
        "marketing_leads": "Marketing",
        "support_contacts": "Support",
    }
    xref = query(project, "SELECT source, source_key, golden_id FROM xref")
    for source in SOURCES:
        rows = feed(project, source)
        told = rows[rows["change"] == "xref"]
        held = xref[xref["source"] == source].sort_values("source_key")
        assert set(told["action"]) == {"new"}
        assert (
            told[["source_key", "golden_id"]].values.tolist()
            == held[["source_key", "golden_id"]].values.tolist()
        )
        updates = rows[rows["change"] == "update"]
        # Never a value back to the system it came from.
        assert not updates["lineage_source"].map(systems).eq(systems[source]).any()
        assert set(updates["source_key"]) <= set(held["source_key"])
        assert rows["seq"].astype(int).tolist() == list(range(1, len(rows) + 1))
        assert manifest(project, source)["batches"] == [
            {"batch": 1, "first_seq": 1, "last_seq": len(rows), "run_id": 1}
        ]
    # Creates only where the system holds the contact's account: CRM, not support or marketing.
    for source in ("crm_accounts", "erp_customers", "marketing_leads", "support_contacts"):
        assert not (feed(project, source)["change"] == "create").any()
    creates = feed(project, "crm_contacts").query("change == 'create'")
    expected = query(
        project,
        "SELECT c.golden_id, min(a.source_key) AS account_key FROM golden_contact c"
        " JOIN xref a ON a.golden_id = c.account_id AND a.source = 'crm_accounts'"
        " WHERE c.status = 'active' AND NOT EXISTS (SELECT 1 FROM xref x"
        "  WHERE x.golden_id = c.golden_id AND x.source = 'crm_contacts')"
        " GROUP BY c.golden_id ORDER BY c.golden_id",
    )
    assert not expected.empty
    assert (
        creates[["golden_id", "account_key"]].drop_duplicates().values.tolist()
        == expected.values.tolist()
    )
    assert query(project, "SELECT count(*) AS n FROM publish_created")["n"].iloc[0] == len(expected)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_every_format_holds_the_same_rows(project: Path, tmp_path: Path) -> None:
    mdm(project, "publish", "--source", "crm_contacts")
    csv = feed(project, "crm_contacts")
    for fmt in ("jsonl", "parquet"):
        out = tmp_path / fmt
        mdm(project, "publish", "--source", "crm_contacts", "--out", str(out), "--format", fmt)
        path = out / "crm_contacts" / f"changes.{fmt}"
        read = (
            pd.read_json(path, lines=True, dtype=False) if fmt == "jsonl" else pd.read_parquet(path)
        )
        assert list(read.columns) == list(FEED_COLUMNS)
        if fmt == "parquet":
            read["lineage_modified"] = read["lineage_modified"].map(
                lambda t: "" if pd.isna(t) else t.isoformat()
            )
        shown = (
            read.astype(object)
            .where(read.notna(), "")
            .map(lambda v: str(int(v)) if isinstance(v, float) else str(v))
        )
        assert shown.values.tolist() == csv.values.tolist()


# ---- steward actions, pins -------------------------------------------------------------------


def test_a_merge_and_a_pin_reach_every_source_that_holds_the_records(project: Path) -> None:
    mdm(project, "publish")
    acknowledge_all(project)
    pairs = query(
        project,
        "SELECT golden_id FROM golden_contact WHERE status = 'active' AND golden_id IN"
        " (SELECT golden_id FROM xref WHERE source = 'crm_contacts') ORDER BY golden_id",
    )["golden_id"].tolist()
    survivor, merged = pairs[0], pairs[1]
    moved = members(project, merged, "crm_contacts")
    mdm(project, "merge", survivor, merged)
    kept = query(project, "SELECT to_id FROM redirect WHERE from_id = :f", f=merged)
    if kept.empty:  # the other one survived: the older id does
        survivor, merged = merged, survivor
        moved = members(project, merged, "crm_contacts")
    mdm(project, "pin", survivor, "title", "Chief Buyer")
    mdm(project, "publish")

    rows = feed(project, "crm_contacts")
    told = rows[rows["change"] == "xref"]
    assert told[["action", "source_key", "golden_id", "previous_id"]].values.tolist() == [
        ["merged", key, survivor, merged] for key in moved
    ]
    pins = rows[(rows["change"] == "update") & (rows["attribute"] == "title")]
    assert set(pins["source_key"]) == set(members(project, survivor, "crm_contacts"))
    assert set(pins["value"]) == {"Chief Buyer"}
    assert set(pins["lineage_rule"]) == {"steward_pin"}
    assert set(pins["lineage_source"]) == {""}  # no system: a steward's
    # The account systems hold neither contact: they hear nothing of them.
    for source in ("crm_accounts", "erp_customers"):
        assert manifest(project, source)["rows"] == 0

    # A steward splits one CRM record out again: CRM hears of the split, with both ids.
    acknowledge_all(project)
    split_key = moved[0]
    mdm(project, "unmerge", survivor, "--records", f"crm_contacts:{split_key}")
    mdm(project, "publish")
    told = feed(project, "crm_contacts").query("change == 'xref'")
    minted = query(
        project,
        "SELECT golden_id FROM xref WHERE source = 'crm_contacts' AND source_key = :k",
        k=split_key,
    )["golden_id"].iloc[0]
    assert told[["action", "source_key", "golden_id", "previous_id"]].values.tolist() == [
        ["split", split_key, minted, survivor]
    ]
    assert json.loads(told["other_ids"].iloc[0]) == sorted([survivor, minted])


# ---- a target database ------------------------------------------------------------------------


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_target_database_takes_the_feeds_and_gives_back_the_consumers_ack(
    project: Path, tmp_path: Path
) -> None:
    target = f"sqlite:///{tmp_path / 'consumer.db'}"
    mdm(project, "publish", "--url", target)
    mdm(project, "publish", "--source", "crm_contacts")  # the same rows to files
    engine = create_engine(target)
    try:
        with engine.connect() as connection:
            rows = pd.read_sql(
                text("SELECT * FROM mdm_feed WHERE source = 'crm_contacts' ORDER BY seq"),
                connection,
            )
        assert list(rows.columns) == list(FEED_COLUMNS)
        assert rows["seq"].tolist() == feed(project, "crm_contacts")["seq"].astype(int).tolist()
        # The consumer applied up to row 10 and says so in its acknowledgement table.
        with engine.begin() as connection:
            connection.execute(
                text("INSERT INTO mdm_feed_ack (source, acked_seq) VALUES ('crm_contacts', 10)")
            )
        mdm(project, "publish", "--ack", "crm_contacts", "--url", target)
        cursor = query(
            project, "SELECT acked_seq FROM publish_cursor WHERE source = 'crm_contacts'"
        )
        assert cursor["acked_seq"].tolist() == [10]
        mdm(project, "publish", "--url", target)
        with engine.connect() as connection:
            left = pd.read_sql(
                text("SELECT seq FROM mdm_feed WHERE source = 'crm_contacts' ORDER BY seq"),
                connection,
            )
        assert left["seq"].tolist() == rows["seq"].tolist()[10:]
    finally:
        engine.dispose()


# ---- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_bad_input_is_refused_with_the_store_as_it_was(project: Path, tmp_path: Path) -> None:
    mdm(project, "publish")
    mdm(project, "publish", "--ack", "crm_contacts", "5")
    before, files = publish_state(project), feed_bytes(project)
    last = manifest(project, "crm_contacts")["published_seq"]

    said = flat(mdm(project, "publish", "--source", "crm_contact", code=2).output)
    assert "No source named 'crm_contact'" in said and "crm_contacts" in said
    said = flat(mdm(project, "publish", "--ack", "crm_contact", code=2).output)
    assert "No source named 'crm_contact'" in said
    said = flat(mdm(project, "publish", "--ack", "crm_contacts", str(last + 1), code=2).output)
    assert f"Sequence number {last + 1} was never published to 'crm_contacts'" in said
    assert f"1 to {last}" in said
    said = flat(mdm(project, "publish", "--ack", "crm_contacts", "0", code=2).output)
    assert "was never published" in said
    unreachable = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    said = flat(mdm(project, "publish", "--url", unreachable, code=2).output)
    assert "cannot be opened" in said and "127.0.0.1:1" in said
    said = flat(
        mdm(project, "publish", "--url", f"sqlite:///{tmp_path}/no/such/dir/x.db", code=2).output
    )
    assert "cannot be opened" in said
    said = flat(mdm(project, "publish", "--url", "not a url", code=2).output)
    assert "is not a database URL" in said
    said = flat(
        mdm(project, "publish", "--ack", "crm_contacts", "--url", "not a url", code=2).output
    )
    assert "is not a database URL" in said
    blocker = tmp_path / "a-file"
    blocker.write_text("mine", encoding="utf-8")
    said = flat(mdm(project, "publish", "--out", str(blocker), code=2).output)
    assert "is a file" in said
    said = mdm(project, "publish", "7", code=2).output
    assert "goes with --ack" in said

    assert publish_state(project) == before
    assert feed_bytes(project) == files
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_acknowledging_a_feed_never_published_is_refused(project: Path) -> None:
    said = mdm(project, "publish", "--ack", "crm_contacts", code=2).output
    assert "Nothing has been published to 'crm_contacts' yet" in said
    assert query(project, "SELECT count(*) AS n FROM publish_cursor")["n"].tolist() == [0]


# ---- how a record's golden id moved ----------------------------------------------------------


def test_a_records_move_is_named_by_what_happened_to_its_golden_record() -> None:
    records = pd.DataFrame(
        {
            "source_key": ["k1", "k2", "k3", "k4", "k5"],
            "golden_id": ["C-b", "C-s2", "C-x", "C-5", "C-new"],
            "record_id": [1, 2, 3, 4, 5],
        }
    )
    state = pd.DataFrame(
        {
            "source_key": ["k1", "k2", "k3", "k4", "k6"],
            "golden_id": ["C-a", "C-s", "C-y", "C-5", "C-gone"],
            "record_id": [1, 2, 3, 4, 6],
            "held": ["{}"] * 5,
        }
    )
    moves = Moves(
        redirects={"C-a": "C-m", "C-m": "C-b"},
        splits={"C-s": ["C-s1", "C-s2"]},
        revived=frozenset({"C-5"}),
        active=frozenset({"C-s"}),
    )
    rows = xref_rows(records, state, moves)
    assert rows.astype(object).where(rows.notna(), None).values.tolist() == [
        ["xref", "k1", "C-b", "merged", "C-a", None],
        ["xref", "k2", "C-s2", "split", "C-s", '["C-s", "C-s1", "C-s2"]'],
        ["xref", "k3", "C-x", "changed", "C-y", None],
        ["xref", "k5", "C-new", "new", None, None],
        ["xref", "k6", "C-gone", "retired", None, None],
    ]


def test_the_command_offers_each_feed_format() -> None:
    assert typing.get_args(FeedFormatName) == tuple(str(f) for f in FeedFormat)


def flat(output: str) -> str:
    """What the command said, on one line: messages wrap where a long path ends."""
    return " ".join(output.split())
