"""``python -m tests.bench.steps``: one transition in process, kxflow against the bare floor, per step.

On SQLite and on PostgreSQL: a small seeded programme (``--counties`` applications, complete, in draft),
then ``--steps`` transitions alternating submit / county_return, in three alternating repetitions of kxflow
(the token's user, then ``fire_trigger`` in a transaction: scope, the claim, guards, the version-checked UPDATE
with its hash-chained audit row — one statement on PostgreSQL —, notifications, reminders, commit) and the floor
(``tests/bench/floor.py``: token, row lock, the shared machine, UPDATE, one audit INSERT, commit). Prints ms per
step (wall time, and this process's CPU time), min/median/max, and the ratio kxflow/floor per database.

``--http``: the whole request instead, through Flask's test client with the same bearer tokens as ``make bench``:
POST /api/v1/applications/<id>/transitions (argument parsing, every request hook, the handler, the answer's schema,
the commit) against POST /bench/floor/<id>, alternating. On PostgreSQL the app runs as ``make bench`` serves it
(production settings, the restricted role, Redis). Prints ms per request and the SQL statements each request
issued (counted on the engine), and with ``--show-sql`` the statements of one transition request;
``--profile FILE`` writes a cProfile of the transition requests of the last repetition.

The disk is taken out of it on both sides alike (PostgreSQL ``synchronous_commit=off``, SQLite
``synchronous=OFF``): on a shared machine one fsync can cost more than the whole transition, and what is
compared here is the work each does. ``--durable`` keeps the disk in.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import secrets
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def no_disk_wait(engine, postgres: bool) -> None:
    """Commits stop waiting for the disk on this engine's connections (the benches compare work, not fsyncs)."""
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def off(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("SET synchronous_commit = off" if postgres else "PRAGMA synchronous = OFF")
        cursor.close()
        if postgres:
            dbapi_connection.commit()

    engine.dispose()


def run(
    url: str, uploads: Path, counties: int, steps: int, repetitions: int, durable: bool
) -> tuple[list[float], list[float], list[float], list[float]]:
    from sqlalchemy import text

    from kxflow import create_app
    from kxflow.accounts.operations import user_for_token
    from kxflow.applications.operations import fire_trigger
    from kxflow.core.db import db
    from kxflow.core.uow import transaction
    from tests.bench.floor import floor_step
    from tests.bench.transitions import seed
    from tests.dbutil import migrate_and_load

    migrate_and_load(url, uploads)
    plan = seed(url, uploads, limit=counties)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "UPLOAD_FOLDER": str(uploads)})
    postgres = url.startswith("postgresql")
    states = {app_id: "draft" for app_id, _, _ in plan}

    def step(kind: str, n: int) -> None:
        app_id, staff, leader = plan[n % len(plan)]
        token, trigger, comment = (
            (staff, "submit", None) if states[app_id] == "draft" else (leader, "county_return", "请补充材料")
        )
        if kind == "kxflow":
            with transaction():
                states[app_id] = fire_trigger(user_for_token(token), app_id, trigger, comment).state
        else:
            states[app_id] = floor_step(token, app_id, trigger, comment) or states[app_id]
        db.session.remove()  # as at the end of a request

    kxflow_ms, floor_ms, kxflow_cpu, floor_cpu = [], [], [], []
    with app.app_context():
        if not durable:
            no_disk_wait(db.engine, postgres)
        if postgres:
            db.session.execute(text("ANALYZE"))
            db.session.commit()
        for n in range(50):  # warm both paths
            step("kxflow", n)
            step("floor", n)
        offset = 50
        for _ in range(repetitions):
            for kind, wall, cpu in (("floor", floor_ms, floor_cpu), ("kxflow", kxflow_ms, kxflow_cpu)):
                t0, c0 = time.perf_counter(), time.process_time()
                for n in range(offset, offset + steps):
                    step(kind, n)
                wall.append((time.perf_counter() - t0) / steps * 1000)
                cpu.append((time.process_time() - c0) / steps * 1000)
                offset += steps
        db.engine.dispose()
    return kxflow_ms, floor_ms, kxflow_cpu, floor_cpu


@dataclass
class HttpRun:
    wall: dict[str, list[float]] = field(default_factory=lambda: {"floor": [], "transition": []})
    cpu: dict[str, list[float]] = field(default_factory=lambda: {"floor": [], "transition": []})
    statements: dict[str, list[float]] = field(default_factory=lambda: {"floor": [], "transition": []})
    driver: dict[str, list[float]] = field(default_factory=lambda: {"floor": [], "transition": []})
    per_statement: dict[str, list[float]] = field(default_factory=dict)
    sample: list[str] = field(default_factory=list)


