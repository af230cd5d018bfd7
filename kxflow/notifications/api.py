"""API: my notifications, and marking one read."""

from __future__ import annotations

from flask_babel import get_locale
from marshmallow import Schema, fields, validate

from kxflow.accounts.auth import api_user, require_api_user
from kxflow.core.blueprints import Blueprint
from kxflow.core.fields import ChinaDateTime, Int
from kxflow.core.uow import transaction
from kxflow.notifications import operations

blp = Blueprint("notifications", __name__, url_prefix="/api/v1/notifications", description="My notifications")
blp.before_request(require_api_user)


class NotificationOut(Schema):
    id = Int()
    application_id = Int(allow_none=True)
    kind = fields.String()
    message = fields.Function(lambda n: operations.render_message(n, str(get_locale())))
    read = fields.Function(lambda n: n.read_at is not None)
    created_at = ChinaDateTime()


class NotificationPage(Schema):
    items = fields.List(fields.Nested(NotificationOut))
    total = Int()
    unread = Int()


class ListArgs(Schema):
    unread = fields.Boolean(load_default=False)
    limit = Int(load_default=50, validate=validate.Range(min=1, max=200))
    offset = Int(load_default=0, validate=validate.Range(min=0))


@blp.route("", methods=["GET"])
@blp.arguments(ListArgs, location="query")
@blp.response(200, NotificationPage)
def list_mine(args):
    rows, total, unread = operations.mine(
        api_user(), unread_only=args["unread"], limit=args["limit"], offset=args["offset"]
    )
    return {"items": rows, "total": total, "unread": unread}


class DeliveryOut(Schema):
    attempt = Int()
    status = fields.String()
    recipient = fields.String(allow_none=True)
    error = fields.String(allow_none=True)
    at = ChinaDateTime()


class DeliveryLog(Schema):
    notification_id = Int()
    email_status = fields.String()
    attempts = fields.List(fields.Nested(DeliveryOut))


@blp.route("/<int:notification_id>/deliveries", methods=["GET"])
@blp.response(200, DeliveryLog)
def deliveries(notification_id: int):
    """The e-mail delivery log of one notification (ministry staff)."""
    row, attempts = operations.delivery_log(api_user(), notification_id)
    return {"notification_id": row.id, "email_status": row.email_status, "attempts": attempts}


@blp.route("/<int:notification_id>/read", methods=["POST"])
@blp.response(200, NotificationOut)
def mark_read(notification_id: int):
    with transaction():
        row = operations.mark_read(api_user(), notification_id)
    return row
