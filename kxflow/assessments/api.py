"""API: import a round of assessment results; the rounds with their pass rates."""

from __future__ import annotations

from flask_smorest.fields import Upload
from marshmallow import Schema, fields

from kxflow.accounts.auth import api_user, require_api_user
from kxflow.assessments import operations
from kxflow.core.blueprints import Blueprint
from kxflow.core.fields import ChinaDateTime, Int
from kxflow.core.uow import transaction

blp = Blueprint("assessments", __name__, url_prefix="/api/v1/assessments", description="National assessment results")
blp.before_request(require_api_user)


class FileIn(Schema):
    file = Upload(required=True)


class ImportOut(Schema):
    id = Int()
    round_year = Int()
    row_count = Int()
    filename = fields.String()
    imported_at = ChinaDateTime()


class RoundOut(Schema):
    round_year = Int()
    counties = Int()
    passed = Int()
    pass_rate = fields.Float()
    target = fields.Float()
    meets_target = fields.Boolean()


@blp.route("", methods=["POST"])
@blp.arguments(FileIn, location="files")
@blp.response(201, ImportOut)
def import_round(files):
    """Import one round from XLSX or CSV (ministry staff): all rows or none; 422 lists every bad row."""
    upload = files["file"]
    with transaction():
        record = operations.import_round(api_user(), upload.filename or "", upload.stream.read())
    return record


@blp.route("", methods=["GET"])
@blp.response(200, RoundOut(many=True))
def list_rounds():
    return operations.rounds(api_user())
