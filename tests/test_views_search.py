"""Search: golden records found by name (or its start), email, phone, domain, golden id
(following merges) or source key, on real runs on SQLite and PostgreSQL; the terms follow the
runs that change golden records; and every read is by index."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Connection, text
from test_views_queue import assert_no_scans, edit_csv, make_project, query, statements

from mdm import pipeline, stewardship
from mdm.config.specs import Project
from mdm.schema import LinkDecision
from mdm.store import open_store
from mdm.store.migrate import migrate_store
from mdm.store.schema_version import alembic_config
from mdm.store.search import fold_terms
from mdm.views import reading, search_golden


@pytest.fixture
def project(tmp_path: Path, store_url: str) -> Project:
    return make_project(tmp_path / "shop", store_url, accounts=60)


def golden(project: Project, table: str) -> pd.DataFrame:
    return query(project, f"select * from golden_{table} where status = 'active'")


def hits(project: Project, q: str, limit: int = 20) -> list[tuple[str, str, str]]:
    with reading(project.store_url) as connection:
        found = search_golden(connection, q, limit)
    return [(hit.golden_id, hit.matched_by, hit.matched) for hit in found]


def unique(frame: pd.DataFrame, column: str) -> pd.Series:
    """A row whose value of ``column`` no other row has."""
    counts = frame[column].value_counts()
    once = frame[frame[column].map(counts).eq(1) & frame[column].notna()]
    return once.sort_values("golden_id").iloc[0]


def test_exact_kinds_find_exactly_their_golden_records(project: Project) -> None:
    contacts, accounts = golden(project, "contact"), golden(project, "account")
    contact = unique(contacts, "email")
    # The address as people paste it: a name, capitals, brackets.
    pasted = f"Someone <{contact['email'].upper()}>"
    assert hits(project, pasted) == [(contact["golden_id"], "email", contact["email"])]

    numbers = pd.concat(
        [
            contacts[["golden_id", "phone"]],
            contacts[["golden_id", "mobile"]].rename(columns={"mobile": "phone"}),
        ]
    )
    e164 = numbers[numbers["phone"].fillna("").str.fullmatch(r"\+1\d{10}")]
    phone = str(e164.sort_values("golden_id")["phone"].iloc[0])
    written = f"({phone[2:5]}) {phone[5:8]}-{phone[8:]}"  # a US number as dialled at home
    expected_phone = sorted(set(e164.loc[e164["phone"] == phone, "golden_id"]))
    expected_phone += sorted(set(accounts.loc[accounts["phone"] == phone, "golden_id"]))
    assert sorted(h[0] for h in hits(project, written)) == sorted(expected_phone)
    assert {h[1:] for h in hits(project, written)} == {("phone", phone)}

    account = unique(accounts, "domain")
    found = hits(project, f"https://www.{account['domain']}/about-us")
    assert found == [(account["golden_id"], "domain", account["domain"])]

    assert hits(project, "nobody@nowhere.invalid") == []
    assert hits(project, "   ") == []


def test_names_by_their_start(project: Project) -> None:
    contacts, accounts = golden(project, "contact"), golden(project, "account")
    person = unique(
        contacts.assign(full=contacts["first_name"] + " " + contacts["last_name"]), "full"
    )
    found = hits(project, f"  {person['first_name'].upper()}   {person['last_name']} ")
    assert found[0] == (
        person["golden_id"],
        "name",
        str(fold_terms(pd.Series([person["full"]])).iloc[0]),
    )
    # The last name first finds them too.
    assert person["golden_id"] in [
        h[0] for h in hits(project, f"{person['last_name']}, {person['first_name']}")
    ]

    # A prefix finds every golden record with a name word starting with it, no other.
    prefix = str(person["last_name"])[:3].lower()
    every = hits(project, prefix, limit=1000)
    words = pd.concat(
        [
            contacts[["golden_id"]].assign(
                names=contacts["first_name"].fillna("")
                + " "
                + contacts["middle_name"].fillna("")
                + " "
                + contacts["last_name"].fillna("")
            ),
            accounts[["golden_id"]].assign(names=accounts["name"].fillna("")),
        ]
    )
    folded = fold_terms(words["names"]).fillna("")
    starts = folded.map(lambda name: any(w.startswith(prefix) for w in name.split()))
    assert sorted(h[0] for h in every) == sorted(words.loc[starts.to_numpy(), "golden_id"])
    assert all(h[1] == "name" and prefix in h[2] for h in every)
    # Exact names first, then by name; each golden record once; ``limit`` of them.
    assert len({h[0] for h in every}) == len(every)
    assert hits(project, prefix, limit=2) == every[:2]


def test_golden_ids_follow_merges_and_keys_find_their_records(project: Project) -> None:
    xref = query(
        project, "select source, source_key, golden_id from xref order by source, source_key"
    )
    accounts = xref[xref["golden_id"].str.startswith("A-")].drop_duplicates("golden_id")
    (s1, k1, g1), (s2, k2, g2) = accounts.head(2).itertuples(index=False)
    assert hits(project, g1.lower()) == [(g1, "golden id", g1)]
    assert hits(project, f"{s1}:{k1}") == [(g1, "source key", f"{s1}:{k1}")]
    assert hits(project, k1)[0] == (g1, "source key", f"{s1}:{k1}")

    stewardship.decide_pair(project, f"{s1}:{k1}", f"{s2}:{k2}", LinkDecision.MUST_LINK, "ana")
    redirect = query(project, "select from_id, to_id from redirect")
    [(merged, survivor)] = redirect.itertuples(index=False)
    assert {merged, survivor} == {g1, g2}
    with reading(project.store_url) as connection:
        [hit] = search_golden(connection, merged)
    assert (hit.golden_id, hit.resolved_from, hit.status) == (survivor, merged, "active")
    assert hit.why == f"golden id {merged}, merged into {survivor}"
    # A merged-away record has no terms of its own left.
    keys = query(project, "select * from search_key where golden_id = :g", g=merged)
    assert keys.empty
    assert hits(project, f"{s2}:{k2}") == [(survivor, "source key", f"{s2}:{k2}")]


def test_terms_follow_the_runs(project: Project) -> None:
    contacts = golden(project, "contact")
    crm = query(
        project,
        "select x.source_key, x.golden_id from xref x where x.source = 'crm_contacts'",
    )
    one = crm[crm["golden_id"].map(crm["golden_id"].value_counts()).eq(1)]
    alone = contacts[contacts["golden_id"].isin(one["golden_id"]) & contacts["email"].notna()]
    row = alone.sort_values("golden_id").iloc[0]
    key = one.set_index("golden_id").loc[row["golden_id"], "source_key"]
    members = query(
        project, "select count(*) as n from xref where golden_id = :g", g=row["golden_id"]
    )
    assert int(members["n"].iloc[0]) == 1
    edit_csv(
        project.root / "data" / "crm_contacts.csv",
        "Id",
        str(key),
        Email="zz.renamed@example-corp.com",
        LastName="Zzyzx",
        LastModifiedDate="2026-02-01T00:00:00Z",
    )
    pipeline.run(project)
    assert hits(project, str(row["email"])) == []
    assert hits(project, "zz.renamed@example-corp.com") == [
        (row["golden_id"], "email", "zz.renamed@example-corp.com")
    ]
    assert [h[0] for h in hits(project, "zzyz")] == [row["golden_id"]]


def test_a_store_from_before_search_keys_gets_them_and_its_priorities(project: Project) -> None:
    """Migration 0009 on a store made before it: the search keys a run would have written,
    and the review items' priorities as a run computes them."""
    keys = query(project, "select kind, term, golden_id from search_key order by 1, 2, 3")
    items = query(project, "select id, priority from review_item order by id")
    assert len(keys) > 100 and items["priority"].notna().all()
    store = open_store(project.store_url, writing=True)
    try:
        with store.transaction() as connection:
            downgrade_to(connection, "0008")
            connection.execute(text("update review_item set priority = null"))
    finally:
        store.close()
    assert migrate_store(project.store_url, 0).before == "0008"
    pd.testing.assert_frame_equal(
        query(project, "select kind, term, golden_id from search_key order by 1, 2, 3"), keys
    )
    after = query(project, "select id, priority from review_item order by id")
    assert after["id"].tolist() == items["id"].tolist()
    assert after["priority"].to_numpy() == pytest.approx(items["priority"].to_numpy(), rel=1e-12)


