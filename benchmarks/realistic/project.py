"""Write the realistic benchmark's project: eight extracts, nightly deltas, mdm.toml, truth.

``build_project(directory, companies=..., seed=..., nights=...)`` writes

* ``data/``: the first load, each file as its system exports it (CRM CSVs with ISO stamps, the
  ERP's latin-1 semicolon CSVs with compact stamps and names in two columns, marketing leads as
  JSON Lines with US dates, the support desk's CSV with one full-name column and epoch
  stamps, the acquired CRM with German dates);
* ``deliveries/night-K/``: night K's delta files (``night-0`` is the first load of the delta
  sources); ``apply_night`` copies them over ``data/`` before the run of that night;
* ``mdm.toml`` with mdm's mapping syntax and ``rules/`` (mdm's default rules, copied);
* ``truth/``: ``accounts.csv`` and ``contacts.csv`` (source, source_key, entity_id, live after
  the first load and after the last night), ``account_entities.csv`` and
  ``contact_entities.csv`` (each true entity's current values after the last night, its true
  account, family, brand and how its hard case was made) and ``hard_cases.json``.

``new_keys=False`` writes a project for an mdm without ``last_modified_format``, ``op_column``,
lists of columns in a mapping or ``full_name``: the generator then adds pre-joined, pre-parsed
and ISO-stamped helper columns (named ``_...``) and maps those instead.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.realistic import systems as S
from benchmarks.realistic.nights import DELTA_SOURCES, night_deltas
from benchmarks.realistic.textops import iso_seconds
from benchmarks.realistic.world import World, make_world, street_line

ROOT = Path(__file__).resolve().parents[2]

FILES = {
    "crm_accounts": "crm_accounts.csv",
    "erp_customers": "erp_customers.csv",
    "acq_accounts": "acq_accounts.csv",
    "crm_contacts": "crm_contacts.csv",
    "erp_contacts": "erp_contacts.csv",
    "marketing_leads": "marketing_leads.jsonl",
    "support_requesters": "support_requesters.csv",
    "acq_contacts": "acq_contacts.csv",
}
ENCODING = {"erp_customers": "latin-1", "erp_contacts": "latin-1"}
DELIMITER = {"erp_customers": ";", "erp_contacts": ";"}
KEY = {
    "crm_accounts": "Id",
    "erp_customers": "CUSTNO",
    "acq_accounts": "account_no",
    "crm_contacts": "Id",
    "erp_contacts": "CONTACTNO",
    "marketing_leads": "lead_id",
    "support_requesters": "requester_id",
    "acq_contacts": "contact_id",
}
STAMP = {  # column, named format or strftime pattern
    "crm_accounts": ("LastModifiedDate", "iso"),
    "erp_customers": ("LASTCHG", "%Y%m%d%H%M%S"),
    "acq_accounts": ("modified", "eu"),
    "crm_contacts": ("LastModifiedDate", "iso"),
    "erp_contacts": ("LASTCHG", "%Y%m%d%H%M%S"),
    "marketing_leads": ("updated", "us"),
    "support_requesters": ("updated_at", "epoch"),
    "acq_contacts": ("modified", "eu"),
}


@dataclass
class RealisticProject:
    directory: Path
    companies: int
    seed: int
    nights: int
    new_keys: bool
    hard_cases: dict[str, int] = field(default_factory=dict)
    records: dict[str, int] = field(default_factory=dict)  # live records per entity, finally

    def delivery(self, night: int) -> Path:
        return self.directory / "deliveries" / f"night-{night}"


def supports_new_keys() -> bool:
    """Whether this mdm reads last_modified_format, op_column, column lists and full_name."""
    from mdm.config.specs import SourceSpec
    from mdm.schema import Entity, attribute_names

    fields = SourceSpec.model_fields
    return (
        "op_column" in fields
        and "last_modified_format" in fields
        and "full_name" in attribute_names(Entity.CONTACT)
    )


def build_project(
    directory: Path,
    *,
    companies: int,
    seed: int,
    nights: int = 3,
    new_keys: bool | None = None,
) -> RealisticProject:
    """Generate the world, its extracts and nightly deltas, and write the project."""
    if new_keys is None:
        new_keys = supports_new_keys()
    directory.mkdir(parents=True, exist_ok=True)
    world = make_world(companies, seed, nights)
    rng = np.random.default_rng([seed, 10])
    makers = S.key_makers(seed)
    account_rows = S.account_rows(world, rng)
    accounts = S.render_accounts(world, account_rows, rng, makers)
    contact_rows = S.contact_rows(world, accounts, rng)
    contacts = S.render_all_contacts(world, contact_rows, rng, makers)
    for table in contacts.values():
        table["_live_initial"] = table["_live"].to_numpy()
    data = directory / "data"
    data.mkdir(exist_ok=True)
    for source, table in {**accounts, **contacts}.items():
        write_extract(table, source, data / FILES[source], new_keys)
    for source in DELTA_SOURCES:
        write_extract(contacts[source], source, _delivery(directory, 0) / FILES[source], new_keys)
    deltas: dict[str, int] = {"inserts": 0, "updates": 0, "deletes": 0}
    for night in range(1, nights + 1):
        night_rng = np.random.default_rng([seed, 100 + night])
        changes = night_deltas(world, contacts, accounts, makers, night, night_rng)
        for source, rows in changes.items():
            write_extract(rows, source, _delivery(directory, night) / FILES[source], new_keys)
            ops = rows["op"].value_counts()
            deltas["inserts"] += int(ops.get("I", 0))
            deltas["updates"] += int(ops.get("U", 0))
            deltas["deletes"] += int(ops.get("D", 0))
    for table in contacts.values():
        if "_live_initial" not in table:
            table["_live_initial"] = False
        table["_live_initial"] = table["_live_initial"].fillna(False).astype(bool)
    (directory / "mdm.toml").write_text(project_toml(new_keys), encoding="utf-8")
    shutil.copytree(ROOT / "mdm" / "rules", directory / "rules", dirs_exist_ok=True)
    truth = truth_frames(world, accounts, contacts)
    truth_dir = directory / "truth"
    truth_dir.mkdir(exist_ok=True)
    for name, frame in truth.items():
        write_csv(frame, truth_dir / f"{name}.csv", sep=",", encoding="utf-8", newline="\n")
    from benchmarks.realistic.hard_cases import count_hard_cases

    hard = count_hard_cases(world, accounts, contacts)
    hard.update({f"night_{key}": value for key, value in deltas.items()})
    (truth_dir / "hard_cases.json").write_text(json.dumps(hard, indent=1), encoding="utf-8")
    records = {
        "account": int(truth["accounts"]["live"].sum()),
        "contact": int(truth["contacts"]["live"].sum()),
    }
    return RealisticProject(directory, companies, seed, nights, new_keys, hard, records)


def _delivery(directory: Path, night: int) -> Path:
    path = directory / "deliveries" / f"night-{night}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def apply_night(project: RealisticProject | Path, night: int) -> list[str]:
    """Put night ``night``'s delta files where mdm.toml reads them; the sources changed."""
    directory = project.directory if isinstance(project, RealisticProject) else project
    delivered = directory / "deliveries" / f"night-{night}"
    changed = []
    for path in sorted(delivered.iterdir()):
        shutil.copyfile(path, directory / "data" / path.name)
        changed.append(path.name)
    return changed


