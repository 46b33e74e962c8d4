"""Nightly deltas of the CRM contacts and the support desk: new, changed and deleted records.

Each night ``night_deltas`` changes the world and the two sources' full state (kept in the
rendered frames: ``_live``, ``_stamp``) and returns the rows of that night's delta file, each
with its operation in ``op``: ``I`` new records (the night's new hires and leads converted into
CRM contacts; first tickets of existing people), ``U`` changed ones (a new phone line, a
promotion, a new work email: the person's current value changes, every other record of
them keeps the old one with an older stamp; the changed record is brought up to date whole),
``D`` deletions (a contact removed from the CRM, a requester erased on request).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmarks.realistic import systems as S
from benchmarks.realistic import vocab
from benchmarks.realistic.textops import phone_numbers, phone_text, slug, time_text
from benchmarks.realistic.world import World

DELTA_SOURCES = ("crm_contacts", "support_requesters")

CRM_UPDATES, CRM_DELETES, CRM_CONVERSIONS = 0.008, 0.002, 0.005
SUPPORT_INSERTS, SUPPORT_UPDATES, SUPPORT_DELETES = 0.006, 0.004, 0.001


def night_stamps(rng: np.random.Generator, night: int, n: int) -> np.ndarray:
    start = S.REFERENCE + (night - 1) * S.DAY + 18 * 3600  # the evening before the run
    return start + rng.integers(0, 8 * 3600, n).astype(np.int64)


def night_deltas(
    world: World,
    tables: dict[str, pd.DataFrame],
    accounts: dict[str, pd.DataFrame],
    makers: dict[str, S.KeyMaker],
    night: int,
    rng: np.random.Generator,
) -> dict[str, pd.DataFrame]:
    """Night ``night``'s delta rows per source; ``world`` and ``tables`` are updated."""
    crm = _crm_night(world, tables, accounts, makers, night, rng)
    support = _support_night(world, tables, accounts, makers, night, rng)
    return {"crm_contacts": crm, "support_requesters": support}


def _crm_night(
    world: World,
    tables: dict[str, pd.DataFrame],
    accounts: dict[str, pd.DataFrame],
    makers: dict[str, S.KeyMaker],
    night: int,
    rng: np.random.Generator,
) -> pd.DataFrame:
    table = tables["crm_contacts"]
    live = np.flatnonzero(table["_live"].to_numpy())
    changed = live[rng.random(len(live)) < CRM_UPDATES]
    # One change per person a night (a person with two CRM records: the first one changes).
    persons = table["_person"].to_numpy(dtype=np.int64)[changed]
    _, first = np.unique(persons, return_index=True)
    changed = np.sort(changed[first])
    persons = table["_person"].to_numpy(dtype=np.int64)[changed]
    kinds = S.pick(rng, ["phone", "title", "email"], len(changed), [0.4, 0.4, 0.2])
    kinds = change_people(world, persons, kinds, rng)
    refresh_crm_rows(world, table, changed, kinds, night_stamps(rng, night, len(changed)), rng)
    table.loc[changed, "op"] = "U"
    gone = live[rng.random(len(live)) < CRM_DELETES]
    gone = np.setdiff1d(gone, changed)
    table.loc[gone, "op"] = "D"
    table.loc[gone, "_live"] = False
    _stamp(table, gone, night_stamps(rng, night, len(gone)), "salesforce", "LastModifiedDate")
    # New records: the night's hires, and leads the sales team converted into contacts.
    people = world.people
    hires = np.flatnonzero(people["hired_night"].to_numpy() == night)
    in_crm = set(table["_person"].tolist())
    leads = tables["marketing_leads"]["_person"].to_numpy()
    companies_in_crm = world.companies["in_crm"].to_numpy()[people["company"].to_numpy()]
    candidates = np.unique(leads[companies_in_crm[leads]])
    candidates = np.array([p for p in candidates.tolist() if p not in in_crm], dtype=np.int64)
    converted = candidates[rng.random(len(candidates)) < CRM_CONVERSIONS * 10]
    fresh = _new_rows(world, accounts, "crm_contacts", np.r_[hires, converted], night, rng, makers)
    tables["crm_contacts"] = pd.concat([table, fresh], ignore_index=True)
    delta = pd.concat([table.loc[np.r_[changed, gone]], fresh], ignore_index=True)
    return delta


