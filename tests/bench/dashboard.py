"""``make bench`` (second line): the statistics dashboard against GET /healthz in the same run, on a history.

Loads ``flask kxflow seed-history`` (``kxflow.history.load``: ``--calls`` yearly calls of ``--counties`` counties
each; 0 = every county of the programme, 1,869) into its own PostgreSQL database through the operations, starts
gunicorn in production mode as the transition bench does, then drives /healthz and then the dashboard's figures
(``GET /api/v1/statistics/dashboard`` with a ministry token — the same operation the page renders) at the same
concurrency, twice: with the figures cached as in production (``STATISTICS_CACHE_SECONDS`` 60) and uncached (0,
every request computes every figure). Prints p50/p95 of each and ends with ``ratio dashboard p95 / healthz p95``
for both: the target (≤ 5) is the cached one, the dashboard as deployed; the uncached one shows what the cache
saves.

Scale and time. ``make bench`` runs the default, 10 calls of 100 counties (~1,000 applications, ~8,800 audit rows;
95 s to load on the shared 2-core machine, then about a minute of requests). The national history,
``--calls 10 --counties 0`` (~16,600 applications, ~71,000 audit rows), took 32 minutes to load there while other
benchmarks ran beside it (load average 6–12; its quiet calls took 2¼ minutes each, ~24 minutes for ten): load it
once, then measure it again and again with ``--reuse`` (no seeding; the database must be one this bench loaded,
``--database`` names it, default ``kxflow_bench_statistics``). ``BENCH_CALLS``, ``BENCH_COUNTIES`` and
``BENCH_REUSE=1`` do the same from ``make bench``.

Uncached, the ratio is far above 5 at any scale (22× at 10 × 100, 28× national): the dashboard is 19 indexed
queries (the slowest 5.5 ms under EXPLAIN ANALYZE at national scale, ~65 ms for all of them in one process)
against a /healthz that does nothing, both on two busy cores. Production keeps the figures 60 s per scope.
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


def seed(url: str, uploads: Path, calls: int, counties: int | None, *, reuse: bool) -> tuple[str, dict]:
    """Loads the history (unless ``reuse``), then gives a ministry API token and what the database holds."""
    from sqlalchemy import func, select

    from kxflow import create_app
    from kxflow.accounts.models import User
    from kxflow.accounts.operations import issue_token
    from kxflow.core.db import db
    from kxflow.core.uow import transaction
    from kxflow.history import load
    from kxflow.workflow.models import Application, AuditRecord

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "UPLOAD_FOLDER": str(uploads)})
    with app.app_context():
        if not reuse:
            load(calls, counties, 20261129, echo=lambda line: print(f"  {line}", flush=True))
        with transaction():
            ministry = db.session.scalar(select(User).where(User.username == "ministry"))
            if ministry is None:
                raise SystemExit("--reuse: this database holds no history (no user 'ministry'); load one first")
            token, _ = issue_token(ministry)
            facts = {
                "calls": db.session.scalar(select(func.count(func.distinct(Application.call_id)))),
                "applications": db.session.scalar(select(func.count(Application.id))),
                "audit rows": db.session.scalar(select(func.count(AuditRecord.id))),
                "designated": db.session.scalar(
                    select(func.count(Application.id)).where(Application.state == "designated")
                ),
            }
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


def serve(env: dict, workers: int, threads: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", str(workers), "-k", "gthread", "--threads", str(threads)]
        + ["-b", f"127.0.0.1:{port}", "--log-level", "warning", "wsgi:app"],
        cwd=ROOT,
        env=env,
    )
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.1)
    return server, f"http://127.0.0.1:{port}"


def measure(env: dict, args: argparse.Namespace, token: str) -> tuple[Phase, Phase]:
    """One gunicorn, warmed up; healthz then the dashboard, each for ``--seconds`` at ``--concurrency``."""
    server, base = serve(env, args.workers, args.threads)
    path = "/api/v1/statistics/dashboard"
    health, figures = Phase("healthz"), Phase("dashboard")
    try:
        asyncio.run(drive(base, Phase("warm-up"), args.concurrency, 3, path, token))
        asyncio.run(drive(base, Phase("warm-up"), args.concurrency, 2, "/healthz", None))
        asyncio.run(drive(base, health, args.concurrency, args.seconds, "/healthz", None))
        asyncio.run(drive(base, figures, args.concurrency, args.seconds, path, token))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    return health, figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=int(os.environ.get("BENCH_CALLS", "10")))
    parser.add_argument("--counties", type=int, default=int(os.environ.get("BENCH_COUNTIES", "100")), help="0: all")
    parser.add_argument(
        "--reuse",
        action="store_true",
        default=os.environ.get("BENCH_REUSE") == "1",
        help="measure the history already loaded in --database (no seeding)",
    )
    parser.add_argument("--database", default=os.environ.get("BENCH_DATABASE", DATABASE))
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--workers", type=int, default=int(os.environ.get("BENCH_WORKERS", "4")))
    parser.add_argument("--threads", type=int, default=int(os.environ.get("BENCH_THREADS", "4")))
    args, _ = parser.parse_known_args()

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("KXFLOW_ENV", "testing")
    from tests.dbutil import app_role, ensure_app_role, migrate_and_load, pg_url, recreate_pg_database
    from tests.workers_support import REDIS_TEST_DB

    tmp = Path(tempfile.mkdtemp(prefix="kxflow-bench-statistics-"))
    t0 = time.perf_counter()
    url = pg_url(args.database) if args.reuse else recreate_pg_database(args.database)
    app_url = ensure_app_role(args.database)
    if not args.reuse:
        migrate_and_load(url, tmp / "uploads", app_role(args.database))
    token, facts = seed(url, tmp / "uploads", args.calls, args.counties or None, reuse=args.reuse)
    if args.reuse:
        print(f"history already in {args.database}: " + ", ".join(f"{k} {v}" for k, v in facts.items()))
    else:
        print(
            f"history: {args.calls} calls of {args.counties or 'every'} counties loaded in "
            f"{time.perf_counter() - t0:.0f} s — " + ", ".join(f"{k} {v}" for k, v in facts.items())
        )
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
    cached = measure({**env, "STATISTICS_CACHE_SECONDS": "60"}, args, token)
    uncached = measure({**env, "STATISTICS_CACHE_SECONDS": "0"}, args, token)
    print(f"gunicorn: {args.workers} workers × {args.threads} threads, {args.concurrency} concurrent clients")
    phases = [*cached, *uncached]
    for n, phase in enumerate(phases):
        if n % 2 == 0:
            print("figures cached 60 s (production):" if n == 0 else "figures uncached (STATISTICS_CACHE_SECONDS=0):")
        print("  " + phase.line().replace("p99", f"p95 {phase.pct(0.95):6.1f} ms  p99"))
    bad = {k: v for p in phases for k, v in p.statuses.items() if k != 200}
    print(f"errors: {sum(bad.values())} {bad or ''}")
    # the target is the dashboard as deployed (cached); the uncached figure shows what the cache saves
    for (health, figures), what, note in (
        (cached, "cached 60 s, as deployed", "target ≤ 5"),
        (uncached, "uncached", "for reference: the cost of computing every figure on every view"),
    ):
        print(f"ratio dashboard p95 / healthz p95 ({what}): {figures.pct(0.95) / health.pct(0.95):.2f} ({note})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
