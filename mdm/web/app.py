"""The FastAPI app of ``mdm serve``: routes, static files, errors as people and machines
expect them."""

from __future__ import annotations

import importlib
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from mdm.config.specs import Project
from mdm.errors import MdmError, Reason
from mdm.store.database import Store
from mdm.web.deps import SignInRequired, WebContext, is_api
from mdm.web.rendering import HERE, render
from mdm.web.session import SessionCodec
from mdm.web.timing import ServerTiming

# The modules whose ``router`` the app serves, in this order.
ROUTE_MODULES = [
    "mdm.web.routes.auth",
    "mdm.web.routes.admin",
    "mdm.web.routes.golden",
    "mdm.web.routes.search",
    "mdm.web.routes.review",
    "mdm.web.routes.dashboard",
    "mdm.web.routes.audit",
    "mdm.web.routes.reports",
    "mdm.web.routes.api",
]

# How an MdmError's reason is answered over HTTP.
STATUS_OF_REASON = {
    Reason.NOT_FOUND: 404,
    Reason.USAGE: 400,
    Reason.BUSY: 503,
}


def create_app(
    project: Project,
    store: Store,
    *,
    secret: bytes,
    session_hours: float = 12.0,
    secure_cookies: bool = False,
) -> FastAPI:
    app = FastAPI(
        title=f"mdm — {project.spec.project.name}",
        description="The master data of this project: golden accounts and contacts, the "
        "review queue and the stewards' actions.",
        docs_url=None,  # served by mdm.web.routes.api, with its assets: no CDN
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.context = WebContext(
        project=project,
        store=store,
        sessions=SessionCodec(secret, session_hours * 3600),
        secure_cookies=secure_cookies,
    )
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    for name in ROUTE_MODULES:
        app.include_router(importlib.import_module(name).router)
    _handle_errors(app)
    app.add_middleware(ServerTiming)
    return app


def _handle_errors(app: FastAPI) -> None:
    @app.exception_handler(SignInRequired)
    async def sign_in(request: Request, error: SignInRequired) -> Response:
        from urllib.parse import quote

        return RedirectResponse(f"/signin?next={quote(error.next_path)}", status_code=303)

    @app.exception_handler(MdmError)
    async def user_error(request: Request, error: MdmError) -> Response:
        status = STATUS_OF_REASON.get(error.reason, 409 if error.reason == "conflict" else 400)
        return _error(request, status, str(error), str(error.reason))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        response = _error(request, error.status_code, str(error.detail), None)
        for key, value in (error.headers or {}).items():
            response.headers[key] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, error: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
            for problem in error.errors()
        )
        return _error(request, 422, problems, "usage")


def _error(request: Request, status: int, message: str, reason: str | None) -> Response:
    if is_api(request) or request.headers.get("accept", "").startswith("application/json"):
        body: dict[str, object] = {"error": message, "status": status}
        if reason:
            body["reason"] = reason
        return JSONResponse(body, status_code=status)
    title = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    return render(request, "error.html", {"title": title, "message": message}, status=status)
