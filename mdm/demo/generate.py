"""Seeded demo data: five source systems describing the same organisations and people.

``generate_demo`` writes a ready-to-run project (the source extracts and ``mdm.toml``) and the
truth of which records are the same real-world entity, so that matching can be scored.

The world is made first (organisations, then the people who work there), then each system's
view of it, with that system's habits: the CRM's duplicates and free-typed fields, the ERP's
upper-case abbreviations in latin-1, the marketing list's personal emails, the support desk's
naively split names. Everything random comes from one ``numpy.random.default_rng(seed)``, drawn
in a fixed order, so the same seed gives byte-identical files. Work is done on whole arrays;
the remaining per-row Python is string formatting, linear in the number of records.

The parts: ``shares`` (how often each thing happens: tune the demo there), ``organisations``
and ``people`` (the world), ``written`` (values as systems write them), ``accounts`` and
``contacts`` (each system's table), ``project`` (``mdm.toml`` and the file writers).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mdm.config.specs import ProjectSpec
from mdm.demo.accounts import crm_account_ids, crm_account_table, erp_customer_table
from mdm.demo.arrays import Ints, Strs, strs
from mdm.demo.contacts import (
    crm_contact_table,
    draw_presence,
    marketing_lead_table,
    support_contact_table,
)
from mdm.demo.organisations import Orgs, draw_account_presence, draw_organisations
from mdm.demo.people import People, draw_people
from mdm.demo.project import SOURCES, project_toml, write_csv


@dataclass(frozen=True)
class DemoTruth:
    """Which true entity each source record describes."""

    accounts: pd.DataFrame  # source, source_key, entity_id ("ORG-00042")
    contacts: pd.DataFrame  # source, source_key, entity_id ("PER-00042"), account_entity_id


@dataclass(frozen=True)
class DemoData:
    """The five source tables as written (CSV tables hold "" for empty cells) and the truth."""

    tables: dict[str, pd.DataFrame]
    truth: DemoTruth


def generate_demo(
    directory: Path, *, accounts: int = 600, seed: int = 7, faults: bool = True
) -> DemoTruth:
    """Write a demo project into ``directory``: ``data/``, ``truth/`` and ``mdm.toml``.

    ``accounts`` is the number of true organisations; the files hold more account records
    (duplicates, two systems) and about four contact records per organisation. ``faults``
    appends the damage real extracts carry (a cut-off line, a row without its key, a row
    from a badly configured export), which mdm quarantines; those rows are not in the truth.
    """
    data = generate_tables(accounts=accounts, seed=seed)
    project = project_toml(accounts=accounts, seed=seed)
    ProjectSpec.model_validate(tomllib.loads(project))  # a bug here must never reach a user
    directory = Path(directory)
    (directory / "data").mkdir(parents=True, exist_ok=True)
    (directory / "truth").mkdir(parents=True, exist_ok=True)
    for source in SOURCES:
        source.write(data.tables[source.name], directory / source.path)
    if faults:
        _add_extract_faults(directory)
    write_csv(data.truth.accounts, directory / "truth" / "accounts.csv")
    write_csv(data.truth.contacts, directory / "truth" / "contacts.csv")
    (directory / "mdm.toml").write_text(project, encoding="utf-8")
    return data.truth


def _add_extract_faults(directory: Path) -> None:
    with (directory / "data" / "crm_contacts.csv").open("a", encoding="utf-8") as handle:
        handle.write(",0015g000009ZZZZ,Dana,Reyes,dana.reyes@example.com,,,,,,,,2024-05-02,false\n")
        handle.write("0035g000009ZZZY;Sam;Okafor;sam.okafor@example.com\n")
    with (directory / "data" / "marketing_leads.jsonl").open("a", encoding="utf-8") as handle:
        handle.write('{"lead_id": "L-99999", "first": "Ana", "last": "Mar\n')


def generate_tables(*, accounts: int = 600, seed: int = 7) -> DemoData:
    """The demo tables and their truth in memory (what ``generate_demo`` writes)."""
    if accounts < 1:
        raise ValueError(f"accounts must be at least 1, not {accounts}")
    rng = np.random.default_rng(seed)
    orgs = draw_organisations(rng, accounts)
    people = draw_people(rng, orgs)
    in_crm, in_erp = draw_account_presence(rng, orgs.n)
    crm_accounts, crm_orgs, crm_dups = crm_account_table(rng, orgs, in_crm)
    erp, erp_orgs = erp_customer_table(rng, orgs, in_erp)
    crm_ids = strs(crm_accounts["Id"].tolist())
    account_ids = crm_account_ids(orgs.n, crm_ids, crm_orgs, crm_dups)
    presence = draw_presence(rng, people, account_ids)
    crm_contacts, crm_people = crm_contact_table(rng, people, orgs, presence, account_ids)
    leads, lead_people = marketing_lead_table(rng, people, orgs, presence)
    support, support_people = support_contact_table(rng, people, orgs, presence, account_ids)
    tables = {
        "crm_accounts": crm_accounts,
        "erp_customers": erp,
        "crm_contacts": crm_contacts,
        "marketing_leads": leads,
        "support_contacts": support,
    }
    account_truth = pd.concat(
        [
            _truth("crm_accounts", crm_accounts["Id"], orgs.entity[crm_orgs]),
            _truth("erp_customers", erp["KUNNR"], orgs.entity[erp_orgs]),
        ],
        ignore_index=True,
    )
    contact_truth = pd.concat(
        [
            _person_truth("crm_contacts", crm_contacts["Id"], crm_people, people, orgs),
            _person_truth("marketing_leads", leads["lead_id"], lead_people, people, orgs),
            _person_truth("support_contacts", support["contact_id"], support_people, people, orgs),
        ],
        ignore_index=True,
    )
    return DemoData(tables, DemoTruth(account_truth, contact_truth))


# ---- truth ----------------------------------------------------------------------------------


def _truth(source: str, keys: pd.Series[Any], entities: Strs) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "source": np.full(len(keys), source, dtype=object),
            "source_key": strs([str(key) for key in keys]),
            "entity_id": entities,
        }
    )


def _person_truth(
    source: str, keys: pd.Series[Any], rows: Ints, people: People, orgs: Orgs
) -> pd.DataFrame:
    truth = _truth(source, keys, people.entity[rows])
    truth["account_entity_id"] = orgs.entity[people.org[rows]]
    return truth
