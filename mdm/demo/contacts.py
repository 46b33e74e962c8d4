"""The contact systems' tables: CRM contacts, marketing leads and support contacts, each
with its own noise."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mdm.demo.accounts import AccountIds, salesforce_ids
from mdm.demo.arrays import (
    Bools,
    Ints,
    Strs,
    chance,
    entity_rows,
    fold_accents,
    iso_seconds,
    noisy,
    sequential_keys,
    strs,
    timestamps,
    transliterate,
    with_typos,
)
from mdm.demo.organisations import Orgs
from mdm.demo.people import People
from mdm.demo.places import GERMANY, US
from mdm.demo.shares import (
    CRM_CONTACT_DUPLICATE_RATE,
    CRM_CONTACT_SHARE,
    DAY,
    DELETED_DUPLICATE_SHARE,
    DELETED_SHARE,
    MARKETING_DUPLICATE_RATE,
    MARKETING_SHARE,
    PHONE_CHANGE_SHARE,
    SUPPORT_DUPLICATE_RATE,
    SUPPORT_SHARE,
    WINDOW_START,
)
from mdm.demo.vocabulary import COUNTRIES
from mdm.demo.written import blanked, company_texts, with_extensions, written_phones


@dataclass(frozen=True)
class Presence:
    crm: Bools
    marketing: Bools
    support: Bools
    phone_changed: Bools  # support has a newer office number than the CRM


def draw_presence(rng: np.random.Generator, people: People, account_ids: AccountIds) -> Presence:
    known = account_ids.primary[people.org] != ""
    crm = known & chance(rng, CRM_CONTACT_SHARE, people.n)
    marketing = chance(rng, MARKETING_SHARE, people.n)
    support = chance(rng, SUPPORT_SHARE, people.n)
    nowhere = ~(crm | marketing | support)
    crm |= nowhere & known
    marketing |= nowhere & ~known
    both = crm & support
    changed = both & chance(rng, PHONE_CHANGE_SHARE, people.n)
    if both.any() and not changed.any():
        changed[int(np.argmax(both))] = True  # the demo always shows one
    return Presence(crm, marketing, support, changed)


@dataclass(frozen=True)
class _Noise:
    """How often a system's people records deviate, for first entries (duplicates: more)."""

    nickname: float  # a nickname the person does not usually go by
    fold: float  # accents dropped ("Jose", "Mueller")
    swap: float  # first and last name swapped
    last_first: float  # "Last, First" in the last-name field, first name empty
    lower: float
    upper: float
    typo: float
    personal_email: float
    no_email: float
    email_typo: float
    email_case: float
    international: float  # phones of people outside the US written with the country code
    no_phone: float


_CRM_NOISE = _Noise(0.1, 0.05, 0.003, 0.01, 0.01, 0.01, 0.02, 0.05, 0.05, 0.01, 0.05, 0.6, 0.1)
_MARKETING_NOISE = _Noise(
    0.25, 0.25, 0.02, 0.015, 0.08, 0.04, 0.03, 0.3, 0.04, 0.02, 0.08, 0.5, 0.35
)
_SUPPORT_NOISE = _Noise(0.15, 0.15, 0.01, 0.015, 0.05, 0.01, 0.02, 0.15, 0.02, 0.01, 0.03, 0.4, 0.1)


def _person_names(
    rng: np.random.Generator, people: People, p: Ints, dup: Bools, noise: _Noise
) -> tuple[Strs, Strs]:
    k = len(p)
    nickname = people.nickname[p]
    usual = chance(rng, 0.75, k)
    occasional = chance(rng, noisy(noise.nickname, dup), k)
    use = (nickname != "") & np.where(people.goes_by[p], usual, occasional)
    first = np.where(use, nickname, people.first[p]).astype(object)
    last = people.last[p].copy()
    typo, in_first = chance(rng, noisy(noise.typo, dup), k), chance(rng, 0.5, k)
    first[typo & in_first] = with_typos(rng, first[typo & in_first])
    last[typo & ~in_first] = with_typos(rng, last[typo & ~in_first])
    fold = chance(rng, noisy(noise.fold, dup), k)
    german = (people.country[p] == GERMANY) & chance(rng, 0.5, k)
    for names in (first, last):
        names[fold] = [
            transliterate(x) if g else fold_accents(x)
            for x, g in zip(names[fold], german[fold], strict=True)
        ]
    lower = chance(rng, noisy(noise.lower, dup), k)
    upper = chance(rng, noisy(noise.upper, dup), k) & ~lower
    for names in (first, last):
        names[lower] = [x.lower() for x in names[lower]]
        names[upper] = [x.upper() for x in names[upper]]
    swap = chance(rng, noisy(noise.swap, dup), k)
    first[swap], last[swap] = last[swap], first[swap]
    flipped = chance(rng, noisy(noise.last_first, dup), k) & ~swap
    last[flipped] = [f"{la}, {f}" for la, f in zip(last[flipped], first[flipped], strict=True)]
    first[flipped] = ""
    return first, last


