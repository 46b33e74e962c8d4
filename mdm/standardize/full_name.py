"""Whole names in one value ("Smith, Dr. John A. Jr", "JOHN SMITH") split into first, middle
and last name with ``nameparser``; titles, suffixes and nicknames are dropped.

``nameparser`` reads "Last, First Middle" as well as "First Middle Last", knows titles and
suffixes in any case, and keeps surname particles with the surname ("de la Vega"). A name of
one word is a first name to it ("Madonna"), and so it stays. The parts are taken as written:
they are cleaned for display and keyed for matching as any first or last name is.

Each distinct value is parsed once. Most names are a few plain words ("Mary-Ann O'Neill",
"SMITH, JOHN A."); those are split without the parser when no word is one it treats specially
(a title, suffix, particle or conjunction), which gives what the parser would, many times
faster.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any, Final

import pandas as pd
from nameparser import HumanName
from nameparser.config import CONSTANTS

NAME_PARTS: Final = ("first_name", "middle_name", "last_name")

_PLAIN_WORD = re.compile(r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)*")
_INITIAL = re.compile(r"[^\W\d_]\.")
_ROMAN = re.compile(r"[ivxlcdm]+")
# Titles and suffixes common in extracts, split off before the plain words are looked at.
_TITLES = re.compile(r"^\s*(?:(?:mr|mrs|ms|miss|mx|dr|prof)\.?\s+)+", re.IGNORECASE)
_SUFFIX = re.compile(r"(?:\s*,)?\s+(?:jr|sr|ii|iii|iv)\.?\s*$", re.IGNORECASE)
# Names of more words than this are left to the parser.
_PLAIN_WORDS = 5


def split_full_name(text: str) -> tuple[str | None, str | None, str | None]:
    """(first, middle, last) of one whole name; None for a part it does not have."""
    plain = _plain_split(text)
    if plain is not None:
        return plain
    name = HumanName(" ".join(text.split()))
    return _part(name.first), _part(name.middle), _part(name.last)


def _plain_split(text: str) -> tuple[str, str | None, str] | None:
    """``_plain_words`` of the name without a common title before it ("Dr.", "Mrs") and a
    generational suffix after it ("Jr.", ", III"), which the parser drops as well."""
    text = _SUFFIX.sub("", text)
    surname, comma, given = text.partition(",")
    if comma:
        given = _TITLES.sub("", given)  # "Smith, Dr. John"
        if not given.strip():
            return None
        text = f"{surname},{given}"
    stripped = _TITLES.sub("", text)
    if stripped != text and len(stripped.replace(",", " ").split()) < 2:
        return None  # "Mr. King": a title and one word is a surname to the parser
    return _plain_words(stripped)


def _plain_words(text: str) -> tuple[str, str | None, str] | None:
    """The parts of a name of plain words as nameparser gives them, or None for a name that
    needs it: "First [Middle ...] Last" or "Last, First [Middle ...]" (a surname of one word:
    the parser reads "A B, C" as a name and a suffix), where no word has a role
    (a title, suffix, particle, conjunction or roman numeral) and no word is odd (digits,
    quotes, dots but an initial's)."""
    surname, comma, given = text.partition(",")
    if comma:
        # "Last, First": nameparser reads "First Last, X" (several words first) otherwise.
        last, words = surname.split(), given.split()
        if "," in given or len(last) != 1 or not words or len(words) >= _PLAIN_WORDS:
            return None
    else:
        words = text.split()
        if not 2 <= len(words) <= _PLAIN_WORDS:
            return None
        last, words = words[-1:], words[:-1]
    if not all(_plain(word) for word in (*last, *words)):
        return None
    return words[0], " ".join(words[1:]) or None, " ".join(last)


def split_full_names(values: pd.Series[Any]) -> pd.DataFrame:
    """first_name, middle_name and last_name of each value (nullable strings, NA where the
    value or the part is missing), by the index of ``values``; each distinct value parsed
    once."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    parts = [split_full_name(str(value)) for value in uniques]
    columns: dict[str, Any] = {}
    for position, name in enumerate(NAME_PARTS):
        distinct = pd.array([part[position] for part in parts] + [None], dtype="string")
        columns[name] = distinct.take(codes)  # code -1 (missing) takes the trailing None
    return pd.DataFrame(columns, index=values.index)


def _part(text: str) -> str | None:
    return " ".join(text.split()) or None


def _plain(word: str) -> bool:
    """A word of letters (with inner hyphens or apostrophes), or an initial ("A."), that the
    parser gives no role."""
    if not (_PLAIN_WORD.fullmatch(word) or _INITIAL.fullmatch(word)):
        return False
    folded = word.rstrip(".").casefold()
    # Roman numerals ("V", "IV", even "Mill") may be generational suffixes to the parser; an
    # initial with its dot ("V.") is not.
    roman = not word.endswith(".") and _ROMAN.fullmatch(folded)
    return folded not in _special_words() and not roman


@cache
def _special_words() -> frozenset[str]:
    """The words nameparser gives a role: titles, suffixes, surname particles, conjunctions."""
    sets = (
        CONSTANTS.titles,
        CONSTANTS.suffix_acronyms,
        CONSTANTS.suffix_not_acronyms,
        CONSTANTS.prefixes,
        CONSTANTS.conjunctions,
        CONSTANTS.first_name_titles,
    )
    return frozenset(str(word).casefold() for words in sets for word in words)
