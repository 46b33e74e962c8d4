"""Standardization: raw canonical values -> a display form, a match form and validity.

* ``clean_values`` gives what a golden record shows: trimmed, whitespace collapsed, shouting
  fixed, phones in E.164, countries as ISO codes. Where a value cannot be standardized the
  trimmed original is kept, so nothing is lost.
* ``match_values`` gives the key that blocking and comparison use: casefolded, accent-free,
  punctuation-free, with noise (titles, legal forms, street-type spellings) removed or made
  uniform. Where no key can be made (an impossible phone, an unknown country) it is NA.
* ``is_valid`` says whether a value is a well-formed value of its kind: a phone that could be
  assigned, an email address by its syntax, a tax id by its check digits.

All take a Series and return one with its index and name (nullable ``string``, ``pd.NA`` for
missing; ``bool`` for validity). Each kind has a module of its own (``person_name``,
``company_name``, ``email_address``, ``phone``, ``address``, ``postcode``, ``country``,
``domain``, ``tax_id``, ``text_kinds``); ``kinds`` says which function serves which kind.
"""

from mdm.standardize.vectorized import (
    RegionLike,
    clean_frame,
    clean_values,
    forms_frame,
    is_valid,
    match_frame,
    match_values,
)

__all__ = [
    "RegionLike",
    "clean_frame",
    "clean_values",
    "forms_frame",
    "is_valid",
    "match_frame",
    "match_values",
]
