"""Match before create reads one record without a frame: its blocking key texts are exactly
the ones a run's frame gives that record (``block_key_texts``), so its candidates are the
records a nightly delta would compare it with."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pandas as pd
import pytest

from mdm.config.load import load_project
from mdm.demo import generate_demo
from mdm.matching.block import block_key_texts, record_block_key_texts
from mdm.project_files import DEFAULT_RULES
from mdm.record_keys import work_email_domain, work_email_domains
from mdm.schema import Entity

# Match keys as a run stores them, with the cases that make keys differ: several words, a
# word repeated, one-letter words, a missing value, an empty one, accents.
POOLS = {
    Entity.ACCOUNT: {
        "name": ["acme corp", "acme", "united widgets gmbh", "o neil o neil sons", "a", "", None],
        "domain": ["acme.com", "widgets.de", None],
        "phone": ["+12122565021", "+33177797824", None],
        "street": ["12 north main st", "rue de la paix 4", None],
        "city": ["new york", "sao paulo", None],
        "region": ["ny", "by", None],
        "postcode": ["06982", "75002", "sw1a 1aa", None],
        "country": ["US", "DE", "FR", None],
        "tax_id": ["DE136695976", "123456789", None],
    },
    Entity.CONTACT: {
        "first_name": ["anne marie", "anne", "jose", "li", "a", "", None],
        "middle_name": ["j", None],
        "last_name": ["o neil", "müller", "li", "van der berg", "", None],
        "email": ["anne@acme.com", "jose.li@widgets.de", None],
        "phone": ["+12122565021", "+33177797824", None],
        "mobile": ["+12122565022", None],
        "title": ["cfo", None],
        "company": ["acme corp", "united widgets", None],
        "account_id": ["G-1", "G-2", None],
    },
}


@pytest.mark.parametrize("entity", [Entity.ACCOUNT, Entity.CONTACT])
def test_one_records_block_keys_are_its_rows_keys_in_a_frame(
    entity: Entity, tmp_path: Path
) -> None:
    generate_demo(tmp_path, accounts=5, seed=1, faults=False)
    shutil.copytree(DEFAULT_RULES, tmp_path / "rules")
    spec = load_project(tmp_path).rules.match[entity]
    rng = random.Random(11)
    rows = [{name: rng.choice(pool) for name, pool in POOLS[entity].items()} for _ in range(400)]
    frame = pd.DataFrame(rows).astype("string")
    texts = block_key_texts(frame, spec)
    by_row = texts.groupby("row")["key"].agg(set).to_dict()
    for row, record in enumerate(rows):
        one = record_block_key_texts(record, spec)
        assert len(one) == len(set(one))
        assert set(one) == by_row.get(row, set()), record
    assert len(texts) > 2 * len(rows)  # the rules made keys, several per record


def test_one_addresss_work_domain_is_what_a_column_of_them_gives() -> None:
    emails = [
        "Anne@ACME.com",
        "anne@mail.acme.co.uk",
        "jo@gmail.com",
        "jo@GMAIL.COM ",
        "x@yahoo.fr",
        "not an address",
        "@",
        "",
        None,
    ]
    column = work_email_domains(pd.Series(emails, dtype="string"))
    assert [work_email_domain(email) for email in emails] == [
        None if pd.isna(value) else value for value in column.tolist()
    ]
    assert work_email_domain("Anne@ACME.com") == "acme.com"
    assert work_email_domain("jo@gmail.com") is None
