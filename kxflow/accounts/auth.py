"""Who is asking: bearer tokens for the API (never cookies, so no CSRF surface there)."""

from __future__ import annotations

from flask import g, request

from kxflow.accounts.models import User
from kxflow.accounts.operations import user_for_token
from kxflow.core.errors import Unauthorized


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def api_user() -> User:
    """The user behind this API request's token, or 401."""
    if "api_user" not in g:
        token = bearer_token()
        if token is None:
            raise Unauthorized()
        g.api_user = user_for_token(token)
    return g.api_user


def require_api_user() -> None:
    """``before_request`` of every token-protected blueprint: 401 comes before any body validation."""
    if request.method != "OPTIONS":
        api_user()
