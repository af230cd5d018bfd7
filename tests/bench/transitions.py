"""``make bench``: the transition endpoint under load, against GET /healthz in the same run.

Starts gunicorn on PostgreSQL, gives each of the 1,869 programme counties an application
(complete, ready to submit) and a clerk and a leader with tokens, then drives, at the same
concurrency, first /healthz and then the transition endpoint (each client owns its share of
the applications and alternates ``submit`` / ``county_return``). ANALYZE runs after seeding and again after
the warm-up (autovacuum is off here), and the PostgreSQL settings are printed. Three repetitions alternate
/healthz, the bare floor endpoint (``tests/bench/floor.py``, bench only) and the product's transition endpoint;
it prints requests/s
min/median/max, p50/p99, the workers' memory before and after, and ends with the ratios
transition/floor and ``ratio transition/healthz: min / median / max``.

The server runs in production mode as deployed (the restricted database role, a generated secret, Redis, the
start-up check), with one allowance: ``ALLOW_PLAIN_HTTP_LOOPBACK=1``, so plain HTTP from this machine is served.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Phase:
    name: str
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    def line(self) -> str:
        codes = ", ".join(f"{k}: {v}" for k, v in sorted(self.statuses.items()))
        return (
            f"{self.name:<11} {len(self.latencies):>6} requests in {self.seconds:5.1f} s  "
            f"{self.rate:8.1f} req/s  p50 {self.pct(0.50):6.1f} ms  p99 {self.pct(0.99):6.1f} ms  ({codes})"
        )


def seed(url: str, uploads: Path, limit: int | None = None) -> list[tuple[int, str, str]]:
    """Returns (application id, clerk token, leader token) for every programme county (or the first ``limit``)."""
    from sqlalchemy import insert, select

    from kxflow import create_app
    from kxflow.accounts.models import ApiToken, User
    from kxflow.accounts.operations import create_user
    from kxflow.calls.operations import create_call
    from kxflow.core import clock
    from kxflow.core.db import db
    from kxflow.indicators.evaluate import evaluate
    from kxflow.indicators.models import definition_for
    from kxflow.regions.models import PROGRAMME_DIVISION_TYPES, County
    from kxflow.workflow.models import Application, Attachment
    from tests.factories import EVIDENCE_KINDS, FULL_INDICATORS

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "UPLOAD_FOLDER": str(uploads)})
    with app.app_context():
        now = clock.now()
        ministry = create_user(username="ministry", password="bench-password", role="ministry_staff")
        call = create_call(
            ministry,
            {
                "title": "基准测试批次",
                "year": now.year,
                "opens_at": now - timedelta(days=1),
                "county_deadline": now + timedelta(days=60),
                "province_deadline": now + timedelta(days=90),
                "province_quota": 1000,
                "indicator_set_version": "2026.1",
            },
        )
        counties = db.session.scalars(
            select(County).where(County.division_type.in_(PROGRAMME_DIVISION_TYPES)).order_by(County.code).limit(limit)
        ).all()
        result = evaluate(definition_for(call.indicator_set_version), FULL_INDICATORS)
        password_hash = ministry.password_hash
        users, tokens, plan = [], [], []
        for c in counties:
            for role in ("county_staff", "county_leader"):
                users.append(
                    {
                        "username": f"{role}_{c.code}",
                        "password_hash": password_hash,
                        "display_name": c.name,
                        "role": role,
                        "county_code": c.code,
                        "active": True,
                        "created_at": now,
                    }
                )
        db.session.execute(insert(User), users)
        ids = dict(db.session.execute(select(User.username, User.id)).all())
        apps = []
        for c in counties:
            raw = {role: secrets.token_urlsafe(32) for role in ("county_staff", "county_leader")}
            for role, token in raw.items():
                tokens.append(
                    {
                        "user_id": ids[f"{role}_{c.code}"],
                        "token_hash": hashlib.sha256(token.encode()).hexdigest(),
                        "created_at": now,
                        "expires_at": now + timedelta(days=1),
                    }
                )
            apps.append(
                {
                    "call_id": call.id,
                    "county_code": c.code,
                    "province_code": c.province_code,
                    "state": "draft",
                    "indicators": FULL_INDICATORS,
                    "computed": result.computed,
                    "score": result.score,
                    "veto_failures": [],
                    "revision_round": 0,
                    "version": 1,
                    "created_by_id": ids[f"county_staff_{c.code}"],
                    "created_at": now,
                    "updated_at": now,
                    "state_changed_at": now,
                }
            )
            plan.append((c.code, raw["county_staff"], raw["county_leader"]))
        db.session.execute(insert(ApiToken), tokens)
        db.session.execute(insert(Application), apps)
        app_ids = dict(db.session.execute(select(Application.county_code, Application.id)).all())
        db.session.execute(
            insert(Attachment),
            [
                {
                    "application_id": app_ids[code],
                    "kind": kind,
                    "original_name": f"{kind}.pdf",
                    "stored_name": f"{uuid.uuid4().hex}.pdf",
                    "content_type": "application/pdf",
                    "size_bytes": 100,
                    "sha256": "0" * 64,
                    "uploaded_by_id": ids[f"county_staff_{code}"],
                    "uploaded_at": now,
                }
                for code, _, _ in plan
                for kind in EVIDENCE_KINDS  # every document the figures call for (issue 12)
            ],
        )
        db.session.commit()
        db.engine.dispose()
        return [(app_ids[code], staff, leader) for code, staff, leader in plan]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_every_worker_answers(base: str, workers: int, timeout: float = 180.0) -> None:
    """Workers load the app after the fork; on a busy machine that takes seconds each. Waits until /healthz
    answers, then for as many answers as there are workers, so the warm-up does not time out on a boot."""
    deadline = time.monotonic() + timeout
    answered = 0
    while answered < workers * 2:
        if time.monotonic() > deadline:
            raise SystemExit(f"the server did not answer within {timeout:.0f} s")
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=60) as r:
                answered += r.status == 200
        except OSError:
            time.sleep(0.2)


def worker_rss_kib(master_pid: int) -> int:
    children = subprocess.run(["pgrep", "-P", str(master_pid)], capture_output=True, text=True).stdout.split()
    total = 0
    for pid in children:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


async def drive(base: str, phase: Phase, concurrency: int, seconds: float, plan=None, states=None, path=None) -> None:
    """``plan`` given: each client fires its applications' transitions at ``path`` (the product's endpoint, or
    the bench's floor), alternating submit and county_return; otherwise GET /healthz."""
    deadline = time.perf_counter() + seconds
    timeout = aiohttp.ClientTimeout(total=30)
    path = path or "/api/v1/applications/{id}/transitions"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency), timeout=timeout) as session:

        async def client(i: int) -> None:
            mine = plan[i::concurrency] if plan else None
            n = 0
            while time.perf_counter() < deadline:
                if mine:
                    app_id, staff, leader = mine[n % len(mine)]
                    if states[app_id] == "draft":
                        token, body = staff, {"trigger": "submit"}
                    else:
                        token, body = leader, {"trigger": "county_return", "comment": "请补充材料"}
                    start = time.perf_counter()
                    async with session.post(
                        base + path.format(id=app_id),
                        json=body,
                        headers={"Authorization": f"Bearer {token}"},
                    ) as r:
                        payload = await r.json()
                    if r.status == 200:
                        states[app_id] = payload["state"]
                else:
                    start = time.perf_counter()
                    async with session.get(f"{base}/healthz") as r:
                        await r.read()
                phase.latencies.append(time.perf_counter() - start)
                phase.statuses[r.status] = phase.statuses.get(r.status, 0) + 1
                n += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(client(i) for i in range(concurrency)))
        phase.seconds = time.perf_counter() - t0


