"""API: the public notice list, objection intake and the roll of demonstration counties (no login);
ministry staff list and resolve objections."""

from __future__ import annotations

from flask import current_app
from flask_smorest.fields import Upload
from marshmallow import Schema, fields, validate

from kxflow.accounts.auth import api_user, require_api_user
from kxflow.core import limits
from kxflow.core.blueprints import Blueprint
from kxflow.core.extensions import limiter
from kxflow.core.fields import ChinaDateTime, Int
from kxflow.core.uow import transaction
from kxflow.core.uploads import FILE_RESPONSES
from kxflow.core.uploads import download as file_download
from kxflow.publicity import challenge, operations

public_blp = Blueprint("public", __name__, url_prefix="/api/v1/public", description="Public notice (no login)")
blp = Blueprint("objections", __name__, url_prefix="/api/v1", description="Objections (ministry staff)")
blp.before_request(require_api_user)


class NoticeOut(Schema):
    application_id = Int()
    county = fields.String()
    province = fields.String()
    call = fields.String()
    starts_at = ChinaDateTime()
    ends_at = ChinaDateTime()


class ObjectionIn(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(("unit", "person")))
    text = fields.String(required=True)
    unit_name = fields.String(load_default="")
    person_name = fields.String(load_default="")
    contact = fields.String(load_default="")
    challenge = fields.String(required=True, validate=validate.Length(max=300))


class ScanIn(Schema):
    scan = Upload()


class ReceiptOut(Schema):
    id = Int()
    received_at = ChinaDateTime()


class RollOut(Schema):
    county = fields.String()
    province = fields.String()
    state = fields.String()
    designated_at = ChinaDateTime()
    revoked_at = ChinaDateTime(allow_none=True)


class ObjectionOut(Schema):
    id = Int()
    application_id = Int()
    kind = fields.String()
    unit_name = fields.String(allow_none=True)
    person_name = fields.String(allow_none=True)
    contact = fields.String(allow_none=True)
    text = fields.String()
    scan_original_name = fields.String(allow_none=True)
    received_at = ChinaDateTime()
    status = fields.String()
    resolution = fields.String(allow_none=True)
    resolved_at = ChinaDateTime(allow_none=True)


class ResolveIn(Schema):
    upheld = fields.Boolean(required=True)
    reason = fields.String(required=True, validate=validate.Length(max=limits.RESOLUTION))


@public_blp.route("/notices", methods=["GET"])
@public_blp.response(200, NoticeOut(many=True))
def notices():
    """Applications under public notice now: county, province, call and window only."""
    return operations.notices()


class ChallengeOut(Schema):
    challenge = fields.String(metadata={"description": "send it back as the objection's challenge field"})
    min_fill_seconds = fields.Float(metadata={"description": "wait at least this long before sending the objection"})


@public_blp.route("/notices/<int:application_id>/challenge", methods=["GET"])
@public_blp.response(200, ChallengeOut)
def objection_challenge(application_id: int):
    """The challenge an objection must carry: fetch it, fill the objection in, send both (no sooner than
    ``min_fill_seconds``)."""
    operations.under_notice_or_404(application_id)
    return {
        "challenge": challenge.issue(application_id),
        "min_fill_seconds": current_app.config["OBJECTION_MIN_FILL_SECONDS"],
    }


@public_blp.route("/notices/<int:application_id>/objections", methods=["POST"])
@limiter.shared_limit(lambda: current_app.config["OBJECTION_RATE_LIMIT"], scope="objections")
@limiter.shared_limit(
    lambda: current_app.config["OBJECTION_GLOBAL_LIMIT"], scope="objections-all", key_func=lambda: "all"
)
@public_blp.arguments(ObjectionIn, location="form")
@public_blp.arguments(ScanIn, location="files")
@public_blp.response(201, ReceiptOut)
def lodge(form, files, application_id: int):
    """Lodge a written objection: a unit (name and the scan of its stamped letter) or a named person (contact)."""
    scan = files.get("scan")
    token = form.pop("challenge")
    with transaction():
        operations.under_notice_or_404(application_id)  # an application not under notice: 404 before anything
        challenge.check(token, application_id)
        row = operations.lodge(
            application_id, **form, scan=(scan.filename or "", scan.stream) if scan is not None else None
        )
    return row


@public_blp.route("/demonstration-counties", methods=["GET"])
@public_blp.response(200, RollOut(many=True))
def demonstration_counties():
    """The roll of demonstration counties, current and revoked, with their dates."""
    return operations.roll()


@blp.route("/applications/<int:application_id>/objections", methods=["GET"])
@blp.response(200, ObjectionOut(many=True))
def of_application(application_id: int):
    return operations.of_application(api_user(), application_id)


@blp.route("/objections/<int:objection_id>/resolve", methods=["POST"])
@blp.arguments(ResolveIn)
@blp.response(200, ObjectionOut)
def resolve(body, objection_id: int):
    """Uphold (the application is rejected with this reason) or dismiss an objection, with reasons."""
    with transaction():
        row = operations.resolve(api_user(), objection_id, upheld=body["upheld"], reason=body["reason"])
    return row


@blp.route("/objections/<int:objection_id>/scan", methods=["GET"])
@blp.doc(responses=FILE_RESPONSES)
def scan(objection_id: int):
    row, path = operations.scan_for_download(api_user(), objection_id)
    return file_download(path, row.scan_content_type, row.scan_original_name)
