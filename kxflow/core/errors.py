"""Domain errors and the one JSON error envelope every API answer uses.

Operations raise these; the API turns them into
``{"error": <message in the user's language>, "code": <stable key>, "status": <int>, ...}``
with extra keys where a client needs them (``fields``, ``reasons``, ``allowed_triggers``).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, g, jsonify, request
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_limiter.errors import RateLimitExceeded
from flask_login import current_user
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from kxflow.core.security_log import record
from kxflow.core.validation import translate_messages

log = logging.getLogger(__name__)


class AppError(Exception):
    status = 400
    code = "bad_request"
    default_message = _l("The request is not valid.")

    def __init__(self, message: Any = None, **extra: Any) -> None:
        super().__init__(str(message or self.default_message))
        self.message = message or self.default_message
        self.extra = extra


class Unauthorized(AppError):
    status, code = 401, "unauthorized"
    default_message = _l("Please log in: the token is missing, expired or not valid.")


class Forbidden(AppError):
    status, code = 403, "forbidden"
    default_message = _l("Your role may not do this.")


class NotFound(AppError):
    status, code = 404, "not_found"
    default_message = _l("Not found.")


class Conflict(AppError):
    status, code = 409, "conflict"
    default_message = _l("Someone else changed this first; reload and try again.")


class Invalid(AppError):
    """Input that fails validation: ``fields`` maps each field to its problems."""

    status, code = 422, "invalid"
    default_message = _l("Some fields are not valid.")


class AddressTooLong(AppError):
    """A query string longer than any page or API call needs (gunicorn refuses longer request lines itself)."""

    status, code = 414, "uri_too_long"
    default_message = _l("The address is too long; shorten the search or the filters.")


class Unavailable(AppError):
    """The database went away in the middle of the request: nothing was saved; trying again is safe."""

    status, code = 503, "unavailable"
    default_message = _l("The connection to the database was lost; nothing was saved. Please try again.")


class StorageFull(AppError):
    """The disk is full: the upload was not stored (and nothing else of the request was written)."""

    status, code = 507, "storage_full"
    default_message = _l("The server's storage is full; nothing was saved. Please tell your administrator.")


class GuardFailed(AppError):
    """A workflow guard refused: ``reasons`` lists every reason at once."""

    status, code = 422, "guard_failed"
    default_message = _l("The action is not possible yet.")


_HTTP_MESSAGES = {
    400: _l("The request is not valid."),
    401: Unauthorized.default_message,
    403: Forbidden.default_message,
    404: NotFound.default_message,
    405: _l("This method is not allowed here."),
    413: _l("The upload is too large."),
    415: _l("This content type is not supported."),
    429: _l("Too many requests; please wait and try again."),
    500: _l("Internal error; it has been logged."),
}


def envelope(status: int, code: str, message: Any, **extra: Any):
    body = {"error": str(message), "code": code, "status": status}
    body.update({k: v for k, v in extra.items() if v is not None})
    response = jsonify(body)
    response.status_code = status
    return response


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz" or request.is_json


def limit_message(exc: Exception | None) -> str | None:
    """What a rate limit that says why (its ``error_message``, in the reader's language) tells the user."""
    if isinstance(exc, RateLimitExceeded) and exc.limit.error_message:
        return exc.description
    return None


def http_error_response(exc: HTTPException):
    status = exc.code or 500
    extra: dict[str, Any] = {}
    data = getattr(exc, "data", None)  # webargs/flask-smorest attach the validation messages here
    if data and isinstance(data.get("messages"), dict):
        extra["fields"] = translate_messages(data["messages"])
        response = envelope(status, "invalid", Invalid.default_message, **extra)
    else:
        code = exc.name.lower().replace(" ", "_") if exc.name else "error"
        message = limit_message(exc) or _HTTP_MESSAGES.get(status, exc.description)
        response = envelope(status, code, message, **extra)
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


def _who() -> tuple[int | None, str | None]:
    """The caller, as plain values: the API token's user, or the logged-in user of the web session."""
    user = g.get("api_user")
    if user is None:
        try:
            from_login = current_user
            user = from_login if from_login and from_login.is_authenticated else None
        except Exception:  # no login manager on this request
            user = None
    return (getattr(user, "id", None), getattr(user, "username", None))


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(AppError)
    def _app_error(exc: AppError):
        if isinstance(exc, Forbidden | NotFound):
            # a refusal by role or scope: outside one's scope a thing "does not exist" (404), and is logged
            user_id, username = _who()
            if user_id is not None:
                record("access_refused", user_id=user_id, username=username, status=exc.status)
        if not _wants_json() and app.config.get("HTML_ERROR_HANDLER"):
            return app.config["HTML_ERROR_HANDLER"](exc.status, exc)
        return envelope(exc.status, exc.code, exc.message, **exc.extra)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if not _wants_json() and app.config.get("HTML_ERROR_HANDLER"):
            return app.config["HTML_ERROR_HANDLER"](exc.code or 500, exc)
        return http_error_response(exc)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        if not _wants_json() and app.config.get("HTML_ERROR_HANDLER"):
            return app.config["HTML_ERROR_HANDLER"](500, exc)
        return envelope(500, "internal_error", gettext("Internal error; it has been logged."))
