"""Language choice (Chinese first) and formatting helpers."""

from __future__ import annotations

from flask import g, has_request_context, request
from flask_babel import Babel
from flask_login import current_user

LANGUAGES = ("zh", "en")
babel = Babel()


def select_locale() -> str:
    if not has_request_context():  # CLI and workers: Chinese unless they force another locale
        return "zh"
    asked = request.args.get("lang") or request.cookies.get("lang")
    if asked in LANGUAGES:
        return asked
    user = g.get("api_user") or _session_user()
    if user is not None and getattr(user, "locale", None) in LANGUAGES:
        return user.locale
    return request.accept_languages.best_match(LANGUAGES, default="zh") or "zh"


def _session_user():
    try:
        return current_user if current_user and current_user.is_authenticated else None
    except Exception:  # outside a request with a login manager
        return None
