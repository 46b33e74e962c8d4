"""Several nightly loads in a row: deltas resolve only what changed, and match a full run."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import POSTGRES_URL
from invariants_helper import assert_store_invariants
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, make_url

from mdm import pipeline
from mdm.config import load_project
from mdm.config.specs import Project
from mdm.demo import generate_demo
from mdm.pipeline.keys import live_keys
from mdm.project_files import DEFAULT_RULES
from mdm.publish import ExportFormat
from mdm.schema import Entity
from mdm.store import golden, open_store, stewardship

CRM_ACCOUNTS = Path("data/crm_accounts.csv")
CRM_CONTACTS = Path("data/crm_contacts.csv")
LEADS = Path("data/marketing_leads.jsonl")
SUPPORT = Path("data/support_contacts.parquet")


@pytest.fixture
def project(tmp_path: Path, store_url: str) -> Iterator[Project]:
    directory = tmp_path / "nightly"
    generate_demo(directory, accounts=150, seed=5, faults=False)
    shutil.copytree(DEFAULT_RULES, directory / "rules")
    if is_postgres(store_url):
        use_store(directory, store_url)
    # On SQLite the demo's store is a file in the project folder, copied along with it.
    yield load_project(directory)
    if is_postgres(store_url):
        drop_database(copy_database_name(store_url))


def is_postgres(url: str) -> bool:
    return url.startswith("postgresql")


def use_store(directory: Path, url: str) -> None:
    project_file = directory / "mdm.toml"
    settings = project_file.read_text(encoding="utf-8")
    settings = re.sub(r'(?m)^url = "[^"]*"', f'url = "{url}"', settings, count=1)
    project_file.write_text(settings, encoding="utf-8")


def copy_database_name(url: str) -> str:
    return f"{make_url(url).database}_copy"


def copy_database(url: str) -> str:
    """A copy of the PostgreSQL database at ``url`` (no one may be connected to it); its url."""
    name = copy_database_name(url)
    drop_database(name)
    with server_connection() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{make_url(url).database}"'))
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def drop_database(name: str) -> None:
    with server_connection() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def server_connection() -> Iterator[Connection]:
    engine = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, lineterminator="\n")


def snapshot(project: Project, out: Path) -> dict[str, pd.DataFrame]:
    """The exported master, and the review queue."""
    pipeline.export(project, out, ExportFormat.CSV)
    names = ("accounts", "contacts", "xref", "lineage")
    frames = {name: read_csv(out / f"{name}.csv") for name in names}
    for name in ("accounts", "contacts"):
        frames[name] = frames[name].drop(columns=["created_run", "updated_run"])
    frames["lineage"] = frames["lineage"].drop(columns=["run_id", "record_id"])
    frames["reviews"] = review_queue(project)
    return frames


def review_queue(project: Project) -> pd.DataFrame:
    """The open review items, each pair in one order, with its probability."""
    with reading(project) as connection:
        items = stewardship.open_reviews(connection)
    left = items["left_source"] + ":" + items["left_key"]
    right = items["right_source"] + ":" + items["right_key"]
    first = left.where(left < right, right)
    queue = pd.DataFrame(
        {
            "entity": items["entity"].astype(str),
            "first": first.astype(str),
            "second": left.where(first != left, right).astype(str),
            "probability": items["probability"].astype(float).round(9),
        }
    )
    return queue.sort_values(["entity", "first", "second"], ignore_index=True)


@contextmanager
def reading(project: Project) -> Iterator[Connection]:
    store = open_store(project.store_url)
    try:
        with store.transaction() as connection:
            yield connection
    finally:
        store.close()


def full_recompute(project: Project, tmp: Path) -> dict[str, pd.DataFrame]:
    """The same store, recomputed from scratch by a full run on a copy."""
    copy = tmp / "copy"
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(project.root, copy)
    if is_postgres(project.store_url):
        use_store(copy, copy_database(project.store_url))
    copied = load_project(copy)
    pipeline.run(copied, full=True, export=False)
    return snapshot(copied, tmp / "copy-out")


def record_keys(project: Project) -> tuple[set[tuple[str, int, int]], set[tuple[str, int, int]]]:
    """The record-key index and its counts, as sets of rows."""
    store = open_store(project.store_url)
    try:
        with store.transaction() as connection:
            keys = connection.execute(text("SELECT entity, record_id, key FROM record_key"))
            counts = connection.execute(text("SELECT entity, key, records FROM key_count"))
            return (
                {(str(e), int(r), int(k)) for e, r, k in keys},
                {(str(e), int(k), int(n)) for e, k, n in counts},
            )
    finally:
        store.close()


def night_1(root: Path, rng: np.random.Generator) -> None:
    """Three accounts get a new phone, with a newer timestamp."""
    accounts = read_csv(root / CRM_ACCOUNTS)
    rows = rng.choice(len(accounts), 3, replace=False)
    accounts.loc[rows, "Phone"] = ["+1 415 555 0101", "+1 415 555 0102", "+1 415 555 0103"]
    accounts.loc[rows, "LastModifiedDate"] = "2026-01-01T00:00:00Z"
    write_csv(accounts, root / CRM_ACCOUNTS)


def night_2(root: Path, rng: np.random.Generator) -> None:
    """A new CRM account duplicating an existing one (same name and postcode)."""
    accounts = read_csv(root / CRM_ACCOUNTS)
    source = accounts[(accounts["BillingPostalCode"] != "") & (accounts["IsDeleted"] == "false")]
    copy = source.iloc[[int(rng.integers(len(source)))]].copy()
    copy["Id"] = "0015g00000NEW0001"
    copy["Phone"] = ""
    copy["LastModifiedDate"] = "2026-01-02T00:00:00Z"
    write_csv(pd.concat([accounts, copy], ignore_index=True), root / CRM_ACCOUNTS)


def night_3(root: Path, rng: np.random.Generator) -> None:
    """Two contacts leave the CRM extract (deleted there)."""
    contacts = read_csv(root / CRM_CONTACTS)
    gone = rng.choice(len(contacts), 2, replace=False)
    write_csv(contacts.drop(index=gone), root / CRM_CONTACTS)


def night_4(root: Path, rng: np.random.Generator) -> None:
    """A contact's email is corrected to another contact's: the two merge."""
    contacts = read_csv(root / CRM_CONTACTS)
    with_email = contacts[contacts["Email"] != ""].index
    first, second = rng.choice(with_email, 2, replace=False)
    contacts.loc[second, "Email"] = contacts.loc[first, "Email"]
    contacts.loc[second, "LastModifiedDate"] = "2026-01-04T00:00:00Z"
    write_csv(contacts, root / CRM_CONTACTS)


def night_5(root: Path, rng: np.random.Generator) -> None:
    """Nothing changed upstream: the same extracts again."""


def night_6(root: Path, rng: np.random.Generator) -> None:
    """A CRM account is renamed. Contacts that name it only by its old name lose it, both as
    the golden account they are matched with and as their link, though they did not change."""
    project = load_project(root)
    with reading(project) as connection:
        accounts = live_keys(connection, project, Entity.ACCOUNT)
        contacts = live_keys(connection, project, Entity.CONTACT)
    holders = accounts.groupby("name")["source_key"].transform("size")
    crm = accounts[(accounts["source"] == "crm_accounts") & (holders == 1)]
    naming = crm["name"].map(contacts["company"].value_counts()).fillna(0)
    renamed = crm.loc[naming.sort_values(kind="stable").index[-1], "source_key"]
    update_rows(root / CRM_ACCOUNTS, "Id", renamed, Name="Quillfeather Dynamics")


def night_7(root: Path, rng: np.random.Generator) -> None:
    """A lead names a company whose name two CRM accounts share (branches in two places):
    no golden account is the one of that name."""
    kept, _ = shared_name_accounts(root)
    name = read_csv(root / CRM_ACCOUNTS).set_index("Id").loc[kept, "Name"]
    leads = read_leads(root)
    leads[0].update(company=name, updated_at="2026-01-07T00:00:00Z")
    write_leads(root, leads)


def night_8(root: Path, rng: np.random.Generator) -> None:
    """The two branches turn out to be one organisation (the same address): now one golden
    account has the name, and the lead that names it is matched with it and linked to it,
    though the lead did not change."""
    kept, moved = shared_name_accounts(root)
    accounts = read_csv(root / CRM_ACCOUNTS).set_index("Id")
    columns = ["Website", "Phone", "BillingStreet", "BillingCity", "BillingPostalCode"]
    address = {column: str(accounts.loc[kept, column]) for column in columns}
    update_rows(root / CRM_ACCOUNTS, "Id", moved, **address)


def shared_name_accounts(root: Path) -> tuple[str, str]:
    """Two CRM accounts of one name in two golden accounts (the first such name that no two
    tax ids keep apart): one that stays, and one that is the only account of that name in
    its golden account, which moves to the other."""
    project = load_project(root)
    with reading(project) as connection:
        accounts = live_keys(connection, project, Entity.ACCOUNT)
        xref = golden.xref(connection, Entity.ACCOUNT)
    accounts = accounts.merge(xref, on=["source", "source_key"]).sort_values("source_key")
    tax_ids = accounts.groupby("golden_id")["tax_id"].nunique()
    for _, named in accounts.groupby("name", sort=True):
        held = named["golden_id"].value_counts()
        alone = named[named["golden_id"].map(held).eq(1) & named["source"].eq("crm_accounts")]
        if len(held) != 2 or alone.empty or tax_ids.reindex(held.index).sum() > 1:
            continue
        moved = alone.iloc[0]
        crm = named[named["source"].eq("crm_accounts")]
        kept = crm.loc[crm["golden_id"] != moved["golden_id"], "source_key"]
        if not kept.empty:
            return str(kept.iloc[0]), str(moved["source_key"])
    raise AssertionError("no two CRM accounts share a name")


def night_9(root: Path, rng: np.random.Generator) -> None:
    """A namesake arrives: a new lead with the last name of two records in the review queue.
    The name is more common now, so those two records' pair weighs less, though neither
    changed."""
    project = load_project(root)
    with reading(project) as connection:
        contacts = live_keys(connection, project, Entity.CONTACT)
        reviews = stewardship.open_reviews(connection, Entity.CONTACT)
    last = contacts.set_index(["source", "source_key"])["last_name"]
    left = last.reindex(keys_of(reviews, "left")).to_numpy()
    right = last.reindex(keys_of(reviews, "right")).to_numpy()
    shared = sorted(left[left == right])[0]
    lead = dict.fromkeys(["email", "company", "phone", "job_title"])
    lead.update(lead_id="LD-NEW0001", first="Quentin", last=str(shared).title())
    write_leads(root, [*read_leads(root), {**lead, "updated_at": "2026-01-09T00:00:00Z"}])


def night_10(root: Path, rng: np.random.Generator) -> None:
    """A contact's last name is retyped in capitals. Another record of its golden contact is
    in the review queue with a record of another golden contact, which the retyped one is no
    partner of: that pair is still to be reviewed."""
    project = load_project(root)
    with reading(project) as connection:
        reviews = stewardship.open_reviews(connection, Entity.CONTACT)
        xref = golden.xref(connection, Entity.CONTACT)
    golden_of = xref.set_index(["source", "source_key"])["golden_id"]
    left = golden_of.reindex(keys_of(reviews, "left")).to_numpy()
    right = golden_of.reindex(keys_of(reviews, "right")).to_numpy()
    across = set(left[left != right]) | set(right[left != right])
    reviewed = set(keys_of(reviews, "left")) | set(keys_of(reviews, "right"))
    siblings = xref[xref["golden_id"].isin(across)].sort_values(["source", "source_key"])
    source, key = next(
        (source, key)
        for source, key in siblings[["source", "source_key"]].itertuples(index=False)
        if (source, key) not in reviewed
    )
    stamp = "2026-01-10T00:00:00Z"
    if source == "crm_contacts":
        last_name = read_csv(root / CRM_CONTACTS).set_index("Id").loc[key, "LastName"]
        update_rows(root / CRM_CONTACTS, "Id", key, LastName=last_name.upper())
    elif source == "marketing_leads":
        leads = read_leads(root)
        lead = next(lead for lead in leads if lead["lead_id"] == key)
        lead.update(last=str(lead["last"]).upper(), updated_at=stamp)
        write_leads(root, leads)
    else:
        contacts = pd.read_parquet(root / SUPPORT)
        row = contacts["contact_id"].astype(str) == key
        contacts.loc[row, "last_name"] = contacts.loc[row, "last_name"].str.upper()
        contacts.loc[row, "modified"] = pd.Timestamp(stamp)
        contacts.to_parquet(root / SUPPORT, index=False)


def keys_of(reviews: pd.DataFrame, side: str) -> pd.MultiIndex:
    """The records on one side of review items, as (source, source_key)."""
    return pd.MultiIndex.from_arrays(
        [reviews[f"{side}_source"], reviews[f"{side}_key"]], names=["source", "source_key"]
    )


def read_leads(root: Path) -> list[dict[str, object]]:
    lines = (root / LEADS).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line]


def write_leads(root: Path, leads: list[dict[str, object]]) -> None:
    text = "".join(json.dumps(lead, ensure_ascii=False) + "\n" for lead in leads)
    (root / LEADS).write_text(text, encoding="utf-8")


def update_rows(path: Path, key: str, value: str, **columns: str) -> None:
    """Set ``columns`` of the row of ``path`` whose ``key`` is ``value``, dated later."""
    frame = read_csv(path)
    row = frame[key] == value
    assert row.sum() == 1, f"{path.name}: {key} {value}"
    columns.setdefault("LastModifiedDate", "2026-01-06T00:00:00Z")
    for column, new in columns.items():
        frame.loc[row, column] = new
    write_csv(frame, path)


NIGHTS = [
    night_1,
    night_2,
    night_3,
    night_4,
    night_5,
    night_6,
    night_7,
    night_8,
    night_9,
    night_10,
]


def test_nights_of_deltas(project: Project, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    first = pipeline.run(project)
    assert first.full
    before = snapshot(project, tmp_path / "before")
    for number, night in enumerate(NIGHTS, start=1):
        night(project.root, rng)
        summary = pipeline.run(project)
        assert not summary.full
        after = snapshot(project, tmp_path / f"night-{number}")
        # A delta resolves to exactly what a full recompute gives, and keeps the record-key
        # index as a full run builds it.
        expected = full_recompute(project, tmp_path)
        for name, frame in after.items():
            pd.testing.assert_frame_equal(frame, expected[name], obj=f"night {number}: {name}")
        indexed = record_keys(project)
        assert len(indexed[0]) > 1000 and len(indexed[1]) > 1000
        assert indexed == record_keys(load_project(tmp_path / "copy")), f"night {number}"
        # Golden ids of records the night did not touch do not change.
        assert_untouched_keep_ids(before["xref"], after["xref"], summary)
        # Rerunning the same delta changes nothing.
        again = pipeline.run(project)
        assert sum(s.inserted + s.updated + s.deleted for s in again.sources) == 0
        assert all(e.scope == 0 and e.created == 0 and e.updated == 0 for e in again.entities)
        pd.testing.assert_frame_equal(
            snapshot(project, tmp_path / f"night-{number}-again")["xref"], after["xref"]
        )
        assert_store_invariants(project)
        before = after


def assert_untouched_keep_ids(
    before: pd.DataFrame, after: pd.DataFrame, summary: pipeline.RunSummary
) -> None:
    touched = {golden_id for entity in summary.entities for golden_id in entity.touched}
    joined = before.merge(after, on=["entity", "source", "source_key"], suffixes=("", "_now"))
    untouched = joined[~joined["golden_id"].isin(touched)]
    assert (untouched["golden_id"] == untouched["golden_id_now"]).all()
    # A delta run recomputes only a small scope.
    for entity in summary.entities:
        assert entity.scope < entity.records / 4, entity
