"""Every route of the app, walked: a new route without a role check fails here.

For each route: anonymous requests are refused (401 under /api/, else a redirect to sign in),
except the public ones; the role each route declares is the role it enforces (403 below it,
by session and by token alike); and no route that changes anything is open to a viewer.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import text
from web_support import SECRET, add_people, demo_project, sign_in

from mdm.config.specs import Project
from mdm.store import open_store
from mdm.web import accounts, create_app
from mdm.web.accounts import Role
from mdm.web.routes.auth import PUBLIC_ROUTES

# Writes a viewer may make: only ending their own session.
VIEWER_WRITES = {("POST", "/signout")}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    directory = tmp_path_factory.mktemp("walk")
    found = demo_project(directory / "shop", f"sqlite:///{directory / 'mdm.db'}", 12)
    add_people(found)
    return found


@pytest.fixture(scope="module")
def client(project: Project) -> Iterator[TestClient]:
    store = open_store(project.store_url)
    try:
        with TestClient(create_app(project, store, secret=SECRET), follow_redirects=False) as c:
            yield c
    finally:
        store.close()


def samples(project: Project) -> dict[str, str]:
    """A value for every path parameter the app's routes use."""
    store = open_store(project.store_url)
    try:
        with store.transaction() as connection:
            golden_id = connection.execute(
                text("select golden_id from golden_account where status = 'active' limit 1")
            ).scalar_one()
            item = connection.execute(text("select min(id) from review_item")).scalar_one()
            source, key = connection.execute(
                text("select source, source_key from xref limit 1")
            ).one()
    finally:
        store.close()
    return {
        "golden_id": str(golden_id),
        "item_id": str(item or 1),
        "source": str(source),
        "key": str(key),
        "source_key": str(key),
        "name": "nobody",
        "token_id": "999999",
    }


def routes(client: TestClient) -> list[tuple[str, str, APIRoute]]:
    found = []
    for route in client.app.routes:  # type: ignore[attr-defined]
        if isinstance(route, APIRoute):
            found.extend((method, route.path, route) for method in sorted(route.methods))
    return found


def needed_role(route: APIRoute) -> Role | None:
    """The role a route declares through its ``Viewer`` / ``Steward`` / ``Admin`` parameter."""
    names = {getattr(d.call, "__name__", "") for d in route.dependant.dependencies}
    roles = [role for role in Role if f"needs_{role}" in names]
    assert len(roles) <= 1, f"{route.path} declares several roles: {roles}"
    return roles[0] if roles else None


def url(path: str, values: dict[str, str]) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[0]
        assert name in values, f"add a sample value for the path parameter {name!r} of {path}"
        return values[name]

    return re.sub(r"\{([^}]+)\}", fill, path)


def test_every_route_but_the_public_ones_declares_a_role(client: TestClient) -> None:
    undeclared = [
        (method, path)
        for method, path, route in routes(client)
        if needed_role(route) is None and (method, path) not in PUBLIC_ROUTES
    ]
    assert undeclared == []
    viewer_writes = {
        (method, path)
        for method, path, route in routes(client)
        if method in UNSAFE and needed_role(route) is Role.VIEWER
    }
    assert viewer_writes <= VIEWER_WRITES


def test_anonymous_requests_are_refused(client: TestClient, project: Project) -> None:
    values = samples(project)
    client.cookies.clear()
    for method, path, _ in routes(client):
        if (method, path) in PUBLIC_ROUTES:
            continue
        answer = client.request(method, url(path, values))
        if path.startswith("/api/"):
            assert answer.status_code == 401, (method, path, answer.status_code)
        else:
            assert answer.status_code == 303, (method, path, answer.status_code)
            assert answer.headers["location"].startswith("/signin?next="), (method, path)


@pytest.mark.parametrize("role", list(Role))
def test_each_route_enforces_its_role(client: TestClient, project: Project, role: Role) -> None:
    values = samples(project)
    token = accounts.create_token(project.store_url, f"walk-{role}", role, "test")
    client.cookies.clear()
    csrf = sign_in(client, role.value)
    by_token = {"Authorization": f"Bearer {token}"}
    for method, path, route in routes(client):
        needed = needed_role(route)
        if needed is None or (method, path) == ("POST", "/signout"):
            continue
        allowed = role.allows(needed)
        target = url(path, values)
        for headers in ({"X-CSRF-Token": csrf}, by_token):
            answer = client.request(method, target, headers=headers)
            if allowed:
                assert answer.status_code not in (401, 403), (role, method, path, answer.text)
            else:
                assert answer.status_code == 403, (role, method, path, answer.status_code)


def test_a_write_by_session_needs_the_csrf_token(client: TestClient, project: Project) -> None:
    values = samples(project)
    client.cookies.clear()
    sign_in(client, "admin")
    for method, path, route in routes(client):
        if method not in UNSAFE or needed_role(route) is None:
            continue
        answer = client.request(method, url(path, values))
        assert answer.status_code == 403, (method, path, answer.status_code)
        assert "security token" in answer.text, (method, path)


def test_the_app_serves_no_asset_from_elsewhere(client: TestClient) -> None:
    client.cookies.clear()
    sign_in(client, "viewer")
    pages = [path for method, path, _ in routes(client) if method == "GET" and "{" not in path]
    for path in pages:
        body = client.get(path).text
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", body), path
