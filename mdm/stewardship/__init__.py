"""Steward actions: decide a pair, merge golden records, move a record, undo a merge, split
records out, pin a value, undo a decision, skip a review item. Each is audited with the golden
records it touched before and after, persisted so it binds every later run, and applied at
once by resolving the golden records it touches, in one transaction with that resolution."""

from mdm.schema import LinkDecision
from mdm.stewardship.common import StewardResult
from mdm.stewardship.decide import decide_pair, record_versions
from mdm.stewardship.join import merge_golden, move_record
from mdm.stewardship.pins import pin_value, unpin_value
from mdm.stewardship.queue import SkipResult, skip_review
from mdm.stewardship.separate import unmerge
from mdm.stewardship.undo import undo_decision

# A steward's decision on a pair of records (the name the command line uses).
Decision = LinkDecision

__all__ = [
    "Decision",
    "LinkDecision",
    "SkipResult",
    "StewardResult",
    "decide_pair",
    "merge_golden",
    "move_record",
    "pin_value",
    "record_versions",
    "skip_review",
    "undo_decision",
    "unmerge",
    "unpin_value",
]
