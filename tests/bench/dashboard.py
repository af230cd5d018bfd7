"""``make bench`` (second line): the statistics dashboard against GET /healthz in the same run, on a history.

Loads ``flask kxflow seed-history`` (``--calls`` yearly calls of ``--counties`` counties each; 0 = every county
of the programme) into its own PostgreSQL database through the operations, starts gunicorn in production mode
as the transition bench does, then drives /healthz and then the dashboard's figures
(``GET /api/v1/statistics/dashboard`` with a ministry token — the same operation the page renders) at the same
concurrency. Prints p50/p95 of both and ends with ``ratio dashboard p95 / healthz p95: X.XX`` (target ≤ 5).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from tests.bench.transitions import ROOT, Phase, free_port

DATABASE = "kxflow_bench_statistics"


def seed(url: str, uploads: Path, calls: int, counties: int | None) -> tuple[str, dict]:
    from sqlalchemy import func, select

    from kxflow import create_app
    from kxflow.accounts.models import User
    from kxflow.accounts.operations import issue_token
    from kxflow.core.db import db
    from kxflow.history import History
    from kxflow.workflow.models import Application, AuditRecord

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "UPLOAD_FOLDER": str(uploads)})
    with app.app_context():
        history = History(calls, counties, 20261129)
        programme = history.begin()
        db.session.commit()
        for k in range(calls):
            history.call_and_rechecks(k, programme)
            db.session.commit()
            print(f"  call {k + 1}/{calls} loaded", flush=True)
        ministry = db.session.scalar(select(User).where(User.username == "ministry"))
        token, _ = issue_token(ministry)
        facts = {
            "applications": db.session.scalar(select(func.count(Application.id))),
            "audit rows": db.session.scalar(select(func.count(AuditRecord.id))),
            "designated": db.session.scalar(
                select(func.count(Application.id)).where(Application.state == "designated")
            ),
        }
        db.session.commit()
        db.engine.dispose()
    return token, facts


async def drive(base: str, phase: Phase, concurrency: int, seconds: float, path: str, token: str | None) -> None:
    deadline = time.perf_counter() + seconds
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=concurrency), timeout=aiohttp.ClientTimeout(total=60)
    ) as session:

        async def client() -> None:
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                async with session.get(f"{base}{path}", headers=headers) as r:
                    await r.read()
                phase.latencies.append(time.perf_counter() - start)
                phase.statuses[r.status] = phase.statuses.get(r.status, 0) + 1

        t0 = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        phase.seconds = time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=int(os.environ.get("BENCH_CALLS", "10")))
    parser.add_argument("--counties", type=int, default=int(os.environ.get("BENCH_COUNTIES", "100")))
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--workers", type=int, default=int(os.environ.get("BENCH_WORKERS", "4")))
    parser.add_argument("--threads", type=int, default=int(os.environ.get("BENCH_THREADS", "4")))
    args, _ = parser.parse_known_args()

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("KXFLOW_ENV", "testing")
    from tests.dbutil import app_role, ensure_app_role, migrate_and_load, recreate_pg_database
    from tests.workers_support import REDIS_TEST_DB

    tmp = Path(tempfile.mkdtemp(prefix="kxflow-bench-statistics-"))
    url = recreate_pg_database(DATABASE)
    app_url = ensure_app_role(DATABASE)
    t0 = time.perf_counter()
    migrate_and_load(url, tmp / "uploads", app_role(DATABASE))
    token, facts = seed(url, tmp / "uploads", args.calls, args.counties or None)
    counties = args.counties or "every"
    print(
        f"history: {args.calls} calls of {counties} counties in {time.perf_counter() - t0:.0f} s — "
        + ", ".join(f"{k} {v}" for k, v in facts.items())
    )
    port = free_port()
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
        [sys.executable, "-m", "gunicorn", "-w", str(args.workers), "-k", "gthread", "--threads", str(args.threads)]
        + ["-b", f"127.0.0.1:{port}", "--log-level", "warning", "wsgi:app"],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    path = "/api/v1/statistics/dashboard"
    try:
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.1)
        asyncio.run(drive(base, Phase("warm-up"), args.concurrency, 3, path, token))
        asyncio.run(drive(base, Phase("warm-up"), args.concurrency, 2, "/healthz", None))
        health, figures = Phase("healthz"), Phase("dashboard")
        asyncio.run(drive(base, health, args.concurrency, args.seconds, "/healthz", None))
        asyncio.run(drive(base, figures, args.concurrency, args.seconds, path, token))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    print(f"gunicorn: {args.workers} workers × {args.threads} threads, {args.concurrency} concurrent clients")
    for phase in (health, figures):
        print(phase.line().replace("p99", f"p95 {phase.pct(0.95):6.1f} ms  p99"))
    bad = {k: v for p in (health, figures) for k, v in p.statuses.items() if k != 200}
    print(f"errors: {sum(bad.values())} {bad or ''}")
    print(f"ratio dashboard p95 / healthz p95: {figures.pct(0.95) / health.pct(0.95):.2f} (target ≤ 5)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
