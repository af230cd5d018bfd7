"""API: the published indicator-set versions, and publishing a new one."""

from __future__ import annotations

from flask import request
from flask_babel import gettext
from marshmallow import Schema, fields

from kxflow.accounts.auth import api_user, require_api_user
from kxflow.core.blueprints import Blueprint
from kxflow.core.errors import Invalid
from kxflow.core.fields import ChinaDateTime
from kxflow.core.uow import transaction
from kxflow.indicators import operations

blp = Blueprint("indicator_sets", __name__, url_prefix="/api/v1/indicator-sets", description="Indicator sets")
blp.before_request(require_api_user)


class IndicatorSetVersionOut(Schema):
    version = fields.String()
    published_at = ChinaDateTime()


@blp.route("", methods=["GET"])
@blp.response(200, IndicatorSetVersionOut(many=True))
def list_sets():
    return operations.versions(api_user())


@blp.route("", methods=["POST"])
@blp.response(201, IndicatorSetVersionOut)
def publish_set():
    """Publish a new version: the definition file's JSON as the body (ministry staff). Checked whole:
    keys unique, weights adding up to the total, scoring and veto rules well formed."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Invalid(fields={"_body": [gettext("The body must be a JSON object.")]})
    with transaction():
        row = operations.publish(api_user(), body)
    return row
