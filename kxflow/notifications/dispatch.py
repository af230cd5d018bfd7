"""The outbox dispatcher: e-mails pending notifications once each, a batch at a time, retrying with backoff.

One run at a time (a named lock). A run claims a batch of due rows in one statement (on PostgreSQL it skips
rows that another run has locked; SQLite has a single writer) and leases them until its lock expires: the
claim commits, so no other run takes them meanwhile, and a run that dies gives them back when the lease runs
out. The batch is rendered and sent over one SMTP connection. Each message the server accepts is marked sent,
with its delivery-log entry, in one durable commit before the next message is handed over, so a run killed at
any moment leaves at most one message accepted by the server but not recorded (sent again later under the
same Message-ID) — as when each message was its own transaction. What is not a delivery — failures (counted,
backed off, given up after ``EMAIL_MAX_ATTEMPTS``), cancellations and rows the run had no time left for — is
recorded for the whole batch in one transaction at its end: lost in a crash, it sends nothing twice (the
rows are due again when the lease runs out).

A run stops claiming and sending once its lock is about to expire (a margin of two SMTP timeouts, at most a
quarter of the lock), and checks again before handing over a message's end (staging one can take several
timeouts), so a row is never sent by a run whose lease on it has passed.
"""

from __future__ import annotations

import logging
import smtplib
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import Connection, Engine, Integer, String, bindparam, insert, literal, or_, select, update

from kxflow.accounts.models import User
from kxflow.core import clock
from kxflow.core.db import db, is_postgres
from kxflow.core.locks import exclusive
from kxflow.core.types import UTCDateTime
from kxflow.notifications import email
from kxflow.notifications.models import EmailDelivery, Notification
from kxflow.notifications.operations import NO_ADDRESS

log = logging.getLogger(__name__)

BATCH = 100  # rows claimed, rendered and recorded together

_outbox = Notification.__table__
_log = EmailDelivery.__table__


@dataclass
class DispatchRun:
    held_lock: bool = True
    sent: int = 0
    failed: int = 0
    cancelled: int = 0
    released: int = 0  # claimed, but the run's time was up before they were tried: due again at once
    unreachable: bool = False  # the SMTP server could not be reached: the run stopped at the message that found out


@dataclass
class _Batch:
    """What a batch did that is not a delivery, written together at its end."""

    updates: list[dict] = field(default_factory=list)
    attempts: list[dict] = field(default_factory=list)

    def outcome(self, row: Notification, status: str, attempts: int, retry_at: datetime | None) -> None:
        self.updates.append({"b_id": row.id, "b_status": status, "b_attempts": attempts, "b_retry": retry_at})


def _due(now: datetime):
    return (Notification.email_status == "pending") & or_(
        Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= now
    )


def _backoff(attempts: int) -> timedelta:
    base = current_app.config["EMAIL_RETRY_BASE_SECONDS"]
    return timedelta(seconds=min(base * 2 ** (attempts - 1), 6 * 3600))


def claim(limit: int, lease_until: datetime) -> list[tuple[Notification, User]]:
    """Leases up to ``limit`` due rows to this run (one UPDATE, committed) and loads them with their recipients."""
    now = clock.now()
    due = select(Notification.id).where(_due(now)).order_by(Notification.id).limit(limit)
    if is_postgres():
        due = due.with_for_update(skip_locked=True)  # another run's claim in progress: take the next rows
    ids = list(
        db.session.scalars(
            update(_outbox)
            .where(_outbox.c.id.in_(due.scalar_subquery()))
            .values(next_attempt_at=lease_until)
            .returning(_outbox.c.id)
        )
    )
    db.session.commit()
    if not ids:
        return []
    rows = db.session.execute(
        select(Notification, User)
        .join(User, User.id == Notification.recipient_id)
        .where(Notification.id.in_(ids))
        .order_by(Notification.id)
    ).all()
    for notification, recipient in rows:  # kept as read: the transaction ends here, they are only read from now on
        db.session.expunge(notification)
        if recipient in db.session:
            db.session.expunge(recipient)
    db.session.rollback()
    return [(n, u) for n, u in rows]


