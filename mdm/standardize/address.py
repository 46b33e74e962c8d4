"""Street lines, cities and regions.

Streets key with one spelling per street type ("Main Street", "Main St." -> "main st";
"Hauptstraße" -> "hauptstr"); cities key as folded text. Display forms fix shouting; a region
code ("ny") shows upper case. Regions key in ``mdm.standardize.region``; postcodes and
countries have modules of their own.
"""

from __future__ import annotations

from mdm.standardize.casing import (
    CONNECTORS,
    ROMANCE_ARTICLES,
    Casing,
    needs_recase,
    recased,
)
from mdm.standardize.text import collapse, fold, letter_count

_STREET_CASING = Casing(
    lower_words=CONNECTORS | ROMANCE_ARTICLES,
    spellings={"ne": "NE", "nw": "NW", "se": "SE", "sw": "SW", "po": "PO"},
)
_PLACE_CASING = Casing(lower_words=CONNECTORS | ROMANCE_ARTICLES)

_STREET_WORDS: dict[str, str] = {
    "street": "st",
    "avenue": "ave",
    "av": "ave",
    "road": "rd",
    "boulevard": "blvd",
    "drive": "dr",
    "lane": "ln",
    "suite": "ste",
    "strasse": "str",
    "court": "ct",
    "place": "pl",
    "square": "sq",
    "highway": "hwy",
    "parkway": "pkwy",
    "terrace": "ter",
    "circle": "cir",
    "apartment": "apt",
    "building": "bldg",
    "floor": "fl",
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
}
_STRASSE = "strasse"


def clean_street(text: str) -> str | None:
    return recased(text, _STREET_CASING, lower_too=True)


def match_street(text: str) -> str | None:
    return " ".join(_street_word(word) for word in fold(text).split()) or None


def _street_word(word: str) -> str:
    if word.endswith(_STRASSE):  # "hauptstrasse" -> "hauptstr": compounds too
        return word[: -len(_STRASSE)] + "str"
    return _STREET_WORDS.get(word, word)


def clean_city(text: str) -> str | None:
    return recased(text, _PLACE_CASING, lower_too=True)


def clean_region(text: str) -> str | None:
    text = collapse(text)
    is_code = " " not in text and 0 < letter_count(text.upper()) <= 3
    if is_code and needs_recase(text, lower_too=True):
        return text.upper()  # state and province codes: "NY", "nsw"
    return recased(text, _PLACE_CASING, lower_too=True)
