"""1. Membership: each live record in exactly one active golden record. 2. Golden members:
each active golden record has the members it says, and is not also merged away."""

from __future__ import annotations

import pandas as pd

from mdm.invariants.found import ACTIVE, Found, Invariant, Violation, dict_rows, record_ref
from mdm.invariants.tables import Tables, status_of


def check_membership(read: Tables) -> list[Violation]:
    found = Found(Invariant.MEMBERSHIP, read.entity)
    joined = read.current.merge(read.xref, on=["source", "source_key"], how="outer", indicator=True)
    # Keys loaded since the last resolution are as that resolution left them.
    settled = ~joined["pending"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    deleted = joined["deleted"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    side = joined["_merge"].astype(str)
    for row in dict_rows(joined[settled & ~deleted & side.eq("left_only").to_numpy()]):
        ref = record_ref(row["source"], row["source_key"])
        found.add([ref], f"{ref} is a live record (record {row['id']}) in no golden record.")
    for row in dict_rows(joined[side.eq("right_only").to_numpy()]):
        ref = record_ref(row["source"], row["source_key"])
        found.add(
            [ref, row["golden_id"]], f"The xref puts {ref} in {row['golden_id']}: no such record."
        )
    both = settled & side.eq("both").to_numpy()
    for row in dict_rows(joined[both & deleted]):
        ref = record_ref(row["source"], row["source_key"])
        found.add(
            [ref, row["golden_id"]], f"{ref} is deleted but still a member of {row['golden_id']}."
        )
    stale = both & ~deleted & joined["record_id"].ne(joined["id"]).to_numpy()
    for row in dict_rows(joined[stale]):
        ref = record_ref(row["source"], row["source_key"])
        found.add(
            [ref, row["golden_id"]],
            f"{ref} is in {row['golden_id']} as record {int(row['record_id'])}, which is not "
            f"its current version {int(row['id'])}.",
        )
    statuses = status_of(read, read.xref["golden_id"])
    for row in dict_rows(read.xref.assign(status=statuses)[statuses.ne(ACTIVE).to_numpy()]):
        ref = record_ref(row["source"], row["source_key"])
        what = "no golden record" if row["status"] == "missing" else row["status"]
        found.add(
            [ref, row["golden_id"]],
            f"{ref} is in {row['golden_id']}, which is {what}, not an active golden {read.entity}.",
        )
    return found.violations


def check_golden_members(read: Tables, redirects: pd.DataFrame) -> list[Violation]:
    found = Found(Invariant.GOLDEN_MEMBERS, read.entity)
    active = read.golden[read.golden["status"].eq(ACTIVE)]
    counted = read.xref.groupby("golden_id").size().reindex(active.index).fillna(0)
    redirected = redirects.set_index("from_id")["to_id"]
    for golden_id, members, said in zip(
        active.index, counted.astype("int64"), active["members"].astype("int64"), strict=True
    ):
        if members == 0:
            found.add([golden_id], f"{golden_id} is an active golden record without members.")
        elif members != said:
            found.add(
                [golden_id], f"{golden_id} says it has {said} members; the xref has {members}."
            )
        if golden_id in redirected.index:
            found.add(
                [golden_id],
                f"{golden_id} is active and also merged away: it redirects to "
                f"{redirected[golden_id]}.",
            )
    return found.violations
