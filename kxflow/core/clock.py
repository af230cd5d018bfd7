"""The one place the code asks what time it is, so tests can move time instead of sleeping.

All times are timezone-aware UTC; pages convert to Asia/Shanghai for display.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

_frozen: datetime | None = None
# A replay runs its worker processes days ahead of the wall clock, time still flowing there (retries, locks);
# production refuses to start with it set (config.unsafe_settings).
OFFSET_VARIABLE = "KXFLOW_CLOCK_OFFSET_SECONDS"
_offset = timedelta(seconds=float(os.environ.get(OFFSET_VARIABLE) or 0))


def now() -> datetime:
    if _frozen is not None:
        return _frozen
    return datetime.now(UTC) + _offset if _offset else datetime.now(UTC)


def offset() -> timedelta:
    return _offset


def freeze(at: datetime | None) -> None:
    """Pin the clock (tests); None releases it."""
    global _frozen
    if at is not None and at.tzinfo is None:
        raise ValueError("frozen time must be timezone-aware")
    _frozen = at


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@contextmanager
def at(moment: datetime) -> Iterator[None]:
    """Runs a block as if it were ``moment`` (demo data with a history), then puts the clock back."""
    previous = _frozen
    freeze(moment)
    try:
        yield
    finally:
        freeze(previous)
