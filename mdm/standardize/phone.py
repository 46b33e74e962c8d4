"""Phone numbers, read with phonenumbers in the region they are dialled from.

The display form is E.164 (with `` ext. N`` when the number has an extension), or the value as
given when it cannot be parsed, so nothing is lost; the key is E.164, NA when unparseable. A
number is valid when it could be assigned (``(123) 456-7890`` is possible but has no such area
code).
"""

from __future__ import annotations

import functools
import re

import phonenumbers

from mdm.standardize.text import collapse, none_if_empty


# The display form, the match key and the validity of a number each parse it; a delta parses
# its records' numbers again when it rebuilds their golden records. Callers only read the result.
@functools.lru_cache(maxsize=1 << 16)
def _parse(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    number = _north_american(text, region)
    if number is not None:
        return number
    return library_parse(text, region)


def library_parse(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    """The number as phonenumbers reads it; None when it cannot be a number."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_possible_number(number) else None


# Most numbers in North American extracts are written in a handful of ways; reading those
# directly is many times faster than the general parser and gives the same number (the tests
# compare the two). A number dialled without +1 is North American only where its source's
# region dials 1 as its national prefix.
_NORTH_AMERICAN_REGIONS = frozenset({"US", "CA"})
_NORTH_AMERICAN = re.compile(
    r"\s*(?:(\+)\s*1|1)?[\s.\-]*\(?([2-9][0-9]{2})\)?[\s.\-]*([0-9]{3})[\s.\-]*([0-9]{4})"
    r"(?:\s*(?:x|ext\.?)\s*([0-9]{1,7}))?\s*"
)


def _north_american(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    """The number of a plainly written North American number (+1), else None (not read)."""
    found = _NORTH_AMERICAN.fullmatch(text)
    if found is None:
        return None
    plus, area, exchange, line, extension = found.groups()
    if plus is None and region not in _NORTH_AMERICAN_REGIONS:
        return None
    number = phonenumbers.PhoneNumber(country_code=1, national_number=int(area + exchange + line))
    if extension:
        number.extension = extension
    return number


def _e164(number: phonenumbers.PhoneNumber) -> str:
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def clean_phone(text: str, region: str | None) -> str | None:
    number = _parse(text, region)
    if number is None:
        return none_if_empty(collapse(text))  # kept as given: nothing is lost
    extension = f" ext. {number.extension}" if number.extension else ""
    return _e164(number) + extension


def phone_forms(text: str, region: str | None) -> tuple[str | None, str | None]:
    """The display form and the match key of one number, from one parse."""
    number = _parse(text, region)
    if number is None:
        return none_if_empty(collapse(text)), None
    extension = f" ext. {number.extension}" if number.extension else ""
    key = _e164(number)
    return key + extension, key


def match_phone(text: str, region: str | None) -> str | None:
    number = _parse(text, region)
    return None if number is None else _e164(number)


def valid_phone(text: str, region: str | None) -> bool:
    number = _parse(text, region)
    return number is not None and bool(phonenumbers.is_valid_number(number))
