"""Which function gives each kind's display form, match form and validity, for one value."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from mdm.schema import Kind
from mdm.standardize.address import clean_city, clean_region, clean_street, match_street
from mdm.standardize.company_name import clean_company_name, match_company_name
from mdm.standardize.country import clean_country, country_code
from mdm.standardize.domain import clean_domain, registrable_domain
from mdm.standardize.email_address import clean_email, valid_email
from mdm.standardize.person_name import clean_person_name, match_person_name
from mdm.standardize.phone import clean_phone, match_phone, phone_forms, valid_phone
from mdm.standardize.postcode import clean_postcode, match_postcode
from mdm.standardize.region import match_region
from mdm.standardize.tax_id import clean_tax_id, match_tax_id, valid_tax_id
from mdm.standardize.text import match_plain
from mdm.standardize.text_kinds import clean_key, clean_text

R = TypeVar("R")


@dataclass(frozen=True)
class PerValue(Generic[R]):
    """A standardizer of one value: ``fn(text, region)``, where ``region`` is the ISO alpha-2
    code of the value's country (None when unknown) and is read only when ``regional``."""

    fn: Callable[[str, str | None], R]
    regional: bool = False


# The wrappers are small classes rather than closures so that a standardizer can be sent to a
# worker process (``mdm.standardize.parallel``).
@dataclass(frozen=True)
class Unregional(Generic[R]):
    """A standardizer that reads no region, called as one that may."""

    fn: Callable[[str], R]

    def __call__(self, text: str, _region: str | None) -> R:
        return self.fn(text)


def _plain(fn: Callable[[str], R]) -> PerValue[R]:
    return PerValue(Unregional(fn))


def _regional(fn: Callable[[str, str | None], R]) -> PerValue[R]:
    return PerValue(fn, regional=True)


@dataclass(frozen=True)
class _Some:
    """Valid when ``fn`` makes something of the value."""

    fn: Callable[[str], str | None]

    def __call__(self, text: str) -> bool:
        return self.fn(text) is not None


def _some(fn: Callable[[str], str | None]) -> Callable[[str], bool]:
    return _Some(fn)


CLEAN: Mapping[Kind, PerValue[str | None]] = {
    Kind.PERSON_NAME: _plain(clean_person_name),
    Kind.COMPANY_NAME: _plain(clean_company_name),
    Kind.EMAIL: _plain(clean_email),
    Kind.PHONE: _regional(clean_phone),
    Kind.DOMAIN: _plain(clean_domain),
    Kind.STREET: _plain(clean_street),
    Kind.CITY: _plain(clean_city),
    Kind.REGION: _plain(clean_region),
    Kind.POSTCODE: _regional(clean_postcode),
    Kind.COUNTRY: _plain(clean_country),
    Kind.IDENTIFIER: _plain(clean_tax_id),
    Kind.TEXT: _plain(clean_text),
    Kind.KEY: _plain(clean_key),
}

MATCH: Mapping[Kind, PerValue[str | None]] = {
    Kind.PERSON_NAME: _plain(match_person_name),
    Kind.COMPANY_NAME: _plain(match_company_name),
    Kind.EMAIL: _plain(clean_email),
    Kind.PHONE: _regional(match_phone),
    Kind.DOMAIN: _plain(registrable_domain),
    Kind.STREET: _plain(match_street),
    Kind.CITY: _plain(match_plain),
    Kind.REGION: _regional(match_region),
    Kind.POSTCODE: _regional(match_postcode),
    Kind.COUNTRY: _plain(country_code),
    Kind.IDENTIFIER: _plain(match_tax_id),
    Kind.TEXT: _plain(match_plain),
    Kind.KEY: _plain(clean_key),
}

VALID: Mapping[Kind, PerValue[bool]] = {
    Kind.PERSON_NAME: _plain(_some(clean_person_name)),
    Kind.COMPANY_NAME: _plain(_some(clean_company_name)),
    Kind.EMAIL: _plain(valid_email),
    Kind.PHONE: _regional(valid_phone),
    Kind.DOMAIN: _plain(_some(registrable_domain)),
    Kind.STREET: _plain(_some(clean_street)),
    Kind.CITY: _plain(_some(clean_city)),
    Kind.REGION: _plain(_some(clean_region)),
    Kind.POSTCODE: _plain(_some(match_postcode)),
    Kind.COUNTRY: _plain(_some(country_code)),
    Kind.IDENTIFIER: _regional(valid_tax_id),
    Kind.TEXT: _plain(_some(clean_text)),
    Kind.KEY: _plain(_some(clean_key)),
}


Forms = tuple[str | None, str | None]  # (display form, match key)


@dataclass(frozen=True)
class _Twice:
    """Forms of a kind whose display form is its match key."""

    fn: Callable[[str], str | None]

    def __call__(self, text: str) -> Forms:
        form = self.fn(text)
        return form, form


def _twice(fn: Callable[[str], str | None]) -> Callable[[str], Forms]:
    return _Twice(fn)


# The kinds whose display form and match key come from one piece of work: one parse of a phone
# number; an email address and a key are their own match key.
BOTH: Mapping[Kind, PerValue[Forms]] = {
    Kind.PHONE: _regional(phone_forms),
    Kind.EMAIL: _plain(_twice(clean_email)),
    Kind.KEY: _plain(_twice(clean_key)),
}
