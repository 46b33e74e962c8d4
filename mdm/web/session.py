"""The browser session: a signed cookie holding who signed in, when, and the CSRF token.

Nothing secret is in it (the signature only proves the server wrote it); it expires after
the configured hours, and a user disabled meanwhile is refused at the next request because
every request looks the user up again.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

COOKIE = "mdm_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


@dataclass(frozen=True)
class Session:
    user: str | None
    csrf: str
    issued: float

    @staticmethod
    def anonymous() -> Session:
        return Session(user=None, csrf=secrets.token_urlsafe(24), issued=time.time())

    def signed_in(self, user: str) -> Session:
        # A new CSRF token at sign-in: one planted before it is worth nothing after.
        return Session(user=user, csrf=secrets.token_urlsafe(24), issued=time.time())


class SessionCodec:
    def __init__(self, secret: bytes, max_age_seconds: float) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="mdm-session")
        self.max_age_seconds = max_age_seconds

    def read(self, request: Request) -> Session | None:
        text = request.cookies.get(COOKIE)
        if not text:
            return None
        try:
            data = self._serializer.loads(text, max_age=int(self.max_age_seconds))
        except BadSignature:  # also SignatureExpired
            return None
        if not isinstance(data, dict) or not isinstance(data.get("c"), str):
            return None
        user = data.get("u")
        return Session(
            user=user if isinstance(user, str) else None,
            csrf=data["c"],
            issued=float(data.get("t", 0)),
        )

    def write(self, response: Response, session: Session, secure: bool) -> None:
        value = self._serializer.dumps({"u": session.user, "c": session.csrf, "t": session.issued})
        response.set_cookie(
            COOKIE,
            value,
            max_age=int(self.max_age_seconds),
            httponly=True,
            samesite="lax",
            secure=secure,
            path="/",
        )

    @staticmethod
    def clear(response: Response) -> None:
        response.delete_cookie(COOKIE, path="/")
