"""Logging in, for the web form and the token endpoint alike: one throttle per login name, the same work
for unknown names, the second factor, and every outcome in the security log."""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext
from sqlalchemy import select

from kxflow.accounts import mfa, passwords
from kxflow.accounts.models import User
from kxflow.core import clock, throttle
from kxflow.core.db import db
from kxflow.core.errors import AppError
from kxflow.core.formats import fmt_dt
from kxflow.core.security_log import record


class LoginRefused(AppError):
    status, code = 401, "login_failed"


class LockedOut(AppError):
    status, code = 429, "locked_out"


def _wrong() -> LoginRefused:
    return LoginRefused(gettext("Wrong username or password, or the account is disabled."))


def _locked(until: datetime) -> LockedOut:
    minutes = max(1, round((until - clock.now()).total_seconds() / 60))
    return LockedOut(
        gettext(
            "Too many failed attempts: this account is locked for %(minutes)s minutes (until %(time)s). "
            "If it was not you, tell your administrator.",
            minutes=minutes,
            time=fmt_dt(until),
        ),
        locked_until=until.isoformat(),
    )


def _refuse_if_locked(username: str) -> None:
    until = throttle.locked_until(username)
    if until is not None:
        record("login_locked", username=username, status=429, detail={"until": until.isoformat()})
        raise _locked(until)


def _failure(username: str, user: User | None, event: str) -> AppError:
    record(event, user_id=user.id if user else None, username=username, status=401)
    until = throttle.failed(username)
    if until is not None:
        record("login_locked", user_id=user.id if user else None, username=username, status=429)
        return _locked(until)
    return (
        _wrong() if event == "login_failed" else LoginRefused(gettext("The code is not correct or was used already."))
    )


def check_password(username: str, password: str) -> User:
    """The active user with this name and password, or a refusal (wrong, or locked out for a while).

    An unknown name costs the same hashing as a known one. An outdated hash is upgraded (flushed with the
    request). Does not clear the throttle: the second factor may still fail."""
    _refuse_if_locked(username)
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        passwords.burn_time(password)
        raise _failure(username, None, "login_failed")
    if not user.check_password(password) or not user.active:
        raise _failure(username, user, "login_failed")
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
        record("password_rehashed", user_id=user.id, username=user.username)
    return user


def check_second_factor(user: User, code: str) -> None:
    """A TOTP code (or an unused recovery code) for a user who has the factor; refusals count toward the lockout."""
    _refuse_if_locked(user.username)
    code = (code or "").strip()
    if mfa.check_code(user, code):
        return
    if len(code) > 6 and mfa.use_recovery_code(user, code):
        record("recovery_code_used", user_id=user.id, username=user.username)
        return
    raise _failure(user.username, user, "mfa_failed")


def succeeded(user: User, how: str) -> None:
    throttle.clear(user.username)
    record("login_ok" if how == "web" else "token_issued", user_id=user.id, username=user.username)
