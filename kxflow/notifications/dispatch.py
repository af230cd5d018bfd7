"""The outbox dispatcher: e-mails pending notifications once each, retrying with backoff.

One run at a time (a named lock); each message is its own transaction: the row is locked,
the message handed to SMTP, and the row marked sent together with its delivery-log entry.
Nothing lives only in the broker: a run that dies leaves the row pending for the next one.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import or_, select

from kxflow.accounts.models import User
from kxflow.core import clock
from kxflow.core.db import db, is_postgres
from kxflow.core.locks import exclusive
from kxflow.notifications import email
from kxflow.notifications.models import EmailDelivery, Notification

log = logging.getLogger(__name__)


@dataclass
class DispatchRun:
    held_lock: bool = True
    sent: int = 0
    failed: int = 0
    cancelled: int = 0


def due_ids(limit: int) -> list[int]:
    now = clock.now()
    return list(
        db.session.scalars(
            select(Notification.id)
            .where(
                Notification.email_status == "pending",
                or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= now),
            )
            .order_by(Notification.id)
            .limit(limit)
        )
    )


def _backoff(attempts: int) -> timedelta:
    base = current_app.config["EMAIL_RETRY_BASE_SECONDS"]
    return timedelta(seconds=min(base * 2 ** (attempts - 1), 6 * 3600))


def dispatch_one(notification_id: int, run: DispatchRun, mailer: email.Mailer) -> None:
    stmt = select(Notification).where(Notification.id == notification_id, Notification.email_status == "pending")
    if is_postgres():
        stmt = stmt.with_for_update(skip_locked=True)
    row = db.session.scalars(stmt).first()
    if row is None:  # sent meanwhile, or another run holds it
        db.session.rollback()
        return
    recipient = db.session.get(User, row.recipient_id)
    now = clock.now()
    attempt = row.email_attempts + 1
    if not recipient.email or not recipient.active:
        row.email_status = "cancelled"
        db.session.add(
            EmailDelivery(
                notification_id=row.id,
                attempt=attempt,
                status="failed",
                error="no e-mail address or account disabled",
                at=now,
            )
        )
        db.session.commit()
        run.cancelled += 1
        return
    row.email_attempts = attempt
    try:
        mailer.send(email.build(row, recipient))
    except Exception as exc:  # SMTP refused or down, or this one message cannot be built: retry later
        if not isinstance(exc, smtplib.SMTPException | OSError):
            log.exception("e-mail for notification %s could not be built", row.id)
        error = f"{type(exc).__name__}: {exc}"[:1000]
        db.session.add(
            EmailDelivery(
                notification_id=row.id, attempt=attempt, status="failed", recipient=recipient.email, error=error, at=now
            )
        )
        if attempt >= current_app.config["EMAIL_MAX_ATTEMPTS"]:
            row.email_status = "gave_up"
        else:
            row.next_attempt_at = now + _backoff(attempt)
        db.session.commit()
        run.failed += 1
        log.warning("e-mail for notification %s failed (attempt %s): %s", row.id, attempt, error)
        return
    row.email_status = "sent"
    row.dispatched_at = clock.now()
    db.session.add(
        EmailDelivery(
            notification_id=row.id, attempt=attempt, status="sent", recipient=recipient.email, at=row.dispatched_at
        )
    )
    db.session.commit()
    run.sent += 1


def dispatch_due(limit: int = 200) -> DispatchRun:
    """One dispatcher run; a second run at the same moment finds the lock taken and does nothing."""
    with exclusive("email-dispatch") as held:
        run = DispatchRun(held_lock=held)
        if held:
            with email.Mailer() as mailer:
                for notification_id in due_ids(limit):
                    dispatch_one(notification_id, run, mailer)
        return run
