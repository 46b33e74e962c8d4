"""``mdm serve``'s app, in one process or in several: with ``--workers``, uvicorn starts each
worker process and imports ``worker_app`` by name, which builds the app from what the command
left in the environment (the project, the session settings, the signing key)."""

from __future__ import annotations

import gc
import os
from pathlib import Path
from typing import Final

from fastapi import FastAPI

from mdm.config import load_project
from mdm.config.specs import Project
from mdm.store.database import Store, serve_reads_mapped
from mdm.store.migrate import open_migrated
from mdm.web.app import create_app

PROJECT_VARIABLE: Final = "MDM_SERVE_PROJECT"
HOURS_VARIABLE: Final = "MDM_SERVE_SESSION_HOURS"
SECURE_VARIABLE: Final = "MDM_SERVE_SECURE_COOKIES"
SECRET_VARIABLE: Final = "MDM_SECRET_KEY"  # also what a user sets to choose the key


def served_app(
    project: Project, *, secret: bytes, session_hours: float, secure_cookies: bool
) -> tuple[FastAPI, Store]:
    """The app a server runs, on its own connection to the store (read through memory maps on
    SQLite), and that store, for the caller to close."""
    store = open_migrated(project.store_url, "serve", wait_seconds=60.0)
    serve_reads_mapped(store)
    app = create_app(
        project, store, secret=secret, session_hours=session_hours, secure_cookies=secure_cookies
    )
    return app, store


def hand_to_workers(
    project: Project, *, secret: bytes, session_hours: float, secure_cookies: bool
) -> None:
    """What ``worker_app`` reads, put in the environment the workers inherit."""
    os.environ[PROJECT_VARIABLE] = str(project.root)
    os.environ[HOURS_VARIABLE] = repr(session_hours)
    os.environ[SECURE_VARIABLE] = "1" if secure_cookies else ""
    os.environ[SECRET_VARIABLE] = secret.decode("utf-8")


def worker_app() -> FastAPI:
    """One worker's app (uvicorn's factory): the project and settings ``hand_to_workers`` left.
    Its store stays open as long as the worker process."""
    project = load_project(Path(os.environ[PROJECT_VARIABLE]))
    app, _store = served_app(
        project,
        secret=os.environ[SECRET_VARIABLE].encode("utf-8"),
        session_hours=float(os.environ[HOURS_VARIABLE]),
        secure_cookies=bool(os.environ.get(SECURE_VARIABLE)),
    )
    freeze_what_is_loaded()
    return app


def freeze_what_is_loaded() -> None:
    """What is loaded by now (the libraries, the app) lives as long as the server: kept out of
    the garbage collector's walks, so that collecting a request's garbage stays cheap."""
    gc.collect()
    gc.freeze()
