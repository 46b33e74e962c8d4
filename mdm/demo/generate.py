"""Seeded demo data: five source systems describing the same organisations and people.

``generate_demo`` writes a ready-to-run project (the source extracts and ``mdm.toml``) and the
truth of which records are the same real-world entity, so that matching can be scored.

The world is made first (organisations, then the people who work there), then each system's
view of it, with that system's habits: the CRM's duplicates and free-typed fields, the ERP's
upper-case abbreviations in latin-1, the marketing list's personal emails, the support desk's
naively split names. Everything random comes from one ``numpy.random.default_rng(seed)``, drawn
in a fixed order, so the same seed gives byte-identical files. Work is done on whole arrays;
the remaining per-row Python is string formatting, linear in the number of records.
"""

from __future__ import annotations

import itertools
import json
import string
import tomllib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mdm.config.specs import ProjectSpec
from mdm.demo.vocabulary import (
    AMPERSAND_WORDS,
    COUNTRIES,
    ERP_ABBREVIATIONS,
    FAMILY_EMAIL_PATTERNS,
    PERSONAL_EMAIL_PATTERNS,
    SUBSIDIARY_LABELS,
    TRANSLITERATIONS,
    WEBSITE_FORMATS,
    WORK_EMAIL_PATTERNS,
    City,
    Country,
)

Strs = npt.NDArray[np.object_]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

# ---- how the world and the systems behave (shares of entities or of a file's rows) --------

NAMESAKE_SHARE = 0.03  # organisations named like another one in another city
BRANCH_SHARE = 0.04  # sites or subsidiaries of another organisation, sharing its domain
FOREIGN_BRANCH_SHARE = 0.3  # of branches: a subsidiary in another country
CRM_ACCOUNT_SHARE = 0.88  # organisations the CRM knows
ERP_SHARE = 0.60  # organisations that are ERP customers
CRM_DUPLICATE_RATE = 0.08  # CRM account rows that repeat an organisation already there
ERP_DUPLICATE_RATE = 0.03
EXTRA_PEOPLE_MEAN = 1.6  # people per organisation: 1 + Poisson(this)
FOREIGN_NAME_SHARE = 0.12  # people whose names come from another country's vocabulary
NICKNAME_SHARE = 0.35  # people who go by a nickname, where their name has one
FAMILY_SHARE = 0.03  # people with a relative at the same (family) business
FAMILY_EMAIL_SHARE = 0.4  # families that share one personal mailbox
CRM_CONTACT_SHARE = 0.80  # people of CRM accounts that the CRM has as contacts
MARKETING_SHARE = 0.35
SUPPORT_SHARE = 0.25
CRM_CONTACT_DUPLICATE_RATE = 0.05
MARKETING_DUPLICATE_RATE = 0.07
SUPPORT_DUPLICATE_RATE = 0.03
PHONE_CHANGE_SHARE = 0.2  # people in CRM and support whose support record has a new phone
DELETED_SHARE = 0.005  # CRM rows flagged deleted; duplicates more often (merged away)
DELETED_DUPLICATE_SHARE = 0.12
DUPLICATE_NOISE = 3.0  # duplicate rows are this much noisier than first entries

WINDOW_START = np.datetime64("2023-01-01T00:00:00", "s")
WINDOW_SECONDS = 912 * 86_400  # about two and a half years of edits
DAY = 86_400

NORMAL, NAMESAKE, BRANCH = 0, 1, 2
_BASE62 = np.frombuffer(
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", dtype=np.uint8
)
_CHECKSUM = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", dtype=np.uint8)
_FILLER_WORDS = frozenset(("", "the", "and", "und", "et", "en", "of"))
_PARTICLES = frozenset(("le", "la", "de", "du", "des", "da", "van", "von", "der", "den", "ten"))

# Flattened city table: per-country lists would need a loop per lookup.
_CITIES: tuple[City, ...] = tuple(city for country in COUNTRIES for city in country.cities)
_CITY_COUNTRY = np.array([i for i, c in enumerate(COUNTRIES) for _ in c.cities], dtype=np.int64)
_CITY_START = np.cumsum([0, *(len(c.cities) for c in COUNTRIES)])[:-1]
_SUB_DIGITS = np.array([city.subscriber_digits for city in _CITIES], dtype=np.int64)
_GERMANY = next(i for i, c in enumerate(COUNTRIES) if c.code == "DE")
_US = next(i for i, c in enumerate(COUNTRIES) if c.code == "US")
_COUNTRY_WEIGHTS = np.array([c.weight for c in COUNTRIES]) / sum(c.weight for c in COUNTRIES)


@dataclass(frozen=True)
class DemoTruth:
    """Which true entity each source record describes."""

    accounts: pd.DataFrame  # source, source_key, entity_id ("ORG-00042")
    contacts: pd.DataFrame  # source, source_key, entity_id ("PER-00042"), account_entity_id


@dataclass(frozen=True)
class DemoData:
    """The five source tables as written (CSV tables hold "" for empty cells) and the truth."""

    tables: dict[str, pd.DataFrame]
    truth: DemoTruth


def generate_demo(
    directory: Path, *, accounts: int = 600, seed: int = 7, faults: bool = True
) -> DemoTruth:
    """Write a demo project into ``directory``: ``data/``, ``truth/`` and ``mdm.toml``.

    ``accounts`` is the number of true organisations; the files hold more account records
    (duplicates, two systems) and about four contact records per organisation. ``faults``
    appends the damage real extracts carry (a cut-off line, a row without its key, a row
    from a badly configured export), which mdm quarantines; those rows are not in the truth.
    """
    data = generate_tables(accounts=accounts, seed=seed)
    project = project_toml(accounts=accounts, seed=seed)
    ProjectSpec.model_validate(tomllib.loads(project))  # a bug here must never reach a user
    directory = Path(directory)
    (directory / "data").mkdir(parents=True, exist_ok=True)
    (directory / "truth").mkdir(parents=True, exist_ok=True)
    for source in _SOURCES:
        source.write(data.tables[source.name], directory / source.path)
    if faults:
        _add_extract_faults(directory)
    _write_csv(data.truth.accounts, directory / "truth" / "accounts.csv")
    _write_csv(data.truth.contacts, directory / "truth" / "contacts.csv")
    (directory / "mdm.toml").write_text(project, encoding="utf-8")
    return data.truth


def _add_extract_faults(directory: Path) -> None:
    with (directory / "data" / "crm_contacts.csv").open("a", encoding="utf-8") as handle:
        handle.write(",0015g000009ZZZZ,Dana,Reyes,dana.reyes@example.com,,,,,,,,2024-05-02,false\n")
        handle.write("0035g000009ZZZY;Sam;Okafor;sam.okafor@example.com\n")
    with (directory / "data" / "marketing_leads.jsonl").open("a", encoding="utf-8") as handle:
        handle.write('{"lead_id": "L-99999", "first": "Ana", "last": "Mar\n')