# a delivery and its log entry in one statement, so on PostgreSQL one round trip commits both
_sent = (
    update(_outbox)
    .where(_outbox.c.id == bindparam("nid", type_=Integer), _outbox.c.email_status == "pending")
    .values(
        email_status="sent",
        email_attempts=bindparam("attempt", type_=Integer),
        dispatched_at=bindparam("at", type_=UTCDateTime),
        next_attempt_at=None,
    )
    .returning(_outbox.c.id)
)
_SENT_WITH_LOG = insert(_log).from_select(
    ["notification_id", "attempt", "status", "recipient", "at"],
    select(
        _sent.cte("sent").c.id,
        bindparam("attempt", type_=Integer),
        literal("sent"),
        bindparam("recipient", type_=String),
        bindparam("at", type_=UTCDateTime),
    ),
)


def _mark_sent(conn: Connection, notification_id: int, attempt: int, recipient: str, at: datetime) -> None:
    """Records one accepted message durably (its own commit)."""
    values = {"nid": notification_id, "attempt": attempt, "recipient": recipient, "at": at}
    if conn.dialect.name == "postgresql":  # an autocommit connection: the statement is its own transaction
        conn.execute(_SENT_WITH_LOG, values)
        return
    with conn.begin():  # SQLite: no UPDATE inside a WITH; two statements, one commit
        if conn.execute(_sent, values).first() is not None:
            conn.execute(
                insert(_log),
                {
                    "notification_id": notification_id,
                    "attempt": attempt,
                    "status": "sent",
                    "recipient": recipient,
                    "at": at,
                },
            )


class _Recorder:
    """Marks deliveries sent, one at a time, on a connection and in a thread of its own: while a delivery's
    commit waits for the disk, the dispatcher renders and stages the next message, whose end it sends only
    after ``wait`` — so at most one accepted message is ever unrecorded."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._conn: Connection | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kxflow-mail-record")
        self._pending: Future | None = None

    def _record(self, notification_id: int, attempt: int, recipient: str, at: datetime) -> None:
        if self._conn is None:  # opened, used and closed in the recorder's thread only
            self._conn = self._engine.connect()
            if self._conn.dialect.name == "postgresql":
                self._conn.execution_options(isolation_level="AUTOCOMMIT")
        _mark_sent(self._conn, notification_id, attempt, recipient, at)

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()

    def submit(self, notification_id: int, attempt: int, recipient: str, at: datetime) -> None:
        self.wait()
        self._pending = self._thread.submit(self._record, notification_id, attempt, recipient, at)

    def wait(self) -> None:
        """Returns once the last delivery submitted is on disk (raises what recording it raised)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def __enter__(self) -> _Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.wait()
        finally:
            self._thread.submit(self._close).result()
            self._thread.shutdown()


_OUTCOMES = (
    update(_outbox)
    .where(_outbox.c.id == bindparam("b_id"), _outbox.c.email_status == "pending")
    .values(
        email_status=bindparam("b_status"),
        email_attempts=bindparam("b_attempts"),
        next_attempt_at=bindparam("b_retry"),
    )
)


def _record(batch: _Batch) -> None:
    """Failures, cancellations and released rows of a batch: one transaction."""
    if batch.updates:
        db.session.execute(_OUTCOMES, batch.updates)
    if batch.attempts:
        db.session.execute(insert(_log), batch.attempts)
    db.session.commit()


def _failed(batch: _Batch, run: DispatchRun, row: Notification, recipient: User, now: datetime, exc: Exception) -> None:
    """One attempt that did not deliver: counted, tried again after the backoff, given up after the last."""
    if not isinstance(exc, smtplib.SMTPException | OSError):
        log.exception("e-mail for notification %s could not be built", row.id)
    attempt = row.email_attempts + 1
    error = f"{type(exc).__name__}: {exc}"[:1000]
    gave_up = attempt >= current_app.config["EMAIL_MAX_ATTEMPTS"]
    batch.outcome(row, "gave_up" if gave_up else "pending", attempt, None if gave_up else now + _backoff(attempt))
    batch.attempts.append(
        {
            "notification_id": row.id,
            "attempt": attempt,
            "status": "failed",
            "recipient": recipient.email,
            "error": error,
            "at": now,
        }
    )
    run.failed += 1
    log.warning("e-mail for notification %s failed (attempt %s): %s", row.id, attempt, error)


