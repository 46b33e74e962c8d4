"""Tax identifiers: VAT numbers, EINs and other national tax numbers.

The display form drops spaces, dots and dashes ("de 123.456-789" -> "DE123456789"); the key drops
all punctuation. A VAT number keeps its country prefix in both: it is part of the number.

Validity is python-stdnum's, with check digits where the number has them. A tax id is valid
when it is a VAT number of the country its prefix names (any country stdnum knows, and the EU's
own prefixes: "EL" for Greece, "XI" for Northern Ireland), or, without a prefix, one of the tax
numbers stdnum knows for the record's country. An unprefixed number is never tried against
every EU country: half of all random nine-digit numbers pass one of them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

from stdnum import vatin
from stdnum.util import NumberValidationModule, get_cc_module

from mdm.standardize.text import collapse, fold, none_if_empty

_SEPARATORS = re.compile(r"[\s.\-\u2010-\u2015]+")

# stdnum's module names of a country's tax numbers, where they are not the generic "vat" (which
# stdnum names for about 80 countries) and "tin". US: not the adoption ATIN, which any nine
# digits pass.
_VAT_AND_TIN = ("vat", "tin")
_TAX_NUMBERS: dict[str, tuple[str, ...]] = {
    "AU": ("abn", "tfn"),
    "DE": ("vat", "stnr", "idnr"),
    "ES": ("vat", "cif"),
    "FI": ("vat", "veronumero"),
    "FR": ("vat", "siren", "nif"),
    "GB": ("vat", "utr"),
    "IN": ("vat", "pan"),
    "IT": ("vat", "codicefiscale"),
    "US": ("ein", "itin", "ssn"),
}


def clean_tax_id(text: str) -> str | None:
    return none_if_empty(_SEPARATORS.sub("", collapse(text)).upper())


def match_tax_id(text: str) -> str | None:
    # VAT numbers keep their country prefix ("DE123456789"): it is part of the number.
    return none_if_empty(fold(text).replace(" ", "").upper())


def valid_tax_id(text: str, country: str | None) -> bool:
    """Whether ``text`` is a tax id with a valid format and check digits; ``country`` is the
    ISO alpha-2 code of the record's country, or None when unknown."""
    number = match_tax_id(text)
    return number is not None and _valid_number(number, country)


# A nightly delta judges its records' ids again when it rebuilds their golden records.
@functools.lru_cache(maxsize=1 << 16)
def _valid_number(number: str, country: str | None) -> bool:
    if not number.isascii():  # stdnum reads ASCII letters and digits
        return False
    if vatin.is_valid(number):
        return True
    return country is not None and any(m.is_valid(number) for m in _national_modules(country))


@functools.cache
def _national_modules(country: str) -> Sequence[NumberValidationModule]:
    names = _TAX_NUMBERS.get(country, _VAT_AND_TIN)
    modules = (get_cc_module(country, name) for name in names)
    return tuple(module for module in modules if module is not None)
