"""The true world: organisations and the people who work for them, with the hard cases built in.

``make_world(companies, seed)`` gives two frames, one row per true entity:

* ``companies``: the current name, domain, switchboard, address (street with its suite, city,
  state, ZIP, ZIP+4), EIN, whether it moved (and from where), whether it is one location of a
  brand (franchise or company-owned branch) and which account systems know it;
* ``people``: the current names (formal first name, the nickname they go by, a middle
  initial), work email, work phone (the switchboard, with or without an extension, or a direct
  line), mobile, home line, personal email, title (and the rung below it: a promotion), the
  employer and the family they belong to.

Hard cases made here: relatives sharing a surname and a home line (some in the family
business, on its phone line; a few sharing a family mailbox), colleagues with the same first
name, name twins at other companies and at the same one, brands with several locations in one
city (shared domain and brand name, different branch words, streets and phones; a
company-owned chain shares its EIN) and moves (a new address in another city).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from benchmarks.realistic import vocab
from benchmarks.realistic.textops import (
    ObjectArray,
    frame_of,
    join,
    objects,
    phone_numbers,
    pick,
    slug,
    zipf_weights,
)

# Shares (of companies, or of people) of each trait.
BRAND_LOCATION_SHARE = 0.05  # companies that are one location of a multi-location brand
COMPANY_OWNED_BRAND_SHARE = 0.35  # brands whose locations share the parent's EIN
MOVED_SHARE = 0.07
IN_CRM, IN_ERP, IN_ACQUIRED = 0.84, 0.55, 0.12
HAS_DOMAIN, HAS_EIN = 0.86, 0.85
FAMILY_BUSINESS_SHARE = 0.03  # of companies with two or more people
RELATIVES_ELSEWHERE_SHARE = 0.02  # of people: a relative at another company
SAME_FIRST_NAME_SHARE = 0.05  # of companies with three or more people
TWINS_ELSEWHERE_SHARE = 0.012  # of people: a namesake at another company
TWINS_SAME_COMPANY_SHARE = 0.03  # of companies with four or more people
FAMILY_MAILBOX_SHARE = 0.2  # of relative pairs: one personal mailbox for the family
HIRES_PER_NIGHT = 0.003  # of people: new hires a night's CRM delta brings
NAMESAKE_SHARE = 0.006  # of companies: a same-name organisation in another city

# EIN prefixes the IRS assigns (python-stdnum checks them).
EIN_PREFIXES = np.array(
    [
        *(1, 2, 3, 4, 5, 6, 10, 11, 12, 13, 14, 15, 16, 20, 21, 22, 23, 24, 25, 26, 27),
        *range(30, 49),
        *range(50, 69),
        *(71, 72, 73, 74, 75, 76, 77, 80, 81, 82, 83, 84, 85, 86, 87, 88, 90, 91, 92, 93, 94, 95),
        *(98, 99),
    ],
    dtype=np.int64,
)

EMAIL_PATTERNS = ("first.last", "flast", "firstl", "first", "first_last", "lastf")


@dataclass(frozen=True)
class World:
    companies: pd.DataFrame
    people: pd.DataFrame


def make_world(n_companies: int, seed: int, nights: int = 0) -> World:
    """The world of ``n_companies`` organisations; ``nights`` > 0 keeps some people back as
    hires of those nights (column ``hired_night``; 0 for everyone known from the start)."""
    companies = _companies(n_companies, np.random.default_rng([seed, 1]))
    people = _people(companies, np.random.default_rng([seed, 2]))
    rng = np.random.default_rng([seed, 3])
    hired = np.zeros(len(people), dtype=np.int64)
    eligible = companies["in_crm"].to_numpy()[people["company"].to_numpy()] & (
        people["relation"].to_numpy() == ""
    )
    for night in range(1, nights + 1):
        fresh = eligible & (hired == 0) & (rng.random(len(people)) < HIRES_PER_NIGHT)
        hired[fresh] = night
    people["hired_night"] = hired
    return World(companies, people)


# ---- companies --------------------------------------------------------------------------------


def _cities(rng: np.random.Generator, n: int) -> np.ndarray:
    weights = np.array([city[4] for city in vocab.CITIES])
    return rng.choice(len(vocab.CITIES), size=n, p=weights / weights.sum())


def _address(rng: np.random.Generator, city: np.ndarray) -> dict[str, ObjectArray]:
    """A street line (number, name, type), its suite, state, ZIP and ZIP+4 in each city."""
    n = len(city)
    number = np.where(
        rng.random(n) < 0.7, rng.integers(1, 400, n), rng.integers(400, 9800, n)
    ).astype(np.int64)
    type_weights = [t[2] for t in vocab.STREET_TYPES]
    type_index = rng.choice(
        len(vocab.STREET_TYPES), n, p=np.divide(type_weights, sum(type_weights))
    )
    suite_kind = rng.choice(4, n, p=[0.55, 0.25, 0.12, 0.08])
    suite_number = rng.integers(1, 20, n) * np.where(suite_kind == 1, 100, 1) + np.where(
        suite_kind == 1, rng.integers(0, 10, n) * 10, 0
    )
    suite = objects(
        [
            ("", f"Suite {s}", f"Floor {s}", f"Unit {s}")[k]
            for k, s in zip(suite_kind.tolist(), suite_number.tolist(), strict=True)
        ]
    )
    zip3 = objects(
        [
            vocab.CITIES[c][2][i % len(vocab.CITIES[c][2])]
            for c, i in zip(city, rng.integers(0, 9, n), strict=True)
        ]
    )
    zip5 = objects([f"{z}{d:02d}" for z, d in zip(zip3, rng.integers(1, 99, n), strict=True)])
    return {
        "street_number": objects([str(x) for x in number]),
        "street_name": pick(rng, vocab.STREET_NAMES, n, zipf_weights(len(vocab.STREET_NAMES), 0.6)),
        "street_type": type_index.astype(np.int64),
        "suite": suite,
        "city": objects([vocab.CITIES[c][0] for c in city]),
        "state": objects([vocab.CITIES[c][1] for c in city]),
        "zip5": zip5,
        "zip4": objects([f"{x:04d}" for x in rng.integers(1, 9999, n)]),
        "city_index": city.astype(np.int64),
    }


def street_line(number: str, name: str, type_index: int, short: bool) -> str:
    full, abbreviated, _ = vocab.STREET_TYPES[type_index]
    return f"{number} {name} {abbreviated if short else full}"


def _names(rng: np.random.Generator, n: int) -> tuple[ObjectArray, ObjectArray, ObjectArray]:
    """Core names (without legal form), legal forms and each name's industry word."""
    surnames = pick(rng, vocab.COMMON_SURNAMES, n, zipf_weights(len(vocab.COMMON_SURNAMES), 0.7))
    other = pick(rng, vocab.COMMON_SURNAMES, n, zipf_weights(len(vocab.COMMON_SURNAMES), 0.7))
    word = pick(rng, vocab.NAME_WORDS, n)
    industry = pick(rng, vocab.INDUSTRIES, n, zipf_weights(len(vocab.INDUSTRIES), 0.4))
    coined = join(pick(rng, vocab.COINED_HEADS, n), pick(rng, vocab.COINED_TAILS, n), sep="")
    pattern = rng.choice(6, n, p=[0.3, 0.24, 0.09, 0.12, 0.1, 0.15])
    long_tails = vocab.LONG_NAME_TAILS
    with_industry = rng.random(n) < 0.6
    cores = []
    for p, s, o, w, i, c, wi in zip(
        pattern, surnames, other, word, industry, coined, with_industry, strict=True
    ):
        if p == 0:
            cores.append(f"{s} {i}")
        elif p == 1:
            cores.append(f"{w} {i}")
        elif p == 2:
            cores.append(f"{s} & {o}" + (" Associates" if wi else ""))
        elif p == 3:
            cores.append(f"{c} {i}" if wi else c)
        elif p == 4:
            cores.append(f"{s} Brothers {i}" if wi else f"{s} & Sons")
        else:  # long names: what an ERP's 35-character field cuts in two
            cores.append(f"{w} {i} {long_tails[len(cores) % len(long_tails)]}")
    cores = [c.replace("  ", " ") for c in cores]
    forms = [f for f, _ in vocab.LEGAL_FORMS]
    legal = pick(rng, forms, n, [w for _, w in vocab.LEGAL_FORMS])
    return objects(cores), legal, industry


