"""Postal codes: UK codes show spaced ("SW1A 1AA"), others trimmed and upper case; keys are
compact and upper case, and a US ZIP+4 keys as its five-digit ZIP.

US ZIP codes are restored first, for records in the US (their country, or the source's
``default_region`` when the record has none): a ZIP that lost its leading zeros in a number
column ("6982") is padded to five digits ("06982"), and nine digits without their dash
("069821234") are a ZIP+4 ("06982-1234"). Other countries' codes are left as they are:
"2100" is a Danish postcode.
"""

from __future__ import annotations

import re

from mdm.standardize.text import collapse, fold, none_if_empty

_UK_POSTCODE = re.compile(r"[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}")
_ZIP_PLUS_FOUR = re.compile(r"([0-9]{5})(?: ?- ?| )?[0-9]{4}")
# A US ZIP as number columns leave it: leading zeros lost ("6982", "6982-1234"), the dash of a
# ZIP+4 lost ("069821234", and as a number "69821234": a ZIP+4 of a 0xxxx ZIP), or a float's
# ".0" kept ("6982.0").
_US_SHORT_ZIP = re.compile(r"([0-9]{3,5})(?:\.0+)?")
_US_SHORT_ZIP_PLUS_FOUR = re.compile(r"([0-9]{3,5}) ?- ?([0-9]{4})")
_US_NINE_DIGITS = re.compile(r"([0-9]{4,5})([0-9]{4})")
US = "US"


def restore_us_zip(text: str) -> str:
    """A US ZIP with its leading zeros and its ZIP+4 dash; anything else as given."""
    compact = text.strip()
    short = _US_SHORT_ZIP.fullmatch(compact)
    if short:
        return short.group(1).zfill(5)
    plus_four = _US_SHORT_ZIP_PLUS_FOUR.fullmatch(compact)
    if plus_four:
        return f"{plus_four.group(1).zfill(5)}-{plus_four.group(2)}"
    nine = _US_NINE_DIGITS.fullmatch(compact)
    if nine:
        return f"{nine.group(1).zfill(5)}-{nine.group(2)}"
    return text


def clean_postcode(text: str, region: str | None = None) -> str | None:
    """The display form; ``region``: the ISO code of the record's country (None: unknown)."""
    if region == US:
        text = restore_us_zip(text)
    text = collapse(text).upper()
    compact = text.replace(" ", "")
    if compact.isalnum() and _UK_POSTCODE.fullmatch(compact):
        return f"{compact[:-3]} {compact[-3:]}"  # UK: outward and inward code
    return none_if_empty(text)


def match_postcode(text: str, region: str | None = None) -> str | None:
    """The match key; ``region`` as for ``clean_postcode``."""
    if region == US:
        text = restore_us_zip(text)
    zip_plus_four = _ZIP_PLUS_FOUR.fullmatch(collapse(text))
    if zip_plus_four:
        return zip_plus_four.group(1)
    return none_if_empty(fold(text).replace(" ", "").upper())
