"""A named lock with an expiry, so two beats or an overlapping run never work the same queue at once.

With Redis configured the lock lives in Redis; without it (the embedded default) in a row of
the database. Either way a holder that dies loses the lock when it expires.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta

import redis
from flask import current_app
from sqlalchemy import String, insert, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from kxflow.core import clock
from kxflow.core.db import db
from kxflow.core.types import UTCDateTime


class SchedulerLock(db.Model):
    __tablename__ = "scheduler_locks"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(40))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def _db_acquire(name: str, holder: str, ttl: timedelta) -> bool:
    """Takes the lock row if free or expired; creates it on first use. Each step its own transaction."""
    now = clock.now()
    with db.engine.begin() as conn:
        taken = conn.execute(
            update(SchedulerLock)
            .where(SchedulerLock.name == name, or_(SchedulerLock.holder.is_(None), SchedulerLock.expires_at < now))
            .values(holder=holder, expires_at=now + ttl)
        ).rowcount
    if taken:
        return True
    try:
        with db.engine.begin() as conn:
            conn.execute(insert(SchedulerLock).values(name=name, holder=holder, expires_at=now + ttl))
    except IntegrityError:
        return False  # the row exists and someone holds it
    return True


def _db_release(name: str, holder: str) -> None:
    with db.engine.begin() as conn:
        conn.execute(
            update(SchedulerLock)
            .where(SchedulerLock.name == name, SchedulerLock.holder == holder)
            .values(holder=None, expires_at=None)
        )


@contextmanager
def exclusive(name: str, ttl: timedelta | None = None) -> Iterator[bool]:
    """``with exclusive("dispatch") as held:`` — ``held`` is False when someone else has it."""
    ttl = ttl or timedelta(seconds=current_app.config["SCHEDULER_LOCK_SECONDS"])
    holder = uuid.uuid4().hex
    redis_url = current_app.config.get("REDIS_URL")
    if redis_url:
        lock = redis.Redis.from_url(redis_url).lock(f"kxflow:lock:{name}", timeout=ttl.total_seconds())
        held = lock.acquire(blocking=False)
        try:
            yield held
        finally:
            if held:
                with suppress(redis.exceptions.LockError):  # expired meanwhile: someone else may hold it
                    lock.release()
        return
    held = _db_acquire(name, holder, ttl)
    try:
        yield held
    finally:
        if held:
            _db_release(name, holder)
