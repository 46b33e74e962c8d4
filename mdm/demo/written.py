"""Values as the systems write them: phone styles, blanks, name spellings, city aliases,
postcode and country variants."""

from __future__ import annotations

import itertools
import string

import numpy as np
import numpy.typing as npt

from mdm.demo.arrays import (
    Bools,
    Ints,
    Strs,
    chance,
    digit_strings,
    noisy,
    pick_from,
    strs,
    with_typos,
)
from mdm.demo.organisations import Orgs
from mdm.demo.places import CITIES, CITY_COUNTRY, US
from mdm.demo.shares import DUPLICATE_NOISE
from mdm.demo.vocabulary import AMPERSAND_WORDS, COUNTRIES, WEBSITE_FORMATS, Country


def written_phones(
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
    return strs(codes.view(f"S{codes.shape[1]}").ravel().astype(str))


def _byte_matrix(values: Strs) -> npt.NDArray[np.uint8]:
    """Equal-length ASCII strings as a (rows, length) byte matrix."""
    width = len(values[0])
    array = np.array(values.tolist(), dtype=f"S{width}")
    return array.view(np.uint8).reshape(len(values), width)


def with_extensions(rng: np.random.Generator, phones: Strs, extension: Strs) -> Strs:
    styles = pick_from(rng, (" ext. ", " x", " ext ", " Ext. "), len(phones))
    out = phones.copy()
    rows = (phones != "") & (extension != "")
    out[rows] = phones[rows] + styles[rows] + extension[rows]
    return out


def blanked(rng: np.random.Generator, values: Strs, p: float | npt.NDArray[np.float64]) -> Strs:
    return np.where(chance(rng, p, len(values)), "", values).astype(object)


def _legal_text(country: Ints, legal: Ints, variant: Ints) -> Strs:
    return strs(
        [
            (forms := COUNTRIES[c].legal_forms[form].variants)[v % len(forms)]
            for c, form, v in zip(country, legal, variant, strict=True)
        ]
    )


def _canonical_names(orgs: Orgs, org: Ints) -> Strs:
    names: Strs = orgs.base[org] + _legal_text(
        orgs.country[org], orgs.legal[org], np.zeros(len(org), np.int64)
    )
    return names


def crm_names(rng: np.random.Generator, orgs: Orgs, org: Ints, dup: Bools) -> Strs:
    """Names as sales reps type them: legal-form spellings, "and" for "&", typos, capitals."""
    k = len(org)
    country = orgs.country[org]
    other_spelling = chance(rng, np.where(dup, 0.7, 0.2), k)
    variant = np.where(other_spelling, rng.integers(1, 8, size=k), 0)
    legal = _legal_text(country, orgs.legal[org], variant)
    legal = blanked(rng, legal, noisy(0.03, dup))
    base = orgs.base[org].copy()
    spelled = chance(rng, noisy(0.1, dup), k)
    for row in np.flatnonzero(spelled):
        word = AMPERSAND_WORDS[COUNTRIES[country[row]].code]
        base[row] = base[row].replace(" & ", f" {word} ")
    typo = chance(rng, noisy(0.02, dup), k)
    base[typo] = with_typos(rng, base[typo])
    names: Strs = base + legal
    upper = chance(rng, noisy(0.02, dup), k)
    names[upper] = [name.upper() for name in names[upper]]
    return names


def websites(rng: np.random.Generator, domain: Strs, blank: npt.NDArray[np.float64]) -> Strs:
    formats = pick_from(rng, WEBSITE_FORMATS, len(domain))
    return blanked(rng, strs([f.format(d=d) for f, d in zip(formats, domain, strict=True)]), blank)


def city_names(rng: np.random.Generator, city: Ints, alias: npt.NDArray[np.float64]) -> Strs:
    use_alias = chance(rng, alias, len(city))
    picks = rng.integers(0, 1 << 30, size=len(city))
    out = []
    for c, use, pick in zip(city, use_alias, picks, strict=True):
        spec = CITIES[c]
        out.append(spec.aliases[pick % len(spec.aliases)] if use and spec.aliases else spec.name)
    return strs(out)


def written_regions(rng: np.random.Generator, city: Ints, dup: Bools) -> Strs:
    """US states mostly as codes; elsewhere the region is written out or left empty."""
    short = chance(rng, 0.75, len(city))
    filled = chance(rng, 0.5, len(city))
    out = []
    for c, s, f in zip(city, short, filled, strict=True):
        spec = CITIES[c]
        if CITY_COUNTRY[c] == US:
            out.append(spec.region_code if s else spec.region)
        else:
            out.append(spec.region if f else "")
    return blanked(rng, strs(out), noisy(0.03, dup))


def postcode_variants(
    rng: np.random.Generator, postcode: Strs, country: Ints, p: npt.NDArray[np.float64]
) -> Strs:
    """ZIP+4, leading zeros lost to a spreadsheet, no space, a country prefix ("D-80331")."""
    varied = chance(rng, p, len(postcode))
    plus4 = digit_strings(rng, len(postcode), 4, first="0123456789")
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


def country_names(rng: np.random.Generator, country: Ints, dup: Bools) -> Strs:
    other = chance(rng, noisy(0.3, dup), len(country))
    picks = rng.integers(0, 1 << 30, size=len(country))
    out = [
        (written := COUNTRIES[c].written)[pick % len(written) if o else 0]
        for c, o, pick in zip(country, other, picks, strict=True)
    ]
    # A US-based CRM often leaves the country empty for home-market accounts.
    empty = np.where(country == US, 0.08, 0.01)
    return blanked(rng, strs(out), np.where(dup, empty * DUPLICATE_NOISE, empty))


def company_texts(rng: np.random.Generator, orgs: Orgs, org: Ints, blank: float) -> Strs:
    """A company typed into a form: full or short, lower-case, one word, misspelt, or none."""
    kinds = rng.choice(5, size=len(org), p=[0.45, 0.3, 0.1, 0.1, 0.05])
    full = _canonical_names(orgs, org)
    base = orgs.base[org]
    typos = with_typos(rng, base)
    texts = [
        (full[i], base[i], base[i].lower(), base[i].split()[0], typos[i])[kind]
        for i, kind in enumerate(kinds)
    ]
    return blanked(rng, strs(texts), blank)
