"""Account rules: creating users with a valid scope and a strong password, changing and resetting passwords,
issuing and checking tokens. Logging in itself is in ``login``; sessions in ``sessions``."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from flask import current_app
from flask_babel import gettext
from sqlalchemy import bindparam, or_, select, update

from kxflow.accounts import mfa, passwords, sessions
from kxflow.accounts.models import ApiToken, User
from kxflow.accounts.roles import COUNTY_ROLES, Role
from kxflow.core import clock
from kxflow.core.db import db, is_postgres, side_transaction
from kxflow.core.errors import Forbidden, Invalid, NotFound, Unauthorized
from kxflow.core.fields import CHINA
from kxflow.core.inputs import page_arg
from kxflow.core.paging import Page, paginate
from kxflow.core.security_log import EVENTS, SecurityEvent, record
from kxflow.core.uow import request_commits
from kxflow.regions.models import County, Province


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _scope(
    role: str, county_code: str | None, province_code: str | None, fields: dict[str, list[str]]
) -> tuple[str | None, str | None]:
    """The scope a role works in, checked: a county for county roles, a province for province roles."""
    if role not in {r.value for r in Role}:
        fields["role"] = [gettext("Unknown role.")]
        return None, None
    if role in COUNTY_ROLES:
        county = db.session.get(County, county_code) if county_code else None
        if county is None or county.valid_to is not None:
            fields["county"] = [gettext("A county role needs its county: type its name and pick it from the list.")]
        return county_code, None
    if role in (Role.PROVINCE_REVIEWER, Role.EXPERT):
        if not province_code or db.session.get(Province, province_code) is None:
            fields["province"] = [gettext("This role needs its province: choose it from the list.")]
        return None, province_code
    return None, None


def create_user(
    *,
    username: str,
    password: str,
    role: str,
    county_code: str | None = None,
    province_code: str | None = None,
    email: str | None = None,
    display_name: str = "",
) -> User:
    fields: dict[str, list[str]] = {}
    county_code, province_code = _scope(role, county_code, province_code, fields)
    if not username or len(username) > 64:
        fields["username"] = [gettext("Must be 1 to 64 characters.")]
    elif db.session.scalar(select(User.id).where(User.username == username)):
        fields["username"] = [gettext("This username is taken.")]
    password_problems = passwords.problems(password, user_inputs=(username, display_name))
    if password_problems:
        fields["password"] = password_problems
    if fields:
        raise Invalid(fields=fields)
    user = User(
        username=username,
        role=role,
        county_code=county_code,
        province_code=province_code,
        email=email,
        display_name=display_name or username,
    )
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    return user


def search_users(*, q: str | None, role: str | None, province: str | None, active: bool | None, page: int) -> Page:
    """The user list an administrator pages through: by name, login name or e-mail, role, province, status."""
    stmt = select(User).outerjoin(County, County.code == User.county_code).order_by(User.role, User.username)
    if q:
        like = f"%{q}%"
        stmt = stmt.where(
            or_(
                User.display_name.ilike(like),
                User.username.ilike(like),
                User.email.ilike(like),
                County.name.ilike(like),
            )
        )
    if role:
        stmt = stmt.where(User.role == role)
    if province:
        stmt = stmt.where(or_(User.province_code == province, County.province_code == province))
    if active is not None:
        stmt = stmt.where(User.active.is_(active))
    return paginate(stmt, page)


def is_admin(user: User) -> bool:
    return user.role == Role.ADMIN


def require_admin(actor: User) -> None:
    if not is_admin(actor):
        raise Forbidden()


def admin_create_user(actor: User, **fields) -> User:
    """An administrator's new user: the administrator knows the initial password, so it is changed at first login."""
    require_admin(actor)
    user = create_user(**fields)
    user.must_change_password = True
    record(
        "user_created",
        user_id=actor.id,
        username=actor.username,
        target_user_id=user.id,
        detail={"username": user.username, "role": user.role},
    )
    return user


def update_user(
    actor: User,
    user_id: int,
    *,
    role: str,
    county_code: str | None,
    province_code: str | None,
    active: bool,
    display_name: str,
    email: str | None,
    password: str | None = None,
) -> User:
    """Changes a user's role, scope, name or state; the scope is checked as on creation."""
    require_admin(actor)
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound()
    fields: dict[str, list[str]] = {}
    county_code, province_code = _scope(role, county_code, province_code, fields)
    if password:
        password_problems = passwords.problems(password, user_inputs=(user.username, display_name))
        if password_problems:
            fields["password"] = password_problems
    if user.id == actor.id and (not active or role != Role.ADMIN):
        fields["role"] = [gettext("You cannot remove your own administrator access.")]
    if fields:
        raise Invalid(fields=fields)
    before = {"role": user.role, "county": user.county_code, "province": user.province_code, "active": user.active}
    user.role, user.county_code, user.province_code = role, county_code, province_code
    user.active, user.display_name, user.email = active, display_name or user.username, email or None
    after = {"role": user.role, "county": user.county_code, "province": user.province_code, "active": user.active}
    who = {"user_id": actor.id, "username": actor.username, "target_user_id": user.id}
    if before != after:
        event = "role_changed" if before["role"] != after["role"] else "user_changed"
        record(event, **who, detail={"before": before, "after": after})
    if not active and before["active"]:
        # a deactivated user is out at once: every session and token ends
        sessions.end_all(user.id, "deactivated")
        record("user_deactivated", **who)
    elif before != after:
        sessions.end_all(user.id, "scope_changed", tokens=False)  # the next page is seen with the new scope
    if password:
        reset_password(actor, user, password, checked=True)
    db.session.flush()
    return user


