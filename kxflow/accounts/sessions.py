"""Server-side session records: the signed cookie carries only a random id; the row says whether it still holds.

A session ends on logout, a password change, deactivation, an administrator's "end all sessions", after
``SESSION_IDLE_MINUTES`` without a request, or ``SESSION_ABSOLUTE_HOURS`` after login, whichever comes
first. Its last-seen time is written at most once a minute, in a transaction of its own.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import current_app, has_request_context, request
from sqlalchemy import select, update

from kxflow.accounts.models import ApiToken, User, UserSession
from kxflow.core import clock
from kxflow.core.db import db, side_transaction

TOUCH_EVERY = timedelta(seconds=60)


def _hash(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def _idle() -> timedelta:
    return timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"])


def client_info() -> dict[str, str | None]:
    if not has_request_context():
        return {"source_ip": None, "user_agent": None}
    return {"source_ip": (request.remote_addr or "")[:64], "user_agent": request.user_agent.string[:300]}


def start(user: User) -> str:
    """A new session for the user; returns the raw id for the cookie (only its hash is stored)."""
    sid = secrets.token_urlsafe(32)
    now = clock.now()
    hours = current_app.config["SESSION_ABSOLUTE_HOURS"]
    db.session.add(
        UserSession(
            user_id=user.id,
            sid_hash=_hash(sid),
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(hours=hours),
            **client_info(),
        )
    )
    db.session.flush()
    return sid


def check(sid: str | None, user_id: int) -> tuple[UserSession | None, str | None]:
    """The live session behind a cookie's id, or None with why it ended (``expired``, ``ended``, ``unknown``).

    A session that has just run out is closed here, in its own transaction."""
    if not sid:
        return None, "unknown"
    row = db.session.scalar(select(UserSession).where(UserSession.sid_hash == _hash(sid)))
    if row is None or row.user_id != user_id:
        return None, "unknown"
    if row.ended_at is not None:
        return None, "ended"
    now = clock.now()
    if now >= row.expires_at or now - row.last_seen_at >= _idle():
        _end_rows([row.id], "expired")
        return None, "expired"
    if now - row.last_seen_at >= TOUCH_EVERY:
        with side_transaction(durable=False) as conn:
            conn.execute(update(UserSession).where(UserSession.id == row.id).values(last_seen_at=now))
    return row, None


def _end_rows(ids: list[int], reason: str) -> None:
    if ids:
        with side_transaction() as conn:
            conn.execute(
                update(UserSession)
                .where(UserSession.id.in_(ids), UserSession.ended_at.is_(None))
                .values(ended_at=clock.now(), end_reason=reason)
            )


def end(sid: str | None, reason: str = "logout") -> None:
    if sid:
        db.session.execute(
            update(UserSession)
            .where(UserSession.sid_hash == _hash(sid), UserSession.ended_at.is_(None))
            .values(ended_at=clock.now(), end_reason=reason)
        )


def end_all(user_id: int, reason: str, *, keep_sid: str | None = None, tokens: bool = True) -> int:
    """Ends every live session of a user (but ``keep_sid``) and, with ``tokens``, revokes every API token.
    Returns how many sessions and tokens were ended. Flushes with the request's transaction."""
    now = clock.now()
    stmt = update(UserSession).where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
    if keep_sid:
        stmt = stmt.where(UserSession.sid_hash != _hash(keep_sid))
    count = db.session.execute(stmt.values(ended_at=now, end_reason=reason)).rowcount
    if tokens:
        count += db.session.execute(
            update(ApiToken)
            .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None), ApiToken.expires_at > now)
            .values(revoked_at=now)
        ).rowcount
    return count


def live_sessions(user_id: int) -> list[UserSession]:
    now = clock.now()
    rows = db.session.scalars(
        select(UserSession)
        .where(UserSession.user_id == user_id, UserSession.ended_at.is_(None), UserSession.expires_at > now)
        .order_by(UserSession.last_seen_at.desc())
    ).all()
    return [r for r in rows if now - r.last_seen_at < _idle()]


def live_tokens(user_id: int) -> list[ApiToken]:
    return list(
        db.session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None), ApiToken.expires_at > clock.now())
            .order_by(ApiToken.created_at.desc())
        )
    )


def is_current(row: UserSession, sid: str | None) -> bool:
    return sid is not None and row.sid_hash == _hash(sid)


def end_one(user_id: int, session_id: int) -> bool:
    """Ends one of the user's own sessions (from 我的会话); False if it is not theirs or already over."""
    return bool(
        db.session.execute(
            update(UserSession)
            .where(UserSession.id == session_id, UserSession.user_id == user_id, UserSession.ended_at.is_(None))
            .values(ended_at=clock.now(), end_reason="revoked")
        ).rowcount
    )


def revoke_token_by_id(user_id: int, token_id: int) -> bool:
    return bool(
        db.session.execute(
            update(ApiToken)
            .where(ApiToken.id == token_id, ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=clock.now())
        ).rowcount
    )
