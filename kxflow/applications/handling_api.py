"""API: 当前办理人, 认领 / 转办 / 委派 / 委派意见, 抄送我的, my deputies, and the lead flag an administrator sets.

Thin: each handler calls one operation of ``handling`` (the same ones the pages call).
"""

from __future__ import annotations

from flask_babel import get_locale
from marshmallow import Schema, fields, validate

from kxflow.accounts import operations as accounts
from kxflow.accounts.auth import api_user, require_api_user
from kxflow.applications import handling
from kxflow.core import limits
from kxflow.core.blueprints import Blueprint
from kxflow.core.fields import ChinaDateTime, Int
from kxflow.core.uow import transaction
from kxflow.notifications import copies
from kxflow.workflow import holders
from kxflow.workflow.scope import get_application
from kxflow.workflow.triggers import trigger_label

blp = Blueprint(
    "handling", __name__, url_prefix="/api/v1", description="Who handles it: claim, transfer, delegate, deputies, cc"
)
blp.before_request(require_api_user)


class HandlerOut(Schema):
    application_id = Int()
    state = fields.String()
    handler = fields.String(metadata={"description": "当前办理人: the person holding it, or its unit while unclaimed"})
    holder_id = Int(allow_none=True, metadata={"description": "the person holding it (null: the unit's)"})
    delegate_id = Int(allow_none=True, metadata={"description": "the colleague asked for an opinion (委派)"})


def _handler(app) -> dict:
    h = handling.handler_of(app)
    return {
        "application_id": app.id,
        "state": app.state,
        "handler": h.label,
        "holder_id": h.person.id if h.person else None,
        "delegate_id": h.delegate.id if h.delegate else None,
    }


class HandOnIn(Schema):
    to_user_id = Int(required=True)
    reason = fields.String(required=True, validate=validate.Length(max=limits.COMMENT))


class DelegateIn(Schema):
    to_user_id = Int(required=True)
    note = fields.String(allow_none=True, validate=validate.Length(max=limits.COMMENT))


class OpinionIn(Schema):
    opinion = fields.String(required=True, validate=validate.Length(max=limits.COMMENT))


@blp.route("/applications/<int:application_id>/handler", methods=["GET"])
@blp.response(200, HandlerOut)
def handler(application_id: int):
    """当前办理人: who holds the application at its stage."""
    return _handler(get_application(api_user(), application_id))


class ColleagueOut(Schema):
    id = Int()
    name = fields.Function(lambda u: holders.holder_name(u))
    is_lead = fields.Boolean()


@blp.route("/applications/<int:application_id>/colleagues", methods=["GET"])
@blp.response(200, ColleagueOut(many=True))
def colleagues(application_id: int):
    """The colleagues of the unit holding the application (whom to transfer or delegate it to)."""
    user = api_user()
    return handling.colleagues(user, get_application(user, application_id))


@blp.route("/applications/<int:application_id>/claim", methods=["POST"])
@blp.response(200, HandlerOut)
def claim(application_id: int):
    """认领: the task becomes mine (409 naming the holder when a colleague has it)."""
    with transaction():
        app = handling.claim(api_user(), application_id)
    return _handler(app)


@blp.route("/applications/<int:application_id>/transfer", methods=["POST"])
@blp.arguments(HandOnIn)
@blp.response(200, HandlerOut)
def transfer(body, application_id: int):
    """转办: hand the application to a named colleague of the same unit, with a reason (a lead may assign any)."""
    with transaction():
        app = handling.transfer(api_user(), application_id, body["to_user_id"], body["reason"])
    return _handler(app)


@blp.route("/applications/<int:application_id>/delegate", methods=["POST"])
@blp.arguments(DelegateIn)
@blp.response(200, HandlerOut)
def delegate(body, application_id: int):
    """委派: ask a colleague to examine it and record an opinion; the holder decides."""
    with transaction():
        app = handling.delegate(api_user(), application_id, body["to_user_id"], body.get("note"))
    return _handler(app)


