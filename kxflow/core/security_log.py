"""The security log: who logged in, failed, was locked out, used or lost a second factor, got or gave up a token,
was refused a page, changed a user or a role, exported data — with when, from where and with what browser.

Append-only like the audit trail (the database refuses UPDATE, DELETE and TRUNCATE to the app) and kept apart
from it: the audit trail tells an application's story, this one tells the system's. Most of these events
happen in requests that fail and roll back, so ``record`` writes in a transaction of its own: at the end of
the request, whatever became of the request's own transaction (so on SQLite it never waits for the request's
write lock), or at once outside a request.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flask import has_request_context, request
from sqlalchemy import JSON, Index, Integer, String, insert
from sqlalchemy.orm import Mapped, mapped_column

from kxflow.core import clock
from kxflow.core.afterwards import later
from kxflow.core.db import db, side_transaction
from kxflow.core.types import UTCDateTime

log = logging.getLogger("kxflow.security")

EVENTS = (
    "login_ok",
    "login_failed",
    "login_locked",
    "logout",
    "session_expired",
    "session_revoked",
    "password_changed",
    "password_reset",
    "password_rehashed",
    "mfa_enrolled",
    "mfa_failed",
    "mfa_disabled",
    "mfa_reset",
    "recovery_code_used",
    "token_issued",
    "token_refused",
    "token_revoked",
    "access_refused",
    "user_created",
    "user_changed",
    "role_changed",
    "user_deactivated",
    "sessions_ended",
    "export",
    "objection_refused",
)


class SecurityEvent(db.Model):
    """One security-relevant event. Never updated or deleted."""

    __tablename__ = "security_events"
    __table_args__ = (Index("ix_security_events_event_at", "event", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    event: Mapped[str] = mapped_column(String(40))
    # plain values, not foreign keys: the log outlives the rows it names, and core knows no feature's tables
    user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    username: Mapped[str | None] = mapped_column(String(64))  # as typed for a failed login
    target_user_id: Mapped[int | None] = mapped_column(Integer)
    source_ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    method: Mapped[str | None] = mapped_column(String(10))
    path: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[dict] = mapped_column(JSON, default=dict)


def _clip(value: str | None, n: int) -> str | None:
    if value is None:
        return None
    return "".join(ch if ch.isprintable() else "?" for ch in value)[:n]


def record(
    event: str,
    *,
    user_id: int | None = None,
    username: str | None = None,
    target_user_id: int | None = None,
    status: int | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Records one event in a transaction of its own: it stays even when the request rolls back.

    ``event`` is one of ``EVENTS``; the actor is given as plain values (``user_id``, ``username``); the source
    address (after the configured proxies), user agent, method and path are read from the current request.
    ``detail`` is a small JSON object (what was exported, which role became which). Never raises: a log that
    cannot be written is reported to the application log, and the request goes on.
    """
    if event not in EVENTS:
        raise ValueError(f"unknown security event {event!r}")
    row: dict[str, Any] = {
        "at": clock.now(),
        "event": event,
        "user_id": user_id,
        "username": _clip(username, 64),
        "target_user_id": target_user_id,
        "status": status,
        "detail": detail or {},
    }
    log.info("security %s user=%s target=%s status=%s", event, user_id or username, target_user_id, status)
    if has_request_context():
        row.update(
            source_ip=_clip(request.remote_addr, 64),
            user_agent=_clip(request.user_agent.string, 300),
            method=request.method,
            path=_clip(request.path, 300),
        )
    later(lambda: _write([row]))


def _write(rows: list[dict[str, Any]]) -> None:
    try:
        with side_transaction() as conn:
            conn.execute(insert(SecurityEvent), rows)
    except Exception:
        log.exception("security log: could not record %s", [r["event"] for r in rows])