def generate_tables(*, accounts: int = 600, seed: int = 7) -> DemoData:
    """The demo tables and their truth in memory (what ``generate_demo`` writes)."""
    if accounts < 1:
        raise ValueError(f"accounts must be at least 1, not {accounts}")
    rng = np.random.default_rng(seed)
    orgs = _organisations(rng, accounts)
    people = _people(rng, orgs)
    in_crm, in_erp = _account_presence(rng, orgs.n)
    crm_accounts, crm_orgs, crm_dups = _crm_accounts(rng, orgs, in_crm)
    erp, erp_orgs = _erp_customers(rng, orgs, in_erp)
    crm_ids = _strs(crm_accounts["Id"].tolist())
    account_ids = _account_ids(orgs.n, crm_ids, crm_orgs, crm_dups)
    presence = _presence(rng, people, account_ids)
    crm_contacts, crm_people = _crm_contacts(rng, people, orgs, presence, account_ids)
    leads, lead_people = _marketing_leads(rng, people, orgs, presence)
    support, support_people = _support_contacts(rng, people, orgs, presence, account_ids)
    tables = {
        "crm_accounts": crm_accounts,
        "erp_customers": erp,
        "crm_contacts": crm_contacts,
        "marketing_leads": leads,
        "support_contacts": support,
    }
    account_truth = pd.concat(
        [
            _truth("crm_accounts", crm_accounts["Id"], orgs.entity[crm_orgs]),
            _truth("erp_customers", erp["KUNNR"], orgs.entity[erp_orgs]),
        ],
        ignore_index=True,
    )
    contact_truth = pd.concat(
        [
            _person_truth("crm_contacts", crm_contacts["Id"], crm_people, people, orgs),
            _person_truth("marketing_leads", leads["lead_id"], lead_people, people, orgs),
            _person_truth("support_contacts", support["contact_id"], support_people, people, orgs),
        ],
        ignore_index=True,
    )
    return DemoData(tables, DemoTruth(account_truth, contact_truth))


# ---- small array helpers --------------------------------------------------------------------


def _strs(values: Sequence[Any] | npt.NDArray[Any]) -> Strs:
    array = np.empty(len(values), dtype=object)
    array[:] = list(values)
    return array


def _pick(rng: np.random.Generator, options: Sequence[str], n: int) -> Strs:
    return _strs(options)[rng.integers(0, len(options), size=n)]


def _chance(rng: np.random.Generator, p: float | npt.NDArray[np.float64], n: int) -> Bools:
    return rng.random(n) < p


def _noisy(p: float, dup: Bools) -> npt.NDArray[np.float64]:
    """Per-row probability: duplicates (re-keyed by someone else, later) are noisier."""
    return np.minimum(np.where(dup, p * DUPLICATE_NOISE, p), 0.9)


def _digits(rng: np.random.Generator, n: int, length: int, first: str = "123456789") -> Strs:
    """Random digit strings whose first digit is one of ``first`` (never a trunk "0")."""
    codes = rng.integers(ord("0"), ord("9") + 1, size=(n, length), dtype=np.uint8)
    allowed = np.frombuffer(first.encode(), dtype=np.uint8)
    codes[:, 0] = allowed[rng.integers(0, len(allowed), size=n)]
    return _strs(np.ascontiguousarray(codes).view(f"S{length}").ravel().astype(str))


def _sequential_keys(prefix: str, start: int, n: int, width: int) -> Strs:
    # Systems number records in creation order; a file sorted by key is in that order too.
    return _strs([f"{prefix}{start + i:0{width}d}" for i in range(n)])


def _timestamps(rng: np.random.Generator, n: int, latest_days: int = 0) -> Ints:
    """Seconds since the window start, leaving ``latest_days`` free at its end."""
    return rng.integers(0, WINDOW_SECONDS - latest_days * DAY, size=n, dtype=np.int64)


def _iso_seconds(offsets: Ints) -> Strs:
    stamps = np.datetime_as_string(WINDOW_START + offsets.astype("timedelta64[s]"), unit="s")
    return _strs([f"{stamp}Z" for stamp in stamps])


def _iso_dates(offsets: Ints) -> Strs:
    return _strs(np.datetime_as_string(WINDOW_START + offsets.astype("timedelta64[s]"), unit="D"))


def _duplicate_count(rows: int, rate: float) -> int:
    """Extra rows such that ``rate`` of all rows repeat an entity already present."""
    return round(rows * rate / (1 - rate))


def _rows(rng: np.random.Generator, present: Bools, rate: float) -> tuple[Ints, Bools]:
    """Entity index per row (each present entity once, plus duplicates), in shuffled order."""
    first = np.flatnonzero(present).astype(np.int64)
    extra_count = _duplicate_count(len(first), rate) if len(first) else 0
    extra = rng.choice(first, size=extra_count) if extra_count else first[:0]
    rows = np.concatenate([first, extra])
    dup = np.concatenate([np.zeros(len(first), bool), np.ones(len(extra), bool)])
    order = rng.permutation(len(rows))
    return rows[order], dup[order]


# ---- text helpers ---------------------------------------------------------------------------


# Names come from a small vocabulary: caching makes these per-row helpers cheap at scale.
@lru_cache(maxsize=1 << 16)
def _fold(text: str) -> str:
    """Accents dropped, as an ASCII keyboard or system writes a name: "José" -> "Jose"."""
    text = text.replace("ß", "ss")
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


@lru_cache(maxsize=1 << 16)
def _transliterate(text: str) -> str:
    """German umlauts written out, then any other accent dropped: "Müller" -> "Mueller"."""
    return _fold("".join(TRANSLITERATIONS.get(c, c) for c in text))


@lru_cache(maxsize=1 << 16)
def _ascii_token(text: str, german: bool) -> str:
    """Lower-case letters and digits only, for domains and mailbox names."""
    plain = _transliterate(text) if german else _fold(text)
    return "".join(c for c in plain.lower() if c.isascii() and (c.isalnum() or c == "-"))


def _typos(rng: np.random.Generator, values: Strs) -> Strs:
    """One keying error per value: a dropped, doubled, swapped or wrong letter."""
    kinds = rng.integers(0, 4, size=len(values))
    spots = rng.random(len(values))
    letters = _pick(rng, "abcdefghiklmnoprstu", len(values))
    out = []
    for text, kind, spot, letter in zip(values, kinds, spots, letters, strict=True):
        if len(text) < 4:
            out.append(text)
            continue
        i = 1 + int(spot * (len(text) - 2))  # keep the first letter: people rarely miss it
        if kind == 0:
            out.append(text[:i] + text[i + 1 :])
        elif kind == 1:
            out.append(text[:i] + text[i] + text[i:])
        elif kind == 2:
            out.append(text[:i] + text[i + 1] + text[i] + text[i + 2 :])
        else:
            out.append(text[:i] + letter + text[i + 1 :])
    return _strs(out)


# ---- organisations --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Orgs:
    n: int
    entity: Strs
    country: Ints  # index into COUNTRIES
    city: Ints  # index into _CITIES
    base: Strs  # the name without its legal form
    legal: Ints  # index into the country's legal forms
    domain: Strs
    area: Strs
    switchboard: Strs  # subscriber number of the main line
    street: Strs
    street_short: Strs
    postcode: Strs
    tax_id: Strs
    email_pattern: Ints


def _organisations(rng: np.random.Generator, n: int) -> _Orgs:
    country = rng.choice(len(COUNTRIES), size=n, p=_COUNTRY_WEIGHTS).astype(np.int64)
    role, parent = _roles(rng, n)
    foreign = (role == BRANCH) & _chance(rng, FOREIGN_BRANCH_SHARE, n)
    copies_country = (role == NAMESAKE) | ((role == BRANCH) & ~foreign)
    country[copies_country] = country[parent[copies_country]]
    base, legal = _company_names(rng, country)
    copied = role != NORMAL
    base[copied] = base[parent[copied]]
    legal[copies_country] = legal[parent[copies_country]]
    city = _cities(rng, country, base)
    base = _branch_names(rng, base, role, parent, country, city)
    street, street_short = _streets(rng, country)
    width = max(5, len(str(n)))
    return _Orgs(
        n=n,
        entity=_sequential_keys("ORG-", 1, n, width),
        country=country,
        city=city,
        base=base,
        legal=legal,
        domain=_domains(rng, base, country, city, role, parent),
        area=_area_codes(rng, city),
        switchboard=_subscribers(rng, city),
        street=street,
        street_short=street_short,
        postcode=_postcodes(rng, city),
        tax_id=_tax_ids(rng, country),
        email_pattern=rng.integers(0, len(WORK_EMAIL_PATTERNS), size=n, dtype=np.int64),
    )


