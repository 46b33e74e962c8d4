"""The workbench's answers on a big store: server-side time of the queue, pair, golden-record
and search pages (and their API twins), median and p95.

The store is the nightly job's (``bench_pipeline.py``): the demo generator's four systems at
about ``--records`` source records, after ``mdm run``. It is kept in ``--project`` (made
there the first time, about ten minutes at 1M on SQLite) so that later runs measure only the
pages. The app runs in this process, as ``mdm serve`` runs it, and every request goes
through it whole (routing, sign-in check, the read models, the template); the time is the
``Server-Timing`` the app itself reports, so the client's own cost is not counted.

    .venv/bin/python benchmarks/bench_web.py [--records 1000000] [--project DIR]
        [--requests 200] [--seed 7]

One JSON line per page on stdout: ``page``, ``requests``, ``median_ms``, ``p95_ms``,
``max_ms``, with the store's size.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Connection, text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_pipeline import generate_job, run_mdm
from harness import emit, log

STEWARD, PASSWORD = "bench-steward", "bench password 123"
TIMING = re.compile(r"app;dur=([0-9.]+)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--project", type=Path, default=None)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    project_dir = args.project or Path(f"/tmp/mdm-bench-web-{args.records}")
    prepare(project_dir, args.records, args.seed)
    measure(project_dir, args.requests, random.Random(args.seed))
    return 0


def prepare(project_dir: Path, records: int, seed: int) -> None:
    if (project_dir / "mdm.db").exists() and (project_dir / "exports" / "xref.csv").exists():
        log(f"using the store in {project_dir}")
        return
    log(f"making a store of about {records:,} source records in {project_dir}")
    project_dir.mkdir(parents=True, exist_ok=True)
    generate_job(str(project_dir), records, seed)
    ran = run_mdm(project_dir)
    log(f"mdm run: {ran['seconds']} s")


def measure(project_dir: Path, requests: int, chance: random.Random) -> None:
    from fastapi.testclient import TestClient

    from mdm.config import load_project
    from mdm.store.migrate import open_migrated
    from mdm.web import accounts, create_app

    project = load_project(project_dir)
    store = open_migrated(project.store_url, "bench", wait_seconds=60.0)
    try:
        with store.transaction() as connection:
            known = connection.execute(
                text("select count(*) from web_user where name = :n"), {"n": STEWARD}
            ).scalar_one()
            size = connection.execute(
                text("select count(*) from source_record where is_current")
            ).scalar_one()
            samples = sample_values(connection, requests, chance)
        if not known:
            accounts.add_user(project.store_url, STEWARD, accounts.Role.STEWARD, PASSWORD, "bench")
        app = create_app(project, store, secret=b"bench")
        with TestClient(app, follow_redirects=False) as client:
            sign_in(client)
            pages: dict[str, Callable[[int], str]] = {
                "queue": lambda i: "/queue" if i % 2 == 0 else "/queue?entity=contact",
                "pair": lambda i: f"/review/{samples['items'][i % len(samples['items'])]}",
                "golden": lambda i: f"/golden/{samples['golden'][i % len(samples['golden'])]}",
                "search": lambda i: f"/search?q={samples['queries'][i % len(samples['queries'])]}",
                "api_search": lambda i: (
                    f"/api/search?q={samples['queries'][i % len(samples['queries'])]}"
                ),
                "api_golden": lambda i: (
                    f"/api/golden/{samples['golden'][i % len(samples['golden'])]}"
                ),
            }
            for page, path_of in pages.items():
                times, statuses = timed(client, path_of, requests)
                emit(
                    {
                        "benchmark": "web",
                        "page": page,
                        "source_records": int(size),
                        "requests": len(times),
                        "median_ms": round(statistics.median(times), 1),
                        "p95_ms": round(percentile(times, 95), 1),
                        "max_ms": round(max(times), 1),
                        "statuses": statuses,
                    }
                )
    finally:
        store.close()


def sample_values(
    connection: Connection, count: int, chance: random.Random
) -> dict[str, list[str]]:
    """Review items, golden ids and search queries picked at random from the store."""
    items = [
        str(row[0])
        for row in connection.execute(
            text("select id from review_item where status = 'open' order by id")
        )
    ]
    golden = [
        str(row[0])
        for row in connection.execute(
            text(
                "select golden_id from golden_account where status = 'active' union all "
                "select golden_id from golden_contact where status = 'active'"
            )
        )
    ]
    picked_golden = chance.sample(golden, min(count, len(golden)))
    people = (
        connection.execute(
            text(
                "select first_name, last_name, email, phone from golden_contact "
                "where status = 'active' and golden_id in ("
                + ",".join(f"'{g}'" for g in picked_golden if g.startswith("C-"))
                + ")"
            )
        ).all()
        if any(g.startswith("C-") for g in picked_golden)
        else []
    )
    companies = (
        connection.execute(
            text(
                "select name, domain from golden_account where status = 'active' and golden_id in ("
                + ",".join(f"'{g}'" for g in picked_golden if g.startswith("A-"))
                + ")"
            )
        ).all()
        if any(g.startswith("A-") for g in picked_golden)
        else []
    )
    keys = [
        f"{s}:{k}"
        for s, k in connection.execute(
            text("select source, source_key from xref limit :n"), {"n": count}
        )
    ]
    queries: list[str] = []
    for first, last, email, phone in people:
        queries += [q for q in (f"{first} {last}" if first and last else None, email, phone) if q]
    for name, domain in companies:
        queries += [q for q in (name, domain) if q]
    queries += picked_golden[: count // 10] + keys[: count // 10]
    chance.shuffle(queries)
    return {
        "items": chance.sample(items, min(count, len(items))) or ["1"],
        "golden": picked_golden,
        "queries": queries[:count],
    }


def sign_in(client: object) -> None:
    from fastapi.testclient import TestClient

    assert isinstance(client, TestClient)
    page = client.get("/signin")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, "no sign-in form"
    answer = client.post(
        "/signin", data={"name": STEWARD, "password": PASSWORD, "csrf_token": token.group(1)}
    )
    assert answer.status_code == 303, answer.text[:300]


def timed(
    client: object, path_of: Callable[[int], str], requests: int
) -> tuple[list[float], dict[str, int]]:
    """The server-side milliseconds of each request (after a few to warm up), and how many
    answers had each status."""
    from urllib.parse import quote

    from fastapi.testclient import TestClient

    assert isinstance(client, TestClient)
    for i in range(5):
        client.get(path_of(i))
    times: list[float] = []
    statuses: dict[str, int] = {}
    for i in range(requests):
        path = path_of(i)
        head, _, query = path.partition("?q=")
        answer = client.get(f"{head}?q={quote(query)}" if query else head)
        if answer.status_code >= 400 and answer.status_code != 404:
            raise RuntimeError(f"{path}: {answer.status_code} {answer.text[:200]}")
        statuses[str(answer.status_code)] = statuses.get(str(answer.status_code), 0) + 1
        found = TIMING.search(answer.headers.get("server-timing", ""))
        if found:
            times.append(float(found.group(1)))
    return times, statuses


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share / 100 * len(ordered)) - 1))
    return ordered[index]


if __name__ == "__main__":
    raise SystemExit(main())
