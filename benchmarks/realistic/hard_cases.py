"""How often each hard case occurs in the live records (after the last night).

Counted from the records as written and the truth behind them: a case made by the generator
but invisible in the data (a move of a company only one system knows, a relative with no
record) is not counted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmarks.realistic.world import World


def _live(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    return {source: table[table["_live"].to_numpy(dtype=bool)] for source, table in tables.items()}


def _pairs_present(
    people: pd.DataFrame, relation: str, present: set[int], partner: np.ndarray
) -> int:
    """Pairs of people of one relation that both have live records."""
    rows = np.flatnonzero(people["relation"].to_numpy() == relation)
    count = 0
    for row in rows.tolist():
        other = int(partner[row])
        if other > row and row in present and other in present:
            count += 1
    return count


def count_hard_cases(
    world: World, accounts: dict[str, pd.DataFrame], contacts: dict[str, pd.DataFrame]
) -> dict[str, int]:
    people = world.people
    companies = world.companies
    acc = _live(accounts)
    con = _live(contacts)
    all_contacts = pd.concat(
        [t.assign(_source=s) for s, t in con.items()], ignore_index=True, sort=False
    )
    person = all_contacts["_person"].to_numpy(dtype=np.int64)
    present = set(person.tolist())

    company = people["company"].to_numpy()
    partner = people["partner"].to_numpy()

    # Colleagues sharing a phone number (a switchboard) in their records.
    phones = all_contacts[["_person", "_phone_digits"]]
    phones = phones[phones["_phone_digits"] != ""].drop_duplicates()
    people_per_phone = phones.groupby("_phone_digits")["_person"].nunique()
    shared_phones = people_per_phone[people_per_phone > 1].index
    shared = phones[phones["_phone_digits"].isin(shared_phones)]
    shared = shared.assign(company=company[shared["_person"].to_numpy(dtype=np.int64)])
    colleagues_on_one_line = int((shared.groupby("_phone_digits")["company"].nunique() == 1).sum())

    # Name twins in the data: one first and last name, two or more people with records.
    names = pd.DataFrame(
        {
            "first": people["first"].to_numpy()[person],
            "last": people["last"].to_numpy()[person],
            "person": person,
        }
    ).drop_duplicates("person")
    per_name = names.groupby(["first", "last"])["person"].nunique()

    kind_of = all_contacts["_email_kind"].to_numpy()
    with_work = set(person[kind_of == "work"].tolist())
    with_personal = set(person[kind_of == "personal"].tolist())
    records_per_person = all_contacts.groupby("_person").size()
    with_email = all_contacts.assign(has=all_contacts["_email"] != "").groupby("_person")["has"]
    missing_on_one_side = int(((with_email.any()) & (~with_email.all())).sum())

    support = con["support_requesters"]
    erp = acc["erp_customers"]
    crm = acc["crm_accounts"]
    damage = pd.concat([t["_postcode_damage"] for t in acc.values()], ignore_index=True)
    zips = pd.concat(
        [
            pd.Series(companies["zip5"].to_numpy()[t["_company"].to_numpy(dtype=np.int64)])
            for t in acc.values()
        ],
        ignore_index=True,
    )
    leading_zero = zips.str.startswith("0").to_numpy()

    brands = companies[companies["brand"] >= 0]
    in_city = brands.groupby(["brand", "city"])["entity_id"].transform("size") > 1
    live_companies = set(
        np.concatenate([t["_company"].to_numpy(dtype=np.int64) for t in acc.values()]).tolist()
    )
    visible_brands = brands[[c in live_companies for c in brands.index]]

    moved_rows = pd.concat(
        [t[["_company", "_old_address"]] for t in acc.values()], ignore_index=True
    )
    moves = moved_rows.groupby("_company")["_old_address"].agg(["any", "all"])
    visible_moves = int((moves["any"] & ~moves["all"]).sum())

    role_mail = all_contacts[all_contacts["_email_kind"] == "role"]
    role_shared = int((role_mail.groupby("_email")["_person"].nunique() > 1).sum())
    upper_names = int(
        len(con["erp_contacts"])
        + (support["_name_style"] == "upper").sum()
        + (
            con["marketing_leads"]["first_name"].str.isupper()
            & (con["marketing_leads"]["first_name"].str.len() > 1)
        ).sum()
    )

    def stale(column: str) -> int:
        return int(all_contacts.loc[all_contacts[column].astype(bool), "_person"].nunique())

    return {
        # people
        "relatives_in_family_business": _pairs_present(people, "family_business", present, partner),
        "relatives_at_other_companies": _pairs_present(people, "relatives", present, partner),
        "colleagues_with_same_first_name": _pairs_present(
            people, "same_first_name", present, partner
        ),
        "phone_lines_shared_by_colleagues": colleagues_on_one_line,
        "name_twins_same_company": _pairs_present(people, "twins_same_company", present, partner),
        "name_twins_other_company": _pairs_present(people, "twins_elsewhere", present, partner),
        "names_shared_by_several_people": int((per_name > 1).sum()),
        "full_name_only_records": len(support),
        "last_comma_first_names": int(support["_name_style"].isin(["comma", "comma_middle"]).sum()),
        "titled_full_names": int((support["_name_style"] == "doctor").sum()),
        "people_with_personal_and_work_email": len(with_work & with_personal),
        "people_missing_email_in_one_source": missing_on_one_side,
        "people_in_several_records": int((records_per_person > 1).sum()),
        "nickname_records": int(all_contacts["_nickname"].astype(bool).sum()),
        "name_typo_records": int(all_contacts["_typo"].astype(bool).sum()),
        "upper_case_name_records": upper_names,
        "role_mailboxes_shared_by_people": role_shared,
        "stale_titles": stale("_old_title"),
        "stale_phones": stale("_old_phone"),
        "stale_emails": stale("_old_email"),
        "crm_duplicate_contacts": int(con["crm_contacts"]["_dup"].astype(bool).sum()),
        # organisations
        "brands": int(visible_brands["brand"].nunique()),
        "brand_locations": len(visible_brands),
        "brand_locations_sharing_a_city": int(in_city.sum()),
        "brand_locations_sharing_tax_id": int(visible_brands["company_owned"].sum()),
        "moved_companies_with_old_address_kept": visible_moves,
        "postcodes_missing": int((damage == "missing").sum()),
        "postcodes_leading_zero_lost": int(
            (damage.isin(["number", "number4"]).to_numpy() & leading_zero).sum()
        ),
        "postcodes_zip_plus_4": int(damage.isin(["zip4", "zip4_plain", "number4"]).sum()),
        "postcodes_typo": int((damage == "typo").sum()),
        "crm_duplicate_accounts": int(crm["_dup"].astype(bool).sum()),
        "erp_names_split_over_two_columns": int(erp["_split"].sum()),
        "erp_names_abbreviated": int(erp["_abbreviated"].sum()),
        "company_names_shared_by_organisations": int(
            (companies.groupby("name")["entity_id"].nunique() > 1).sum()
        ),
    }