def _roles(rng: np.random.Generator, n: int) -> tuple[Ints, Ints]:
    """Mark namesakes and branches, each with the ordinary organisation it copies from."""
    namesakes, branches = round(n * NAMESAKE_SHARE), round(n * BRANCH_SHARE)
    order = rng.permutation(n).astype(np.int64)
    targets, pool = order[: namesakes + branches], order[namesakes + branches :]
    role = np.full(n, NORMAL, dtype=np.int64)
    parent = np.arange(n, dtype=np.int64)
    if len(pool) and len(targets):
        role[targets[:namesakes]] = NAMESAKE
        role[targets[namesakes:]] = BRANCH
        parent[targets] = pool[rng.integers(0, len(pool), size=len(targets))]
    return role, parent


def _company_names(rng: np.random.Generator, country: Ints) -> tuple[Strs, Ints]:
    base = np.empty(len(country), dtype=object)
    legal = np.zeros(len(country), dtype=np.int64)
    for index, spec in enumerate(COUNTRIES):
        rows = np.flatnonzero(country == index)
        base[rows] = _company_bases(rng, spec, len(rows))
        weights = np.array([form.weight for form in spec.legal_forms])
        legal[rows] = rng.choice(len(weights), size=len(rows), p=weights / weights.sum())
    return base, legal


def _company_bases(rng: np.random.Generator, spec: Country, k: int) -> Strs:
    def capitalised(names: Strs) -> Strs:
        # "de Jong" leads a company name as "De Jong Techniek".
        return _strs([name[0].upper() + name[1:] for name in names])

    patterns = _pick(rng, spec.name_patterns, k)
    surname = capitalised(_pick(rng, spec.last_names, k))
    surname2 = capitalised(_pick(rng, spec.last_names, k))
    brand = _pick(rng, spec.brands, k)
    first_industry = rng.integers(0, len(spec.industries), size=k)
    # A second industry never repeats the first: "Logistics & Logistics" is not a name.
    shift = rng.integers(1, len(spec.industries), size=k)
    industries = _strs(spec.industries)
    industry, industry2 = (
        industries[first_industry],
        industries[(first_industry + shift) % len(industries)],
    )
    return _strs(
        [
            pattern.format(surname=s, surname2=s2, brand=b, industry=i, industry2=i2)
            for pattern, s, s2, b, i, i2 in zip(
                patterns, surname, surname2, brand, industry, industry2, strict=True
            )
        ]
    )


def _cities(rng: np.random.Generator, country: Ints, base: Strs) -> Ints:
    city = np.zeros(len(country), dtype=np.int64)
    for index, spec in enumerate(COUNTRIES):
        rows = np.flatnonzero(country == index)
        weights = np.array([c.weight for c in spec.cities])
        local = rng.choice(len(weights), size=len(rows), p=weights / weights.sum())
        city[rows] = _CITY_START[index] + local
    # One name, one organisation per city: namesakes and branches (and chance collisions)
    # move to the next city, so that name and city together still tell them apart.
    for _ in range(max(len(c.cities) for c in COUNTRIES)):
        clash = np.flatnonzero(pd.DataFrame({"base": base, "city": city}).duplicated().to_numpy())
        if not len(clash):
            break
        start = _CITY_START[country[clash]]
        sizes = np.array([len(COUNTRIES[c].cities) for c in country[clash]])
        city[clash] = start + (city[clash] - start + 1) % sizes
    return city


def _branch_names(
    rng: np.random.Generator, base: Strs, role: Ints, parent: Ints, country: Ints, city: Ints
) -> Strs:
    """Some branches say where they are ("Acme Logistics Chicago", "Acme Logistics UK")."""
    out = base.copy()
    branch = np.flatnonzero(role == BRANCH)
    labelled = _chance(rng, 0.5, len(branch))
    for row, label in zip(branch, labelled, strict=True):
        if country[row] != country[parent[row]]:
            out[row] = f"{base[row]} {SUBSIDIARY_LABELS[COUNTRIES[country[row]].code]}"
        elif label:
            out[row] = f"{base[row]} {_CITIES[city[row]].name}"
    return out


def _domains(
    rng: np.random.Generator, base: Strs, country: Ints, city: Ints, role: Ints, parent: Ints
) -> Strs:
    german = country == _GERMANY
    hyphen = _chance(rng, 0.25, len(base))
    tld = np.empty(len(base), dtype=object)
    for index, spec in enumerate(COUNTRIES):
        rows = np.flatnonzero(country == index)
        tld[rows] = _pick(rng, spec.tlds, len(rows))
    # Domains keep the first two words that say something, particles glued on:
    # "Blue Harbor Logistics" -> blueharbor.com, "Textiles Le Gall" -> textileslegall.fr.
    words = [_domain_words(str(name), g) for name, g in zip(base, german, strict=True)]
    slug = _strs([("-" if h else "").join(ws[:2]) for ws, h in zip(words, hyphen, strict=True)])
    domain: Strs = slug + tld
    # Distinct organisations never share a domain: the later one is told apart by its city.
    own = role != BRANCH
    taken = pd.Series(domain[own]).duplicated().to_numpy()
    clash = np.flatnonzero(own)[taken]
    for row in clash:
        domain[row] = f"{slug[row]}-{_ascii_token(_CITIES[city[row]].name, False)}{tld[row]}"
    taken = pd.Series(domain[own]).duplicated().to_numpy()
    for row in np.flatnonzero(own)[taken]:
        domain[row] = f"{slug[row]}{row}{tld[row]}"
    branches = np.flatnonzero(role == BRANCH)
    domain[branches] = domain[parent[branches]]
    return domain


def _domain_words(name: str, german: bool) -> list[str]:
    words, particles = [], ""
    for token in (_ascii_token(word, german) for word in name.split()):
        if token in _FILLER_WORDS:
            continue
        if token in _PARTICLES:
            particles += token
            continue
        words.append(particles + token)
        particles = ""
    return words


def _area_codes(rng: np.random.Generator, city: Ints) -> Strs:
    picks = rng.integers(0, 1 << 30, size=len(city))
    return _strs(
        [
            _CITIES[c].area_codes[p % len(_CITIES[c].area_codes)]
            for c, p in zip(city, picks, strict=True)
        ]
    )


def _subscribers(rng: np.random.Generator, city: Ints) -> Strs:
    """Local numbers of the city's length, starting with a digit valid for its area."""
    numbers = _digits(rng, len(city), 8, first="0")
    picks = rng.integers(0, 1 << 30, size=len(city))
    return _strs(
        [
            (starts := _CITIES[c].subscriber_starts)[pick % len(starts)] + number[1:length]
            for number, c, pick, length in zip(numbers, city, picks, _SUB_DIGITS[city], strict=True)
        ]
    )


def _streets(rng: np.random.Generator, country: Ints) -> tuple[Strs, Strs]:
    """Street lines, written out and abbreviated ("Market Street" / "Market St")."""
    full = np.empty(len(country), dtype=object)
    short = np.empty(len(country), dtype=object)
    for index, spec in enumerate(COUNTRIES):
        rows = np.flatnonzero(country == index)
        k = len(rows)
        low, high = spec.house_numbers
        numbers = _strs([str(x) for x in rng.integers(low, high + 1, size=k)])
        if spec.code == "DE":
            lettered = _chance(rng, 0.08, k)  # "Hauptstraße 12a"
            numbers[lettered] = [f"{x}a" for x in numbers[lettered]]
        names = _pick(rng, spec.street_names, k)
        kinds = rng.integers(0, len(spec.street_types), size=k)
        full[rows] = [
            spec.street_pattern.format(num=num, name=name, type=spec.street_types[t].full)
            for num, name, t in zip(numbers, names, kinds, strict=True)
        ]
        short[rows] = [
            spec.street_pattern.format(num=num, name=name, type=spec.street_types[t].short)
            for num, name, t in zip(numbers, names, kinds, strict=True)
        ]
        if spec.code == "US":
            # US offices are often a suite in a tower: written out by some, abbreviated by others.
            suite = np.flatnonzero(_chance(rng, 0.25, k))
            floors = rng.integers(1, 40, size=len(suite)) * 100
            full[rows[suite]] = [
                f"{s}, Suite {f}" for s, f in zip(full[rows[suite]], floors, strict=True)
            ]
            short[rows[suite]] = [
                f"{s} Ste {f}" for s, f in zip(short[rows[suite]], floors, strict=True)
            ]
    return full, short


