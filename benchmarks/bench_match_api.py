"""Match before create under load: ``POST /api/match/{entity}`` against a real ``mdm serve``
process on loopback, on a store of about ``--records`` source records.

The store is the one ``bench_web.py`` builds (the demo generator's systems after ``mdm run``,
kept in ``--project``: about ten minutes at 1M on SQLite the first time). The records asked
about are live source records drawn at random from it, accounts and contacts alike, sent in
canonical attributes with light typos: two letters of a name swapped, a phone written another
way. ``--clients`` clients send ``--requests`` requests in all, each waiting for its answer
before sending the next (a bounded load), over kept-alive connections with a viewer's API
token. Latency is the client's: from sending the request to reading the whole answer.

    .venv/bin/python benchmarks/bench_match_api.py [--records 1000000] [--project DIR]
        [--clients 4] [--requests 3000] [--seed 7] [--workers 1]

One JSON line on stdout: the store's size, the load, p50/p95/p99/max latency in ms (and the
app's own p50/p95, from its Server-Timing header), the throughput, the statuses, how often the
record's own golden record came first, and the machine's load average before the run.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_web import percentile, prepare
from harness import ROOT, emit, log

# Canonical attributes sent per entity (the others are left out, as a form would).
SENT = {
    "account": ["name", "domain", "phone", "street", "city", "postcode", "country"],
    "contact": ["first_name", "last_name", "email", "phone", "company"],
}
TYPO_FIELD = {"account": "name", "contact": "last_name"}
CONTACT_SHARE = 0.6  # of the records asked about, about as in the demo's systems
SERVER_TIMING = re.compile(r"app;dur=([0-9.]+)")


@dataclass(frozen=True)
class Ask:
    entity: str
    body: bytes
    region: str
    golden_id: str | None  # the golden record of the source record it was made from


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--project", type=Path, default=None)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--workers", type=int, default=1, help="mdm serve --workers")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    project_dir = args.project or Path(f"/tmp/mdm-bench-web-{args.records}")
    prepare(project_dir, args.records, args.seed)
    chance = random.Random(args.seed)
    token, size, asks = setup(project_dir, args.requests + args.warmup, chance)
    port = free_port()
    server = start_server(project_dir, port, args.workers)
    try:
        warm = run_load(port, token, asks[: args.warmup], args.clients)
        log(f"warmed up: {len(warm.times)} requests")
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        done = run_load(port, token, asks[args.warmup :], args.clients)
        seconds = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=30)
    times = done.times
    emit(
        {
            "benchmark": "match_api",
            "source_records": size,
            "clients": args.clients,
            "workers": args.workers,
            "requests": len(times),
            "p50_ms": round(percentile(times, 50), 1),
            "p95_ms": round(percentile(times, 95), 1),
            "p99_ms": round(percentile(times, 99), 1),
            "max_ms": round(max(times), 1),
            "server_p50_ms": round(percentile(done.server_times, 50), 1),
            "server_p95_ms": round(percentile(done.server_times, 95), 1),
            "requests_per_second": round(len(times) / seconds, 1),
            "statuses": done.statuses,
            "own_golden_first": round(done.own_first / max(done.with_golden, 1), 3),
            "load_before": round(load_before, 2),
            "cpus": os.cpu_count(),
        }
    )
    return 0


# ---- the records asked about ------------------------------------------------------------------


def setup(project_dir: Path, count: int, chance: random.Random) -> tuple[str, int, list[Ask]]:
    """A viewer's token, the store's live source records, and ``count`` records to ask about."""
    from mdm.config import load_project
    from mdm.store.migrate import open_migrated
    from mdm.web import accounts

    project = load_project(project_dir)
    regions = {source.name: source.default_region for source in project.spec.sources}
    store = open_migrated(project.store_url, "bench", wait_seconds=60.0)
    try:
        with store.transaction() as connection:
            size = int(
                connection.execute(
                    text("select count(*) from source_record where is_current and not deleted")
                ).scalar_one()
            )
            asks = [
                ask_of(row, regions, chance) for row in sampled_records(connection, count, chance)
            ]
    finally:
        store.close()
    name = f"bench-match-{os.getpid()}"
    token = accounts.create_token(project.store_url, name, accounts.Role.VIEWER, "bench")
    return token, size, asks


def sampled_records(
    connection: Connection, count: int, chance: random.Random
) -> list[dict[str, Any]]:
    """``count`` live source records picked at random (contacts about ``CONTACT_SHARE`` of
    them), each with its golden id, read by id."""
    low, high = connection.execute(text("select min(id), max(id) from source_record")).one()
    found: list[dict[str, Any]] = []
    while len(found) < count:
        ids = [chance.randint(int(low), int(high)) for _ in range(min(500, 2 * count))]
        picked = connection.execute(
            text(
                "select r.source, r.entity, r.attributes, x.golden_id from source_record r "
                "left join xref x on x.source = r.source and x.source_key = r.source_key "
                "where r.is_current and not r.deleted and r.id in ("
                + ",".join(str(i) for i in ids)
                + ")"
            )
        ).all()
        for source, entity, attributes, golden_id in picked:
            wanted = "contact" if chance.random() < CONTACT_SHARE else "account"
            if entity == wanted:
                found.append(
                    {
                        "source": source,
                        "entity": entity,
                        "values": json.loads(attributes),
                        "golden_id": golden_id,
                    }
                )
    chance.shuffle(found)
    return found[:count]


def ask_of(row: dict[str, Any], regions: dict[str, str], chance: random.Random) -> Ask:
    """The record as a person would type it: canonical attributes, with a typo in its name
    and its phone written another way."""
    entity = str(row["entity"])
    values = {name: row["values"].get(name) for name in SENT[entity] if row["values"].get(name)}
    field = TYPO_FIELD[entity]
    if values.get(field):
        values[field] = with_typo(str(values[field]), chance)
    if values.get("phone"):
        values["phone"] = rewritten_phone(str(values["phone"]))
    body = json.dumps(values, ensure_ascii=False).encode()
    return Ask(entity, body, regions.get(str(row["source"]), "US"), row["golden_id"])


def with_typo(value: str, chance: random.Random) -> str:
    """Two neighbouring letters of the longest word swapped (a word of 4 letters or more)."""
    words = value.split()
    at = max(range(len(words)), key=lambda i: len(words[i]))
    word = words[at]
    if len(word) < 4:
        return value
    i = chance.randrange(1, len(word) - 2)
    words[at] = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return " ".join(words)


def rewritten_phone(value: str) -> str:
    """The same number with its punctuation changed: digits in groups of three, a dot between."""
    head = "+" if value.strip().startswith("+") else ""
    digits = re.sub(r"\D", "", value)
    return head + ".".join(digits[i : i + 3] for i in range(0, len(digits), 3))


# ---- the server and the load -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(project_dir: Path, port: int, workers: int = 1) -> subprocess.Popen[bytes]:
    """``mdm serve`` (with ``workers`` processes); returns once it answers."""
    command = [
        sys.executable,
        "-m",
        "mdm",
        "serve",
        "-p",
        str(project_dir),
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    server = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"mdm serve stopped: {server.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/openapi.json")
            if connection.getresponse().status == 200:
                connection.close()
                log(f"mdm serve answers on port {port}")
                return server
        except OSError:
            time.sleep(0.5)
    server.terminate()
    raise RuntimeError("mdm serve did not answer within 300 s")


@dataclass
class Load:
    times: list[float]
    server_times: list[float]  # the app's own time (its Server-Timing header)
    statuses: dict[str, int]
    own_first: int
    with_golden: int


def run_load(port: int, token: str, asks: list[Ask], clients: int) -> Load:
    """Send ``asks`` from ``clients`` threads, each one request at a time."""
    result = Load([], [], {}, 0, 0)
    lock = threading.Lock()
    queue = iter(range(len(asks)))

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        while True:
            with lock:
                index = next(queue, None)
            if index is None:
                break
            ask = asks[index]
            started = time.perf_counter()
            connection.request(
                "POST", f"/api/match/{ask.entity}?region={ask.region}", ask.body, headers
            )
            answer = connection.getresponse()
            body = answer.read()
            elapsed = (time.perf_counter() - started) * 1000
            timing = SERVER_TIMING.search(answer.getheader("server-timing") or "")
            with lock:
                result.times.append(elapsed)
                if timing:
                    result.server_times.append(float(timing.group(1)))
                key = str(answer.status)
                result.statuses[key] = result.statuses.get(key, 0) + 1
                if answer.status == 200 and ask.golden_id:
                    result.with_golden += 1
                    candidates = json.loads(body)["candidates"]
                    if candidates and candidates[0]["golden_id"] == ask.golden_id:
                        result.own_first += 1
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return result


if __name__ == "__main__":
    raise SystemExit(main())