# ---- writing the extracts ---------------------------------------------------------------------


def write_extract(table: pd.DataFrame, source: str, path: Path, new_keys: bool) -> None:
    """The visible columns of ``table`` as the source system writes its file."""
    visible = table[[c for c in table.columns if not c.startswith("_")]].copy()
    if not new_keys:
        visible = _legacy_columns(table, visible, source)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".jsonl":
        as_null = visible.astype(object).where(visible.astype(object) != "", None)
        as_null.to_json(path, orient="records", lines=True, force_ascii=False)
        return
    write_csv(
        visible,
        path,
        sep=DELIMITER.get(source, ","),
        encoding=ENCODING.get(source, "utf-8"),
        newline="\r\n" if source.startswith("erp") else "\n",
    )


def write_csv(table: pd.DataFrame, path: Path, sep: str, encoding: str, newline: str) -> None:
    """A CSV file of text columns, quoted where a value needs it (faster than to_csv on
    object columns: the rows are joined in C)."""
    special = (sep, '"', "\n", "\r")

    def quoted(values: list[str]) -> list[str]:
        whole = "\x00".join(values)
        if not any(c in whole for c in special):  # most columns: nothing to quote
            return values
        return [
            '"' + v.replace('"', '""') + '"'
            if sep in v or '"' in v or "\n" in v or "\r" in v
            else v
            for v in values
        ]

    columns = [quoted([str(v) for v in table[c].tolist()]) for c in table.columns]
    header = sep.join(quoted([str(c) for c in table.columns]))
    with open(path, "w", encoding=encoding, newline="") as out:
        out.write(header + newline)
        out.write(newline.join(map(sep.join, zip(*columns, strict=True))))
        if len(table):
            out.write(newline)