def _postcodes(rng: np.random.Generator, city: Ints) -> Strs:
    n = len(city)
    spots, offsets = rng.random(n), rng.random(n)
    letters = rng.integers(0, 20, size=(n, 2))
    digit = rng.integers(0, 10, size=n)
    out = []
    for c, spot, offset, pair, d in zip(city, spots, offsets, letters, digit, strict=True):
        spec = _CITIES[c]
        style = COUNTRIES[_CITY_COUNTRY[c]].postcode_style
        choice = spec.postcodes[int(spot * len(spec.postcodes))]
        if style == "gb":
            inward = "ABDEFGHJLNPQRSTUWXYZ"
            out.append(f"{choice} {d}{inward[pair[0]]}{inward[pair[1]]}")
            continue
        low, high = (int(part) for part in choice.split("-"))
        number = low + int(offset * (high - low + 1))
        if style == "nl":
            suffix = "ABCDEFGHJKLMNPRTVWXZ"
            out.append(f"{number:04d} {suffix[pair[0]]}{suffix[pair[1]]}")
        else:
            out.append(f"{number:05d}")
    return _strs(out)


def _tax_ids(rng: np.random.Generator, country: Ints) -> Strs:
    out = np.empty(len(country), dtype=object)
    for index, spec in enumerate(COUNTRIES):
        rows = np.flatnonzero(country == index)
        template = spec.tax_id_pattern.replace("#", "{}")
        digits = _digits(rng, len(rows), spec.tax_id_pattern.count("#"))
        out[rows] = [template.format(*number) for number in digits]
    return out


def _account_presence(rng: np.random.Generator, n: int) -> tuple[Bools, Bools]:
    """Which organisations each account system knows; every one is known to at least one."""
    crm = _chance(rng, CRM_ACCOUNT_SHARE, n)
    # Those missing from the CRM are customers the ERP bills; the rest are drawn so that
    # ERP_SHARE of all organisations end up in the ERP.
    rest = (ERP_SHARE - (1 - CRM_ACCOUNT_SHARE)) / CRM_ACCOUNT_SHARE
    erp = ~crm | _chance(rng, rest, n)
    return crm, erp


# ---- people ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _People:
    n: int
    entity: Strs
    org: Ints
    country: Ints  # whose vocabulary the name comes from
    first: Strs
    nickname: Strs  # "" where the name has none
    goes_by: Bools  # uses the nickname day to day
    last: Strs
    title: Strs
    area: Strs  # the office line: area code,
    office: Strs  # subscriber number (a direct line, or the switchboard's)
    extension: Strs  # and extension ("" for a direct line)
    mobile_area: Strs  # "" for people without a mobile
    mobile: Strs
    new_office: Strs  # the office number after a change of phone
    work_email: Strs
    personal_email: Strs
    family_mailbox: Bools  # the personal mailbox is a family's, shared with a relative
    mail_street: Strs
    mail_city: Strs
    mail_postcode: Strs
    crm_time: Ints  # when the CRM last edited the person (seconds into the window)


def _people(rng: np.random.Generator, orgs: _Orgs) -> _People:
    counts = 1 + rng.poisson(EXTRA_PEOPLE_MEAN, size=orgs.n)
    org = np.repeat(np.arange(orgs.n, dtype=np.int64), counts)
    country = orgs.country[org].copy()
    foreign = _chance(rng, FOREIGN_NAME_SHARE, len(org))
    country[foreign] = rng.choice(len(COUNTRIES), size=int(foreign.sum()), p=_COUNTRY_WEIGHTS)
    first, nickname, last = _names(rng, country)
    # Relatives at the same family business: same surname, another first name, one phone
    # line and one home address between them.
    anchors = rng.choice(len(org), size=round(len(org) * FAMILY_SHARE), replace=False)
    relatives = len(org) + np.arange(len(anchors))
    rel_first, rel_nickname, _ = _names(rng, country[anchors], avoid=first[anchors])
    org = np.concatenate([org, org[anchors]])
    country = np.concatenate([country, country[anchors]])
    first = np.concatenate([first, rel_first])
    nickname = np.concatenate([nickname, rel_nickname])
    last = np.concatenate([last, last[anchors]])
    n = len(org)
    goes_by = (nickname != "") & _chance(rng, NICKNAME_SHARE, n)
    area, office, extension = _office_lines(rng, orgs, org)
    for values in (office, extension):
        values[relatives] = values[anchors]
    mobile_area, mobile = _mobiles(rng, orgs, org)
    work = _work_emails(orgs, org, country, np.where(goes_by, nickname, first), last)
    personal, family_mailbox = _personal_emails(
        rng, orgs, org, country, first, nickname, last, anchors, relatives
    )
    street, city, postcode = _mailing_addresses(rng, orgs, org, anchors, relatives)
    width = max(5, len(str(n)))
    return _People(
        n=n,
        entity=_sequential_keys("PER-", 1, n, width),
        org=org,
        country=country,
        first=first,
        nickname=nickname,
        goes_by=goes_by,
        last=last,
        title=_titles(rng, orgs.country[org]),
        area=area,
        office=office,
        extension=extension,
        mobile_area=mobile_area,
        mobile=mobile,
        new_office=_subscribers(rng, orgs.city[org]),
        work_email=work,
        personal_email=personal,
        family_mailbox=family_mailbox,
        mail_street=street,
        mail_city=city,
        mail_postcode=postcode,
        crm_time=_timestamps(rng, n, latest_days=300),
    )


def _names(
    rng: np.random.Generator, country: Ints, avoid: Strs | None = None
) -> tuple[Strs, Strs, Strs]:
    """First name (never the one in ``avoid``), one of its nicknames ("" if none), last name."""
    first = np.empty(len(country), dtype=object)
    nickname = np.empty(len(country), dtype=object)
    last = np.empty(len(country), dtype=object)
    for index, spec in enumerate(COUNTRIES):
        rows = np.flatnonzero(country == index)
        chosen = rng.integers(0, len(spec.first_names), size=len(rows))
        if avoid is not None:
            clash = _strs([spec.first_names[i].name for i in chosen]) == avoid[rows]
            chosen[clash] = (chosen[clash] + 1) % len(spec.first_names)
        picks = rng.integers(0, 1 << 30, size=len(rows))
        names = [spec.first_names[i] for i in chosen]
        first[rows] = [name.name for name in names]
        nickname[rows] = [
            name.nicknames[p % len(name.nicknames)] if name.nicknames else ""
            for name, p in zip(names, picks, strict=True)
        ]
        last[rows] = _pick(rng, spec.last_names, len(rows))
    return first, nickname, last


def _titles(rng: np.random.Generator, country: Ints) -> Strs:
    out = np.empty(len(country), dtype=object)
    for index, spec in enumerate(COUNTRIES):
        rows = np.flatnonzero(country == index)
        out[rows] = _pick(rng, spec.titles, len(rows))
    return out


