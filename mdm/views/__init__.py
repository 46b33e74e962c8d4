"""Read models for people and the API: typed, read by key, never writing.

Each view takes a SQLAlchemy ``Connection`` that its caller opened (the CLI per command, the web
per request; ``reading`` opens a read-only one) and returns pydantic models that serialize as
JSON (``model_dump(mode="json")``). They read what one answer needs, by key: one golden record,
its members, its history, one redirect chain, one run.
"""

from mdm.views.base import ViewModel, read_only, reading
from mdm.views.explain import ExplainedField, ExplanationView, explain_records
from mdm.views.golden import AccountSummary, ContactSummary, GoldenView, MemberRecord, golden_view
from mdm.views.history import (
    EventRow,
    HistoryView,
    LineageRow,
    VersionRow,
    golden_history,
    golden_lineage,
)
from mdm.views.quarantine import QuarantineRow, run_quarantine
from mdm.views.redirects import ResolvedId, current_id, resolve_id
from mdm.views.review import ReviewItemView, review_queue
from mdm.views.runs import (
    EntityCounts,
    MatchStatistics,
    RunRow,
    RunView,
    SourceCounts,
    StageTiming,
    recent_runs,
    run_view,
)

__all__ = [
    "AccountSummary",
    "ContactSummary",
    "EntityCounts",
    "EventRow",
    "ExplainedField",
    "ExplanationView",
    "GoldenView",
    "HistoryView",
    "LineageRow",
    "MatchStatistics",
    "MemberRecord",
    "QuarantineRow",
    "ResolvedId",
    "ReviewItemView",
    "RunRow",
    "RunView",
    "SourceCounts",
    "StageTiming",
    "VersionRow",
    "ViewModel",
    "current_id",
    "explain_records",
    "golden_history",
    "golden_lineage",
    "golden_view",
    "read_only",
    "reading",
    "recent_runs",
    "resolve_id",
    "review_queue",
    "run_quarantine",
    "run_view",
]
