"""Signing in, roles, sessions, CSRF and API tokens of ``mdm serve``, on SQLite and PostgreSQL,
with the commands that manage them (``mdm user``, ``mdm token``)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from typer.testing import CliRunner
from web_support import PASSWORD, add_people, app_client, csrf_of, demo_project, rows, sign_in

from mdm.cli import app as cli
from mdm.config.specs import Project
from mdm.web import accounts


@pytest.fixture
def project(tmp_path: Path, store_url: str) -> Project:
    found = demo_project(tmp_path / "shop", store_url, accounts_count=10)
    add_people(found)
    return found


def test_only_health_and_sign_in_answer_anonymous_requests(project: Project) -> None:
    with app_client(project) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/signin").status_code == 200
        page = client.get("/?entity=contact")
        assert page.status_code == 303
        assert page.headers["location"] == "/signin?next=/%3Fentity%3Dcontact"
        api = client.get("/api/whoami")
        assert api.status_code == 401
        assert api.headers["www-authenticate"] == "Bearer"
        assert api.json()["error"] == "Sign in or send an API token."


def test_a_user_signs_in_and_out(project: Project) -> None:
    with app_client(project) as client:
        token = csrf_of(client)
        wrong = client.post(
            "/signin", data={"name": "steward", "password": "nope", "csrf_token": token}
        )
        assert wrong.status_code == 401
        assert "Wrong name or password" in wrong.text
        assert client.get("/api/whoami").status_code == 401

        csrf = sign_in(client, "steward")
        cookie = client.cookies.get("mdm_session")
        assert cookie
        me = client.get("/api/whoami").json()
        assert me == {"name": "steward", "role": "steward", "kind": "user"}

        # Signing out needs the form's token; without it the session stays.
        assert client.post("/signout").status_code == 403
        assert client.get("/api/whoami").status_code == 200
        out = client.post("/signout", data={"csrf_token": csrf})
        assert (out.status_code, out.headers["location"]) == (303, "/signin")
        assert client.get("/api/whoami").status_code == 401


def test_the_session_cookie_is_http_only_same_site_and_signed(project: Project) -> None:
    with app_client(project) as client:
        token = csrf_of(client)
        answer = client.post(
            "/signin",
            data={"name": "viewer", "password": PASSWORD, "csrf_token": token, "next": "/audit"},
        )
        header = answer.headers["set-cookie"]
        assert "HttpOnly" in header
        assert "SameSite=lax" in header
        assert answer.headers["location"] == "/audit"
        # A cookie altered by hand is not a session.
        forged = client.cookies.get("mdm_session")
        assert forged
        client.cookies.clear()
        client.cookies.set("mdm_session", forged[:-3] + "abc")
        assert client.get("/api/whoami").status_code == 401


def test_sign_in_refuses_a_stale_form_and_foreign_next(project: Project) -> None:
    with app_client(project) as client:
        csrf_of(client)
        stale = client.post(
            "/signin", data={"name": "steward", "password": PASSWORD, "csrf_token": "x"}
        )
        assert stale.status_code == 403
        token = csrf_of(client)
        elsewhere = client.post(
            "/signin",
            data={
                "name": "steward",
                "password": PASSWORD,
                "csrf_token": token,
                "next": "//evil.example/",
            },
        )
        assert elsewhere.headers["location"] == "/"


def test_a_session_expires(project: Project) -> None:
    with app_client(project, session_hours=1 / 3600) as client:
        sign_in(client, "steward")
        assert client.get("/api/whoami").status_code == 200
        time.sleep(2.2)
        assert client.get("/api/whoami").status_code == 401


def test_a_disabled_user_is_signed_out_at_once(project: Project) -> None:
    with app_client(project) as client:
        sign_in(client, "steward")
        assert client.get("/api/whoami").status_code == 200
        accounts.disable_user(project.store_url, "steward", "admin")
        assert client.get("/api/whoami").status_code == 401
        token = csrf_of(client)
        again = client.post(
            "/signin", data={"name": "steward", "password": PASSWORD, "csrf_token": token}
        )
        assert again.status_code == 401
    assert rows(project, "select name, active from web_user where name = 'steward'") == [
        ("steward", False)
    ]


def test_passwords_are_kept_as_argon2_hashes(project: Project) -> None:
    [(hashed,)] = rows(project, "select password_hash from web_user where name = 'admin'")
    assert str(hashed).startswith("$argon2id$")
    assert PASSWORD not in str(hashed)


def test_tokens_from_the_command_line_work_until_revoked(project: Project) -> None:
    runner = CliRunner()
    made = runner.invoke(
        cli, ["token", "create", "crm-sync", "--role", "viewer", "-p", str(project.root)]
    )
    assert made.exit_code == 0, made.output
    token = made.output.strip().splitlines()[-1]
    assert token.startswith("mdm_") and " " not in token
    [(kept,)] = rows(project, "select token_hash from api_token where name = 'crm-sync'")
    assert kept == accounts.token_hash(token) and token not in str(kept)

    with app_client(project) as client:
        bearer = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/whoami", headers=bearer).json() == {
            "name": "crm-sync",
            "role": "viewer",
            "kind": "token",
        }
        assert (
            client.get("/api/whoami", headers={"Authorization": "Bearer mdm_x"}).status_code == 401
        )
        revoked = runner.invoke(cli, ["token", "revoke", "crm-sync", "-p", str(project.root)])
        assert revoked.exit_code == 0, revoked.output
        assert client.get("/api/whoami", headers=bearer).status_code == 401
    again = runner.invoke(cli, ["token", "revoke", "crm-sync", "-p", str(project.root)])
    assert again.exit_code == 2
    assert "No live token" in again.output


def test_users_from_the_command_line(project: Project) -> None:
    runner = CliRunner()
    root = str(project.root)
    added = runner.invoke(
        cli,
        ["user", "add", "rosa", "--role", "steward", "--password-stdin", "-p", root],
        input="a long enough password\n",
    )
    assert added.exit_code == 0, added.output
    short = runner.invoke(
        cli, ["user", "add", "tim", "--password-stdin", "-p", root], input="short\n"
    )
    assert short.exit_code == 2 and "too short" in short.output
    bad_role = runner.invoke(
        cli, ["user", "add", "tim", "--role", "boss", "--password-stdin", "-p", root], input="x\n"
    )
    assert bad_role.exit_code == 2 and "not a role" in bad_role.output
    twice = runner.invoke(
        cli, ["user", "add", "rosa", "--password-stdin", "-p", root], input="another password 1\n"
    )
    assert twice.exit_code == 2 and "already a user named 'rosa'" in twice.output
    listed = runner.invoke(cli, ["user", "list", "-p", root])
    assert "rosa" in listed.output and "steward" in listed.output
    assert runner.invoke(cli, ["user", "disable", "rosa", "-p", root]).exit_code == 0
    assert runner.invoke(cli, ["user", "disable", "nobody", "-p", root]).exit_code == 2
    assert rows(project, "select name, role, active from web_user where name = 'rosa'") == [
        ("rosa", "steward", False)
    ]
    audit = rows(project, "select actor, action, target from audit_log order by id")
    assert ("cli", "user-add", "rosa") in audit
    assert ("cli", "user-disable", "rosa") in audit