def _office_lines(rng: np.random.Generator, orgs: _Orgs, org: Ints) -> tuple[Strs, Strs, Strs]:
    """Most people have a direct line; the others share the switchboard with an extension."""
    direct = _chance(rng, 0.7, len(org))
    own = _subscribers(rng, orgs.city[org])
    extensions = _digits(rng, len(org), 3)
    office = np.where(direct, own, orgs.switchboard[org]).astype(object)
    extension = np.where(direct, "", extensions).astype(object)
    return orgs.area[org].copy(), office, extension


def _mobiles(rng: np.random.Generator, orgs: _Orgs, org: Ints) -> tuple[Strs, Strs]:
    n = len(org)
    has = _chance(rng, 0.65, n)
    country = orgs.country[org]
    area = np.empty(n, dtype=object)
    number = np.empty(n, dtype=object)
    for index, spec in enumerate(COUNTRIES):
        rows = np.flatnonzero(country == index)
        # US mobiles carry the city's area code; elsewhere mobiles have their own prefixes.
        codes = (
            orgs.area[org[rows]]
            if not spec.mobile_areas
            else _pick(rng, spec.mobile_areas, len(rows))
        )
        area[rows] = codes
        number[rows] = _digits(rng, len(rows), spec.mobile_digits, spec.mobile_starts)
    return np.where(has, area, "").astype(object), np.where(has, number, "").astype(object)


def _email_fields(first: str, last: str, german: bool) -> dict[str, str]:
    f = _ascii_token(first.replace(" ", ""), german)
    last_token = _ascii_token(last.replace(" ", ""), german)
    return {"f": f, "l": last_token, "i": f[:1]}


def _work_emails(orgs: _Orgs, org: Ints, country: Ints, first: Strs, last: Strs) -> Strs:
    german = country == _GERMANY
    patterns = orgs.email_pattern[org]
    emails = [
        WORK_EMAIL_PATTERNS[p].format(**_email_fields(f, la, g)) + "@" + orgs.domain[o]
        for p, f, la, g, o in zip(patterns, first, last, german, org, strict=True)
    ]
    return _unique_mailboxes(_strs(emails), np.arange(len(org), dtype=np.int64))


def _personal_emails(
    rng: np.random.Generator,
    orgs: _Orgs,
    org: Ints,
    country: Ints,
    first: Strs,
    nickname: Strs,
    last: Strs,
    anchors: Ints,
    relatives: Ints,
) -> tuple[Strs, Bools]:
    n = len(org)
    german = country == _GERMANY
    patterns = _pick(rng, PERSONAL_EMAIL_PATTERNS, n)
    years = rng.integers(60, 100, size=n)
    domains = np.empty(n, dtype=object)
    for index, spec in enumerate(COUNTRIES):
        rows = np.flatnonzero(orgs.country[org] == index)
        domains[rows] = _pick(rng, spec.personal_email_domains, len(rows))
    locals_ = []
    for pattern, f, nick, la, g, yy in zip(
        patterns, first, nickname, last, german, years, strict=True
    ):
        fields = _email_fields(f, la, g)
        fields["n"] = _ascii_token(nick, g) or fields["f"]
        locals_.append(pattern.format(yy=yy, **fields))
    emails: Strs = _strs(locals_) + "@" + domains
    owners = np.arange(n, dtype=np.int64)
    # Some families share one mailbox: the same address on two different people.
    shared = _chance(rng, FAMILY_EMAIL_SHARE, len(anchors))
    family_patterns = _pick(rng, FAMILY_EMAIL_PATTERNS, len(anchors))
    for anchor, relative, pattern in zip(
        anchors[shared], relatives[shared], family_patterns[shared], strict=True
    ):
        box = pattern.format(l=_email_fields("", last[anchor], german[anchor])["l"])
        emails[anchor] = emails[relative] = f"{box}@{domains[anchor]}"
        owners[relative] = anchor
    family = np.zeros(n, dtype=bool)
    family[anchors[shared]] = True
    family[relatives[shared]] = True
    return _unique_mailboxes(emails, owners), family


def _unique_mailboxes(emails: Strs, owners: Ints) -> Strs:
    """Different owners never share a mailbox: later ones get a number (john.smith2@...)."""
    pairs = pd.DataFrame({"email": emails, "owner": owners}).drop_duplicates()
    later = pairs[pairs["email"].duplicated()]
    if later.empty:
        return emails
    used = set(emails.tolist())
    renamed: dict[tuple[str, int], str] = {}
    for email, owner in zip(later["email"], later["owner"], strict=True):
        local, _, domain = str(email).partition("@")
        number = 2
        while f"{local}{number}@{domain}" in used:
            number += 1
        used.add(f"{local}{number}@{domain}")
        renamed[(str(email), int(owner))] = f"{local}{number}@{domain}"
    out = emails.copy()
    for row in np.flatnonzero(pd.Series(emails).isin(later["email"]).to_numpy()):
        out[row] = renamed.get((emails[row], int(owners[row])), emails[row])
    return out


def _mailing_addresses(
    rng: np.random.Generator, orgs: _Orgs, org: Ints, anchors: Ints, relatives: Ints
) -> tuple[Strs, Strs, Strs]:
    """The office address for many people; a shared home address for relatives."""
    n = len(org)
    office = _chance(rng, 0.55, n)
    street = np.where(office, orgs.street[org], "").astype(object)
    city = np.where(office, _strs([_CITIES[c].name for c in orgs.city[org]]), "").astype(object)
    postcode = np.where(office, orgs.postcode[org], "").astype(object)
    home_street, _ = _streets(rng, orgs.country[org[anchors]])
    home_postcode = _postcodes(rng, orgs.city[org[anchors]])
    for rows in (anchors, relatives):
        street[rows] = home_street
        postcode[rows] = home_postcode
        city[rows] = [_CITIES[c].name for c in orgs.city[org[rows]]]
    return street, city, postcode


# ---- values as systems write them -----------------------------------------------------------


