"""The second factor: TOTP (RFC 6238, through pyotp) with QR enrolment, and one-time recovery codes.

A code is accepted once: the time step it belongs to is remembered, so a code seen over a shoulder or in a
log cannot be replayed. Recovery codes carry 120 random bits each, so a plain SHA-256 of each is enough
(ASVS 6.5.2); each works once.
"""

from __future__ import annotations

import hashlib
import io
import secrets

import pyotp
import segno
from flask import current_app
from sqlalchemy import select, update

from kxflow.accounts.models import RecoveryCode, User
from kxflow.core import clock
from kxflow.core.db import db

RECOVERY_CODES = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off paper without doubt


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=current_app.config["MFA_ISSUER"])


def qr_svg(uri: str) -> str:
    """The enrolment QR code as inline SVG (drawn with attributes, so no style to allow)."""
    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="svg", scale=5, xmldecl=False, svgns=True, title="TOTP")
    return out.getvalue().decode()


def _step(secret: str, code: str) -> int | None:
    """The time step a code belongs to (this one or its neighbours, for clock drift), or None."""
    code = "".join(ch for ch in code if ch.isdigit())
    if len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    now = clock.now()
    for drift in (0, -1, 1):
        if totp.verify(code, for_time=now.timestamp() + drift * totp.interval):
            return totp.timecode(now) + drift
    return None


def code_step(secret: str, code: str) -> int | None:
    """For enrolment: the time step of the first code from the new authenticator, or None if it does not fit."""
    return _step(secret, code)


def check_code(user: User, code: str) -> bool:
    """A TOTP code for the user's factor, used at most once (the step is recorded in the request's transaction
    and guarded by the previous value, so two requests with one code cannot both pass)."""
    if user.totp_secret is None:
        return False
    step = _step(user.totp_secret, code)
    if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
        return False
    taken = db.session.execute(
        update(User)
        .where(User.id == user.id, (User.totp_last_step.is_(None)) | (User.totp_last_step < step))
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    ).rowcount
    if taken:
        user.totp_last_step = step
    return bool(taken)


def _hash(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").replace(" ", "").lower().encode()).hexdigest()


def new_recovery_codes(user: User) -> list[str]:
    """Replaces the user's recovery codes; returns the new ones, shown once and never again."""
    db.session.execute(update(RecoveryCode).where(RecoveryCode.user_id == user.id).values(used_at=clock.now()))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(25))  # 25 × log2(31) ≈ 124 bits
        codes.append("-".join(raw[i : i + 5] for i in range(0, 25, 5)))
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=_hash(c)) for c in codes)
    db.session.flush()
    return codes


def use_recovery_code(user: User, code: str) -> bool:
    row_id = db.session.scalar(
        select(RecoveryCode.id).where(
            RecoveryCode.user_id == user.id, RecoveryCode.code_hash == _hash(code), RecoveryCode.used_at.is_(None)
        )
    )
    if row_id is None:
        return False
    return bool(
        db.session.execute(
            update(RecoveryCode)
            .where(RecoveryCode.id == row_id, RecoveryCode.used_at.is_(None))
            .values(used_at=clock.now())
        ).rowcount
    )


def remaining_recovery_codes(user: User) -> int:
    return len(
        db.session.scalars(
            select(RecoveryCode.id).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        ).all()
    )


def enrol(user: User, secret: str, step: int) -> list[str]:
    """Confirms the factor (the enrolment code's step counts as used) and gives fresh recovery codes."""
    user.totp_secret, user.totp_last_step, user.mfa_enrolled_at = secret, step, clock.now()
    return new_recovery_codes(user)


def remove(user: User) -> None:
    user.totp_secret, user.totp_last_step, user.mfa_enrolled_at = None, None, None
    db.session.execute(update(RecoveryCode).where(RecoveryCode.user_id == user.id).values(used_at=clock.now()))


def required_for(user: User) -> bool:
    return user.role in current_app.config["MFA_REQUIRED_ROLES"]
