"""API: set an inspection, record its report, list mine, plan re-checks."""

from __future__ import annotations

from flask import current_app
from flask_smorest.fields import Upload
from marshmallow import Schema, fields, validate

from kxflow.accounts.auth import api_user, require_api_user
from kxflow.core import limits
from kxflow.core.blueprints import Blueprint
from kxflow.core.fields import ChinaDateTime, Int, SaneDate
from kxflow.core.uow import transaction
from kxflow.core.uploads import FILE_RESPONSES
from kxflow.core.uploads import download as file_download
from kxflow.inspections import operations, rectification
from kxflow.workflow.scope import get_application

blp = Blueprint("inspections", __name__, url_prefix="/api/v1", description="Inspections and re-checks")
blp.before_request(require_api_user)


class InspectionIn(Schema):
    scheduled_on = SaneDate(required=True)
    place = fields.String(required=True, validate=validate.Length(min=1, max=limits.PLACE))
    team = fields.List(Int(), required=True, validate=validate.Length(min=1, max=20))
    kind = fields.String(load_default="site", validate=validate.OneOf(("site", "recheck")))
    rest_day_confirmed = fields.Boolean(
        load_default=False, metadata={"description": "required to set an inspection on a rest day"}
    )


class CancelIn(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class RectificationIn(Schema):
    summary = fields.String(required=True, validate=validate.Length(max=20000))


class RectificationFileOut(Schema):
    id = Int()
    original_name = fields.String()
    content_type = fields.String()
    size_bytes = Int()


class RectificationOut(Schema):
    id = Int()
    application_id = Int()
    summary = fields.String()
    submitted_by = fields.Function(lambda r: r.submitted_by.username)
    submitted_at = ChinaDateTime()
    files = fields.List(fields.Nested(RectificationFileOut))


class ReportOut(Schema):
    findings = fields.String()
    recommendation = fields.String(allow_none=True)
    result = fields.String(allow_none=True)
    recorded_by_id = Int()
    recorded_at = ChinaDateTime()


class FileOut(Schema):
    id = Int()
    original_name = fields.String()
    content_type = fields.String()
    size_bytes = Int()


class InspectionOut(Schema):
    id = Int()
    application_id = Int()
    kind = fields.String()
    scheduled_on = SaneDate()
    place = fields.String()
    team = fields.Function(lambda i: [m.user_id for m in i.members])
    report_recorded_at = ChinaDateTime(allow_none=True)
    cancelled_at = ChinaDateTime(allow_none=True)
    cancel_reason = fields.String(allow_none=True)
    report = fields.Nested(ReportOut, allow_none=True)
    files = fields.List(fields.Nested(FileOut))


class ReportIn(Schema):
    findings = fields.String(required=True, validate=validate.Length(max=limits.FINDINGS))
    recommendation = fields.String(validate=validate.OneOf(("pass", "fail")))
    result = fields.String(validate=validate.OneOf(operations.RESULTS))


class ReportFilesIn(Schema):
    files = fields.List(Upload(), load_default=list)


class RecheckPlanIn(Schema):
    years = Int(validate=validate.Range(min=1, max=10))  # default: RECHECK_CYCLE_YEARS
    teams = fields.List(fields.List(Int()), required=True, validate=validate.Length(min=1))
    start_on = SaneDate(required=True)
    horizon_days = Int(load_default=365, validate=validate.Range(min=1, max=3 * 365))


class ListArgs(Schema):
    all = fields.Boolean(load_default=False)


@blp.route("/applications/<int:application_id>/inspections", methods=["POST"])
@blp.arguments(InspectionIn)
@blp.response(201, InspectionOut)
def schedule(body, application_id: int):
    """Set a site inspection: date, place, team (ministry staff). The county and the team are told at once."""
    with transaction():
        row = operations.schedule(api_user(), application_id, **body)
    return row


@blp.route("/inspections/<int:inspection_id>/cancel", methods=["POST"])
@blp.arguments(CancelIn)
@blp.response(200, InspectionOut)
def cancel(body, inspection_id: int):
    """Call an inspection off (ministry staff), with a reason: its reminders stop and its team is free."""
    with transaction():
        row = operations.cancel(api_user(), inspection_id, body["reason"])
    return row


@blp.route("/applications/<int:application_id>/rectification-reports", methods=["POST"])
@blp.arguments(RectificationIn, location="form")
@blp.arguments(ReportFilesIn, location="files")
@blp.response(201, RectificationOut)
def submit_rectification(form, files, application_id: int):
    """整改报告 (county staff, during rectification): what was done, with the report and evidence files."""
    uploads = [(f.filename or "", f.stream) for f in files.get("files", [])]
    with transaction():
        row = rectification.submit(api_user(), application_id, form["summary"], uploads)
    return row


@blp.route("/applications/<int:application_id>/rectification-reports", methods=["GET"])
@blp.response(200, RectificationOut(many=True))
def rectification_reports(application_id: int):
    user = api_user()
    return rectification.reports_of(user, get_application(user, application_id))


@blp.route("/inspections", methods=["GET"])
@blp.arguments(ListArgs, location="query")
@blp.response(200, InspectionOut(many=True))
def list_mine(args):
    return operations.mine(api_user(), upcoming_only=not args["all"])


@blp.route("/inspections/<int:inspection_id>/report", methods=["POST"])
@blp.arguments(ReportIn, location="form")
@blp.arguments(ReportFilesIn, location="files")
@blp.response(200, InspectionOut)
def report(form, files, inspection_id: int):
    """Record the report (ministry staff or a team member): findings, pass/fail or the re-check grade, files.

    The daily prompts stop once it is in; it can be written again until the ministry acts on it.
    """
    uploads = [(f.filename or "", f.stream) for f in files.get("files", [])]
    with transaction():
        row = operations.record_report(api_user(), inspection_id, **form, files=uploads)
    return row


@blp.route("/inspections/<int:inspection_id>/files/<int:file_id>", methods=["GET"])
@blp.doc(responses=FILE_RESPONSES)
def download(inspection_id: int, file_id: int):
    row, path = operations.file_for_download(api_user(), inspection_id, file_id)
    return file_download(path, row.content_type, row.original_name)


@blp.route("/rechecks/plan", methods=["POST"])
@blp.arguments(RecheckPlanIn)
@blp.response(201, InspectionOut(many=True))
def plan_rechecks(body):
    """Give every designated county due for its re-check a date and a team, announced to both."""
    with transaction():
        body.setdefault("years", current_app.config["RECHECK_CYCLE_YEARS"])
        rows = operations.plan_rechecks(api_user(), **body)
    return rows
