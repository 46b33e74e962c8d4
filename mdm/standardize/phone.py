"""Phone numbers, read with phonenumbers in the region they are dialled from.

The display form is E.164 (with `` ext. N`` when the number has an extension), or the value as
given when it cannot be parsed, so nothing is lost; the key is E.164, NA when unparseable. A
number is valid when it could be assigned (``(123) 456-7890`` is possible but has no such area
code).
"""

from __future__ import annotations

import functools

import phonenumbers

from mdm.standardize.text import collapse, none_if_empty


# The display form, the match key and the validity of a number each parse it; a delta parses
# its records' numbers again when it rebuilds their golden records. Callers only read the result.
@functools.lru_cache(maxsize=1 << 16)
def _parse(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_possible_number(number) else None


def _e164(number: phonenumbers.PhoneNumber) -> str:
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def clean_phone(text: str, region: str | None) -> str | None:
    number = _parse(text, region)
    if number is None:
        return none_if_empty(collapse(text))  # kept as given: nothing is lost
    extension = f" ext. {number.extension}" if number.extension else ""
    return _e164(number) + extension


def match_phone(text: str, region: str | None) -> str | None:
    number = _parse(text, region)
    return None if number is None else _e164(number)


def valid_phone(text: str, region: str | None) -> bool:
    number = _parse(text, region)
    return number is not None and bool(phonenumbers.is_valid_number(number))
