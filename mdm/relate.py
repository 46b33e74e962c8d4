"""Golden contacts -> golden accounts.

In order of evidence: the account key the contact's own system gives (mapped through that
system's account xref); else the contact's company name, when it names exactly one golden
account (an email domain breaks ties between same-name companies); else a work email domain
that belongs to exactly one golden account. Each link says how it was made.
"""

from __future__ import annotations

from enum import StrEnum

import pandas as pd

from mdm.standardize.email_address import FREE_MAIL_DOMAINS


class LinkMethod(StrEnum):
    ACCOUNT_KEY = "account_key"
    COMPANY_NAME = "company_name"
    EMAIL_DOMAIN = "email_domain"


LINK_COLUMNS = ["golden_id", "account_id", "account_link", "record_id"]


def relate_contacts(
    members: pd.DataFrame,
    account_sources: dict[str, str],
    account_xref: pd.DataFrame,
    account_names: pd.DataFrame,
    account_domains: pd.DataFrame,
) -> pd.DataFrame:
    """One row per golden contact that could be linked: golden_id, account_id, account_link,
    record_id (the contact record that gave the evidence).

    members: golden_id, record_id, source, last_modified, account_key, company_key,
      email_domain — one row per live contact record (keys in match form).
    account_sources: contact source name -> the account source its account_key refers to.
    account_xref: source, source_key, golden_id of live account records.
    account_names: golden_id, name_key — every member name of every golden account.
    account_domains: golden_id, domain — every member domain of every golden account.
    """
    by_key = _by_account_key(members, account_sources, account_xref)
    rest = members[~members["golden_id"].isin(by_key["golden_id"])]
    by_name = _by_company_name(rest, account_names, account_domains)
    rest = rest[~rest["golden_id"].isin(by_name["golden_id"])]
    by_domain = _by_email_domain(rest, account_domains)
    linked = pd.concat([by_key, by_name, by_domain], ignore_index=True)
    return linked[LINK_COLUMNS].sort_values("golden_id", ignore_index=True)


def _best_per_contact(candidates: pd.DataFrame, method: LinkMethod) -> pd.DataFrame:
    """Most supporting records first, then the most recent, then the lowest record id."""
    if candidates.empty:
        return pd.DataFrame(columns=LINK_COLUMNS)
    votes = candidates.groupby(["golden_id", "account_id"])["record_id"].transform("size")
    # Unknown times rank last (only the stamp can be missing).
    ranked = candidates.assign(votes=votes, stamp=candidates["last_modified"]).sort_values(
        ["golden_id", "votes", "stamp", "record_id"],
        ascending=[True, False, False, True],
        na_position="last",
    )
    best = ranked.drop_duplicates("golden_id")
    return best.assign(account_link=str(method))[LINK_COLUMNS]


def _by_account_key(
    members: pd.DataFrame, account_sources: dict[str, str], account_xref: pd.DataFrame
) -> pd.DataFrame:
    keyed = members.dropna(subset=["account_key"]).assign(
        account_source=lambda frame: frame["source"].map(account_sources)
    )
    targets = account_xref.rename(
        columns={"source": "account_source", "source_key": "account_key", "golden_id": "account_id"}
    )[["account_source", "account_key", "account_id"]]
    candidates = keyed.merge(targets, on=["account_source", "account_key"], how="inner")
    return _best_per_contact(candidates, LinkMethod.ACCOUNT_KEY)


def _by_company_name(
    members: pd.DataFrame, account_names: pd.DataFrame, account_domains: pd.DataFrame
) -> pd.DataFrame:
    names = (
        account_names.dropna()
        .drop_duplicates()
        .rename(columns={"name_key": "company_key", "golden_id": "account_id"})
    )
    candidates = members.dropna(subset=["company_key"]).merge(names, on="company_key")
    # Same-name companies: keep only the one whose domain is the contact's email domain.
    per_record = candidates.groupby("record_id")["account_id"].transform("nunique")
    domains = account_domains.dropna().rename(
        columns={"golden_id": "account_id", "domain": "email_domain"}
    )
    tied = candidates[per_record > 1].merge(domains, on=["account_id", "email_domain"])
    tied = tied[tied.groupby("record_id")["account_id"].transform("nunique") == 1]
    return _best_per_contact(
        pd.concat([candidates[per_record == 1], tied], ignore_index=True),
        LinkMethod.COMPANY_NAME,
    )


def _by_email_domain(members: pd.DataFrame, account_domains: pd.DataFrame) -> pd.DataFrame:
    domains = account_domains.dropna().drop_duplicates()
    unique = domains[domains.groupby("domain")["golden_id"].transform("nunique") == 1]
    unique = unique.rename(columns={"golden_id": "account_id", "domain": "email_domain"})
    work = members.dropna(subset=["email_domain"])
    work = work[~work["email_domain"].isin(FREE_MAIL_DOMAINS)]
    return _best_per_contact(work.merge(unique, on="email_domain"), LinkMethod.EMAIL_DOMAIN)
