"""Clusters of source records -> stable golden ids.

A golden id, once given, keeps meaning the same entity:
- a cluster whose members already had a golden id keeps it;
- two golden records that now form one cluster merge: the older id survives, the other
  redirects to it;
- a golden record whose members now fall into several clusters splits: the part holding most
  of its members keeps the id, the others get new ids. Records a steward took out of it (an
  unmerge, a split) do not count: the id stays with the records the steward left in it;
- a golden id with no member left retires;
- a cluster that has no current id takes back an id its members had before, if that id is no
  longer in use (merged away or retired): the one most of them had, the older on a tie. So an
  undone merge gives the merged-away id back to its records, and a key that was deleted and
  comes back gets its old id back;
- a retired id whose records come back into a cluster that has another id redirects to it.
New ids are derived from the cluster's smallest member (source, key), so they do not depend on
input order or on the machine that computes them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Set
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mdm.schema import GOLDEN_ID_PREFIX, Entity

ID_HEX_DIGITS = 12
KEYS = ["source", "source_key"]
# The statuses of an id that a record's former membership can claim back.
REVIVABLE = frozenset({"merged", "retired"})


@dataclass(frozen=True)
class IdentityResult:
    golden_ids: pd.Series  # golden id per member row, aligned with the members' index
    redirects: pd.DataFrame  # from_id, to_id: ids merged away in this run
    retired: list[str]  # ids whose members are all gone
    created: list[str]  # ids minted in this run
    revived: list[str]  # merged-away or retired ids given back to their former members
    split_from: dict[str, str]  # minted id -> the id most of its members came from


def assign_golden_ids(
    entity: Entity,
    members: pd.DataFrame,
    previous: pd.DataFrame,
    age: pd.Series,
    taken: Set[str],
    former: pd.DataFrame | None = None,
    leaving: pd.DataFrame | None = None,
) -> IdentityResult:
    """Give every cluster a golden id.

    members: ``source``, ``source_key``, ``label`` (cluster label) per live record.
    previous: ``source``, ``source_key``, ``golden_id`` from the last run's xref.
    age: golden id -> creation order (smaller is older), for every previous and former id.
    taken: golden ids ever used (retired and redirected ones too), never reused. It needs only
      those among the ids this call mints (``created``): a caller that cannot know them all
      beforehand calls again, adding the minted ids it finds used, until none is; each call
      gives the same ids as a call given every used id at once.
    former: ``source``, ``source_key``, ``golden_id``, ``status``: the id each record belonged
      to before its current one (a record with no current id: its last one), where that id is
      no longer in use (``status`` merged or retired); such an id may be claimed back.
    leaving: ``source``, ``source_key``, ``golden_id``: records a steward took out of their
      golden id; they do not hold on to it.
    """
    keyed = members[["source", "source_key", "label"]].merge(
        previous[["source", "source_key", "golden_id"]], on=KEYS, how="left"
    )
    owner = _owners(_without(keyed, leaving))
    kept = _survivors(owner, age)
    labels = np.sort(members["label"].unique())
    orphans = labels[~np.isin(labels, kept.index)]
    claims = _claims(keyed, former, set(previous["golden_id"]))
    revived = _revive(claims, orphans, age)
    orphans = orphans[~np.isin(orphans, revived.index)]
    new_ids = _mint_ids(entity, members, orphans, taken)
    label_to_id = pd.concat([kept, revived, new_ids])
    redirects = pd.concat(
        [_redirects(owner, label_to_id, kept), _returned(claims, label_to_id, set(revived))],
        ignore_index=True,
    ).sort_values("from_id", ignore_index=True)
    assigned = members["label"].map(label_to_id)
    still_used = set(label_to_id) | set(redirects["from_id"])
    retired = sorted(set(previous["golden_id"]) - still_used)
    return IdentityResult(
        golden_ids=assigned.rename("golden_id"),
        redirects=redirects,
        retired=retired,
        created=sorted(new_ids),
        revived=sorted(revived),
        split_from=_split_origins(keyed, new_ids),
    )


def _without(keyed: pd.DataFrame, leaving: pd.DataFrame | None) -> pd.DataFrame:
    """``keyed`` with no previous id for the records leaving it."""
    if leaving is None or leaving.empty:
        return keyed
    marks = leaving[["source", "source_key", "golden_id"]].drop_duplicates().assign(leaves=True)
    found = keyed.merge(marks, on=[*KEYS, "golden_id"], how="left")["leaves"]
    leaves = found.fillna(False).to_numpy(dtype=bool)
    return keyed.assign(golden_id=keyed["golden_id"].where(~leaves))


def _claims(keyed: pd.DataFrame, former: pd.DataFrame | None, in_use: set[str]) -> pd.DataFrame:
    """label, claimed, status, returning: each member's claim on an id no longer in use;
    ``returning``: the record had no current id (it was deleted and came back)."""
    columns = ["label", "claimed", "status", "returning"]
    if former is None or former.empty:
        return pd.DataFrame({column: pd.Series(dtype=object) for column in columns})
    usable = former[former["status"].isin(REVIVABLE) & ~former["golden_id"].isin(in_use)]
    claims = keyed.merge(
        usable[["source", "source_key", "golden_id", "status"]].rename(
            columns={"golden_id": "claimed"}
        ),
        on=KEYS,
    )
    return claims.assign(returning=claims["golden_id"].isna())[columns]


def _revive(claims: pd.DataFrame, labels: np.ndarray, age: pd.Series) -> pd.Series:
    """label -> the id no longer in use that most of the cluster's members had (the older on a
    tie); each id to one cluster only, the one holding most of its former members."""
    mine = claims[claims["label"].isin(labels)]
    if mine.empty:
        return pd.Series([], dtype=object)
    counts = mine.groupby(["label", "claimed"]).size().rename("count").reset_index()
    counts["age"] = counts["claimed"].map(age).astype("float64").fillna(np.inf)
    counts = counts.sort_values(
        ["count", "age", "claimed", "label"], ascending=[False, True, True, True]
    )
    chosen: dict[int, str] = {}
    given: set[str] = set()
    for label, claimed in zip(counts["label"].tolist(), counts["claimed"].tolist(), strict=True):
        if label not in chosen and claimed not in given:
            chosen[int(label)] = str(claimed)
            given.add(str(claimed))
    return pd.Series(
        list(chosen.values()), index=np.array(list(chosen), dtype=np.int64), dtype=object
    )


def _returned(claims: pd.DataFrame, label_to_id: pd.Series, revived: set[str]) -> pd.DataFrame:
    """from_id, to_id: a retired id whose records came back into a cluster with another id
    points to that id (the cluster holding most of them)."""
    back = claims[
        claims["returning"].astype(bool)
        & (claims["status"] == "retired")
        & ~claims["claimed"].isin(revived)
    ]
    counts = back.groupby(["claimed", "label"]).size().rename("count").reset_index()
    counts = counts.sort_values(["claimed", "count", "label"], ascending=[True, False, True])
    best = counts.drop_duplicates("claimed")
    return pd.DataFrame(
        {
            "from_id": best["claimed"].to_numpy(dtype=object),
            "to_id": best["label"].map(label_to_id).to_numpy(dtype=object),
        }
    )


def _split_origins(keyed: pd.DataFrame, new_ids: pd.Series) -> dict[str, str]:
    if new_ids.empty:
        return {}
    came = keyed[keyed["label"].isin(new_ids.index)].dropna(subset=["golden_id"])
    counts = came.groupby(["label", "golden_id"]).size().rename("count").reset_index()
    counts = counts.sort_values(["label", "count", "golden_id"], ascending=[True, False, True])
    best = counts.drop_duplicates("label")
    return {
        str(new_ids[label]): str(origin)
        for label, origin in zip(best["label"], best["golden_id"], strict=True)
    }


def _owners(keyed: pd.DataFrame) -> pd.DataFrame:
    """For each previous id, the cluster holding most of its members (ties: lowest label)."""
    counts = (
        keyed.dropna(subset=["golden_id"])
        .groupby(["golden_id", "label"], sort=True)
        .size()
        .rename("count")
        .reset_index()
    )
    counts = counts.sort_values(["golden_id", "count", "label"], ascending=[True, False, True])
    return counts.drop_duplicates("golden_id")[["golden_id", "label"]]


def _survivors(owner: pd.DataFrame, age: pd.Series) -> pd.Series:
    """Per cluster owning previous ids, the oldest of them survives: label -> golden id."""
    ranked = owner.assign(age=owner["golden_id"].map(age).fillna(np.inf))
    ranked = ranked.sort_values(["label", "age", "golden_id"])
    first = ranked.drop_duplicates("label")
    return pd.Series(first["golden_id"].to_numpy(), index=first["label"].to_numpy(), dtype=object)


def _redirects(owner: pd.DataFrame, label_to_id: pd.Series, kept: pd.Series) -> pd.DataFrame:
    merged = owner[~owner["golden_id"].isin(set(kept))]
    frame = pd.DataFrame(
        {
            "from_id": merged["golden_id"].to_numpy(dtype=object),
            "to_id": merged["label"].map(label_to_id).to_numpy(dtype=object),
        }
    )
    return frame.sort_values("from_id", ignore_index=True)


def _mint_ids(
    entity: Entity,
    members: pd.DataFrame,
    labels: np.ndarray,
    taken: Set[str],
) -> pd.Series:
    """New ids from each cluster's smallest (source, key), salted on the rare collision."""
    if len(labels) == 0:
        return pd.Series([], dtype=object)
    subset = members[members["label"].isin(labels)]
    smallest = subset.sort_values(["source", "source_key"]).drop_duplicates("label")
    smallest = smallest.sort_values(["source", "source_key"])
    seeds = [
        f"{source}\x1f{key}"
        for source, key in zip(smallest["source"], smallest["source_key"], strict=True)
    ]
    ids = _derive_ids(entity, seeds, taken)
    return pd.Series(ids, index=smallest["label"].astype(int).to_numpy(), dtype=object)


def _derive_ids(entity: Entity, seeds: list[str], used: Set[str]) -> list[str]:
    ids: list[str] = []
    seen = set(used)
    for seed in seeds:
        golden_id = _derive_id(entity, seed, seen)
        seen.add(golden_id)
        ids.append(golden_id)
    return ids


def _derive_id(entity: Entity, seed: str, used: set[str]) -> str:
    salt = 0
    while True:
        text = seed if salt == 0 else f"{seed}\x1f{salt}"
        digest = hashlib.sha256(f"{entity}\x1f{text}".encode()).hexdigest()[:ID_HEX_DIGITS]
        candidate = f"{GOLDEN_ID_PREFIX[entity]}-{digest}"
        if candidate not in used:
            return candidate
        salt += 1


def resolve(golden_id: str, redirects: pd.DataFrame) -> str:
    """Follow redirects from a merged-away id to the id that answers for it now."""
    table = dict(zip(redirects["from_id"], redirects["to_id"], strict=True))
    seen = {golden_id}
    while golden_id in table:
        golden_id = table[golden_id]
        if golden_id in seen:
            break  # a cycle would be a bug; stop rather than loop
        seen.add(golden_id)
    return golden_id