def _phones(
    rng: np.random.Generator, country: Ints, area: Strs, number: Strs, international: Bools
) -> Strs:
    """Phone numbers in one of their country's national or international styles.

    Rows sharing a template and the lengths of area code and number are rendered together,
    as byte matrices: per-row formatting dominated the run time at 100k organisations.
    """
    n = len(country)
    picks = rng.integers(0, 1 << 30, size=n)
    area_length = np.fromiter(map(len, area), dtype=np.int64, count=n)
    number_length = np.fromiter(map(len, number), dtype=np.int64, count=n)
    out = np.full(n, "", dtype=object)
    for index, spec in enumerate(COUNTRIES):
        for intl, templates in ((False, spec.phone_national), (True, spec.phone_international)):
            rows = np.flatnonzero(
                (country == index) & (international == intl) & (number_length > 0)
            )
            template = picks[rows] % len(templates)
            key = (template * 100 + area_length[rows]) * 100 + number_length[rows]
            for value in np.unique(key):
                group = rows[key == value]
                out[group] = _render_phones(
                    templates[value // 10_000], spec, area[group], number[group]
                )
    return out


def _render_phones(template: str, spec: Country, area: Strs, number: Strs) -> Strs:
    """One template over equal-length area codes and numbers, e.g. "({a}) {dash}"."""
    k = len(area)
    areas, digits = _byte_matrix(area), _byte_matrix(number)
    groups = dict(spec.subscriber_groups).get(digits.shape[1], (digits.shape[1],))
    bounds = np.cumsum([0, *groups])
    parts = [digits[:, lo:hi] for lo, hi in itertools.pairwise(bounds)]

    def literal(text: str) -> npt.NDArray[np.uint8]:
        return np.tile(np.frombuffer(text.encode(), dtype=np.uint8), (k, 1))

    def joined(separator: str) -> list[npt.NDArray[np.uint8]]:
        pieces = [parts[0]]
        for part in parts[1:]:
            pieces += [literal(separator), part]
        return pieces

    pieces: list[npt.NDArray[np.uint8]] = []
    for text, field, _, _ in string.Formatter().parse(template):
        pieces.append(literal(text))
        if field == "a":
            pieces.append(areas)
        elif field == "cc":
            pieces.append(literal(spec.calling_code))
        elif field == "raw":
            pieces.append(digits)
        elif field is not None:
            pieces += joined({"sp": " ", "dash": "-", "dot": "."}[field])
    codes = np.ascontiguousarray(np.concatenate(pieces, axis=1))
    return _strs(codes.view(f"S{codes.shape[1]}").ravel().astype(str))


def _byte_matrix(values: Strs) -> npt.NDArray[np.uint8]:
    """Equal-length ASCII strings as a (rows, length) byte matrix."""
    width = len(values[0])
    array = np.array(values.tolist(), dtype=f"S{width}")
    return array.view(np.uint8).reshape(len(values), width)


def _with_extensions(rng: np.random.Generator, phones: Strs, extension: Strs) -> Strs:
    styles = _pick(rng, (" ext. ", " x", " ext ", " Ext. "), len(phones))
    out = phones.copy()
    rows = (phones != "") & (extension != "")
    out[rows] = phones[rows] + styles[rows] + extension[rows]
    return out


def _blank(rng: np.random.Generator, values: Strs, p: float | npt.NDArray[np.float64]) -> Strs:
    return np.where(_chance(rng, p, len(values)), "", values).astype(object)


def _legal_text(country: Ints, legal: Ints, variant: Ints) -> Strs:
    return _strs(
        [
            (forms := COUNTRIES[c].legal_forms[form].variants)[v % len(forms)]
            for c, form, v in zip(country, legal, variant, strict=True)
        ]
    )


def _canonical_names(orgs: _Orgs, org: Ints) -> Strs:
    names: Strs = orgs.base[org] + _legal_text(
        orgs.country[org], orgs.legal[org], np.zeros(len(org), np.int64)
    )
    return names


def _crm_names(rng: np.random.Generator, orgs: _Orgs, org: Ints, dup: Bools) -> Strs:
    """Names as sales reps type them: legal-form spellings, "and" for "&", typos, capitals."""
    k = len(org)
    country = orgs.country[org]
    other_spelling = _chance(rng, np.where(dup, 0.7, 0.2), k)
    variant = np.where(other_spelling, rng.integers(1, 8, size=k), 0)
    legal = _legal_text(country, orgs.legal[org], variant)
    legal = _blank(rng, legal, _noisy(0.03, dup))
    base = orgs.base[org].copy()
    spelled = _chance(rng, _noisy(0.1, dup), k)
    for row in np.flatnonzero(spelled):
        word = AMPERSAND_WORDS[COUNTRIES[country[row]].code]
        base[row] = base[row].replace(" & ", f" {word} ")
    typo = _chance(rng, _noisy(0.02, dup), k)
    base[typo] = _typos(rng, base[typo])
    names: Strs = base + legal
    upper = _chance(rng, _noisy(0.02, dup), k)
    names[upper] = [name.upper() for name in names[upper]]
    return names


def _websites(rng: np.random.Generator, domain: Strs, blank: npt.NDArray[np.float64]) -> Strs:
    formats = _pick(rng, WEBSITE_FORMATS, len(domain))
    return _blank(rng, _strs([f.format(d=d) for f, d in zip(formats, domain, strict=True)]), blank)


def _city_names(rng: np.random.Generator, city: Ints, alias: npt.NDArray[np.float64]) -> Strs:
    use_alias = _chance(rng, alias, len(city))
    picks = rng.integers(0, 1 << 30, size=len(city))
    out = []
    for c, use, pick in zip(city, use_alias, picks, strict=True):
        spec = _CITIES[c]
        out.append(spec.aliases[pick % len(spec.aliases)] if use and spec.aliases else spec.name)
    return _strs(out)


def _regions(rng: np.random.Generator, city: Ints, dup: Bools) -> Strs:
    """US states mostly as codes; elsewhere the region is written out or left empty."""
    short = _chance(rng, 0.75, len(city))
    filled = _chance(rng, 0.5, len(city))
    out = []
    for c, s, f in zip(city, short, filled, strict=True):
        spec = _CITIES[c]
        if _CITY_COUNTRY[c] == _US:
            out.append(spec.region_code if s else spec.region)
        else:
            out.append(spec.region if f else "")
    return _blank(rng, _strs(out), _noisy(0.03, dup))


def _postcode_variants(
    rng: np.random.Generator, postcode: Strs, country: Ints, p: npt.NDArray[np.float64]
) -> Strs:
    """ZIP+4, leading zeros lost to a spreadsheet, no space, a country prefix ("D-80331")."""
    varied = _chance(rng, p, len(postcode))
    plus4 = _digits(rng, len(postcode), 4, first="0123456789")
    out = postcode.copy()
    for row in np.flatnonzero(varied):
        code, style = postcode[row], COUNTRIES[country[row]].code
        if style == "US":
            out[row] = code.lstrip("0") if code.startswith("0") else f"{code}-{plus4[row]}"
        elif style in ("GB", "NL"):
            out[row] = code.replace(" ", "")
        else:
            out[row] = f"{style[0]}-{code}"
    return out


def _country_names(rng: np.random.Generator, country: Ints, dup: Bools) -> Strs:
    other = _chance(rng, _noisy(0.3, dup), len(country))
    picks = rng.integers(0, 1 << 30, size=len(country))
    out = [
        (written := COUNTRIES[c].written)[pick % len(written) if o else 0]
        for c, o, pick in zip(country, other, picks, strict=True)
    ]
    # A US-based CRM often leaves the country empty for home-market accounts.
    empty = np.where(country == _US, 0.08, 0.01)
    return _blank(rng, _strs(out), np.where(dup, empty * DUPLICATE_NOISE, empty))


def _company_texts(rng: np.random.Generator, orgs: _Orgs, org: Ints, blank: float) -> Strs:
    """A company typed into a form: full or short, lower-case, one word, misspelt, or none."""
    kinds = rng.choice(5, size=len(org), p=[0.45, 0.3, 0.1, 0.1, 0.05])
    full = _canonical_names(orgs, org)
    base = orgs.base[org]
    typos = _typos(rng, base)
    texts = [
        (full[i], base[i], base[i].lower(), base[i].split()[0], typos[i])[kind]
        for i, kind in enumerate(kinds)
    ]
    return _blank(rng, _strs(texts), blank)


# ---- the account systems --------------------------------------------------------------------


def _crm_accounts(
    rng: np.random.Generator, orgs: _Orgs, present: Bools
) -> tuple[pd.DataFrame, Ints, Bools]:
    org, dup = _rows(rng, present, CRM_DUPLICATE_RATE)
    k = len(org)
    country = orgs.country[org]
    phone = _phones(rng, country, orgs.area[org], orgs.switchboard[org], _chance(rng, 0.2, k))
    street = np.where(_chance(rng, _noisy(0.3, dup), k), orgs.street_short[org], orgs.street[org])
    deleted = _chance(rng, np.where(dup, DELETED_DUPLICATE_SHARE, DELETED_SHARE), k)
    if k and not deleted.any():
        deleted[int(np.argmax(dup))] = True  # the demo always shows a deleted row
    table = pd.DataFrame(
        {
            "Id": _salesforce_ids("001", rng, k),
            "Name": _crm_names(rng, orgs, org, dup),
            "Website": _websites(rng, orgs.domain[org], _noisy(0.08, dup)),
            "Phone": _blank(rng, phone, _noisy(0.05, dup)),
            "BillingStreet": _blank(rng, street.astype(object), _noisy(0.04, dup)),
            "BillingCity": _blank(rng, _city_names(rng, orgs.city[org], _noisy(0.06, dup)), 0.01),
            "BillingState": _regions(rng, orgs.city[org], dup),
            "BillingPostalCode": _blank(
                rng, _postcode_variants(rng, orgs.postcode[org], country, _noisy(0.08, dup)), 0.02
            ),
            "BillingCountry": _country_names(rng, country, dup),
            "LastModifiedDate": _iso_seconds(_timestamps(rng, k)),
            "IsDeleted": np.where(deleted, "true", "false").astype(object),
        }
    )
    return table, org, dup


def _salesforce_ids(prefix: str, rng: np.random.Generator, n: int) -> Strs:
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
    return _strs(codes.view("S18").ravel().astype(str))


def _erp_customers(
    rng: np.random.Generator, orgs: _Orgs, present: Bools
) -> tuple[pd.DataFrame, Ints]:
    org, dup = _rows(rng, present, ERP_DUPLICATE_RATE)
    k = len(org)
    country = orgs.country[org]
    # Records keyed on an ASCII-only terminal write umlauts out ("MUELLER"); the rest keep
    # them, which is why the file must be read as latin-1.
    plain = _chance(rng, 0.3, k)
    abbreviate = ~(dup & _chance(rng, 0.5, k))
    names = _strs(
        [
            _erp_name(b, COUNTRIES[c].legal_forms[form].erp, a, p)
            for b, c, form, a, p in zip(
                orgs.base[org], country, orgs.legal[org], abbreviate, plain, strict=True
            )
        ]
    )
    typo = _chance(rng, _noisy(0.02, dup), k)
    names[typo] = [name.upper() for name in _typos(rng, names[typo])]
    phone = _phones(rng, country, orgs.area[org], orgs.switchboard[org], _chance(rng, 0.8, k))
    city = _strs([_CITIES[c].name for c in orgs.city[org]])
    regions = _strs(
        [
            _CITIES[c].region_code if _CITY_COUNTRY[c] in (_US, _GERMANY) else ""
            for c in orgs.city[org]
        ]
    )
    start = int(rng.integers(100_000, 400_000))
    table = pd.DataFrame(
        {
            "KUNNR": _sequential_keys("", start, k, 10),
            "NAME1": names,
            "VAT_NO": _vat_numbers(rng, orgs.tax_id[org], country, dup),
            "TEL": _blank(rng, phone, _noisy(0.05, dup)),
            "STREET": _blank(rng, _erp_text(orgs.street_short[org], plain), _noisy(0.03, dup)),
            "CITY": _erp_text(city, plain),
            "REGION": regions,
            "POST_CODE": orgs.postcode[org],
            "COUNTRY": _strs([COUNTRIES[c].code for c in country]),
            "CHANGED_ON": _iso_dates(_timestamps(rng, k)),
        }
    )
    return table, org


def _erp_name(base: str, legal: str, abbreviate: bool, plain: bool) -> str:
    words = base.upper().split()
    if abbreviate:
        words = [ERP_ABBREVIATIONS.get(word, word) for word in words]
    name = " ".join([*words, legal])
    return (_transliterate(name).upper() if plain else name)[:35]  # NAME1 holds 35 characters


def _erp_text(values: Strs, plain: Bools) -> Strs:
    return _strs(
        [_transliterate(v).upper() if p else v.upper() for v, p in zip(values, plain, strict=True)]
    )


def _vat_numbers(rng: np.random.Generator, tax_id: Strs, country: Ints, dup: Bools) -> Strs:
    """VAT numbers, sometimes spaced ("GB 123456789"); US customers often have none on file."""
    spaced = _chance(rng, 0.15, len(tax_id))
    out = _strs(
        [
            f"{t[:2]} {t[2:]}" if s and t[:2].isalpha() else t
            for t, s in zip(tax_id, spaced, strict=True)
        ]
    )
    missing = np.where(country == _US, 0.5, 0.08)
    return _blank(rng, out, np.minimum(np.where(dup, missing * DUPLICATE_NOISE, missing), 0.9))


@dataclass(frozen=True)
class _AccountIds:
    primary: Strs  # per organisation: the CRM Id of its first record, "" if the CRM lacks it
    other: Strs  # the Id of one of its duplicate CRM records, else the primary one


def _account_ids(n: int, ids: Strs, org: Ints, dup: Bools) -> _AccountIds:
    primary = np.full(n, "", dtype=object)
    primary[org[~dup]] = ids[~dup]
    other = primary.copy()
    other[org[dup]] = ids[dup]
    return _AccountIds(primary, other)


# ---- the contact systems --------------------------------------------------------------------


@dataclass(frozen=True)
class _Presence:
    crm: Bools
    marketing: Bools
    support: Bools
    phone_changed: Bools  # support has a newer office number than the CRM


def _presence(rng: np.random.Generator, people: _People, account_ids: _AccountIds) -> _Presence:
    known = account_ids.primary[people.org] != ""
    crm = known & _chance(rng, CRM_CONTACT_SHARE, people.n)
    marketing = _chance(rng, MARKETING_SHARE, people.n)
    support = _chance(rng, SUPPORT_SHARE, people.n)
    nowhere = ~(crm | marketing | support)
    crm |= nowhere & known
    marketing |= nowhere & ~known
    both = crm & support
    changed = both & _chance(rng, PHONE_CHANGE_SHARE, people.n)
    if both.any() and not changed.any():
        changed[int(np.argmax(both))] = True  # the demo always shows one
    return _Presence(crm, marketing, support, changed)


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
    rng: np.random.Generator, people: _People, p: Ints, dup: Bools, noise: _Noise
) -> tuple[Strs, Strs]:
    k = len(p)
    nickname = people.nickname[p]
    usual = _chance(rng, 0.75, k)
    occasional = _chance(rng, _noisy(noise.nickname, dup), k)
    use = (nickname != "") & np.where(people.goes_by[p], usual, occasional)
    first = np.where(use, nickname, people.first[p]).astype(object)
    last = people.last[p].copy()
    typo, in_first = _chance(rng, _noisy(noise.typo, dup), k), _chance(rng, 0.5, k)
    first[typo & in_first] = _typos(rng, first[typo & in_first])
    last[typo & ~in_first] = _typos(rng, last[typo & ~in_first])
    fold = _chance(rng, _noisy(noise.fold, dup), k)
    german = (people.country[p] == _GERMANY) & _chance(rng, 0.5, k)
    for names in (first, last):
        names[fold] = [
            _transliterate(x) if g else _fold(x)
            for x, g in zip(names[fold], german[fold], strict=True)
        ]
    lower = _chance(rng, _noisy(noise.lower, dup), k)
    upper = _chance(rng, _noisy(noise.upper, dup), k) & ~lower
    for names in (first, last):
        names[lower] = [x.lower() for x in names[lower]]
        names[upper] = [x.upper() for x in names[upper]]
    swap = _chance(rng, _noisy(noise.swap, dup), k)
    first[swap], last[swap] = last[swap], first[swap]
    flipped = _chance(rng, _noisy(noise.last_first, dup), k) & ~swap
    last[flipped] = [f"{la}, {f}" for la, f in zip(last[flipped], first[flipped], strict=True)]
    first[flipped] = ""
    return first, last


