"""Person names: "JOHN O'NEILL" shows as "John O'Neill" and keys as "john oneill"; titles and
generational suffixes stay in the display form and leave the key."""

from __future__ import annotations

from mdm.standardize.casing import Casing, recased
from mdm.standardize.text import fold

# Only particles that are not also common given names or surnames ("Van", "Le", "Di" are).
_NAME_PARTICLES = frozenset(
    {"de", "del", "della", "der", "den", "von", "du", "dos", "das", "ter", "ten", "zu"}
)
_PERSON_CASING = Casing(
    lower_words=_NAME_PARTICLES,
    spellings={"ii": "II", "iii": "III", "iv": "IV", "phd": "PhD", "md": "MD"},
)
_HONORIFICS = frozenset(
    {"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "jr", "sr", "ii", "iii"}
    | {"iv", "phd", "md", "esq"}
)


def clean_person_name(text: str) -> str | None:
    return recased(text, _PERSON_CASING, lower_too=True)


def match_person_name(text: str) -> str | None:
    words = fold(text).split()
    kept = [word for word in words if word not in _HONORIFICS]
    return " ".join(kept or words) or None  # nothing but a title ("Mr"): the title is the key
