"""The run summary names the compared fields a source gives no column for."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from mdm import pipeline
from mdm.cli import app
from mdm.config import MatchSpec, load_project
from mdm.config.specs import SourceSpec
from mdm.match_keys import parse_keys
from mdm.pipeline.coverage import fields_not_given
from mdm.project_files import DEFAULT_RULES
from mdm.record_keys import account_ids
from mdm.schema import Entity
from mdm.store import golden, open_store, records

RULES = Path(__file__).parents[1] / "mdm" / "rules" / "match"


def contact_rules() -> MatchSpec:
    raw = tomllib.loads((RULES / "contact.toml").read_text(encoding="utf-8"))
    return MatchSpec.model_validate({"entity": "contact", **raw})


def source(**mapping: str) -> SourceSpec:
    return SourceSpec.model_validate(
        {
            "name": "support",
            "system": "Support",
            "entity": "contact",
            "format": "csv",
            "path": "support.csv",
            "key": "id",
            "mapping": mapping,
        }
    )


def test_a_full_name_gives_the_name_parts_and_a_company_the_account() -> None:
    support = source(full_name="Full Name", email="email", phone="phone", company="company")
    assert fields_not_given(support, contact_rules()) == ["mobile", "title"]


def test_a_source_with_names_only_is_matched_without_the_rest() -> None:
    names = source(first_name="first", last_name="last")
    # An email alone would give the account too (its work domain); here there is none.
    assert fields_not_given(names, contact_rules()) == [
        "email",
        "phone",
        "mobile",
        "account_id",
        "company",
        "title",
    ]


# ---- a contact's account from its work email ----------------------------------------------------

ACCOUNTS = """id,name,website,city
A1,Acme Tools,acme.com,Springfield
A2,Globex,globex.com,Shelbyville
B1,Brand Pizza Westside,brandpizza.com,Ogden
B2,Brand Pizza Southside,brandpizza.com,Ogden
"""
LEADS = """id,first,last,email
L1,Ann,Lee,ann.lee@acme.com
L2,Bob,Ray,bob.ray@gmail.com
L3,Cid,Moe,cid@brandpizza.com
L4,Dee,Fox,dee@mail.globex.com
L5,Eve,Kim,
"""
SOURCES = """
[[sources]]
name = "crm_accounts"
system = "CRM"
entity = "account"
format = "csv"
path = "accounts.csv"
key = "id"
[sources.mapping]
name = "name"
domain = "website"
city = "city"

[[sources]]
name = "leads"
system = "Marketing"
entity = "contact"
format = "csv"
path = "leads.csv"
key = "id"
[sources.mapping]
first_name = "first"
last_name = "last"
email = "email"
"""


def test_a_work_email_domain_names_the_contacts_account(tmp_path: Path, store_url: str) -> None:
    (tmp_path / "mdm.toml").write_text(f'[store]\nurl = "{store_url}"\n{SOURCES}')
    shutil.copytree(DEFAULT_RULES, tmp_path / "rules")
    (tmp_path / "accounts.csv").write_text(ACCOUNTS)
    (tmp_path / "leads.csv").write_text(LEADS)
    project = load_project(tmp_path)
    pipeline.run(project, export=False)
    store = open_store(project.store_url)
    with store.engine.connect() as connection:
        accounts = golden.xref_of_keys(
            connection,
            Entity.ACCOUNT,
            pd.DataFrame({"source": ["crm_accounts"] * 2, "source_key": ["A1", "A2"]}),
        ).set_index("source_key")["golden_id"]
        leads = records.current_ids_of_keys(
            connection,
            Entity.CONTACT,
            pd.DataFrame({"source": ["leads"] * 5, "source_key": [f"L{i}" for i in range(1, 6)]}),
        )
        keys = records.live_match_keys_of(connection, Entity.CONTACT, leads["record_id"].tolist())
        frame = pd.concat(
            [keys[["source", "source_key"]], parse_keys(Entity.CONTACT, keys["match_keys"])[0]],
            axis=1,
        )
        found = dict(zip(frame["source_key"], account_ids(connection, project, frame), strict=True))
    store.engine.dispose()
    assert found == {
        "L1": accounts["A1"],  # acme.com is Acme's
        "L2": pd.NA,  # a mailbox provider says nothing of the employer
        "L3": pd.NA,  # two branches share brandpizza.com: which one is not known
        "L4": accounts["A2"],  # a subdomain of globex.com
        "L5": pd.NA,  # no email
    }


def test_the_run_summary_names_what_a_source_is_matched_without(
    tmp_path: Path, store_url: str
) -> None:
    (tmp_path / "mdm.toml").write_text(f'[store]\nurl = "{store_url}"\n{SOURCES}')
    shutil.copytree(DEFAULT_RULES, tmp_path / "rules")
    (tmp_path / "accounts.csv").write_text(ACCOUNTS)
    (tmp_path / "leads.csv").write_text(LEADS)
    result = CliRunner().invoke(app, ["run", "-p", str(tmp_path)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    printed = " ".join(result.output.split())
    assert (
        "leads: matched without phone, mobile, company, title (compared by the contact rules; "
        "no column of the source is mapped)." in printed
    )
    # Accounts compare what the account source maps and more: each one is named.
    assert "crm_accounts: matched without phone, street, postcode, country, tax_id" in printed
