"""The message a page shows once after an action: a cookie signed with the session's CSRF token.

An action answers with a redirect and keeps its message (``set_flash``); the next page this
browser shows reads it (``take_flash``) and removes the cookie (``clear_flash``). A page shows
only a message this server wrote for this session.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json

from fastapi import Request
from fastapi.responses import Response

from mdm.web.deps import context_of, session_of

FLASH_COOKIE = "mdm_flash"
FLASH_MAX = 1500  # characters of a message kept in the cookie


def set_flash(request: Request, response: Response, message: str, kind: str) -> None:
    """Keep ``message`` for the next page this browser shows, signed with the session's CSRF
    token (a page shows only a message this server wrote for this session)."""
    session = session_of(request)
    if session is None:
        return
    text = json.dumps([kind, message[:FLASH_MAX]])
    payload = base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")
    response.set_cookie(
        FLASH_COOKIE,
        f"{payload}.{_signature(session.csrf, payload)}",
        max_age=300,
        httponly=True,
        samesite="lax",
        secure=context_of(request).secure_cookies,
        path="/",
    )


def take_flash(request: Request) -> tuple[str | None, str | None]:
    """The message kept for this page and its kind, or ``(None, None)``."""
    cookie = request.cookies.get(FLASH_COOKIE)
    session = session_of(request)
    if not cookie or session is None or "." not in cookie:
        return None, None
    payload, _, signature = cookie.rpartition(".")
    if not hmac.compare_digest(signature, _signature(session.csrf, payload)):
        return None, None
    try:
        text = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
        kind, message = json.loads(text)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None, None
    return str(message), str(kind)


def clear_flash(request: Request, response: Response) -> Response:
    """``response``, with the message the request brought taken away (shown once)."""
    if request.cookies.get(FLASH_COOKIE):
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def _signature(key: str, payload: str) -> str:
    return hmac.new(key.encode(), payload.encode(), hashlib.sha256).hexdigest()[:32]
