"""``python -m tests.bench.mail``: the e-mail dispatcher's messages/s against a bare smtplib loop, same sink, same run.

On SQLite and on PostgreSQL (fresh databases, migrated): ``--messages`` notifications wait in the outbox, to as
many recipients (half read English); kxflow's dispatcher (``dispatch_due``, called until the outbox is empty, as
the worker's beat would) sends them to an aiosmtpd server, then a bare ``smtplib`` loop over one connection sends
as many messages to the same server (``tests.replay.bare_smtp_rate``, the replay's own yardstick). Three
repetitions, alternating which goes first; it prints messages/s min/median/max of each and the ratio
dispatcher/bare, and checks after each repetition that the server received every outbox message exactly once.

The SMTP server runs in a process of its own, so neither client shares an interpreter lock with it. Commits wait
for the disk as in production (``--no-disk-wait`` takes the disk out: PostgreSQL ``synchronous_commit=off``,
SQLite ``synchronous=OFF``).
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _sink_process(port: int, conn: Connection) -> None:
    """The SMTP server: answers ``"ids"`` with the Message-IDs received since the last ask, ``"stop"`` to end."""
    from tests.workers_support import SmtpSink

    sink = SmtpSink(port)
    sink.start()
    conn.send("ready")
    while True:
        command = conn.recv()
        if command == "stop":
            break
        received, sink.messages = sink.messages, []
        conn.send(Counter(m["Message-ID"] for m in received))
    sink.stop()


def _seed(app, recipients: int) -> list[int]:
    from sqlalchemy import insert, select

    from kxflow.accounts.models import User
    from kxflow.core.db import db

    with app.app_context():
        db.session.execute(
            insert(User.__table__),
            [
                {
                    "username": f"bench_mail_{k}",
                    "password_hash": "-",
                    "display_name": f"收件人{k}",
                    "email": f"bench{k}@example.gov.cn",
                    "role": "ministry_staff",
                    "locale": "en" if k % 2 else None,
                    "active": True,
                }
                for k in range(recipients)
            ],
        )
        db.session.commit()
        return list(db.session.scalars(select(User.id).where(User.username.like("bench_mail_%")).order_by(User.id)))


def _queue(app, user_ids: list[int], tag: str) -> None:
    """One pending outbox row per recipient, as a transition writes them."""
    from sqlalchemy import insert

    from kxflow.core import clock
    from kxflow.core.db import db
    from kxflow.notifications.models import Notification

    now = clock.now()
    with app.app_context():
        db.session.execute(
            insert(Notification.__table__),
            [
                {
                    "recipient_id": uid,
                    "kind": "action_required",
                    "event": "transition",
                    "params": {
                        "county": "安吉县",
                        "trigger": "submit",
                        "from_state": "draft",
                        "to_state": "county_review",
                        "comment": None,
                    },
                    "email": True,
                    "email_status": "pending",
                    "email_attempts": 0,
                    "dedupe_key": f"bench:{tag}:user:{uid}",
                    "created_at": now,
                }
                for uid in user_ids
            ],
        )
        db.session.commit()


def _dispatch_all(app) -> tuple[float, int]:
    """Seconds to empty the outbox with the product's dispatcher (run after run, as the beat would call it)."""
    from kxflow.core.db import db
    from kxflow.notifications.dispatch import dispatch_due

    sent = 0
    with app.app_context():
        started = time.perf_counter()
        while True:
            run = dispatch_due()
            sent += run.sent
            assert run.failed == 0 and run.cancelled == 0, run
            if run.sent == 0:
                break
        seconds = time.perf_counter() - started
        db.session.remove()
    return seconds, sent


