"""The Flask extensions, created unbound and initialised in ``create_app``."""

from __future__ import annotations

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api
from flask_wtf.csrf import CSRFProtect
from marshmallow import Schema, fields

from kxflow.core.errors import http_error_response


class RowProblem(Schema):
    row = fields.Integer(metadata={"description": "the row as the user numbers it (the header is row 1; 0: the file)"})
    field = fields.String()
    message = fields.String()


class ErrorEnvelope(Schema):
    """Every error answer of the API, documented as it is sent (not flask-smorest's default shape)."""

    error = fields.String(required=True, metadata={"description": "what went wrong, in the user's language"})
    code = fields.String(required=True, metadata={"description": "a stable key, e.g. not_found, invalid, conflict"})
    status = fields.Integer(required=True, metadata={"description": "the HTTP status"})
    fields_ = fields.Dict(
        data_key="fields",
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "422 invalid: each field (dotted for nested ones) and its problems"},
    )
    reasons = fields.List(fields.String(), metadata={"description": "422 guard_failed: every reason at once"})
    allowed_triggers = fields.List(fields.String(), metadata={"description": "409: what this user may do now"})
    state = fields.String(metadata={"description": "409: the stage the application is at"})
    version = fields.Integer(metadata={"description": "409: the application's current version"})
    application_id = fields.Integer(metadata={"description": "409 on opening: the county's existing application"})
    holder = fields.String(metadata={"description": "409: who is handling the application now (当前办理人)"})
    holder_id = fields.Integer(metadata={"description": "409: the user id of who is handling it"})
    rows = fields.List(fields.Nested(RowProblem), metadata={"description": "422 on an import: every bad row"})
    undecided = fields.Integer(metadata={"description": "409 on closing a call: how many are not decided yet"})
    locked_until = fields.String(metadata={"description": "429 locked_out: when the account may try again (ISO 8601)"})


class KxflowApi(Api):
    """flask-smorest with our error envelope (and the ``Allow`` header its handler drops on 405)."""

    ERROR_SCHEMA = ErrorEnvelope

    def handle_http_exception(self, error):
        return http_error_response(error)


api = KxflowApi()
migrate = Migrate()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address)
login_manager = LoginManager()
login_manager.login_view = "accounts.login"
login_manager.login_message = None  # the login page says why on its own