def _legacy_columns(table: pd.DataFrame, visible: pd.DataFrame, source: str) -> pd.DataFrame:
    """Helper columns for an mdm without the new mapping keys: ISO stamps, joined names and
    streets, parsed full names, a deleted flag from the operation."""
    visible["_modified_iso"] = [f"{t}Z" for t in iso_seconds(table["_stamp"].to_numpy())]
    if source == "erp_customers":
        visible["_name_joined"] = (visible["CUSTNAME"] + " " + visible["CUSTNAME2"]).str.strip()
        visible["_street_joined"] = (visible["STREET1"] + " " + visible["STREET2"]).str.strip()
    if source == "acq_accounts":
        visible["_street_joined"] = (
            visible["addr_line1"] + " " + visible["addr_line2"]
        ).str.strip()
    if "op" in visible:
        visible["_deleted"] = np.where(visible["op"] == "D", "true", "false")
    if source == "support_requesters":
        parts = [_naive_split(name) for name in visible["Full Name"]]
        visible["_first_name"] = [p[0] for p in parts]
        visible["_last_name"] = [p[1] for p in parts]
    return visible


def _naive_split(name: str) -> tuple[str, str]:
    words = [w for w in name.replace(".", " ").split() if w.lower() not in ("dr", "mr", "ms")]
    if "," in name:
        last, _, rest = name.partition(",")
        first = rest.replace(".", " ").split()
        return (first[0] if first else ""), last.strip()
    if len(words) >= 2:
        return words[0], words[-1]
    return (words[0] if words else ""), ""


# ---- mdm.toml ---------------------------------------------------------------------------------

_ACCOUNT_SOURCES: dict[str, dict[str, Any]] = {
    "crm_accounts": {
        "system": "CRM",
        "deleted_flag": "IsDeleted",
        "mapping": {
            "name": "Name", "domain": "Website", "phone": "Phone", "street": "BillingStreet",
            "city": "BillingCity", "region": "BillingState", "postcode": "BillingPostalCode",
            "country": "BillingCountry", "tax_id": "Tax_ID__c",
        },
    },
    "erp_customers": {
        "system": "ERP",
        "mapping": {
            "name": ["CUSTNAME", "CUSTNAME2"], "phone": "TELEPHONE",
            "street": ["STREET1", "STREET2"], "city": "CITY", "region": "STATE",
            "postcode": "ZIP", "country": "COUNTRY", "tax_id": "TAXID",
        },
    },
    "acq_accounts": {
        "system": "AcquiredCRM",
        "mapping": {
            "name": "company_name", "domain": "web", "phone": "tel",
            "street": ["addr_line1", "addr_line2"], "city": "town", "region": "state_province",
            "postcode": "zip", "country": "country_name",
        },
    },
}  # fmt: skip
_CONTACT_SOURCES: dict[str, dict[str, Any]] = {
    "crm_contacts": {
        "system": "CRM",
        "mode": "delta",
        "account_source": "crm_accounts",
        "mapping": {
            "first_name": "FirstName", "last_name": "LastName", "email": "Email",
            "phone": "Phone", "mobile": "MobilePhone", "title": "Title",
            "account_key": "AccountId",
        },
    },
    "erp_contacts": {
        "system": "ERP",
        "account_source": "erp_customers",
        "mapping": {
            "first_name": "FIRSTNAME", "last_name": "LASTNAME", "email": "EMAIL",
            "phone": "TELEPHONE", "account_key": "CUSTNO",
        },
    },
    "marketing_leads": {
        "system": "Marketing",
        "mapping": {
            "first_name": "first_name", "last_name": "last_name", "email": "email",
            "company": "company", "title": "job_title", "phone": "phone",
        },
    },
    "support_requesters": {
        "system": "Support",
        "mode": "delta",
        "mapping": {
            "full_name": "Full Name", "email": "email", "phone": "phone", "company": "company",
        },
    },
    "acq_contacts": {
        "system": "AcquiredCRM",
        "account_source": "acq_accounts",
        "mapping": {
            "first_name": "name_first", "last_name": "name_last", "email": "email",
            "phone": "direct_phone", "mobile": "cell", "title": "position",
            "account_key": "account_no",
        },
    },
}  # fmt: skip


