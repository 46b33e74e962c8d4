"""What must hold in every store, whatever ran before, crashed or was killed: the checks behind
``mdm check`` and the tests.

1. Membership: every live source record (its current version, not deleted) is in exactly one
   golden record: one xref row, naming that version and an active golden record of its entity;
   deleted records have none.
2. Golden members: every active golden record has member records, as many as its ``members``
   says, and is not also merged away (the source of a redirect).
3. Decisions: an active must-link decision between two live records holds (one golden
   record), unless a cannot-link between the two golden records overrules it; a cannot-link
   always holds (two golden records).
4. Lineage: every golden value comes from a member record or an active steward pin, and has
   the lineage row that says so, with the same value (a ``keep_all`` value: the JSON array of
   its lineage rows' values); no lineage row without its golden value. A golden contact's
   account is an active golden account.
5. Redirects: every chain of redirects ends at an active golden record of its entity, without
   a cycle; a golden record marked merged redirects.
6. Record index: ``record_key`` and ``key_count`` hold what a full rebuild would write.

Versions loaded after the resolution watermark (by ``mdm ingest``) are not resolved yet: their
records are checked as the last resolution left them.

The checks only read, whole tables at a time: they are a consistency check, not a hot path.
"""

from mdm.invariants.check import (
    CheckReport,
    EntityCounts,
    check_project,
    check_store,
    read_only,
)
from mdm.invariants.found import Invariant, Violation

__all__ = [
    "CheckReport",
    "EntityCounts",
    "Invariant",
    "Violation",
    "check_project",
    "check_store",
    "read_only",
]
