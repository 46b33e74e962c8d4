"""Casing: fixing values that arrived in all capitals (or all lower case), word by word.

Each kind says how in a ``Casing``: which function words stay lower case, which words have a
fixed spelling, whether short words are acronyms. A value in mixed case is left as given.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from mdm.standardize.text import collapse, letter_count, none_if_empty

_LETTER_RUN = re.compile(r"[^\W\d_]+")
_ORDINAL_SUFFIXES = frozenset({"st", "nd", "rd", "th", "er", "e", "eme", "re"})

# Function words that stay lower case inside names of companies, streets and places.
CONNECTORS = frozenset({"and", "of", "the", "for", "in", "on", "at", "by", "to", "und", "et"})
ROMANCE_ARTICLES = frozenset({"de", "la", "le", "du", "des", "del", "der", "den", "les", "von"})


@dataclass(frozen=True)
class Casing:
    """How one kind re-cases a shouted or whispered value, word by word."""

    # Lower-case function words when not the first word ("Bank of America").
    lower_words: frozenset[str] = frozenset()
    # Fixed spellings by letters key ("phd" -> "PhD", "gmbh" -> "GmbH").
    spellings: Mapping[str, str] = field(default_factory=dict)
    # Keep words of at most three letters upper case (acronyms: "IBM"), except these.
    short_upper: bool = False
    short_words: frozenset[str] = frozenset()


def recased(text: str, casing: Casing, *, lower_too: bool) -> str | None:
    """``text`` collapsed, and re-cased when it is all capitals (or, with ``lower_too``, all
    lower case); None when nothing is left."""
    text = collapse(text)
    if needs_recase(text, lower_too=lower_too):
        return _recase(text, casing)
    return none_if_empty(text)


def needs_recase(text: str, *, lower_too: bool) -> bool:
    # "ß" has no single-letter capital in common use: "STRAßE" is shouted too.
    return text.replace("\u00df", "").isupper() or (lower_too and text.islower())


def _recase(text: str, casing: Casing) -> str:
    words = text.split(" ")
    return " ".join(_recase_word(word, casing, first=i == 0) for i, word in enumerate(words))


def _recase_word(word: str, casing: Casing, *, first: bool) -> str:
    core_start, core_end = _core_bounds(word)
    prefix, core, suffix = word[:core_start], word[core_start:core_end], word[core_end:]
    return prefix + _recase_core(core, casing, first=first) + suffix


def _core_bounds(word: str) -> tuple[int, int]:
    """Where a word's letters and digits start and end, leaving outer punctuation aside."""
    start, end = 0, len(word)
    while start < end and not word[start].isalnum():
        start += 1
    while end > start and not word[end - 1].isalnum():
        end -= 1
    return start, end


def _recase_core(core: str, casing: Casing, *, first: bool) -> str:
    if not core:
        return core
    folded = core.casefold()
    if folded in casing.lower_words:
        return _LETTER_RUN.sub(_title_run, core) if first else core.lower()
    spelled = _spelling(core, casing.spellings)
    if spelled is not None:
        return spelled
    upper = core.upper()  # counted after upper-casing: "ß" becomes two letters
    if casing.short_upper and letter_count(upper) <= 3 and folded not in casing.short_words:
        return upper
    return _LETTER_RUN.sub(_title_run, core)


def _spelling(core: str, spellings: Mapping[str, str]) -> str | None:
    """The fixed spelling of a word, dotted only when the source dotted it too ("S.p.A")."""
    spelled = spellings.get(core.casefold().replace(".", ""))
    if spelled is None:
        return None
    if ("." in core) == ("." in spelled):
        return spelled
    # "L.L.C." has no dotted spelling: leave it as given; "SPA" could be a spa: not spelled.
    return core.upper() if "." in core else None


def _title_run(match: re.Match[str]) -> str:
    run, start, text = match.group(), match.start(), match.string
    before = text[start - 1] if start else ""
    if before.isdigit():  # "1ST" -> "1st", "21B" -> "21B"
        return run.lower() if run.casefold() in _ORDINAL_SUFFIXES else run.upper()
    if before and before in "'\u2019" and len(run) == 1:  # "JOHN'S" -> "John's"
        return run.lower()
    if len(run) > 3 and run[:2].casefold() == "mc":  # "MCDONALD" -> "McDonald"
        return "Mc" + run[2].title() + run[3:].lower()
    # title(), not upper(): "ß" starts a word as "Ss", which stays mixed case when cleaned again.
    return run[:1].title() + run[1:].lower()
