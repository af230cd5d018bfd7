"""One commit per request or task, structurally.

Every route that can write (POST, PUT, PATCH, DELETE) runs inside ``unit_of_work``, wrapped around
the view when the app is built: the view's writes commit once, after it returns, or not at all
if it raises. Inside a request, ``transaction()`` marks one operation: it commits nothing itself,
but if the operation fails the session is rolled back so a view that catches the refusal (to show
it next to the form) cannot commit half of it, and a lost race becomes a 409. ``item()`` is the
savepoint for requests that act on several items: one refusal undoes only its own item.

Outside a request (CLI, Celery tasks) ``transaction()`` is the unit of work itself and commits.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, g, has_request_context, request
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError

from kxflow.core.db import db
from kxflow.core.errors import Conflict, Unavailable

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _is_unique_violation(exc: IntegrityError) -> bool:
    # a lost race for a unique key (two "first" applications of one county); other integrity
    # errors are bugs and must surface as 500
    return getattr(exc.orig, "sqlstate", None) == "23505" or "UNIQUE constraint failed" in str(exc.orig)


def _is_lock_conflict(exc: OperationalError) -> bool:
    # SQLite: "database is locked"; PostgreSQL: serialization/deadlock/lock-not-available
    code = getattr(exc.orig, "sqlstate", None)
    return code in {"40001", "40P01", "55P03"} or "database is locked" in str(exc.orig)


def _undo_unless_gone(undo: Callable[[], None], exc: OperationalError) -> None:
    """Rolls back; when the connection itself was lost, the server has already dropped the transaction."""
    try:
        undo()
    except Exception:
        if not exc.connection_invalidated:
            raise
        db.session.rollback()


@contextmanager
def _conflicts_as_409(undo: Callable[[], None]) -> Iterator[None]:
    """Runs a block; on any failure calls ``undo`` and re-raises, a lost race as ``Conflict``."""
    try:
        yield
    except StaleDataError as exc:
        undo()
        raise Conflict() from exc
    except IntegrityError as exc:
        undo()
        if _is_unique_violation(exc):
            raise Conflict() from exc
        raise
    except OperationalError as exc:
        _undo_unless_gone(undo, exc)
        if _is_lock_conflict(exc):
            raise Conflict() from exc
        if exc.connection_invalidated:
            raise Unavailable() from exc
        raise
    except BaseException:
        undo()
        raise


def request_commits() -> bool:
    """True inside a request whose view the unit of work wraps (a write method): what is written now commits with
    the view's writes, or is rolled back with them."""
    return has_request_context() and request.method in WRITE_METHODS


def _in_unit_of_work() -> bool:
    return has_request_context() and g.get("_kxflow_uow", False)


@contextmanager
def transaction() -> Iterator[None]:
    """One operation: commits on its own outside a request; inside one, leaves the commit to the request."""
    with _conflicts_as_409(db.session.rollback):
        yield
        if _in_unit_of_work():
            db.session.flush()  # a lost race surfaces here, inside the handler, as a 409
        else:
            db.session.commit()


@contextmanager
def item() -> Iterator[None]:
    """One item of a request that acts on several: a savepoint, so a refusal undoes only this item."""
    savepoint = db.session.begin_nested()
    with _conflicts_as_409(savepoint.rollback):
        yield
        savepoint.commit()


def unit_of_work(view: Callable[..., Any]) -> Callable[..., Any]:
    """The view's writes commit once after it returns, or are rolled back if it raises."""

    @functools.wraps(view)
    def run(*args: Any, **kwargs: Any) -> Any:
        g._kxflow_uow = True
        with _conflicts_as_409(db.session.rollback):
            response = view(*args, **kwargs)
            db.session.commit()
        return response

    run.unit_of_work = True  # type: ignore[attr-defined]
    return run


def wrap_write_routes(app: Flask) -> None:
    """Puts every route that accepts a write method inside ``unit_of_work`` (called once all are registered)."""
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules() if rule.methods & WRITE_METHODS}
    for endpoint in endpoints:
        view = app.view_functions[endpoint]
        if not getattr(view, "unit_of_work", False):
            app.view_functions[endpoint] = unit_of_work(view)