def _support_night(
    world: World,
    tables: dict[str, pd.DataFrame],
    accounts: dict[str, pd.DataFrame],
    makers: dict[str, S.KeyMaker],
    night: int,
    rng: np.random.Generator,
) -> pd.DataFrame:
    table = tables["support_requesters"]
    live = np.flatnonzero(table["_live"].to_numpy())
    changed = live[rng.random(len(live)) < SUPPORT_UPDATES]
    stamp = night_stamps(rng, night, len(changed))
    people = world.people
    # The requester gave a new number or switched to the work address: the record is
    # brought up to the person's current values.
    person = table["_person"].to_numpy(dtype=np.int64)[changed]
    work = people["work_email"].to_numpy(dtype=object)[person]
    email = np.where(work != "", work, people["personal_email"].to_numpy(dtype=object)[person])
    digits = people["work_phone"].to_numpy(dtype=object)[person]
    extension = people["extension"].to_numpy(dtype=object)[person]
    _assign(
        table,
        changed,
        {
            "email": email,
            "_email": email,
            "_email_kind": np.where(work != "", "work", "personal").astype(object),
            "_old_email": np.zeros(len(changed), dtype=bool),
            "phone": phone_text(
                digits.astype(object),
                np.ones(len(changed), dtype=np.int64),
                extension.astype(object),
            ),
            "_phone_kind": np.full(len(changed), "work", dtype=object),
            "_old_phone": np.zeros(len(changed), dtype=bool),
            "_phone_digits": digits,
        },
    )
    _stamp(table, changed, stamp, "epoch", "updated_at")
    table.loc[changed, "op"] = "U"
    gone = live[rng.random(len(live)) < SUPPORT_DELETES]
    gone = np.setdiff1d(gone, changed)
    table.loc[gone, "op"] = "D"
    table.loc[gone, "_live"] = False
    _stamp(table, gone, night_stamps(rng, night, len(gone)), "epoch", "updated_at")
    known = set(table["_person"].tolist())
    company = people["company"].to_numpy()
    customer = (world.companies["in_crm"].to_numpy() | world.companies["in_erp"].to_numpy())[
        company
    ]
    present = (people["hired_night"].to_numpy() == 0) | (people["hired_night"].to_numpy() < night)
    pool = np.flatnonzero(customer & present)
    pool = np.array([p for p in pool.tolist() if p not in known], dtype=np.int64)
    wanted = round(SUPPORT_INSERTS * len(table))
    newcomers = rng.choice(pool, size=min(wanted, len(pool)), replace=False) if len(pool) else pool
    fresh = _new_rows(world, accounts, "support_requesters", np.sort(newcomers), night, rng, makers)
    tables["support_requesters"] = pd.concat([table, fresh], ignore_index=True)
    return pd.concat([table.loc[np.r_[changed, gone]], fresh], ignore_index=True)


def _new_rows(
    world: World,
    accounts: dict[str, pd.DataFrame],
    source: str,
    persons: np.ndarray,
    night: int,
    rng: np.random.Generator,
    makers: dict[str, S.KeyMaker],
) -> pd.DataFrame:
    rows = pd.DataFrame(
        {"person": persons.astype(np.int64), "source": source, "dup": np.zeros(len(persons), bool)}
    )
    rows = S.decide_contact_values(rows, world, accounts, rng, stale=False)
    rows["stamp"] = night_stamps(rng, night, len(rows))
    table = S.render_contacts(source, rows, world, rng, makers[source].take(len(rows)))
    table["_stamp"] = rows["stamp"].to_numpy()
    table["_account_key"] = rows["account_key"].to_numpy()
    column = "LastModifiedDate" if source == "crm_contacts" else "updated_at"
    style = "salesforce" if source == "crm_contacts" else "epoch"
    table[column] = time_text(rows["stamp"].to_numpy(), style)
    table["op"] = "I"
    return table


def _stamp(
    table: pd.DataFrame, rows: np.ndarray, stamp: np.ndarray, style: str, column: str
) -> None:
    if not len(rows):
        return
    table.loc[rows, "_stamp"] = stamp
    table.loc[rows, column] = time_text(np.asarray(stamp, dtype=np.int64), style)


def _assign(table: pd.DataFrame, rows: np.ndarray, values: dict[str, np.ndarray]) -> None:
    """Set ``values`` (column -> one value per row) at ``rows``: one write per column."""
    if not len(rows):
        return
    for column, column_values in values.items():
        original = table[column]
        whole = original.to_numpy(dtype=object).copy()
        whole[rows] = column_values
        table[column] = pd.Series(
            whole.astype(bool) if original.dtype == bool else whole,
            index=table.index,
            dtype=bool if original.dtype == bool else object,
        )


