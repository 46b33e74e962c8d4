"""The account systems' tables: the CRM's accounts and the ERP's customer master."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mdm.demo.arrays import (
    Bools,
    Ints,
    Strs,
    chance,
    entity_rows,
    iso_dates,
    iso_seconds,
    noisy,
    sequential_keys,
    strs,
    timestamps,
    transliterate,
    with_typos,
)
from mdm.demo.organisations import Orgs
from mdm.demo.places import CITIES, CITY_COUNTRY, GERMANY, US
from mdm.demo.shares import (
    CRM_DUPLICATE_RATE,
    DELETED_DUPLICATE_SHARE,
    DELETED_SHARE,
    DUPLICATE_NOISE,
    ERP_DUPLICATE_RATE,
)
from mdm.demo.vocabulary import COUNTRIES, ERP_ABBREVIATIONS
from mdm.demo.written import (
    blanked,
    city_names,
    country_names,
    crm_names,
    postcode_variants,
    websites,
    written_phones,
    written_regions,
)

_BASE62 = np.frombuffer(
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", dtype=np.uint8
)
_CHECKSUM = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", dtype=np.uint8)


def crm_account_table(
    rng: np.random.Generator, orgs: Orgs, present: Bools
) -> tuple[pd.DataFrame, Ints, Bools]:
    org, dup = entity_rows(rng, present, CRM_DUPLICATE_RATE)
    k = len(org)
    country = orgs.country[org]
    phone = written_phones(rng, country, orgs.area[org], orgs.switchboard[org], chance(rng, 0.2, k))
    street = np.where(chance(rng, noisy(0.3, dup), k), orgs.street_short[org], orgs.street[org])
    deleted = chance(rng, np.where(dup, DELETED_DUPLICATE_SHARE, DELETED_SHARE), k)
    if k and not deleted.any():
        deleted[int(np.argmax(dup))] = True  # the demo always shows a deleted row
    table = pd.DataFrame(
        {
            "Id": salesforce_ids("001", rng, k),
            "Name": crm_names(rng, orgs, org, dup),
            "Website": websites(rng, orgs.domain[org], noisy(0.08, dup)),
            "Phone": blanked(rng, phone, noisy(0.05, dup)),
            "BillingStreet": blanked(rng, street.astype(object), noisy(0.04, dup)),
            "BillingCity": blanked(rng, city_names(rng, orgs.city[org], noisy(0.06, dup)), 0.01),
            "BillingState": written_regions(rng, orgs.city[org], dup),
            "BillingPostalCode": blanked(
                rng, postcode_variants(rng, orgs.postcode[org], country, noisy(0.08, dup)), 0.02
            ),
            "BillingCountry": country_names(rng, country, dup),
            "LastModifiedDate": iso_seconds(timestamps(rng, k)),
            "IsDeleted": np.where(deleted, "true", "false").astype(object),
        }
    )
    return table, org, dup


def salesforce_ids(prefix: str, rng: np.random.Generator, n: int) -> Strs:
    """18-character Salesforce-style ids: key prefix, pod, base-62 counter, case checksum."""
    head = np.frombuffer(f"{prefix}5g00000".encode(), dtype=np.uint8)
    codes = np.empty((n, 18), dtype=np.uint8)
    codes[:, : len(head)] = head
    numbers = int(rng.integers(1_000_000, 50_000_000)) + np.arange(n, dtype=np.int64)
    for position in range(14, len(head) - 1, -1):
        codes[:, position] = _BASE62[numbers % 62]
        numbers //= 62
    # The last three characters encode which of the first fifteen are upper-case, so that
    # ids differing only in case stay distinct in case-insensitive tools.
    upper = ((codes[:, :15] >= ord("A")) & (codes[:, :15] <= ord("Z"))).reshape(n, 3, 5)
    bits = (upper * (1 << np.arange(5))).sum(axis=2)
    codes[:, 15:] = _CHECKSUM[bits]
    return strs(codes.view("S18").ravel().astype(str))


def erp_customer_table(
    rng: np.random.Generator, orgs: Orgs, present: Bools
) -> tuple[pd.DataFrame, Ints]:
    org, dup = entity_rows(rng, present, ERP_DUPLICATE_RATE)
    k = len(org)
    country = orgs.country[org]
    # Records keyed on an ASCII-only terminal write umlauts out ("MUELLER"); the rest keep
    # them, which is why the file must be read as latin-1.
    plain = chance(rng, 0.3, k)
    abbreviate = ~(dup & chance(rng, 0.5, k))
    names = strs(
        [
            _erp_name(b, COUNTRIES[c].legal_forms[form].erp, a, p)
            for b, c, form, a, p in zip(
                orgs.base[org], country, orgs.legal[org], abbreviate, plain, strict=True
            )
        ]
    )
    typo = chance(rng, noisy(0.02, dup), k)
    names[typo] = [name.upper() for name in with_typos(rng, names[typo])]
    phone = written_phones(rng, country, orgs.area[org], orgs.switchboard[org], chance(rng, 0.8, k))
    city = strs([CITIES[c].name for c in orgs.city[org]])
    regions = strs(
        [CITIES[c].region_code if CITY_COUNTRY[c] in (US, GERMANY) else "" for c in orgs.city[org]]
    )
    start = int(rng.integers(100_000, 400_000))
    table = pd.DataFrame(
        {
            "KUNNR": sequential_keys("", start, k, 10),
            "NAME1": names,
            "VAT_NO": _vat_numbers(rng, orgs.tax_id[org], country, dup),
            "TEL": blanked(rng, phone, noisy(0.05, dup)),
            "STREET": blanked(rng, _erp_text(orgs.street_short[org], plain), noisy(0.03, dup)),
            "CITY": _erp_text(city, plain),
            "REGION": regions,
            "POST_CODE": orgs.postcode[org],
            "COUNTRY": strs([COUNTRIES[c].code for c in country]),
            "CHANGED_ON": iso_dates(timestamps(rng, k)),
        }
    )
    return table, org


def _erp_name(base: str, legal: str, abbreviate: bool, plain: bool) -> str:
    words = base.upper().split()
    if abbreviate:
        words = [ERP_ABBREVIATIONS.get(word, word) for word in words]
    name = " ".join([*words, legal])
    return (transliterate(name).upper() if plain else name)[:35]  # NAME1 holds 35 characters


def _erp_text(values: Strs, plain: Bools) -> Strs:
    return strs(
        [transliterate(v).upper() if p else v.upper() for v, p in zip(values, plain, strict=True)]
    )


def _vat_numbers(rng: np.random.Generator, tax_id: Strs, country: Ints, dup: Bools) -> Strs:
    """VAT numbers, sometimes spaced ("GB 123456789"); US customers often have none on file."""
    spaced = chance(rng, 0.15, len(tax_id))
    out = strs(
        [
            f"{t[:2]} {t[2:]}" if s and t[:2].isalpha() else t
            for t, s in zip(tax_id, spaced, strict=True)
        ]
    )
    missing = np.where(country == US, 0.5, 0.08)
    return blanked(rng, out, np.minimum(np.where(dup, missing * DUPLICATE_NOISE, missing), 0.9))


@dataclass(frozen=True)
class AccountIds:
    primary: Strs  # per organisation: the CRM Id of its first record, "" if the CRM lacks it
    other: Strs  # the Id of one of its duplicate CRM records, else the primary one


def crm_account_ids(n: int, ids: Strs, org: Ints, dup: Bools) -> AccountIds:
    primary = np.full(n, "", dtype=object)
    primary[org[~dup]] = ids[~dup]
    other = primary.copy()
    other[org[dup]] = ids[dup]
    return AccountIds(primary, other)
