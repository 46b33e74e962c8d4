"""Survivorship: golden values chosen from member records by rule chains, with lineage."""

from mdm.survivorship.builder import Golden, build_golden
from mdm.survivorship.lineage import LINEAGE_DTYPES, MAX_BEATEN
from mdm.survivorship.pins import PIN_COLUMNS, STEWARD_PIN
from mdm.survivorship.rules import (
    RULES,
    TIE_BREAK,
    KeepAll,
    Longest,
    Max,
    Min,
    MostComplete,
    MostFrequent,
    MostRecent,
    Oldest,
    Rule,
    RuleFactory,
    Shortest,
    SortKey,
    SourcePriority,
    Trust,
    ValidFirst,
    compile_rule,
)

__all__ = [
    "LINEAGE_DTYPES",
    "MAX_BEATEN",
    "PIN_COLUMNS",
    "RULES",
    "STEWARD_PIN",
    "TIE_BREAK",
    "Golden",
    "KeepAll",
    "Longest",
    "Max",
    "Min",
    "MostComplete",
    "MostFrequent",
    "MostRecent",
    "Oldest",
    "Rule",
    "RuleFactory",
    "Shortest",
    "SortKey",
    "SourcePriority",
    "Trust",
    "ValidFirst",
    "build_golden",
    "compile_rule",
]
