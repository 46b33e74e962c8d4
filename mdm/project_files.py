"""A new project on disk: ``mdm.toml`` and a copy of the default ``rules/``."""

from __future__ import annotations

import os
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


# What `mdm demo` writes into its folder. SQLite's side files go with the store: a stale
# journal left beside a new store would corrupt it.
DEMO_ENTRIES = (
    PROJECT_FILE,
    "mdm.db",
    "mdm.db-wal",
    "mdm.db-shm",
    "mdm.db-journal",
    "data",
    "truth",
    "rules",
    "exports",
    "reports",
)


def existing_demo_entries(directory: Path) -> list[Path]:
    """What a demo written into ``directory`` would delete or overwrite."""
    return [directory / name for name in DEMO_ENTRIES if os.path.lexists(directory / name)]


def remove_entries(paths: list[Path]) -> None:
    """Delete files and folders (a symlink itself, never what it points to)."""
    try:
        for path in paths:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
    except OSError as error:
        raise MdmError(
            Reason.USAGE, f"Cannot remove {error.filename}: {error.strerror}."
        ) from error
