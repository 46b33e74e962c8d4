"""Admins manage users and tokens in the workbench; nobody else can."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from web_support import PASSWORD, add_people, app_client, demo_project, rows, sign_in

from mdm.config.specs import Project


@pytest.fixture
def project(tmp_path: Path, store_url: str) -> Project:
    found = demo_project(tmp_path / "shop", store_url, accounts_count=8)
    add_people(found)
    return found


def test_an_admin_adds_and_disables_a_user_and_makes_a_token(project: Project) -> None:
    with app_client(project) as client:
        csrf = sign_in(client, "admin")
        page = client.get("/admin/users")
        assert page.status_code == 200 and "steward" in page.text
        added = client.post(
            "/admin/users",
            data={
                "name": "rosa",
                "role": "steward",
                "password": "a fine long pass",
                "csrf_token": csrf,
            },
        )
        assert added.status_code == 200 and "User rosa added as steward." in added.text
        short = client.post(
            "/admin/users",
            data={"name": "tim", "role": "viewer", "password": "short", "csrf_token": csrf},
        )
        assert short.status_code == 400 and "too short" in short.text
        made = client.post(
            "/admin/tokens", data={"name": "crm-sync", "role": "viewer", "csrf_token": csrf}
        )
        token = re.search(r'class="new-token">([^<]+)<', made.text)
        assert token
        assert (
            client.get("/api/whoami", headers={"Authorization": f"Bearer {token.group(1)}"}).json()[
                "name"
            ]
            == "crm-sync"
        )
        [(token_id,)] = rows(project, "select id from api_token where name = 'crm-sync'")
        client.post(f"/admin/tokens/{token_id}/revoke", data={"csrf_token": csrf})
        assert (
            client.get(
                "/api/whoami", headers={"Authorization": f"Bearer {token.group(1)}"}
            ).status_code
            == 401
        )
        client.post("/admin/users/rosa/disable", data={"csrf_token": csrf})
        itself = client.post("/admin/users/admin/disable", data={"csrf_token": csrf})
        assert itself.status_code == 400
    assert rows(project, "select name, role, active from web_user where name = 'rosa'") == [
        ("rosa", "steward", False)
    ]
    actions = rows(project, "select actor, action, target from audit_log order by id")
    assert actions[-4:] == [
        ("admin", "user-add", "rosa"),
        ("admin", "token-create", "crm-sync"),
        ("admin", "token-revoke", str(token_id)),
        ("admin", "user-disable", "rosa"),
    ]


def test_a_steward_cannot_manage_users(project: Project) -> None:
    with app_client(project) as client:
        csrf = sign_in(client, "steward")
        assert client.get("/admin/users").status_code == 403
        refused = client.post(
            "/admin/users",
            data={"name": "eve", "role": "admin", "password": PASSWORD, "csrf_token": csrf},
        )
        assert refused.status_code == 403
        assert "Users</a>" not in client.get("/signin").text
    assert rows(project, "select name from web_user where name = 'eve'") == []
