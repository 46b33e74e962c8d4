"""Steward actions: undo a merge, split records out, pin a value, decide a pair. Each is
audited, persisted so it binds every later run, and applied at once by resolving the golden
records it touches, in one transaction with that resolution."""

from mdm.schema import LinkDecision
from mdm.stewardship.common import StewardResult
from mdm.stewardship.decide import decide_pair
from mdm.stewardship.pins import pin_value, unpin_value
from mdm.stewardship.separate import unmerge

# A steward's decision on a pair of records (the name the command line uses).
Decision = LinkDecision

__all__ = [
    "Decision",
    "LinkDecision",
    "StewardResult",
    "decide_pair",
    "pin_value",
    "unmerge",
    "unpin_value",
]
