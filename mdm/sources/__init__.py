"""Sources: read extracts, map them onto the canonical schema, quarantine bad rows, plan changes.

``read_source`` reads one extract into a ``SourceLoad`` (records and quarantine);
``check_source`` does the cheap checks first; ``content_hash`` and ``plan_changes`` decide
what to insert, update and tombstone in the store.
"""

from mdm.sources.changes import ChangePlan, content_hash, plan_changes
from mdm.sources.checks import check_quarantine_share
from mdm.sources.readers import SourceLoad, check_source, read_source, source_location
from mdm.sources.validate import QUARANTINE_COLUMNS, empty_records, record_columns

__all__ = [
    "QUARANTINE_COLUMNS",
    "ChangePlan",
    "SourceLoad",
    "check_quarantine_share",
    "check_source",
    "content_hash",
    "empty_records",
    "plan_changes",
    "read_source",
    "record_columns",
    "source_location",
]
