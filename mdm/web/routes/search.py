"""Search: find golden records by name, email, phone, domain, golden id (a merged-away id
answers with its survivor) or source key, through ``mdm.views.search``. A single hit on an id
or a key goes straight to its golden record page."""

from __future__ import annotations

from collections import Counter
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel

from mdm.config.specs import Project
from mdm.views.search import SearchHit, search_golden
from mdm.web.deps import ProjectDep, Reading, Viewer
from mdm.web.rendering import render

router = APIRouter()

PAGE_LIMIT = 50
# What goes straight to the golden record when it is the only hit: an id or a key names one.
EXACT = frozenset({"golden id", "source key"})


class SearchAnswer(BaseModel):
    query: str
    hits: list[SearchHit]


def phone_region(project: Project) -> str:
    """The country a phone number typed without one is read in: the sources' most common
    default region."""
    regions = Counter(source.default_region for source in project.spec.sources)
    if not regions:
        return "US"
    return sorted(regions, key=lambda region: (-regions[region], region))[0]


@router.get("/search", include_in_schema=False)
def search_page(
    request: Request,
    who: Viewer,
    connection: Reading,
    project: ProjectDep,
    q: str = "",
) -> Response:
    query = " ".join(q.split())
    hits = (
        search_golden(connection, query, PAGE_LIMIT, region=phone_region(project)) if query else []
    )
    if len(hits) == 1 and hits[0].matched_by in EXACT:
        hit = hits[0]
        target = f"/golden/{quote(hit.golden_id)}"
        if hit.resolved_from:
            target += f"?from={quote(hit.resolved_from)}"
        return RedirectResponse(target, status_code=303)
    values = {
        "nav": "search",
        "q": query,
        "hits": hits,
        "limit": PAGE_LIMIT,
    }
    return render(request, "search.html", values)


@router.get("/api/search")
def search_api(
    who: Viewer,
    connection: Reading,
    project: ProjectDep,
    q: str,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> SearchAnswer:
    """Golden records found by name (or the start of a word of it), email, phone, domain,
    golden id (redirects followed: ``resolved_from`` names the merged-away id) or source key
    (``SOURCE:KEY``, or the key alone), each once, best first."""
    query = " ".join(q.split())
    hits = search_golden(connection, query, limit, region=phone_region(project)) if query else []
    return SearchAnswer(query=query, hits=hits)
