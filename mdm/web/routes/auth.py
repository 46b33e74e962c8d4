"""Signing in and out, the health check, and the front page."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from mdm.views.base import read_only
from mdm.web.accounts import authenticate
from mdm.web.deps import Viewer, context_of, session_of
from mdm.web.rendering import render
from mdm.web.session import Session

router = APIRouter()

# Routes anyone may call: the permission test checks that this list is all there is.
PUBLIC_ROUTES = {("GET", "/healthz"), ("GET", "/signin"), ("POST", "/signin")}


@router.get("/healthz", include_in_schema=False)
def healthz(request: Request) -> JSONResponse:
    """Up, and the store answers."""
    with context_of(request).store.transaction() as connection, read_only(connection):
        connection.exec_driver_sql("SELECT 1")
    return JSONResponse({"status": "ok"})


@router.get("/signin", include_in_schema=False)
def signin_page(request: Request, next: str = "/") -> Response:
    return render(request, "signin.html", {"next": _local(next), "failed": False})


@router.post("/signin", include_in_schema=False)
def signin(
    request: Request,
    name: Annotated[str, Form()],
    password: Annotated[str, Form()],
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    session = session_of(request)
    if session is None or not csrf_token or not hmac.compare_digest(csrf_token, session.csrf):
        raise HTTPException(403, "The sign-in form is stale: reload the page and try again.")
    context = context_of(request)
    with context.store.transaction() as connection, read_only(connection):
        who = authenticate(connection, name, password)
    if who is None:
        values = {"next": _local(next), "failed": True, "name": name}
        return render(request, "signin.html", values, status=401)
    response = RedirectResponse(_local(next), status_code=303)
    context.sessions.write(response, session.signed_in(who.name), context.secure_cookies)
    return response


@router.post("/signout", include_in_schema=False)
def signout(request: Request, who: Viewer) -> Response:
    response = RedirectResponse("/signin", status_code=303)
    context = context_of(request)
    context.sessions.write(response, Session.anonymous(), context.secure_cookies)
    return response


@router.get("/", include_in_schema=False)
def home(who: Viewer) -> Response:
    return RedirectResponse("/queue", status_code=303)


def _local(path: str) -> str:
    """Only a path on this server: a sign-in link cannot send anyone elsewhere."""
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path


@router.get("/api/whoami")
def whoami(who: Viewer) -> dict[str, str]:
    """Who the request is authenticated as, and with which role."""
    return {"name": who.name, "role": str(who.role), "kind": who.kind}
