"""4. Lineage: every golden value has the lineage row that says where it came from, a member
record or an active pin; a golden contact's account is an active golden account."""

from __future__ import annotations

import json

import pandas as pd

from mdm.invariants.found import ACTIVE, KEEP_ALL, Found, Invariant, Violation, dict_rows
from mdm.invariants.tables import Tables, status_of
from mdm.schema import Entity, survived_attribute_names
from mdm.survivorship import STEWARD_PIN


def check_lineage(read: Tables, accounts: Tables) -> list[Violation]:
    found = Found(Invariant.LINEAGE, read.entity)
    active = read.golden[read.golden["status"].eq(ACTIVE)]
    _values_and_lineage(found, read, active)
    _lineage_sources(found, read)
    if read.entity is Entity.CONTACT:
        _account_links(found, active, accounts)
    return found.violations


def _values_and_lineage(found: Found, read: Tables, active: pd.DataFrame) -> None:
    """Each golden value against its lineage rows, and each lineage row against its value."""
    attributes = survived_attribute_names(read.entity)
    if read.entity is Entity.CONTACT:
        attributes = [*attributes, "account_id"]
    values = (
        active[attributes]
        .rename_axis("golden_id")
        .reset_index()
        .melt(id_vars="golden_id", var_name="attribute", value_name="golden")
        .dropna(subset=["golden"])
    )
    lineage = read.lineage.assign(kept=read.lineage["rule"].eq(KEEP_ALL))
    cells: dict[tuple[str, str], tuple[list[str], bool]] = {}
    for golden_id, attribute, value, kept in zip(
        lineage["golden_id"], lineage["attribute"], lineage["value"], lineage["kept"], strict=True
    ):
        listed, all_kept = cells.get((str(golden_id), str(attribute)), ([], True))
        cells[(str(golden_id), str(attribute))] = ([*listed, str(value)], all_kept and bool(kept))
    for golden_id, attribute, golden in zip(
        values["golden_id"], values["attribute"], values["golden"], strict=True
    ):
        listed, kept = cells.pop((str(golden_id), str(attribute)), ([], False))
        problem = _cell_problem(str(golden), sorted(listed), kept)
        if problem:
            found.add([golden_id], f"{golden_id}.{attribute} {problem}.")
    for (golden_id, attribute), (listed, _) in sorted(cells.items()):
        found.add(
            [golden_id],
            f"{golden_id}.{attribute} has {len(listed)} lineage rows ({json.dumps(listed)}) but "
            "no golden value, or its golden record is not active.",
        )


def _cell_problem(golden: str, listed: list[str], kept: bool) -> str | None:
    """What is wrong with one golden value and its lineage values, if anything."""
    if not listed:
        return f"is {golden!r}, with no lineage row saying where it came from"
    if kept:  # keep_all: the JSON array of the kept values
        try:
            array = json.loads(golden)
        except ValueError:
            array = None
        if not isinstance(array, list) or sorted(str(v) for v in array) != listed:
            return f"is {golden!r}, but its keep_all lineage keeps {json.dumps(listed)}"
        return None
    if len(listed) != 1:
        return f"is {golden!r}, with {len(listed)} lineage rows instead of one"
    if listed[0] != golden:
        return f"is {golden!r}, but its lineage says {listed[0]!r}"
    return None


def _lineage_sources(found: Found, read: Tables) -> None:
    """Each lineage row names a member record of its golden record, or is an active pin's."""
    members = set(zip(read.xref["golden_id"], read.xref["record_id"].astype("int64"), strict=True))
    pins = {
        (str(g), str(a)): str(v)
        for g, a, v in zip(
            read.pins["golden_id"], read.pins["attribute"], read.pins["value"], strict=True
        )
    }
    for row in dict_rows(read.lineage):
        golden_id, record_id = row["golden_id"], row["record_id"]
        cell = (str(golden_id), str(row["attribute"]))
        named = record_id is not None and not pd.isna(record_id)
        problem = None
        if row["rule"] == STEWARD_PIN:
            if named:
                problem = f"names record {int(record_id)}, but a steward pin has no record"
            elif cell not in pins:
                problem = "comes from a steward pin that is not active"
            elif pins[cell] != str(row["value"]):
                problem = f"differs from its active pin's value {pins[cell]!r}"
        elif not named:
            problem = f"(rule {row['rule']}) names no record"
        elif (golden_id, int(record_id)) not in members:
            problem = (
                f"comes from record {int(record_id)} (rule {row['rule']}), which is not a "
                f"member of {golden_id}"
            )
        if problem:
            found.add([golden_id], f"{'.'.join(cell)} = {row['value']!r} {problem}.")


def _account_links(found: Found, contacts: pd.DataFrame, accounts: Tables) -> None:
    linked = contacts["account_id"].dropna()
    statuses = status_of(accounts, linked)
    for golden_id, account, status in zip(linked.index, linked, statuses, strict=True):
        if status != ACTIVE:
            what = "no golden account" if status == "missing" else status
            found.add(
                [golden_id, account],
                f"{golden_id} belongs to account {account}, which is {what}, not an active "
                "golden account.",
            )
