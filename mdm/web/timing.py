"""``Server-Timing`` on every answer: how long the server spent on it, for people looking at
their browser's network panel and for the page benchmarks (``benchmarks/bench_web.py``)."""

from __future__ import annotations

import time
from collections.abc import MutableMapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class ServerTiming:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                elapsed_ms = (time.perf_counter() - started) * 1000
                headers: list[Any] = list(message.get("headers", []))
                headers.append((b"server-timing", f"app;dur={elapsed_ms:.1f}".encode()))
                message = _with_headers(message, headers)
            await send(message)

        await self.app(scope, receive, timed)


def _with_headers(message: Message, headers: list[Any]) -> MutableMapping[str, Any]:
    changed = dict(message)
    changed["headers"] = headers
    return changed
