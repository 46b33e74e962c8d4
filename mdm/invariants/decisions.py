"""3. Decisions: active must-links and cannot-links hold between live records."""

from __future__ import annotations

from mdm.invariants.found import Found, Invariant, Violation, dict_rows, record_ref
from mdm.invariants.tables import Tables


def check_decisions(read: Tables) -> list[Violation]:
    found = Found(Invariant.DECISIONS, read.entity)
    current = read.current
    live = read.xref.merge(current.loc[~current["deleted"], ["source", "source_key"]])
    golden_of = {
        (str(s), str(k)): str(g)
        for s, k, g in zip(live["source"], live["source_key"], live["golden_id"], strict=True)
    }
    decided = []
    for row in dict_rows(read.decisions):
        left = golden_of.get((str(row["left_source"]), str(row["left_key"])))
        right = golden_of.get((str(row["right_source"]), str(row["right_key"])))
        if left is not None and right is not None:  # decisions about live records
            decided.append((row, left, right))
    # A cannot-link between two golden records overrules a must-link that would join them.
    apart = {frozenset(pair) for row, *pair in decided if row["decision"] == "cannot_link"}
    for row, left, right in decided:
        a = record_ref(row["left_source"], row["left_key"])
        b = record_ref(row["right_source"], row["right_key"])
        if row["decision"] == "cannot_link" and left == right:
            found.add(
                [a, b, left],
                f"{a} and {b} were decided different (decision {row['id']}) but are both in "
                f"{left}.",
            )
        if (
            row["decision"] == "must_link"
            and left != right
            and frozenset((left, right)) not in apart
        ):
            found.add(
                [a, b, left, right],
                f"{a} and {b} were decided the same (decision {row['id']}) but are in {left} "
                f"and {right}.",
            )
    return found.violations
