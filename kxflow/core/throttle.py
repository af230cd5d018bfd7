"""Per-account login throttle: after too many failures in a window, a login name is locked for a while.

Counted per name, whatever the address (so four addresses do not get four budgets), shared by the web
login and the token endpoint, and across every worker: in Redis when ``REDIS_URL`` is set, otherwise in a
row of the database. A name that does not exist is counted and locked the same way, so a lockout says
nothing about which names are real. Each step commits on its own (the request that failed rolls back).
"""

from __future__ import annotations

import logging
from contextlib import suppress
from datetime import datetime, timedelta

import redis
from flask import current_app
from sqlalchemy import Integer, String, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from kxflow.core import clock
from kxflow.core.afterwards import later
from kxflow.core.db import db, side_transaction
from kxflow.core.types import UTCDateTime

log = logging.getLogger(__name__)


class LoginThrottle(db.Model):
    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


def _key(username: str) -> str:
    return (username or "").strip().lower()[:64]


def _settings() -> tuple[int, timedelta, timedelta]:
    cfg = current_app.config
    return (
        cfg["LOGIN_MAX_FAILURES"],
        timedelta(seconds=cfg["LOGIN_FAILURE_WINDOW_SECONDS"]),
        timedelta(seconds=cfg["LOGIN_LOCKOUT_SECONDS"]),
    )


def _redis() -> redis.Redis | None:
    url = current_app.config.get("REDIS_URL")
    return redis.Redis.from_url(url, socket_timeout=2) if url else None


def locked_until(username: str) -> datetime | None:
    """When the name's lockout ends, or None if it may try now."""
    key, now = _key(username), clock.now()
    client = _redis()
    if client is not None:
        try:
            ttl = client.pttl(f"kxflow:login:lock:{key}")
            return now + timedelta(milliseconds=ttl) if ttl and ttl > 0 else None
        except redis.RedisError:
            log.warning("login throttle: Redis unavailable, using the database")
    with db.engine.connect() as conn:
        until = conn.scalar(select(LoginThrottle.locked_until).where(LoginThrottle.key == key))
    until = clock.as_utc(until) if until is not None else None
    return until if until is not None and until > now else None


def failed(username: str) -> datetime | None:
    """Counts one failure; returns the end of the lockout if this failure starts one."""
    key, now = _key(username), clock.now()
    limit, window, lockout = _settings()
    client = _redis()
    if client is not None:
        try:
            count_key = f"kxflow:login:fail:{key}"
            pipe = client.pipeline()
            pipe.incr(count_key)
            pipe.expire(count_key, int(window.total_seconds()), nx=True)
            count = pipe.execute()[0]
            if count >= limit:
                client.set(f"kxflow:login:lock:{key}", 1, ex=int(lockout.total_seconds()))
                client.delete(count_key)
                return now + lockout
            return None
        except redis.RedisError:
            log.warning("login throttle: Redis unavailable, using the database")
    with side_transaction() as conn:
        row = conn.execute(
            select(LoginThrottle.failures, LoginThrottle.window_started_at).where(LoginThrottle.key == key)
        ).first()
        if row is None or clock.as_utc(row.window_started_at) + window < now:
            conn.execute(delete(LoginThrottle).where(LoginThrottle.key == key))
            # two failures of one name at the same instant: the loser's insert fails and counts as the winner's
            with suppress(IntegrityError), conn.begin_nested():
                conn.execute(
                    insert(LoginThrottle).values(key=key, failures=1, window_started_at=now, locked_until=None)
                )
            count = 1
        else:
            count = row.failures + 1
            conn.execute(
                update(LoginThrottle).where(LoginThrottle.key == key).values(failures=LoginThrottle.failures + 1)
            )
        if count >= limit:
            conn.execute(
                update(LoginThrottle)
                .where(LoginThrottle.key == key)
                .values(failures=0, window_started_at=now, locked_until=now + lockout)
            )
            return now + lockout
    return None


def clear(username: str) -> None:
    """A successful login starts the count afresh (once the request is over)."""
    later(lambda: _clear(_key(username)))


def _clear(key: str) -> None:
    client = _redis()
    if client is not None:
        try:
            client.delete(f"kxflow:login:fail:{key}")
            return
        except redis.RedisError:
            log.warning("login throttle: Redis unavailable, using the database")
    with side_transaction() as conn:
        conn.execute(
            delete(LoginThrottle).where(
                LoginThrottle.key == key,
                or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until <= clock.now()),
            )
        )