def _toml_value(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value)


def project_toml(new_keys: bool = True) -> str:
    lines = [
        "# The realistic benchmark's project (benchmarks/realistic): eight extracts of five",
        "# systems, as each exports them.",
        "[project]",
        'name = "realistic"',
        "",
        "[store]",
        'url = "sqlite:///mdm.db"',
        "",
        "[paths]",
        'rules = "rules"',
        'exports = "exports"',
    ]
    for entity, sources in (("account", _ACCOUNT_SOURCES), ("contact", _CONTACT_SOURCES)):
        for name, spec in sources.items():
            mapping = dict(spec["mapping"])
            column, fmt = STAMP[name]
            lines += ["", "[[sources]]", f'name = "{name}"', f'system = "{spec["system"]}"']
            lines += [f'entity = "{entity}"']
            fmt_name = "jsonl" if FILES[name].endswith(".jsonl") else "csv"
            lines += [f'format = "{fmt_name}"', f'path = "data/{FILES[name]}"']
            if name in ENCODING:
                lines += [f'encoding = "{ENCODING[name]}"', f'delimiter = "{DELIMITER[name]}"']
            lines += [f'key = "{KEY[name]}"']
            if new_keys:
                lines += [
                    f'last_modified = "{column}"',
                    f"last_modified_format = {_toml_value(fmt)}",
                ]
            else:
                lines += ['last_modified = "_modified_iso"']
            if "deleted_flag" in spec:
                lines += [f'deleted_flag = "{spec["deleted_flag"]}"']
            if spec.get("mode") == "delta":
                lines += ['mode = "delta"']
                lines += (
                    ['op_column = "op"', 'op_delete = ["D"]']
                    if new_keys
                    else ['deleted_flag = "_deleted"']
                )
            if "account_source" in spec:
                lines += [f'account_source = "{spec["account_source"]}"']
            if not new_keys:
                mapping = _legacy_mapping(name, mapping)
            lines += ["[sources.mapping]"]
            lines += [f"{key} = {_toml_value(value)}" for key, value in mapping.items()]
    return "\n".join(lines) + "\n"


def _legacy_mapping(name: str, mapping: dict[str, Any]) -> dict[str, Any]:
    out = dict(mapping)
    if name == "erp_customers":
        out["name"] = "_name_joined"
    if isinstance(out.get("street"), list):
        out["street"] = "_street_joined"
    if "full_name" in out:
        del out["full_name"]
        out = {"first_name": "_first_name", "last_name": "_last_name", **out}
    return out


# ---- truth ------------------------------------------------------------------------------------


