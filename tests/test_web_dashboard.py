"""The dashboard (``GET /dashboard``, ``GET /api/dashboard``) on a demo project, on SQLite and
PostgreSQL: every figure is the count the store holds, computed here again with SQL."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from web_support import add_people, app_client, demo_project, rows, sign_in

from mdm.config.specs import Project
from mdm.schema import Entity, LinkDecision
from mdm.stewardship import decide_pair, merge_golden

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def project(tmp_path: Path, store_url: str) -> Project:
    found = demo_project(tmp_path / "shop", store_url, accounts_count=20)
    add_people(found)
    # Some stewards' work: a decision on the first open pair, a merge of two golden accounts.
    [(left, right)] = rows(
        found,
        "select left_source || ':' || left_key, right_source || ':' || right_key "
        "from review_item where status = 'open' order by id limit 1",
    )
    decide_pair(found, str(left), str(right), LinkDecision.CANNOT_LINK, "steward", "not them")
    one, other = (
        str(row[0])
        for row in rows(
            found,
            "select golden_id from golden_account where status = 'active' and members = 1 "
            "order by golden_id limit 2",
        )
    )
    merge_golden(found, one, other, "admin", "the same shop")
    return found


def expected_figures(project: Project) -> dict[str, Any]:
    """Every figure of the dashboard, counted with SQL."""
    systems = {source.name: source.system for source in project.spec.sources}
    per_source = dict(rows(project, "select source, count(*) from xref group by source"))
    golden = {
        entity: rows(project, f"select count(*) from golden_{entity} where status = 'active'")[0][0]
        for entity in ("account", "contact")
    }
    held: dict[tuple[str, str], set[str]] = defaultdict(set)
    for entity, golden_id, source in rows(
        project, "select distinct entity, golden_id, source from xref"
    ):
        held[(str(entity), str(golden_id))].add(systems[str(source)])
    overlap = Counter((entity, tuple(sorted(found))) for (entity, _), found in held.items())
    open_items = dict(
        rows(
            project,
            "select entity, count(*) from review_item where status = 'open' group by entity",
        )
    )
    probabilities = rows(
        project, "select entity, probability from review_item where status = 'open'"
    )
    bins = Counter((str(entity), min(math.floor(float(p) * 20), 19)) for entity, p in probabilities)
    sizes = {
        entity: dict(
            rows(
                project,
                f"select members, count(*) from golden_{entity} where status = 'active' "
                "group by members",
            )
        )
        for entity in ("account", "contact")
    }
    decisions = dict(
        rows(project, "select decided_by, count(*) from match_decision group by decided_by")
    )
    actions = dict(rows(project, "select actor, count(*) from audit_log group by actor"))
    return {
        "per_source": per_source,
        "golden": golden,
        "overlap": overlap,
        "open": open_items,
        "bins": bins,
        "sizes": sizes,
        "decisions": decisions,
        "actions": actions,
    }


def svgs(page: str) -> dict[str, ET.Element]:
    """The page's charts, each parsed as XML, by their label."""
    found = {}
    for block in re.findall(r"<svg\b.*?</svg>", page, flags=re.DOTALL):
        root = ET.fromstring(block)
        found[str(root.get("aria-label"))] = root
    return found


def bar_titles(root: ET.Element) -> list[str]:
    return [
        "".join(rect.find(f"{SVG}title").itertext())  # type: ignore[union-attr]
        for rect in root.iter(f"{SVG}rect")
        if rect.get("class") == "bar"
    ]


def figure(page: str, name: str) -> str:
    found = re.search(rf'data-figure="{re.escape(name)}">(?:<a [^>]*>)?([^<]*)<', page)
    assert found, name
    return found.group(1).strip().replace(",", "")


