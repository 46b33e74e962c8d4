"""5. Redirects: every chain ends at an active golden record, without a cycle."""

from __future__ import annotations

import pandas as pd

from mdm.invariants.found import ACTIVE, MERGED, Found, Invariant, Violation
from mdm.invariants.tables import Tables


def check_redirects(read: Tables, redirects: pd.DataFrame) -> list[Violation]:
    found = Found(Invariant.REDIRECTS, read.entity)
    mine = redirects[redirects["entity"].eq(str(read.entity))]
    table = dict(zip(mine["from_id"].astype(str), mine["to_id"].astype(str), strict=True))
    for start in sorted(table):
        chain = [start]
        while chain[-1] in table and table[chain[-1]] not in chain:
            chain.append(table[chain[-1]])
        end, path = chain[-1], " -> ".join(chain)
        if end in table:
            found.add(chain, f"The redirects from {start} go round: {path} -> {table[end]}.")
            continue
        status = read.golden["status"].get(end, "missing")
        if status != ACTIVE:
            what = f"no golden {read.entity}" if status == "missing" else status
            found.add(
                chain,
                f"{start} redirects to {end} ({path}), which is {what}, not an active golden "
                f"{read.entity}.",
            )
    merged = read.golden.index[read.golden["status"].eq(MERGED)]
    for golden_id in merged[~merged.isin(list(table))]:
        found.add([golden_id], f"{golden_id} is marked merged but redirects nowhere.")
    return found.violations
