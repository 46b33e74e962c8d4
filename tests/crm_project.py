"""The small project many tests start from: one CRM source of accounts in a CSV file (Id, Name,
Phone, Zip, Modified), its store at ``{url}``."""

from __future__ import annotations

CRM_ACCOUNTS_TOML = """
[store]
url = "{url}"

[[sources]]
name = "crm"
system = "CRM"
entity = "account"
format = "csv"
path = "crm.csv"
key = "Id"
last_modified = "Modified"

[sources.mapping]
name = "Name"
phone = "Phone"
postcode = "Zip"
"""
