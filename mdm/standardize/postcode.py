"""Postal codes: UK codes show spaced ("SW1A 1AA"), others trimmed and upper case; keys are
compact and upper case, and a US ZIP+4 keys as its five-digit ZIP."""

from __future__ import annotations

import re

from mdm.standardize.text import collapse, fold, none_if_empty

_UK_POSTCODE = re.compile(r"[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}")
_ZIP_PLUS_FOUR = re.compile(r"([0-9]{5})(?: ?- ?| )?[0-9]{4}")


def clean_postcode(text: str) -> str | None:
    text = collapse(text).upper()
    compact = text.replace(" ", "")
    if compact.isalnum() and _UK_POSTCODE.fullmatch(compact):
        return f"{compact[:-3]} {compact[-3:]}"  # UK: outward and inward code
    return none_if_empty(text)


def match_postcode(text: str) -> str | None:
    zip_plus_four = _ZIP_PLUS_FOUR.fullmatch(collapse(text))
    if zip_plus_four:
        return zip_plus_four.group(1)
    return none_if_empty(fold(text).replace(" ", "").upper())
