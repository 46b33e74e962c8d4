"""The people who work at the organisations: names, nicknames, phones, mailboxes and
addresses, with relatives at family businesses."""

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
    timestamps,
)
from mdm.demo.organisations import Orgs, draw_postcodes, draw_streets, draw_subscribers
from mdm.demo.places import CITIES, COUNTRY_WEIGHTS, GERMANY
from mdm.demo.shares import (
    EXTRA_PEOPLE_MEAN,
    FAMILY_EMAIL_SHARE,
    FAMILY_SHARE,
    FOREIGN_NAME_SHARE,
    NICKNAME_SHARE,
)
from mdm.demo.vocabulary import (
    COUNTRIES,
    FAMILY_EMAIL_PATTERNS,
    PERSONAL_EMAIL_PATTERNS,
    WORK_EMAIL_PATTERNS,
)


@dataclass(frozen=True)
class People:
    """The people as columns: entry i of each array is person i."""

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


def draw_people(rng: np.random.Generator, orgs: Orgs) -> People:
    counts = 1 + rng.poisson(EXTRA_PEOPLE_MEAN, size=orgs.n)
    org = np.repeat(np.arange(orgs.n, dtype=np.int64), counts)
    country = orgs.country[org].copy()
    foreign = chance(rng, FOREIGN_NAME_SHARE, len(org))
    country[foreign] = rng.choice(len(COUNTRIES), size=int(foreign.sum()), p=COUNTRY_WEIGHTS)
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
    goes_by = (nickname != "") & chance(rng, NICKNAME_SHARE, n)
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
    return People(
        n=n,
        entity=sequential_keys("PER-", 1, n, width),
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
        new_office=draw_subscribers(rng, orgs.city[org]),
        work_email=work,
        personal_email=personal,
        family_mailbox=family_mailbox,
        mail_street=street,
        mail_city=city,
        mail_postcode=postcode,
        crm_time=timestamps(rng, n, latest_days=300),
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
            clash = strs([spec.first_names[i].name for i in chosen]) == avoid[rows]
            chosen[clash] = (chosen[clash] + 1) % len(spec.first_names)
        picks = rng.integers(0, 1 << 30, size=len(rows))
        names = [spec.first_names[i] for i in chosen]
        first[rows] = [name.name for name in names]
        nickname[rows] = [
            name.nicknames[p % len(name.nicknames)] if name.nicknames else ""
            for name, p in zip(names, picks, strict=True)
        ]
        last[rows] = pick_from(rng, spec.last_names, len(rows))
    return first, nickname, last


def _titles(rng: np.random.Generator, country: Ints) -> Strs:
    out = np.empty(len(country), dtype=object)
    for index, spec in enumerate(COUNTRIES):
        rows = np.flatnonzero(country == index)
        out[rows] = pick_from(rng, spec.titles, len(rows))
    return out


def _office_lines(rng: np.random.Generator, orgs: Orgs, org: Ints) -> tuple[Strs, Strs, Strs]:
    """Most people have a direct line; the others share the switchboard with an extension."""
    direct = chance(rng, 0.7, len(org))
    own = draw_subscribers(rng, orgs.city[org])
    extensions = digit_strings(rng, len(org), 3)
    office = np.where(direct, own, orgs.switchboard[org]).astype(object)
    extension = np.where(direct, "", extensions).astype(object)
    return orgs.area[org].copy(), office, extension


def _mobiles(rng: np.random.Generator, orgs: Orgs, org: Ints) -> tuple[Strs, Strs]:
    n = len(org)
    has = chance(rng, 0.65, n)
    country = orgs.country[org]
    area = np.empty(n, dtype=object)
    number = np.empty(n, dtype=object)
    for index, spec in enumerate(COUNTRIES):
        rows = np.flatnonzero(country == index)
        # US mobiles carry the city's area code; elsewhere mobiles have their own prefixes.
        codes = (
            orgs.area[org[rows]]
            if not spec.mobile_areas
            else pick_from(rng, spec.mobile_areas, len(rows))
        )
        area[rows] = codes
        number[rows] = digit_strings(rng, len(rows), spec.mobile_digits, spec.mobile_starts)
    return np.where(has, area, "").astype(object), np.where(has, number, "").astype(object)


def _email_fields(first: str, last: str, german: bool) -> dict[str, str]:
    f = ascii_token(first.replace(" ", ""), german)
    last_token = ascii_token(last.replace(" ", ""), german)
    return {"f": f, "l": last_token, "i": f[:1]}


def _work_emails(orgs: Orgs, org: Ints, country: Ints, first: Strs, last: Strs) -> Strs:
    german = country == GERMANY
    patterns = orgs.email_pattern[org]
    emails = [
        WORK_EMAIL_PATTERNS[p].format(**_email_fields(f, la, g)) + "@" + orgs.domain[o]
        for p, f, la, g, o in zip(patterns, first, last, german, org, strict=True)
    ]
    return _unique_mailboxes(strs(emails), np.arange(len(org), dtype=np.int64))


def _personal_emails(
    rng: np.random.Generator,
    orgs: Orgs,
    org: Ints,
    country: Ints,
    first: Strs,
    nickname: Strs,
    last: Strs,
    anchors: Ints,
    relatives: Ints,
) -> tuple[Strs, Bools]:
    n = len(org)
    german = country == GERMANY
    patterns = pick_from(rng, PERSONAL_EMAIL_PATTERNS, n)
    years = rng.integers(60, 100, size=n)
    domains = np.empty(n, dtype=object)
    for index, spec in enumerate(COUNTRIES):
        rows = np.flatnonzero(orgs.country[org] == index)
        domains[rows] = pick_from(rng, spec.personal_email_domains, len(rows))
    locals_ = []
    for pattern, f, nick, la, g, yy in zip(
        patterns, first, nickname, last, german, years, strict=True
    ):
        fields = _email_fields(f, la, g)
        fields["n"] = ascii_token(nick, g) or fields["f"]
        locals_.append(pattern.format(yy=yy, **fields))
    emails: Strs = strs(locals_) + "@" + domains
    owners = np.arange(n, dtype=np.int64)
    # Some families share one mailbox: the same address on two different people.
    shared = chance(rng, FAMILY_EMAIL_SHARE, len(anchors))
    family_patterns = pick_from(rng, FAMILY_EMAIL_PATTERNS, len(anchors))
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
    rng: np.random.Generator, orgs: Orgs, org: Ints, anchors: Ints, relatives: Ints
) -> tuple[Strs, Strs, Strs]:
    """The office address for many people; a shared home address for relatives."""
    n = len(org)
    office = chance(rng, 0.55, n)
    street = np.where(office, orgs.street[org], "").astype(object)
    city = np.where(office, strs([CITIES[c].name for c in orgs.city[org]]), "").astype(object)
    postcode = np.where(office, orgs.postcode[org], "").astype(object)
    home_street, _ = draw_streets(rng, orgs.country[org[anchors]])
    home_postcode = draw_postcodes(rng, orgs.city[org[anchors]])
    for rows in (anchors, relatives):
        street[rows] = home_street
        postcode[rows] = home_postcode
        city[rows] = [CITIES[c].name for c in orgs.city[org[rows]]]
    return street, city, postcode