def _emails(rng: np.random.Generator, people: _People, p: Ints, dup: Bools, noise: _Noise) -> Strs:
    k = len(p)
    # A family business that shares a home mailbox gives it everywhere.
    personal = _chance(rng, _noisy(noise.personal_email, dup), k) | (
        people.family_mailbox[p] & _chance(rng, 0.8, k)
    )
    emails = np.where(personal, people.personal_email[p], people.work_email[p]).astype(object)
    typo = _chance(rng, _noisy(noise.email_typo, dup), k)
    parts = [email.partition("@") for email in emails[typo]]
    locals_ = _typos(rng, _strs([local for local, _, _ in parts]))
    emails[typo] = [
        f"{local}@{domain}" for local, (_, _, domain) in zip(locals_, parts, strict=True)
    ]
    cased = _chance(rng, _noisy(noise.email_case, dup), k)
    emails[cased] = [
        (parts := email.partition("@"))[0].title() + "@" + parts[2] for email in emails[cased]
    ]
    return _blank(rng, emails, _noisy(noise.no_email, dup))


def _contact_phones(
    rng: np.random.Generator,
    people: _People,
    orgs: _Orgs,
    p: Ints,
    noise: _Noise,
    mobile: bool,
    number: Strs | None = None,
) -> Strs:
    """A person's office (with any extension) or mobile number, in the system's styles."""
    country = orgs.country[people.org[p]]
    international = _chance(rng, np.where(country == _US, 0.05, noise.international), len(p))
    if mobile:
        return _phones(rng, country, people.mobile_area[p], people.mobile[p], international)
    subscriber = people.office[p] if number is None else number
    phones = _phones(rng, country, people.area[p], subscriber, international)
    return _with_extensions(rng, phones, people.extension[p])


