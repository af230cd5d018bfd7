"""API: the reminders still to come my way."""

from __future__ import annotations

from marshmallow import Schema, fields

from kxflow.accounts.auth import api_user, require_api_user
from kxflow.core.blueprints import Blueprint
from kxflow.core.fields import ChinaDateTime, Int
from kxflow.reminders.operations import upcoming_for

blp = Blueprint("reminders", __name__, url_prefix="/api/v1/reminders", description="Reminders")
blp.before_request(require_api_user)


class ReminderOut(Schema):
    kind = fields.String()
    application_id = Int()
    inspection_id = Int(allow_none=True)
    due_at = ChinaDateTime()
    offset_days = Int(allow_none=True)


@blp.route("/upcoming", methods=["GET"])
@blp.response(200, ReminderOut(many=True))
def upcoming():
    return upcoming_for(api_user())