def set_lead(actor: User, user_id: int, is_lead: bool) -> User:
    """Makes a user a lead of their unit (they may reassign any of its tasks and act on them), or not."""
    require_admin(actor)
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound()
    if bool(user.is_lead) != is_lead:
        record(
            "user_changed",
            user_id=actor.id,
            username=actor.username,
            target_user_id=user.id,
            detail={"before": {"is_lead": bool(user.is_lead)}, "after": {"is_lead": is_lead}},
        )
        user.is_lead = is_lead
    db.session.flush()
    return user


def reset_password(actor: User, user: User, password: str, *, checked: bool = False) -> None:
    """An administrator sets a temporary password: every session and token of the user ends, and the user must
    choose a new password at the next login."""
    require_admin(actor)
    if not checked:
        problems = passwords.problems(password, user_inputs=(user.username, user.display_name))
        if problems:
            raise Invalid(fields={"password": problems})
    user.set_password(password)
    user.must_change_password = True
    sessions.end_all(user.id, "password_reset")
    record("password_reset", user_id=actor.id, username=actor.username, target_user_id=user.id)


def change_own_password(user: User, current: str, new: str, confirm: str, *, keep_sid: str | None) -> None:
    """A user changes their own password: the current one is asked; every other session and every token ends."""
    fields: dict[str, list[str]] = {}
    if not user.check_password(current or ""):
        fields["current"] = [gettext("The current password is not correct.")]
    problems = passwords.problems(new or "", user_inputs=(user.username, user.display_name))
    if problems:
        fields["new"] = problems
    elif new == current:
        fields["new"] = [gettext("Choose a password different from the current one.")]
    if new != confirm:
        fields["confirm"] = [gettext("The two new passwords differ.")]
    if fields:
        raise Invalid(fields=fields)
    user.set_password(new)
    user.must_change_password = False
    sessions.end_all(user.id, "password_changed", keep_sid=keep_sid)
    db.session.flush()
    record("password_changed", user_id=user.id, username=user.username)


def reset_mfa(actor: User, user_id: int) -> User:
    """An administrator removes a user's second factor (a lost phone): the user enrols again at next login
    where their role requires it. Every session and token of the user ends."""
    require_admin(actor)
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound()
    mfa.remove(user)
    sessions.end_all(user.id, "mfa_reset")
    db.session.flush()
    record("mfa_reset", user_id=actor.id, username=actor.username, target_user_id=user.id)
    return user


def end_sessions_of(actor: User, user_id: int) -> int:
    """An administrator's "end all sessions": every browser session and API token of the user."""
    require_admin(actor)
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound()
    count = sessions.end_all(user.id, "ended_by_admin")
    record("sessions_ended", user_id=actor.id, username=actor.username, target_user_id=user.id, detail={"count": count})
    return count


def update_preferences(user: User, *, locale: str | None = ..., email_all: bool | None = None) -> User:
    """A user's own settings: interface and e-mail language (None: follow the browser), e-mail for everything."""
    if locale is not ...:
        if locale not in (None, "zh", "en"):
            raise Invalid(fields={"locale": [gettext("Must be one of: %(choices)s.", choices="zh, en")]})
        user.locale = locale
    if email_all is not None:
        user.email_all = email_all
    db.session.flush()
    return user


def issue_token(user: User) -> tuple[str, ApiToken]:
    raw = secrets.token_urlsafe(32)
    ttl = timedelta(seconds=current_app.config["API_TOKEN_TTL_SECONDS"])
    row = ApiToken(user_id=user.id, token_hash=_hash(raw), expires_at=clock.now() + ttl, **sessions.client_info())
    db.session.add(row)
    db.session.flush()
    return raw, row


# a live (unexpired, unrevoked) token of an active user: written once, for the read and for the note of its use
_LIVE = (
    ApiToken.token_hash == bindparam("hashed"),
    ApiToken.revoked_at.is_(None),
    ApiToken.expires_at > bindparam("now"),
    User.active.is_(True),
)
# built once: only the values change from one request to the next (building the statement cost more than running it)
_TOKEN_USER = select(User, ApiToken.id, ApiToken.last_used_at).join(ApiToken, ApiToken.user_id == User.id).where(*_LIVE)