def _crm_contacts(
    rng: np.random.Generator,
    people: _People,
    orgs: _Orgs,
    presence: _Presence,
    account_ids: _AccountIds,
) -> tuple[pd.DataFrame, Ints]:
    p, dup = _rows(rng, presence.crm, CRM_CONTACT_DUPLICATE_RATE)
    k = len(p)
    org = people.org[p]
    first, last = _person_names(rng, people, p, dup, _CRM_NOISE)
    # Contacts hang off the account the rep found first, now and then a duplicate account.
    account = np.where(_chance(rng, 0.25, k), account_ids.other[org], account_ids.primary[org])
    office = _contact_phones(rng, people, orgs, p, _CRM_NOISE, mobile=False)
    mobile = _contact_phones(rng, people, orgs, p, _CRM_NOISE, mobile=True)
    # Duplicates are older copies: every CRM row of a person predates their support record.
    earlier = rng.integers(0, 200 * DAY, size=k)
    modified = np.where(dup, np.maximum(people.crm_time[p] - earlier, 0), people.crm_time[p])
    deleted = _chance(rng, np.where(dup, DELETED_DUPLICATE_SHARE, DELETED_SHARE), k)
    table = pd.DataFrame(
        {
            "Id": _salesforce_ids("003", rng, k),
            "AccountId": account.astype(object),
            "FirstName": first,
            "LastName": last,
            "Email": _emails(rng, people, p, dup, _CRM_NOISE),
            "Phone": _blank(rng, office, _noisy(_CRM_NOISE.no_phone, dup)),
            "MobilePhone": mobile,
            "Title": _blank(rng, people.title[p], _noisy(0.1, dup)),
            "MailingStreet": people.mail_street[p],
            "MailingCity": people.mail_city[p],
            "MailingPostalCode": people.mail_postcode[p],
            "MailingCountry": _strs(
                [
                    COUNTRIES[c].written[0] if s else ""
                    for c, s in zip(orgs.country[org], people.mail_street[p], strict=True)
                ]
            ),
            "LastModifiedDate": _iso_seconds(modified.astype(np.int64)),
            "IsDeleted": np.where(deleted, "true", "false").astype(object),
        }
    )
    return table, p


def _marketing_leads(
    rng: np.random.Generator, people: _People, orgs: _Orgs, presence: _Presence
) -> tuple[pd.DataFrame, Ints]:
    p, dup = _rows(rng, presence.marketing, MARKETING_DUPLICATE_RATE)
    k = len(p)
    first, last = _person_names(rng, people, p, dup, _MARKETING_NOISE)
    # A form asks for one phone: people give their mobile more often than their desk.
    mobile = _contact_phones(rng, people, orgs, p, _MARKETING_NOISE, mobile=True)
    office = _contact_phones(rng, people, orgs, p, _MARKETING_NOISE, mobile=False)
    phone = np.where((mobile != "") & _chance(rng, 0.6, k), mobile, office).astype(object)
    title = people.title[p].copy()
    lowered = _chance(rng, 0.2, k)
    title[lowered] = [t.lower() for t in title[lowered]]
    start = int(rng.integers(1_000_000, 5_000_000))
    table = pd.DataFrame(
        {
            "lead_id": _sequential_keys("LD-", start, k, 7),
            "first": _nulls(first),
            "last": _nulls(last),
            "email": _nulls(_emails(rng, people, p, dup, _MARKETING_NOISE)),
            "company": _nulls(_company_texts(rng, orgs, people.org[p], 0.08)),
            "phone": _nulls(_blank(rng, phone, _noisy(_MARKETING_NOISE.no_phone, dup))),
            "job_title": _nulls(_blank(rng, title, 0.25)),
            "updated_at": _iso_seconds(_timestamps(rng, k)),
        }
    )
    return table, p


def _support_contacts(
    rng: np.random.Generator,
    people: _People,
    orgs: _Orgs,
    presence: _Presence,
    account_ids: _AccountIds,
) -> tuple[pd.DataFrame, Ints]:
    p, dup = _rows(rng, presence.support, SUPPORT_DUPLICATE_RATE)
    k = len(p)
    org = people.org[p]
    first, last = _split_names(*_person_names(rng, people, p, dup, _SUPPORT_NOISE))
    changed = presence.phone_changed[p]
    number = np.where(changed, people.new_office[p], people.office[p]).astype(object)
    office = _contact_phones(rng, people, orgs, p, _SUPPORT_NOISE, mobile=False, number=number)
    mobile = _contact_phones(rng, people, orgs, p, _SUPPORT_NOISE, mobile=True)
    use_mobile = (mobile != "") & ~changed & _chance(rng, 0.4, k)
    phone = np.where(use_mobile, mobile, office).astype(object)
    later = people.crm_time[p] + rng.integers(30 * DAY, 300 * DAY, size=k)
    modified = np.where(changed, later, _timestamps(rng, k))
    org_key = np.where(_chance(rng, 0.75, k), account_ids.primary[org], "").astype(object)
    start = int(rng.integers(360_000_000_000, 370_000_000_000))
    table = pd.DataFrame(
        {
            "contact_id": np.arange(start, start + k, dtype=np.int64),
            "first_name": _nulls(first),
            "last_name": _nulls(last),
            "email": _nulls(_emails(rng, people, p, dup, _SUPPORT_NOISE)),
            "phone": _nulls(_blank(rng, phone, _noisy(_SUPPORT_NOISE.no_phone, dup))),
            "org_key": _nulls(org_key),
            "organization": _nulls(_company_texts(rng, orgs, org, 0.3)),
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
    return _strs(split_first), _strs(split_last)


def _nulls(values: Strs) -> Strs:
    """JSON and Parquet have real nulls: empty cells become None."""
    out = values.copy()
    out[values == ""] = None
    return out


# ---- truth ----------------------------------------------------------------------------------


def _truth(source: str, keys: pd.Series[Any], entities: Strs) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "source": np.full(len(keys), source, dtype=object),
            "source_key": _strs([str(key) for key in keys]),
            "entity_id": entities,
        }
    )


def _person_truth(
    source: str, keys: pd.Series[Any], rows: Ints, people: _People, orgs: _Orgs
) -> pd.DataFrame:
    truth = _truth(source, keys, people.entity[rows])
    truth["account_entity_id"] = orgs.entity[people.org[rows]]
    return truth


# ---- the project file and the writers -------------------------------------------------------


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


_SOURCES: tuple[_Source, ...] = (
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
    return header + "".join(source.toml() for source in _SOURCES)


def _write_csv(table: pd.DataFrame, path: Path) -> None:
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