def _companies(n: int, rng: np.random.Generator) -> pd.DataFrame:
    core, legal, _ = _names(rng, n)
    city = _cities(rng, n)
    address = _address(rng, city)
    area = objects(
        [
            vocab.CITIES[c][3][i % len(vocab.CITIES[c][3])]
            for c, i in zip(city, rng.integers(0, 9, n), strict=True)
        ]
    )
    phone = phone_numbers(rng, area)
    ein_prefix = EIN_PREFIXES[rng.integers(0, len(EIN_PREFIXES), n)]
    ein = objects(
        [f"{p:02d}-{x:07d}" for p, x in zip(ein_prefix, rng.integers(0, 10**7, n), strict=True)]
    )
    ein = np.where(rng.random(n) < HAS_EIN, ein, "").astype(object)
    brand = np.full(n, -1, dtype=np.int64)
    branch = np.full(n, "", dtype=object)
    company_owned = np.zeros(n, dtype=bool)

    # Brands: 2-5 locations each, most in one city, each with its own branch word.
    locations = rng.permutation(n)[: int(n * BRAND_LOCATION_SHARE)]
    brand_count = 0
    start = 0
    while start < len(locations) - 1:
        size = min(int(rng.integers(2, 6)), len(locations) - start)
        members = locations[start : start + size]
        start += size
        brand[members] = brand_count
        word = vocab.BRAND_WORDS[brand_count % len(vocab.BRAND_WORDS)]
        trade = vocab.BRAND_TRADES[
            (brand_count // len(vocab.BRAND_WORDS)) % len(vocab.BRAND_TRADES)
        ]
        name = f"{word} {trade}"
        if brand_count >= len(vocab.BRAND_WORDS) * len(vocab.BRAND_TRADES):
            name = f"{name} {vocab.NAME_WORDS[brand_count % len(vocab.NAME_WORDS)]}"
        words = rng.permutation(len(vocab.BRANCH_WORDS))[:size]
        home = city[members[0]]
        elsewhere = rng.random(size) < 0.2
        elsewhere[0] = False
        moved_city = np.where(elsewhere, _cities(rng, size), home)
        city[members] = moved_city
        owned = rng.random() < COMPANY_OWNED_BRAND_SHARE
        for position, member in enumerate(members.tolist()):
            core[member] = name
            branch[member] = vocab.BRANCH_WORDS[words[position]]
            legal[member] = "LLC" if not owned else "Inc."
            company_owned[member] = owned
        if owned:
            ein[members] = (
                ein[members[0]]
                or f"{EIN_PREFIXES[brand_count % len(EIN_PREFIXES)]:02d}-{brand_count:07d}"
            )
        brand_count += 1
    if brand_count:  # the locations moved to their brand's city: their address follows
        located = brand >= 0
        fresh = _address(rng, city[located])
        for key, values in fresh.items():
            address[key][located] = values
        fresh_area = objects([vocab.CITIES[c][3][0] for c in city[located]])
        phone[located] = phone_numbers(rng, fresh_area)

    # Namesakes: another organisation (elsewhere, another business) with the same name.
    standalone = np.flatnonzero(brand < 0)
    copies = standalone[rng.random(len(standalone)) < NAMESAKE_SHARE]
    models = standalone[rng.integers(0, len(standalone), len(copies))]
    keep = (copies != models) & (city[copies] != city[models])
    core[copies[keep]] = core[models[keep]]
    legal[copies[keep]] = legal[models[keep]]
    name = objects(
        [
            f"{c} - {b}" if b else (f"{c} {lf}" if lf else c)
            for c, b, lf in zip(core, branch, legal, strict=True)
        ]
    )
    domain_label = objects([slug(c) for c in core])
    tld = pick(rng, [t for t, _ in vocab.TLDS], n, [w for _, w in vocab.TLDS])
    has_domain = rng.random(n) < HAS_DOMAIN
    domain = objects([f"{d}{t}" for d, t in zip(domain_label, tld, strict=True)])
    # Brands share one domain; other companies whose names give the same one get a digit.
    owner = np.where(brand >= 0, -1 - brand, np.arange(n))
    owners = pd.DataFrame({"domain": domain, "owner": owner}).drop_duplicates()
    owners["rank"] = owners.groupby("domain").cumcount()
    rank = (
        pd.DataFrame({"domain": domain, "owner": owner})
        .merge(owners, on=["domain", "owner"], how="left")["rank"]
        .to_numpy(dtype=np.int64)
    )
    domain = objects(
        [d if r == 0 else d.replace(".", f"{r + 1}.", 1) for d, r in zip(domain, rank, strict=True)]
    )
    brand_domain = pd.Series(domain).groupby(brand).transform("first").to_numpy()
    domain = np.where(brand >= 0, brand_domain, domain).astype(object)
    brand_has = pd.Series(has_domain).groupby(brand).transform("first").to_numpy(dtype=bool)
    has_domain = np.where(brand >= 0, True, has_domain) | brand_has
    domain = np.where(has_domain, domain, "").astype(object)

    # Moves: the organisation came from another state (a neighbouring one mostly: the cities
    # are listed roughly by region), so street, city, state and ZIP all differ; the systems
    # that heard of it keep the new address, older records the old one.
    moved = (rng.random(n) < MOVED_SHARE) & (brand < 0)
    states = np.array([c[1] for c in vocab.CITIES], dtype=object)
    old_city = city.copy()
    for row in np.flatnonzero(moved).tolist():
        elsewhere = np.flatnonzero(states != states[city[row]])
        near = elsewhere[np.abs(elsewhere - city[row]) <= 12]
        pool = near if len(near) and rng.random() < 0.7 else elsewhere
        old_city[row] = pool[int(rng.integers(0, len(pool)))]
    old = _address(rng, old_city)

    return frame_of(
        {
            "entity_id": objects([f"A{i:07d}" for i in range(n)]),
            "core": core,
            "legal": legal,
            "branch": branch,
            "name": name,
            "brand": brand,
            "company_owned": company_owned,
            "domain": domain,
            "phone": phone,
            **{key: values for key, values in address.items()},
            "ein": ein,
            "moved": moved,
            **{f"old_{key}": values for key, values in old.items()},
            "email_pattern": pick(rng, EMAIL_PATTERNS, n, [0.4, 0.25, 0.08, 0.1, 0.07, 0.1]),
            "in_crm": rng.random(n) < IN_CRM,
            "in_erp": rng.random(n) < IN_ERP,
            "in_acquired": rng.random(n) < IN_ACQUIRED,
        }
    )


# ---- people -----------------------------------------------------------------------------------


def _first_names(rng: np.random.Generator, female: np.ndarray) -> ObjectArray:
    n = len(female)
    male = pick(rng, vocab.MALE_NAMES, n, zipf_weights(len(vocab.MALE_NAMES), 0.9, 4))
    women = pick(rng, vocab.FEMALE_NAMES, n, zipf_weights(len(vocab.FEMALE_NAMES), 0.9, 4))
    return np.where(female, women, male).astype(object)


def _surnames(rng: np.random.Generator, n: int) -> ObjectArray:
    common = pick(rng, vocab.COMMON_SURNAMES, n, zipf_weights(len(vocab.COMMON_SURNAMES), 0.85))
    made_up = join(pick(rng, vocab.SURNAME_HEADS, n), pick(rng, vocab.SURNAME_TAILS, n), sep="")
    return np.where(rng.random(n) < 0.72, common, made_up).astype(object)


def nickname_of(first: str, draw: float) -> str:
    names = vocab.NICKNAMES.get(first)
    return names[int(draw * len(names))] if names else first


def _people(companies: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    n_companies = len(companies)
    sizes = 1 + rng.poisson(rng.gamma(1.2, 2.2, n_companies))
    sizes = np.minimum(sizes, 60)
    company = np.repeat(np.arange(n_companies), sizes)
    n = len(company)
    female = rng.random(n) < 0.5
    first = _first_names(rng, female)
    last = _surnames(rng, n)
    middle = np.where(rng.random(n) < 0.35, pick(rng, list(vocab.MIDDLE_INITIALS), n), "").astype(
        object
    )
    family = np.arange(n, dtype=np.int64)
    relation = np.full(n, "", dtype=object)  # how a hard case was made, for the error analysis
    partner = np.full(n, -1, dtype=np.int64)  # the other person of the pair it made
    every_home = phone_numbers(
        rng, objects([vocab.CITIES[c][3][0] for c in companies["city_index"].to_numpy()[company]])
    )
    has_home = rng.random(n) < 0.5
    shared_mailbox = np.full(n, "", dtype=object)

    first_of = np.r_[0, np.cumsum(sizes)[:-1]]
    # Family business: a relative at the same company, sharing the surname and a line.
    candidates = np.flatnonzero(sizes >= 2)
    chosen = candidates[rng.random(len(candidates)) < FAMILY_BUSINESS_SHARE]
    a = first_of[chosen]
    b = a + 1
    last[b] = last[a]
    family[b] = family[a]
    every_home[b] = every_home[a]
    has_home[a] = has_home[b] = True
    relation[a] = relation[b] = "family_business"
    partner[a], partner[b] = b, a
    pairs = [(int(x), int(y)) for x, y in zip(a, b, strict=True)]
    # Relatives at other companies: the surname and the home line.
    movers = np.flatnonzero(rng.random(n) < RELATIVES_ELSEWHERE_SHARE)
    partners = rng.integers(0, n, len(movers))
    keep = (
        (company[movers] != company[partners])
        & (relation[movers] == "")
        & (relation[partners] == "")
    )
    movers, partners = movers[keep], partners[keep]
    movers, index = np.unique(movers, return_index=True)
    partners = partners[index]
    keep = ~np.isin(partners, movers)
    movers, partners = movers[keep], partners[keep]
    last[movers] = last[partners]
    family[movers] = family[partners]
    every_home[movers] = every_home[partners]
    has_home[movers] = has_home[partners] = True
    relation[movers] = relation[partners] = "relatives"
    partner[movers], partner[partners] = partners, movers
    pairs += [(int(x), int(y)) for x, y in zip(partners, movers, strict=True)]
    home = np.where(has_home, every_home, "").astype(object)
    for x, y in pairs:
        if rng.random() < FAMILY_MAILBOX_SHARE:
            shared_mailbox[x] = shared_mailbox[y] = (
                f"the{last[x].lower()}s{int(rng.integers(1, 99))}"
            )

    # Colleagues with the same first name ("two Johns at Acme").
    candidates = np.flatnonzero(sizes >= 3)
    chosen = candidates[rng.random(len(candidates)) < SAME_FIRST_NAME_SHARE]
    a, b = first_of[chosen] + 1, first_of[chosen] + 2
    free = (relation[a] == "") & (relation[b] == "")
    a, b = a[free], b[free]
    first[b] = first[a]
    female[b] = female[a]
    relation[a] = relation[b] = "same_first_name"
    partner[a], partner[b] = b, a
    # Name twins at the same company: same first and last name, two people.
    candidates = np.flatnonzero(sizes >= 4)
    chosen = candidates[rng.random(len(candidates)) < TWINS_SAME_COMPANY_SHARE]
    a, b = first_of[chosen] + 2, first_of[chosen] + 3
    free = (relation[a] == "") & (relation[b] == "")
    a, b = a[free], b[free]
    first[b], last[b], female[b] = first[a], last[a], female[a]
    relation[a] = relation[b] = "twins_same_company"
    partner[a], partner[b] = b, a
    # Name twins elsewhere.
    twins = np.flatnonzero(rng.random(n) < TWINS_ELSEWHERE_SHARE)
    models = rng.integers(0, n, len(twins))
    free = (relation[twins] == "") & (relation[models] == "") & (company[twins] != company[models])
    twins, models = twins[free], models[free]
    twins, index = np.unique(twins, return_index=True)
    models = models[index]
    keep = ~np.isin(models, twins)
    twins, models = twins[keep], models[keep]
    first[twins], last[twins], female[twins] = first[models], last[models], female[models]
    relation[twins] = relation[models] = "twins_elsewhere"
    partner[twins], partner[models] = models, twins

    # Work contact details.
    switchboard = companies["phone"].to_numpy()[company]
    on_board = rng.random(n) < 0.55
    extension = np.where(
        on_board & (rng.random(n) < 0.4), objects([str(x) for x in rng.integers(100, 900, n)]), ""
    ).astype(object)
    area = objects([p[:3] for p in switchboard])
    direct = phone_numbers(rng, area)
    work_phone = np.where(on_board, switchboard, direct).astype(object)
    family_line = relation == "family_business"
    work_phone[family_line] = switchboard[family_line]
    extension[family_line] = ""
    old_phone = phone_numbers(rng, area)
    mobile_area = objects(
        [vocab.CITIES[c][3][-1] for c in companies["city_index"].to_numpy()[company]]
    )
    mobile = np.where(rng.random(n) < 0.6, phone_numbers(rng, mobile_area), "").astype(object)

    ladder = rng.integers(0, len(vocab.TITLE_LADDERS), n)
    lengths = np.array([len(x) for x in vocab.TITLE_LADDERS], dtype=np.int64)
    rung = np.floor(rng.random(n) * lengths[ladder]).astype(np.int64)
    title = objects([vocab.TITLE_LADDERS[x][r] for x, r in zip(ladder, rung, strict=True)])
    old_title = objects(
        [vocab.TITLE_LADDERS[x][r - 1] if r else "" for x, r in zip(ladder, rung, strict=True)]
    )

    domain = companies["domain"].to_numpy()[company]
    pattern = companies["email_pattern"].to_numpy()[company]
    f, la = each(slug, first), each(slug, last)
    local = locals_of(f, la, pattern)
    # Two people with one local part at one domain: the second gets a digit.
    local = _numbered(local, domain)
    has_domain = domain != ""
    work_email = np.where(has_domain, local + "@" + domain, "").astype(object)
    # An older address under another pattern (the company changed its convention).
    other = locals_of(f, la, np.where(pattern == "first.last", "flast", "first.last"))
    old_email = np.where(has_domain, other + "@" + domain, "").astype(object)

    provider = pick(
        rng, [p for p, _ in vocab.PERSONAL_MAIL], n, [w for _, w in vocab.PERSONAL_MAIL]
    )
    style = rng.integers(0, 4, n)
    number = objects(rng.integers(1, 999, n).astype(str).tolist())
    short = objects((rng.integers(1, 99, n)).astype(str).tolist())
    initial = each(lambda x: x[:1], f)
    personal_local = np.select(
        [style == 0, style == 1, style == 2],
        [f + "." + la, f + la + number, initial + la + number],
        la + "." + f + short,
    ).astype(object)
    personal_local = _numbered(personal_local, provider)
    personal = (personal_local + "@" + provider).astype(object)
    personal = np.where(rng.random(n) < 0.9, personal, "").astype(object)
    personal[shared_mailbox != ""] = objects(
        [f"{m}@gmail.com" for m in shared_mailbox[shared_mailbox != ""]]
    )

    return frame_of(
        {
            "entity_id": objects([f"P{i:07d}" for i in range(n)]),
            "company": company.astype(np.int64),
            "account_entity": companies["entity_id"].to_numpy()[company],
            "female": female,
            "first": first,
            "middle": middle,
            "last": last,
            "title": title,
            "old_title": old_title,
            "work_email": work_email,
            "old_email": old_email,
            "personal_email": personal,
            "work_phone": work_phone,
            "extension": extension,
            "old_phone": old_phone,
            "mobile": mobile,
            "home_phone": home,
            "family": family,
            "relation": relation,
            "partner": partner,
        }
    )


def each(fn: Callable[[str], str], values: np.ndarray) -> ObjectArray:
    """``fn`` of each value, computed once per distinct value."""
    codes, uniques = pd.factorize(pd.Series(values, dtype=object))
    return objects([fn(u) for u in uniques])[codes]


def locals_of(first: ObjectArray, last: ObjectArray, pattern: np.ndarray) -> ObjectArray:
    """Local parts of work emails (slugs of the names) by each company's pattern."""
    f1, l1 = each(lambda x: x[:1], first), each(lambda x: x[:1], last)
    return np.select(
        [
            pattern == "first.last",
            pattern == "flast",
            pattern == "firstl",
            pattern == "first",
            pattern == "first_last",
        ],
        [first + "." + last, f1 + last, first + l1, first, first + "_" + last],
        last + f1,
    ).astype(object)


def _numbered(local: ObjectArray, domain: np.ndarray) -> ObjectArray:
    """The second holder of a local part at a domain gets a 2, the third a 3, ..."""
    repeat = pd.DataFrame({"d": domain, "l": local}).groupby(["d", "l"]).cumcount().to_numpy()
    suffix = np.where(repeat > 0, (repeat + 1).astype(str), "").astype(object)
    return (local + suffix).astype(object)