_TOUCH = (
    update(ApiToken.__table__)
    .where(ApiToken.__table__.c.id == bindparam("token_id"))
    .values(last_used_at=bindparam("used_at"))
)

# PostgreSQL, a write request: the last use noted in the statement that reads the token, when it is due (a
# data-modifying CTE runs whether or not its rows are read; the SELECT sees the token as it was before it). Its
# values are named unlike any column of the table: SQLAlchemy would take such a name as one more column to SET.
_TOKEN_USER_NOTING_USE = _TOKEN_USER.add_cte(
    update(ApiToken.__table__)
    .where(
        # the same live token, its own FROM (not correlated to the table the UPDATE writes)
        ApiToken.__table__.c.id.in_(
            select(ApiToken.id).join(User, User.id == ApiToken.user_id).where(*_LIVE).correlate(None)
        ),
        or_(ApiToken.__table__.c.last_used_at.is_(None), ApiToken.__table__.c.last_used_at <= bindparam("due")),
    )
    .values(last_used_at=bindparam("now"))
    .returning(ApiToken.__table__.c.id)
    .cte("noted")
)


def _due(last_used: datetime | None, now: datetime) -> bool:
    return last_used is None or now - last_used >= sessions.TOUCH_EVERY


def user_for_token(raw: str) -> User:
    """The active user behind a live (unexpired, unrevoked) token, or 401. Its last use is noted at most once a
    minute (我的会话 shows it): with the request's own writes in a write request (on PostgreSQL in the very
    statement that reads the token), otherwise in a transaction of its own.

    Read from the database on every request, on purpose: a revoked token, an ended session, a changed password or
    a deactivated user is refused at once by every worker (no process keeps a token it has seen)."""
    now = clock.now()
    params = {"hashed": _hash(raw), "now": now}
    noted_with_read = request_commits() and is_postgres()
    if noted_with_read:
        # if the request fails, its writes and this note are rolled back together: the next request notes the use
        row = db.session.execute(_TOKEN_USER_NOTING_USE, {**params, "due": now - sessions.TOUCH_EVERY}).first()
    else:
        row = db.session.execute(_TOKEN_USER, params).first()
    if row is None:
        raise Unauthorized()
    user, token_id, last_used = row
    if not noted_with_read and _due(last_used, now):
        if request_commits():  # SQLite: with the request's writes, as a statement of its own
            db.session.execute(_TOUCH, {"token_id": token_id, "used_at": now})
        else:
            with side_transaction(durable=False) as conn:
                conn.execute(_TOUCH, {"token_id": token_id, "used_at": now})
    return user


def revoke_token(raw: str) -> None:
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash(raw)))
    if row is not None and row.revoked_at is None:
        row.revoked_at = clock.now()
        record("token_revoked", user_id=row.user_id, detail={"token_id": row.id})


@dataclass(frozen=True)
class SecurityLogFilters:
    event: str | None = None
    user: str | None = None
    ip: str | None = None
    since: date | None = None
    until: date | None = None
    page: int = 1

    @classmethod
    def from_args(cls, args) -> SecurityLogFilters:
        def day(name: str) -> date | None:
            try:
                value = date.fromisoformat(args.get(name) or "")
            except ValueError:
                return None
            return value if 2000 <= value.year <= 2100 else None

        event = args.get("event") if args.get("event") in EVENTS else None
        page = page_arg(args)
        return cls(
            event=event,
            user=(args.get("user") or "").strip()[:64] or None,
            ip=(args.get("ip") or "").strip()[:64] or None,
            since=day("since"),
            until=day("until"),
            page=page,
        )


def security_events(actor: User, f: SecurityLogFilters, per_page: int = 50) -> Page:
    require_admin(actor)
    stmt = select(SecurityEvent)
    if f.event:
        stmt = stmt.where(SecurityEvent.event == f.event)
    if f.user:
        ids = select(User.id).where(User.username == f.user)
        stmt = stmt.where(
            or_(SecurityEvent.username == f.user, SecurityEvent.user_id.in_(ids), SecurityEvent.target_user_id.in_(ids))
        )
    if f.ip:
        stmt = stmt.where(SecurityEvent.source_ip == f.ip)
    if f.since:
        stmt = stmt.where(SecurityEvent.at >= datetime.combine(f.since, time.min, tzinfo=CHINA))
    if f.until:
        stmt = stmt.where(SecurityEvent.at < datetime.combine(f.until + timedelta(days=1), time.min, tzinfo=CHINA))
    return paginate(stmt.order_by(SecurityEvent.id.desc()), f.page, per_page)


def usernames(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(db.session.execute(select(User.id, User.username).where(User.id.in_(ids))).all())