def run(url: str, uploads: Path, messages: int, repetitions: int, disk_wait: bool) -> tuple[list[float], list[float]]:
    from sqlalchemy import select, text

    from kxflow import create_app
    from kxflow.core.db import db
    from kxflow.notifications import email as mail
    from kxflow.notifications.models import Notification
    from tests.bench.steps import no_disk_wait
    from tests.dbutil import migrate_and_load
    from tests.replay import bare_smtp_rate
    from tests.workers_support import free_port

    logging.disable(logging.INFO)  # the migrations' log
    migrate_and_load(url, uploads)
    logging.disable(logging.NOTSET)
    port = free_port()
    here, there = multiprocessing.Pipe()
    sink = multiprocessing.get_context("spawn").Process(target=_sink_process, args=(port, there), daemon=True)
    sink.start()
    assert here.poll(30) and here.recv() == "ready"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "UPLOAD_FOLDER": str(uploads),
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": port,
            "MAIL_SENDER": "kxflow@kxflow.test",
        }
    )
    postgres = url.startswith("postgresql")
    dispatcher, bare = [], []
    try:
        with app.app_context():
            if not disk_wait:
                no_disk_wait(db.engine, postgres)
            if postgres:
                settings = db.session.execute(
                    text(
                        "SELECT name, setting FROM pg_settings WHERE name IN "
                        "('fsync', 'synchronous_commit', 'shared_buffers', 'wal_level', 'autovacuum') ORDER BY name"
                    )
                ).all()
                print("  PostgreSQL " + ", ".join(f"{k}={v}" for k, v in settings), flush=True)
            db.session.commit()
        users = _seed(app, messages)
        _queue(app, users[:50], "warm")  # warm both paths
        _dispatch_all(app)
        bare_smtp_rate(port, 50)
        here.send("ids")
        here.recv()
        for rep in range(repetitions):
            _queue(app, users, f"r{rep}")
            if postgres:
                with app.app_context():
                    db.session.execute(text("ANALYZE notifications"))
                    db.session.commit()
            order = ("dispatcher", "bare") if rep % 2 == 0 else ("bare", "dispatcher")
            for who in order:
                if who == "dispatcher":
                    seconds, sent = _dispatch_all(app)
                    assert sent == messages, (sent, messages)
                    dispatcher.append(messages / seconds)
                else:
                    bare.append(bare_smtp_rate(port, messages))
            here.send("ids")
            received = here.recv()
            with app.app_context():
                rows = db.session.scalars(select(Notification).where(Notification.dedupe_key.like(f"bench:r{rep}:%")))
                expected = Counter(mail.message_id(n) for n in rows)
                db.session.remove()
            outbox = Counter({k: n for k, n in received.items() if not k.startswith("<bare-")})
            assert outbox == expected, "the server did not receive every outbox message exactly once"
            assert sum(received.values()) == 2 * messages
        with app.app_context():
            db.engine.dispose()
    finally:
        here.send("stop")
        sink.join(10)
    return dispatcher, bare


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=600)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--no-disk-wait", action="store_true", help="commits do not wait for the disk")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("KXFLOW_ENV", "testing")
    from tests.dbutil import recreate_pg_database

    tmp = Path(tempfile.mkdtemp(prefix="kxflow-mail-"))
    pg_name = os.environ.get("KXFLOW_TEST_PG_DB", "kxflow_bench") + "_bench_mail"
    targets = {
        "sqlite": lambda: f"sqlite:///{tmp / 'mail.db'}",
        "postgresql": lambda: recreate_pg_database(pg_name),
    }

    def spread(values: list[float], digits: int = 0) -> str:
        return " / ".join(f"{v:.{digits}f}" for v in (min(values), statistics.median(values), max(values)))

    for name, make_url in targets.items():
        if args.only and name != args.only:
            continue
        print(f"{name}: {args.messages} messages, {args.repetitions} repetitions", flush=True)
        dispatcher, bare = run(
            make_url(), tmp / f"uploads-{name}", args.messages, args.repetitions, not args.no_disk_wait
        )
        ratios = [d / b for d, b in zip(dispatcher, bare, strict=True)]
        print(
            f"  msgs/s min / median / max: dispatcher {spread(dispatcher)}, bare smtplib {spread(bare)}\n"
            f"  ratio dispatcher/bare: {spread(ratios, 2)} (target >= 0.5)"
            f"{'' if not args.no_disk_wait else ' — commits not waiting for the disk'}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