def run_http(
    url: str,
    app_url: str | None,
    uploads: Path,
    counties: int,
    steps: int,
    repetitions: int,
    durable: bool,
    profile: str | None,
    stale_statistics: bool = False,
) -> HttpRun:
    """The whole request in process: the product's transition endpoint against the bench's floor endpoint."""
    from sqlalchemy import create_engine, event, text

    from kxflow import create_app
    from kxflow.core.db import db
    from tests.bench.floor import with_floor
    from tests.bench.transitions import seed
    from tests.dbutil import migrate_and_load
    from tests.workers_support import REDIS_TEST_DB

    postgres = url.startswith("postgresql")
    database_role = app_url.split("://", 1)[1].split("@", 1)[0] if app_url else None
    migrate_and_load(url, uploads, database_role)
    plan = seed(url, uploads, limit=counties)
    if postgres:  # as make bench serves it: production settings, the restricted role, Redis
        saved = os.environ.get("KXFLOW_ENV")
        os.environ["KXFLOW_ENV"] = "production"
        try:
            app = create_app(
                {
                    "SQLALCHEMY_DATABASE_URI": app_url,
                    "UPLOAD_FOLDER": str(uploads),
                    "SECRET_KEY": secrets.token_hex(32),
                    "REDIS_URL": f"redis://127.0.0.1:6379/{REDIS_TEST_DB + 1}",
                    "RATELIMIT_STORAGE_URI": f"redis://127.0.0.1:6379/{REDIS_TEST_DB + 1}",
                    "ALLOW_PLAIN_HTTP_LOOPBACK": True,
                }
            )
        finally:
            os.environ["KXFLOW_ENV"] = saved or "testing"
    else:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "UPLOAD_FOLDER": str(uploads)})
    app = with_floor(app)
    client = app.test_client()
    states = {app_id: "draft" for app_id, _, _ in plan}
    issued: list[tuple[str, float]] = []  # each statement and how long the driver took to run it
    started: list[float] = [0.0]
    out = HttpRun()

    def analyze() -> None:
        if postgres:  # the restricted role may not ANALYZE every table: the owner does
            owner = create_engine(url, isolation_level="AUTOCOMMIT")
            with owner.connect() as conn:
                conn.execute(text("ANALYZE"))
            owner.dispose()

    with app.app_context():
        if not durable:
            no_disk_wait(db.engine, postgres)
        analyze()

        @event.listens_for(db.engine, "before_cursor_execute")
        def start(*_args):
            started[0] = time.perf_counter()

        @event.listens_for(db.engine, "after_cursor_execute")
        def count(_conn, _cursor, statement, _parameters, _context, _executemany):
            issued.append((statement, time.perf_counter() - started[0]))

    def body_of(n: int) -> str:
        return "submit" if states[plan[(n // 2) % len(plan)][0]] == "draft" else "county_return"

    def request(kind: str, n: int) -> None:
        app_id, staff, leader = plan[(n // 2) % len(plan)]  # each application twice in a row: submit, then return
        token, body = (
            (staff, {"trigger": "submit"})
            if states[app_id] == "draft"
            else (leader, {"trigger": "county_return", "comment": "请补充材料"})
        )
        path = f"/api/v1/applications/{app_id}/transitions" if kind == "transition" else f"/bench/floor/{app_id}"
        r = client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
        if r.status_code != 200:
            raise SystemExit(f"{kind} {path} {body}: {r.status_code} {r.get_data(as_text=True)[:500]}")
        states[app_id] = r.get_json()["state"]

    for n in range(0, 100, 2):  # warm both paths, each with both triggers
        request("transition", n)
        request("transition", n + 1)
        request("floor", n + 100)
        request("floor", n + 101)
    if not stale_statistics:
        # autovacuum is off on this machine; in service it would analyze the tables the warm-up filled (the seeding
        # writes no reminders): the workers' cached plans would otherwise scan every reminder row on each transition
        analyze()
    for n in (200, 201):  # one submit, one county_return
        issued.clear()
        trigger = body_of(n)
        request("transition", n)
        out.sample.append(f"-- {trigger} ({len(issued)} statements)")
        out.sample += [" ".join(statement.split())[:200] for statement, _ in issued]
    offset = 202
    profiler = cProfile.Profile() if profile else None
    for rep in range(repetitions):
        for kind in ("floor", "transition"):
            issued.clear()
            profiling = profiler is not None and kind == "transition" and rep == repetitions - 1
            t0, c0 = time.perf_counter(), time.process_time()
            if profiling:
                profiler.enable()
            for n in range(offset, offset + steps):
                request(kind, n)
            if profiling:
                profiler.disable()
            out.wall[kind].append((time.perf_counter() - t0) / steps * 1000)
            out.cpu[kind].append((time.process_time() - c0) / steps * 1000)
            out.statements[kind].append(len(issued) / steps)
            out.driver[kind].append(sum(seconds for _, seconds in issued) / steps * 1000)
            if kind == "transition":
                for statement, seconds in issued:
                    out.per_statement.setdefault(" ".join(statement.split())[:60], []).append(seconds * 1000)
            offset += steps
    if profiler is not None:
        profiler.dump_stats(profile)
    with app.app_context():
        db.engine.dispose()
    return out


def _spread(values: list[float]) -> str:
    return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--counties", type=int, default=200)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--durable", action="store_true", help="commits wait for the disk")
    parser.add_argument("--http", action="store_true", help="the whole request through the test client")
    parser.add_argument("--show-sql", action="store_true", help="with --http: the statements of one transition")
    parser.add_argument("--profile", metavar="FILE", help="with --http: cProfile of the transition requests")
    parser.add_argument(
        "--stale-statistics", action="store_true", help="with --http: no ANALYZE after the warm-up (autovacuum is off)"
    )
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("KXFLOW_ENV", "testing")
    from tests.dbutil import bench_database, ensure_app_role, recreate_pg_database

    tmp = Path(tempfile.mkdtemp(prefix="kxflow-steps-"))
    if args.http:
        for name in ("sqlite", "postgresql"):
            if args.only and name != args.only:
                continue
            if name == "postgresql":
                database = bench_database("bench_steps")
                url, app_url = recreate_pg_database(database), ensure_app_role(database)
            else:
                url, app_url = f"sqlite:///{tmp / 'steps-http.db'}", None
            profile = f"{args.profile}.{name}" if args.profile else None
            got = run_http(
                url,
                app_url,
                tmp / f"uploads-http-{name}",
                args.counties,
                args.steps,
                args.repetitions,
                args.durable,
                profile,
                args.stale_statistics,
            )
            ratios = [t / f for t, f in zip(got.wall["transition"], got.wall["floor"], strict=True)]
            cpu_ratios = [t / f for t, f in zip(got.cpu["transition"], got.cpu["floor"], strict=True)]
            print(
                f"{name:<10} per request through the test client, min / median / max of {args.repetitions} × "
                f"{args.steps} ({'durable commits' if args.durable else 'commits not waiting for the disk'}):\n"
                f"  wall: transition {_spread(got.wall['transition'])} ms, floor {_spread(got.wall['floor'])} ms; "
                f"ratio transition/floor {_spread(ratios)}\n"
                f"  CPU of this process: transition {_spread(got.cpu['transition'])} ms, "
                f"floor {_spread(got.cpu['floor'])} ms; ratio transition/floor {_spread(cpu_ratios)}\n"
                f"  SQL statements per request: transition {statistics.median(got.statements['transition']):.1f}, "
                f"floor {statistics.median(got.statements['floor']):.1f}; time in the driver per request: "
                f"transition {_spread(got.driver['transition'])} ms, floor {_spread(got.driver['floor'])} ms",
                flush=True,
            )
            if args.show_sql:
                for line in got.sample:
                    print("  " + line)
                print("  the transition's statements, times run and median ms in the driver:")
                for statement, times in sorted(got.per_statement.items(), key=lambda kv: -sum(kv[1])):
                    print(f"  {len(times):>6} × {statistics.median(times):6.3f} ms  {statement}")
            if profile:
                print(f"  profile written to {profile}")
        return 0
    targets = {
        "sqlite": lambda: f"sqlite:///{tmp / 'steps.db'}",
        "postgresql": lambda: recreate_pg_database(bench_database("bench_steps")),
    }
    for name, make_url in targets.items():
        if args.only and name != args.only:
            continue
        kxflow_ms, floor_ms, kxflow_cpu, floor_cpu = run(
            make_url(), tmp / f"uploads-{name}", args.counties, args.steps, args.repetitions, args.durable
        )
        ratios = [k / f for k, f in zip(kxflow_ms, floor_ms, strict=True)]
        cpu_ratios = [k / f for k, f in zip(kxflow_cpu, floor_cpu, strict=True)]

        print(
            f"{name:<10} per step, min / median / max of {args.repetitions} × {args.steps} "
            f"({'durable commits' if args.durable else 'commits not waiting for the disk'}):\n"
            f"  wall: kxflow {_spread(kxflow_ms)} ms, floor {_spread(floor_ms)} ms; "
            f"ratio kxflow/floor {_spread(ratios)}\n"
            f"  CPU of this process: kxflow {_spread(kxflow_cpu)} ms, floor {_spread(floor_cpu)} ms; "
            f"ratio kxflow/floor {_spread(cpu_ratios)}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
