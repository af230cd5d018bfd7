"""API: log in for a bearer token, and revoke it."""

from __future__ import annotations

from flask import current_app
from flask_babel import gettext
from marshmallow import Schema, fields, validate

from kxflow.accounts import login, mfa
from kxflow.accounts.auth import api_user, bearer_token, require_api_user
from kxflow.accounts.operations import issue_token, revoke_token, update_preferences
from kxflow.core.blueprints import Blueprint
from kxflow.core.errors import AppError, Forbidden
from kxflow.core.extensions import limiter
from kxflow.core.fields import ChinaDateTime
from kxflow.core.uow import transaction

blp = Blueprint("tokens", __name__, url_prefix="/api/v1/tokens", description="Bearer tokens")


class TokenRequest(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, validate=validate.Length(min=1, max=256))
    otp = fields.String(
        validate=validate.Length(min=6, max=40),
        metadata={"description": "the 6-digit code of the second factor (or a recovery code), for users who have one"},
    )


class OtpRequired(AppError):
    status, code = 401, "otp_required"


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
    """A bearer token for a username and password, and ``otp`` (the second factor's code) for a user who has one.
    Wrong attempts count toward the same per-account lockout as the web login (429 while locked)."""
    with transaction():
        user = login.check_password(body["username"], body["password"])
        if user.has_mfa:
            if not body.get("otp"):
                raise OtpRequired(gettext("This account uses a second factor: send its 6-digit code as otp."))
            login.check_second_factor(user, body["otp"])
        elif mfa.required_for(user):
            raise Forbidden(
                gettext("Your role requires a second factor: set it up on the web first (My settings, Second factor).")
            )
        if user.must_change_password:
            raise Forbidden(gettext("Your password was reset: log in on the web and choose a new one first."))
        raw, row = issue_token(user)
        login.succeeded(user, "api")
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