PG_SETTINGS = (
    "server_version",
    "shared_buffers",
    "work_mem",
    "effective_cache_size",
    "max_connections",
    "fsync",
    "synchronous_commit",
    "full_page_writes",
    "wal_level",
    "autovacuum",
    "jit",
    "random_page_cost",
)


def analyze(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()


def analyze_and_settings(url: str) -> str:
    """ANALYZE after seeding (autovacuum may be off here, and a plan on empty statistics can scan every pending
    reminder), then the settings the run had."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))
        values = [f"{name}={conn.execute(text('SHOW ' + name)).scalar()}" for name in PG_SETTINGS]
    engine.dispose()
    return "PostgreSQL settings: " + ", ".join(values)


def spread(values: list[float], fmt: str = "{:.2f}") -> str:
    low, mid, high = (fmt.format(v) for v in (min(values), statistics.median(values), max(values)))
    return f"min {low} / median {mid} / max {high}"


def merged(name: str, phases: list[Phase]) -> Phase:
    out = Phase(name)
    for p in phases:
        out.latencies += p.latencies
        out.seconds += p.seconds
        for code, n in p.statuses.items():
            out.statuses[code] = out.statuses.get(code, 0) + n
    return out


def machine_cost() -> str:
    """The state machine is built once: firing a trigger costs microseconds, building one far more."""
    from transitions import Machine

    from kxflow.workflow.states import STATE_NAMES
    from kxflow.workflow.triggers import MACHINE, TRIGGERS

    class Row:
        state = "draft"

    class Ctx:
        def reasons(self, guard):
            return []

    row, ctx = Row(), Ctx()

    def fire():
        row.state = "draft"
        MACHINE.events["withdraw"].trigger(row, ctx=ctx)

    def build():
        Machine(
            model=None,
            states=list(STATE_NAMES),
            initial="draft",
            auto_transitions=False,
            transitions=[{"trigger": t.name, "source": list(t.sources), "dest": t.dest} for t in TRIGGERS],
        )

    fire_us = min(timeit.repeat(fire, number=2000, repeat=3)) / 2000 * 1e6
    build_us = min(timeit.repeat(build, number=200, repeat=3)) / 200 * 1e6
    return (
        f"state machine: fire a trigger {fire_us:.1f} µs, build a machine {build_us:.1f} µs ({build_us / fire_us:.0f}×)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=8.0, help="per phase and repetition")
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--workers", type=int, default=int(os.environ.get("BENCH_WORKERS", "4")))
    parser.add_argument("--threads", type=int, default=int(os.environ.get("BENCH_THREADS", "4")))
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("KXFLOW_ENV", "testing")  # the seeding below, in this process; the server is production
    from tests.dbutil import app_role, bench_database, ensure_app_role, migrate_and_load, recreate_pg_database
    from tests.workers_support import REDIS_TEST_DB

    tmp = Path(tempfile.mkdtemp(prefix="kxflow-bench-"))
    database = bench_database("bench")
    url = recreate_pg_database(database)
    app_url = ensure_app_role(database)
    t0 = time.perf_counter()
    migrate_and_load(url, tmp / "uploads", app_role(database))  # as the owner, granting the app role its rights
    plan = seed(url, tmp / "uploads")
    print(f"seeded {len(plan)} counties with one application each in {time.perf_counter() - t0:.1f} s")
    print(analyze_and_settings(url))
    print(machine_cost())

    port = free_port()
    # production as deployed, but for plain HTTP on loopback: the restricted role, a real secret, Redis, the
    # start-up check of every unsafe setting
    env = {
        **os.environ,
        "DATABASE_URL": app_url,
        "KXFLOW_ENV": "production",
        "SECRET_KEY": secrets.token_hex(32),
        "REDIS_URL": f"redis://127.0.0.1:6379/{REDIS_TEST_DB + 1}",
        "ALLOW_PLAIN_HTTP_LOOPBACK": "1",
        "UPLOAD_FOLDER": str(tmp / "uploads"),
        "KXFLOW_INSTANCE": str(tmp),
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--limit-request-line",
            "8190",
            "-w",
            str(args.workers),
            "-k",
            "gthread",
            "--threads",
            str(args.threads),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "tests.bench.floor_app:app",  # the product, plus the bench's bare floor endpoint
        ],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_every_worker_answers(base, args.workers)
        states = dict.fromkeys((a for a, _, _ in plan), "draft")
        floor_path = "/bench/floor/{id}"
        asyncio.run(drive(base, Phase("warm-up"), args.concurrency, 3, plan, states))
        asyncio.run(drive(base, Phase("warm-up"), args.concurrency, 2, plan, states, floor_path))
        asyncio.run(drive(base, Phase("warm-up"), args.concurrency, 2))
        # again once the warm-up has written reminders, notifications and trail rows (the seeding writes none):
        # autovacuum is off on this machine, and in service it would do the same; with statistics of empty tables
        # the workers' cached plans scan every reminder row on each transition, a cost that grows with the run
        analyze(url)
        print("ANALYZE again after the warm-up", flush=True)
        rss_before = worker_rss_kib(server.pid)
        runs: dict[str, list[Phase]] = {"healthz": [], "floor": [], "transition": []}
        for rep in range(args.repetitions):  # alternating, so a drift of the machine touches all three alike
            for name in runs:
                phase = Phase(f"{name} #{rep + 1}")
                if name == "healthz":
                    asyncio.run(drive(base, phase, args.concurrency, args.seconds))
                else:
                    path = floor_path if name == "floor" else None
                    asyncio.run(drive(base, phase, args.concurrency, args.seconds, plan, states, path))
                runs[name].append(phase)
                print(phase.line(), flush=True)
        rss_after = worker_rss_kib(server.pid)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)

    print(
        f"gunicorn: {args.workers} workers × {args.threads} threads, {args.concurrency} concurrent clients, "
        f"{args.repetitions} alternating repetitions of {args.seconds:.0f} s each"
    )
    every = {name: merged(name, phases) for name, phases in runs.items()}
    for name, phases in runs.items():
        print(
            f"{name:<11} req/s {spread([p.rate for p in phases], '{:.1f}')}   "
            f"p50 {every[name].pct(0.50):.1f} ms  p99 {every[name].pct(0.99):.1f} ms (all repetitions)"
        )
    unexpected: dict[int, int] = {}
    for name, phase in every.items():
        for code, n in phase.statuses.items():
            if code != 200 and not (name != "healthz" and code == 409):
                unexpected[code] = unexpected.get(code, 0) + n
    print(f"errors other than the expected 409s: {sum(unexpected.values())} {unexpected or ''}")
    print(
        f"workers' memory (RSS, all workers): {rss_before / 1024:.1f} MiB before, "
        f"{rss_after / 1024:.1f} MiB after ({(rss_after - rss_before) / 1024:+.1f})"
    )
    by_rep = list(zip(runs["healthz"], runs["floor"], runs["transition"], strict=True))
    print(f"ratio floor/healthz: {spread([f.rate / h.rate for h, f, _ in by_rep])}")
    print(f"ratio transition/floor: {spread([t.rate / f.rate for _, f, t in by_rep])}")
    print(f"ratio transition/healthz: {spread([t.rate / h.rate for h, _, t in by_rep])}")
    return 1 if unexpected else 0


if __name__ == "__main__":
    raise SystemExit(main())
