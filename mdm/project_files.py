"""A new project on disk: ``mdm.toml`` and a copy of the default ``rules/``."""

from __future__ import annotations

import shutil
from pathlib import Path

from mdm.config.load import PROJECT_FILE
from mdm.errors import MdmError, Reason

DEFAULT_RULES = Path(__file__).parent / "rules"

PROJECT_TEMPLATE = """\
# mdm project file. Paths are relative to this folder.

[project]
name = "{name}"

[store]
# SQLite file by default; PostgreSQL: "postgresql+psycopg://user@host:5432/db"
url = "sqlite:///mdm.db"

[paths]
rules = "rules"      # match and survivorship rules (copied from mdm's defaults)
exports = "exports"  # where `mdm run` writes the golden records

# One [[sources]] table per extract. Uncomment and adapt:
#
# [[sources]]
# name = "crm_accounts"          # unique name, used in xref and lineage
# system = "CRM"                 # the system it comes from (used by source_priority rules)
# entity = "account"             # account | contact
# format = "csv"                 # csv | parquet | jsonl | sql
# path = "data/crm_accounts.csv"
# encoding = "utf-8"             # csv only
# delimiter = ","                # csv only
# key = "Id"                     # the record's key in its system
# last_modified = "LastModifiedDate"   # optional: ISO 8601 timestamps
# deleted_flag = "IsDeleted"     # optional: true/false
# mode = "full"                  # full: absent keys are deleted | delta: only changes
# default_region = "US"          # for phone numbers without a country code
#
# [sources.mapping]              # canonical attribute = "source column"
# name = "Name"
# domain = "Website"
# phone = "Phone"
# street = "BillingStreet"
# city = "BillingCity"
# postcode = "BillingPostalCode"
# country = "BillingCountry"
#
# A SQL source: format = "sql", url = "postgresql+psycopg://...", and table = "..." or query = "..."
# A contact source may name the account source its account keys refer to:
# account_source = "crm_accounts"
"""


def write_new_project(directory: Path, *, force: bool = False) -> None:
    project_file = directory / PROJECT_FILE
    if project_file.exists() and not force:
        raise MdmError(
            Reason.USAGE,
            f"{project_file} exists already. Use --force to overwrite it and its rules/.",
        )
    try:
        directory.mkdir(parents=True, exist_ok=True)
        project_file.write_text(PROJECT_TEMPLATE.format(name=directory.resolve().name))
        shutil.copytree(DEFAULT_RULES, directory / "rules", dirs_exist_ok=True)
    except OSError as error:
        raise MdmError(
            Reason.USAGE, f"Cannot write the project into {directory}: {error.strerror}."
        ) from error