def test_the_dashboard_api_gives_the_counts_the_store_holds(project: Project) -> None:
    want = expected_figures(project)
    with app_client(project) as client:
        assert client.get("/api/dashboard").status_code == 401
        sign_in(client, "viewer")
        answer = client.get("/api/dashboard")
        assert answer.status_code == 200, answer.text
        got = answer.json()
    assert {s["source"]: s["records"] for s in got["sources"]} == want["per_source"]
    assert {s["source"]: s["system"] for s in got["sources"]} == {
        s.name: s.system for s in project.spec.sources
    }
    assert {g["entity"]: g["golden"] for g in got["golden"]} == want["golden"]
    assert (
        Counter({(o["entity"], tuple(o["systems"])): o["golden"] for o in got["overlap"]})
        == want["overlap"]
    )
    assert {q["entity"]: q["open"] for q in got["queue"] if q["open"]} == want["open"]
    assert (
        Counter({(b["entity"], round(b["low"] * 20)): b["items"] for b in got["scores"]})
        == want["bins"]
    )
    for entity in ("account", "contact"):
        sizes = {c["members"]: c["golden"] for c in got["cluster_sizes"] if c["entity"] == entity}
        assert sizes == want["sizes"][entity]
        thresholds = project.rules.match[Entity(entity)].thresholds
        assert {"entity": entity, "review": thresholds.review, "match": thresholds.match} in got[
            "thresholds"
        ]
    today = datetime.now(UTC).date().isoformat()
    assert {s["steward"]: s["decisions"] for s in got["stewards"] if s["decisions"]} == want[
        "decisions"
    ]
    assert {s["steward"]: s["actions"] for s in got["stewards"] if s["actions"]} == want["actions"]
    assert {s["day"] for s in got["stewards"]} == {today}


def test_the_dashboard_page_shows_the_counts_and_charts_of_the_store(project: Project) -> None:
    want = expected_figures(project)
    with app_client(project) as client:
        anonymous = client.get("/dashboard")
        assert (anonymous.status_code, anonymous.headers["location"]) == (
            303,
            "/signin?next=/dashboard",
        )
        sign_in(client, "viewer")
        answer = client.get("/dashboard")
        assert answer.status_code == 200
        page = answer.text
        assert client.get("/dashboard?days=0").status_code == 422

    assert figure(page, "records-account") == str(
        sum(n for s, n in want["per_source"].items() if project.source(s).entity == "account")
    )
    for entity in ("account", "contact"):
        assert figure(page, f"golden-{entity}") == str(want["golden"][entity])
        assert figure(page, f"open-{entity}") == str(want["open"].get(entity, 0))
        shared = sum(
            n for (e, found), n in want["overlap"].items() if e == entity and len(found) > 1
        )
        assert figure(page, f"shared-{entity}") == str(shared)
    assert f'id="kpi-open">{sum(want["open"].values())}<' in page

    charts = svgs(page)
    # Records per source: a bar per source, with its count.
    sources = charts["Live source records per source"]
    assert sorted(bar_titles(sources)) == sorted(
        f"{s.name} ({s.system}): {want['per_source'][s.name]:,}" for s in project.spec.sources
    )
    # The overlap: a bar per combination of systems, with its golden records.
    for entity in ("account", "contact"):
        overlap = charts[f"Golden {entity}s by the systems that hold their records"]
        assert sorted(bar_titles(overlap)) == sorted(
            f"{' + '.join(found)}: {n:,}"
            for (e, found), n in want["overlap"].items()
            if e == entity
        )
        # Golden records by size: a bar per size up to the largest, with its count.
        sizes = charts[f"Golden {entity}s by their number of records"]
        largest = max(want["sizes"][entity])
        assert bar_titles(sizes) == [
            f"{size}, golden {entity}s: {want['sizes'][entity][size]:,}"
            for size in range(1, largest + 1)
            if want["sizes"][entity].get(size)
        ]
    # The open items' scores, with the thresholds as lines.
    for entity, count in want["open"].items():
        scores = charts[f"Open {entity} review items by match probability"]
        counted = sum(int(title.rsplit(": ", 1)[1]) for title in bar_titles(scores))
        assert counted == count
        lines = {
            "".join(line.itertext())
            for line in scores.iter(f"{SVG}line")
            if line.get("class") == "threshold"
        }
        thresholds = project.rules.match[Entity(entity)].thresholds
        assert lines == {f"review: {thresholds.review:g}", f"match: {thresholds.match:g}"}
    # The stewards' decisions today, and their totals.
    decided = charts["Match decisions per day and steward"]
    today = datetime.now(UTC).strftime("%d %b")
    assert sorted(bar_titles(decided)) == sorted(
        f"{today}, {who}: {n}" for who, n in want["decisions"].items()
    )
    for who, n in want["actions"].items():
        row = re.search(rf'<tr data-steward="{who}">(.*?)</tr>', page, flags=re.DOTALL)
        assert row, who
        numbers = re.findall(r'<td class="num">([^<]*)</td>', row.group(1))
        assert numbers == [str(want["decisions"].get(who, 0)), str(n)]