def downgrade_to(connection: Connection, revision: str) -> None:
    """The store's schema taken back to ``revision``."""
    from alembic import command

    command.downgrade(alembic_config(connection), revision)


@pytest.fixture
def sqlite_project(tmp_path: Path) -> Project:
    return make_project(tmp_path / "shop", f"sqlite:///{tmp_path / 'store.db'}", accounts=60)


def test_search_reads_by_index(sqlite_project: Project) -> None:
    project = sqlite_project
    contact = golden(project, "contact").sort_values("golden_id").iloc[0]
    xref = query(project, "select source, source_key from xref order by source, source_key")
    source, key = xref.iloc[0]
    with reading(project.store_url) as connection, statements(connection) as made:
        for q in (
            str(contact["email"]),
            "+1 212 555 0100",
            "acme.com",
            "sm",
            str(contact["golden_id"]),
            f"{source}:{key}",
            str(key),
        ):
            search_golden(connection, q)
    plans = assert_no_scans(
        project,
        made,
        {"search_key", "xref", "golden_account", "golden_contact", "redirect", "source_record"},
    )
    assert any("search_key USING PRIMARY KEY" in plan for plan in plans)


def test_terms_of_contacts_with_and_without_a_name() -> None:
    from mdm.schema import Entity
    from mdm.store.search import search_rows

    values = pd.DataFrame(
        {
            "first_name": pd.array(["Jon", pd.NA, "Ann"], dtype="string"),
            "middle_name": pd.array(["Q", pd.NA, pd.NA], dtype="string"),
            "last_name": pd.array(["Public", pd.NA, pd.NA], dtype="string"),
            "email": pd.array([pd.NA, "x@example.com", pd.NA], dtype="string"),
        },
        index=pd.Index(["C-1", "C-2", "C-3"], name="golden_id"),
    )
    rows = search_rows(Entity.CONTACT, values)
    found = sorted(zip(rows["kind"], rows["term"], rows["golden_id"], strict=True))
    assert found == [
        ("email", "x@example.com", "C-2"),
        ("name", "ann", "C-3"),
        ("name", "jon public", "C-1"),
        ("name", "jon q public", "C-1"),
        ("name", "public", "C-1"),
        ("name", "public jon", "C-1"),
        ("name", "q public", "C-1"),
    ]
