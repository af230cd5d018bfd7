"""Passwords: Argon2id at OWASP's parameters (older hashes upgraded at the next login), a policy that checks
length and a list of common and breached passwords offline, and the same work for unknown names as known ones.

``PASSWORD_HASH_METHOD`` is ``argon2id`` everywhere but the test suite, which keeps a fast Werkzeug method
(``pbkdf2:sha256:1000``) so that thousands of logins stay quick; one test checks the production parameters.
``generated_accounts`` does the same for the thousands of accounts ``seed-history`` makes (never in production,
never for a login or a password a person chose): their hashes are upgraded to Argon2id at the first login.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import gettext
from werkzeug.security import check_password_hash, generate_password_hash
from zxcvbn import zxcvbn

# RFC 9106's second recommendation, above OWASP's minimum (19 MiB, t=2, p=1): 64 MiB, 3 passes, 4 lanes
ARGON2 = PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4, hash_len=32, salt_len=16)
MAX_LENGTH = 128  # long passphrases welcome; the cap keeps hashing and strength checks bounded
MIN_SCORE = 3  # zxcvbn: 0 too guessable … 4 very unguessable; 3 resists an offline attack on a slow hash
QUICK_METHOD = "pbkdf2:sha256:1000"  # generated accounts only: needs_rehash is true for it under Argon2id
_quick: ContextVar[bool] = ContextVar("kxflow_quick_hashes", default=False)


def method() -> str:
    return current_app.config.get("PASSWORD_HASH_METHOD", "argon2id")


@contextmanager
def generated_accounts() -> Iterator[None]:
    """Accounts a generator makes by the thousand (seed-history): a quick hash instead of Argon2id's 64 MiB and
    three passes (a third of a second each), upgraded by the first login. Only ``hash_password`` reads it."""
    token = _quick.set(True)
    try:
        yield
    finally:
        _quick.reset(token)


def hash_password(password: str) -> str:
    if _quick.get():
        return generate_password_hash(password, method=QUICK_METHOD)
    if method() == "argon2id":
        return ARGON2.hash(password)
    return generate_password_hash(password, method=method())


def verify(stored: str, password: str) -> bool:
    if stored.startswith("$argon2"):
        try:
            return ARGON2.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False
    return check_password_hash(stored, password)


def needs_rehash(stored: str) -> bool:
    """True when the stored hash is not of the current method and parameters (upgraded at the next login)."""
    if method() == "argon2id":
        return not stored.startswith("$argon2id$") or ARGON2.check_needs_rehash(stored)
    return not stored.startswith(method() + "$")


@cache
def _dummy_hash(current: str) -> str:
    return hash_password("not-a-real-password-for-timing-only")


def burn_time(password: str) -> None:
    """The work of checking a password, for a name that does not exist: both answers take as long."""
    verify(_dummy_hash(method()), password)


def problems(password: str, *, user_inputs: tuple[str, ...] = ()) -> list[str]:
    """What is wrong with a new password, in the user's language (empty when it is acceptable).

    No composition rules (ASVS 6.2.5): a minimum length, a maximum that allows passphrases, and a strength
    estimate that knows the common and breached passwords shipped with zxcvbn, the user's own name and the site.
    """
    minimum = current_app.config.get("PASSWORD_MIN_LENGTH", 12)
    if len(password) < minimum:
        return [gettext("Must be at least %(min)s characters.", min=minimum)]
    if len(password) > MAX_LENGTH:
        return [gettext("Must be at most %(max)s characters.", max=MAX_LENGTH)]
    if "\x00" in password:
        return [gettext("Must not contain control characters.")]
    context = [v for v in (*user_inputs, "kxflow", "示范县") if v]
    result = zxcvbn(password, user_inputs=context, max_length=MAX_LENGTH)
    if result["score"] < MIN_SCORE:
        return [
            gettext(
                "This password is too easy to guess (common, leaked in a breach, or built from your name). "
                "Use a longer phrase of unrelated words."
            )
        ]
    return []