_NEXT_TITLE = {
    title: ladder[rung + 1]
    for ladder in vocab.TITLE_LADDERS
    for rung, title in enumerate(ladder[:-1])
}


def change_people(
    world: World, persons: np.ndarray, kinds: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Each person's current value of their kind changes (a promotion, a new work email, a
    new line); the value before becomes the old one. A title at the top of its ladder, or an
    email of someone without one, changes the line instead. Returns the kinds applied."""
    people = world.people
    columns = (
        "title",
        "old_title",
        "work_email",
        "old_email",
        "work_phone",
        "old_phone",
        "extension",
    )
    arrays = {c: people[c].to_numpy(dtype=object).copy() for c in columns}
    kinds = np.asarray(kinds, dtype=object).copy()
    titles = arrays["title"][persons]
    promoted = np.array([_NEXT_TITLE.get(t, "") for t in titles], dtype=object)
    kinds[(kinds == "title") & (promoted == "")] = "phone"
    kinds[(kinds == "email") & (arrays["work_email"][persons] == "")] = "phone"
    rows = persons[kinds == "title"]
    arrays["old_title"][rows] = arrays["title"][rows]
    arrays["title"][rows] = promoted[kinds == "title"]
    rows = persons[kinds == "email"]
    new = []
    for person in rows.tolist():
        domain = arrays["work_email"][person].split("@")[1]
        first = slug(people.at[person, "first"])
        last = slug(people.at[person, "last"])
        middle = people.at[person, "middle"].lower() or "x"
        address = f"{first}.{middle}.{last}@{domain}"
        if address == arrays["work_email"][person]:
            address = f"{first[:1]}{middle}{last}@{domain}"
        new.append(address)
    arrays["old_email"][rows] = arrays["work_email"][rows]
    arrays["work_email"][rows] = np.array(new, dtype=object)
    rows = persons[kinds == "phone"]
    arrays["old_phone"][rows] = arrays["work_phone"][rows]
    areas = np.array([p[:3] for p in arrays["work_phone"][rows]], dtype=object)
    arrays["work_phone"][rows] = phone_numbers(rng, areas)
    arrays["extension"][rows] = ""
    for column, values in arrays.items():
        people[column] = pd.Series(values, index=people.index, dtype=object)
    return kinds


def refresh_crm_rows(
    world: World,
    table: pd.DataFrame,
    rows: np.ndarray,
    kinds: np.ndarray,
    when: np.ndarray,
    rng: np.random.Generator,
) -> None:
    """CRM records edited tonight: their email, phone and title are the person's current."""
    if not len(rows):
        return
    people = world.people
    person = table["_person"].to_numpy(dtype=np.int64)[rows]
    work = people["work_email"].to_numpy(dtype=object)[person]
    email_kind = table["_email_kind"].to_numpy(dtype=object)[rows]
    use_work = (email_kind == "work") | ((kinds == "email") & (work != ""))
    email = np.where(use_work, work, table["Email"].to_numpy(dtype=object)[rows])
    digits = people["work_phone"].to_numpy(dtype=object)[person]
    extension = people["extension"].to_numpy(dtype=object)[person]
    phone_kind = table["_phone_kind"].to_numpy(dtype=object)[rows]
    use_phone = (phone_kind == "work") | (kinds == "phone")
    styles = rng.integers(0, 4, len(rows)).astype(np.int64)
    written = phone_text(digits.astype(object), styles, extension.astype(object))
    has_title = table["_has_title"].to_numpy(dtype=bool)[rows] | (kinds == "title")
    title = np.where(has_title, people["title"].to_numpy(dtype=object)[person], "")
    _assign(
        table,
        rows,
        {
            "Email": email,
            "_email": email,
            "_email_kind": np.where(use_work, "work", email_kind).astype(object),
            "_old_email": np.zeros(len(rows), dtype=bool),
            "Phone": np.where(use_phone, written, table["Phone"].to_numpy(dtype=object)[rows]),
            "_phone_kind": np.where(use_phone, "work", phone_kind).astype(object),
            "_phone_digits": np.where(
                use_phone, digits, table["_phone_digits"].to_numpy(dtype=object)[rows]
            ),
            "_old_phone": np.zeros(len(rows), dtype=bool),
            "Title": title.astype(object),
            "_has_title": has_title,
            "_old_title": np.zeros(len(rows), dtype=bool),
        },
    )
    _stamp(table, rows, when, "salesforce", "LastModifiedDate")