def truth_frames(
    world: World, accounts: dict[str, pd.DataFrame], contacts: dict[str, pd.DataFrame]
) -> dict[str, pd.DataFrame]:
    def records(tables: dict[str, pd.DataFrame], initial: bool) -> pd.DataFrame:
        parts = []
        for source, table in tables.items():
            part = pd.DataFrame(
                {
                    "source": source,
                    "source_key": table[KEY[source]].astype(str).to_numpy(),
                    "entity_id": table["_entity"].to_numpy(),
                    "live": table["_live"].to_numpy(dtype=bool),
                }
            )
            part["live_initial"] = (
                table["_live_initial"].to_numpy(dtype=bool) if initial else part["live"]
            )
            parts.append(part)
        return pd.concat(parts, ignore_index=True)

    companies = world.companies
    people = world.people
    streets = [
        street_line(no, name, int(t), False) + (f", {suite}" if suite else "")
        for no, name, t, suite in zip(
            companies["street_number"], companies["street_name"], companies["street_type"],
            companies["suite"], strict=True,
        )
    ]  # fmt: skip
    moved = companies["moved"].to_numpy(dtype=bool)
    old_streets = [
        street_line(no, name, int(t), False) + (f", {suite}" if suite else "")
        for no, name, t, suite in zip(
            companies["old_street_number"], companies["old_street_name"],
            companies["old_street_type"], companies["old_suite"], strict=True,
        )
    ]  # fmt: skip
    account_entities = pd.DataFrame(
        {
            "entity_id": companies["entity_id"],
            "name": companies["name"],
            "domain": companies["domain"],
            "phone": "+1" + companies["phone"],
            "street": streets,
            "city": companies["city"],
            "region": companies["state"],
            "postcode": companies["zip5"],
            "country": "US",
            "tax_id": companies["ein"],
            "brand": companies["brand"],
            "company_owned": companies["company_owned"],
            "moved": companies["moved"],
            # The address before the move (moved organisations only), for the error analysis.
            "old_street": np.where(moved, old_streets, ""),
            "old_city": np.where(moved, companies["old_city"], ""),
            "old_region": np.where(moved, companies["old_state"], ""),
            "old_postcode": np.where(moved, companies["old_zip5"], ""),
        }
    )
    company = people["company"].to_numpy()
    partner = people["partner"].to_numpy()
    contact_entities = pd.DataFrame(
        {
            "entity_id": people["entity_id"],
            "account_entity": people["account_entity"],
            "first_name": people["first"],
            "middle_name": people["middle"],
            "last_name": people["last"],
            "email": np.where(
                people["work_email"] != "", people["work_email"], people["personal_email"]
            ),
            "phone": "+1" + people["work_phone"],
            "mobile": np.where(people["mobile"] != "", "+1" + people["mobile"], ""),
            "title": people["title"],
            "company": companies["name"].to_numpy()[company],
            "family": people["entity_id"].to_numpy()[people["family"].to_numpy()],
            "relation": people["relation"],
            "partner": np.where(
                partner >= 0, people["entity_id"].to_numpy()[np.maximum(partner, 0)], ""
            ),
            "hired_night": people["hired_night"],
            # Values a record may hold instead of the current one, for the error analysis.
            "personal_email": people["personal_email"],
            "old_email": people["old_email"],
            "old_phone": np.where(people["old_phone"] != "", "+1" + people["old_phone"], ""),
            "home_phone": np.where(people["home_phone"] != "", "+1" + people["home_phone"], ""),
            "switchboard": "+1" + companies["phone"].to_numpy()[company],
            "old_title": people["old_title"],
        }
    )
    return {
        "accounts": records(accounts, initial=False),
        "contacts": records(contacts, initial=True),
        "account_entities": account_entities,
        "contact_entities": contact_entities,
    }


def read_truth(directory: Path) -> dict[str, pd.DataFrame]:
    def read(name: str) -> pd.DataFrame:
        return pd.read_csv(directory / "truth" / f"{name}.csv", dtype=str, keep_default_na=False)

    out = {
        name: read(name)
        for name in ("accounts", "contacts", "account_entities", "contact_entities")
    }
    for name in ("accounts", "contacts"):
        for column in ("live", "live_initial"):
            out[name][column] = out[name][column] == "True"
    return out


def read_hard_cases(directory: Path) -> dict[str, int]:
    data: dict[str, int] = json.loads((directory / "truth" / "hard_cases.json").read_text())
    return data
