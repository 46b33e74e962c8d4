"""Countries: any name, code or common alias ("USA", "Deutschland", "DEU") gives its ISO 3166
alpha-2 code (by pycountry). The key is the code, NA for an unknown country; the display form
falls back to the value as given."""

from __future__ import annotations

import functools

import pycountry

from mdm.standardize.text import collapse, fold, none_if_empty

_ALIASES: dict[str, str] = {
    "USA": "US",
    "U.S.": "US",
    "United States of America": "US",
    "America": "US",
    "UK": "GB",
    "Great Britain": "GB",
    "Britain": "GB",
    "England": "GB",
    "Scotland": "GB",
    "Wales": "GB",
    "Northern Ireland": "GB",
    "Deutschland": "DE",
    "Holland": "NL",
    "Nederland": "NL",
    "Netherlands": "NL",
    "Espana": "ES",
    "Brasil": "BR",
    "Italia": "IT",
    "Schweiz": "CH",
    "Suisse": "CH",
    "Svizzera": "CH",
    "Osterreich": "AT",
    "Belgique": "BE",
    "Belgie": "BE",
    "Sverige": "SE",
    "Norge": "NO",
    "Danmark": "DK",
    "Suomi": "FI",
    "Polska": "PL",
    "Magyarorszag": "HU",
    "Hellas": "GR",
    "Turkey": "TR",
    "South Korea": "KR",
    "Korea": "KR",
    "Republic of Korea": "KR",
    "North Korea": "KP",
    "Russia": "RU",
    "Czech Republic": "CZ",
    "Vietnam": "VN",
    "Iran": "IR",
    "Syria": "SY",
    "Laos": "LA",
    "Ivory Coast": "CI",
    "Macedonia": "MK",
    "Burma": "MM",
    "Swaziland": "SZ",
    "Cape Verde": "CV",
    "Vatican": "VA",
    "UAE": "AE",
    "Emirates": "AE",
    "PRC": "CN",
    "Mainland China": "CN",
    "Hong Kong SAR": "HK",
    "Macao": "MO",
}


@functools.cache
def _table() -> dict[str, str]:
    """Every name and code pycountry and the aliases know, by folded key -> alpha-2."""
    table: dict[str, str] = {}
    for country in pycountry.countries:
        code = str(country.alpha_2)
        for attribute in ("alpha_2", "alpha_3", "name", "common_name", "official_name"):
            name = getattr(country, attribute, None)
            if isinstance(name, str):
                table.setdefault(_key(name), code)
    for alias, code in _ALIASES.items():
        table.setdefault(_key(alias), code)
    return table


def _key(text: str) -> str:
    key = fold(text)
    return key[4:] if key.startswith("the ") else key


def country_code(text: str) -> str | None:
    return _table().get(_key(text))


def clean_country(text: str) -> str | None:
    return country_code(text) or none_if_empty(collapse(text))