def _emails(rng: np.random.Generator, people: People, p: Ints, dup: Bools, noise: _Noise) -> Strs:
    k = len(p)
    # A family business that shares a home mailbox gives it everywhere.
    personal = chance(rng, noisy(noise.personal_email, dup), k) | (
        people.family_mailbox[p] & chance(rng, 0.8, k)
    )
    emails = np.where(personal, people.personal_email[p], people.work_email[p]).astype(object)
    typo = chance(rng, noisy(noise.email_typo, dup), k)
    parts = [email.partition("@") for email in emails[typo]]
    locals_ = with_typos(rng, strs([local for local, _, _ in parts]))
    emails[typo] = [
        f"{local}@{domain}" for local, (_, _, domain) in zip(locals_, parts, strict=True)
    ]
    cased = chance(rng, noisy(noise.email_case, dup), k)
    emails[cased] = [
        (parts := email.partition("@"))[0].title() + "@" + parts[2] for email in emails[cased]
    ]
    return blanked(rng, emails, noisy(noise.no_email, dup))


def _contact_phones(
    rng: np.random.Generator,
    people: People,
    orgs: Orgs,
    p: Ints,
    noise: _Noise,
    mobile: bool,
    number: Strs | None = None,
) -> Strs:
    """A person's office (with any extension) or mobile number, in the system's styles."""
    country = orgs.country[people.org[p]]
    international = chance(rng, np.where(country == US, 0.05, noise.international), len(p))
    if mobile:
        return written_phones(rng, country, people.mobile_area[p], people.mobile[p], international)
    subscriber = people.office[p] if number is None else number
    phones = written_phones(rng, country, people.area[p], subscriber, international)
    return with_extensions(rng, phones, people.extension[p])


def crm_contact_table(
    rng: np.random.Generator,
    people: People,
    orgs: Orgs,
    presence: Presence,
    account_ids: AccountIds,
) -> tuple[pd.DataFrame, Ints]:
    p, dup = entity_rows(rng, presence.crm, CRM_CONTACT_DUPLICATE_RATE)
    k = len(p)
    org = people.org[p]
    first, last = _person_names(rng, people, p, dup, _CRM_NOISE)
    # Contacts hang off the account the rep found first, now and then a duplicate account.
    account = np.where(chance(rng, 0.25, k), account_ids.other[org], account_ids.primary[org])
    office = _contact_phones(rng, people, orgs, p, _CRM_NOISE, mobile=False)
    mobile = _contact_phones(rng, people, orgs, p, _CRM_NOISE, mobile=True)
    # Duplicates are older copies: every CRM row of a person predates their support record.
    earlier = rng.integers(0, 200 * DAY, size=k)
    modified = np.where(dup, np.maximum(people.crm_time[p] - earlier, 0), people.crm_time[p])
    deleted = chance(rng, np.where(dup, DELETED_DUPLICATE_SHARE, DELETED_SHARE), k)
    table = pd.DataFrame(
        {
            "Id": salesforce_ids("003", rng, k),
            "AccountId": account.astype(object),
            "FirstName": first,
            "LastName": last,
            "Email": _emails(rng, people, p, dup, _CRM_NOISE),
            "Phone": blanked(rng, office, noisy(_CRM_NOISE.no_phone, dup)),
            "MobilePhone": mobile,
            "Title": blanked(rng, people.title[p], noisy(0.1, dup)),
            "MailingStreet": people.mail_street[p],
            "MailingCity": people.mail_city[p],
            "MailingPostalCode": people.mail_postcode[p],
            "MailingCountry": strs(
                [
                    COUNTRIES[c].written[0] if s else ""
                    for c, s in zip(orgs.country[org], people.mail_street[p], strict=True)
                ]
            ),
            "LastModifiedDate": iso_seconds(modified.astype(np.int64)),
            "IsDeleted": np.where(deleted, "true", "false").astype(object),
        }
    )
    return table, p


