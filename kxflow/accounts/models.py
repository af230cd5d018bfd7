"""User accounts (one role, one scope each), their sessions, second factor and hashed, expiring API tokens."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kxflow.accounts import passwords
from kxflow.accounts.roles import Role
from kxflow.core import clock
from kxflow.core.db import db
from kxflow.core.types import UTCDateTime
from kxflow.regions.models import County, Province

_ROLES_SQL = ", ".join(f"'{r.value}'" for r in Role)


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(f"role IN ({_ROLES_SQL})", name="role_known"),
        # the scope a role works in is part of the row, so no user can exist without it
        CheckConstraint(
            "(role NOT IN ('county_staff', 'county_leader')) OR county_code IS NOT NULL",
            name="county_roles_have_county",
        ),
        CheckConstraint(
            "(role NOT IN ('province_reviewer', 'expert')) OR province_code IS NOT NULL",
            name="province_roles_have_province",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    display_name: Mapped[str] = mapped_column(String(80), default="")
    email: Mapped[str | None] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(20))
    county_code: Mapped[str | None] = mapped_column(ForeignKey("counties.code"), index=True)
    province_code: Mapped[str | None] = mapped_column(ForeignKey("provinces.code"), index=True)
    locale: Mapped[str | None] = mapped_column(String(8))  # None: follow the browser (Chinese first)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # requests for action are always e-mailed; the rest (for information) only on request
    email_all: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # a lead of their unit (set by an administrator): may reassign any task of the unit and act on it
    is_lead: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # set by an administrator's reset (or a new account's initial password): change it before anything else
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # TOTP second factor: the shared secret (base32) once confirmed, and the last time step used (no replay)
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    mfa_enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    county: Mapped[County | None] = relationship()
    province: Mapped[Province | None] = relationship()

    def set_password(self, password: str) -> None:
        self.password_hash = passwords.hash_password(password)
        self.password_changed_at = clock.now()

    def check_password(self, password: str) -> bool:
        return passwords.verify(self.password_hash, password)

    @property
    def has_mfa(self) -> bool:
        return self.totp_secret is not None

    @property
    def is_active(self) -> bool:  # Flask-Login
        return bool(self.active)


class ApiToken(db.Model):
    """A bearer token: only its sha256 is stored; it expires and can be revoked."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    source_ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))

    user: Mapped[User] = relationship()


class UserSession(db.Model):
    """A logged-in browser: the cookie carries a random id, only its sha256 is here. Ends on logout, password
    change, deactivation, an administrator's "end all sessions", after idling or at its absolute limit."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    sid_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the absolute limit
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(20))
    source_ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))


class RecoveryCode(db.Model):
    """A one-time code for when the authenticator is lost: only its hash is kept; used once, then spent."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
