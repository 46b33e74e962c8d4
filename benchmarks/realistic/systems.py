"""The source systems: which records each system holds of the world, and how it writes them.

Records are made in two steps. ``account_rows`` and ``contact_rows`` decide, per system, which
entity each record is of, when it was last modified and what the record knows (an old address
before a move, an old title, phone or email before a change, a nickname, a personal instead
of a work email, a missing value); the ``render_*`` functions then write each system's
columns its own way (ERP upper case and abbreviated, names split at 35 characters, ZIP codes
as numbers; support desks with one full-name column; phones in every format).

Every rendered frame keeps hidden columns (``_entity`` and what re-rendering a record in a
night needs), which the writer drops.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from benchmarks.realistic import vocab
from benchmarks.realistic.textops import (
    PHONE_STYLES,
    BoolArray,
    IntArray,
    ObjectArray,
    day_seconds,
    digits_typo,
    frame_of,
    join,
    lower,
    objects,
    phone_text,
    pick,
    time_text,
    typos,
    upper,
    where,
)
from benchmarks.realistic.world import World, nickname_of, street_line

DAY = 86_400
REFERENCE = day_seconds("2025-06-01")  # the first load; night k is k days later
SINCE = {
    "crm": day_seconds("2015-01-01"),
    "erp": day_seconds("2016-01-01"),
    "marketing": day_seconds("2021-01-01"),
    "support": day_seconds("2022-01-01"),
    "acquired": day_seconds("2018-01-01"),
}
ACQUIRED_FROZEN = day_seconds("2022-06-30")  # the acquired CRM was frozen at the acquisition

ERP_NAME_WIDTH = 35

ACCOUNT_SOURCES = ("crm_accounts", "erp_customers", "acq_accounts")
CONTACT_SOURCES = (
    "crm_contacts",
    "erp_contacts",
    "marketing_leads",
    "support_requesters",
    "acq_contacts",
)
SYSTEM_OF = {
    "crm_accounts": "crm",
    "crm_contacts": "crm",
    "erp_customers": "erp",
    "erp_contacts": "erp",
    "marketing_leads": "marketing",
    "support_requesters": "support",
    "acq_accounts": "acquired",
    "acq_contacts": "acquired",
}


# ---- keys -------------------------------------------------------------------------------------

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _base62(value: int, width: int) -> str:  # one key (the tests compare with it)
    out = []
    for _ in range(width):
        value, digit = divmod(value, 62)
        out.append(_BASE62[digit])
    return "".join(reversed(out))


def _base62_array(values: np.ndarray, width: int) -> ObjectArray:
    digits = np.empty((len(values), width), dtype=np.int64)
    rest = np.asarray(values, dtype=np.int64).copy()
    for position in range(width - 1, -1, -1):
        rest, digits[:, position] = np.divmod(rest, 62)
    chars = np.array(list(_BASE62), dtype="<U1")[digits]
    return np.ascontiguousarray(chars).view(f"<U{width}").ravel().astype(object)


class KeyMaker:
    """Unique keys in a system's own style, from a running number scrambled by a bijection
    (so keys look random, never repeat, and a night's new records get fresh ones)."""

    def __init__(self, style: str, seed: int) -> None:
        self.style = style
        self.next = 0
        self.offset = seed * 7919

    def take(self, n: int) -> ObjectArray:
        numbers = np.arange(self.next, self.next + n, dtype=object) + self.offset
        self.next += n
        if self.style in ("sf_account", "sf_contact"):
            ints = numbers.astype(np.int64)
            factor, shift, prefix = (
                (1_000_003, 17, "0015e0000")
                if self.style == "sf_account"
                else (999_983, 29, "0035e0000")
            )
            return prefix + _base62_array((ints * factor + shift) % 62**6, 6)
        if self.style == "erp":
            return objects([str(1_000_000 + (x * 3_000_017) % 9_000_000) for x in numbers])
        if self.style == "erp_contact":
            return objects([f"K{700_000 + (x * 3_000_017) % 9_000_000:08d}" for x in numbers])
        if self.style == "lead":
            return objects([f"{10_000_000 + (x * 7_000_003) % 90_000_000}" for x in numbers])
        if self.style == "support":
            return objects(
                [f"{36_000_000_000 + (x * 9_000_000_011) % 9_999_999_967}" for x in numbers]
            )
        if self.style == "acq_account":
            return objects([f"ACC-{x % 10**6:06d}" for x in numbers])
        if self.style == "acq_contact":
            return objects([f"CT{x % 10**7:07d}" for x in numbers])
        raise ValueError(self.style)


def key_makers(seed: int) -> dict[str, KeyMaker]:
    return {
        "crm_accounts": KeyMaker("sf_account", seed),
        "crm_contacts": KeyMaker("sf_contact", seed),
        "erp_customers": KeyMaker("erp", seed),
        "marketing_leads": KeyMaker("lead", seed),
        "support_requesters": KeyMaker("support", seed),
        "erp_contacts": KeyMaker("erp_contact", seed),
        "acq_accounts": KeyMaker("acq_account", seed),
        "acq_contacts": KeyMaker("acq_contact", seed),
    }


# ---- stamps and stale values ------------------------------------------------------------------


def stamps(rng: np.random.Generator, system: str, n: int) -> IntArray:
    high = ACQUIRED_FROZEN if system == "acquired" else REFERENCE - DAY
    return rng.integers(SINCE[system], high, n).astype(np.int64)


def older_before_change(
    rng: np.random.Generator, entity: IntArray, stamp: IntArray, chosen: BoolArray
) -> BoolArray:
    """For entities ``chosen`` (one flag per row) with two or more rows: the rows modified
    before the entity's change (at least one row on each side). Other rows: False."""
    frame = pd.DataFrame({"entity": entity, "stamp": stamp, "row": np.arange(len(entity))})
    frame = frame[chosen].sort_values(["entity", "stamp", "row"])
    size = frame.groupby("entity")["row"].transform("size").to_numpy()
    rank = frame.groupby("entity").cumcount().to_numpy()
    draw = pd.Series(rng.random(len(frame)), index=frame.index)
    split = 1 + np.floor(
        frame.assign(d=draw).groupby("entity")["d"].transform("first").to_numpy() * (size - 1)
    )
    old = np.zeros(len(entity), dtype=bool)
    old[frame["row"].to_numpy()[(size >= 2) & (rank < split)]] = True
    return old


# ---- accounts ---------------------------------------------------------------------------------

ACCOUNT_PLAN = (  # source, column of the world saying who is in it, duplicate share
    ("crm_accounts", "in_crm", 0.06),
    ("erp_customers", "in_erp", 0.02),
    ("acq_accounts", "in_acquired", 0.03),
)


def account_rows(world: World, rng: np.random.Generator) -> pd.DataFrame:
    """One row per account record: company, source, dup, stamp, old (the pre-move address)."""
    companies = world.companies
    parts = []
    for source, column, dup_share in ACCOUNT_PLAN:
        members = np.flatnonzero(companies[column].to_numpy())
        twice = members[rng.random(len(members)) < dup_share]
        company = np.r_[members, twice]
        parts.append(
            pd.DataFrame(
                {
                    "company": company.astype(np.int64),
                    "source": source,
                    "dup": np.r_[np.zeros(len(members), bool), np.ones(len(twice), bool)],
                    "stamp": stamps(rng, SYSTEM_OF[source], len(company)),
                }
            )
        )
    rows = pd.concat(parts, ignore_index=True)
    moved = companies["moved"].to_numpy()[rows["company"].to_numpy()]
    rows["old"] = older_before_change(
        rng, rows["company"].to_numpy(), rows["stamp"].to_numpy(), moved
    )
    return rows


def _address_of(
    companies: pd.DataFrame, company: IntArray, old: BoolArray
) -> dict[str, np.ndarray]:
    keys = ("street_number", "street_name", "street_type", "suite", "city", "state", "zip5", "zip4")
    out = {}
    for key in keys:
        new_values = companies[key].to_numpy()[company]
        old_values = companies[f"old_{key}"].to_numpy()[company]
        out[key] = np.where(old, old_values, new_values)
    return out


def _short_suite(suite: str, draw: float) -> str:
    if not suite:
        return ""
    word, number = suite.split(" ", 1)
    if word == "Suite":
        return (f"Ste {number}", f"Suite {number}", f"Ste. {number}")[int(draw * 3)]
    if word == "Floor":
        return (f"Fl {number}", f"Floor {number}", f"{number}{_ordinal(number)} Floor")[
            int(draw * 3)
        ]
    return (f"Unit {number}", f"Unit {number}", f"#{number}")[int(draw * 3)]


def _ordinal(number: str) -> str:
    n = int(number)
    if 10 <= n % 100 <= 20:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def _streets(
    rng: np.random.Generator, address: dict[str, np.ndarray], keep_suite: float, short: float
) -> tuple[ObjectArray, ObjectArray]:
    """The street line and the suite as one system writes them."""
    n = len(address["street_number"])
    shorts = rng.random(n) < short
    line = objects(
        [
            street_line(no, name, int(t), s)
            for no, name, t, s in zip(
                address["street_number"],
                address["street_name"],
                address["street_type"],
                shorts,
                strict=True,
            )
        ]
    )
    kept = rng.random(n) < keep_suite
    draws = rng.random(n)
    suite = objects(
        [
            _short_suite(s, d) if s and k else ""
            for s, k, d in zip(address["suite"], kept, draws, strict=True)
        ]
    )
    return line, suite


def _postcodes(
    rng: np.random.Generator, zip5: np.ndarray, zip4: np.ndarray, shares: dict[str, float]
) -> tuple[ObjectArray, ObjectArray]:
    """Postcodes damaged as one system damages them, and what was done to each."""
    n = len(zip5)
    kinds = list(shares)
    weights = np.array([shares[k] for k in kinds])
    kind = objects(kinds)[rng.choice(len(kinds), n, p=weights / weights.sum())]
    draws = rng.random(n)
    digits = rng.integers(0, 10, n)
    out = []
    for z, z4, k, d, g in zip(zip5, zip4, kind, draws, digits, strict=True):
        if k == "zip":
            out.append(z)
        elif k == "missing":
            out.append("")
        elif k == "zip4":
            out.append(f"{z}-{z4}")
        elif k == "zip4_plain":
            out.append(f"{z}{z4}")
        elif k == "number":  # kept as a number: the leading zero is gone
            out.append(str(int(z)))
        elif k == "number4":
            out.append(str(int(z + z4)))
        elif k == "typo":
            out.append(digits_typo(z, d, int(g)))
        else:
            raise ValueError(k)
    return objects(out), kind


def _phones(
    rng: np.random.Generator, digits: np.ndarray, present: float | np.ndarray, styles: list[int]
) -> ObjectArray:
    n = len(digits)
    style = np.asarray(styles, dtype=np.int64)[rng.integers(0, len(styles), n)]
    text = phone_text(objects(digits), style, objects([""] * n))
    return where(rng.random(n) < present, text, "")


def _legal_variant(
    rng: np.random.Generator, legal: np.ndarray, change: float | np.ndarray
) -> ObjectArray:
    """Legal forms, some (``change``: a share, or one per row) in another spelling."""
    changed = rng.random(len(legal)) < change
    draws = rng.random(len(legal))
    return objects(
        [
            vocab.LEGAL_VARIANTS[f][int(d * len(vocab.LEGAL_VARIANTS[f]))] if c else f
            for f, c, d in zip(legal, changed, draws, strict=True)
        ]
    )


def _with_legal(core: np.ndarray, legal: np.ndarray) -> ObjectArray:
    return objects(
        [
            c + (f if f.startswith(",") else f" {f}" if f else "")
            for c, f in zip(core, legal, strict=True)
        ]
    )


def abbreviate(text: str, draws: np.ndarray, share: float) -> str:
    """Company words shortened as an ERP clerk shortens them (each with chance ``share``)."""
    words = text.split(" ")
    out = []
    for i, word in enumerate(words):
        short = vocab.COMPANY_WORDS.get(word)
        out.append(short if short and draws[i % len(draws)] < share else word)
    return " ".join(out)


def _branch_names(
    rng: np.random.Generator, core: np.ndarray, branch: np.ndarray, styles: list[str]
) -> ObjectArray:
    style = pick(rng, styles, len(core))
    return objects(
        [
            c if not b else s.format(brand=c, branch=b)
            for c, b, s in zip(core, branch, style, strict=True)
        ]
    )


def render_crm_accounts(
    rows: pd.DataFrame, world: World, rng: np.random.Generator, keys: ObjectArray
) -> pd.DataFrame:
    companies = world.companies
    company = rows["company"].to_numpy()
    dup = rows["dup"].to_numpy()
    n = len(rows)
    c = companies.iloc[company]
    core = _branch_names(
        rng,
        c["core"].to_numpy(),
        c["branch"].to_numpy(),
        ["{brand} - {branch}", "{brand} - {branch}", "{brand} {branch}", "{brand} ({branch})"],
    )
    legal = np.where(c["branch"].to_numpy() != "", "", c["legal"].to_numpy())
    legal = _legal_variant(rng, legal, np.where(dup, 0.6, 0.25))
    draws = rng.random((n, 4))
    core = objects(
        [
            abbreviate(x, d, 0.8).title() if isdup and d[0] < 0.15 else x
            for x, d, isdup in zip(core, draws, dup, strict=True)
        ]
    )
    name = _with_legal(core, np.where(dup & (rng.random(n) < 0.4), "", legal))
    name = where(dup & (rng.random(n) < 0.1), lower(name), name)
    name = typos(rng, name, rng.random(n) < np.where(dup, 0.12, 0.02))
    domain = c["domain"].to_numpy()
    web_style = pick(
        rng,
        ["www.{d}", "{d}", "http://www.{d}", "https://{d}", "https://www.{d}/"],
        n,
        [0.4, 0.2, 0.15, 0.15, 0.1],
    )
    website = objects([s.format(d=d) if d else "" for s, d in zip(web_style, domain, strict=True)])
    website = where(rng.random(n) < np.where(dup, 0.6, 0.9), website, "")
    address = _address_of(companies, company, rows["old"].to_numpy())
    street, suite = _streets(rng, address, keep_suite=0.75, short=0.6)
    separator = pick(rng, [", ", " "], n)
    street = objects(
        [f"{s}{sep}{u}" if u else s for s, sep, u in zip(street, separator, suite, strict=True)]
    )
    street = typos(rng, street, rng.random(n) < 0.015)
    city = typos(rng, objects(address["city"]), rng.random(n) < 0.01)
    state = objects(address["state"])
    full_state = rng.random(n) < 0.05
    state = where(full_state, objects([vocab.STATE_NAMES[s] for s in state]), state)
    postcode, damage = _postcodes(
        rng,
        address["zip5"],
        address["zip4"],
        {"zip": 0.72, "zip4": 0.14, "missing": 0.08, "typo": 0.02, "number": 0.04},
    )
    country = pick(rng, ["United States", "USA", "US", ""], n, [0.5, 0.2, 0.15, 0.15])
    tax = where(rng.random(n) < 0.2, c["ein"].to_numpy(), "")
    deleted = dup & (rng.random(n) < 0.25)
    created = rows["stamp"].to_numpy() - rng.integers(0, 3 * 365 * DAY, n)
    return frame_of(
        {
            "Id": keys,
            "Name": name,
            "Website": website,
            "Phone": _phones(rng, c["phone"].to_numpy(), np.where(dup, 0.7, 0.93), [0, 0, 1, 2, 3]),
            "BillingStreet": street,
            "BillingCity": city,
            "BillingState": state,
            "BillingPostalCode": postcode,
            "BillingCountry": country,
            "Tax_ID__c": tax,
            "Type": pick(rng, ["Customer", "Customer", "Prospect", "Partner"], n),
            "CreatedDate": time_text(created, "salesforce"),
            "LastModifiedDate": time_text(rows["stamp"].to_numpy(), "salesforce"),
            "IsDeleted": where(deleted, "true", "false"),
            "_entity": c["entity_id"].to_numpy(),
            "_postcode_damage": damage,
            "_old_address": rows["old"].to_numpy(),
            "_live": ~deleted,
        }
    )


ERP_LEGAL = {
    "Inc.": "INC", "Inc": "INC", "LLC": "LLC", "Corp.": "CORP", "Corporation": "CORP",
    "Co.": "CO", "Company": "CO", "Ltd.": "LTD", "LLP": "LLP", "": "",
}  # fmt: skip


def split_name(name: str, width: int = ERP_NAME_WIDTH) -> tuple[str, str]:
    """A name cut into an ERP's two name fields at the last space that fits."""
    if len(name) <= width:
        return name, ""
    cut = name.rfind(" ", 0, width + 1)
    if cut <= 0:
        return name[:width], name[width:]
    return name[:cut], name[cut + 1 :]


def render_erp_customers(
    rows: pd.DataFrame, world: World, rng: np.random.Generator, keys: ObjectArray
) -> pd.DataFrame:
    companies = world.companies
    company = rows["company"].to_numpy()
    n = len(rows)
    c = companies.iloc[company]
    core = _branch_names(
        rng,
        c["core"].to_numpy(),
        c["branch"].to_numpy(),
        ["{brand} {branch}", "{brand} - {branch}"],
    )
    draws = rng.random((n, 6))
    core = objects([abbreviate(x, d, 0.75) for x, d in zip(core, draws, strict=True)])
    amp = rng.random(n)
    core = objects(
        [
            x.replace(" & ", " AND ") if a < 0.35 else x.replace(" and ", " & ") if a > 0.9 else x
            for x, a in zip(core, amp, strict=True)
        ]
    )
    legal = objects([ERP_LEGAL[f] for f in c["legal"].to_numpy()])
    legal = where((rng.random(n) < 0.1) | (c["branch"].to_numpy() != ""), "", legal)
    dotted = rng.random(n) < 0.2
    legal = objects(
        [
            f"{f}." if d and f in ("INC", "CORP", "CO", "LTD") else f
            for f, d in zip(legal, dotted, strict=True)
        ]
    )
    full = upper(join(core, legal))
    full = typos(rng, full, rng.random(n) < 0.015)
    first, second = zip(*(split_name(x) for x in full), strict=True)
    address = _address_of(companies, company, rows["old"].to_numpy())
    street, suite = _streets(rng, address, keep_suite=0.9, short=0.95)
    attention = (suite == "") & (rng.random(n) < 0.02)
    suite = where(attention, "ATTN: ACCOUNTS PAYABLE", suite)
    postcode, damage = _postcodes(
        rng,
        address["zip5"],
        address["zip4"],
        {"number": 0.85, "number4": 0.06, "missing": 0.05, "typo": 0.04},
    )
    tax = c["ein"].to_numpy()
    tax = where(rng.random(n) < 0.45, objects([t.replace("-", "") for t in tax]), tax)
    tax = where(rng.random(n) < 0.95, tax, "")
    return frame_of(
        {
            "CUSTNO": keys,
            "CUSTNAME": objects(first),
            "CUSTNAME2": objects(second),
            "STREET1": upper(street),
            "STREET2": upper(suite),
            "CITY": upper(objects(address["city"])),
            "STATE": objects(address["state"]),
            "ZIP": postcode,
            "COUNTRY": objects(["US"] * n),
            "TELEPHONE": _phones(rng, c["phone"].to_numpy(), 0.9, [4, 4, 1]),
            "TAXID": tax,
            "CREDITLIMIT": objects([str(x) for x in rng.integers(1, 200, n) * 500]),
            "LASTCHG": time_text(rows["stamp"].to_numpy(), "compact"),
            "_entity": c["entity_id"].to_numpy(),
            "_postcode_damage": damage,
            "_old_address": rows["old"].to_numpy(),
            "_split": objects(second) != "",
            "_abbreviated": objects(
                [any(w in vocab.COMPANY_WORDS.values() for w in x.split()) for x in full]
            ).astype(bool),
            "_live": np.ones(n, dtype=bool),
        }
    )


def render_acq_accounts(
    rows: pd.DataFrame, world: World, rng: np.random.Generator, keys: ObjectArray
) -> pd.DataFrame:
    companies = world.companies
    company = rows["company"].to_numpy()
    n = len(rows)
    c = companies.iloc[company]
    core = _branch_names(rng, c["core"].to_numpy(), c["branch"].to_numpy(), ["{brand} {branch}"])
    legal = _legal_variant(
        rng, np.where(c["branch"].to_numpy() != "", "", c["legal"].to_numpy()), 0.4
    )
    name = typos(rng, _with_legal(core, legal), rng.random(n) < 0.03)
    address = _address_of(companies, company, rows["old"].to_numpy())
    street, suite = _streets(rng, address, keep_suite=0.8, short=0.3)
    state = objects(address["state"])
    state = where(rng.random(n) < 0.6, objects([vocab.STATE_NAMES[s] for s in state]), state)
    postcode, damage = _postcodes(
        rng,
        address["zip5"],
        address["zip4"],
        {"zip": 0.75, "missing": 0.15, "zip4_plain": 0.05, "typo": 0.05},
    )
    domain = c["domain"].to_numpy()
    web = objects(
        [
            (d if k < 0.5 else f"www.{d}") if d else ""
            for d, k in zip(domain, rng.random(n), strict=True)
        ]
    )
    return frame_of(
        {
            "account_no": keys,
            "company_name": name,
            "web": where(rng.random(n) < 0.65, web, ""),
            "tel": _phones(rng, c["phone"].to_numpy(), 0.85, [3, 2]),
            "addr_line1": street,
            "addr_line2": suite,
            "town": typos(rng, objects(address["city"]), rng.random(n) < 0.02),
            "state_province": state,
            "zip": postcode,
            "country_name": pick(rng, ["United States of America", "U.S.A.", "USA", ""], n),
            "modified": time_text(rows["stamp"].to_numpy(), "de"),
            "_entity": c["entity_id"].to_numpy(),
            "_postcode_damage": damage,
            "_old_address": rows["old"].to_numpy(),
            "_live": np.ones(n, dtype=bool),
        }
    )


ACCOUNT_RENDERERS: dict[str, Callable[..., pd.DataFrame]] = {
    "crm_accounts": render_crm_accounts,
    "erp_customers": render_erp_customers,
    "acq_accounts": render_acq_accounts,
}


# ---- contacts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContactPlan:
    """How one system holds people: the chance of each kind of value."""

    nickname: float  # a record under the nickname
    email: dict[str, float]  # work, personal, role, none
    phone: dict[str, float]  # work, board, mobile, home, none
    mobile: float  # the mobile column filled (when the person has one)
    title: float
    company: float  # a free-text company name


PLANS: dict[str, ContactPlan] = {
    "crm_contacts": ContactPlan(
        0.07, {"work": 0.86, "personal": 0.04, "none": 0.1},
        {"work": 0.8, "none": 0.2}, 0.5, 0.85, 0.0,
    ),
    "erp_contacts": ContactPlan(
        0.0, {"work": 0.4, "role": 0.4, "none": 0.2},
        {"board": 0.8, "none": 0.2}, 0.0, 0.0, 0.0,
    ),
    "marketing_leads": ContactPlan(
        0.18, {"personal": 0.55, "work": 0.45},
        {"work": 0.2, "mobile": 0.12, "home": 0.08, "none": 0.6}, 0.0, 0.65, 0.88,
    ),
    "support_requesters": ContactPlan(
        0.1, {"work": 0.65, "personal": 0.35},
        {"work": 0.36, "mobile": 0.11, "home": 0.08, "none": 0.45}, 0.0, 0.0, 0.5,
    ),
    "acq_contacts": ContactPlan(
        0.05, {"work": 0.85, "none": 0.15},
        {"work": 0.7, "none": 0.3}, 0.4, 0.8, 0.0,
    ),
}  # fmt: skip


def _kinds(rng: np.random.Generator, shares: dict[str, float], n: int) -> ObjectArray:
    return pick(rng, list(shares), n, list(shares.values()))


def contact_rows(
    world: World, accounts: dict[str, pd.DataFrame], rng: np.random.Generator
) -> pd.DataFrame:
    """One row per contact record of the first load: person, source, dup, stamp, account_key
    and what the record knows (its kinds of email and phone, stale flags, a nickname, ...)."""
    people = world.people
    companies = world.companies
    present = people["hired_night"].to_numpy() == 0
    company = people["company"].to_numpy()
    in_crm = companies["in_crm"].to_numpy()[company]
    in_erp = companies["in_erp"].to_numpy()[company]
    customer = in_crm | in_erp
    n = len(people)
    parts = []

    def add(source: str, persons: np.ndarray, dup_share: float) -> None:
        twice = persons[rng.random(len(persons)) < dup_share]
        person = np.r_[persons, twice]
        parts.append(
            pd.DataFrame(
                {
                    "person": person.astype(np.int64),
                    "source": source,
                    "dup": np.r_[np.zeros(len(persons), bool), np.ones(len(twice), bool)],
                }
            )
        )

    add("crm_contacts", np.flatnonzero(present & in_crm & (rng.random(n) < 0.72)), 0.03)
    # Billing contacts: one or two people of some ERP customers.
    frame = pd.DataFrame({"company": company, "person": np.arange(n)})[present & in_erp]
    shuffled = frame.sample(frac=1.0, random_state=int(rng.integers(0, 2**31)))
    order = shuffled.groupby("company").cumcount().to_numpy()
    billed = rng.random(len(companies)) < 0.45
    second = rng.random(len(companies)) < 0.25
    wanted = billed[shuffled["company"].to_numpy()] & (
        (order == 0) | ((order == 1) & second[shuffled["company"].to_numpy()])
    )
    add("erp_contacts", np.sort(shuffled["person"].to_numpy()[wanted]), 0.0)
    add("marketing_leads", np.flatnonzero(present & (rng.random(n) < 0.3)), 0.12)
    add("support_requesters", np.flatnonzero(present & customer & (rng.random(n) < 0.3)), 0.06)
    in_acq = companies["in_acquired"].to_numpy()[company]
    add("acq_contacts", np.flatnonzero(present & in_acq & (rng.random(n) < 0.6)), 0.02)
    rows = pd.concat(parts, ignore_index=True)
    rows = decide_contact_values(rows, world, accounts, rng)
    return rows


def decide_contact_values(
    rows: pd.DataFrame,
    world: World,
    accounts: dict[str, pd.DataFrame],
    rng: np.random.Generator,
    *,
    stale: bool = True,
) -> pd.DataFrame:
    """Stamps, account keys and kinds of value of contact rows (``person``, ``source``, ``dup``);
    then, over all rows, which ones hold a value from before a change."""
    people = world.people
    n = len(rows)
    person = rows["person"].to_numpy()
    source = rows["source"].to_numpy()
    rows["stamp"] = np.zeros(n, dtype=np.int64)
    for name in CONTACT_SOURCES:
        mask = source == name
        rows.loc[mask, "stamp"] = stamps(rng, SYSTEM_OF[name], int(mask.sum()))
    rows["account_key"] = account_keys(rows, world, accounts, rng)
    rows["nickname"] = False
    rows["email_kind"] = ""
    rows["phone_kind"] = ""
    rows["has_mobile"] = False
    rows["has_title"] = False
    rows["has_company"] = False
    for name, plan in PLANS.items():
        mask = source == name
        m = int(mask.sum())
        rows.loc[mask, "nickname"] = rng.random(m) < plan.nickname
        rows.loc[mask, "email_kind"] = _kinds(rng, plan.email, m)
        rows.loc[mask, "phone_kind"] = _kinds(rng, plan.phone, m)
        rows.loc[mask, "has_mobile"] = rng.random(m) < plan.mobile
        rows.loc[mask, "has_title"] = rng.random(m) < plan.title
        rows.loc[mask, "has_company"] = rng.random(m) < plan.company
    # What a person lacks, a record cannot hold.
    work = people["work_email"].to_numpy()[person] != ""
    personal = people["personal_email"].to_numpy()[person] != ""
    kind = rows["email_kind"].to_numpy().astype(object)
    kind = np.where((kind == "work") & ~work, np.where(personal, "personal", ""), kind)
    kind = np.where((kind == "personal") & ~personal, np.where(work, "work", ""), kind)
    kind = np.where((kind == "role") & ~work, "", kind)
    required = np.isin(source, ["marketing_leads", "support_requesters"])  # they need an email
    kind = np.where(required & (kind == ""), np.where(work, "work", "personal"), kind)
    rows["email_kind"] = kind.astype(object)
    phone_kind = rows["phone_kind"].to_numpy().astype(object)
    home = people["home_phone"].to_numpy()[person] != ""
    relatives = np.isin(people["relation"].to_numpy()[person], ["relatives", "family_business"])
    personal_channel = np.isin(source, ["marketing_leads", "support_requesters"])
    phone_kind = np.where(
        relatives & home & personal_channel & (phone_kind != "none"), "home", phone_kind
    )
    phone_kind = np.where((phone_kind == "home") & ~home, "work", phone_kind)
    mobile = people["mobile"].to_numpy()[person] != ""
    phone_kind = np.where((phone_kind == "mobile") & ~mobile, "work", phone_kind)
    rows["phone_kind"] = np.where(phone_kind == "none", "", phone_kind).astype(object)
    rows["has_mobile"] = rows["has_mobile"].to_numpy() & mobile
    rows["old_title"] = False
    rows["old_phone"] = False
    rows["old_email"] = False
    if stale:
        mark_stale(rows, world, rng)
    return rows


STALE_SHARE = {"title": 0.22, "phone": 0.12, "email": 0.08}


def mark_stale(rows: pd.DataFrame, world: World, rng: np.random.Generator) -> None:
    """Some people changed their title, work phone or work email: their rows modified before
    the change (never all of them) hold the old value."""
    people = world.people
    person = rows["person"].to_numpy()
    stamp = rows["stamp"].to_numpy()
    chosen_people = {key: rng.random(len(people)) < share for key, share in STALE_SHARE.items()}
    carries = {
        "title": rows["has_title"].to_numpy() & (people["old_title"].to_numpy()[person] != ""),
        "phone": rows["phone_kind"].to_numpy() == "work",
        "email": rows["email_kind"].to_numpy() == "work",
    }
    for key, carried in carries.items():
        chosen = carried & chosen_people[key][person]
        rows[f"old_{key}"] = older_before_change(rng, person, stamp, chosen)


def account_keys(
    rows: pd.DataFrame, world: World, accounts: dict[str, pd.DataFrame], rng: np.random.Generator
) -> ObjectArray:
    """Each record's account key in its own system: one of its company's account records
    there (the first one mostly, a duplicate sometimes); "" for systems without keys."""
    people = world.people
    company = people["company"].to_numpy()[rows["person"].to_numpy()]
    out = np.full(len(rows), "", dtype=object)
    for contacts, account_source in (
        ("crm_contacts", "crm_accounts"),
        ("erp_contacts", "erp_customers"),
        ("acq_contacts", "acq_accounts"),
    ):
        table = accounts[account_source]
        mask = rows["source"].to_numpy() == contacts
        key_column = table.columns[0]
        by_company = pd.DataFrame(
            {
                "company": table["_company"].to_numpy(),
                "key": table[key_column].to_numpy(),
                "dup": table["_dup"].to_numpy(),
            }
        )
        first = (
            by_company[~by_company["dup"]].drop_duplicates("company").set_index("company")["key"]
        )
        other = by_company[by_company["dup"]].drop_duplicates("company").set_index("company")["key"]
        wanted = company[mask]
        primary = first.reindex(wanted).fillna("").to_numpy(dtype=object)
        secondary = other.reindex(wanted).fillna("").to_numpy(dtype=object)
        use_other = (secondary != "") & (rng.random(len(wanted)) < 0.15)
        out[mask] = np.where(use_other | (primary == ""), secondary, primary)
    return out


def _current(
    people: pd.DataFrame, person: IntArray, key: str, old_key: str, old: BoolArray
) -> ObjectArray:
    values = people[key].to_numpy()[person]
    return where(old, people[old_key].to_numpy()[person], values)


def contact_values(rows: pd.DataFrame, world: World) -> dict[str, ObjectArray]:
    """The plain values each row holds (before a system writes them its way)."""
    people = world.people
    companies = world.companies
    person = rows["person"].to_numpy()
    formal = people["first"].to_numpy()[person]
    draws = (np.asarray(person) * 0.6180339887) % 1.0  # a person's usual nickname
    nick = objects([nickname_of(f, d) for f, d in zip(formal, draws, strict=True)])
    first = where(rows["nickname"].to_numpy(), nick, formal)
    work_email = _current(people, person, "work_email", "old_email", rows["old_email"].to_numpy())
    email_kind = rows["email_kind"].to_numpy()
    domain = companies["domain"].to_numpy()[people["company"].to_numpy()[person]]
    role_index = people["company"].to_numpy()[person] % len(vocab.ROLE_MAILBOXES)
    role = objects(
        [
            f"{vocab.ROLE_MAILBOXES[r]}@{d}" if d else ""
            for r, d in zip(role_index, domain, strict=True)
        ]
    )
    email = np.select(
        [email_kind == "work", email_kind == "personal", email_kind == "role"],
        [work_email, people["personal_email"].to_numpy()[person], role],
        "",
    ).astype(object)
    work_phone = _current(people, person, "work_phone", "old_phone", rows["old_phone"].to_numpy())
    extension = where(rows["old_phone"].to_numpy(), "", people["extension"].to_numpy()[person])
    switchboard = companies["phone"].to_numpy()[people["company"].to_numpy()[person]]
    phone_kind = rows["phone_kind"].to_numpy()
    phone = np.select(
        [phone_kind == "work", phone_kind == "board", phone_kind == "mobile", phone_kind == "home"],
        [
            work_phone,
            switchboard,
            people["mobile"].to_numpy()[person],
            people["home_phone"].to_numpy()[person],
        ],
        "",
    ).astype(object)
    extension = where(phone_kind == "work", extension, "")
    title = where(
        rows["old_title"].to_numpy(),
        people["old_title"].to_numpy()[person],
        people["title"].to_numpy()[person],
    )
    title = where(rows["has_title"].to_numpy(), title, "")
    mobile = where(rows["has_mobile"].to_numpy(), people["mobile"].to_numpy()[person], "")
    return {
        "first": first,
        "formal": formal,
        "middle": people["middle"].to_numpy()[person],
        "last": people["last"].to_numpy()[person],
        "email": email,
        "phone": phone,
        "extension": extension,
        "mobile": mobile,
        "title": title,
    }


def company_texts(rng: np.random.Generator, rows: pd.DataFrame, world: World) -> ObjectArray:
    """A company as people type it into a form: the name without its legal form, in full,
    in lower case, abbreviated, an acronym, with a typo."""
    companies = world.companies
    company = world.people["company"].to_numpy()[rows["person"].to_numpy()]
    core = companies["core"].to_numpy()[company]
    name = companies["name"].to_numpy()[company]
    n = len(rows)
    style = pick(
        rng,
        ["core", "full", "lower", "abbreviated", "acronym", "typo"],
        n,
        [0.5, 0.22, 0.1, 0.06, 0.04, 0.08],
    )
    draws = rng.random((n, 4))
    out = []
    for c, full, s, d in zip(core, name, style, draws, strict=True):
        if s == "core":
            out.append(c)
        elif s == "full":
            out.append(full)
        elif s == "lower":
            out.append(c.lower())
        elif s == "abbreviated":
            out.append(abbreviate(c, d, 0.9).title())
        elif s == "acronym":
            letters = "".join(w[0] for w in c.replace("&", "").split() if w[:1].isalpha())
            out.append(letters.upper() if len(letters) >= 2 else c)
        else:
            out.append(c)
    text = objects(out)
    text = typos(rng, text, style == "typo")
    return where(rows["has_company"].to_numpy(), text, "")


def _name_case(
    rng: np.random.Generator,
    first: ObjectArray,
    last: ObjectArray,
    lower_share: float,
    upper_share: float,
) -> tuple[ObjectArray, ObjectArray]:
    draw = rng.random(len(first))
    low, up = draw < lower_share, (draw >= lower_share) & (draw < lower_share + upper_share)
    first = where(low, lower(first), where(up, upper(first), first))
    last = where(low, lower(last), where(up, upper(last), last))
    return first, last


def _phone_texts(
    rng: np.random.Generator, digits: ObjectArray, extension: ObjectArray, styles: list[int]
) -> ObjectArray:
    style = np.asarray(styles, dtype=np.int64)[rng.integers(0, len(styles), len(digits))]
    return phone_text(digits, style, extension)


def full_name_text(first: str, middle: str, last: str, style: str) -> str:
    if style == "plain":
        return f"{first} {last}"
    if style == "comma":
        return f"{last}, {first}"
    if style == "middle":
        return f"{first} {middle}. {last}" if middle else f"{first} {last}"
    if style == "doctor":
        return f"Dr. {first} {middle + '. ' if middle else ''}{last}"
    if style == "upper":
        return f"{first} {last}".upper()
    if style == "lower":
        return f"{first} {last}".lower()
    if style == "comma_middle":
        return f"{last}, {first} {middle}." if middle else f"{last}, {first}"
    raise ValueError(style)


FULL_NAME_STYLES = {
    "plain": 0.52, "comma": 0.1, "middle": 0.1, "doctor": 0.04, "upper": 0.1, "lower": 0.1,
    "comma_middle": 0.04,
}  # fmt: skip


def render_contacts(
    source: str, rows: pd.DataFrame, world: World, rng: np.random.Generator, keys: ObjectArray
) -> pd.DataFrame:
    """One contact system's rows, written its way."""
    values = contact_values(rows, world)
    n = len(rows)
    entity = world.people["entity_id"].to_numpy()[rows["person"].to_numpy()]
    first = typos(rng, values["first"], rng.random(n) < 0.015)
    last = typos(rng, values["last"], rng.random(n) < 0.012)
    stamp = rows["stamp"].to_numpy()
    hidden = {
        "_entity": entity,
        "_person": rows["person"].to_numpy(),
        "_live": np.ones(n, dtype=bool),
    }
    for column in (
        "email_kind",
        "phone_kind",
        "nickname",
        "old_title",
        "old_phone",
        "old_email",
        "has_title",
        "has_mobile",
        "has_company",
        "dup",
    ):
        hidden[f"_{column}"] = rows[column].to_numpy()
    hidden["_typo"] = (first != values["first"]) | (last != values["last"])
    hidden["_phone_digits"] = values["phone"]
    hidden["_email"] = values["email"]
    if source == "crm_contacts":
        visible = {
            "Id": keys,
            "AccountId": rows["account_key"].to_numpy(),
            "FirstName": first,
            "LastName": last,
            "Email": values["email"],
            "Phone": _phone_texts(rng, values["phone"], values["extension"], [0, 0, 1, 2, 3]),
            "MobilePhone": _phone_texts(rng, values["mobile"], objects([""] * n), [0, 1, 2]),
            "Title": values["title"],
            "LastModifiedDate": time_text(stamp, "salesforce"),
            "op": objects(["I"] * n),
        }
    elif source == "erp_contacts":
        visible = {
            "CONTACTNO": keys,
            "CUSTNO": rows["account_key"].to_numpy(),
            "FIRSTNAME": upper(first),
            "LASTNAME": upper(last),
            "EMAIL": where(rng.random(n) < 0.5, upper(values["email"]), values["email"]),
            "TELEPHONE": _phone_texts(rng, values["phone"], objects([""] * n), [4, 4, 1]),
            "LASTCHG": time_text(stamp, "compact"),
        }
    elif source == "marketing_leads":
        cased_first, cased_last = _name_case(rng, first, last, 0.06, 0.03)
        visible = {
            "lead_id": keys,
            "first_name": cased_first,
            "last_name": cased_last,
            "email": values["email"],
            "company": company_texts(rng, rows, world),
            "job_title": values["title"],
            "phone": _phone_texts(
                rng, values["phone"], values["extension"], list(range(PHONE_STYLES))
            ),
            "campaign": pick(
                rng, ["webinar", "trade show", "whitepaper", "newsletter", "demo request"], n
            ),
            "created": time_text(stamp - rng.integers(0, 400 * DAY, n), "us_date"),
            "updated": time_text(stamp, "us_date"),
        }
    elif source == "support_requesters":
        style = pick(rng, list(FULL_NAME_STYLES), n, list(FULL_NAME_STYLES.values()))
        full = objects(
            [
                full_name_text(f, m, la, s)
                for f, m, la, s in zip(first, values["middle"], last, style, strict=True)
            ]
        )
        hidden["_name_style"] = style
        visible = {
            "requester_id": keys,
            "Full Name": full,
            "email": values["email"],
            "phone": _phone_texts(
                rng, values["phone"], values["extension"], list(range(PHONE_STYLES))
            ),
            "company": company_texts(rng, rows, world),
            "updated_at": time_text(stamp, "epoch"),
            "op": objects(["I"] * n),
        }
    elif source == "acq_contacts":
        visible = {
            "contact_id": keys,
            "account_no": rows["account_key"].to_numpy(),
            "name_first": first,
            "name_last": last,
            "email": values["email"],
            "direct_phone": _phone_texts(rng, values["phone"], values["extension"], [3, 2]),
            "cell": _phone_texts(rng, values["mobile"], objects([""] * n), [3, 2]),
            "position": values["title"],
            "modified": time_text(stamp, "de"),
        }
    else:
        raise ValueError(source)
    return frame_of({**visible, **hidden})


def render_accounts(
    world: World, rows: pd.DataFrame, rng: np.random.Generator, makers: dict[str, KeyMaker]
) -> dict[str, pd.DataFrame]:
    out = {}
    for source in ACCOUNT_SOURCES:
        part = rows[rows["source"] == source].reset_index(drop=True)
        table = ACCOUNT_RENDERERS[source](part, world, rng, makers[source].take(len(part)))
        table["_company"] = part["company"].to_numpy()
        table["_dup"] = part["dup"].to_numpy()
        table["_stamp"] = part["stamp"].to_numpy()
        out[source] = table
    return out


def render_all_contacts(
    world: World, rows: pd.DataFrame, rng: np.random.Generator, makers: dict[str, KeyMaker]
) -> dict[str, pd.DataFrame]:
    out = {}
    for source in CONTACT_SOURCES:
        part = rows[rows["source"] == source].reset_index(drop=True)
        table = render_contacts(source, part, world, rng, makers[source].take(len(part)))
        table["_stamp"] = part["stamp"].to_numpy()
        table["_account_key"] = part["account_key"].to_numpy()
        out[source] = table
    return out