@blp.route("/applications/<int:application_id>/opinion", methods=["POST"])
@blp.arguments(OpinionIn)
@blp.response(200, HandlerOut)
def opinion(body, application_id: int):
    """The colleague asked records their opinion; the task returns to the one who asked."""
    with transaction():
        app = handling.record_opinion(api_user(), application_id, body["opinion"])
    return _handler(app)


class CopyOut(Schema):
    id = Int()
    application_id = Int()
    county_name = fields.Function(lambda c: c.application.county.name)
    event = fields.Function(lambda c: c.audit.trigger)
    event_label = fields.Function(lambda c: trigger_label(c.audit.trigger, str(get_locale())))
    comment = fields.Function(lambda c: c.audit.comment)
    sender = fields.Function(lambda c: holders.holder_name(c.sender))
    created_at = ChinaDateTime()
    read_at = ChinaDateTime(allow_none=True)


class CopiesArgs(Schema):
    unread = fields.Boolean(load_default=False)


@blp.route("/copies", methods=["GET"])
@blp.arguments(CopiesArgs, location="query")
@blp.response(200, CopyOut(many=True))
def copies_to_me(args):
    """抄送我的: steps copied to me for my information, newest first."""
    return copies.copied_to(api_user(), unread_only=args["unread"])


@blp.route("/copies/<int:copy_id>/read", methods=["POST"])
@blp.response(200, CopyOut)
def read_copy(copy_id: int):
    """Opens a copy: it (and my other copies of the same application) are read."""
    with transaction():
        row = copies.open_copy(api_user(), copy_id)
    return row


class DeputyIn(Schema):
    deputy_id = Int(required=True)
    starts_on = fields.Date(required=True, metadata={"description": "first day (Beijing)"})
    ends_on = fields.Date(required=True, metadata={"description": "last day (Beijing), inclusive"})


class DeputyOut(Schema):
    id = Int()
    user_id = Int()
    deputy_id = Int()
    deputy_name = fields.Function(lambda d: holders.holder_name(d.deputy))
    user_name = fields.Function(lambda d: holders.holder_name(d.user))
    starts_on = fields.Date()
    ends_on = fields.Date()
    running = fields.Function(lambda d: d.runs_on(holders.today()))
    cancelled_at = ChinaDateTime(allow_none=True)


class MyDeputiesOut(Schema):
    named = fields.List(fields.Nested(DeputyOut), metadata={"description": "the deputies I named"})
    standing_in_for = fields.List(fields.Nested(DeputyOut), metadata={"description": "those I stand in for"})


@blp.route("/me/deputies", methods=["GET"])
@blp.response(200, MyDeputiesOut)
def my_deputies():
    """My deputies, and the colleagues I stand in for."""
    user = api_user()
    return {"named": handling.deputies_named_by(user), "standing_in_for": handling.standing_in_for(user)}


@blp.route("/me/deputies", methods=["POST"])
@blp.arguments(DeputyIn)
@blp.response(201, DeputyOut)
def name_deputy(body):
    """Name a deputy (same unit and role) for a date range: my tasks and reminders reach them, and they act for me."""
    with transaction():
        row = handling.name_deputy(api_user(), body["deputy_id"], body["starts_on"], body["ends_on"])
    return row


@blp.route("/me/deputies/<int:deputy_row_id>/cancel", methods=["POST"])
@blp.response(200, DeputyOut)
def cancel_deputy(deputy_row_id: int):
    """Ends a deputy arrangement now."""
    with transaction():
        row = handling.cancel_deputy(api_user(), deputy_row_id)
    return row


class LeadIn(Schema):
    is_lead = fields.Boolean(required=True)


class LeadOut(Schema):
    id = Int()
    username = fields.String()
    is_lead = fields.Boolean()


@blp.route("/users/<int:user_id>/lead", methods=["PUT"])
@blp.arguments(LeadIn)
@blp.response(200, LeadOut)
def set_lead(body, user_id: int):
    """An administrator makes a user a lead of their unit (may reassign any task of it), or not."""
    with transaction():
        user = accounts.set_lead(api_user(), user_id, body["is_lead"])
    return user
