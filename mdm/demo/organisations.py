"""The organisations of the demo world: names, places, domains, phones, tax ids, and
which account systems know each one."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mdm.demo.arrays import (
    Bools,
    Ints,
    Strs,
    ascii_token,
    chance,
    digit_strings,
    pick_from,
    sequential_keys,
    strs,
)
from mdm.demo.places import (
    CITIES,
    CITY_COUNTRY,
    CITY_START,
    COUNTRY_WEIGHTS,
    GERMANY,
    SUBSCRIBER_DIGITS,
)
from mdm.demo.shares import (
    BRANCH_SHARE,
    CRM_ACCOUNT_SHARE,
    ERP_SHARE,
    FOREIGN_BRANCH_SHARE,
    NAMESAKE_SHARE,
)
from mdm.demo.vocabulary import COUNTRIES, SUBSIDIARY_LABELS, WORK_EMAIL_PATTERNS, Country

NORMAL, NAMESAKE, BRANCH = 0, 1, 2  # an organisation's role
_FILLER_WORDS = frozenset(("", "the", "and", "und", "et", "en", "of"))
_PARTICLES = frozenset(("le", "la", "de", "du", "des", "da", "van", "von", "der", "den", "ten"))


@dataclass(frozen=True)
class Orgs:
    """The organisations as columns: entry i of each array is organisation i."""

    n: int
    entity: Strs
    country: Ints  # index into COUNTRIES
    city: Ints  # index into CITIES
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


def draw_organisations(rng: np.random.Generator, n: int) -> Orgs:
    country = rng.choice(len(COUNTRIES), size=n, p=COUNTRY_WEIGHTS).astype(np.int64)
    role, parent = _roles(rng, n)
    foreign = (role == BRANCH) & chance(rng, FOREIGN_BRANCH_SHARE, n)
    copies_country = (role == NAMESAKE) | ((role == BRANCH) & ~foreign)
    country[copies_country] = country[parent[copies_country]]
    base, legal = _company_names(rng, country)
    copied = role != NORMAL
    base[copied] = base[parent[copied]]
    legal[copies_country] = legal[parent[copies_country]]
    city = _cities(rng, country, base)
    base = _branch_names(rng, base, role, parent, country, city)
    street, street_short = draw_streets(rng, country)
    width = max(5, len(str(n)))
    return Orgs(
        n=n,
        entity=sequential_keys("ORG-", 1, n, width),
        country=country,
        city=city,
        base=base,
        legal=legal,
        domain=_domains(rng, base, country, city, role, parent),
        area=_area_codes(rng, city),
        switchboard=draw_subscribers(rng, city),
        street=street,
        street_short=street_short,
        postcode=draw_postcodes(rng, city),
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
        return strs([name[0].upper() + name[1:] for name in names])

    patterns = pick_from(rng, spec.name_patterns, k)
    surname = capitalised(pick_from(rng, spec.last_names, k))
    surname2 = capitalised(pick_from(rng, spec.last_names, k))
    brand = pick_from(rng, spec.brands, k)
    first_industry = rng.integers(0, len(spec.industries), size=k)
    # A second industry never repeats the first: "Logistics & Logistics" is not a name.
    shift = rng.integers(1, len(spec.industries), size=k)
    industries = strs(spec.industries)
    industry, industry2 = (
        industries[first_industry],
        industries[(first_industry + shift) % len(industries)],
    )
    return strs(
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
        city[rows] = CITY_START[index] + local
    # One name, one organisation per city: namesakes and branches (and chance collisions)
    # move to the next city, so that name and city together still tell them apart.
    for _ in range(max(len(c.cities) for c in COUNTRIES)):
        clash = np.flatnonzero(pd.DataFrame({"base": base, "city": city}).duplicated().to_numpy())
        if not len(clash):
            break
        start = CITY_START[country[clash]]
        sizes = np.array([len(COUNTRIES[c].cities) for c in country[clash]])
        city[clash] = start + (city[clash] - start + 1) % sizes
    return city


def _branch_names(
    rng: np.random.Generator, base: Strs, role: Ints, parent: Ints, country: Ints, city: Ints
) -> Strs:
    """Some branches say where they are ("Acme Logistics Chicago", "Acme Logistics UK")."""
    out = base.copy()
    branch = np.flatnonzero(role == BRANCH)
    labelled = chance(rng, 0.5, len(branch))
    for row, label in zip(branch, labelled, strict=True):
        if country[row] != country[parent[row]]:
            out[row] = f"{base[row]} {SUBSIDIARY_LABELS[COUNTRIES[country[row]].code]}"
        elif label:
            out[row] = f"{base[row]} {CITIES[city[row]].name}"
    return out


def _domains(
    rng: np.random.Generator, base: Strs, country: Ints, city: Ints, role: Ints, parent: Ints
) -> Strs:
    german = country == GERMANY
    hyphen = chance(rng, 0.25, len(base))
    tld = np.empty(len(base), dtype=object)
    for index, spec in enumerate(COUNTRIES):
        rows = np.flatnonzero(country == index)
        tld[rows] = pick_from(rng, spec.tlds, len(rows))
    # Domains keep the first two words that say something, particles glued on:
    # "Blue Harbor Logistics" -> blueharbor.com, "Textiles Le Gall" -> textileslegall.fr.
    words = [_domain_words(str(name), g) for name, g in zip(base, german, strict=True)]
    slug = strs([("-" if h else "").join(ws[:2]) for ws, h in zip(words, hyphen, strict=True)])
    domain: Strs = slug + tld
    # Distinct organisations never share a domain: the later one is told apart by its city.
    own = role != BRANCH
    taken = pd.Series(domain[own]).duplicated().to_numpy()
    clash = np.flatnonzero(own)[taken]
    for row in clash:
        domain[row] = f"{slug[row]}-{ascii_token(CITIES[city[row]].name, False)}{tld[row]}"
    taken = pd.Series(domain[own]).duplicated().to_numpy()
    for row in np.flatnonzero(own)[taken]:
        domain[row] = f"{slug[row]}{row}{tld[row]}"
    branches = np.flatnonzero(role == BRANCH)
    domain[branches] = domain[parent[branches]]
    return domain


def _domain_words(name: str, german: bool) -> list[str]:
    words, particles = [], ""
    for token in (ascii_token(word, german) for word in name.split()):
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
    return strs(
        [
            CITIES[c].area_codes[p % len(CITIES[c].area_codes)]
            for c, p in zip(city, picks, strict=True)
        ]
    )


def draw_subscribers(rng: np.random.Generator, city: Ints) -> Strs:
    """Local numbers of the city's length, starting with a digit valid for its area."""
    numbers = digit_strings(rng, len(city), 8, first="0")
    picks = rng.integers(0, 1 << 30, size=len(city))
    return strs(
        [
            (starts := CITIES[c].subscriber_starts)[pick % len(starts)] + number[1:length]
            for number, c, pick, length in zip(
                numbers, city, picks, SUBSCRIBER_DIGITS[city], strict=True
            )
        ]
    )


