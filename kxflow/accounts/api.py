"""API: log in for a bearer token, and revoke it."""

from __future__ import annotations

from flask import current_app
from flask_babel import gettext
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from kxflow.accounts.auth import api_user, bearer_token, require_api_user
from kxflow.accounts.operations import authenticate, issue_token, revoke_token, update_preferences
from kxflow.core.errors import Unauthorized
from kxflow.core.extensions import limiter
from kxflow.core.fields import ChinaDateTime
from kxflow.core.uow import transaction

blp = Blueprint("tokens", __name__, url_prefix="/api/v1/tokens", description="Bearer tokens")


class TokenRequest(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, validate=validate.Length(min=1, max=256))


class TokenResponse(Schema):
    token = fields.String()
    expires_at = ChinaDateTime()
    username = fields.String()
    role = fields.String()


@blp.route("", methods=["POST"])
@limiter.limit(lambda: current_app.config["TOKEN_RATE_LIMIT"])
@blp.arguments(TokenRequest)
@blp.response(201, TokenResponse)
def create_token(body):
    with transaction():
        user = authenticate(body["username"], body["password"])
        if user is None:
            raise Unauthorized(gettext("Wrong username or password, or the account is disabled."))
        raw, row = issue_token(user)
    return {"token": raw, "expires_at": row.expires_at, "username": user.username, "role": user.role}


@blp.route("/current", methods=["DELETE"])
@blp.response(204)
def revoke_current():
    api_user()
    with transaction():
        revoke_token(bearer_token() or "")


me_blp = Blueprint("me", __name__, url_prefix="/api/v1/me", description="My account")
me_blp.before_request(require_api_user)


class MeOut(Schema):
    username = fields.String()
    display_name = fields.String()
    role = fields.String()
    county_code = fields.String(allow_none=True)
    province_code = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    locale = fields.String(allow_none=True)
    email_all = fields.Boolean()


class MeIn(Schema):
    locale = fields.String(allow_none=True, validate=validate.OneOf(["zh", "en"]))
    email_all = fields.Boolean()


@me_blp.route("", methods=["GET"])
@me_blp.response(200, MeOut)
def me():
    return api_user()


@me_blp.route("", methods=["PATCH"])
@me_blp.arguments(MeIn)
@me_blp.response(200, MeOut)
def update_me(body):
    """My settings: language (null: follow the browser) and whether to e-mail me every notification."""
    with transaction():
        user = update_preferences(api_user(), **body)
    return user
