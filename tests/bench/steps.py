"""``python -m tests.bench.steps``: one transition in process, kxflow against the bare floor, per step.

On SQLite and on PostgreSQL: a small seeded programme (``--counties`` applications, complete, in draft),
then ``--steps`` transitions alternating submit / county_return, in three alternating repetitions of kxflow
(the token's user, then ``fire_trigger`` in a transaction: scope, the claim, guards, the version-checked UPDATE
with its hash-chained audit row — one statement on PostgreSQL —, notifications, reminders, commit) and the floor
(``tests/bench/floor.py``: token, row lock, the shared machine, UPDATE, one audit INSERT, commit). Prints ms per
step (wall time, and this process's CPU time), min/median/max, and the ratio kxflow/floor per database.

The disk is taken out of it on both sides alike (PostgreSQL ``synchronous_commit=off``, SQLite
``synchronous=OFF``): on a shared machine one fsync can cost more than the whole transition, and what is
compared here is the work each does. ``--durable`` keeps the disk in.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(
    url: str, uploads: Path, counties: int, steps: int, repetitions: int, durable: bool
) -> tuple[list[float], list[float], list[float], list[float]]:
    from sqlalchemy import event, text

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

            @event.listens_for(db.engine, "connect")
            def no_disk_wait(dbapi_connection, _record):
                cursor = dbapi_connection.cursor()
                cursor.execute("SET synchronous_commit = off" if postgres else "PRAGMA synchronous = OFF")
                cursor.close()
                if postgres:
                    dbapi_connection.commit()

            db.engine.dispose()
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--counties", type=int, default=200)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--durable", action="store_true", help="commits wait for the disk")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("KXFLOW_ENV", "testing")
    from tests.dbutil import bench_database, recreate_pg_database

    tmp = Path(tempfile.mkdtemp(prefix="kxflow-steps-"))
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

        def spread(values: list[float]) -> str:
            return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}"

        print(
            f"{name:<10} per step, min / median / max of {args.repetitions} × {args.steps} "
            f"({'durable commits' if args.durable else 'commits not waiting for the disk'}):\n"
            f"  wall: kxflow {spread(kxflow_ms)} ms, floor {spread(floor_ms)} ms; ratio kxflow/floor {spread(ratios)}\n"
            f"  CPU of this process: kxflow {spread(kxflow_cpu)} ms, floor {spread(floor_cpu)} ms; "
            f"ratio kxflow/floor {spread(cpu_ratios)}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
