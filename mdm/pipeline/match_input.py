"""A scope's records as the matcher takes them, and what matching and relating learn about
golden accounts from the store, by key: the account a contact's account key names, the
accounts whose name or domain a contact shares (found in the record-key index)."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Connection

from mdm.config.specs import Project

# The account lookups are shared with the read models (``mdm.views`` explains a pair with them).
from mdm.record_keys import account_ids as account_ids
from mdm.record_keys import accounts_with as accounts_with
from mdm.record_keys import referred_accounts as referred_accounts
from mdm.schema import Entity, attribute_names


def match_input(
    connection: Connection, project: Project, entity: Entity, records: pd.DataFrame
) -> pd.DataFrame:
    """The records as the matcher and the index take them: record_id, source, the match keys
    and, for contacts, account_id."""
    frame = records[["source", *attribute_names(entity)]].assign(
        record_id=records["record_id"].astype("int64").to_numpy()
    )
    if entity is Entity.CONTACT:
        frame["account_id"] = account_ids(connection, project, records).to_numpy()
    return frame.reset_index(drop=True)
