"""Websites and domains: "https://www.Acme.co.uk/about" gives its registrable domain
"acme.co.uk" (by the public suffix list bundled with tldextract); an email gives its host's.

The key is the registrable domain, NA when there is none (``localhost``, an IP address); the
display form falls back to the value as given, lower case. A value is valid when it has one.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from mdm.standardize.email_address import MAILTO
from mdm.standardize.text import collapse, none_if_empty

if TYPE_CHECKING:
    import tldextract


@functools.cache
def _extractor() -> tldextract.TLDExtract:
    # Imported when a domain is first looked up: a run that standardizes no website or email
    # (a delta of a few records, `mdm status`) does not pay its start-up.
    import tldextract

    # The bundled public-suffix snapshot only: never fetch, never write a cache.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def registrable_domain(text: str) -> str | None:
    host = MAILTO.sub("", "".join(collapse(text).split())).lower()
    # Emails: the host follows the last "@" (tldextract reads "@" only as URL user info).
    if "@" in host and "/" not in host:
        host = host.rsplit("@", 1)[1]
    return _domain_of_host(host)


@functools.lru_cache(maxsize=1 << 16)
def _domain_of_host(host: str) -> str | None:
    # Many emails share a host (a company's, a mailbox provider's): the public suffix list is
    # searched once per host.
    domain = _extractor()(host).top_domain_under_public_suffix
    return str(domain) if domain else None


def clean_domain(text: str) -> str | None:
    return registrable_domain(text) or none_if_empty(collapse(text).lower())
