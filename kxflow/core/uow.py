"""One commit per request: handlers run inside ``transaction()``; a lost race becomes a 409."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError

from kxflow.core.db import db
from kxflow.core.errors import Conflict

F = TypeVar("F", bound=Callable[..., Any])


def _is_unique_violation(exc: IntegrityError) -> bool:
    # a lost race for a unique key (two "first" applications of one county); other integrity
    # errors are bugs and must surface as 500
    return getattr(exc.orig, "sqlstate", None) == "23505" or "UNIQUE constraint failed" in str(exc.orig)


def _is_lock_conflict(exc: OperationalError) -> bool:
    # SQLite: "database is locked"; PostgreSQL: serialization/deadlock/lock-not-available
    code = getattr(exc.orig, "sqlstate", None)
    return code in {"40001", "40P01", "55P03"} or "database is locked" in str(exc.orig)


@contextmanager
def transaction() -> Iterator[None]:
    try:
        yield
        db.session.commit()
    except StaleDataError as exc:
        db.session.rollback()
        raise Conflict() from exc
    except IntegrityError as exc:
        db.session.rollback()
        if _is_unique_violation(exc):
            raise Conflict() from exc
        raise
    except OperationalError as exc:
        db.session.rollback()
        if _is_lock_conflict(exc):
            raise Conflict() from exc
        raise
    except BaseException:
        db.session.rollback()
        raise
