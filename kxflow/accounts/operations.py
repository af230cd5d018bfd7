"""Account rules: creating users with a valid scope, logging in, issuing and checking tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import current_app
from flask_babel import gettext
from sqlalchemy import or_, select

from kxflow.accounts.models import ApiToken, User
from kxflow.accounts.roles import COUNTY_ROLES, Role
from kxflow.core import clock
from kxflow.core.db import db
from kxflow.core.errors import Forbidden, Invalid, NotFound, Unauthorized
from kxflow.core.paging import Page, paginate
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
    if len(password) < 8:
        fields["password"] = [gettext("Must be at least %(min)s characters.", min=8)]
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
    require_admin(actor)
    return create_user(**fields)


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
    if password and len(password) < 8:
        fields["password"] = [gettext("Must be at least %(min)s characters.", min=8)]
    if user.id == actor.id and (not active or role != Role.ADMIN):
        fields["role"] = [gettext("You cannot remove your own administrator access.")]
    if fields:
        raise Invalid(fields=fields)
    user.role, user.county_code, user.province_code = role, county_code, province_code
    user.active, user.display_name, user.email = active, display_name or user.username, email or None
    if password:
        user.set_password(password)
    db.session.flush()
    return user


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


def authenticate(username: str, password: str) -> User | None:
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None or not user.active or not user.check_password(password):
        return None
    return user


def issue_token(user: User) -> tuple[str, ApiToken]:
    raw = secrets.token_urlsafe(32)
    ttl = timedelta(seconds=current_app.config["API_TOKEN_TTL_SECONDS"])
    row = ApiToken(user_id=user.id, token_hash=_hash(raw), expires_at=clock.now() + ttl)
    db.session.add(row)
    db.session.flush()
    return raw, row


def user_for_token(raw: str) -> User:
    """The active user behind a live (unexpired, unrevoked) token, or 401."""
    user = db.session.scalar(
        select(User)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(
            ApiToken.token_hash == _hash(raw),
            ApiToken.revoked_at.is_(None),
            ApiToken.expires_at > clock.now(),
            User.active.is_(True),
        )
    )
    if user is None:
        raise Unauthorized()
    return user


def revoke_token(raw: str) -> None:
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash(raw)))
    if row is not None and row.revoked_at is None:
        row.revoked_at = clock.now()
