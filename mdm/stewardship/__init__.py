"""Steward actions: undo a merge, pin a value, decide a pair. Each is audited, persisted so it
binds every later run, and applied at once by resolving the golden records it touches."""

from mdm.stewardship.actions import (
    Decision,
    StewardResult,
    decide_pair,
    pin_value,
    unmerge,
    unpin_value,
)

__all__ = ["Decision", "StewardResult", "decide_pair", "pin_value", "unmerge", "unpin_value"]
