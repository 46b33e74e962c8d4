"""The demo's ``mdm.toml`` and the writers of its source files, one per format."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


@dataclass(frozen=True)
class _Source:
    """One demo source: how its file is written and how ``mdm.toml`` describes it."""

    name: str
    system: str
    entity: str
    format: str
    key: str
    mapping: tuple[tuple[str, str], ...]  # canonical attribute -> column
    comment: tuple[str, ...]
    last_modified: str
    deleted_flag: str = ""
    account_source: str = ""
    encoding: str = "utf-8"
    delimiter: str = ","
    default_region: str = "US"

    @property
    def path(self) -> str:
        extension = {"csv": "csv", "jsonl": "jsonl", "parquet": "parquet"}[self.format]
        return f"data/{self.name}.{extension}"

    def write(self, table: pd.DataFrame, path: Path) -> None:
        if self.format == "csv":
            table.to_csv(
                path, index=False, sep=self.delimiter, encoding=self.encoding, lineterminator="\n"
            )
        elif self.format == "jsonl":
            _write_jsonl(table, path)
        else:
            _write_parquet(table, path)

    def toml(self) -> str:
        settings: list[tuple[str, str]] = [
            ("name", self.name),
            ("system", self.system),
            ("entity", self.entity),
            ("format", self.format),
            ("path", self.path),
        ]
        if self.encoding != "utf-8":
            settings.append(("encoding", self.encoding))
        if self.delimiter != ",":
            settings.append(("delimiter", self.delimiter))
        settings += [("key", self.key), ("last_modified", self.last_modified)]
        if self.deleted_flag:
            settings.append(("deleted_flag", self.deleted_flag))
        settings.append(("default_region", self.default_region))
        if self.account_source:
            settings.append(("account_source", self.account_source))
        lines = ["", *(f"# {line}" for line in self.comment), "[[sources]]"]
        lines += [f"{key} = {_toml_string(value)}" for key, value in settings]
        lines += ["", "[sources.mapping]"]
        lines += [f"{attribute} = {_toml_string(column)}" for attribute, column in self.mapping]
        return "\n".join(lines) + "\n"


def _toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


SOURCES: tuple[_Source, ...] = (
    _Source(
        name="crm_accounts",
        system="CRM",
        entity="account",
        format="csv",
        key="Id",
        last_modified="LastModifiedDate",
        deleted_flag="IsDeleted",
        comment=(
            "Sales CRM accounts (a Salesforce export). About 8% are duplicates keyed by other",
            "reps: other spellings, missing fields; merged-away ones are flagged IsDeleted.",
        ),
        mapping=(
            ("name", "Name"),
            ("domain", "Website"),
            ("phone", "Phone"),
            ("street", "BillingStreet"),
            ("city", "BillingCity"),
            ("region", "BillingState"),
            ("postcode", "BillingPostalCode"),
            ("country", "BillingCountry"),
        ),
    ),
    _Source(
        name="erp_customers",
        system="ERP",
        entity="account",
        format="csv",
        key="KUNNR",
        last_modified="CHANGED_ON",
        encoding="latin-1",
        delimiter=";",
        default_region="DE",
        comment=(
            "ERP customer master (finance, run from Germany): upper-case, abbreviated names",
            "of at most 35 characters, VAT numbers, ISO country codes. Latin-1, semicolons.",
        ),
        mapping=(
            ("name", "NAME1"),
            ("tax_id", "VAT_NO"),
            ("phone", "TEL"),
            ("street", "STREET"),
            ("city", "CITY"),
            ("region", "REGION"),
            ("postcode", "POST_CODE"),
            ("country", "COUNTRY"),
        ),
    ),
    _Source(
        name="crm_contacts",
        system="CRM",
        entity="contact",
        format="csv",
        key="Id",
        last_modified="LastModifiedDate",
        deleted_flag="IsDeleted",
        account_source="crm_accounts",
        comment=(
            "Sales CRM contacts; AccountId points into crm_accounts (sometimes at a duplicate).",
            "Mailing* columns are kept in the file but not mapped: contacts have no address.",
        ),
        mapping=(
            ("first_name", "FirstName"),
            ("last_name", "LastName"),
            ("email", "Email"),
            ("phone", "Phone"),
            ("mobile", "MobilePhone"),
            ("title", "Title"),
            ("account_key", "AccountId"),
        ),
    ),
    _Source(
        name="marketing_leads",
        system="Marketing",
        entity="contact",
        format="jsonl",
        key="lead_id",
        last_modified="updated_at",
        comment=(
            "Marketing list from web forms: personal emails, nicknames, free-text company",
            "names and no account key.",
        ),
        mapping=(
            ("first_name", "first"),
            ("last_name", "last"),
            ("email", "email"),
            ("phone", "phone"),
            ("title", "job_title"),
            ("company", "company"),
        ),
    ),
    _Source(
        name="support_contacts",
        system="Support",
        entity="contact",
        format="parquet",
        key="contact_id",
        last_modified="modified",
        account_source="crm_accounts",
        comment=(
            "Support desk contacts: one name field split at the first space, org_key is the",
            "CRM account Id where the agent linked one. Phones here are often the newest.",
        ),
        mapping=(
            ("first_name", "first_name"),
            ("last_name", "last_name"),
            ("email", "email"),
            ("phone", "phone"),
            ("company", "organization"),
            ("account_key", "org_key"),
        ),
    ),
)


def project_toml(*, accounts: int = 600, seed: int = 7) -> str:
    """The demo's ``mdm.toml``: the five sources, their mappings, the store and the paths."""
    header = (
        f"# An mdm demo project: {accounts} organisations and their people as five systems\n"
        f"# see them, written by `mdm demo` (seed {seed}). truth/ says which records are the\n"
        "# same real-world organisation or person.\n"
        "\n"
        "[project]\n"
        'name = "demo"\n'
        "\n"
        "[store]\n"
        'url = "sqlite:///mdm.db"\n'
        "\n"
        "[paths]\n"
        'rules = "rules"\n'
        'exports = "exports"\n'
    )
    return header + "".join(source.toml() for source in SOURCES)


def write_csv(table: pd.DataFrame, path: Path) -> None:
    table.to_csv(path, index=False, encoding="utf-8", lineterminator="\n")


def _write_jsonl(table: pd.DataFrame, path: Path) -> None:
    columns = [str(column) for column in table.columns]
    # pandas reads None in a string column as missing (NaN); JSON wants null.
    values = [
        [None if pd.isna(value) else value for value in table[column].tolist()]
        for column in columns
    ]
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for row in zip(*values, strict=True):
            handle.write(json.dumps(dict(zip(columns, row, strict=True)), ensure_ascii=False))
            handle.write("\n")


def _write_parquet(table: pd.DataFrame, path: Path) -> None:
    schema = pa.schema(
        [
            (str(column), pa.int64())
            if str(column) == "contact_id"
            else (str(column), pa.timestamp("us", tz="UTC"))
            if str(column) == "modified"
            else (str(column), pa.string())
            for column in table.columns
        ]
    )
    pq.write_table(pa.Table.from_pandas(table, schema=schema, preserve_index=False), path)