def _release(batch: _Batch, run: DispatchRun, rows: list[tuple[Notification, User]]) -> None:
    """Claimed rows this run will not try: due again at once, their attempts as they were."""
    for row, _recipient in rows:
        batch.outcome(row, "pending", row.email_attempts, None)
        run.released += 1


def _send_batch(
    rows: list[tuple[Notification, User]], run: DispatchRun, mailer: email.Mailer, recorder: _Recorder, stop_at: float
) -> None:
    batch = _Batch()
    try:
        for n, (row, recipient) in enumerate(rows):
            now = clock.now()
            if not recipient.email or not recipient.active:
                batch.outcome(row, "cancelled", row.email_attempts, None)
                batch.attempts.append(
                    {
                        "notification_id": row.id,
                        "attempt": row.email_attempts + 1,
                        "status": "failed",
                        "error": NO_ADDRESS,
                        "at": now,
                    }
                )
                run.cancelled += 1
                continue
            if time.monotonic() >= stop_at:  # the lease is about to run out: leave it to the next run
                _release(batch, run, [(row, recipient)])
                continue
            try:  # everything but the end of the message: not delivered yet
                mailer.stage(email.build(row, recipient), recipient.email)
            except Exception as exc:  # SMTP refused or down, or this one message cannot be built: retry later
                _failed(batch, run, row, recipient, now, exc)
                if isinstance(exc, email.ServerUnreachable):
                    # the server is down: this message's attempt says so; the others are not tried against it (each
                    # would spend one of its attempts on the outage, and an outage of hours would give them all up)
                    _release(batch, run, rows[n + 1 :])
                    run.unreachable = True
                    log.error("the SMTP server could not be reached: the run stops, the rest waits for the next")
                    break
                continue
            try:
                recorder.wait()  # the previous delivery is on disk before this one is handed over
            except BaseException:
                mailer.close()  # hangs up: the staged message is never accepted
                raise
            if time.monotonic() >= stop_at:  # staging ran into the margin: its end could be accepted after the lease
                mailer.close()  # hangs up: never accepted; the next run sends it
                _release(batch, run, [(row, recipient)])
                continue
            try:
                mailer.finish()
            except Exception as exc:
                _failed(batch, run, row, recipient, now, exc)
                continue
            recorder.submit(row.id, row.email_attempts + 1, recipient.email, clock.now())
            run.sent += 1
    finally:  # also when recording a delivery failed (the database went away): what is known is kept if it can be
        try:
            recorder.wait()
        finally:
            if batch.updates or batch.attempts:
                _record(batch)


def dispatch_due(limit: int = 1000) -> DispatchRun:
    """One dispatcher run, up to ``limit`` messages; a second run at the same moment finds the lock taken and does
    nothing."""
    ttl = timedelta(seconds=current_app.config["SCHEDULER_LOCK_SECONDS"])
    started, begun = clock.now(), time.monotonic()
    with exclusive("email-dispatch", ttl) as held:
        run = DispatchRun(held_lock=held)
        if not held:
            return run
        margin = min(2 * current_app.config["MAIL_TIMEOUT_SECONDS"], ttl.total_seconds() / 4)
        stop_at = begun + ttl.total_seconds() - margin
        lease_until = started + ttl  # no later than the lock: when it is free, so are the rows
        with email.Mailer() as mailer, _Recorder(db.engine) as recorder:
            claimed = 0
            while claimed < limit and time.monotonic() < stop_at:
                asked = min(BATCH, limit - claimed)
                rows = claim(asked, lease_until)
                claimed += len(rows)
                if rows:
                    _send_batch(rows, run, mailer, recorder, stop_at)
                if len(rows) < asked or run.unreachable:  # the last of what is due now, or nowhere to send it
                    break
        return run
