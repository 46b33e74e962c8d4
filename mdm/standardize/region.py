"""Regions (states, provinces, counties) key as their ISO 3166-2 code within the record's
country, so that "Florida", "FLORIDA" and "FL" are one region; a value that names no
subdivision of the country (or a record whose country is unknown) keys as folded text."""

from __future__ import annotations

import functools

import pycountry

from mdm.standardize.text import fold, match_plain


@functools.cache
def _subdivisions(country: str) -> dict[str, str]:
    """Folded name or code of each subdivision of ``country`` -> its folded code ("fl")."""
    found = [s for s in pycountry.subdivisions if s.country_code == country]
    codes: dict[str, str] = {}
    for subdivision in found:
        code = fold(subdivision.code.split("-", 1)[1])
        codes.setdefault(fold(subdivision.name), code)
        codes.setdefault(code, code)
    return codes


def match_region(text: str, country: str | None = None) -> str | None:
    """The match key of a region: its subdivision code in ``country`` (ISO alpha-2), else
    its folded text."""
    plain = match_plain(text)
    if plain is None or country is None:
        return plain
    try:
        codes = _subdivisions(country)
    except LookupError:  # pycountry knows no such country
        return plain
    return codes.get(plain.replace(".", ""), plain)
