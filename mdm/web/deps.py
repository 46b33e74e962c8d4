"""What a route asks for: who is asking (and whether their role allows the route), a
read-only connection to the store, the project. The role check lives here, in the route's
signature, so that the server refuses what a role may not do whatever the page shows.

A route declares its role with one of ``Viewer``, ``Steward`` or ``Admin``:

    @router.get("/queue")
    def queue(who: Viewer, connection: Reading) -> ...

Anonymous requests get 401 (API routes, under ``/api/``) or a redirect to the sign-in page;
a role too weak gets 403. A request that changes something and is authenticated by the
session cookie must carry the session's CSRF token (form field ``csrf_token`` or header
``X-CSRF-Token``); API tokens are sent explicitly and need none.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy import Connection

from mdm.config.specs import Project
from mdm.store.database import Store
from mdm.views.base import read_only
from mdm.web.accounts import Principal, Role, active_user, token_principal
from mdm.web.session import CSRF_FIELD, CSRF_HEADER, Session, SessionCodec

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class WebContext:
    """What the app keeps for its lifetime."""

    project: Project
    store: Store
    sessions: SessionCodec
    secure_cookies: bool


class SignInRequired(Exception):
    """An anonymous request for a page: the app answers with a redirect to sign in."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


def context_of(request: Request) -> WebContext:
    context: WebContext = request.app.state.context
    return context


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def session_of(request: Request) -> Session | None:
    """The request's session cookie, read once."""
    if not hasattr(request.state, "session"):
        request.state.session = context_of(request).sessions.read(request)
    session: Session | None = request.state.session
    return session


def principal_of(request: Request) -> Principal | None:
    """Who is asking: a bearer token, else the signed-in user of the session; looked up in the
    store on every request, so a revoked token or a disabled user stops at once."""
    if hasattr(request.state, "principal"):
        found: Principal | None = request.state.principal
        return found
    context = context_of(request)
    found = None
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    with context.store.transaction() as connection, read_only(connection):
        if scheme.lower() == "bearer" and credentials.strip():
            found = token_principal(connection, credentials.strip())
            request.state.by_token = True
        else:
            session = session_of(request)
            if session is not None and session.user is not None:
                found = active_user(connection, session.user)
    request.state.principal = found
    return found


async def _check_csrf(request: Request) -> None:
    if request.method in SAFE_METHODS or getattr(request.state, "by_token", False):
        return
    session = session_of(request)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    if session is None or sent is None or not hmac.compare_digest(sent, session.csrf):
        raise HTTPException(403, "The form's security token is missing or stale: reload the page.")


def _needs(role: Role) -> object:
    async def check(request: Request) -> Principal:
        who = principal_of(request)
        if who is None:
            if is_api(request):
                raise HTTPException(
                    401, "Sign in or send an API token.", {"WWW-Authenticate": "Bearer"}
                )
            raise SignInRequired(
                request.url.path + (f"?{request.url.query}" if request.url.query else "")
            )
        if not who.role.allows(role):
            raise HTTPException(403, f"This needs the {role} role; {who.name} is a {who.role}.")
        await _check_csrf(request)
        return who

    check.__name__ = f"needs_{role}"
    return check


# The role a route needs, as a parameter type: the route gets who is asking.
Viewer = Annotated[Principal, Depends(_needs(Role.VIEWER))]
Steward = Annotated[Principal, Depends(_needs(Role.STEWARD))]
Admin = Annotated[Principal, Depends(_needs(Role.ADMIN))]


def _reading(request: Request) -> Iterator[Connection]:
    with context_of(request).store.transaction() as connection, read_only(connection):
        yield connection


# A read-only transaction on the store for the length of the request.
Reading = Annotated[Connection, Depends(_reading)]


def project_of(request: Request) -> Project:
    return context_of(request).project


ProjectDep = Annotated[Project, Depends(project_of)]
