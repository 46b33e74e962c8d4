"""How the demo world and its systems behave: shares of entities or of a file's rows,
and the window of time that edits fall in. Tune the demo here."""

from __future__ import annotations

import numpy as np

NAMESAKE_SHARE = 0.03  # organisations named like another one in another city
BRANCH_SHARE = 0.04  # sites or subsidiaries of another organisation, sharing its domain
FOREIGN_BRANCH_SHARE = 0.3  # of branches: a subsidiary in another country
CRM_ACCOUNT_SHARE = 0.88  # organisations the CRM knows
ERP_SHARE = 0.60  # organisations that are ERP customers
CRM_DUPLICATE_RATE = 0.08  # CRM account rows that repeat an organisation already there
ERP_DUPLICATE_RATE = 0.03
EXTRA_PEOPLE_MEAN = 1.6  # people per organisation: 1 + Poisson(this)
FOREIGN_NAME_SHARE = 0.12  # people whose names come from another country's vocabulary
NICKNAME_SHARE = 0.35  # people who go by a nickname, where their name has one
FAMILY_SHARE = 0.03  # people with a relative at the same (family) business
FAMILY_EMAIL_SHARE = 0.4  # families that share one personal mailbox
CRM_CONTACT_SHARE = 0.80  # people of CRM accounts that the CRM has as contacts
MARKETING_SHARE = 0.35
SUPPORT_SHARE = 0.25
CRM_CONTACT_DUPLICATE_RATE = 0.05
MARKETING_DUPLICATE_RATE = 0.07
SUPPORT_DUPLICATE_RATE = 0.03
PHONE_CHANGE_SHARE = 0.2  # people in CRM and support whose support record has a new phone
DELETED_SHARE = 0.005  # CRM rows flagged deleted; duplicates more often (merged away)
DELETED_DUPLICATE_SHARE = 0.12
DUPLICATE_NOISE = 3.0  # duplicate rows are this much noisier than first entries

WINDOW_START = np.datetime64("2023-01-01T00:00:00", "s")
WINDOW_SECONDS = 912 * 86_400  # about two and a half years of edits
DAY = 86_400