def marketing_lead_table(
    rng: np.random.Generator, people: People, orgs: Orgs, presence: Presence
) -> tuple[pd.DataFrame, Ints]:
    p, dup = entity_rows(rng, presence.marketing, MARKETING_DUPLICATE_RATE)
    k = len(p)
    first, last = _person_names(rng, people, p, dup, _MARKETING_NOISE)
    # A form asks for one phone: people give their mobile more often than their desk.
    mobile = _contact_phones(rng, people, orgs, p, _MARKETING_NOISE, mobile=True)
    office = _contact_phones(rng, people, orgs, p, _MARKETING_NOISE, mobile=False)
    phone = np.where((mobile != "") & chance(rng, 0.6, k), mobile, office).astype(object)
    title = people.title[p].copy()
    lowered = chance(rng, 0.2, k)
    title[lowered] = [t.lower() for t in title[lowered]]
    start = int(rng.integers(1_000_000, 5_000_000))
    table = pd.DataFrame(
        {
            "lead_id": sequential_keys("LD-", start, k, 7),
            "first": _nulls(first),
            "last": _nulls(last),
            "email": _nulls(_emails(rng, people, p, dup, _MARKETING_NOISE)),
            "company": _nulls(company_texts(rng, orgs, people.org[p], 0.08)),
            "phone": _nulls(blanked(rng, phone, noisy(_MARKETING_NOISE.no_phone, dup))),
            "job_title": _nulls(blanked(rng, title, 0.25)),
            "updated_at": iso_seconds(timestamps(rng, k)),
        }
    )
    return table, p


def support_contact_table(
    rng: np.random.Generator,
    people: People,
    orgs: Orgs,
    presence: Presence,
    account_ids: AccountIds,
) -> tuple[pd.DataFrame, Ints]:
    p, dup = entity_rows(rng, presence.support, SUPPORT_DUPLICATE_RATE)
    k = len(p)
    org = people.org[p]
    first, last = _split_names(*_person_names(rng, people, p, dup, _SUPPORT_NOISE))
    changed = presence.phone_changed[p]
    number = np.where(changed, people.new_office[p], people.office[p]).astype(object)
    office = _contact_phones(rng, people, orgs, p, _SUPPORT_NOISE, mobile=False, number=number)
    mobile = _contact_phones(rng, people, orgs, p, _SUPPORT_NOISE, mobile=True)
    use_mobile = (mobile != "") & ~changed & chance(rng, 0.4, k)
    phone = np.where(use_mobile, mobile, office).astype(object)
    later = people.crm_time[p] + rng.integers(30 * DAY, 300 * DAY, size=k)
    modified = np.where(changed, later, timestamps(rng, k))
    org_key = np.where(chance(rng, 0.75, k), account_ids.primary[org], "").astype(object)
    start = int(rng.integers(360_000_000_000, 370_000_000_000))
    table = pd.DataFrame(
        {
            "contact_id": np.arange(start, start + k, dtype=np.int64),
            "first_name": _nulls(first),
            "last_name": _nulls(last),
            "email": _nulls(_emails(rng, people, p, dup, _SUPPORT_NOISE)),
            "phone": _nulls(blanked(rng, phone, noisy(_SUPPORT_NOISE.no_phone, dup))),
            "org_key": _nulls(org_key),
            "organization": _nulls(company_texts(rng, orgs, org, 0.3)),
            "modified": pd.to_datetime(WINDOW_START + modified.astype("timedelta64[s]"), utc=True),
        }
    )
    return table, p


def _split_names(first: Strs, last: Strs) -> tuple[Strs, Strs]:
    """The support desk keeps one name field; its export splits it at the first space."""
    split_first, split_last = [], []
    for f, la in zip(first, last, strict=True):
        full = f"{f} {la}".strip()
        if "," in full:  # "Müller, Hans": the splitter gives up and keeps it whole
            split_first.append("")
            split_last.append(full)
        else:
            head, _, tail = full.partition(" ")
            split_first.append(head)
            split_last.append(tail)
    return strs(split_first), strs(split_last)


def _nulls(values: Strs) -> Strs:
    """JSON and Parquet have real nulls: empty cells become None."""
    out = values.copy()
    out[values == ""] = None
    return out
