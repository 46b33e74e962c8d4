"""Company legal forms, as data: their canonical display spellings.

``mdm.standardize.company_name`` derives two things from this table:

* display: an ALL-CAPS word that is one of these spellings (``GMBH``) is shown in its canonical
  spelling (``GmbH``);
* matching: trailing legal forms are dropped from company-name keys. A form is recognised by its
  letters alone, so dotted and spaced variants (``S.A.``, ``S. A.``, ``L.L.C.``) and ``&`` / ``and``
  variants (``& Co.``, ``and Co``) are all the same form.

Multi-word entries (``Sdn Bhd``) are dropped only as a whole; their words of three or more letters
also get their display spelling. Entries are kept unambiguous by their letters (``SAS`` stands for
the Italian ``S.a.s.`` too). Words that are common in names as plain words (``PC``) are left out.
"""

from __future__ import annotations

LEGAL_FORMS: tuple[str, ...] = (
    # English-speaking countries
    "Inc",
    "Incorporated",
    "Corp",
    "Corporation",
    "Co",
    "Company",
    "Cos",
    "Ltd",
    "Limited",
    "LLC",
    "LLP",
    "LP",
    "LLLP",
    "PLC",
    "PLLC",
    "Pty",
    "Pty Ltd",
    "Pte",
    "Pte Ltd",
    "Pvt",
    "Pvt Ltd",
    "Private Limited",
    "Sdn Bhd",
    "Bhd",
    "Tbk",
    # German-speaking countries
    "GmbH",
    "gGmbH",
    "GesmbH",
    "AG",
    "KG",
    "KGaA",
    "OHG",
    "GbR",
    "UG",
    "e.V",
    "eG",
    "mbH",
    "& Co",
    "& Cie",
    "& Cia",
    # Romance languages
    "SA",
    "SAS",
    "SASU",
    "SARL",
    "SCA",
    "SNC",
    "Cie",
    "S.p.A",
    "S.r.l",
    "S.L",
    "S.L.U",
    "Lda",
    "Ltda",
    "S.A. de C.V",
    "S. de R.L",
    # Benelux, Nordics, Baltics
    "BV",
    "NV",
    "VOF",
    "CV",
    "BVBA",
    "SPRL",
    "AB",
    "AS",
    "A/S",
    "ApS",
    "ASA",
    "Oy",
    "Oyj",
    # Central and Eastern Europe
    "s.r.o",
    "Sp. z o.o",
    "Kft",
    "Zrt",
    "Nyrt",
    "d.o.o",
    # Europe-wide
    "SE",
    "EEIG",
    # Asia
    "KK",
    "Kabushiki Kaisha",
)
"""Canonical spellings. Order does not matter; the standardizer indexes them by their letters."""
