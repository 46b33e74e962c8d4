"""Survivorship: golden values chosen from member records by rule chains, with lineage."""

from mdm.survivorship.builder import LINEAGE_DTYPES, Golden, build_golden
from mdm.survivorship.rules import (
    RULES,
    TIE_BREAK,
    MostRecent,
    Rule,
    RuleFactory,
    SortKey,
    SourcePriority,
    compile_rule,
)

__all__ = [
    "LINEAGE_DTYPES",
    "RULES",
    "TIE_BREAK",
    "Golden",
    "MostRecent",
    "Rule",
    "RuleFactory",
    "SortKey",
    "SourcePriority",
    "build_golden",
    "compile_rule",
]
