"""Pages: Jinja2 templates shipped inside the package, and what every page is given."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse

from mdm.web.deps import context_of, principal_of, session_of
from mdm.web.session import CSRF_FIELD, Session

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))


def render(
    request: Request, template: str, values: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    """A page: the template with the values, who is signed in, the CSRF token for its forms
    (a fresh anonymous session's, written to the cookie, if there was none)."""
    session = session_of(request)
    fresh = session is None
    if session is None:
        session = Session.anonymous()
        request.state.session = session
    page = {
        "who": principal_of(request),
        "csrf_field": CSRF_FIELD,
        "csrf_token": session.csrf,
        "project_name": context_of(request).project.spec.project.name,
        **(values or {}),
    }
    response = templates.TemplateResponse(request, template, page, status_code=status)
    if fresh:
        context = context_of(request)
        context.sessions.write(response, session, context.secure_cookies)
    return response
