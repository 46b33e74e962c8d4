"""Admins manage who may use the workbench: users and API tokens (as ``mdm user`` and
``mdm token`` do)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from mdm.errors import MdmError
from mdm.web import accounts
from mdm.web.deps import Admin, context_of
from mdm.web.rendering import render

router = APIRouter()


@router.get("/admin/users", include_in_schema=False)
def users_page(request: Request, who: Admin) -> Response:
    return _page(request)


@router.post("/admin/users", include_in_schema=False)
def add_user(
    request: Request,
    who: Admin,
    name: Annotated[str, Form()],
    role: Annotated[str, Form()],
    password: Annotated[str, Form()],
) -> Response:
    url = context_of(request).project.store_url
    try:
        accounts.add_user(url, name, accounts.parse_role(role), password, who.actor)
    except MdmError as error:
        return _page(request, str(error), "error", status=400)
    return _page(request, f"User {name} added as {role}.")


@router.post("/admin/users/{name}/disable", include_in_schema=False)
def disable_user(request: Request, who: Admin, name: str) -> Response:
    if name == who.name:
        return _page(request, "You cannot disable yourself.", "error", status=400)
    accounts.disable_user(context_of(request).project.store_url, name, who.actor)
    return _page(request, f"User {name} is disabled; their sessions end at once.")


@router.post("/admin/tokens", include_in_schema=False)
def create_token(
    request: Request, who: Admin, name: Annotated[str, Form()], role: Annotated[str, Form()]
) -> Response:
    url = context_of(request).project.store_url
    try:
        token = accounts.create_token(url, name, accounts.parse_role(role), who.actor)
    except MdmError as error:
        return _page(request, str(error), "error", status=400)
    return _page(request, f"Token {name} created. Copy it now: it is not shown again.", token=token)


@router.post("/admin/tokens/{token_id}/revoke", include_in_schema=False)
def revoke_token(request: Request, who: Admin, token_id: int) -> Response:
    accounts.revoke_token(context_of(request).project.store_url, str(token_id), who.actor)
    return _page(request, f"Token {token_id} revoked.")


def _page(
    request: Request,
    flash: str | None = None,
    kind: str = "ok",
    status: int = 200,
    token: str | None = None,
) -> Response:
    url = context_of(request).project.store_url
    values = {
        "nav": "admin",
        "users": accounts.list_users(url),
        "tokens": accounts.list_tokens(url),
        "roles": [role.value for role in accounts.Role],
        "flash": flash,
        "flash_kind": kind,
        "new_token": token,
    }
    return render(request, "admin_users.html", values, status=status)
