"""Read models for people and the API: typed, read by key, never writing.

Each view takes a SQLAlchemy ``Connection`` that its caller opened (the CLI per command, the web
per request; ``reading`` opens a read-only one) and returns pydantic models that serialize as
JSON (``model_dump(mode="json")``). They read what one answer needs, by key: one golden record,
its members, its history, one redirect chain, one run.

The names are imported from their modules when first used (``__getattr__``), so that a command
that reads one view (``mdm status``) does not import the others: ``explain`` brings the matching
engine, most of them pandas.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mdm.views.audit import AuditPage, AuditRow, audit_page
    from mdm.views.base import ViewModel, read_only, reading
    from mdm.views.dashboard import (
        ClusterSize,
        DashboardView,
        GoldenRecordCount,
        QueueState,
        ReviewThresholds,
        ScoreBin,
        SourceRecordCount,
        StewardDay,
        SystemOverlap,
        dashboard_view,
    )
    from mdm.views.explain import ExplainedField, ExplanationView, explain_records
    from mdm.views.golden import (
        AccountSummary,
        ContactSummary,
        GoldenView,
        MemberRecord,
        golden_view,
    )
    from mdm.views.golden_record import (
        Change,
        GoldenPage,
        SystemMembers,
        ValueRow,
        VersionChanges,
        golden_of_record,
        golden_page,
    )
    from mdm.views.history import (
        EventRow,
        HistoryView,
        LineageRow,
        VersionRow,
        golden_history,
        golden_lineage,
    )
    from mdm.views.preview import (
        ActionInput,
        ActionPreview,
        CompareRow,
        PinChange,
        RecordMove,
        preview_action,
    )
    from mdm.views.quarantine import QuarantineRow, run_quarantine
    from mdm.views.queue import (
        PairDecision,
        PairField,
        PairRecord,
        PairView,
        QueueFilters,
        QueueItem,
        QueuePage,
        pair_view,
        queue_page,
    )
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
    from mdm.views.search import SearchHit, search_golden

# Each name, and the module that defines it.
_MODULES = {
    "AccountSummary": "mdm.views.golden",
    "ActionInput": "mdm.views.preview",
    "ActionPreview": "mdm.views.preview",
    "AuditPage": "mdm.views.audit",
    "AuditRow": "mdm.views.audit",
    "Change": "mdm.views.golden_record",
    "ClusterSize": "mdm.views.dashboard",
    "CompareRow": "mdm.views.preview",
    "ContactSummary": "mdm.views.golden",
    "DashboardView": "mdm.views.dashboard",
    "EntityCounts": "mdm.views.runs",
    "EventRow": "mdm.views.history",
    "ExplainedField": "mdm.views.explain",
    "ExplanationView": "mdm.views.explain",
    "GoldenPage": "mdm.views.golden_record",
    "GoldenRecordCount": "mdm.views.dashboard",
    "GoldenView": "mdm.views.golden",
    "HistoryView": "mdm.views.history",
    "LineageRow": "mdm.views.history",
    "MatchStatistics": "mdm.views.runs",
    "MemberRecord": "mdm.views.golden",
    "PairDecision": "mdm.views.queue",
    "PairField": "mdm.views.queue",
    "PairRecord": "mdm.views.queue",
    "PairView": "mdm.views.queue",
    "PinChange": "mdm.views.preview",
    "QuarantineRow": "mdm.views.quarantine",
    "QueueFilters": "mdm.views.queue",
    "QueueItem": "mdm.views.queue",
    "QueuePage": "mdm.views.queue",
    "QueueState": "mdm.views.dashboard",
    "RecordMove": "mdm.views.preview",
    "ResolvedId": "mdm.views.redirects",
    "ReviewItemView": "mdm.views.review",
    "ReviewThresholds": "mdm.views.dashboard",
    "RunRow": "mdm.views.runs",
    "RunView": "mdm.views.runs",
    "ScoreBin": "mdm.views.dashboard",
    "SearchHit": "mdm.views.search",
    "SourceCounts": "mdm.views.runs",
    "SourceRecordCount": "mdm.views.dashboard",
    "StageTiming": "mdm.views.runs",
    "StewardDay": "mdm.views.dashboard",
    "SystemMembers": "mdm.views.golden_record",
    "SystemOverlap": "mdm.views.dashboard",
    "ValueRow": "mdm.views.golden_record",
    "VersionChanges": "mdm.views.golden_record",
    "VersionRow": "mdm.views.history",
    "ViewModel": "mdm.views.base",
    "audit_page": "mdm.views.audit",
    "current_id": "mdm.views.redirects",
    "dashboard_view": "mdm.views.dashboard",
    "explain_records": "mdm.views.explain",
    "golden_history": "mdm.views.history",
    "golden_lineage": "mdm.views.history",
    "golden_of_record": "mdm.views.golden_record",
    "golden_page": "mdm.views.golden_record",
    "golden_view": "mdm.views.golden",
    "pair_view": "mdm.views.queue",
    "preview_action": "mdm.views.preview",
    "queue_page": "mdm.views.queue",
    "read_only": "mdm.views.base",
    "reading": "mdm.views.base",
    "recent_runs": "mdm.views.runs",
    "resolve_id": "mdm.views.redirects",
    "review_queue": "mdm.views.review",
    "run_quarantine": "mdm.views.quarantine",
    "run_view": "mdm.views.runs",
    "search_golden": "mdm.views.search",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # looked up once
    return value


__all__ = [
    "AccountSummary",
    "ActionInput",
    "ActionPreview",
    "AuditPage",
    "AuditRow",
    "Change",
    "ClusterSize",
    "CompareRow",
    "ContactSummary",
    "DashboardView",
    "EntityCounts",
    "EventRow",
    "ExplainedField",
    "ExplanationView",
    "GoldenPage",
    "GoldenRecordCount",
    "GoldenView",
    "HistoryView",
    "LineageRow",
    "MatchStatistics",
    "MemberRecord",
    "PairDecision",
    "PairField",
    "PairRecord",
    "PairView",
    "PinChange",
    "QuarantineRow",
    "QueueFilters",
    "QueueItem",
    "QueuePage",
    "QueueState",
    "RecordMove",
    "ResolvedId",
    "ReviewItemView",
    "ReviewThresholds",
    "RunRow",
    "RunView",
    "ScoreBin",
    "SearchHit",
    "SourceCounts",
    "SourceRecordCount",
    "StageTiming",
    "StewardDay",
    "SystemMembers",
    "SystemOverlap",
    "ValueRow",
    "VersionChanges",
    "VersionRow",
    "ViewModel",
    "audit_page",
    "current_id",
    "dashboard_view",
    "explain_records",
    "golden_history",
    "golden_lineage",
    "golden_of_record",
    "golden_page",
    "golden_view",
    "pair_view",
    "preview_action",
    "queue_page",
    "read_only",
    "reading",
    "recent_runs",
    "resolve_id",
    "review_queue",
    "run_quarantine",
    "run_view",
    "search_golden",
]
