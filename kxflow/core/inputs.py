"""Bounds on everything a request carries, before any view sees it: ids in paths within the database's integer
range (beyond it nothing can exist: 404), no NUL byte and no text longer than any field allows in a query,
form or JSON body (422 naming the field), and a number or date the database cannot hold is a 422, never a 500.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, request
from flask_babel import gettext
from sqlalchemy.exc import DataError
from werkzeug.routing import IntegerConverter

from kxflow.core import limits
from kxflow.core.db import db
from kxflow.core.errors import AddressTooLong, Invalid
from kxflow.core.fields import INT32


class BoundedIntConverter(IntegerConverter):
    """``<int:…>`` in every route: an id past what an integer column holds matches no route (404)."""

    def __init__(self, map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", INT32[1])
        super().__init__(map, *args, **kwargs)


def _problem(value: str) -> str | None:
    if "\x00" in value:
        return gettext("Must not contain a NUL character.")
    if len(value) > limits.ANY_TEXT:
        return gettext("Must be at most %(max)s characters.", max=limits.ANY_TEXT)
    return None


def _walk(value: Any, name: str, out: dict[str, list[str]]) -> None:
    if isinstance(value, str):
        problem = _problem(value)
        if problem:
            out[name or "_body"] = [problem]
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and "\x00" in key:
                out[name or "_body"] = [gettext("Must not contain a NUL character.")]
            _walk(item, f"{name}.{key}" if name else str(key), out)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, f"{name}.{index}" if name else str(index), out)


MAX_QUERY_BYTES = 4096  # well below gunicorn's request-line limit (8190, set where it is started)


def check_request() -> None:
    if len(request.query_string) > MAX_QUERY_BYTES:
        raise AddressTooLong()
    problems: dict[str, list[str]] = {}
    for source in (request.args, request.form):
        for key, values in source.lists():
            if key is None:  # a multipart field whose name could not be read
                problems["_body"] = [gettext("A field of the form has no readable name.")]
                continue
            if "\x00" in key:
                problems["_body"] = [gettext("Must not contain a NUL character.")]
            for value in values:
                _walk(value, key, problems)
    for key in request.files:
        if "\x00" in (request.files[key].filename or ""):
            problems[key] = [gettext("Must not contain a NUL character.")]
    if request.is_json:
        _walk(request.get_json(silent=True), "", problems)
    if problems:
        raise Invalid(fields=problems)


def init_inputs(app: Flask) -> None:
    app.url_map.converters["int"] = BoundedIntConverter
    app.before_request(check_request)

    @app.errorhandler(DataError)
    @app.errorhandler(OverflowError)
    def _out_of_range(exc: Exception):
        # a value the database cannot hold (a number past its column, a date past its range) that slipped past
        # the schemas: the user's mistake, said as such, with the transaction undone
        db.session.rollback()
        app.logger.warning("value out of range on %s %s: %s", request.method, request.path, exc)
        return app.handle_user_exception(Invalid(gettext("A number or date is outside the range allowed.")))


MAX_PAGE = 10_000


def page_arg(args: Any) -> int:
    """The ``page`` of a web list: 1 when absent or unreadable, a 422 naming it when past any list's end."""
    page = args.get("page", 1, type=int) or 1
    if not 1 <= page <= MAX_PAGE:
        raise Invalid(fields={"page": [gettext("Must be between %(min)s and %(max)s.", min=1, max=MAX_PAGE)]})
    return page