def draw_streets(rng: np.random.Generator, country: Ints) -> tuple[Strs, Strs]:
    """Street lines, written out and abbreviated ("Market Street" / "Market St")."""
    full = np.empty(len(country), dtype=object)
    short = np.empty(len(country), dtype=object)
    for index, spec in enumerate(COUNTRIES):
        rows = np.flatnonzero(country == index)
        k = len(rows)
        low, high = spec.house_numbers
        numbers = strs([str(x) for x in rng.integers(low, high + 1, size=k)])
        if spec.code == "DE":
            lettered = chance(rng, 0.08, k)  # "Hauptstraße 12a"
            numbers[lettered] = [f"{x}a" for x in numbers[lettered]]
        names = pick_from(rng, spec.street_names, k)
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
            suite = np.flatnonzero(chance(rng, 0.25, k))
            floors = rng.integers(1, 40, size=len(suite)) * 100
            full[rows[suite]] = [
                f"{s}, Suite {f}" for s, f in zip(full[rows[suite]], floors, strict=True)
            ]
            short[rows[suite]] = [
                f"{s} Ste {f}" for s, f in zip(short[rows[suite]], floors, strict=True)
            ]
    return full, short


def draw_postcodes(rng: np.random.Generator, city: Ints) -> Strs:
    n = len(city)
    spots, offsets = rng.random(n), rng.random(n)
    letters = rng.integers(0, 20, size=(n, 2))
    digit = rng.integers(0, 10, size=n)
    out = []
    for c, spot, offset, pair, d in zip(city, spots, offsets, letters, digit, strict=True):
        spec = CITIES[c]
        style = COUNTRIES[CITY_COUNTRY[c]].postcode_style
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
    return strs(out)


def _tax_ids(rng: np.random.Generator, country: Ints) -> Strs:
    out = np.empty(len(country), dtype=object)
    for index, spec in enumerate(COUNTRIES):
        rows = np.flatnonzero(country == index)
        template = spec.tax_id_pattern.replace("#", "{}")
        digits = digit_strings(rng, len(rows), spec.tax_id_pattern.count("#"))
        out[rows] = [template.format(*number) for number in digits]
    return out


def draw_account_presence(rng: np.random.Generator, n: int) -> tuple[Bools, Bools]:
    """Which organisations each account system knows; every one is known to at least one."""
    crm = chance(rng, CRM_ACCOUNT_SHARE, n)
    # Those missing from the CRM are customers the ERP bills; the rest are drawn so that
    # ERP_SHARE of all organisations end up in the ERP.
    rest = (ERP_SHARE - (1 - CRM_ACCOUNT_SHARE)) / CRM_ACCOUNT_SHARE
    erp = ~crm | chance(rng, rest, n)
    return crm, erp
