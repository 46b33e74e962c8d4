"""Where mdm goes wrong on the realistic data: its wrong pairs by kind.

After a run (``bench_realistic.py`` leaves no project behind; build one and run it with
``mdm run``, applying the nights, or keep ``--keep DIR``), on a project directory:

    .venv/bin/python -m benchmarks.realistic.errors PROJECT_DIR [--night K]

It reads ``exports/xref.csv``, the truth and the live records (in match form) and prints, per
entity, the false-positive record pairs (two true entities in one golden record) by how the
two are related (relatives, colleagues, name twins, brand siblings, namesakes, ...) and the
false-negative record pairs (one true entity split over golden records) by what differs
between the two records (personal vs work email, a stale email, a nickname, a typo, an old
address, an abbreviated ERP name, ...). Counts are record pairs, as pairwise precision and
recall count them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from itertools import combinations
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.realistic import vocab

PERSONAL_DOMAINS = frozenset(domain for domain, _ in vocab.PERSONAL_MAIL)
_NICKNAME_GROUPS: dict[str, set[int]] = {}
for _group, (_formal, _nicks) in enumerate(vocab.NICKNAMES.items()):
    for _name in (_formal, *_nicks):
        _NICKNAME_GROUPS.setdefault(_name.lower(), set()).add(_group)

RELATION_NAMES = {
    "family_business": "relatives_family_business",
    "relatives": "relatives_other_employer",
    "same_first_name": "colleagues_same_first_name",
    "twins_same_company": "name_twins_same_company",
    "twins_elsewhere": "name_twins_other_company",
}


def _nickname(a: str, b: str) -> bool:
    return bool(_NICKNAME_GROUPS.get(a, set()) & _NICKNAME_GROUPS.get(b, set()))


def _text(value: Any) -> str:
    return "" if value is None or pd.isna(value) else str(value)


# ---- false positives --------------------------------------------------------------------------


def _false_positive_pairs(frame: pd.DataFrame) -> Counter[tuple[str, str]]:
    """(entity, entity) -> record pairs, for the entities sharing a golden record."""
    pairs: Counter[tuple[str, str]] = Counter()
    counts = frame.groupby(["golden_id", "entity_id"]).size()
    for _, per_entity in counts.groupby(level=0):
        if len(per_entity) < 2:
            continue
        items = [(index[1], int(n)) for index, n in per_entity.items()]
        for (a, na), (b, nb) in combinations(items, 2):
            pairs[(min(a, b), max(a, b))] += na * nb
    return pairs


def contact_false_positives(frame: pd.DataFrame, people: pd.DataFrame) -> dict[str, int]:
    from benchmarks.realistic.scoring import match_form

    truth = people.set_index("entity_id")
    first = match_form("contact", "first_name", truth["first_name"])
    last = match_form("contact", "last_name", truth["last_name"])
    out: Counter[str] = Counter()
    for (a, b), n in _false_positive_pairs(frame).items():
        pa, pb = truth.loc[a], truth.loc[b]
        if pa["partner"] == b and pa["relation"] in RELATION_NAMES:
            kind = RELATION_NAMES[pa["relation"]]
        elif pa["family"] == pb["family"]:
            kind = "relatives_other"
        elif first[a] == first[b] and last[a] == last[b]:
            same = pa["account_entity"] == pb["account_entity"]
            kind = "name_twins_same_company_natural" if same else "name_twins_other_company_natural"
        elif pa["account_entity"] == pb["account_entity"]:
            kind = "colleagues_other" + ("_same_surname" if last[a] == last[b] else "")
        elif last[a] == last[b]:
            kind = "same_surname_other_company"
        else:
            kind = "other"
        out[kind] += n
    return dict(out.most_common())


def account_false_positives(frame: pd.DataFrame, companies: pd.DataFrame) -> dict[str, int]:
    from benchmarks.realistic.scoring import match_form

    truth = companies.set_index("entity_id")
    name = match_form("account", "name", truth["name"])
    out: Counter[str] = Counter()
    for (a, b), n in _false_positive_pairs(frame).items():
        ca, cb = truth.loc[a], truth.loc[b]
        if ca["brand"] != "-1" and ca["brand"] == cb["brand"]:
            kind = (
                "brand_locations_sharing_tax_id"
                if ca["company_owned"] == "True"
                else "brand_locations_franchise"
            )
        elif name[a] == name[b]:
            kind = "namesakes_same_name"
        elif ca["city"] == cb["city"]:
            kind = "other_same_city"
        else:
            kind = "other"
        out[kind] += n
    return dict(out.most_common())


# ---- false negatives --------------------------------------------------------------------------


def _split_pairs(frame: pd.DataFrame) -> list[tuple[pd.Series, pd.Series]]:
    """Record pairs of one entity in different golden records."""
    out = []
    split = frame.groupby("entity_id")["golden_id"].transform("nunique") > 1
    for _, rows in frame[split].groupby("entity_id"):
        records = [row for _, row in rows.iterrows()]
        for a, b in combinations(records, 2):
            if a["golden_id"] != b["golden_id"]:
                out.append((a, b))
    return out


def _email_evidence(a: pd.Series, b: pd.Series) -> str:
    ea, eb = _text(a["email"]), _text(b["email"])
    if not ea and not eb:
        return "no_email_either"
    if not ea or not eb:
        return "email_missing_on_one_side"
    if ea == eb:
        return "same_email"
    personal = [e.rsplit("@", 1)[-1] in PERSONAL_DOMAINS for e in (ea, eb)]
    if personal[0] != personal[1]:
        return "personal_vs_work_email"
    if not personal[0]:
        return "two_work_emails" + (
            "_same_domain" if ea.split("@")[-1] == eb.split("@")[-1] else ""
        )
    return "two_personal_emails"


def _name_evidence(a: pd.Series, b: pd.Series) -> str:
    fa, fb = _text(a["first_name"]), _text(b["first_name"])
    la, lb = _text(a["last_name"]), _text(b["last_name"])
    if fa == fb and la == lb:
        return "same_names"
    if la == lb and _nickname(fa.split(" ")[0], fb.split(" ")[0]):
        return "nickname"
    support = "support_requesters" in (a["source"], b["source"])
    if support and (fa, la) != (fb, lb) and {fa, la} == {fb, lb}:
        return "full_name_parsed_swapped"
    if la == lb or fa == fb:
        return "one_name_differs"
    return "both_names_differ"


def contact_false_negatives(frame: pd.DataFrame) -> dict[str, Any]:
    by_email: Counter[str] = Counter()
    by_name: Counter[str] = Counter()
    combined: Counter[str] = Counter()
    shared_phone = 0
    by_sources: Counter[str] = Counter()
    by_account: Counter[str] = Counter()
    for a, b in _split_pairs(frame):
        email, name = _email_evidence(a, b), _name_evidence(a, b)
        if "account_id" in frame.columns:
            ka, kb = _text(a["account_id"]), _text(b["account_id"])
            by_account[
                "same_account"
                if ka and ka == kb
                else "different_accounts"
                if ka and kb
                else "account_unknown_on_a_side"
            ] += 1
        by_email[email] += 1
        by_name[name] += 1
        combined[f"{email} + {name}"] += 1
        by_sources[" / ".join(sorted((a["source"], b["source"])))] += 1
        phones = {_text(a["phone"]), _text(a["mobile"])} - {""}
        if phones & ({_text(b["phone"]), _text(b["mobile"])} - {""}):
            shared_phone += 1
    return {
        "pairs": sum(by_email.values()),
        "by_email": dict(by_email.most_common()),
        "by_name": dict(by_name.most_common()),
        "top_combinations": dict(combined.most_common(10)),
        "by_sources": dict(by_sources.most_common(8)),
        "by_account": dict(by_account.most_common()),
        "sharing_a_phone": shared_phone,
    }


def account_false_negatives(frame: pd.DataFrame, companies: pd.DataFrame) -> dict[str, Any]:
    from benchmarks.realistic.scoring import match_form

    truth = companies.set_index("entity_id")
    street = match_form("account", "street", truth["street"])
    causes: Counter[str] = Counter()
    by_sources: Counter[str] = Counter()
    for a, b in _split_pairs(frame):
        entity = a["entity_id"]
        current = street[entity]
        old = [_text(r["street"]) != _text(current) and _text(r["street"]) != "" for r in (a, b)]
        names_differ = _text(a["name"]) != _text(b["name"])
        erp = "erp_customers" in (a["source"], b["source"])
        if truth.at[entity, "moved"] == "True" and (old[0] != old[1]):
            cause = "moved_old_address_on_one_side"
        elif names_differ and erp:
            cause = "erp_name_differs"
        elif names_differ:
            cause = "name_differs"
        elif _text(a["postcode"]) != _text(b["postcode"]):
            cause = "postcode_differs_or_missing"
        elif _text(a["street"]) != _text(b["street"]):
            cause = "street_differs"
        else:
            cause = "other"
        causes[cause] += 1
        by_sources[" / ".join(sorted((a["source"], b["source"])))] += 1
    return {
        "pairs": sum(causes.values()),
        "by_cause": dict(causes.most_common()),
        "by_sources": dict(by_sources.most_common(8)),
    }


# ---- golden values ----------------------------------------------------------------------------

# Per attribute: truth columns holding values a record may carry instead of the current one.
ALTERNATIVES: dict[tuple[str, str], dict[str, str]] = {
    ("contact", "email"): {"personal_email": "personal_email", "old_email": "stale_work_email"},
    ("contact", "phone"): {
        "old_phone": "stale_phone",
        "mobile": "mobile",
        "home_phone": "home_line",
        "switchboard": "switchboard",
    },
    ("contact", "title"): {"old_title": "stale_title"},
    ("account", "street"): {"old_street": "address_before_the_move"},
    ("account", "city"): {"old_city": "address_before_the_move"},
    ("account", "region"): {"old_region": "address_before_the_move"},
    ("account", "postcode"): {"old_postcode": "address_before_the_move"},
}


def golden_errors(
    entity: str,
    golden: pd.DataFrame,
    answer: pd.Series,
    truth_values: pd.DataFrame,
    records: pd.DataFrame,
    attributes: list[str],
) -> dict[str, dict[str, int]]:
    """Per attribute, the wrong golden values (where the true value was attainable) by what
    they are instead: a stale value, another kind of value (a personal email, a mobile), no
    value, or another value (a variant, a typo, another record's)."""
    from benchmarks.realistic.scoring import match_form, unprotect

    truth = truth_values.set_index("entity_id")
    entities = answer.index.intersection(truth.index)
    golden_by_id = golden.set_index("golden_id")
    out: dict[str, dict[str, int]] = {}
    for attribute in attributes:
        if attribute not in golden.columns or attribute not in truth.columns:
            continue
        true = match_form(entity, attribute, truth.loc[entities, attribute])
        held = records[["entity_id", attribute]].dropna()
        attainable = set(zip(held["entity_id"], held[attribute].astype(str), strict=True))
        shown = match_form(
            entity,
            attribute,
            unprotect(golden_by_id[attribute].reindex(answer.loc[entities].to_numpy())).set_axis(
                entities
            ),
        )
        alternatives = {
            label: match_form(
                entity, attribute if column != "old_title" else "title", truth.loc[entities, column]
            )
            for column, label in ALTERNATIVES.get((entity, attribute), {}).items()
            if column in truth.columns
        }
        counts: Counter[str] = Counter()
        for position, entity_id in enumerate(entities):
            value = true.iloc[position]
            if pd.isna(value) or (entity_id, str(value)) not in attainable:
                continue
            got = shown.iloc[position]
            if pd.notna(got) and got == value:
                continue
            if pd.isna(got):
                counts["missing"] += 1
                continue
            kind = next(
                (
                    label
                    for label, values in alternatives.items()
                    if pd.notna(values.iloc[position]) and values.iloc[position] == got
                ),
                "other_value",
            )
            counts[kind] += 1
        if counts:
            out[attribute] = dict(counts.most_common())
    return out


# ---- all of it --------------------------------------------------------------------------------


def breakdown(
    directory: Path,
    matched: dict[str, pd.DataFrame],
    truth: dict[str, pd.DataFrame],
    golden: dict[str, pd.DataFrame] | None = None,
) -> dict[str, Any]:
    """matched: per entity, the live records in match form with entity_id and golden_id (and,
    for contacts, account_id); golden: the exported accounts and contacts."""
    from benchmarks.realistic.mdm_job import ACCOUNT_ATTRIBUTES, CONTACT_ATTRIBUTES
    from benchmarks.realistic.scoring import majority

    accounts = matched["account"].dropna(subset=["golden_id"])
    contacts = matched["contact"].dropna(subset=["golden_id"])
    out: dict[str, Any] = {
        "account": {
            "false_positive_pairs": account_false_positives(accounts, truth["account_entities"]),
            "false_negatives": account_false_negatives(accounts, truth["account_entities"]),
        },
        "contact": {
            "false_positive_pairs": contact_false_positives(contacts, truth["contact_entities"]),
            "false_negatives": contact_false_negatives(contacts),
        },
    }
    if golden is not None:
        for entity, frame, values, attributes in (
            ("account", accounts, "account_entities", ACCOUNT_ATTRIBUTES),
            ("contact", contacts, "contact_entities", CONTACT_ATTRIBUTES),
        ):
            labels = frame[["source", "source_key", "golden_id"]].rename(
                columns={"golden_id": "label"}
            )
            answer = majority(labels, frame[["source", "source_key", "entity_id"]])
            out[entity]["wrong_golden_values"] = golden_errors(
                entity, golden[entity], answer, truth[values], frame, list(attributes)
            )
    return out


def analyse(directory: Path, night: int | None = None) -> dict[str, Any]:
    from benchmarks.realistic.mdm_job import contact_account_ids, read_exports
    from benchmarks.realistic.project import read_truth
    from benchmarks.realistic.records import match_records
    from mdm.config.load import load_project
    from mdm.schema import Entity

    project = load_project(directory)
    truth = read_truth(directory)
    xref = pd.read_csv(directory / "exports" / "xref.csv", dtype=str, keep_default_na=False)
    matched = {}
    for entity, records in (("account", "accounts"), ("contact", "contacts")):
        frame = match_records(project, Entity(entity), night)
        frame = frame.merge(
            truth[records][["source", "source_key", "entity_id"]], on=["source", "source_key"]
        )
        labels = xref[xref["entity"] == entity][["source", "source_key", "golden_id"]]
        matched[entity] = frame.merge(labels, on=["source", "source_key"], how="left")
    matched["contact"]["account_id"] = contact_account_ids(
        matched["contact"], matched["account"]
    ).to_numpy()
    exports = read_exports(directory / "exports")
    golden = {"account": exports["accounts"], "contact": exports["contacts"]}
    return breakdown(directory, matched, truth, golden)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("project", type=Path)
    parser.add_argument(
        "--night", type=int, default=None, help="the last night applied (default: the last)"
    )
    args = parser.parse_args(argv)
    print(json.dumps(analyse(args.project, args.night), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
